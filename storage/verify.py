"""Re-hash every stored object of a version and check its Merkle roots and whole manifest.

What is checked: every shard's bytes against its sha256 and size; every shard list against
its hash, Merkle root and the totals the manifest records for it; the version root, which in
format 2 covers every manifest field (stats, sources, created_at, ...); and the version's
anchors outside its own manifest: the root each ref pointing at it recorded, and the
``parent_root`` its child version recorded. An edit to a manifest shows up as a root
mismatch; an edit that also recomputes the root shows up against the anchors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from schemas.manifest import Manifest
from storage.errors import IntegrityError, ObjectNotFoundError, StoreError
from storage.merkle import shards_root
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
            report.problems.extend((listref.key, p) for p in _list_totals_problems(listref, rows))
            roots.append(root)
            for shard, problem in zip(shards, pool.map(lambda s: _check_shard(vs, s, on_bytes), shards)):
                report.shards_checked += 1
                report.bytes_checked += shard.bytes
                if problem:
                    report.problems.append((shard.key, problem))
    name = f"{manifest.dataset}@{manifest.version}"
    if manifest.expected_root(roots) != manifest.merkle_root:
        report.problems.append((name, "version Merkle root differs from the manifest: its shard lists "
                                "or fields (stats, sources, dates, totals) were changed after the commit"))
    report.problems.extend((name, p) for p in anchor_problems(vs, manifest))
    return report


def _list_totals_problems(listref, rows: list[dict]) -> list[str]:
    """Where the totals the manifest records for a list differ from the list (``formats`` is
    checked only where the manifest has it: older manifests predate it)."""
    from schemas.manifest import list_totals

    want = list_totals(rows)
    if listref.formats is None:
        want.pop("formats")
    return [f"manifest says {k}={getattr(listref, k)!r}, the shard list holds {v!r}"
            for k, v in want.items() if getattr(listref, k) != v]


def anchor_problems(vs: VersionStore, manifest: Manifest) -> list[str]:
    """Where refs or the child version recorded a different root for this version."""
    problems = []
    for ref in vs.store.list_children(f"datasets/{manifest.dataset}/refs"):
        try:
            version, root = vs.ref_entry(manifest.dataset, ref)
        except (ObjectNotFoundError, IntegrityError):
            continue
        if version == manifest.version and root is not None and root != manifest.merkle_root:
            problems.append(f"ref {ref!r} recorded root {root[:16]}…, the manifest carries "
                            f"{manifest.merkle_root[:16]}…: the manifest was replaced after tagging")
    child = _child(vs, manifest)
    if child is not None and child.parent_root not in (None, manifest.merkle_root):
        problems.append(f"child {child.version} recorded parent root {child.parent_root[:16]}…, "
                        f"the manifest carries {manifest.merkle_root[:16]}…: the manifest was replaced")
    return problems


def _child(vs: VersionStore, manifest: Manifest) -> Manifest | None:
    import re

    m = re.match(r"^v(\d+)$", manifest.version)
    if not m:
        return None
    try:
        child = vs.manifest(f"{manifest.dataset}@v{int(m.group(1)) + 1}")
    except (StoreError, ValueError):
        return None
    return child if child.parent == manifest.version else None
