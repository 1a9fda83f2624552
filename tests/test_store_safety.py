"""Store safety: overlapping runs, forced commit races, SIGKILLs at named points, gc during a
run, and edited manifests. Nothing is lost, nothing is doubled, every version verifies.

Runs are real `kho ingest` processes. A crash is a SIGKILL the process sends itself at a named
fault point (storage/faults.py, KHO_CRASH_AT); a race is forced by pausing processes at the
same point (KHO_PAUSE_AT + a barrier folder) and releasing them together.
"""

from __future__ import annotations

import io
import json
import os
import uuid
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bench.common import corpus_parts, text_ingest_config
from storage.errors import IntegrityError
from storage.gc import collect_garbage
from storage.local import LocalStore
from storage.pull import pull_version
from storage.uri import open_store
from storage.verify import verify_version
from storage.versions import VersionStore

pytestmark = pytest.mark.slow
DATASET = "safe"
WAIT_S = 180  # upper bound for a run to reach a fault point (start-up, models); not a timing test


def _corpus(folder: Path, files: int, docs: int, seed: int) -> list[Path]:
    return corpus_parts(folder, docs=docs, files=files, seed=seed)


def _config(path: Path, inputs: list[Path]) -> Path:
    return text_ingest_config(path, DATASET, inputs)


def _start(cfg: Path, store: Path | str, **env: str) -> subprocess.Popen:
    full = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
    return subprocess.Popen([sys.executable, "-m", "pipelines.cli", "ingest", str(cfg), "--store", str(store)],
                            env=full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=600)
    return proc.returncode, out


def _ingest(cfg: Path, store: Path | str, **env: str) -> tuple[int, str]:
    return _finish(_start(cfg, store, **env))


def _wait_reached(pause_dir: Path, point: str, n: int, procs: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + WAIT_S
    while len(list(pause_dir.glob(f"{point}.*.reached"))) < n:
        for p in procs:
            if p.poll() is not None:
                raise AssertionError(f"a run ended before reaching {point}: {p.communicate()[0][-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{n} run(s) did not reach {point}")
        time.sleep(0.1)


def _release(pause_dir: Path, point: str) -> None:
    (pause_dir / f"{point}.go").write_text("go")


def _open(store: Path | str):
    return open_store(str(store)) if str(store).startswith("s3://") else LocalStore(store)


def _rows(store: Path | str, ref: str = "latest") -> list[tuple[str, str]]:
    """(id, content_hash) of every row of a version."""
    vs = VersionStore(_open(store))
    m = vs.manifest(f"{DATASET}@{ref}")
    rows = []
    for shard in vs.shards(m):
        t = pq.read_table(io.BytesIO(vs.store.get_bytes(shard.key)), columns=["id", "content_hash"])
        rows += list(zip(t.column("id").to_pylist(), t.column("content_hash").to_pylist()))
    return sorted(rows)


def _verify_all(store: Path | str) -> None:
    vs = VersionStore(_open(store))
    for v in vs.versions(DATASET):
        report = verify_version(vs, vs.manifest(f"{DATASET}@{v}"))
        assert report.ok, (v, report.problems)


def _no_row_twice(rows: list[tuple[str, str]]) -> None:
    ids = [r[0] for r in rows]
    hashes = [r[1] for r in rows]
    assert len(ids) == len(set(ids)), "an id is in the version twice"
    assert len(hashes) == len(set(hashes)), "the same text is in the version twice"


def _accounted_once(store: Path | str, inputs: int) -> None:
    """Nothing lost, nothing doubled: every input record is, exactly once, a row of the latest
    version or of a committed run's rejected / duplicates / quarantine table.

    (Which of two *near* duplicates is kept can depend on which run committed first, so runs
    that overlap in time are held to this invariant rather than to a clean run's exact rows.)"""
    vs = VersionStore(_open(store))
    ids = [i for i, _ in _rows(store)]
    for v in vs.versions(DATASET):
        run = vs.manifest(f"{DATASET}@{v}").run_id
        stats = json.loads(vs.store.get_bytes(f"runs/{run}/stats.json"))
        for name in ("rejected", "duplicates", "quarantine"):
            for key in stats["tables"].get(name, []):
                ids += pq.read_table(io.BytesIO(vs.store.get_bytes(key)), columns=["id"]).column("id").to_pylist()
    assert len(ids) == len(set(ids)), "a record is accounted for twice"
    assert len(ids) == inputs, f"{inputs - len(ids)} input records are missing from every table"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    base = tmp_path_factory.mktemp("corpus")
    return {"a": _corpus(base / "a", 3, 90, seed=11), "b": _corpus(base / "b", 3, 90, seed=12)}


@pytest.fixture(scope="module")
def clean_rows(corpus, tmp_path_factory) -> dict[str, list[tuple[str, str]]]:
    """What one uninterrupted run of each config publishes (the figures to converge to)."""
    out = {}
    for name, files in (("a", corpus["a"]), ("ab", corpus["a"] + corpus["b"])):
        tmp = tmp_path_factory.mktemp(f"clean-{name}")
        rc, log = _ingest(_config(tmp / "cfg.json", files), tmp / "store")
        assert rc == 0, log
        out[name] = _rows(tmp / "store")
    return out


def test_a_second_run_of_the_same_config_does_not_ingest_inputs_a_live_run_holds(
        corpus, clean_rows, tmp_path: Path) -> None:
    cfg, store, pause = _config(tmp_path / "cfg.json", corpus["a"]), tmp_path / "store", tmp_path / "pause"
    first = _start(cfg, store, KHO_PAUSE_AT="after_claim", KHO_PAUSE_DIR=str(pause))
    _wait_reached(pause, "after_claim", 1, [first])
    rc, out = _ingest(cfg, store)  # the scheduler started it twice
    assert rc == 2 and "being ingested by run" in out, out
    _release(pause, "after_claim")
    rc, out = _finish(first)
    assert rc == 0, out
    rows = _rows(store)
    _no_row_twice(rows)
    assert rows == clean_rows["a"]
    rc, out = _ingest(cfg, store)
    assert rc == 0 and "nothing new to ingest" in out
    _verify_all(store)


def test_two_commits_forced_to_race_for_one_version_both_land_and_verify(corpus, clean_rows, tmp_path: Path) -> None:
    store, pause = tmp_path / "store", tmp_path / "pause"
    runs = [_start(_config(tmp_path / f"{n}.json", corpus[n]), store, KHO_PAUSE_AT="before_commit_point",
                   KHO_PAUSE_DIR=str(pause)) for n in ("a", "b")]
    _wait_reached(pause, "before_commit_point", 2, runs)  # both about to create v1
    _release(pause, "before_commit_point")
    for r in runs:
        rc, out = _finish(r)
        assert rc == 0, out
    vs = VersionStore(LocalStore(store))
    assert vs.versions(DATASET) == ["v1", "v2"]
    assert vs.manifest(f"{DATASET}@v2").parent == "v1"
    _verify_all(store)
    _no_row_twice(_rows(store))  # the later commit re-checked dedup against the earlier one
    _accounted_once(store, 180)


def test_runs_with_overlapping_content_at_the_same_time_deduplicate_against_each_other(
        corpus, clean_rows, tmp_path: Path) -> None:
    """Both plan before either commits (forced), so neither sees the other in its index."""
    store, pause = tmp_path / "store", tmp_path / "pause"
    overlap = _corpus(tmp_path / "copy", 2, 90, seed=11)  # the same texts as corpus a, other files
    runs = [_start(_config(tmp_path / "x.json", corpus["a"]), store, KHO_PAUSE_AT="after_claim",
                   KHO_PAUSE_DIR=str(pause)),
            _start(_config(tmp_path / "y.json", overlap), store, KHO_PAUSE_AT="after_claim",
                   KHO_PAUSE_DIR=str(pause))]
    _wait_reached(pause, "after_claim", 2, runs)
    _release(pause, "after_claim")
    for r in runs:
        rc, out = _finish(r)
        assert rc == 0, out
    rows = _rows(store)
    _no_row_twice(rows)
    # whichever run won, no text is published twice (near-duplicate choices may differ)
    assert len(rows) <= len(clean_rows["a"]) + 2
    stats = [json.loads((store / "runs" / run / "stats.json").read_text())
             for run in os.listdir(store / "runs")]
    assert sum(s["totals"]["kept"] for s in stats) == len(rows)
    assert all(s["totals"]["reconciles"] for s in stats)
    _accounted_once(store, 180)
    assert max(s.get("concurrent_duplicates", 0) for s in stats) > 0
    _verify_all(store)


def test_a_kill_between_manifest_and_ref_loses_nothing_and_the_report_is_rebuilt(
        corpus, clean_rows, tmp_path: Path) -> None:
    store = tmp_path / "store"
    rc, out = _ingest(_config(tmp_path / "a.json", corpus["a"]), store, KHO_CRASH_AT="after_commit_point")
    assert rc == -9, out
    vs = VersionStore(LocalStore(store))
    assert vs.versions(DATASET) == ["v1"] and "latest" not in vs.refs(DATASET)
    run = vs.manifest(f"{DATASET}@v1").run_id
    assert not (store / "runs" / run / "report.html").exists()
    rc, out = _ingest(_config(tmp_path / "ab.json", corpus["a"] + corpus["b"]), store)
    assert rc == 0, out
    assert vs.refs(DATASET)["latest"] == "v2" and vs.manifest(f"{DATASET}@v2").parent == "v1"
    assert (store / "runs" / run / "report.html").exists()  # repaired by the next ingest
    assert json.loads((store / "runs" / run / "stats.json").read_text())["version"] == "v1"
    assert _rows(store) == clean_rows["ab"]
    _verify_all(store)


@pytest.mark.parametrize("point", ["after_claim", "after_shards", "before_commit_point", "after_stats"])
def test_a_run_killed_at_each_point_converges_on_rerun_and_gc_leaves_no_orphans(
        point: str, corpus, clean_rows, tmp_path: Path) -> None:
    cfg, store = _config(tmp_path / "a.json", corpus["a"]), tmp_path / "store"
    rc, out = _ingest(cfg, store, KHO_CRASH_AT=point)
    assert rc == -9, out
    rc, out = _ingest(cfg, store)  # the dead run's claims are taken over at once (its process is gone)
    assert rc == 0, out
    assert _rows(store) == clean_rows["a"]
    vs = VersionStore(LocalStore(store))
    report = collect_garbage(vs, grace=timedelta(0), dry_run=False)
    _verify_all(store)
    assert _rows(store) == clean_rows["a"]
    committed = {vs.manifest(f"{DATASET}@{v}").run_id for v in vs.versions(DATASET)}
    again = collect_garbage(vs, grace=timedelta(0), dry_run=True)
    assert again.unreferenced == [] and again.live == []
    left = [p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file()]
    assert not [k for k in left if "/.kho-tmp-" in k or k.startswith(".kho-tmp-")]
    assert not [k for k in left if k.startswith("leases/")]
    for k in left:
        if k.startswith("runs/") or k.startswith("index/"):
            assert any(run in k for run in committed), f"orphan left: {k}"
    if point != "after_stats":
        assert report.deleted > 0  # the killed run left objects and gc removed them


def test_gc_with_zero_grace_during_an_ingest_keeps_what_the_run_will_commit(corpus, tmp_path: Path) -> None:
    store, pause = tmp_path / "store", tmp_path / "pause"
    run = _start(_config(tmp_path / "a.json", corpus["a"]), store, KHO_PAUSE_AT="before_commit_point",
                 KHO_PAUSE_DIR=str(pause))
    _wait_reached(pause, "before_commit_point", 1, [run])
    vs = VersionStore(LocalStore(store))
    report = collect_garbage(vs, grace=timedelta(0), dry_run=False)
    assert report.deleted == 0 and report.live  # the run's shards, lists, tables, index, lease
    _release(pause, "before_commit_point")
    rc, out = _finish(run)
    assert rc == 0, out
    _verify_all(store)


def test_three_overlapping_runs_then_a_rerun_publish_every_input_exactly_once(
        corpus, clean_rows, tmp_path: Path) -> None:
    """Left to timing on purpose (the forced races are above): whatever interleaving happens,
    each run commits, or fails naming the run that holds its inputs; then one rerun."""
    store = tmp_path / "store"
    a, b = corpus["a"], corpus["b"]
    configs = [_config(tmp_path / "1.json", a[:2]), _config(tmp_path / "2.json", a[1:] + b[:1]),
               _config(tmp_path / "3.json", a + b)]
    procs = [_start(c, store) for c in configs]
    results = [_finish(p) for p in procs]
    for rc, out in results:
        assert rc == 0 or (rc == 2 and "being ingested by run" in out), out
    rc, out = _ingest(configs[2], store)
    assert rc == 0, out
    _no_row_twice(_rows(store))
    _accounted_once(store, 180)
    _verify_all(store)


def _edit_manifest(store: Path, version: str, edit) -> None:
    path = store / "datasets" / DATASET / "versions" / f"{version}.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def test_edited_manifest_fields_fail_verify_and_pull_refuses_them(corpus, tmp_path: Path) -> None:
    store = tmp_path / "store"
    rc, out = _ingest(_config(tmp_path / "a.json", corpus["a"]), store)
    assert rc == 0, out
    vs = VersionStore(LocalStore(store))
    original = (store / "datasets" / DATASET / "versions" / "v1.json").read_text()

    def bad(edit) -> None:
        (store / "datasets" / DATASET / "versions" / "v1.json").write_text(original)
        _edit_manifest(store, "v1", edit)
        m = vs.manifest(f"{DATASET}@v1")
        assert not verify_version(vs, m).ok
        with pytest.raises(IntegrityError):
            pull_version(vs, m, tmp_path / "pulled")

    bad(lambda d: d["stats"]["totals"].update(kept=10**6))
    bad(lambda d: d["sources"][0].update(inputs=1))
    bad(lambda d: d["shard_lists"][0].update(rows=1))
    bad(lambda d: d.update(created_at="2020-01-01T00:00:00Z"))
    bad(lambda d: d.update(code_version="forged"))
    bad(lambda d: d.update(merkle_root="0" * 64))

    def forged_with_recomputed_root(d: dict) -> None:
        from schemas.manifest import Manifest

        d["stats"]["totals"]["kept"] = 1
        d["merkle_root"] = Manifest.model_validate(d).expected_root()

    bad(forged_with_recomputed_root)  # caught by the root the ref recorded
    (store / "datasets" / DATASET / "versions" / "v1.json").write_text(original)
    assert verify_version(vs, vs.manifest(f"{DATASET}@v1")).ok


@pytest.fixture()
def s3_store_uri(s3_server) -> str:
    uri = f"s3://kho-{uuid.uuid4().hex[:10]}/safety?endpoint=http://{s3_server.endpoint}"
    open_store(uri, create_bucket=True)
    return uri


def test_on_s3_forced_commit_race_and_a_killed_run_converge_and_gc_cleans(
        corpus, clean_rows, s3_store_uri: str, tmp_path: Path) -> None:
    """The same protocol on a real S3 server: If-None-Match decides the race."""
    pause = tmp_path / "pause"
    rc, out = _ingest(_config(tmp_path / "a.json", corpus["a"]), s3_store_uri, KHO_CRASH_AT="after_shards")
    assert rc == -9, out
    runs = [_start(_config(tmp_path / f"{n}2.json", corpus[n]), s3_store_uri,
                   KHO_PAUSE_AT="before_commit_point", KHO_PAUSE_DIR=str(pause)) for n in ("a", "b")]
    _wait_reached(pause, "before_commit_point", 2, runs)
    _release(pause, "before_commit_point")
    for r in runs:
        rc, out = _finish(r)
        assert rc == 0, out
    vs = VersionStore(open_store(s3_store_uri))
    assert vs.versions(DATASET) == ["v1", "v2"]
    _no_row_twice(_rows(s3_store_uri))
    _accounted_once(s3_store_uri, 180)
    report = collect_garbage(vs, grace=timedelta(0), dry_run=False)
    assert report.deleted > 0  # the killed run's shards, tables, index and lease
    assert collect_garbage(vs, grace=timedelta(0)).unreferenced == []
    _verify_all(s3_store_uri)
