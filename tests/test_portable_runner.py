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

import io
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from pipelines.cli import SAMPLE_CONFIG
from storage.local import LocalStore
from storage.verify import verify_version
from storage.versions import VersionStore
from tests.beam_worker_pool import BeamJobService, BeamWorkerPool
from tests.data.make_text_golden import decisions, generated_config

pytestmark = pytest.mark.slow

log = logging.getLogger(__name__)

KHO = str(Path(sys.executable).parent / "kho")
#: Columns that name the run or the moment (differ between any two runs, whatever the runner).
PER_RUN = {"run_id", "ingested_at", "processed_at", "created_at"}


def _ingest(cfg: Path, cwd: Path, store: str, beam_args: list[str]) -> float:
    """``kho ingest CFG --store STORE BEAM_ARGS`` run from ``cwd``; its wall time in seconds."""
    t0 = time.monotonic()
    proc = subprocess.run([KHO, "ingest", str(cfg), "--store", store, *beam_args],
                          cwd=cwd, capture_output=True, text=True, timeout=1800)
    wall = time.monotonic() - t0
    assert proc.returncode == 0, f"{beam_args}: exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return wall


def _result(store: LocalStore, dataset: str) -> SimpleNamespace:
    """What run_ingest would have returned, read back from the store: version and run stats."""
    head = VersionStore(store).head(dataset)
    assert head is not None, f"no version of {dataset} was committed"
    stats = json.loads(store.get_bytes(f"runs/{head.run_id}/stats.json"))
    return SimpleNamespace(version=head.version, run_id=head.run_id, stats=stats)


def _rows(store: LocalStore, keys: list[str]) -> list[str]:
    """Every row of these Parquet objects, run-specific columns dropped, as sorted JSON lines."""
    out: list[str] = []
    for key in keys:
        table = pq.read_table(io.BytesIO(store.get_bytes(key)))
        table = table.drop_columns([c for c in table.column_names if c in PER_RUN])
        out += [json.dumps(r, sort_keys=True, default=str, ensure_ascii=False) for r in table.to_pylist()]
    return sorted(out)


def _version_contents(store: LocalStore, dataset: str) -> dict[str, Any]:
    """The committed version's kept rows (every column but the run's id and times), the run's
    tables row by row, its totals and per-source counts: what two runners must agree on."""
    res = _result(store, dataset)
    vs = VersionStore(store)
    manifest = vs.manifest(f"{dataset}@{res.version}")
    assert verify_version(vs, manifest).ok
    kept = [s.key for s in vs.shards(manifest) if s.format in ("parquet", "wds-index")]
    tables = res.stats["tables"]
    return {"kept": _rows(store, kept), "total_rows": manifest.total_rows,
            **{name: _rows(store, tables.get(name, [])) for name in ("rejected", "duplicates", "quarantine")},
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


def _compare(name: str, cfg: Path, dataset: str, tmp: Path, runs: dict[str, list[str]]) -> dict[str, Any]:
    """Ingest ``cfg`` once per runner (store ``store-<runner>`` relative to ``tmp``) and check
    every run's version contents equal the first's; returns the first's, logs the wall times."""
    first: dict[str, Any] | None = None
    walls = {}
    for label, args in runs.items():
        walls[label] = _ingest(cfg, tmp, f"store-{label}", args)
        got = _version_contents(LocalStore(tmp / f"store-{label}"), dataset)
        if first is None:
            first = got
            continue
        for part in first:
            assert got[part] == first[part], f"{name}: {label} differs from {next(iter(runs))} in {part}"
    log.info("%s wall times (s, one run each, info only): %s", name,
             {k: round(v, 1) for k, v in walls.items()})
    assert first is not None
    return first


def _portable(endpoint: str, pool: BeamWorkerPool, *extra: str) -> list[str]:
    return ["--runner=PortableRunner", f"--job_endpoint={endpoint}", "--environment_type=EXTERNAL",
            f"--environment_config={pool.environment_config}", *extra]


def test_text_ingest_through_external_sdk_workers_equals_the_fnapi_runner(tmp_path: Path) -> None:
    cfg = _text_config(tmp_path / "in")
    with BeamWorkerPool() as pool, BeamJobService() as jobs:
        first = _compare("text", cfg, "golden", tmp_path, {
            "fnapi": [],
            "portable-embed": _portable("embed", pool),
            "portable-jobservice-p2": _portable(jobs.address, pool, "--sdk_worker_parallelism=2"),
        })
        started = pool.workers_started()
    assert started >= 2, "the runs did not use the worker pool's SDK workers"
    t = first["totals"]
    assert t["reconciles"] and t["kept"] == first["total_rows"] == len(first["kept"])
    # The corpus takes every path: near and exact duplicates, rejections, quarantine.
    kinds = {json.loads(r)["kind"] for r in first["duplicates"]}
    assert {"near", "exact"} <= kinds, kinds
    assert len(first["rejected"]) > 0 and len(first["quarantine"]) >= 3


def test_text_records_are_decided_the_same_through_external_workers(tmp_path: Path) -> None:
    """The determinism test's own digests (ids, hashes, signals, reasons, duplicate choices)."""
    cfg = generated_config(tmp_path / "in")
    digests = {}
    with BeamWorkerPool() as pool:
        for label, args in {"fnapi": [], "portable": _portable("embed", pool)}.items():
            _ingest(cfg, tmp_path, f"store-{label}", args)
            store = LocalStore(tmp_path / f"store-{label}")
            digests[label] = decisions(store, _result(store, "golden"))
    assert digests["portable"] == digests["fnapi"]
    assert digests["fnapi"]["duplicates"][0] > 20


def test_image_ingest_through_external_sdk_workers_equals_the_fnapi_runner(tmp_path: Path) -> None:
    from pipelines.image.samples import make_image_samples

    samples = make_image_samples(tmp_path / "samples")
    root = samples["root"]
    cfg = tmp_path / "image.json"
    cfg.write_text(json.dumps({"modality": "image", "dataset": "img", "sources": [
        {"name": "photos", "format": "image_folder", "paths": [f"{root}/*"]},
        {"name": "list", "format": "image_list", "paths": [f"{root}/list.jsonl"]}]}))
    with BeamWorkerPool() as pool:
        first = _compare("image", cfg, "img", tmp_path,
                         {"fnapi": [], "portable-embed": _portable("embed", pool)})
    assert first["totals"]["reconciles"] and first["total_rows"] == len(first["kept"]) > 0
    assert first["duplicates"] and first["quarantine"]
