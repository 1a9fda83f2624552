"""Garbage collection: delete stored objects that no version references.

Crashed or killed runs leave shards and shard lists that no manifest points to. They are
invisible to readers (only manifests make data visible) and `gc` removes them once they are
older than a grace period, so a run that is still writing is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from storage.base import ObjectInfo
from storage.versions import VersionStore, dataset_prefix, manifest_key


@dataclass
class GcReport:
    """What gc found (and, unless a dry run, deleted)."""

    unreferenced: list[ObjectInfo] = field(default_factory=list)
    too_recent: list[ObjectInfo] = field(default_factory=list)
    deleted: int = 0
    dry_run: bool = True

    @property
    def reclaimable_bytes(self) -> int:
        return sum(o.size for o in self.unreferenced)


def referenced_keys(vs: VersionStore, dataset: str) -> set[str]:
    """Every key some version of ``dataset`` needs: manifests, shard lists, shards."""
    keys: set[str] = set()
    for version in vs.versions(dataset):
        manifest = vs.manifest(f"{dataset}@{version}")
        keys.add(manifest_key(dataset, version))
        for listref in manifest.shard_lists:
            keys.add(listref.key)
            keys.update(vs.shard_list(listref, check=False).column("key").to_pylist())
    return keys


def collect_garbage(vs: VersionStore, datasets: list[str] | None = None, *,
                    grace: timedelta = timedelta(hours=24), dry_run: bool = True,
                    now: datetime | None = None) -> GcReport:
    """Find (and unless ``dry_run``, delete) unreferenced shards and shard lists."""
    now = now or datetime.now(timezone.utc)
    report = GcReport(dry_run=dry_run)
    for dataset in datasets or vs.datasets():
        keep = referenced_keys(vs, dataset)
        for sub in ("shards", "shardlists"):
            for obj in vs.store.list(f"{dataset_prefix(dataset)}/{sub}/"):
                if obj.key in keep:
                    continue
                if now - obj.modified < grace:
                    report.too_recent.append(obj)
                    continue
                report.unreferenced.append(obj)
    if not dry_run:
        for obj in report.unreferenced:
            vs.store.delete(obj.key)
            report.deleted += 1
    return report
