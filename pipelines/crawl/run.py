"""Running a crawl: :func:`run_crawl` starts ``python -m pipelines.crawl.run`` in a child
process (Twisted's reactor cannot restart, so each crawl gets a fresh interpreter) and
reads back the summary the child stored at ``crawls/<dataset>/<source>/runs/<id>/crawl.json``.
The child's log (Scrapy's, with its stats dump) is kept beside it as ``crawl.log``."""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipelines.crawl.config import CrawlConfig, load_crawl_config
from storage.base import ObjectStore
from storage.layout import crawl_run_prefix, crawl_warc_prefix

log = logging.getLogger(__name__)

#: How much of a crawl's log is kept in the store (its end: the stats dump, the errors).
MAX_LOG_BYTES = 4 << 20


class CrawlFailedError(RuntimeError):
    """The crawl's child process failed before storing its summary."""


def new_crawl_id() -> str:
    """``YYYYmmddTHHMMSSZ-<8 hex>``: sortable by start time, unique across hosts."""
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def summary_key(cfg: CrawlConfig, crawl_id: str) -> str:
    return f"{crawl_run_prefix(cfg.dataset, cfg.source, crawl_id)}/crawl.json"


def crawl_in_process(cfg: CrawlConfig, store: ObjectStore, crawl_id: str) -> dict[str, Any]:
    """Run the crawl in this process (once per process: the reactor does not restart) and
    store its summary."""
    from scrapy.crawler import CrawlerProcess

    from pipelines.crawl.ledger import CrawlLedger
    from pipelines.crawl.spider import KhoSpider, scrapy_settings
    from pipelines.crawl.spool import WarcSpool

    started = datetime.now(timezone.utc)
    ledger = CrawlLedger(store, cfg.dataset, cfg.source)
    spool = WarcSpool(store, cfg.dataset, cfg.source, crawl_id, cfg.warc_records_per_file, ledger)
    process = CrawlerProcess(scrapy_settings(cfg), install_root_handler=True)
    crawler = process.create_crawler(KhoSpider)
    process.crawl(crawler, cfg=cfg, ledger=ledger, spool=spool, crawl_id=crawl_id)
    process.start()
    if not crawler.spider.summary:
        raise RuntimeError(f"crawl {crawl_id} ended without its summary (see the log above): its "
                           "last WARC part may not be in the store; rerun the crawl to resume")
    summary = {"crawl_id": crawl_id, "dataset": cfg.dataset, "source": cfg.source,
               "started_at": started.isoformat(timespec="seconds"),
               "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "user_agent": cfg.user_agent,
               "ingest_path": f"store:{crawl_warc_prefix(cfg.dataset, cfg.source)}/",
               **crawler.spider.summary}
    store.put_bytes(summary_key(cfg, crawl_id), json.dumps(summary, indent=2).encode(),
                    "application/json")
    return summary


def run_crawl(config: Path, store: ObjectStore, timeout_s: float | None = None) -> dict[str, Any]:
    """Crawl ``config`` into ``store`` in a child process; return the stored summary.

    ``timeout_s`` bounds the child's wall time (default: the config's max_seconds plus a
    minute for shutdown); a child past it is killed, and what it uploaded stays valid."""
    cfg = load_crawl_config(config)
    crawl_id = new_crawl_id()
    if timeout_s is None:
        timeout_s = cfg.max_seconds + 60 if cfg.max_seconds else None
    cmd = [sys.executable, "-m", "pipelines.crawl.run", str(config), store.uri, crawl_id]
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=err, timeout=timeout_s,
                                  env={**os.environ, "PYTHONUNBUFFERED": "1"})
            problem = (f"failed (exit {proc.returncode})" if proc.returncode != 0 else None)
        except subprocess.TimeoutExpired:
            problem = (f"ran past {timeout_s:.0f} s and was stopped (lower max_seconds / max_pages, "
                       "or raise the timeout)")
        tail = _keep_log(store, cfg, crawl_id, err)
    if problem:
        lines = "\n".join(tail.strip().splitlines()[-15:])
        raise CrawlFailedError(f"crawl {crawl_id} {problem}; rerun it to resume (the ledger keeps "
                               f"what was uploaded). Its log is {log_key(cfg, crawl_id)}; its last "
                               f"lines:\n{lines}")
    return json.loads(store.get_bytes(summary_key(cfg, crawl_id)))


def log_key(cfg: CrawlConfig, crawl_id: str) -> str:
    return f"{crawl_run_prefix(cfg.dataset, cfg.source, crawl_id)}/crawl.log"


def _keep_log(store: ObjectStore, cfg: CrawlConfig, crawl_id: str, err) -> str:
    """Store the child's log (its last MAX_LOG_BYTES) beside the summary; return it as text."""
    size = err.seek(0, os.SEEK_END)
    err.seek(max(0, size - MAX_LOG_BYTES))
    data = err.read()
    try:
        store.put_bytes(log_key(cfg, crawl_id), data, "text/plain; charset=utf-8")
    except Exception as exc:  # noqa: BLE001 - the log is a help, never a reason to fail
        log.warning("could not store the crawl log of %s: %s", crawl_id, exc)
    return data.decode("utf-8", "replace")


def summary_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The summary as (what, value) rows for the CLI's table."""
    errors = ", ".join(f"{k}: {v}" for k, v in summary["errors"].items()) or "none"
    return [
        ("pages fetched", f"{summary['pages_fetched']:,}"),
        ("written (new / changed)", f"{summary['pages_written']:,} ({summary['pages_new']:,} / "
                                    f"{summary['pages_changed']:,})"),
        ("unchanged (304 / same hash)", f"{summary['pages_unchanged']:,} ({summary['not_modified']:,} / "
                                        f"{summary['pages_unchanged'] - summary['not_modified']:,})"),
        ("refused by robots.txt", f"{summary['refused_robots']:,}"),
        ("offsite links", f"{summary['offsite']:,}"),
        ("too deep", f"{summary['too_deep']:,}"),
        ("not HTML", f"{summary['skipped_content_type']:,}"),
        ("errors", errors),
        ("bytes", f"{summary['bytes']:,}"),
        ("WARC parts", f"{len(summary['parts'])}"),
        ("media URLs", f"{summary['media_urls']:,}"),
        ("finished", summary["finish_reason"]),
    ]


def main(argv: list[str]) -> int:
    """``python -m pipelines.crawl.run CONFIG STORE_URI CRAWL_ID``."""
    from storage.uri import open_store

    if len(argv) != 3:
        print("usage: python -m pipelines.crawl.run CONFIG STORE_URI CRAWL_ID", file=sys.stderr)
        return 2
    cfg = load_crawl_config(argv[0])
    crawl_in_process(cfg, open_store(argv[1]), argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
