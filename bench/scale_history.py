"""Helpers of bench/scale: a store that counts what it is asked, and a synthetic version history.

``CountingStore`` wraps any ObjectStore and counts reads (objects, bytes), writes, point
lookups, recursive LISTs (calls, keys returned, prefixes) and one-level listings, so a bench or
a test can say what an operation touched, not only how long it took.

``synthesize_history`` writes a dataset's history with exactly the objects Kho's own commit
writes (storage/versions.py): shard lists in the real schema through ``write_parquet_object``
(with the real sha256, Merkle root and totals in each ShardListRef), manifests built with
``Manifest`` and created with ``put_if_absent`` as the commit point does, a ``latest`` ref
through ``VersionStore.tag``, and each run's ``runs/<run>/run.json``. It skips the commit
loop itself (one version per ``shards_per_version`` shards instead of 10^4 separate commits).
Shard objects are optional: zero-byte objects at every listed key when ``shard_objects`` is
set (what a LIST of the bucket must walk), none otherwise (metadata only: resolve, show,
pull and verify planning and the mark never open a shard).
"""

from __future__ import annotations

import hashlib
import io
import os
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa

from schemas.manifest import SHARD_LIST_MAX_ROWS, SHARD_LIST_SCHEMA, Manifest, ShardListRef, list_totals
from storage.base import ObjectInfo, ObjectStore
from storage.layout import manifest_key, run_info_key, shard_prefix, shardlist_key
from storage.merkle import shards_root
from storage.shards import json_bytes, write_parquet_object
from storage.versions import VersionStore

SHARD_BYTES = 1 << 30  # what each synthetic shard claims to hold (1 GiB, as at 100 PB)
ROWS_PER_SHARD = 250_000


class _CountingReader(io.RawIOBase):
    def __init__(self, inner: BinaryIO, counts: Counter) -> None:
        self._inner, self._counts = inner, counts

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:  # type: ignore[override]
        data = self._inner.read(n)
        self._counts["bytes_read"] += len(data)
        return data

    def close(self) -> None:
        self._inner.close()
        super().close()


class CountingStore(ObjectStore):
    """An ObjectStore that forwards every call to ``inner`` and counts it (see module doc)."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner
        self.uri = inner.uri
        self.counts: Counter = Counter()
        self.listed_prefixes: list[str] = []

    def __getattr__(self, name: str) -> Any:  # root, stale_temp_files of a LocalStore
        return getattr(self.inner, name)

    def reset(self) -> None:
        """Forget what was counted so far."""
        self.counts = Counter()
        self.listed_prefixes = []

    def snapshot(self) -> dict[str, int]:
        """The counts as a plain dict with every field present."""
        fields = ("objects_read", "bytes_read", "objects_written", "bytes_written", "point_lookups",
                  "list_calls", "keys_listed", "list_children_calls", "children_listed", "deletes")
        return {f: int(self.counts.get(f, 0)) for f in fields}

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.counts["objects_written"] += 1
        self.counts["bytes_written"] += len(data)
        self.inner.put_bytes(key, data, content_type)

    def put_if_absent(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> bool:
        self.counts["objects_written"] += 1
        self.counts["bytes_written"] += len(data)
        return self.inner.put_if_absent(key, data, content_type)

    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None:
        self.counts["objects_written"] += 1
        self.counts["bytes_written"] += Path(path).stat().st_size
        self.inner.put_file(key, path, content_type)

    def get_bytes(self, key: str) -> bytes:
        data = self.inner.get_bytes(key)
        self.counts["objects_read"] += 1
        self.counts["bytes_read"] += len(data)
        return data

    def open_read(self, key: str) -> BinaryIO:
        self.counts["objects_read"] += 1
        return _CountingReader(self.inner.open_read(key), self.counts)  # type: ignore[return-value]

    def get_range(self, key: str, start: int, length: int) -> bytes:
        data = self.inner.get_range(key, start, length)
        self.counts["objects_read"] += 1
        self.counts["bytes_read"] += len(data)
        return data

    def download(self, key: str, path: Path) -> None:
        self.inner.download(key, path)
        self.counts["objects_read"] += 1
        self.counts["bytes_read"] += Path(path).stat().st_size

    def stat(self, key: str) -> ObjectInfo:
        self.counts["point_lookups"] += 1
        return self.inner.stat(key)

    def exists(self, key: str) -> bool:
        self.counts["point_lookups"] += 1
        return self.inner.exists(key)

    def delete(self, key: str) -> None:
        self.counts["deletes"] += 1
        self.inner.delete(key)

    def url(self, key: str, expires_s: int = 3600) -> str:
        return self.inner.url(key, expires_s)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        self.counts["list_calls"] += 1
        self.listed_prefixes.append(prefix)
        for obj in self.inner.list(prefix):
            self.counts["keys_listed"] += 1
            yield obj

    def list_children(self, prefix: str) -> list[str]:
        names = self.inner.list_children(prefix)
        self.counts["list_children_calls"] += 1
        self.counts["children_listed"] += len(names)
        return names

    def arrow_filesystem(self) -> tuple[object, str]:
        return self.inner.arrow_filesystem()


def run_id(i: int, base: datetime | None = None) -> str:
    """A run id in Kho's format (``YYYYmmddTHHMMSSZ-<8 hex>``), one minute apart per ``i``."""
    t = (base or datetime(2026, 1, 1, tzinfo=timezone.utc)) + timedelta(minutes=i)
    return f"{t:%Y%m%dT%H%M%SZ}-{hashlib.sha256(str(i).encode()).hexdigest()[:8]}"


def shard_rows(dataset: str, run: str, start: int, n: int) -> dict[str, list]:
    """Columns of ``n`` shard-list rows of one run, key-sorted (what ``_write_list`` writes)."""
    prefix = shard_prefix(dataset, "text", run)
    keys = [f"{prefix}/part-{(start + i) % 64:05d}-{start + i:09d}.parquet" for i in range(n)]
    keys.sort()
    return {"key": keys, "format": ["parquet"] * n, "modality": ["text"] * n,
            "rows": [ROWS_PER_SHARD] * n, "bytes": [SHARD_BYTES] * n,
            "sha256": [hashlib.sha256(k.encode()).hexdigest() for k in keys], "pair": [""] * n}


def write_list(store: ObjectStore, key: str, cols: dict[str, list]) -> ShardListRef:
    """Write one shard list and return its ShardListRef, as VersionStore._write_list does."""
    table = pa.table(cols, schema=SHARD_LIST_SCHEMA)
    info = write_parquet_object(store, key, table)
    return ShardListRef(key=key, sha256=info.sha256, bytes=info.bytes,
                        merkle_root=shards_root(zip(cols["key"], cols["sha256"])),
                        **list_totals(table.to_pylist()))


def manifest_for(dataset: str, version: int, run: str, lists: list[ShardListRef],
                 parent: Manifest | None, created: datetime) -> Manifest:
    """A format-2 manifest with its root, as VersionStore.try_commit builds it."""
    m = Manifest(dataset=dataset, version=f"v{version}", parent=parent.version if parent else None,
                 parent_root=parent.merkle_root if parent else None, created_at=created,
                 code_version="bench-scale", run_id=run, sources=[], stats={},
                 shard_lists=lists, merkle_root="0" * 64)
    return m.model_copy(update={"merkle_root": m.expected_root()})


@dataclass
class History:
    """What ``synthesize_history`` wrote."""

    dataset: str
    shards: int
    versions: int
    lists: int
    runs: list[str]
    shard_objects: int


def _touch(store: ObjectStore, keys: list[str], workers: int) -> None:
    """Zero-byte objects at ``keys``: plain files locally (same bytes a store would leave),
    parallel PUTs elsewhere."""
    root = getattr(store, "root", None)
    if root is not None:
        made: set[Path] = set()
        for k in keys:
            path = Path(root) / k
            if path.parent not in made:
                path.parent.mkdir(parents=True, exist_ok=True)
                made.add(path.parent)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
            os.close(fd)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda k: store.put_bytes(k, b""), keys))


def synthesize_history(store: ObjectStore, dataset: str, shards: int, *,
                       shards_per_version: int = SHARD_LIST_MAX_ROWS, shard_objects: bool = False,
                       workers: int = 16) -> History:
    """Write a history of ``shards`` shard entries, ``shards_per_version`` per version (each
    version a run of its own, its new shards in lists of at most SHARD_LIST_MAX_ROWS rows,
    every older list reused by reference as a real commit does)."""
    vs = VersionStore(store)
    lists: list[ShardListRef] = []
    parent: Manifest | None = None
    runs: list[str] = []
    created = datetime(2026, 1, 1, tzinfo=timezone.utc)
    done, version, made = 0, 0, 0
    while done < shards:
        version += 1
        run = run_id(version)
        runs.append(run)
        store.put_bytes(run_info_key(run), json_bytes({"run_id": run, "dataset": dataset,
                                                       "started": created.isoformat()}))
        n = min(shards_per_version, shards - done)
        cols = shard_rows(dataset, run, done, n)
        for k, start in enumerate(range(0, n, SHARD_LIST_MAX_ROWS)):
            part = {c: v[start:start + SHARD_LIST_MAX_ROWS] for c, v in cols.items()}
            lists.append(write_list(store, shardlist_key(dataset, run, k, f"-v{version}"), part))
        if shard_objects:
            _touch(store, cols["key"], workers)
            made += n
        parent = manifest_for(dataset, version, run, list(lists), parent,
                              created + timedelta(minutes=version))
        if not store.put_if_absent(manifest_key(dataset, parent.version),
                                   json_bytes(parent.model_dump(mode="json")), "application/json"):
            raise RuntimeError(f"{dataset}@{parent.version} exists already: use an empty store")
        vs.mark_committed(dataset, parent.version, run)
        done += n
    if parent is not None:
        vs.tag(dataset, "latest", parent.version)
    return History(dataset, done, version, len(lists), runs, made)


__all__ = ["CountingStore", "History", "run_id", "shard_rows", "synthesize_history", "write_list"]


def dead_pid() -> int:
    """A process id no process has now: a lease holder that is certainly gone."""
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid += 1
