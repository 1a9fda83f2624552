"""gc by run folders and a checkpoint (storage/gc.py): what it finds, and what it does not LIST.

Every test wraps the store (a local folder, and a real S3 server) in bench/scale_history's
CountingStore and asserts on the prefixes gc listed recursively, not on time.
"""

from __future__ import annotations

import json
import socket
from datetime import timedelta

import pyarrow as pa
import pytest

from bench.scale_history import CountingStore, dead_pid, run_id
from storage.base import ObjectStore
from storage.dedup_index import shard_key
from storage.gc import collect_garbage
from storage.layout import (gc_checkpoint_key, index_run_list_key, run_info_key, run_lease_key,
                            shardlist_key, shardlist_owner)
from storage.shards import ParquetShardWriter, ShardInfo, json_bytes
from storage.verify import verify_version
from storage.versions import CommitConflictError, VersionStore, shard_prefix

SCHEMA = pa.schema([pa.field("id", pa.string()), pa.field("n", pa.int64())])
DS = "news"
SHARDS = f"datasets/{DS}/shards/"


def _shards(store: ObjectStore, run: str, n: int) -> list[ShardInfo]:
    w = ParquetShardWriter(store, shard_prefix(DS, "text", run), SCHEMA, modality="text",
                           target_bytes=600, row_group_rows=20)
    w.write_rows([{"id": f"{run}-{i}", "n": i} for i in range(n)])
    return w.close()


def _started(store: ObjectStore, run: str) -> None:
    store.put_bytes(run_info_key(run), json.dumps({"run_id": run, "dataset": DS}).encode())


def _crashed_run(store: ObjectStore, run: str) -> list[str]:
    """What a run SIGKILLed before its commit point leaves: run.json, shards, a shard list,
    an index shard and its list, a lease naming a process that is gone. Returns the keys."""
    _started(store, run)
    shards = _shards(store, run, 60)
    index = shard_key(DS, run, 0)
    store.put_bytes(index, b"index shard")
    store.put_bytes(index_run_list_key(DS, run), json_bytes({"shards": [{"key": index}]}))
    lst = shardlist_key(DS, run, 0, "-v9")
    store.put_bytes(lst, b"a shard list")
    store.put_bytes(run_lease_key(DS, run), json.dumps({
        "run_id": run, "dataset": DS, "state": "running", "host": socket.gethostname(),
        "pid": dead_pid(), "proc_start": "1"}).encode())
    return [s.key for s in shards] + [index, index_run_list_key(DS, run), lst,
                                      run_info_key(run), run_lease_key(DS, run)]


def _committed_run(vs: VersionStore, run: str, n: int = 40):
    _started(vs.store, run)
    return vs.commit(DS, _shards(vs.store, run, n), code_version="t", run_id=run)


def _recursive_under(store: CountingStore, prefix: str) -> list[str]:
    return [p for p in store.listed_prefixes if p.startswith(prefix)]


def test_a_crashed_runs_objects_are_removed_listing_run_folders_never_the_shards_folder(store: ObjectStore) -> None:
    counting = CountingStore(store)
    vs = VersionStore(counting)
    committed = [_committed_run(vs, run_id(i)) for i in range(3)]
    crashed = run_id(10)
    left = _crashed_run(counting, crashed)
    counting.reset()
    report = collect_garbage(vs, grace=timedelta(0), dry_run=False)
    assert sorted(o.key for o in report.unreferenced) == sorted(left)
    assert not any(counting.exists(k) for k in left)
    assert all(verify_version(vs, m).ok for m in committed)
    # no LIST of the whole shards folder or of a modality: only of single run folders
    under_shards = _recursive_under(counting, SHARDS)
    assert under_shards and SHARDS not in under_shards and f"{SHARDS}text/" not in under_shards
    assert all(p.count("/") == 5 and p.endswith("/") for p in under_shards), under_shards
    assert not [p for p in counting.listed_prefixes if p in ("", "runs/", "runs", "datasets/")]


def test_swept_runs_are_not_listed_again_and_only_new_runs_are(store: ObjectStore) -> None:
    counting = CountingStore(store)
    vs = VersionStore(counting)
    old = [run_id(i) for i in range(3)]
    for run in old:
        _committed_run(vs, run)
    _crashed_run(counting, run_id(5))
    collect_garbage(vs, grace=timedelta(0), dry_run=False)
    assert counting.exists(gc_checkpoint_key(DS))

    counting.reset()
    again = collect_garbage(vs, grace=timedelta(0), dry_run=False)
    assert again.unreferenced == [] and again.runs_examined == 0 and again.runs_skipped >= 3
    assert _recursive_under(counting, SHARDS) == []
    assert not [p for p in counting.listed_prefixes if p.startswith("runs/")]
    reads_when_nothing_changed = counting.counts["objects_read"]

    new, crashed = run_id(20), run_id(21)
    _committed_run(vs, new)
    left = _crashed_run(counting, crashed)
    counting.reset()
    third = collect_garbage(vs, grace=timedelta(0), dry_run=False)
    assert sorted(o.key for o in third.unreferenced) == sorted(left)
    listed_runs = {p.split("/")[4] for p in _recursive_under(counting, SHARDS)}
    assert listed_runs == {new, crashed}
    assert third.runs_examined == 2
    # the mark read the new manifest and its new list, not the three older ones again
    assert counting.counts["objects_read"] > reads_when_nothing_changed
    assert not any(p.startswith(f"runs/{r}") for r in old for p in counting.listed_prefixes)


def test_a_run_younger_than_the_grace_period_is_looked_at_again_until_it_is_swept(store: ObjectStore) -> None:
    vs = VersionStore(store)
    _committed_run(vs, run_id(0))
    left = _crashed_run(store, run_id(1))
    recent = collect_garbage(vs, grace=timedelta(hours=1), dry_run=False)
    assert recent.deleted == 0 and sorted(o.key for o in recent.too_recent) == sorted(left)
    done = collect_garbage(vs, grace=timedelta(0), dry_run=False)
    assert done.deleted == len(left)


def test_a_committed_runs_list_from_a_lost_commit_race_is_removed_and_its_shards_kept(store: ObjectStore) -> None:
    vs = VersionStore(store)
    winner, loser = run_id(0), run_id(1)
    _committed_run(vs, winner)
    _started(store, loser)
    shards = _shards(store, loser, 30)
    with pytest.raises(CommitConflictError):
        vs.try_commit(DS, shards, parent=None, code_version="t", run_id=loser)  # planned on no version
    m = vs.commit(DS, shards, code_version="t", run_id=loser)
    report = collect_garbage(vs, grace=timedelta(0), dry_run=False)
    assert [o.key for o in report.unreferenced] == [shardlist_key(DS, loser, 0, "-v1")]
    assert shardlist_owner(report.unreferenced[0].key) == loser
    assert verify_version(vs, m).ok


def test_a_live_runs_objects_are_kept_and_it_is_looked_at_again_after_it_commits(store: ObjectStore) -> None:
    from storage.leases import RunLease

    vs = VersionStore(store)
    run = run_id(3)
    lease = RunLease(store, DS, run)
    lease.acquire()
    try:
        _started(store, run)
        shards = _shards(store, run, 20)
        report = collect_garbage(vs, grace=timedelta(0), dry_run=False)
        assert report.deleted == 0 and {s.key for s in shards} <= {o.key for o in report.live}
        m = vs.commit(DS, shards, code_version="t", run_id=run)
    finally:
        lease.release()
    after = collect_garbage(vs, grace=timedelta(0), dry_run=False)
    assert after.unreferenced == [] and after.runs_examined == 1
    assert verify_version(vs, m).ok


def test_a_run_that_lost_its_run_json_is_still_found_by_its_shard_folder(store: ObjectStore) -> None:
    vs = VersionStore(store)
    _committed_run(vs, run_id(0))
    lost = run_id(1)
    left = [s.key for s in _shards(store, lost, 25)]  # no run.json, no lease
    report = collect_garbage(vs, grace=timedelta(0), dry_run=False)
    assert sorted(o.key for o in report.unreferenced) == sorted(left)


def test_objects_no_run_folder_leads_to_are_found_only_by_the_full_audit(store: ObjectStore) -> None:
    """A shard list whose run left no run.json, no shard folder and no index folder, and a
    stray key outside the per-run layout: gc by runs cannot see them; ``full`` does."""
    vs = VersionStore(store)
    m = _committed_run(vs, run_id(0))
    orphan_list = shardlist_key(DS, run_id(7), 0, "-v4")
    stray = f"{SHARDS}text/stray.parquet"
    store.put_bytes(orphan_list, b"list")
    store.put_bytes(stray, b"stray")
    by_runs = collect_garbage(vs, grace=timedelta(0), dry_run=False)
    assert by_runs.unreferenced == [] and store.exists(orphan_list) and store.exists(stray)
    audit = collect_garbage(vs, grace=timedelta(0), dry_run=False, full=True)
    assert sorted(o.key for o in audit.unreferenced) == sorted([orphan_list, stray])
    assert not store.exists(orphan_list) and not store.exists(stray)
    assert verify_version(vs, m).ok


def test_a_dry_run_deletes_nothing_and_writes_no_checkpoint(store: ObjectStore) -> None:
    vs = VersionStore(store)
    _committed_run(vs, run_id(0))
    left = _crashed_run(store, run_id(1))
    dry = collect_garbage(vs, grace=timedelta(0))
    assert sorted(o.key for o in dry.unreferenced) == sorted(left)
    assert all(store.exists(k) for k in left) and not store.exists(gc_checkpoint_key(DS))


def test_shard_list_owner_is_the_run_that_wrote_it() -> None:
    run = run_id(0)
    assert shardlist_owner(shardlist_key(DS, run, 3, "-v12")) == run
    assert shardlist_owner(shardlist_key(DS, run, 0)) == run
    assert shardlist_owner(shardlist_key(DS, "manual", 0, "-v2")) == "manual"
    assert shardlist_owner(f"datasets/{DS}/shardlists/notes.txt") is None


def test_kho_gc_full_finds_the_stray_that_the_default_gc_leaves(tmp_path) -> None:
    from typer.testing import CliRunner

    from pipelines.cli import app
    from storage.local import LocalStore

    store = LocalStore(tmp_path / "store")
    _committed_run(VersionStore(store), run_id(0))
    stray = f"{SHARDS}text/stray.parquet"
    store.put_bytes(stray, b"stray")
    runner = CliRunner()
    default = runner.invoke(app, ["gc", "--store", str(tmp_path / "store"), "--grace-hours", "0", "--delete"])
    assert default.exit_code == 0 and "0 unreferenced" in default.output, default.output
    full = runner.invoke(app, ["gc", "--store", str(tmp_path / "store"), "--grace-hours", "0", "--delete", "--full"])
    assert full.exit_code == 0 and f"deleted {stray}" in full.output, full.output
    assert not store.exists(stray)
