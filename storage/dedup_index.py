"""The published-record dedup index, without Beam: its schema, keys, reads and writes.

Each run that keeps records writes ``index/<dataset>/runs/<run>/part-NNNNN.parquet`` (rows of
(partition, band, band_hash, id) sorted by band_hash, small row groups so a probe reads only
the groups whose range can hold a key) and the list of those shards, ``shards.json``, beside
them. Only committed runs' lists are read, so no LIST of the index and no shared manifest. The
Beam transforms (pipelines/dedup.py), the commit re-check (pipelines/recheck.py) and gc
(storage/gc.py) all go through this module.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from storage.base import ObjectStore
from storage.errors import ObjectNotFoundError
from storage.layout import index_prefix, index_run_list_key, index_run_prefix
from storage.shards import json_bytes

INDEX_VERSION = 1
INDEX_SCHEMA = pa.schema([("partition", pa.int32()), ("band", pa.int16()),
                          ("band_hash", pa.int64()), ("id", pa.string())])


class IndexMismatchError(ValueError):
    """The published index was built with other clustering settings than this run's."""


def config_fingerprint(cfg: Any) -> dict[str, Any]:
    """The settings that must match for bucket keys to be comparable (MinHash: the fields
    that indexes written before other kinds existed carry; other kinds name their kind)."""
    if hasattr(cfg, "index_fingerprint"):
        return cfg.index_fingerprint()
    return {"ngram": cfg.ngram, "bands": cfg.bands, "rows": cfg.rows, "seed": cfg.seed,
            "tokenization": cfg.tokenization}


def read_run_index(store: ObjectStore, dataset: str, run_id: str) -> dict[str, Any] | None:
    """One run's index shard list (``index/<dataset>/runs/<run>/shards.json``), or None."""
    try:
        return json.loads(store.get_bytes(index_run_list_key(dataset, run_id)))
    except ObjectNotFoundError:
        return None


def write_run_index(store: ObjectStore, dataset: str, run_id: str, cfg: Any, bits: int,
                    shards: list[dict[str, Any]]) -> dict[str, Any]:
    """Write one run's shard list (its own key: later runs read it once the run committed)."""
    listing = {"version": INDEX_VERSION, "dataset": dataset, "run_id": run_id,
               "config": config_fingerprint(cfg), "partition_bits": bits,
               "shards": sorted(shards, key=lambda s: s["key"])}
    store.put_bytes(index_run_list_key(dataset, run_id), json_bytes(listing), "application/json")
    return listing


def indexed_runs(store: ObjectStore, dataset: str) -> list[str]:
    """Runs that wrote an index (one short listing; callers that know the committed runs pass them)."""
    return store.list_children(f"{index_prefix(dataset)}/runs")


def partition_of(bucket_key: int, bits: int) -> int:
    """Index partition of a (signed 64-bit) bucket key: the top ``bits`` of its unsigned bits."""
    return (int(bucket_key) & 0xFFFFFFFFFFFFFFFF) >> (64 - bits) if bits else 0


def shard_key(dataset: str, run_id: str, partition: int) -> str:
    return f"{index_run_prefix(dataset, run_id)}/part-{partition:05d}.parquet"


def index_table(partition: int, rows: Iterable[tuple[int, int, str]]) -> pa.Table:
    """Rows (band, band_hash, id) of one partition as an index table sorted by (band_hash, id)."""
    rows = sorted(rows, key=lambda r: (r[1], r[2]))
    return pa.table({"partition": pa.array([partition] * len(rows), pa.int32()),
                     "band": pa.array([r[0] for r in rows], pa.int16()),
                     "band_hash": pa.array([r[1] for r in rows], pa.int64()),
                     "id": pa.array([r[2] for r in rows], pa.string())}, schema=INDEX_SCHEMA)


def write_shard(store: ObjectStore, key: str, table: pa.Table, row_group_rows: int,
                run_id: str) -> dict[str, Any]:
    """Write one index shard; returns its entry in the run's shard list."""
    buf = pa.BufferOutputStream()
    # Small row groups: a probe reads only the groups whose band_hash range can match.
    pq.write_table(table, buf, compression="zstd", row_group_size=row_group_rows)
    data = buf.getvalue().to_pybytes()
    store.put_bytes(key, data, "application/vnd.apache.parquet")
    partition = int(table.column("partition")[0].as_py()) if table.num_rows else 0
    return {"key": key, "partition": partition, "rows": table.num_rows, "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), "run_id": run_id}


def read_shard(store: ObjectStore, key: str, probe: np.ndarray | None) -> Iterator[tuple[int, str]]:
    """(band_hash, id) rows of one index shard; with ``probe`` (sorted int64), only row groups
    whose [min, max] band_hash range can hold a probed key are read, then filtered."""
    with store.open_read(key) as fh:
        pf = pq.ParquetFile(pa.BufferReader(fh.read()))
        groups = range(pf.num_row_groups)
        if probe is not None:
            col = pf.schema_arrow.get_field_index("band_hash")
            keep = []
            for g in groups:
                st = pf.metadata.row_group(g).column(col).statistics
                if st is None or not st.has_min_max:
                    keep.append(g)
                    continue
                lo, hi = np.searchsorted(probe, [np.int64(st.min), np.int64(st.max)], side="left")
                if hi > lo or (hi < probe.size and probe[hi] == np.int64(st.max)):
                    keep.append(g)
            groups = keep
        for g in groups:
            tbl = pf.read_row_group(g, columns=["band_hash", "id"])
            hashes = tbl.column("band_hash").to_numpy()
            ids = tbl.column("id").to_pylist()
            mask = np.isin(hashes, probe) if probe is not None else np.ones(len(ids), dtype=bool)
            for i in np.flatnonzero(mask):
                yield int(hashes[i]), ids[i]


@dataclass
class PublishedIndex:
    """The index shards of a set of runs, by partition (what a probe reads)."""

    shards: dict[int, list[str]] = field(default_factory=dict)
    bits: int = 0

    @classmethod
    def load(cls, store: ObjectStore, dataset: str, runs: Iterable[str] | None = None,
             config: Any | None = None) -> "PublishedIndex":
        """The shards of ``runs`` (default: every run that wrote an index). With ``config``,
        raises IndexMismatchError when a run's index was built with other settings."""
        out = cls()
        for run in sorted(indexed_runs(store, dataset) if runs is None else runs):
            listing = read_run_index(store, dataset, run)
            if listing is None:
                continue
            if config is not None and listing["config"] != config_fingerprint(config):
                raise IndexMismatchError(
                    f"dedup index of {dataset!r} (run {run}) was built with {listing['config']}, "
                    f"not {config_fingerprint(config)}; use the same near-dedup settings or "
                    "rebuild the index")
            if out.shards and listing["partition_bits"] != out.bits:
                raise IndexMismatchError(f"dedup index of {dataset!r}: run {run} uses other "
                                         "partition bits; rebuild the index")
            out.bits = int(listing["partition_bits"])
            for s in listing["shards"]:
                out.shards.setdefault(int(s["partition"]), []).append(s["key"])
        return out

    def keys(self) -> list[str]:
        return sorted(k for ks in self.shards.values() for k in ks)
