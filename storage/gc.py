"""Garbage collection: delete what no version references and no live run will reference.

Crashed, killed or failed runs leave objects behind under every prefix Kho writes
(storage/layout.py): shards and shard lists, run folders (``runs/<run>/``), dedup index shards
of runs that never committed, leases and claims of dead runs, the legacy shared index
manifest, and temporary files of interrupted local writes (in ``ledger/`` and elsewhere).
They are invisible to readers (only manifests make data visible); gc removes them.

Two modes (docs/scale.md has the costs):

* **By runs** (the default). Before its commit point a run writes only keys carrying its run
  id, under per-run folders: ``datasets/<ds>/shards/<modality>/<run>/``,
  ``datasets/<ds>/shardlists/<run>-*``, ``index/<ds>/runs/<run>/``, ``runs/<run>/``, and its
  lease and claims under ``leases/<ds>/``. gc finds the runs from one-level listings of
  ``runs/``, of each ``shards/<modality>/`` and of ``index/<ds>/runs/`` (a name per run, never a
  key per shard), skips the runs its checkpoint ``gc/<ds>/checkpoint.json`` records as swept,
  and lists only the folders of the others. The mark reads only manifests and shard lists it
  has not read before (both are immutable, and no version is ever deleted): the checkpoint
  keeps, per distinct shard list, which runs' shards it names, so a run that never committed
  and that no list names is garbage without reading a list, and a committed run's leftovers
  (lists of a lost commit race, shards the commit re-check rewrote) are checked against the
  few lists that name that run. A gc costs O(runs since the last gc, their objects, new
  versions' manifests and lists), not O(bucket).
* **Full** (``full=True``, ``kho gc --full``): an audit that lists every gc prefix and all of
  ``runs/`` and reads every distinct shard list once, so it also finds objects that no run
  folder leads to: a stray key outside the per-run layout, or a shard list whose run left
  no folder anywhere (no ``runs/<run>/``, no shard folder, no index folder). O(bucket).

Safety, whatever the grace period (``--grace-hours 0`` included), in both modes:
1. gc lists the candidates first, then reads the live run leases, then the manifests. A run
   creates its lease before it writes anything and releases it only after its commit, so an
   object gc listed belongs to a run that is still live when gc reads the leases (kept), or
   has committed by the time gc reads the manifests (referenced, kept), or is garbage.
2. Objects that carry a live run's id are never deleted; nor are a committed run's folder and
   index shards.
3. As a second line of defence, a run checks that every shard it names exists just before its
   commit point, so a run that looked dead (no heartbeat for the lease TTL) but was not fails
   cleanly instead of committing a dangling version.
4. The checkpoint only ever records facts that stay true (a manifest's runs and lists, a
   list's runs, a run swept after its objects were deleted); two gcs writing it at once lose
   at most work, which the next gc redoes. "Swept" only makes gc skip a run, never delete.
   A run that looked dead, was swept, and then woke up and wrote more leaves those objects
   to ``--full`` (a leak, never a loss: its commit fails on its deleted shards). If deleting
   versions is ever added, the runs named by the lists a deleted version introduced must be
   taken out of ``swept`` (and its lists out of the checkpoint) by that same operation.
"""

from __future__ import annotations

import io
import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pyarrow.parquet as pq

from schemas.manifest import ShardListRef
from storage.base import ObjectInfo, ObjectStore
from storage.errors import ObjectNotFoundError
from storage.layout import (dataset_prefix, gc_checkpoint_key, gc_prefixes, index_prefix,
                            index_run_list_key, index_run_prefix, leases_prefix, manifest_key,
                            run_id_of, run_info_key, run_prefix, shardlist_owner)
from storage.leases import lease_state, live_runs
from storage.shards import json_bytes
from storage.versions import VersionStore

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "kho.gc-checkpoint/1"


@dataclass
class GcReport:
    """What gc found (and, unless a dry run, deleted)."""

    unreferenced: list[ObjectInfo] = field(default_factory=list)
    too_recent: list[ObjectInfo] = field(default_factory=list)
    live: list[ObjectInfo] = field(default_factory=list)  # kept: a live run holds them
    deleted: int = 0
    dry_run: bool = True
    full: bool = False
    runs_examined: int = 0  # runs whose folders this gc listed (by-runs mode)
    runs_skipped: int = 0  # runs the checkpoint recorded as swept (not listed again)

    @property
    def reclaimable_bytes(self) -> int:
        return sum(o.size for o in self.unreferenced)


def _list_keys(vs: VersionStore, listref: ShardListRef) -> list[str]:
    """The shard keys one shard list names (its ``key`` column only)."""
    data = vs.store.get_bytes(listref.key)
    return pq.read_table(io.BytesIO(data), columns=["key"]).column("key").to_pylist()


def referenced_keys(vs: VersionStore, dataset: str) -> tuple[set[str], set[str]]:
    """(every key some version of ``dataset`` needs: manifests, shard lists, shards;
    the run ids that committed those versions). Each distinct shard list is read once, however
    many versions share it. O(every shard of every version): the full audit's mark."""
    keys: set[str] = set()
    runs: set[str] = set()
    for version in vs.versions(dataset):
        manifest = vs.manifest(f"{dataset}@{version}")
        runs.add(manifest.run_id)
        keys.add(manifest_key(dataset, version))
        for listref in manifest.shard_lists:
            if listref.key not in keys:
                keys.add(listref.key)
                keys.update(_list_keys(vs, listref))
    return keys, runs


def shard_run(dataset: str, key: str) -> str | None:
    """The run folder a shard key lies in (``datasets/<ds>/shards/<modality>/<run>/...``)."""
    parts = key.split("/")
    if key.startswith(f"{dataset_prefix(dataset)}/shards/") and len(parts) >= 6:
        return parts[4]
    return None


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


def _lease_needed(store: ObjectStore, ds: str, obj: ObjectInfo, live: set[str]) -> str | None:
    """'live' for a live run's lease, claim or token under ``leases/<ds>/``, else None."""
    if obj.key.startswith(f"{leases_prefix(ds)}/inputs/") and obj.key.endswith(".json"):
        holder = _claim_holder(store, obj.key)
        return "live" if holder and lease_state(store, ds, holder).live else None
    return "live" if run_id_of(obj.key) in live else None


class _Judge:
    """Sorts objects into the report: kept, live, younger than the grace period, or garbage."""

    def __init__(self, cutoff: datetime) -> None:
        self.cutoff = cutoff
        self.report = GcReport()

    def __call__(self, obj: ObjectInfo, needed: str | None) -> bool:
        """Record ``obj``; return True when it is either needed or will be deleted now."""
        if needed == "keep":
            return True
        if needed == "live":
            self.report.live.append(obj)
            return False
        if obj.modified > self.cutoff:
            self.report.too_recent.append(obj)
            return False
        self.report.unreferenced.append(obj)
        return True

    def temp_files(self, store: ObjectStore) -> None:
        """Local ``.kho-tmp-*`` files of interrupted writes older than the grace period."""
        stale = getattr(store, "stale_temp_files", None)
        if stale is None:
            return
        for path in stale(self.cutoff):
            st = path.stat()
            key = path.relative_to(store.root).as_posix()  # type: ignore[attr-defined]
            self.report.unreferenced.append(
                ObjectInfo(key, st.st_size, datetime.fromtimestamp(st.st_mtime, timezone.utc)))


class _FullSweep:
    """The audit: every gc prefix and all of ``runs/`` listed; see the module docstring."""

    def __init__(self, vs: VersionStore, datasets: list[str], grace: timedelta, now: datetime) -> None:
        self.vs, self.store, self.datasets = vs, vs.store, datasets
        self.judge = _Judge(now - grace)
        self._listings: dict[str, set[str]] = {}

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
                self.judge(obj, self._needed(ds, obj, keep, committed, live[ds]))
        all_live = set().union(*live.values()) if live else set()
        all_committed = set().union(*(r for _, r in refs.values())) if refs else set()
        for run, objs in sorted(run_objects.items()):
            owner = _run_dataset(self.store, run)
            if owner not in self.datasets and not (all_datasets and owner is None):
                continue  # another dataset's run, not asked about
            needed = "live" if run in all_live else ("keep" if run in all_committed else None)
            for obj in objs:
                self.judge(obj, needed)
        self.judge.temp_files(self.store)
        self.judge.report.full = True
        return self.judge.report

    def _needed(self, ds: str, obj: ObjectInfo, keep: set[str], committed: set[str],
                live: set[str]) -> str | None:
        """'keep' (referenced or a committed run's index), 'live' (a live run's), or None."""
        if obj.key in keep:
            return "keep"
        if obj.key.startswith(f"{leases_prefix(ds)}/"):
            return _lease_needed(self.store, ds, obj, live)
        run = run_id_of(obj.key) or shard_run(ds, obj.key)
        if run is None and obj.key.startswith(f"{index_prefix(ds)}/runs/"):
            run = obj.key.split("/")[3]
        if run in live:
            return "live"
        if run in committed and obj.key.startswith(f"{index_prefix(ds)}/runs/"):
            return "keep" if _index_kept(self.store, ds, run, obj.key, self._listings) else None
        return None


def _index_kept(store: ObjectStore, ds: str, run: str, key: str, cache: dict[str, set[str]]) -> bool:
    """Whether ``key`` is a committed run's index list or one of the index shards it names."""
    listing_key = index_run_list_key(ds, run)
    if key == listing_key:
        return True
    if listing_key not in cache:
        try:
            cache[listing_key] = {s["key"] for s in json.loads(store.get_bytes(listing_key))["shards"]}
        except (ObjectNotFoundError, ValueError, KeyError):
            cache[listing_key] = set()
    return key in cache[listing_key]


# -- the checkpoint --------------------------------------------------------------------------
@dataclass
class GcCheckpoint:
    """What gc has learnt about one dataset, true forever (see the module docstring, point 4).

    ``lists``: every shard list read so far -> the runs whose shard folders it names;
    ``versions``: manifests read; ``committed``: their runs; ``swept``: runs whose folders need
    no further look (committed and clean, or uncommitted and deleted); ``elsewhere``: runs in
    ``runs/`` that belong to another dataset."""

    versions: set[str] = field(default_factory=set)
    lists: dict[str, list[str]] = field(default_factory=dict)
    committed: set[str] = field(default_factory=set)
    swept: set[str] = field(default_factory=set)
    elsewhere: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, store: ObjectStore, dataset: str) -> GcCheckpoint:
        """The dataset's checkpoint; an empty one if absent or unreadable (gc then reads all)."""
        try:
            data = json.loads(store.get_bytes(gc_checkpoint_key(dataset)))
        except ObjectNotFoundError:
            return cls()
        except ValueError:
            log.warning("gc checkpoint of %s is unreadable; reading every version again", dataset)
            return cls()
        if data.get("format") != CHECKPOINT_FORMAT:
            log.warning("gc checkpoint of %s has format %r, not %s; reading every version again",
                        dataset, data.get("format"), CHECKPOINT_FORMAT)
            return cls()
        return cls(set(data["versions"]), dict(data["lists"]), set(data["committed"]),
                   set(data["swept"]), set(data.get("elsewhere", ())))

    def save(self, store: ObjectStore, dataset: str) -> None:
        """Write the checkpoint (one small object; a lost concurrent update only costs work)."""
        store.put_bytes(gc_checkpoint_key(dataset), json_bytes({
            "format": CHECKPOINT_FORMAT, "dataset": dataset, "versions": sorted(self.versions),
            "lists": self.lists, "committed": sorted(self.committed), "swept": sorted(self.swept),
            "elsewhere": sorted(self.elsewhere)}), "application/json")

    def lists_naming(self, run: str) -> list[str]:
        """The shard lists that name a shard in ``run``'s shard folder."""
        if getattr(self, "_by_run_size", -1) != len(self.lists):
            by_run: dict[str, list[str]] = defaultdict(list)
            for key, runs in self.lists.items():
                for r in runs:
                    by_run[r].append(key)
            self._by_run, self._by_run_size = by_run, len(self.lists)
        return self._by_run.get(run, [])


class _RunSweep:
    """The default gc: by run folders and a checkpoint; see the module docstring."""

    def __init__(self, vs: VersionStore, datasets: list[str], grace: timedelta, now: datetime) -> None:
        self.vs, self.store, self.datasets = vs, vs.store, datasets
        self.judge = _Judge(now - grace)
        self.checkpoints = {ds: GcCheckpoint.load(self.store, ds) for ds in datasets}
        self.clean: dict[str, set[str]] = {ds: set() for ds in datasets}  # swept once deleted
        self._listings: dict[str, set[str]] = {}
        self._list_cache: dict[str, set[str]] = {}
        self._skipped: set[str] = set()

    # 1. candidates ----------------------------------------------------------------------
    def _run_folders(self, all_datasets: bool, modalities: dict[str, list[str]]
                     ) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
        """(per dataset: runs with a ``runs/<run>/`` folder to look at; runs with a shard or
        index folder to look at): one-level listings only, one name per run."""
        in_runs: dict[str, set[str]] = {ds: set() for ds in self.datasets}
        for run in self.store.list_children("runs"):
            todo = [ds for ds in self.datasets if run not in self.checkpoints[ds].swept
                    and run not in self.checkpoints[ds].elsewhere]
            if not todo:
                self._skipped.add(run)
                continue
            owner = _run_dataset(self.store, run)
            for ds in todo:
                if owner == ds or (owner is None and all_datasets):
                    in_runs[ds].add(run)
                elif owner is not None:
                    self.checkpoints[ds].elsewhere.add(run)
        found: dict[str, set[str]] = {}
        for ds in self.datasets:
            cp = self.checkpoints[ds]
            names: set[str] = set()
            shards = f"{dataset_prefix(ds)}/shards"
            for modality in modalities[ds]:
                names.update(self.store.list_children(f"{shards}/{modality}"))
            names.update(self.store.list_children(f"{index_prefix(ds)}/runs"))
            skipped = {r for r in names if r in cp.swept}
            self._skipped |= skipped
            found[ds] = names - skipped
        self.judge.report.runs_skipped = len(self._skipped)
        return in_runs, found

    def _run_objects(self, ds: str, run: str, modalities: list[str]) -> list[ObjectInfo]:
        """Every object under one run's per-run folders of ``ds`` (not ``runs/<run>/``)."""
        shards = f"{dataset_prefix(ds)}/shards"
        objs = [o for m in modalities for o in self.store.list(f"{shards}/{m}/{run}/")]
        objs += [o for o in self.store.list(f"{dataset_prefix(ds)}/shardlists/{run}")
                 if shardlist_owner(o.key) == run]
        objs += list(self.store.list(f"{index_run_prefix(ds, run)}/"))
        return objs

    # 3. the mark --------------------------------------------------------------------------
    def _mark(self, ds: str) -> None:
        """Read the manifests and shard lists the checkpoint has not seen yet."""
        cp = self.checkpoints[ds]
        for version in self.vs.versions(ds):
            if version in cp.versions:
                continue
            manifest = self.vs.manifest(f"{ds}@{version}")
            cp.committed.add(manifest.run_id)
            for listref in manifest.shard_lists:
                if listref.key not in cp.lists:
                    keys = _list_keys(self.vs, listref)
                    cp.lists[listref.key] = sorted({shard_run(ds, k) or "" for k in keys})
            cp.versions.add(version)

    def _listed_by_a_version(self, ds: str, run: str, key: str) -> bool:
        for list_key in self.checkpoints[ds].lists_naming(run):
            if list_key not in self._list_cache:
                self._list_cache[list_key] = set(_list_keys(self.vs, _bare_ref(list_key)))
            if key in self._list_cache[list_key]:
                return True
        return False

    def _needed(self, ds: str, run: str, obj: ObjectInfo, live: set[str]) -> str | None:
        cp = self.checkpoints[ds]
        if run in live:
            return "live"
        if obj.key.startswith(f"{dataset_prefix(ds)}/shardlists/"):
            return "keep" if obj.key in cp.lists else None
        if obj.key.startswith(f"{index_prefix(ds)}/runs/"):
            ok = run in cp.committed and _index_kept(self.store, ds, run, obj.key, self._listings)
            return "keep" if ok else None
        return "keep" if self._listed_by_a_version(ds, run, obj.key) else None

    # the pass -------------------------------------------------------------------------------
    def run(self, all_datasets: bool) -> GcReport:
        modalities = {ds: self.store.list_children(f"{dataset_prefix(ds)}/shards") for ds in self.datasets}
        in_runs, found = self._run_folders(all_datasets, modalities)
        objects = {ds: {run: self._run_objects(ds, run, modalities[ds])
                        for run in sorted(found[ds] | in_runs[ds])} for ds in self.datasets}
        folders = {run: list(self.store.list(f"{run_prefix(run)}/"))
                   for run in sorted(set().union(*in_runs.values()))}
        leases = {ds: list(self.store.list(f"{leases_prefix(ds)}/")) + _legacy_index(self.store, ds)
                  for ds in self.datasets}
        live = {ds: live_runs(self.store, ds) for ds in self.datasets}  # after every listing
        for ds in self.datasets:
            self._mark(ds)  # after the leases
        for ds in self.datasets:
            for obj in leases[ds]:
                self.judge(obj, _lease_needed(self.store, ds, obj, live[ds]))
        all_live = set().union(*live.values())
        all_committed = set().union(*(cp.committed for cp in self.checkpoints.values()))
        folder_ok = {}
        for run, objs in folders.items():
            needed = "live" if run in all_live else ("keep" if run in all_committed else None)
            folder_ok[run] = all([self.judge(obj, needed) for obj in objs])
        for ds in self.datasets:
            for run, objs in objects[ds].items():
                self.judge.report.runs_examined += 1
                ok = all([self.judge(obj, self._needed(ds, run, obj, live[ds])) for obj in objs])
                if ok and folder_ok.get(run, True) and run not in all_live:
                    self.clean[ds].add(run)
        self.judge.temp_files(self.store)
        return self.judge.report

    def finish(self) -> None:
        """After the deletions: record swept runs and what was read, per dataset."""
        for ds, cp in self.checkpoints.items():
            cp.swept |= self.clean[ds]
            cp.save(self.store, ds)


def _legacy_index(store: ObjectStore, ds: str) -> list[ObjectInfo]:
    """The shared index manifest that indexes written before per-run lists had (no run
    reads it any more), if it is still there: one point read instead of listing ``index/``."""
    try:
        return [store.stat(f"{index_prefix(ds)}/manifest.json")]
    except ObjectNotFoundError:
        return []


def _bare_ref(key: str) -> ShardListRef:
    """A ShardListRef for reading a list by key alone (no hash check: the mark only needs keys)."""
    return ShardListRef(key=key, sha256="", bytes=0, shards=0, rows=0, data_bytes=0, merkle_root="")


def collect_garbage(vs: VersionStore, datasets: list[str] | None = None, *,
                    grace: timedelta = timedelta(hours=24), dry_run: bool = True,
                    now: datetime | None = None, full: bool = False) -> GcReport:
    """Find (and unless ``dry_run``, delete) what no version or live run needs.

    By default gc works from run folders and its checkpoint, so its cost follows what changed
    since the last gc; ``full`` lists every prefix Kho writes (an audit that also finds strays
    no run folder leads to). ``datasets`` limits the sweep (runs of other datasets are left).
    A dry run deletes nothing and writes no checkpoint."""
    now = now or datetime.now(timezone.utc)
    names = datasets or vs.datasets()
    sweep: _FullSweep | _RunSweep = (_FullSweep if full else _RunSweep)(vs, names, grace, now)
    report = sweep.run(all_datasets=not datasets)
    report.dry_run = dry_run
    if not dry_run:
        for obj in report.unreferenced:
            _delete(vs.store, obj.key)
            report.deleted += 1
        if isinstance(sweep, _RunSweep):
            sweep.finish()
    return report


def _delete(store: ObjectStore, key: str) -> None:
    """Delete an object, or a local temporary file (which the store API does not name)."""
    if key.rsplit("/", 1)[-1].startswith(".kho-tmp-"):
        (store.root / key).unlink(missing_ok=True)  # type: ignore[attr-defined]
    else:
        store.delete(key)
