"""Shard writers: Parquet, and WebDataset tar with a Parquet index of the same samples.

Writers hash and count while they write (no second read of the bytes), spill to a local
temporary file, and upload each shard through the store when it closes, so a shard becomes
visible in one atomic put. They return :class:`ShardInfo` rows for the version's shard list.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from storage.base import ObjectStore

DEFAULT_TARGET_BYTES = 512 * 1024 * 1024
DEFAULT_ROW_GROUP_ROWS = 20_000


@dataclass(frozen=True, slots=True)
class ShardInfo:
    """One stored object of a dataset version, as the shard list records it."""

    key: str
    format: str  # "parquet" | "webdataset" | "wds-index"
    modality: str
    rows: int
    bytes: int
    sha256: str
    pair: str = ""  # the tar of an index, or the index of a tar

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class HashingFile(io.RawIOBase):
    """A write-only file that sha256-hashes and counts every byte written to it."""

    def __init__(self, path: Path) -> None:
        self._fh = open(path, "wb")
        self._sha = hashlib.sha256()
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        view = memoryview(data)
        self._fh.write(view)
        self._sha.update(view)
        self.count += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self.count

    def flush(self) -> None:
        if not self._fh.closed:
            self._fh.flush()

    def close(self) -> None:
        if not self.closed:
            super().close()
            self._fh.close()

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()


class _SpoolingShard:
    """The local temporary file behind one shard that is being written."""

    def __init__(self, tmp_dir: str | None) -> None:
        fd, name = tempfile.mkstemp(prefix="kho-shard-", dir=tmp_dir)
        os.close(fd)
        self.path = Path(name)
        self.file = HashingFile(self.path)

    def finish(self) -> tuple[int, str]:
        self.file.close()
        return self.file.count, self.file.sha256

    def discard(self) -> None:
        if not self.file.closed:
            self.file.close()
        self.path.unlink(missing_ok=True)


class ParquetShardWriter:
    """Writes rows of one explicit Arrow schema into zstd Parquet shards of a target size.

    Shards are named ``{prefix}/{basename}-{n:05d}.parquet``; give each concurrent writer a
    distinct, deterministic basename (e.g. the work unit's id) so reruns overwrite rather
    than duplicate.
    """

    def __init__(
        self,
        store: ObjectStore,
        prefix: str,
        schema: pa.Schema,
        *,
        modality: str,
        basename: str = "part",
        target_bytes: int = DEFAULT_TARGET_BYTES,
        row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
        tmp_dir: str | None = None,
    ) -> None:
        self.store, self.prefix, self.schema = store, prefix.rstrip("/"), schema
        self.modality, self.basename = modality, basename
        self.target_bytes, self.row_group_rows, self.tmp_dir = target_bytes, row_group_rows, tmp_dir
        self._pending: list[dict[str, Any]] = []
        self._spool: _SpoolingShard | None = None
        self._writer: pq.ParquetWriter | None = None
        self._rows = 0
        self.shards: list[ShardInfo] = []

    def write_rows(self, rows: list[dict[str, Any]]) -> None:
        """Buffer rows; full row groups are written as they fill."""
        self._pending.extend(rows)
        while len(self._pending) >= self.row_group_rows:
            chunk, self._pending = self._pending[: self.row_group_rows], self._pending[self.row_group_rows:]
            self.write_table(pa.Table.from_pylist(chunk, schema=self.schema))

    def write_table(self, table: pa.Table) -> None:
        """Write a table (already in this writer's schema) as one or more row groups."""
        if table.num_rows == 0:
            return
        if self._writer is None:
            self._spool = _SpoolingShard(self.tmp_dir)
            self._writer = pq.ParquetWriter(self._spool.file, self.schema, compression="zstd",
                                            write_statistics=True)
        self._writer.write_table(table.cast(self.schema), row_group_size=self.row_group_rows)
        self._rows += table.num_rows
        if self._spool.file.count >= self.target_bytes:
            self._finish_shard()

    def _finish_shard(self) -> None:
        assert self._writer is not None and self._spool is not None
        self._writer.close()
        size, digest = self._spool.finish()
        key = f"{self.prefix}/{self.basename}-{len(self.shards):05d}.parquet"
        try:
            self.store.put_file(key, self._spool.path, content_type="application/vnd.apache.parquet")
        finally:
            self._spool.discard()
        self.shards.append(ShardInfo(key, "parquet", self.modality, self._rows, size, digest))
        self._writer, self._spool, self._rows = None, None, 0

    def close(self) -> list[ShardInfo]:
        """Flush what is buffered, upload the last shard, and return every shard written."""
        if self._pending:
            rows, self._pending = self._pending, []
            self.write_table(pa.Table.from_pylist(rows, schema=self.schema))
        if self._writer is not None:
            self._finish_shard()
        return self.shards

    def abort(self) -> None:
        """Drop the shard in progress without uploading it."""
        if self._writer is not None:
            self._writer.close()
        if self._spool is not None:
            self._spool.discard()
        self._writer, self._spool = None, None


#: One tar member as the index records it: where its data lies in the tar, and the sha256
#: of that data, so a reader that range-reads only some members can still verify them
#: (indexes written before ``sha256`` was added lack the field: readers fall back to the tar).
WDS_MEMBER = pa.struct([
    pa.field("name", pa.string()),
    pa.field("offset", pa.int64()),
    pa.field("size", pa.int64()),
    pa.field("sha256", pa.string()),
])

#: Columns every WebDataset index has; callers add their own metadata columns.
WDS_INDEX_BASE = pa.schema([
    pa.field("key", pa.string(), nullable=False),
    pa.field("shard", pa.string(), nullable=False),
    pa.field("members", pa.list_(WDS_MEMBER), nullable=False),
])


def wds_index_schema(metadata: pa.Schema | None = None) -> pa.Schema:
    """The index schema: key, shard, member offsets, then ``metadata``'s columns."""
    fields = list(WDS_INDEX_BASE)
    if metadata is not None:
        fields += list(metadata)
    return pa.schema(fields)


class WebDatasetShardWriter:
    """Writes samples (``key`` plus members by extension) into tar shards, with an index.

    Each ``{basename}-{n}.tar`` gets a ``{basename}-{n}.parquet`` index with one row per
    sample: its key, every member's name, byte offset of the member's data in the tar, its
    size and sha256, and the metadata columns, so readers can filter without opening the tar,
    seek straight to a member and verify what they read.
    """

    def __init__(
        self,
        store: ObjectStore,
        prefix: str,
        *,
        modality: str,
        metadata_schema: pa.Schema | None = None,
        basename: str = "part",
        target_bytes: int = DEFAULT_TARGET_BYTES,
        tmp_dir: str | None = None,
    ) -> None:
        self.store, self.prefix, self.modality = store, prefix.rstrip("/"), modality
        self.basename, self.target_bytes, self.tmp_dir = basename, target_bytes, tmp_dir
        self.index_schema = wds_index_schema(metadata_schema)
        self._spool: _SpoolingShard | None = None
        self._tar: tarfile.TarFile | None = None
        self._index_rows: list[dict[str, Any]] = []
        self._n = 0
        self.shards: list[ShardInfo] = []

    def _shard_key(self, ext: str) -> str:
        return f"{self.prefix}/{self.basename}-{self._n:05d}.{ext}"

    def write(self, key: str, members: dict[str, bytes], metadata: dict[str, Any] | None = None) -> None:
        """Append one sample; ``members`` maps extensions (``jpg``, ``json``) to bytes."""
        if "." in key or "/" in key:
            raise ValueError(f"sample key {key!r} must not contain '.' or '/' (WebDataset splits on them)")
        if self._tar is None:
            self._spool = _SpoolingShard(self.tmp_dir)
            self._tar = tarfile.open(fileobj=self._spool.file, mode="w", format=tarfile.USTAR_FORMAT)
        placed = []
        now = int(time.time())
        for ext, data in members.items():
            info = tarfile.TarInfo(f"{key}.{ext}")
            info.size, info.mtime, info.mode = len(data), now, 0o644
            self._tar.addfile(info, io.BytesIO(data))
            data_end = self._tar.offset
            padded = -(-len(data) // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
            placed.append({"name": info.name, "offset": data_end - padded, "size": len(data),
                           "sha256": hashlib.sha256(data).hexdigest()})
        row = {"key": key, "shard": self._shard_key("tar"), "members": placed}
        row.update(metadata or {})
        self._index_rows.append(row)
        if self._spool.file.count >= self.target_bytes:
            self._finish_shard()

    def _finish_shard(self) -> None:
        assert self._tar is not None and self._spool is not None
        self._tar.close()
        size, digest = self._spool.finish()
        tar_key, index_key = self._shard_key("tar"), self._shard_key("parquet")
        try:
            self.store.put_file(tar_key, self._spool.path, content_type="application/x-tar")
        finally:
            self._spool.discard()
        table = pa.Table.from_pylist(self._index_rows, schema=self.index_schema)
        index_info = _write_single_parquet(self.store, index_key, table, self.tmp_dir)
        self.shards.append(ShardInfo(tar_key, "webdataset", self.modality, len(self._index_rows),
                                     size, digest, pair=index_key))
        self.shards.append(ShardInfo(index_key, "wds-index", self.modality, index_info[0],
                                     index_info[1], index_info[2], pair=tar_key))
        self._tar, self._spool, self._index_rows = None, None, []
        self._n += 1

    def close(self) -> list[ShardInfo]:
        """Upload the last tar and its index; return every object written."""
        if self._tar is not None:
            self._finish_shard()
        return self.shards

    def abort(self) -> None:
        """Drop the tar being written (its spool file too); shards already uploaded stay for
        gc, since no manifest names them."""
        if self._tar is not None:
            try:
                self._tar.close()
            except (OSError, ValueError, tarfile.TarError):
                pass
        if self._spool is not None:
            self._spool.discard()
        self._tar, self._spool, self._index_rows = None, None, []


def _write_single_parquet(store: ObjectStore, key: str, table: pa.Table,
                          tmp_dir: str | None) -> tuple[int, int, str]:
    """Write ``table`` as one Parquet object; return (rows, bytes, sha256)."""
    spool = _SpoolingShard(tmp_dir)
    try:
        pq.write_table(table, spool.file, compression="zstd")
        size, digest = spool.finish()
        store.put_file(key, spool.path, content_type="application/vnd.apache.parquet")
    finally:
        spool.discard()
    return table.num_rows, size, digest


def write_parquet_object(store: ObjectStore, key: str, table: pa.Table, modality: str = "",
                         tmp_dir: str | None = None) -> ShardInfo:
    """Write one small table (a shard list, a run table) as a single Parquet object."""
    rows, size, digest = _write_single_parquet(store, key, table, tmp_dir)
    return ShardInfo(key, "parquet", modality, rows, size, digest)


def json_bytes(obj: Any) -> bytes:
    """Stable, readable JSON for manifests and small metadata objects."""
    return (json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True, default=str) + "\n").encode()
