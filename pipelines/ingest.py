"""Driving one ingest run: plan on the driver, build the Beam pipeline, run it, read back
the run's statistics. Only planning (listing input files, ledger lookups) happens here;
all record work happens in the pipeline.
"""

from __future__ import annotations

import json
import logging
import re
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

from pipelines.config import BaseIngestConfig
from pipelines.malloc_arenas import limit_malloc_arenas
from pipelines.plan import WorkUnit, committed_runs, list_units, split_done
from storage.base import ObjectStore
from storage.faults import checkpoint
from storage.layout import run_info_key, run_prefix
from storage.leases import InputsHeldError, RunLease
from storage.shards import json_bytes
from storage.versions import VersionStore

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
    held_inputs: dict[str, str] | None = None  # uri -> live run that is ingesting it


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


_SECRET_OPTION = re.compile(r"secret|password|token|credential|access_key|private_key", re.IGNORECASE)


def recorded_args(beam_args: list[str]) -> list[str]:
    """The Beam options as a run records them in run.json (which runner and settings made a
    version), with the values of options that look like secrets replaced by ``***``."""
    out = []
    hide_next = False
    for arg in beam_args:
        if hide_next:
            out.append("***")
            hide_next = False
            continue
        name, sep, _ = arg.partition("=")
        if name.startswith("-") and _SECRET_OPTION.search(name):
            out.append(f"{name}=***" if sep else name)
            hide_next = not sep
        else:
            out.append(arg)
    return out


def repair_dataset(vs: VersionStore, dataset: str) -> None:
    """Finish what a run killed after its commit point left undone: move ``latest`` to the
    highest version and rebuild that version's run stats and report."""
    from pipelines.commit import repair_run
    from pipelines.report import render_report

    vs.repair_refs(dataset)
    head = vs.head(dataset)
    if head is not None and head.run_id:
        repair_run(vs.store, head.run_id, head.version, render_report)


def _plan(cfg: BaseIngestConfig, store: ObjectStore, lease: RunLease
          ) -> tuple[list[WorkUnit], list[str], dict[str, str], set[str]]:
    """Claim the inputs, then drop those already ingested: (todo, skipped uris, held, committed).

    Claims come first: a run that held an input commits before it releases the claim, so once
    this run holds the claim, the ledger and the committed runs it reads next are current."""
    units = list_units(cfg, store)
    held = lease.claim((u.unit_id, u.uri) for u in units)
    free = [u for u in units if u.unit_id not in held]
    checkpoint("after_claim")
    committed = committed_runs(VersionStore(store), cfg.dataset)
    todo, done = split_done(free, store, cfg.dataset, committed)
    lease.release_claims(u.unit_id for u in done)
    by_id = {u.unit_id: u.uri for u in units}
    return todo, [u.uri for u in done], {by_id[k]: v for k, v in held.items()}, committed


def run_ingest(cfg: BaseIngestConfig, store: ObjectStore, beam_args: list[str] | None = None, *,
               on_progress: Callable[[int, int, int], None] | None = None,
               run_id: str | None = None) -> IngestResult:
    """Plan, run and commit one ingest. ``on_progress(units_done, units_total, records)``
    is called while a local runner works.

    The run holds a lease on the dataset from planning to its end and claims each input, so
    an overlapping run (a scheduler that started it twice) skips inputs this one is
    ingesting; when every input is held, InputsHeldError names the run that holds them."""
    from pipelines.core.modality import get_modality
    from pipelines.core.skeleton import build_ingest_pipeline

    modality = get_modality(cfg.modality)
    opts = pipeline_options(beam_args or [])
    local = opts.view_as(StandardOptions).runner in LOCAL_RUNNERS
    if local:
        # before the lease's heartbeat or any other thread: glibc fixes the limit at its
        # first extra arena (pipelines/malloc_arenas.py; ~15 % less memory)
        limit_malloc_arenas()
    vs = VersionStore(store)
    repair_dataset(vs, cfg.dataset)
    run_id = run_id or new_run_id()
    lease = RunLease(store, cfg.dataset, run_id)
    lease.acquire()
    try:
        units, skipped, held, committed = _plan(cfg, store, lease)
        if held:
            log.warning("%d input(s) skipped: being ingested by live run(s) %s", len(held),
                        ", ".join(sorted(set(held.values()))))
        if not units:
            if held:
                raise InputsHeldError(
                    f"every new input of {cfg.dataset} is being ingested by run(s) "
                    f"{', '.join(sorted(set(held.values())))}; nothing to do until they finish "
                    "(a run killed hard frees its inputs after KHO_LEASE_TTL_S seconds)")
            log.info("nothing new to ingest: all %d inputs are in the ledger", len(skipped))
            return IngestResult(run_id, None, None, skipped, None, held)
        store.put_bytes(run_info_key(run_id), json_bytes(
            {"run_id": run_id, "dataset": cfg.dataset, "started": datetime.now(timezone.utc).isoformat(),
             "code_version": code_version(), "inputs": len(units),
             "runner": opts.view_as(StandardOptions).runner, "beam_args": recorded_args(beam_args or [])}),
            "application/json")
        progress_dir = tempfile.mkdtemp(prefix="kho-progress-") if local and on_progress else None
        p = beam.Pipeline(options=opts)
        build_ingest_pipeline(p, modality, cfg, store, [u.to_dict() for u in units], run_id,
                              code_version(), progress_dir, committed)
        _run_with_progress(p, progress_dir, len(units), on_progress)
    finally:
        lease.release()
    stats_obj = json.loads(store.get_bytes(f"{run_prefix(run_id)}/stats.json"))
    return IngestResult(run_id, stats_obj.get("version"), stats_obj, skipped,
                        f"{run_prefix(run_id)}/report.html", held)


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
