"""Driving one ingest run: plan on the driver, build the Beam pipeline, run it, read back
the run's statistics. Only planning (listing input files, ledger lookups) happens here;
all record work happens in the pipeline.
"""

from __future__ import annotations

import json
import logging
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipelines.commit import run_prefix
from pipelines.config import IngestConfig
from pipelines.plan import committed_runs, plan_units
from storage.versions import VersionStore
from storage.base import ObjectStore

log = logging.getLogger(__name__)

LOCAL_RUNNERS = {"FnApiRunner", "DirectRunner", "BundleBasedDirectRunner", "SwitchingDirectRunner"}


@dataclass
class IngestResult:
    """What a run did: its id, the version it committed, and its statistics."""

    run_id: str
    version: str | None
    stats: dict[str, Any] | None
    skipped_inputs: list[str]
    report_key: str | None


def code_version() -> str:
    """Package version plus the git commit when run from a checkout."""
    try:
        v = version("kho")
    except PackageNotFoundError:
        v = "0+unknown"
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{v}+{sha}" if sha else v


def new_run_id() -> str:
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def pipeline_options(beam_args: list[str]) -> PipelineOptions:
    """Beam options from the command line; the local FnApiRunner unless a runner is named
    (the DirectRunner would try to download Prism, which fails offline)."""
    opts = PipelineOptions(beam_args)
    std = opts.view_as(StandardOptions)
    if not std.runner:
        std.runner = "FnApiRunner"
    return opts


def run_ingest(cfg: IngestConfig, store: ObjectStore, beam_args: list[str] | None = None, *,
               on_progress: Callable[[int, int, int], None] | None = None,
               run_id: str | None = None) -> IngestResult:
    """Plan, run and commit one ingest. ``on_progress(units_done, units_total, records)``
    is called while a local runner works."""
    from pipelines.text import build_text_pipeline

    committed = committed_runs(VersionStore(store), cfg.dataset)
    units, skipped = plan_units(cfg, store, committed)
    run_id = run_id or new_run_id()
    if not units:
        log.info("nothing new to ingest: all %d inputs are in the ledger", len(skipped))
        return IngestResult(run_id, None, None, skipped, None)
    opts = pipeline_options(beam_args or [])
    local = opts.view_as(StandardOptions).runner in LOCAL_RUNNERS
    progress_dir = tempfile.mkdtemp(prefix="kho-progress-") if local and on_progress else None
    p = beam.Pipeline(options=opts)
    build_text_pipeline(p, cfg, store, [u.to_dict() for u in units], run_id, code_version(),
                        progress_dir, committed)
    _run_with_progress(p, progress_dir, len(units), on_progress)
    stats_obj = json.loads(store.get_bytes(f"{run_prefix(run_id)}/stats.json"))
    return IngestResult(run_id, stats_obj.get("version"), stats_obj, skipped,
                        f"{run_prefix(run_id)}/report.html")


def _run_with_progress(p: beam.Pipeline, progress_dir: str | None, total: int,
                       on_progress: Callable[[int, int, int], None] | None) -> None:
    if not progress_dir or not on_progress:
        p.run().wait_until_finish()
        return
    error: list[BaseException] = []

    def target() -> None:
        try:
            p.run().wait_until_finish()
        except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
            error.append(exc)

    t = threading.Thread(target=target, name="beam-run", daemon=True)
    t.start()
    while t.is_alive():
        _report(progress_dir, total, on_progress)
        t.join(0.5)
    _report(progress_dir, total, on_progress)
    if error:
        raise error[0]


def _report(progress_dir: str, total: int, on_progress: Callable[[int, int, int], None]) -> None:
    done = list(Path(progress_dir).glob("*.done"))
    records = 0
    for f in done:
        try:
            records += int(f.read_text() or 0)
        except (OSError, ValueError):
            pass
    on_progress(len(done), total, records)


__all__ = ["IngestResult", "run_ingest"]
