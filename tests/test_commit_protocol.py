"""The commit protocol's parts on both backends (a local folder and a real S3 server):
conditional create, racing commits, parent = highest version, leases and claims, gc."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pyarrow as pa
import pytest

from storage.base import ObjectStore
from storage.gc import collect_garbage
from storage.layout import input_claim_key, run_lease_key
from storage.leases import RunLease, lease_state
from storage.shards import ParquetShardWriter, ShardInfo
from storage.verify import verify_version
from storage.versions import CommitConflictError, VersionStore, shard_prefix

SCHEMA = pa.schema([pa.field("id", pa.string()), pa.field("n", pa.int64())])
RUN_A, RUN_B = "20261202T000000Z-aaaaaaaa", "20261202T000000Z-bbbbbbbb"


def _shards(store: ObjectStore, run: str, n: int) -> list[ShardInfo]:
    w = ParquetShardWriter(store, shard_prefix("news", "text", run), SCHEMA, modality="text",
                           target_bytes=1 << 20, row_group_rows=50)
    w.write_rows([{"id": f"{run}-{i}", "n": i} for i in range(n)])
    return w.close()


def test_of_many_racing_conditional_creates_exactly_one_wins(store: ObjectStore) -> None:
    results: dict[int, bool] = {}
    barrier = threading.Barrier(8)

    def create(i: int) -> None:
        barrier.wait()
        results[i] = store.put_if_absent("race/key", f"writer-{i}".encode())

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for i, won in results.items() if won]
    assert len(winners) == 1
    assert store.get_bytes("race/key") == f"writer-{winners[0]}".encode()


def test_the_loser_of_a_commit_race_overwrites_nothing_and_retries_on_top(store: ObjectStore) -> None:
    vs = VersionStore(store)
    a, b = _shards(store, RUN_A, 30), _shards(store, RUN_B, 20)
    vs.try_commit("news", a, parent=None, code_version="t", run_id=RUN_A)
    with pytest.raises(CommitConflictError):
        vs.try_commit("news", b, parent=None, code_version="t", run_id=RUN_B)  # planned on no version
    assert verify_version(vs, vs.manifest("news@v1")).ok  # the winner's lists were not touched
    m = vs.commit("news", b, code_version="t", run_id=RUN_B)
    assert (m.version, m.parent, m.total_rows) == ("v2", "v1", 50)
    assert verify_version(vs, m).ok


def test_the_parent_is_the_highest_version_even_when_latest_was_left_behind(store: ObjectStore) -> None:
    vs = VersionStore(store)
    vs.commit("news", _shards(store, RUN_A, 10), code_version="t", run_id=RUN_A)
    vs.try_commit("news", _shards(store, RUN_B, 5), parent=vs.head("news"), code_version="t",
                  run_id=RUN_B, refs=())  # as if killed before moving latest
    assert vs.resolve("news@latest") == "v1"
    m = vs.commit("news", _shards(store, "20261202T000000Z-cccccccc", 1), code_version="t", run_id="c")
    assert m.parent == "v2" and m.total_rows == 16
    assert vs.repair_refs("news") is None and vs.resolve("news@latest") == "v3"


def test_a_dead_runs_claim_is_taken_over_by_exactly_one_of_racing_runs(store: ObjectStore) -> None:
    # S3's Last-Modified has one-second resolution: keep the TTL well above it
    dead = RunLease(store, "news", RUN_A, ttl_s=3.0)
    dead.acquire()
    assert dead.claim([("unit1", "file:///x")]) == {}
    dead._stop.set()  # stops heartbeating: dead once its lease is older than the TTL
    racers = [RunLease(store, "news", f"20261202T000001Z-0000000{i}", ttl_s=3.0) for i in range(4)]
    for r in racers:
        r.acquire()
    assert racers[0].claim([("unit1", "file:///x")]) == {"unit1": RUN_A}  # still live
    import time

    time.sleep(4.5)
    outcomes: dict[int, dict] = {}
    barrier = threading.Barrier(len(racers))

    def take(i: int) -> None:
        barrier.wait()
        outcomes[i] = racers[i].claim([("unit1", "file:///x")])

    threads = [threading.Thread(target=take, args=(i,)) for i in range(len(racers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    holders = [i for i, held in outcomes.items() if not held]
    assert len(holders) == 1
    owner = json.loads(store.get_bytes(input_claim_key("news", "unit1")))["run_id"]
    assert owner == racers[holders[0]].run_id
    for r in racers:
        r.release()
    assert not store.exists(input_claim_key("news", "unit1"))
    assert not lease_state(store, "news", racers[0].run_id).live


def test_gc_with_no_grace_keeps_a_live_runs_objects_and_removes_a_dead_ones(store: ObjectStore) -> None:
    vs = VersionStore(store)
    vs.commit("news", _shards(store, RUN_A, 10), code_version="t", run_id=RUN_A)
    live = RunLease(store, "news", RUN_B)
    live.acquire()
    live_shards = _shards(store, RUN_B, 10)
    dead_run = "20261202T000000Z-dddddddd"
    dead_shards = _shards(store, dead_run, 10)
    store.put_bytes(f"runs/{dead_run}/run.json", json.dumps({"dataset": "news"}).encode())
    store.put_bytes(f"runs/{RUN_B}/run.json", json.dumps({"dataset": "news"}).encode())
    report = collect_garbage(vs, grace=timedelta(0), dry_run=False)
    deleted = {o.key for o in report.unreferenced}
    assert {s.key for s in dead_shards} | {f"runs/{dead_run}/run.json"} <= deleted
    assert not deleted & ({s.key for s in live_shards} | {run_lease_key("news", RUN_B)})
    assert all(store.exists(s.key) for s in live_shards)
    m = vs.commit("news", live_shards, code_version="t", run_id=RUN_B)
    live.release()
    assert verify_version(vs, m).ok and m.total_rows == 20
