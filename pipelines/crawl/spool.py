"""WARC parts of one crawl: records are spooled into a local gzip WARC and uploaded when the
part fills or the crawl ends. Only then are the part's ledger entries (and media list)
written, so whatever the ledger says was written is in the store, and a crawl killed
mid-way loses at most the pages of the part it was filling (they are fetched again)."""

from __future__ import annotations

import io
import json
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipelines.crawl.ledger import CrawlLedger
from storage.base import ObjectStore
from storage.faults import checkpoint
from storage.layout import crawl_media_key, crawl_part_key

log = logging.getLogger(__name__)

#: Hop-by-hop and encoding headers that no longer describe the stored (decoded) body.
_DROP_HEADERS = {"content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive"}


@dataclass
class Page:
    """One fetched page, as the spider hands it to the spool."""

    url: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    request_headers: list[tuple[str, str]]
    ledger_entry: dict[str, Any]
    media: list[dict[str, str]] = field(default_factory=list)


class WarcSpool:
    """Writes pages into numbered parts ``part-<n>.warc.gz`` of one crawl."""

    def __init__(self, store: ObjectStore, dataset: str, source: str, crawl_id: str,
                 records_per_part: int, ledger: CrawlLedger) -> None:
        self.store, self.dataset, self.source, self.crawl_id = store, dataset, source, crawl_id
        self.records_per_part, self.ledger = records_per_part, ledger
        self._dir = Path(tempfile.mkdtemp(prefix="kho-crawl-"))
        self._n = 0
        self._fh: io.BufferedWriter | None = None
        self._writer: WARCWriter | None = None
        self._pending: list[Page] = []
        self.parts: list[str] = []
        self.written = 0
        self.media_urls = 0

    def add(self, page: Page) -> None:
        """Append a response record (and its request record) to the open part."""
        if self._writer is None:
            self._fh = open(self._dir / f"part-{self._n:05d}.warc.gz", "wb")
            self._writer = WARCWriter(self._fh, gzip=True)
        w = self._writer
        headers = [(k, v) for k, v in page.headers if k.lower() not in _DROP_HEADERS]
        headers.append(("Content-Length", str(len(page.body))))
        http = StatusAndHeaders(f"{page.status} {page.reason}".strip(), headers, protocol="HTTP/1.1")
        resp = w.create_warc_record(page.url, "response", payload=io.BytesIO(page.body),
                                    http_headers=http)
        path = page.url.split("/", 3)[3] if page.url.count("/") >= 3 else ""
        req_http = StatusAndHeaders(f"GET /{path} HTTP/1.1", page.request_headers,
                                    is_http_request=True)
        req = w.create_warc_record(page.url, "request", payload=io.BytesIO(b""), http_headers=req_http)
        req.rec_headers.add_header("WARC-Concurrent-To", resp.rec_headers.get_header("WARC-Record-ID"))
        w.write_record(resp)
        w.write_record(req)
        self._pending.append(page)
        if len(self._pending) >= self.records_per_part:
            self.flush()

    def flush(self) -> None:
        """Upload the open part, then its media list, then its pages' ledger entries."""
        if self._writer is None or self._fh is None:
            return
        self._fh.close()
        local = Path(self._fh.name)
        key = crawl_part_key(self.dataset, self.source, self.crawl_id, self._n)
        self.store.put_file(key, local, "application/warc")
        media = [m for p in self._pending for m in p.media]
        if media:
            self.store.put_bytes(crawl_media_key(self.dataset, self.source, self.crawl_id, self._n),
                                 "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in media).encode(),
                                 "application/x-ndjson")
        for p in self._pending:
            self.ledger.put({**p.ledger_entry, "part": key})
        checkpoint(f"crawl_after_part_{self._n}")  # tests kill a crawl here (resume)
        log.info("uploaded %s (%d pages, %d media URLs)", key, len(self._pending), len(media))
        self.parts.append(key)
        self.written += len(self._pending)
        self.media_urls += len(media)
        local.unlink(missing_ok=True)
        self._pending, self._writer, self._fh = [], None, None
        self._n += 1

    def close(self) -> None:
        """Upload what is left and remove the spool folder."""
        self.flush()
        try:
            self._dir.rmdir()
        except OSError:
            pass
