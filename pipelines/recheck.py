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

A WebDataset tar is rewritten with its index (its pair): the tar is streamed from the store
into a new local tar without the dropped samples' members (checked against the tar's sha256
on the way), and the index keeps the other rows with their offsets moved to the new tar (the
members' sha256s stay as they were). The record id is the index's ``id`` column, else the
sample key (the writers use the record id as the key).

Only what this run wrote is rewritten, and only under keys carrying its run id, so the commit
protocol's rule (nothing shared before the commit point) holds. Band collisions are not
verified by signature here (the index holds band hashes only): with the default 14 bands of
8 rows a collision means an estimated Jaccard similarity of about 0.7 or more in practice.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tarfile
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from storage.dedup_index import INDEX_SCHEMA, read_run_index, read_shard
from storage.base import ObjectStore
from storage.errors import IntegrityError
from storage.layout import index_run_list_key
from storage.shards import HashingFile, ShardInfo, json_bytes, write_parquet_object

log = logging.getLogger(__name__)

CHUNK = 4 * 1024 * 1024


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


class _HashingReader(io.RawIOBase):
    """A read-only stream that sha256-hashes and counts what passes through it."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw, self._sha, self.count = raw, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:  # type: ignore[override]
        data = self._raw.read(len(buf))
        buf[: len(data)] = data
        self._sha.update(data)
        self.count += len(data)
        return len(data)

    def drain(self) -> None:
        """Read to the end (tarfile stops at the end-of-archive blocks) so all is hashed."""
        while self.read(CHUNK):
            pass

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()


def _padded(size: int) -> int:
    """Bytes a member of ``size`` takes in a tar after its header (whole 512-byte blocks)."""
    return -(-size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE


def _copy_tar_without(store: ObjectStore, tar: dict[str, Any], drop_names: set[str],
                      out: HashingFile) -> dict[str, int]:
    """Stream ``tar`` from the store into ``out`` without the members named in ``drop_names``;
    return the data offset of each kept member in the new tar. The source is hashed on the
    way: bytes that differ from what the shard list records stop the rewrite."""
    placed: dict[str, int] = {}
    with store.open_read(tar["key"]) as raw:
        src = _HashingReader(raw)
        with tarfile.open(fileobj=src, mode="r|") as old, \
                tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as new:
            for member in old:
                if member.name in drop_names:
                    continue
                new.addfile(member, old.extractfile(member) if member.isfile() else None)
                placed[member.name] = new.offset - _padded(member.size)
        src.drain()
    if src.sha256 != tar["sha256"] or src.count != tar["bytes"]:
        raise IntegrityError(f"{tar['key']}: the stored tar does not match its sha256 in this run's "
                             "shard list, so it cannot be re-checked; rerun the ingest")
    return placed


def _rewrite_tar(store: ObjectStore, tar: dict[str, Any], key: str,
                 drop_names: set[str]) -> tuple[int, str, dict[str, int]]:
    """Upload ``tar`` without ``drop_names`` under ``key``, spooled through a local temporary
    file (a big tar is never held in memory); return (bytes, sha256, offsets of kept members)."""
    fd, name = tempfile.mkstemp(prefix="kho-recheck-", suffix=".tar", dir=os.environ.get("KHO_TMP_DIR"))
    os.close(fd)
    path = Path(name)
    try:
        out = HashingFile(path)
        try:
            placed = _copy_tar_without(store, tar, drop_names, out)
        finally:
            out.close()
        store.put_file(key, path, content_type="application/x-tar")
    finally:
        path.unlink(missing_ok=True)
    return out.count, out.sha256, placed


def _reindexed(kept: pa.Table, placed: dict[str, int], tar_key: str) -> pa.Table:
    """The kept index rows pointing into the new tar: its key, and each member's new offset
    (its size and sha256 stay as they were)."""
    rows = kept.column("members").to_pylist()
    missing = sorted({m["name"] for ms in rows for m in ms} - placed.keys())
    if missing:
        raise IntegrityError(f"{tar_key}: the index names members its tar lacks ({missing[:3]}); "
                             "the tar and its index do not match; rerun the ingest")
    field = kept.schema.field("members")
    members = pa.array([[{**m, "offset": placed[m["name"]]} for m in ms] for ms in rows], field.type)
    table = kept.set_column(kept.schema.get_field_index("members"), field, members)
    shard = table.schema.field("shard")
    return table.set_column(table.schema.get_field_index("shard"), shard,
                            pa.array([tar_key] * table.num_rows, shard.type))


def _record_ids(index: pa.Table) -> pa.ChunkedArray:
    """Each index row's record id: its ``id`` column, else the sample key (which is the id)."""
    return index.column("id" if "id" in index.column_names else "key")


def _filter_wds(store: ObjectStore, tar: dict[str, Any], index: dict[str, Any], drop: pa.Array,
                tag: str) -> tuple[dict[str, Any], dict[str, Any], pa.Table | None]:
    """The tar and its index without the ``drop`` ids (both rewritten under new keys, pairs
    pointing at each other) and the dropped index rows; unchanged when none is in the tar."""
    table = pq.read_table(io.BytesIO(store.get_bytes(index["key"])))
    hit = pc.is_in(_record_ids(table), value_set=drop)
    if not pc.any(hit).as_py():
        return tar, index, None
    gone, kept = table.filter(hit), table.filter(pc.invert(hit))
    tar_key = tar["key"].removesuffix(".tar") + f"{tag}.tar"
    index_key = index["key"].removesuffix(".parquet") + f"{tag}.parquet"
    drop_names = {m["name"] for ms in gone.column("members").to_pylist() for m in ms}
    size, digest, placed = _rewrite_tar(store, tar, tar_key, drop_names)
    written = write_parquet_object(store, index_key, _reindexed(kept, placed, tar_key))
    tar_info = ShardInfo(tar_key, "webdataset", tar["modality"], kept.num_rows, size, digest,
                         pair=index_key)
    index_info = ShardInfo(index_key, "wds-index", index["modality"], written.rows, written.bytes,
                           written.sha256, pair=tar_key)
    return tar_info.to_dict(), index_info.to_dict(), gone


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
    place) and the extra duplicates table written at ``dup_table_key``.

    Parquet shards and WebDataset tars (with their index) holding a dropped id are rewritten
    under keys ending in ``tag``; the other shards are returned as they were, in order."""
    if not found:
        return shards, None
    drop = pa.array(sorted(found), pa.string())
    by_key = {s["key"]: s for s in shards}
    replaced: dict[str, dict[str, Any]] = {}
    dropped = []
    for shard in shards:
        if shard["format"] == "parquet":
            replaced[shard["key"]], gone = _filter_shard(store, shard, drop, tag)
        elif shard["format"] == "webdataset":
            index = by_key.get(shard["pair"])
            if index is None:
                raise IntegrityError(f"run {run_id}: tar {shard['key']} has no index among the "
                                     "run's shards, so it cannot be re-checked; rerun the ingest")
            replaced[shard["key"]], replaced[index["key"]], gone = _filter_wds(
                store, shard, index, drop, tag)
        else:
            continue
        if gone is not None:
            dropped.append(gone)
    out = [replaced.get(s["key"], s) for s in shards]
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
