"""Pull a dataset version to a local folder: parallel, resumable, checksum-verified.

Layout: DEST holds only the shards, under their store keys below ``datasets/<name>/shards/``;
Kho's own files go to the sidecar folder ``DEST.kho/`` beside it (the version's
``manifest.json``, one marker per finished shard under ``pull/`` so an interrupted pull
resumes where it stopped, ``tmp/`` for downloads in flight, and ``card/`` with the version's
datasheet when it has one). polars and HF datasets read
every file of a folder they are given, so nothing but data may be inside DEST: then pyarrow,
polars, DuckDB and HF datasets open DEST itself with no glue, and a failed pull leaves no
partial file among the data. Before anything is fetched the
manifest is checked against its Merkle root and its anchors (refs, child version); each shard
is checked against its sha256 as it arrives. With a row filter, Parquet shards are verified
first, then filtered while being written locally. A WebDataset tar is filtered on its index
instead: the index (its pair) is fetched and verified, its rows are filtered, and only the
matching samples' members are range-read from the tar (nearby ranges in one request), each
checked against the sha256 the index records for it. DEST then holds, at the same paths as an
unfiltered pull, a tar of just those samples (same member names) and an index of just their
rows whose offsets point into that tar. An index written before members had a sha256 cannot
vouch for a range, so that tar is downloaded and verified whole, then cut the same way.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tarfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from schemas.manifest import Manifest
from storage.errors import IntegrityError, ObjectNotFoundError
from storage.layout import datasheet_prefix
from storage.shards import WDS_MEMBER, ShardInfo
from storage.versions import VersionStore
from storage.where import check_columns, parse_where

log = logging.getLogger(__name__)

CHUNK = 4 * 1024 * 1024
#: Member ranges of a filtered WebDataset pull closer than this are fetched in one request:
#: the members of one sample are 512-byte tar headers apart, and a gap this small costs less
#: than another round trip.
COALESCE_GAP = 64 * 1024
#: The most bytes one coalesced request holds in memory; a larger member is read in CHUNKs.
MAX_RUN = 8 * 1024 * 1024

#: Reads ``length`` bytes of a tar from ``start`` (the store, or a verified local copy).
RangeReader = Callable[[int, int], bytes]


@dataclass
class PullReport:
    """What a pull fetched, skipped (already there) and, with a filter, kept.

    ``bytes_fetched`` counts the bytes read from the store: a filtered WebDataset tar adds
    its index and the member ranges read, not the tar's size."""

    dest: Path
    fetched: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rows_written: int = 0
    bytes_fetched: int = 0
    card: Path | None = None  # the copied datasheet folder, None when the version has no card yet


def _local_path(dest: Path, shard: ShardInfo) -> Path:
    return dest / shard.key


def sidecar(dest: Path) -> Path:
    """Where a pull into ``dest`` keeps its manifest, markers and downloads in flight."""
    dest = Path(dest)
    return dest.with_name(dest.name + ".kho")


def _marker(dest: Path, shard: ShardInfo, where: str | None) -> Path:
    tag = hashlib.sha256(f"{shard.key}\0{shard.sha256}\0{where or ''}".encode()).hexdigest()[:32]
    return sidecar(dest) / "pull" / f"{tag}.done"


def _scratch(dest: Path, shard: ShardInfo, suffix: str) -> Path:
    return sidecar(dest) / "tmp" / (hashlib.sha256(shard.key.encode()).hexdigest()[:24] + suffix)


def _fetch_verified(vs: VersionStore, shard: ShardInfo, part: Path,
                    on_bytes: Callable[[int], None] | None) -> None:
    """Download to ``part`` while hashing; raise IntegrityError on a mismatch."""
    sha, size = hashlib.sha256(), 0
    with vs.store.open_read(shard.key) as src, open(part, "wb") as dst:
        while chunk := src.read(CHUNK):
            dst.write(chunk)
            sha.update(chunk)
            size += len(chunk)
            if on_bytes:
                on_bytes(len(chunk))
    if sha.hexdigest() != shard.sha256 or size != shard.bytes:
        part.unlink(missing_ok=True)
        raise IntegrityError(f"{shard.key}: downloaded bytes do not match the manifest's sha256; "
                             "the stored shard is damaged (run `kho verify`)")


def _pull_one(vs: VersionStore, shard: ShardInfo, dest: Path, where: str | None,
              on_bytes: Callable[[int], None] | None) -> int:
    """Fetch one shard (filtered if asked); return rows written (-1 when not filtered)."""
    target = _local_path(dest, shard)
    part, filtered = _scratch(dest, shard, ".part"), _scratch(dest, shard, ".filtered")
    try:
        _fetch_verified(vs, shard, part, on_bytes)
        rows = -1
        if where and shard.format == "parquet":
            table = pq.read_table(part, filters=parse_where(where))
            pq.write_table(table, filtered, compression="zstd")
            rows = table.num_rows
            part.unlink()
            part = filtered
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
        filtered.unlink(missing_ok=True)
    return rows


@dataclass(frozen=True, slots=True)
class _Member:
    """One tar member a filtered pull copies: where its data is and what it must hash to."""

    row: int  # the selected index row of its sample
    slot: int  # its position in that row's member list
    name: str
    offset: int
    size: int
    sha256: str | None  # None in indexes written before members had one


def _selected_members(rows: list[list[dict[str, Any]]], tar: ShardInfo) -> list[_Member]:
    """The members of the selected index rows in tar order; refuse one outside the tar."""
    out = []
    for row, members in enumerate(rows):
        for slot, m in enumerate(members or []):
            if m["offset"] < 0 or m["size"] < 0 or m["offset"] + m["size"] > tar.bytes:
                raise IntegrityError(
                    f"{tar.key}: its index places member {m['name']!r} outside the tar's "
                    f"{tar.bytes} bytes; the index does not belong to this tar (run `kho verify`)")
            out.append(_Member(row, slot, m["name"], m["offset"], m["size"], m.get("sha256")))
    return sorted(out, key=lambda m: m.offset)


def _coalesce(members: list[_Member], gap: int = COALESCE_GAP, limit: int = MAX_RUN) -> list[list[_Member]]:
    """Group members (in tar order) into runs that one ranged read fetches: members at most
    ``gap`` bytes apart, a run spanning at most ``limit`` bytes (a bigger member runs alone)."""
    runs: list[list[_Member]] = []
    for m in members:
        if runs:
            run = runs[-1]
            end = run[-1].offset + run[-1].size
            if m.offset - end <= gap and m.offset + m.size - run[0].offset <= limit:
                run.append(m)
                continue
        runs.append([m])
    return runs


def _run_data(read: RangeReader, run: list[_Member]) -> Iterator[tuple[_Member, Iterable[bytes]]]:
    """Each member of ``run`` with its data as chunks: one read for the whole run, or reads
    of CHUNK bytes for a member too large to hold (such a member is a run of its own)."""
    start, end = run[0].offset, run[-1].offset + run[-1].size
    if end - start > MAX_RUN:
        m = run[0]
        yield m, (read(pos, min(CHUNK, end - pos)) for pos in range(m.offset, end, CHUNK))
        return
    blob = memoryview(read(start, end - start))
    for m in run:
        yield m, (blob[m.offset - start: m.offset - start + m.size],)


class _ChunkStream(io.RawIOBase):
    """A readable stream over byte chunks that hashes and counts what is read from it, so
    tarfile copies a member straight from the fetched ranges while it is verified."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buf, self._pos = memoryview(b""), 0
        self._sha = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:  # type: ignore[override]
        while self._pos >= len(self._buf):
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._buf, self._pos = memoryview(chunk), 0
        n = min(len(buf), len(self._buf) - self._pos)
        piece = self._buf[self._pos: self._pos + n]
        buf[:n] = piece
        self._sha.update(piece)
        self._pos += n
        self.count += n
        return n

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()


def _padded(size: int) -> int:
    """Bytes a member of ``size`` takes in a tar after its header (whole 512-byte blocks)."""
    return -(-size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE


def _add_member(tar: tarfile.TarFile, m: _Member, chunks: Iterable[bytes], mtime: int,
                tar_key: str) -> dict[str, Any]:
    """Append one member to ``tar`` from ``chunks``; return its index entry in the new tar.
    Raises IntegrityError when the bytes do not hash to the sha256 the index recorded."""
    info = tarfile.TarInfo(m.name)
    info.size, info.mtime, info.mode = m.size, mtime, 0o644
    stream = _ChunkStream(chunks)
    tar.addfile(info, stream)
    if m.sha256 is not None and stream.sha256 != m.sha256:
        raise IntegrityError(f"{tar_key}: member {m.name!r} does not match the sha256 its index "
                             "records; the stored tar is damaged (run `kho verify`)")
    return {"name": m.name, "offset": tar.offset - _padded(m.size), "size": m.size,
            "sha256": stream.sha256}


def _write_selected(read: RangeReader, members: list[_Member], out: Path, mtime: int,
                    tar_key: str) -> dict[tuple[int, int], dict[str, Any]]:
    """Write ``members`` (in tar order) into a new tar at ``out``; return the new index entry
    of each, by (row, slot)."""
    placed = {}
    with tarfile.open(out, "w", format=tarfile.USTAR_FORMAT) as tar:
        for run in _coalesce(members):
            for m, chunks in _run_data(read, run):
                placed[(m.row, m.slot)] = _add_member(tar, m, chunks, mtime, tar_key)
    return placed


def _store_reader(vs: VersionStore, tar: ShardInfo, fetched: list[int],
                  on_bytes: Callable[[int], None] | None) -> RangeReader:
    """Ranged reads of ``tar`` from the store, counted into ``fetched[0]``; a short read
    (the object is shorter than the manifest says) is an IntegrityError."""
    def read(start: int, length: int) -> bytes:
        data = vs.store.get_range(tar.key, start, length)
        fetched[0] += len(data)
        if on_bytes:
            on_bytes(len(data))
        if len(data) != length:
            raise IntegrityError(f"{tar.key}: the stored tar ends before byte {start + length} "
                                 "that its index points at; it is damaged (run `kho verify`)")
        return data

    return read


def _file_reader(fh: BinaryIO) -> RangeReader:
    """Ranged reads of a local, already verified copy of a tar."""
    def read(start: int, length: int) -> bytes:
        fh.seek(start)
        return fh.read(length)

    return read


def _with_members(index: pa.Table, rows: list[list[dict[str, Any]]],
                  placed: dict[tuple[int, int], dict[str, Any]]) -> pa.Table:
    """``index`` with each row's members replaced by their entries in the new tar."""
    members = pa.array([[placed[(r, s)] for s in range(len(ms or []))] for r, ms in enumerate(rows)],
                       pa.list_(WDS_MEMBER))
    where = index.schema.get_field_index("members")
    return index.set_column(where, pa.field("members", pa.list_(WDS_MEMBER), nullable=False), members)


def _pull_wds_filtered(vs: VersionStore, tar: ShardInfo, index: ShardInfo, dest: Path, where: str,
                       mtime: int, on_bytes: Callable[[int], None] | None) -> tuple[int, int]:
    """Pull only the samples of ``tar`` whose index rows match ``where``: a local tar of them
    and their index; return (samples written, bytes fetched from the store)."""
    index_part, tar_part = _scratch(dest, index, ".part"), _scratch(dest, tar, ".part")
    tar_out, index_out = _scratch(dest, tar, ".filtered"), _scratch(dest, index, ".filtered")
    try:
        _fetch_verified(vs, index, index_part, on_bytes)
        fetched = [index.bytes]
        check_columns(where, pq.read_schema(index_part))
        selected = pq.read_table(index_part, filters=parse_where(where))
        rows = selected.column("members").to_pylist()
        members = _selected_members(rows, tar)
        if all(m.sha256 for m in members):
            placed = _write_selected(_store_reader(vs, tar, fetched, on_bytes), members, tar_out,
                                     mtime, tar.key)
        else:
            log.info("%s: its index has no member sha256 (written before they were recorded); "
                     "downloading the whole tar to verify it", tar.key)
            _fetch_verified(vs, tar, tar_part, on_bytes)
            fetched[0] += tar.bytes
            with open(tar_part, "rb") as fh:
                placed = _write_selected(_file_reader(fh), members, tar_out, mtime, tar.key)
        pq.write_table(_with_members(selected, rows, placed), index_out, compression="zstd")
        for made, shard in ((tar_out, tar), (index_out, index)):
            _local_path(dest, shard).parent.mkdir(parents=True, exist_ok=True)
            os.replace(made, _local_path(dest, shard))
    finally:
        for scratch in (index_part, tar_part, tar_out, index_out):
            scratch.unlink(missing_ok=True)
    return selected.num_rows, fetched[0]


def _work_units(shards: list[ShardInfo], where: str | None) -> list[tuple[ShardInfo, ...]]:
    """What one worker pulls in one go: with a filter, a WebDataset tar together with its
    index (the index picks the tar's members); else, and for every other shard, one shard."""
    if not where:
        return [(s,) for s in shards]
    by_key = {s.key: s for s in shards}
    paired = {s.pair for s in shards if s.format == "webdataset"}
    units: list[tuple[ShardInfo, ...]] = []
    for s in shards:
        if s.format == "webdataset":
            index = by_key.get(s.pair)
            if index is None or index.format != "wds-index":
                raise IntegrityError(
                    f"{s.key}: its index {s.pair!r} is not in the version's shard list, so "
                    "--where cannot select its samples; nothing pulled; run `kho verify`, or "
                    "pull without --where")
            units.append((s, index))
        elif not (s.format == "wds-index" and s.key in paired):
            units.append((s,))
    return units


def _pull_unit(vs: VersionStore, unit: tuple[ShardInfo, ...], dest: Path, where: str | None,
               mtime: int, on_bytes: Callable[[int], None] | None) -> tuple[int, int]:
    """Pull one work unit; return (rows written, bytes fetched from the store)."""
    if len(unit) == 2:
        return _pull_wds_filtered(vs, unit[0], unit[1], dest, where or "", mtime, on_bytes)
    shard = unit[0]
    rows = _pull_one(vs, shard, dest, where, on_bytes)
    return (shard.rows if rows < 0 else rows), shard.bytes


def check_manifest(vs: VersionStore, manifest: Manifest) -> list[pa.Table]:
    """Refuse a version whose manifest does not match its own root or its anchors (refs, child):
    recomputes every list's root from the lists (whose bytes are checked against the manifest).

    Returns the lists it read, in manifest order, so a pull plans from them without a second read."""
    from storage.merkle import shards_root
    from storage.verify import anchor_problems

    tables = [vs.shard_list(ref) for ref in manifest.shard_lists]
    roots = [shards_root(zip(t.column("key").to_pylist(), t.column("sha256").to_pylist()))
             for t in tables]
    problems = [] if manifest.expected_root(roots) == manifest.merkle_root else [
        "its Merkle root does not match its shard lists and fields"]
    problems += anchor_problems(vs, manifest)
    if problems:
        raise IntegrityError(f"{manifest.dataset}@{manifest.version} failed its integrity check "
                             f"({'; '.join(problems)}); nothing pulled; run `kho verify`")
    return tables


def checked_shards(tables: list[pa.Table], modality: str | None = None) -> list[ShardInfo]:
    """The shards of lists :func:`check_manifest` returned (of one modality, if given)."""
    return [ShardInfo(**row) for t in tables for row in t.to_pylist()
            if modality is None or row["modality"] == modality]


def pull_version(vs: VersionStore, manifest: Manifest, dest: Path, *, modality: str | None = None,
                 where: str | None = None, workers: int = 8,
                 on_bytes: Callable[[int], None] | None = None,
                 on_shard: Callable[[ShardInfo], None] | None = None) -> PullReport:
    """Copy a version's shards to ``dest``, skipping shards a previous pull finished."""
    if where:
        parse_where(where)  # fail before downloading anything
    tables = check_manifest(vs, manifest)
    dest = Path(dest)
    for sub in ("pull", "tmp"):
        (sidecar(dest) / sub).mkdir(parents=True, exist_ok=True)
    report = PullReport(dest)
    todo = []
    for unit in _work_units(checked_shards(tables, modality), where):
        if all(_marker(dest, s, where).exists() and _local_path(dest, s).exists() for s in unit):
            for shard in unit:
                report.skipped.append(shard.key)
                if on_shard:
                    on_shard(shard)
        else:
            todo.append(unit)
    mtime = int(manifest.created_at.timestamp())

    def work(unit: tuple[ShardInfo, ...]) -> tuple[tuple[ShardInfo, ...], int, int]:
        rows, fetched = _pull_unit(vs, unit, dest, where, mtime, on_bytes)
        for shard in unit:
            _marker(dest, shard, where).write_text(shard.sha256)
            if on_shard:
                on_shard(shard)
        return unit, rows, fetched

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for unit, rows, fetched in pool.map(work, todo):
            report.fetched.extend(shard.key for shard in unit)
            report.bytes_fetched += fetched
            report.rows_written += rows
    (sidecar(dest) / "manifest.json").write_text(manifest.model_dump_json(indent=2))
    report.card = _pull_card(vs, manifest, dest)
    (sidecar(dest) / "last-pull.json").write_text(json.dumps(
        {"version": f"{manifest.dataset}@{manifest.version}", "modality": modality, "where": where,
         "fetched": len(report.fetched), "skipped": len(report.skipped)}, indent=2))
    return report


CARD_FILES = ("README.md", "datasheet.json", "datasheet.html")


def _pull_card(vs: VersionStore, manifest: Manifest, dest: Path) -> Path | None:
    """Copy the version's datasheet (if it has one) to ``DEST.kho/card/``: beside the data, not
    in it, since polars reads every file of DEST. The card is a description, not data: the
    Merkle root does not cover it, so it is copied as it is."""
    prefix = datasheet_prefix(manifest.dataset, manifest.version)
    out = sidecar(dest) / "card"
    copied = 0
    for name in CARD_FILES:
        try:
            data = vs.store.get_bytes(f"{prefix}/{name}")
        except ObjectNotFoundError:
            continue
        out.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
        copied += 1
    if not copied:
        log.info("%s@%s has no datasheet yet: `kho datasets card %s@%s` builds one", manifest.dataset,
                 manifest.version, manifest.dataset, manifest.version)
    return out if copied else None


__all__ = ["PullReport", "check_manifest", "checked_shards", "pull_version", "sidecar"]
