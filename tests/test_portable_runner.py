"""Kho's ingest through Beam's PortableRunner, its SDK workers in a separate worker pool process
(``--environment_type=EXTERNAL``, as Flink and Spark task managers run Python), gives the same
version as the FnApiRunner in one process: same kept records and rows, same duplicates,
rejections, quarantine and counts.

The pool runs in its own empty cwd and TMPDIR (tests/beam_worker_pool.py), the store is named by
a path relative to the driver's cwd, and nothing is shared with the driver but the store: what
works only in one process (module globals, driver-local temp files, objects that do not pickle,
paths resolved against the worker's cwd) changes a record or fails the run here.

Wall times are logged (``-o log_cli=true --log-cli-level=INFO``) as information, never asserted.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import apache_beam
import pyarrow.parquet as pq
import pytest
import yaml
from apache_beam.options.pipeline_options import (FlinkRunnerOptions, PipelineOptions, PortableOptions,
                                                  StandardOptions)
from apache_beam.runners.runner import _RUNNER_MAP
from apache_beam.transforms import environments

from pipelines.cli import SAMPLE_CONFIG, check_beam_args
from storage.base import ObjectStore
from storage.local import LocalStore
from storage.verify import verify_version
from storage.versions import VersionStore
from tests.beam_worker_pool import BeamJobService, BeamWorkerPool
from tests.data.make_text_golden import decisions, generated_config

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
RUNNERS = ROOT / "deploy" / "runners"
KHO = str(Path(sys.executable).parent / "kho")
#: Columns that name the run, the moment or the checkout's commit (others commit while a test runs):
#: they differ between any two runs, whatever the runner.
PER_RUN = {"run_id", "ingested_at", "processed_at", "created_at", "code_version"}


def _ingest(cfg: Path, cwd: Path, store: str, beam_args: list[str]) -> float:
    """``kho ingest CFG --store STORE BEAM_ARGS`` run from ``cwd``; its wall time in seconds."""
    t0 = time.monotonic()
    proc = subprocess.run([KHO, "ingest", str(cfg), "--store", store, *beam_args],
                          cwd=cwd, capture_output=True, text=True, timeout=1800)
    wall = time.monotonic() - t0
    assert proc.returncode == 0, f"{beam_args}: exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return wall


def _result(store: ObjectStore, dataset: str) -> SimpleNamespace:
    """What run_ingest would have returned, read back from the store: version and run stats."""
    head = VersionStore(store).head(dataset)
    assert head is not None, f"no version of {dataset} was committed"
    stats = json.loads(store.get_bytes(f"runs/{head.run_id}/stats.json"))
    return SimpleNamespace(version=head.version, run_id=head.run_id, stats=stats)


def _rows(store: ObjectStore, keys: list[str], run_id: str) -> list[str]:
    """Every row of these Parquet objects as sorted JSON lines, run-specific columns dropped and
    the run's id (in shard keys) written as ``<run>``. A WebDataset index row's JSON member
    holds the run id, so its hash is left out here and its content compared by _tar_samples."""
    out: list[str] = []
    for key in keys:
        table = pq.read_table(io.BytesIO(store.get_bytes(key)))
        table = table.drop_columns([c for c in table.column_names if c in PER_RUN])
        for row in table.to_pylist():
            for member in row.get("members") or []:
                if member["name"].endswith(".json"):
                    member.pop("sha256")
            out.append(json.dumps(row, sort_keys=True, default=str, ensure_ascii=False).replace(run_id, "<run>"))
    return sorted(out)


def _tar_samples(store: ObjectStore, keys: list[str]) -> list[list[Any]]:
    """Every member of these tars: its name and sha256, a JSON member parsed without the
    run-specific fields. The published bytes, beyond what the index says of them."""
    out: list[list[Any]] = []
    for key in keys:
        with tarfile.open(fileobj=io.BytesIO(store.get_bytes(key))) as tar:
            for member in tar.getmembers():
                data = tar.extractfile(member).read()  # type: ignore[union-attr]
                if member.name.endswith(".json"):
                    meta = {k: v for k, v in json.loads(data).items() if k not in PER_RUN}
                    out.append([member.name, meta])
                else:
                    out.append([member.name, hashlib.sha256(data).hexdigest()])
    return sorted(out, key=lambda m: m[0])


def _version_contents(store: ObjectStore, dataset: str) -> dict[str, Any]:
    """The committed version's kept rows (every column but the run's id and times) and tar
    members, the run's tables row by row, its totals and per-source counts: what two runners
    must agree on."""
    res = _result(store, dataset)
    vs = VersionStore(store)
    manifest = vs.manifest(f"{dataset}@{res.version}")
    assert verify_version(vs, manifest).ok
    shards = list(vs.shards(manifest))
    kept = [s.key for s in shards if s.format in ("parquet", "wds-index")]
    tables = res.stats["tables"]
    return {"kept": _rows(store, kept, res.run_id), "total_rows": manifest.total_rows,
            "tar_members": _tar_samples(store, [s.key for s in shards if s.format == "webdataset"]),
            **{name: _rows(store, tables.get(name, []), res.run_id)
               for name in ("rejected", "duplicates", "quarantine")},
            "totals": res.stats["totals"], "sources": res.stats["sources"],
            "rejected_by_reason": res.stats["rejected_by_reason"]}


def _text_config(folder: Path) -> Path:
    """The generated near-duplicate corpus plus the bundled sample's sources (exact duplicates,
    other languages, corrupt JSONL and WARC records), one config, absolute input paths."""
    cfg_path = generated_config(folder)
    cfg = json.loads(cfg_path.read_text())
    sample = yaml.safe_load(SAMPLE_CONFIG.read_text())
    for src in sample["sources"]:
        src["paths"] = [str((SAMPLE_CONFIG.parent / p).resolve()) for p in src["paths"]]
    cfg["sources"] += sample["sources"]
    cfg["language"] = sample["language"]
    cfg_path.write_text(json.dumps(cfg))
    return cfg_path


def _compare(name: str, cfg: Path, dataset: str, tmp: Path, runs: dict[str, list[str]],
             pool: BeamWorkerPool) -> tuple[dict[str, Any], dict[str, int]]:
    """Ingest ``cfg`` once per runner (store ``store-<runner>`` relative to ``tmp``) and check
    every run's version contents equal the first's; returns the first's and how many SDK
    workers the pool started for each run (and logs them with the wall times)."""
    first: dict[str, Any] | None = None
    walls, workers = {}, {}
    for label, args in runs.items():
        before = pool.workers_started()
        walls[label] = _ingest(cfg, tmp, f"store-{label}", args)
        workers[label] = pool.workers_started() - before
        if label.startswith("portable"):
            assert workers[label] >= 1, f"{name}: the {label} run started no SDK worker in the pool"
        got = _version_contents(LocalStore(tmp / f"store-{label}"), dataset)
        if first is None:
            first = got
            continue
        for part in first:
            assert got[part] == first[part], f"{name}: {label} differs from {next(iter(runs))} in {part}"
    log.info("%s wall times (s, one run each, info only): %s; SDK workers started: %s", name,
             {k: round(v, 1) for k, v in walls.items()}, workers)
    assert first is not None
    return first, workers


def _portable(endpoint: str, pool: BeamWorkerPool, *extra: str) -> list[str]:
    """deploy/runners/portable-local.json with this job endpoint and this pool's address."""
    swap = {"--job_endpoint": endpoint, "--environment_config": pool.environment_config}
    args = []
    for arg in json.loads((RUNNERS / "portable-local.json").read_text()):
        name = arg.split("=", 1)[0]
        args.append(f"{name}={swap[name]}" if name in swap else arg)
    return [*args, *extra]


@pytest.mark.slow
def test_text_ingest_through_external_sdk_workers_equals_the_fnapi_runner(tmp_path: Path) -> None:
    cfg = _text_config(tmp_path / "in")
    runs = {"fnapi": [], "portable-embed": [], "portable-jobservice-p2": []}
    with BeamWorkerPool() as pool, BeamJobService() as jobs:
        runs["portable-embed"] = _portable("embed", pool)
        # Beam's Python job service runs one SDK worker whatever the options (docs/runners.md):
        # this checks that a Flink-style option list is accepted and gives the same version.
        runs["portable-jobservice-p2"] = _portable(jobs.address, pool, "--sdk_worker_parallelism=2")
        first, _ = _compare("text", cfg, "golden", tmp_path, runs, pool)
    # The determinism test's digests too (ids, hashes, signals, reasons, duplicate choices).
    digests = {label: decisions(st, _result(st, "golden"))
               for label in runs for st in [LocalStore(tmp_path / f"store-{label}")]}
    assert digests["portable-embed"] == digests["fnapi"] == digests["portable-jobservice-p2"]
    assert digests["fnapi"]["duplicates"][0] > 20
    t = first["totals"]
    assert t["reconciles"] and t["kept"] == first["total_rows"] == len(first["kept"])
    # The corpus takes every path: near and exact duplicates, rejections, quarantine.
    kinds = {json.loads(r)["kind"] for r in first["duplicates"]}
    assert {"near", "exact"} <= kinds, kinds
    assert len(first["rejected"]) > 0 and len(first["quarantine"]) >= 3


@pytest.mark.slow
def test_image_ingest_through_external_sdk_workers_equals_the_fnapi_runner(tmp_path: Path) -> None:
    from pipelines.image.samples import make_image_samples

    samples = make_image_samples(tmp_path / "samples")
    root = samples["root"]
    cfg = tmp_path / "image.json"
    cfg.write_text(json.dumps({"modality": "image", "dataset": "img", "sources": [
        {"name": "photos", "format": "image_folder", "paths": [f"{root}/*"]},
        {"name": "list", "format": "image_list", "paths": [f"{root}/list.jsonl"]}]}))
    with BeamWorkerPool() as pool:
        first, _ = _compare("image", cfg, "img", tmp_path,
                            {"fnapi": [], "portable-embed": _portable("embed", pool)}, pool)
    assert first["totals"]["reconciles"] and first["total_rows"] == len(first["kept"]) > 0
    assert first["duplicates"] and first["quarantine"]


@pytest.mark.slow
def test_s3_store_through_external_sdk_workers_equals_the_fnapi_runner(tmp_path: Path, s3_server) -> None:
    """An S3 store pickled to the workers carries no credentials: the pool's workers read their
    own environment (here the test server's keys, as a sidecar gets them from a Secret)."""
    from tests.conftest import make_s3_store

    stores = {label: make_s3_store(s3_server) for label in ("fnapi", "portable")}
    got = {}
    with BeamWorkerPool() as pool:
        for label, args in {"fnapi": [], "portable": _portable("embed", pool)}.items():
            st = stores[label]
            _ingest(SAMPLE_CONFIG.resolve(), tmp_path, st.uri, args)
            got[label] = _version_contents(st, "vi-text-sample")
        assert pool.workers_started() >= 1, "the portable run started no SDK worker in the pool"
    assert got["portable"] == got["fnapi"]
    assert got["fnapi"]["totals"]["reconciles"] and got["fnapi"]["quarantine"]


@pytest.mark.slow
def test_workers_without_s3_credentials_fail_the_run_naming_the_variables(tmp_path: Path, s3_server) -> None:
    """The driver's keys never travel with the pipeline: a worker pool started without them
    fails the run (nothing committed) with the message that says which variables to set."""
    from tests.conftest import make_s3_store

    st = make_s3_store(s3_server)
    with BeamWorkerPool(unset=("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")) as pool:
        proc = subprocess.run([KHO, "ingest", str(SAMPLE_CONFIG.resolve()), "--store", st.uri,
                               *_portable("embed", pool)],
                              cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode != 0
    assert "set AWS_ACCESS_KEY_ID" in proc.stdout + proc.stderr, (proc.stdout + proc.stderr)[-4000:]
    assert VersionStore(st).head("vi-text-sample") is None


@pytest.mark.parametrize("path", sorted(RUNNERS.glob("*.json")), ids=lambda p: p.name)
def test_runner_file_is_an_argv_list_that_kho_and_beam_accept(path: Path) -> None:
    """Each deploy/runners file is a JSON list of whole options (one argv item each) that
    `kho ingest` passes to Beam, naming a runner Beam knows and an environment Beam can build."""
    args = json.loads(path.read_text())
    assert isinstance(args, list) and all(isinstance(a, str) and a.startswith("--") for a in args)
    assert check_beam_args(args) == args
    opts = PipelineOptions(args)
    assert opts.view_as(StandardOptions).runner.lower() in _RUNNER_MAP
    portable = opts.view_as(PortableOptions)
    if portable.environment_type:
        env = environments.Environment.from_options(portable)
        if portable.environment_type == "EXTERNAL":
            assert env.url == portable.environment_config
        else:
            assert env.command == json.loads(portable.environment_config)["command"]


def test_every_runner_of_the_docs_has_its_file_and_matching_images() -> None:
    """docs/runners.md names the job-server images of the Flink version in flink.json and of
    the Beam version Kho runs, so the images and the SDK cannot drift apart."""
    assert {p.stem for p in RUNNERS.glob("*.json")} >= {"flink", "flink-process", "spark", "dataflow",
                                                        "portable-local"}
    flink = PipelineOptions(json.loads((RUNNERS / "flink.json").read_text())).view_as(FlinkRunnerOptions)
    docs = (ROOT / "docs" / "runners.md").read_text()
    beam = apache_beam.__version__
    assert f"apache/beam_flink{flink.flink_version}_job_server:{beam}" in docs
    assert f"apache/beam_spark3_job_server:{beam}" in docs
    assert f"apache/beam_python{sys.version_info.major}.{sys.version_info.minor}_sdk:{beam}" in docs
