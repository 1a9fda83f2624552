"""Re-hash every stored object of a version and check its Merkle roots."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from schemas.manifest import Manifest
from storage.errors import IntegrityError, ObjectNotFoundError, StoreError
from storage.merkle import shards_root, version_root
from storage.shards import ShardInfo
from storage.versions import VersionStore

CHUNK = 4 * 1024 * 1024


@dataclass
class VerifyReport:
    """The outcome of verifying one version; ``ok`` only if nothing is wrong."""

    dataset: str
    version: str
    shards_checked: int = 0
    bytes_checked: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)  # (key, what is wrong)

    @property
    def ok(self) -> bool:
        return not self.problems


def hash_object(vs: VersionStore, key: str, on_bytes: Callable[[int], None] | None = None) -> tuple[int, str]:
    """Stream an object once; return (size, sha256)."""
    sha, size = hashlib.sha256(), 0
    with vs.store.open_read(key) as fh:
        while chunk := fh.read(CHUNK):
            sha.update(chunk)
            size += len(chunk)
            if on_bytes:
                on_bytes(len(chunk))
    return size, sha.hexdigest()


def _check_shard(vs: VersionStore, shard: ShardInfo, on_bytes) -> str | None:
    try:
        size, digest = hash_object(vs, shard.key, on_bytes)
    except ObjectNotFoundError:
        return "missing"
    except StoreError as exc:
        return f"unreadable: {exc}"
    if digest != shard.sha256:
        return f"sha256 mismatch (stored {digest[:12]}…, manifest {shard.sha256[:12]}…)"
    if size != shard.bytes:
        return f"size mismatch ({size} bytes, manifest says {shard.bytes})"
    return None


def verify_version(vs: VersionStore, manifest: Manifest, *, workers: int = 8,
                   on_bytes: Callable[[int], None] | None = None) -> VerifyReport:
    """Check every shard's bytes, every shard list, and both Merkle levels."""
    report = VerifyReport(manifest.dataset, manifest.version)
    roots = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for listref in manifest.shard_lists:
            try:
                rows = vs.shard_list(listref).to_pylist()
            except (IntegrityError, ObjectNotFoundError) as exc:
                report.problems.append((listref.key, f"shard list damaged: {exc}"))
                roots.append(listref.merkle_root)
                continue
            shards = [ShardInfo(**r) for r in rows]
            root = shards_root((s.key, s.sha256) for s in shards)
            if root != listref.merkle_root:
                report.problems.append((listref.key, "shard list Merkle root differs from the manifest"))
            roots.append(root)
            for shard, problem in zip(shards, pool.map(lambda s: _check_shard(vs, s, on_bytes), shards)):
                report.shards_checked += 1
                report.bytes_checked += shard.bytes
                if problem:
                    report.problems.append((shard.key, problem))
    if version_root(roots) != manifest.merkle_root:
        report.problems.append((f"{manifest.dataset}@{manifest.version}",
                                "version Merkle root differs from the manifest"))
    return report
