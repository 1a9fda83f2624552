"""Pull a dataset version to a local folder: parallel, resumable, checksum-verified.

Layout: DEST holds only the shards, under their store keys below ``datasets/<name>/shards/``;
Kho's own files go to the sidecar folder ``DEST.kho/`` beside it (the version's
``manifest.json``, one marker per finished shard under ``pull/`` so an interrupted pull
resumes where it stopped, and ``tmp/`` for downloads in flight). polars and HF datasets read
every file of a folder they are given, so nothing but data may be inside DEST: then pyarrow,
polars, DuckDB and HF datasets open DEST itself with no glue, and a failed pull leaves no
partial file among the data. Before anything is fetched the
manifest is checked against its Merkle root and its anchors (refs, child version); each shard
is checked against its sha256 as it arrives. With a row filter, Parquet shards are verified
first, then filtered while being written locally.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from schemas.manifest import Manifest
from storage.errors import IntegrityError
from storage.shards import ShardInfo
from storage.versions import VersionStore
from storage.where import parse_where

CHUNK = 4 * 1024 * 1024


@dataclass
class PullReport:
    """What a pull fetched, skipped (already there) and, with a filter, kept."""

    dest: Path
    fetched: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rows_written: int = 0
    bytes_fetched: int = 0


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


def check_manifest(vs: VersionStore, manifest: Manifest) -> None:
    """Refuse a version whose manifest does not match its own root or its anchors (refs, child):
    recomputes every list's root from the lists (whose bytes are checked against the manifest)."""
    from storage.merkle import shards_root
    from storage.verify import anchor_problems

    roots = [shards_root(zip(t.column("key").to_pylist(), t.column("sha256").to_pylist()))
             for t in (vs.shard_list(ref) for ref in manifest.shard_lists)]
    problems = [] if manifest.expected_root(roots) == manifest.merkle_root else [
        "its Merkle root does not match its shard lists and fields"]
    problems += anchor_problems(vs, manifest)
    if problems:
        raise IntegrityError(f"{manifest.dataset}@{manifest.version} failed its integrity check "
                             f"({'; '.join(problems)}); nothing pulled; run `kho verify`")


def pull_version(vs: VersionStore, manifest: Manifest, dest: Path, *, modality: str | None = None,
                 where: str | None = None, workers: int = 8,
                 on_bytes: Callable[[int], None] | None = None,
                 on_shard: Callable[[ShardInfo], None] | None = None) -> PullReport:
    """Copy a version's shards to ``dest``, skipping shards a previous pull finished."""
    if where:
        parse_where(where)  # fail before downloading anything
    check_manifest(vs, manifest)
    dest = Path(dest)
    for sub in ("pull", "tmp"):
        (sidecar(dest) / sub).mkdir(parents=True, exist_ok=True)
    report = PullReport(dest)
    todo = []
    for shard in vs.shards(manifest, modality):
        if _marker(dest, shard, where).exists() and _local_path(dest, shard).exists():
            report.skipped.append(shard.key)
            if on_shard:
                on_shard(shard)
        else:
            todo.append(shard)

    def work(shard: ShardInfo) -> tuple[ShardInfo, int]:
        rows = _pull_one(vs, shard, dest, where, on_bytes)
        _marker(dest, shard, where).write_text(shard.sha256)
        if on_shard:
            on_shard(shard)
        return shard, rows

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for shard, rows in pool.map(work, todo):
            report.fetched.append(shard.key)
            report.bytes_fetched += shard.bytes
            report.rows_written += shard.rows if rows < 0 else rows
    (sidecar(dest) / "manifest.json").write_text(manifest.model_dump_json(indent=2))
    (sidecar(dest) / "last-pull.json").write_text(json.dumps(
        {"version": f"{manifest.dataset}@{manifest.version}", "modality": modality, "where": where,
         "fetched": len(report.fetched), "skipped": len(report.skipped)}, indent=2))
    return report


__all__ = ["PullReport", "check_manifest", "pull_version", "sidecar"]
