"""The state of every registered source, read from the store (``kho sources status``).

Everything here is a few point reads per source plus two one-level listings, never a walk
of all the data:

- the last crawl: the newest folder of ``crawls/<ds>/<src>/runs/`` and its ``crawl.json``
  (a folder without one is a crawl that died before its summary);
- the last ingest: the dataset's head manifest names its run; ``runs/<run>/stats.json``
  gives that run's counts (the lineage is walked back past versions made without a run);
- failed or unfinished ingests: run ids sort by start time, so only the ``runs/`` entries
  newer than the last committed run are opened (``run.json`` for the dataset, no
  ``stats.json`` with a version); a live lease means it is still running;
- inputs pending: the planner's own listing and ledger check (pipelines/plan.py), without Beam.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from pipelines.sources.registry import Registry, SourceEntry
from storage.base import ObjectStore
from storage.errors import ObjectNotFoundError, StoreError
from storage.layout import (RUN_ID_RE, crawl_prefix, crawl_run_prefix, run_info_key, run_lease_key,
                            run_prefix)
from storage.versions import VersionStore

log = logging.getLogger(__name__)

#: Scrapy finish reasons that are not problems: the crawl ended or reached one of its bounds.
OK_FINISH_REASONS = {"finished", "closespider_pagecount", "closespider_timeout",
                     "closespider_itemcount", "closespider_errorcount"}


class CrawlState(BaseModel):
    """The newest crawl of a source (its summary, or the fact that it has none)."""

    crawl_id: str
    source: str
    finished_at: str | None = None
    pages_written: int | None = None
    finish_reason: str | None = None
    summary_missing: bool = False


class RunState(BaseModel):
    """An ingest run of the source's dataset, with its totals when it got that far."""

    run_id: str
    version: str | None = None
    started: str | None = None
    totals: dict[str, Any] = Field(default_factory=dict)
    state: str = "committed"  # committed | running | failed


class SourceStatus(BaseModel):
    """One row of ``kho sources status``."""

    name: str
    kind: str
    dataset: str
    schedule: str
    owner: str
    last_crawl: CrawlState | None = None
    last_run: RunState | None = None
    last_version: str | None = None
    last_version_at: datetime | None = None
    pending: int | None = None
    pending_by_source: dict[str, int] = Field(default_factory=dict)
    failures: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    def counts(self) -> dict[str, int | None]:
        """kept / rejected / quarantined / duplicates of the last run (None without one)."""
        t = self.last_run.totals if self.last_run else {}
        return {k: t.get(k) for k in ("kept", "rejected", "quarantined", "duplicates")}


def _read_json(store: ObjectStore, key: str) -> dict[str, Any] | None:
    """A JSON object from the store, or None if it is absent; unreadable ones are logged."""
    try:
        return json.loads(store.get_bytes(key))
    except ObjectNotFoundError:
        return None
    except (StoreError, ValueError) as exc:
        log.warning("%s is unreadable, skipped: %s", key, exc)
        return None


def last_crawl(store: ObjectStore, dataset: str, source: str) -> CrawlState | None:
    """The newest crawl of ``dataset``/``source`` (crawl ids sort by start time), or None."""
    crawl_ids = sorted(store.list_children(f"{crawl_prefix(dataset, source)}/runs"), reverse=True)
    crawl_ids = [c for c in crawl_ids if RUN_ID_RE.fullmatch(c)]
    if not crawl_ids:
        return None
    summary = _read_json(store, f"{crawl_run_prefix(dataset, source, crawl_ids[0])}/crawl.json")
    if summary is None:
        return CrawlState(crawl_id=crawl_ids[0], source=source, summary_missing=True)
    return CrawlState(crawl_id=crawl_ids[0], source=source, finished_at=summary.get("finished_at"),
                      pages_written=summary.get("pages_written"),
                      finish_reason=summary.get("finish_reason"))


def last_committed_run(store: ObjectStore, vs: VersionStore, dataset: str) -> RunState | None:
    """The run of the newest version that a run made (walking back from the head past
    versions committed by hand), with its stats.json totals."""
    m = vs.head(dataset)
    while m is not None:
        if m.run_id:
            stats = _read_json(store, f"{run_prefix(m.run_id)}/stats.json") or {}
            info = _read_json(store, run_info_key(m.run_id)) or {}
            return RunState(run_id=m.run_id, version=m.version, started=info.get("started"),
                            totals=stats.get("totals") or {})
        m = vs.manifest(f"{dataset}@{m.parent}") if m.parent else None
    return None


def unfinished_runs(store: ObjectStore, dataset: str, after: str | None) -> list[RunState]:
    """Runs of ``dataset`` started after run ``after`` that committed no version: ``running``
    while their lease lives, else ``failed``. Newest first."""
    out = []
    for run_id in sorted(store.list_children("runs"), reverse=True):
        if not RUN_ID_RE.fullmatch(run_id) or (after is not None and run_id <= after):
            continue
        info = _read_json(store, run_info_key(run_id))
        if not info or info.get("dataset") != dataset:
            continue
        stats = _read_json(store, f"{run_prefix(run_id)}/stats.json") or {}
        if stats.get("version"):
            continue  # committed (a version the head's lineage does not show, e.g. a branch)
        running = store.exists(run_lease_key(dataset, run_id))
        out.append(RunState(run_id=run_id, started=info.get("started"), totals=stats.get("totals") or {},
                            state="running" if running else "failed"))
    return out


def pending_inputs(reg: Registry, entry: SourceEntry, store: ObjectStore,
                   committed: set[str]) -> tuple[dict[str, int], list[str]]:
    """Inputs of each of the ingest config's sources that the next ingest would read (not
    in the ledger as they are now), and notes for sources whose paths match nothing yet."""
    from pipelines.config import load_ingest_config
    from pipelines.plan import NoInputsError, list_units, split_done

    cfg = load_ingest_config(reg.path(entry.ingest))
    pending, notes = {}, []
    for src in cfg.sources:
        one = cfg.model_copy(update={"sources": [src]})
        try:
            units = list_units(one, store)
        except NoInputsError as exc:
            pending[src.name] = 0
            notes.append(f"{exc} (nothing crawled into it yet)" if entry.kind == "crawl"
                         else f"{exc} (nothing dropped there yet, or its paths are wrong)")
            continue
        todo, _ = split_done(units, store, cfg.dataset, committed)
        pending[src.name] = len(todo)
    return pending, notes


def source_status(reg: Registry, entry: SourceEntry, store: ObjectStore) -> SourceStatus:
    """The state of one source: its last crawl, run and version, pending inputs, failures."""
    from pipelines.plan import committed_runs

    vs = VersionStore(store)
    row = SourceStatus(name=entry.name, kind=entry.kind, dataset=entry.dataset,
                       schedule=entry.schedule, owner=entry.owner)
    if entry.crawl is not None:
        from pipelines.crawl.config import load_crawl_config

        ccfg = load_crawl_config(reg.path(entry.crawl))
        row.last_crawl = last_crawl(store, ccfg.dataset, ccfg.source)
        c = row.last_crawl
        if c is None:
            row.notes.append("never crawled")
        elif c.summary_missing:
            row.failures.append(f"crawl {c.crawl_id} stored no summary (it failed or was killed); "
                                f"see {crawl_run_prefix(ccfg.dataset, ccfg.source, c.crawl_id)}/crawl.log")
        elif c.finish_reason not in OK_FINISH_REASONS:
            row.failures.append(f"crawl {c.crawl_id} finished with {c.finish_reason!r}")
    head = vs.head(entry.dataset)
    if head is not None:
        row.last_version, row.last_version_at = head.version, head.created_at
    row.last_run = last_committed_run(store, vs, entry.dataset)
    if row.last_run and row.last_run.totals.get("quarantined"):
        row.failures.append(f"run {row.last_run.run_id}: {row.last_run.totals['quarantined']} "
                            "input(s) or record(s) quarantined (see its report)")
    for run in unfinished_runs(store, entry.dataset, row.last_run.run_id if row.last_run else None):
        if run.state == "running":
            row.notes.append(f"run {run.run_id} is running")
        else:
            row.failures.append(f"run {run.run_id} started {run.started or '?'} but committed no "
                                "version (failed or killed; rerun the ingest, then `kho gc`)")
    row.pending_by_source, notes = pending_inputs(reg, entry, store, committed_runs(vs, entry.dataset))
    row.pending = sum(row.pending_by_source.values())
    row.notes += notes
    return row


def registry_status(reg: Registry, store: ObjectStore) -> list[SourceStatus]:
    """:func:`source_status` of every source, in the registry's order."""
    return [source_status(reg, entry, store) for entry in reg.sources]


