"""Dedup across runs that overlap in time: the rule and its one step at commit.

Each run deduplicates against the index of the versions committed *before it planned*. Two
runs with different inputs that run at the same time cannot see each other that way, so the
rule is: **the earlier commit wins**. When a run reaches its commit and finds versions that
were committed after it planned (or loses the race for its version number), it re-checks its
kept records against those versions' runs' dedup index before committing: a kept record that
shares an LSH band key with a record of such a run is a near duplicate of it (an exact copy
shares every band). Such records are taken out of this run's shards (rewritten under new
keys), its index shards and its statistics, and listed in its duplicates table with the
record they duplicate. Then the commit is tried again on top of the new head.

Only what this run wrote is rewritten, and only under keys carrying its run id, so the commit
protocol's rule (nothing shared before the commit point) holds. Band collisions are not
verified by signature here (the index holds band hashes only): with the default 14 bands of
8 rows a collision means an estimated Jaccard similarity of about 0.7 or more in practice.
"""

from __future__ import annotations

import io
import logging
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from storage.dedup_index import INDEX_SCHEMA, read_run_index, read_shard
from storage.base import ObjectStore
from storage.layout import index_run_list_key
from storage.shards import ShardInfo, json_bytes, write_parquet_object

log = logging.getLogger(__name__)


def concurrent_duplicates(store: ObjectStore, dataset: str, run_id: str,
                          other_runs: list[str]) -> dict[str, str]:
    """{id of this run's kept record: id of the record in ``other_runs`` it duplicates}."""
    ours = read_run_index(store, dataset, run_id)
    if not ours or not other_runs:
        return {}
    theirs: dict[int, list[str]] = {}
    for run in other_runs:
        listing = read_run_index(store, dataset, run)
        for s in (listing or {}).get("shards", []):
            theirs.setdefault(int(s["partition"]), []).append(s["key"])
    found: dict[str, str] = {}
    for shard in ours["shards"]:
        keys = theirs.get(int(shard["partition"]))
        if not keys:
            continue
        mine = list(read_shard(store, shard["key"], None))
        probe = np.unique(np.array([h for h, _ in mine], dtype=np.int64))
        other: dict[int, str] = {}
        for key in keys:
            for h, rid in read_shard(store, key, probe):
                if h not in other or rid < other[h]:
                    other[h] = rid
        for h, rid in mine:
            if h in other and (rid not in found or other[h] < found[rid]):
                found[rid] = other[h]
    return found


def _filter_shard(store: ObjectStore, shard: dict[str, Any], drop: pa.Array,
                  tag: str) -> tuple[dict[str, Any], pa.Table | None]:
    """The shard without the ``drop`` ids (rewritten under a new key) and the dropped rows."""
    table = pq.read_table(io.BytesIO(store.get_bytes(shard["key"])))
    hit = pc.is_in(table.column("id"), value_set=drop)
    if not pc.any(hit).as_py():
        return shard, None
    kept = table.filter(pc.invert(hit))
    key = shard["key"].removesuffix(".parquet") + f"{tag}.parquet"
    info = write_parquet_object(store, key, kept, modality=shard["modality"])
    return info.to_dict(), table.filter(hit)


def _rewrite_index(store: ObjectStore, dataset: str, run_id: str, drop: pa.Array, tag: str) -> None:
    listing = read_run_index(store, dataset, run_id)
    if not listing:
        return
    shards = []
    for s in listing["shards"]:
        table = pq.read_table(io.BytesIO(store.get_bytes(s["key"])), schema=INDEX_SCHEMA)
        hit = pc.is_in(table.column("id"), value_set=drop)
        if pc.any(hit).as_py():
            table = table.filter(pc.invert(hit))
            key = s["key"].removesuffix(".parquet") + f"{tag}.parquet"
            buf = pa.BufferOutputStream()
            pq.write_table(table, buf, compression="zstd", row_group_size=8192)
            data = buf.getvalue().to_pybytes()
            store.put_bytes(key, data, "application/vnd.apache.parquet")
            s = {**s, "key": key, "rows": table.num_rows, "bytes": len(data)}
        shards.append(s)
    store.put_bytes(index_run_list_key(dataset, run_id), json_bytes({**listing, "shards": shards}),
                    "application/json")


def _move_to_duplicates(stats: dict[str, Any], dropped: pa.Table) -> None:
    for source in dropped.column("source").to_pylist():
        row = stats["sources"][source]
        row["kept"] -= 1
        row["duplicates"] += 1
        stats["totals"]["kept"] -= 1
        stats["totals"]["duplicates"] += 1
        if "unique" in stats.get("funnel", {}):
            stats["funnel"]["unique"] -= 1
    stats["concurrent_duplicates"] = stats.get("concurrent_duplicates", 0) + dropped.num_rows


def drop_concurrent_duplicates(store: ObjectStore, dataset: str, run_id: str, shards: list[dict[str, Any]],
                               stats: dict[str, Any], found: dict[str, str], dup_table_key: str,
                               dup_schema: pa.Schema, tag: str) -> tuple[list[dict[str, Any]], ShardInfo | None]:
    """Apply :func:`concurrent_duplicates`' findings: new shard infos (``stats`` updated in
    place) and the extra duplicates table written at ``dup_table_key``."""
    if not found:
        return shards, None
    drop = pa.array(sorted(found), pa.string())
    out, dropped = [], []
    for shard in shards:
        if shard["format"] != "parquet":
            out.append(shard)
            continue
        info, gone = _filter_shard(store, shard, drop, tag)
        out.append(info)
        if gone is not None:
            dropped.append(gone)
    _rewrite_index(store, dataset, run_id, drop, tag)
    if not dropped:
        return out, None
    gone = pa.concat_tables(dropped, promote_options="permissive")
    _move_to_duplicates(stats, gone)
    rows = [{**{f.name: r.get(f.name) for f in dup_schema}, "dup_of": found[r["id"]], "kind": "near"}
            for r in gone.to_pylist()]
    info = write_parquet_object(store, dup_table_key, pa.Table.from_pylist(rows, schema=dup_schema))
    log.info("run %s: %d kept records duplicate records committed concurrently; moved to duplicates",
             run_id, gone.num_rows)
    return out, info
