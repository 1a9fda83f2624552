"""Garbage collection: delete what no version references and no live run will reference.

Crashed, killed or failed runs leave objects behind under every prefix Kho writes
(storage/layout.py): shards and shard lists, run folders (``runs/<run>/``), dedup index shards
of runs that never committed, leases and claims of dead runs, the legacy shared index
manifest, and temporary files of interrupted local writes (in ``ledger/`` and elsewhere).
They are invisible to readers (only manifests make data visible); gc removes them.

Safety, whatever the grace period (``--grace-hours 0`` included):
1. gc lists the candidates first, then reads the live run leases, then the manifests. A run
   creates its lease before it writes anything and releases it only after its commit, so an
   object gc listed belongs to a run that is still live when gc reads the leases (kept), or
   has committed by the time gc reads the manifests (referenced, kept), or is garbage.
2. Objects that carry a live run's id are never deleted; nor are a committed run's folder and
   index shards.
3. As a second line of defence, a run checks that every shard it names exists just before its
   commit point, so a run that looked dead (no heartbeat for the lease TTL) but was not fails
   cleanly instead of committing a dangling version.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from storage.base import ObjectInfo, ObjectStore
from storage.errors import ObjectNotFoundError
from storage.layout import (dataset_prefix, gc_prefixes, index_prefix, leases_prefix, manifest_key,
                            run_id_of, run_info_key)
from storage.leases import lease_state, live_runs
from storage.versions import VersionStore


@dataclass
class GcReport:
    """What gc found (and, unless a dry run, deleted)."""

    unreferenced: list[ObjectInfo] = field(default_factory=list)
    too_recent: list[ObjectInfo] = field(default_factory=list)
    live: list[ObjectInfo] = field(default_factory=list)  # kept: a live run holds them
    deleted: int = 0
    dry_run: bool = True

    @property
    def reclaimable_bytes(self) -> int:
        return sum(o.size for o in self.unreferenced)


def referenced_keys(vs: VersionStore, dataset: str) -> tuple[set[str], set[str]]:
    """(every key some version of ``dataset`` needs: manifests, shard lists, shards;
    the run ids that committed those versions)."""
    keys: set[str] = set()
    runs: set[str] = set()
    for version in vs.versions(dataset):
        manifest = vs.manifest(f"{dataset}@{version}")
        runs.add(manifest.run_id)
        keys.add(manifest_key(dataset, version))
        for listref in manifest.shard_lists:
            keys.add(listref.key)
            keys.update(vs.shard_list(listref, check=False).column("key").to_pylist())
    return keys, runs


def _claim_holder(store: ObjectStore, key: str) -> str | None:
    try:
        return json.loads(store.get_bytes(key)).get("run_id")
    except (ObjectNotFoundError, ValueError):
        return None


def _run_dataset(store: ObjectStore, run: str) -> str | None:
    for key in (run_info_key(run), f"runs/{run}/stats.json"):
        try:
            return json.loads(store.get_bytes(key)).get("dataset")
        except (ObjectNotFoundError, ValueError):
            continue
    return None


class _Sweep:
    """One gc pass over some datasets; see the module docstring for the order."""

    def __init__(self, vs: VersionStore, datasets: list[str], grace: timedelta, now: datetime) -> None:
        self.vs, self.store, self.datasets = vs, vs.store, datasets
        self.cutoff = now - grace
        self.report = GcReport()

    def run(self, all_datasets: bool) -> GcReport:
        candidates = {ds: [o for p in gc_prefixes(ds) for o in self.store.list(p)] for ds in self.datasets}
        run_objects: dict[str, list[ObjectInfo]] = defaultdict(list)
        for obj in self.store.list("runs/"):
            run_objects[obj.key.split("/")[1]].append(obj)
        live = {ds: live_runs(self.store, ds) for ds in self.datasets}
        refs = {ds: referenced_keys(self.vs, ds) for ds in self.datasets}
        for ds in self.datasets:
            keep, committed = refs[ds]
            for obj in candidates[ds]:
                self._judge(obj, self._needed(ds, obj, keep, committed, live[ds]))
        all_live = set().union(*live.values()) if live else set()
        all_committed = set().union(*(r for _, r in refs.values())) if refs else set()
        for run, objs in sorted(run_objects.items()):
            owner = _run_dataset(self.store, run)
            if owner not in self.datasets and not (all_datasets and owner is None):
                continue  # another dataset's run, not asked about
            needed = "live" if run in all_live else ("keep" if run in all_committed else None)
            for obj in objs:
                self._judge(obj, needed)
        self._temp_files()
        return self.report

    def _needed(self, ds: str, obj: ObjectInfo, keep: set[str], committed: set[str],
                live: set[str]) -> str | None:
        """'keep' (referenced or a committed run's index), 'live' (a live run's), or None."""
        if obj.key in keep:
            return "keep"
        if obj.key.startswith(f"{leases_prefix(ds)}/inputs/") and obj.key.endswith(".json"):
            holder = _claim_holder(self.store, obj.key)
            return "live" if holder and lease_state(self.store, ds, holder).live else None
        run = run_id_of(obj.key)
        if run is None and obj.key.startswith(f"{dataset_prefix(ds)}/shards/"):
            run = obj.key.split("/")[4] if obj.key.count("/") >= 5 else None
        if run is None and obj.key.startswith(f"{index_prefix(ds)}/runs/"):
            run = obj.key.split("/")[3]
        if run in live:
            return "live"
        if run in committed and obj.key.startswith(f"{index_prefix(ds)}/runs/"):
            listing_key = f"{index_prefix(ds)}/runs/{run}/shards.json"
            return "keep" if obj.key == listing_key or self._listed(listing_key, obj.key) else None
        return None

    def _listed(self, listing_key: str, key: str) -> bool:
        cache = self.__dict__.setdefault("_listings", {})
        if listing_key not in cache:
            try:
                cache[listing_key] = {s["key"] for s in json.loads(self.store.get_bytes(listing_key))["shards"]}
            except (ObjectNotFoundError, ValueError, KeyError):
                cache[listing_key] = set()
        return key in cache[listing_key]

    def _judge(self, obj: ObjectInfo, needed: str | None) -> None:
        if needed == "keep":
            return
        if needed == "live":
            self.report.live.append(obj)
        elif obj.modified > self.cutoff:
            self.report.too_recent.append(obj)
        else:
            self.report.unreferenced.append(obj)

    def _temp_files(self) -> None:
        stale = getattr(self.store, "stale_temp_files", None)
        if stale is None:
            return
        for path in stale(self.cutoff):
            st = path.stat()
            key = path.relative_to(self.store.root).as_posix()  # type: ignore[attr-defined]
            self.report.unreferenced.append(
                ObjectInfo(key, st.st_size, datetime.fromtimestamp(st.st_mtime, timezone.utc)))


def collect_garbage(vs: VersionStore, datasets: list[str] | None = None, *,
                    grace: timedelta = timedelta(hours=24), dry_run: bool = True,
                    now: datetime | None = None) -> GcReport:
    """Find (and unless ``dry_run``, delete) what no version or live run needs, under every
    prefix Kho writes; ``datasets`` limits the sweep (runs of other datasets are left)."""
    now = now or datetime.now(timezone.utc)
    names = datasets or vs.datasets()
    report = _Sweep(vs, names, grace, now).run(all_datasets=not datasets)
    report.dry_run = dry_run
    if not dry_run:
        for obj in report.unreferenced:
            _delete(vs.store, obj.key)
            report.deleted += 1
    return report


def _delete(store: ObjectStore, key: str) -> None:
    """Delete an object, or a local temporary file (which the store API does not name)."""
    if key.rsplit("/", 1)[-1].startswith(".kho-tmp-"):
        (store.root / key).unlink(missing_ok=True)  # type: ignore[attr-defined]
    else:
        store.delete(key)
