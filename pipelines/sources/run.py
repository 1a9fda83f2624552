"""``kho sources run NAME``: the one step a scheduler calls for a source.

crawl (kind crawl) → ingest → verify, through the same functions ``kho crawl``, ``kho ingest``
and ``kho verify`` call, in this process (the crawl itself runs in a child, as ``kho crawl``
does: Twisted's reactor cannot restart). Any failure raises, so the step exits non-zero and
the scheduler retries or alerts; a rerun is safe (the crawl and ingest ledgers skip what is
done).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pipelines.sources.registry import Registry
from storage.base import ObjectStore
from storage.versions import VersionStore

log = logging.getLogger(__name__)


class VerifyFailedError(RuntimeError):
    """The version the run committed does not re-hash to its manifest."""


@dataclass
class SourceRunResult:
    """What one scheduled step did."""

    source: str
    dataset: str
    crawl: dict[str, Any] | None = None
    run_id: str | None = None
    version: str | None = None
    skipped_inputs: int = 0
    verified: str | None = None
    steps: list[str] = field(default_factory=list)


def run_source(reg: Registry, name: str, store: ObjectStore,
               beam_args: list[str] | None = None) -> SourceRunResult:
    """Crawl (if a crawl source), ingest and verify source ``name`` of ``reg`` into ``store``."""
    from pipelines.config import load_ingest_config
    from pipelines.ingest import run_ingest
    from storage.verify import verify_version

    entry = reg.get(name)
    result = SourceRunResult(entry.name, entry.dataset)
    if entry.crawl is not None:
        from pipelines.crawl.run import run_crawl

        log.info("source %s: crawl %s", name, reg.path(entry.crawl))
        result.crawl = run_crawl(reg.path(entry.crawl), store)
        result.steps.append(f"crawl {result.crawl['crawl_id']}: {result.crawl['pages_written']} "
                            f"page(s) written ({result.crawl['finish_reason']})")
    cfg = load_ingest_config(reg.path(entry.ingest))
    log.info("source %s: ingest %s", name, reg.path(entry.ingest))
    ingested = run_ingest(cfg, store, beam_args or [])
    result.run_id, result.version = ingested.run_id, ingested.version
    result.skipped_inputs = len(ingested.skipped_inputs or [])
    result.steps.append(f"ingest: {entry.dataset}@{ingested.version} by run {ingested.run_id}"
                        if ingested.version else
                        f"ingest: nothing new ({result.skipped_inputs} input(s) already in the ledger)")
    vs = VersionStore(store)
    head = vs.head(entry.dataset)
    if head is not None:
        report = verify_version(vs, head)
        if not report.ok:
            problems = "; ".join(f"{k}: {p}" for k, p in report.problems[:5])
            raise VerifyFailedError(f"{entry.dataset}@{head.version} failed verification "
                                    f"({len(report.problems)} problem(s)): {problems}")
        result.verified = head.version
        result.steps.append(f"verify {entry.dataset}@{head.version}: {report.shards_checked} shard(s) OK")
    return result
