"""The Scrapy side of ``kho crawl``: the spider, the ledger middleware and the settings.

Scrapy does the crawling: robots.txt (RobotsTxtMiddleware), politeness (per-domain
concurrency, DOWNLOAD_DELAY, AutoThrottle), bounds (DEPTH_LIMIT, CLOSESPIDER_PAGECOUNT,
CLOSESPIDER_TIMEOUT, DOWNLOAD_MAXSIZE), retries, redirects, the offsite check and the
request de-duplication. This module adds what is Kho's: conditional requests from the crawl
ledger, the content-type and content-hash checks, WARC writing and the counters of the summary.
"""

from __future__ import annotations

import hashlib
import logging
from http import HTTPStatus
from collections import Counter
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.exceptions import CloseSpider, IgnoreRequest
from scrapy.http import Response
from scrapy.linkextractors import LinkExtractor
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.spiders import SitemapSpider
from w3lib.url import canonicalize_url

from pipelines.crawl.config import CrawlConfig
from pipelines.crawl.ledger import CrawlLedger
from pipelines.crawl.spool import Page, WarcSpool

log = logging.getLogger(__name__)

#: How many refused URLs the summary lists by name (all are counted).
MAX_LISTED = 200
_MEDIA_TAGS = {"img": "image", "audio": "audio", "video": "video"}


def on_allowed_host(url: str, domains: list[str]) -> bool:
    """Whether ``url``'s host is one of ``domains`` or a subdomain of one (ports ignored,
    as Scrapy's offsite check does)."""
    host = (urlsplit(url).hostname or "").lower()
    return any(host == d or host.endswith("." + d) for d in domains)


def scrapy_settings(cfg: CrawlConfig) -> dict[str, Any]:
    """The config's bounds and politeness as Scrapy settings."""
    return {
        "USER_AGENT": cfg.user_agent,
        "ROBOTSTXT_OBEY": cfg.obey_robots,
        "CONCURRENT_REQUESTS_PER_DOMAIN": cfg.per_host_concurrency,
        "DOWNLOAD_DELAY": cfg.delay_s,
        "RANDOMIZE_DOWNLOAD_DELAY": True,
        "AUTOTHROTTLE_ENABLED": cfg.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(cfg.delay_s, 0.1),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(cfg.per_host_concurrency),
        "DEPTH_LIMIT": cfg.max_depth,
        "DEPTH_STATS_VERBOSE": True,
        "CLOSESPIDER_PAGECOUNT": cfg.max_pages,
        "CLOSESPIDER_TIMEOUT": cfg.max_seconds,
        "DOWNLOAD_MAXSIZE": cfg.max_page_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "DOWNLOAD_TIMEOUT": cfg.download_timeout_s,
        "RETRY_TIMES": cfg.retries,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "INFO",
        "DOWNLOADER_MIDDLEWARES": {"pipelines.crawl.spider.LedgerConditionalMiddleware": 560},
    }


class LedgerConditionalMiddleware:
    """Makes page requests conditional: If-None-Match / If-Modified-Since from the crawl
    ledger, looked up again for every hop of a redirect (each hop has its own entry)."""

    def process_request(self, request: Request, spider: "KhoSpider") -> None:
        if not request.meta.get("kho_page"):
            return None
        for h in ("If-None-Match", "If-Modified-Since"):
            request.headers.pop(h, None)
        entry = spider.ledger.get(canonicalize_url(request.url))
        request.meta["kho_entry"] = entry
        if entry.get("etag"):
            request.headers["If-None-Match"] = entry["etag"]
        if entry.get("last_modified"):
            request.headers["If-Modified-Since"] = entry["last_modified"]
        return None


class KhoSpider(SitemapSpider):
    """Seeds and sitemaps in, pages (new or changed HTML) out to the WARC spool."""

    name = "kho"
    handle_httpstatus_list = [304]
    sitemap_rules = [("", "parse_page")]

    def __init__(self, cfg: CrawlConfig, ledger: CrawlLedger, spool: WarcSpool,
                 crawl_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cfg, self.ledger, self.spool, self.crawl_id = cfg, ledger, spool, crawl_id
        self.allowed_domains = list(cfg.allowed_domains)
        self.sitemap_urls = list(cfg.sitemaps)
        self.links = LinkExtractor(canonicalize=True, unique=True)
        self.counts: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.refused_robots: list[str] = []
        self.offsite_seen: set[str] = set()
        self.page_bytes = 0
        self.summary: dict[str, Any] = {}

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any) -> "KhoSpider":
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._closed, signal=signals.spider_closed)
        return spider

    def _page_request(self, url: str, **kw: Any) -> Request:
        return Request(canonicalize_url(url), callback=self.parse_page, errback=self.on_error,
                       meta={"kho_page": True}, **kw)

    async def start(self):
        for url in self.cfg.seeds:
            yield self._page_request(url)
        async for req in super().start():
            yield req.replace(errback=self.on_error)

    def _parse_sitemap(self, response: Response):
        for req in super()._parse_sitemap(response) or ():
            if req.callback == self.parse_page:
                yield self._page_request(req.url)
            else:
                yield req.replace(errback=self.on_error)

    def parse_page(self, response: Response):
        """Write a new or changed HTML page; follow its links (or, on 304, the ledger's)."""
        self.counts["fetched"] += 1
        self.page_bytes += len(response.body)
        if self.cfg.max_bytes and self.page_bytes > self.cfg.max_bytes:
            raise CloseSpider("max_bytes")
        entry = response.meta.get("kho_entry", {})
        if response.status == 304:
            self.counts["not_modified"] += 1
            self.counts["unchanged"] += 1
            yield from self._follow_links(entry.get("links", []))
            return
        ctype = response.headers.get("Content-Type", b"").decode("latin-1").split(";")[0].strip().lower()
        if ctype not in self.cfg.content_types:
            self.counts["skipped_content_type"] += 1
            return
        links = [link.url for link in self.links.extract_links(response)]
        onsite = [u for u in links if on_allowed_host(u, self.allowed_domains)]
        self.offsite_seen.update(set(links) - set(onsite))
        sha = hashlib.sha256(response.body).hexdigest()
        if entry.get("sha256") == sha:
            self.counts["unchanged"] += 1
            self._refresh_validators(entry, response)
        else:
            self.counts["changed" if entry else "new"] += 1
            self.spool.add(self._page(response, sha, onsite))
        yield from self._follow_links(onsite)

    def _refresh_validators(self, entry: dict[str, Any], response: Response) -> None:
        """Same bytes under new validators (a server that rotates ETags): record them, so the
        next crawl's conditional request can get a 304. Safe before any upload: the page is
        already in the part the entry names."""
        etag = (response.headers.get("ETag") or b"").decode("latin-1") or None
        modified = (response.headers.get("Last-Modified") or b"").decode("latin-1") or None
        if (etag, modified) != (entry.get("etag"), entry.get("last_modified")):
            self.ledger.put({**entry, "etag": etag, "last_modified": modified})

    def _follow_links(self, urls: list[str]):
        for url in urls:
            yield self._page_request(url)

    def _page(self, response: Response, sha: str, links: list[str]) -> Page:
        def text(v: bytes) -> str:
            return v.decode("latin-1")

        headers = [(text(k), text(v)) for k, vs in response.headers.items() for v in vs]
        req_headers = [(text(k), text(v)) for k, vs in response.request.headers.items() for v in vs]
        req_headers.insert(0, ("Host", response.request.url.split("/")[2]))
        entry = {"url": canonicalize_url(response.url), "sha256": sha, "crawl_id": self.crawl_id,
                 "etag": text(response.headers.get("ETag") or b"") or None,
                 "last_modified": text(response.headers.get("Last-Modified") or b"") or None,
                 "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 "status": response.status, "links": links}
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = ""
        return Page(response.url, response.status, reason, headers, response.body, req_headers,
                    entry, self._media(response) if self.cfg.collect_media else [])

    def _media(self, response: Response) -> list[dict[str, str]]:
        """Image/audio/video URLs of a page (``src`` of the tag or of its ``<source>``)."""
        out, seen = [], set()
        for tag, kind in _MEDIA_TAGS.items():
            for src in response.css(f"{tag}::attr(src), {tag} source::attr(src)").getall():
                url = canonicalize_url(response.urljoin(src.strip()))
                if url.startswith(("http://", "https://")) and url not in seen:
                    seen.add(url)
                    out.append({"url": url, "kind": kind, "page": response.url,
                                "crawl_id": self.crawl_id})
        return out

    def on_error(self, failure) -> None:
        """Count a failed request by why it failed (robots, HTTP status, timeout, ...)."""
        request = failure.request
        if failure.check(HttpError):
            self.errors[str(failure.value.response.status)] += 1
        elif failure.check(IgnoreRequest):
            if "robots" in str(failure.value).lower():
                self.counts["refused_robots"] += 1
                if len(self.refused_robots) < MAX_LISTED:
                    self.refused_robots.append(request.url)
            else:
                self.counts["ignored"] += 1
        else:
            name = type(failure.value).__name__
            self.errors["timeout" if "Timeout" in name else name] += 1
        log.info("failed %s: %s", request.url, failure.getErrorMessage())

    def _closed(self, spider, reason: str) -> None:
        """Upload the last part and build the summary (Scrapy's stats plus our counters)."""
        self.spool.close()
        stats = self.crawler.stats.get_stats()
        for key, n in stats.items():  # a bug in a callback is an error too, not silence
            if key.startswith("spider_exceptions/") and key != "spider_exceptions/count":
                self.errors[key.split("/", 1)[1]] += n
        self.summary = {
            "finish_reason": reason,
            "pages_fetched": self.counts["fetched"],
            "pages_written": self.spool.written,
            "pages_new": self.counts["new"],
            "pages_changed": self.counts["changed"],
            "pages_unchanged": self.counts["unchanged"],
            "not_modified": self.counts["not_modified"],
            "skipped_content_type": self.counts["skipped_content_type"],
            "refused_robots": self.counts["refused_robots"],
            "refused_robots_urls": sorted(self.refused_robots),
            "offsite": len(self.offsite_seen) + stats.get("offsite/filtered", 0),
            "offsite_urls": sorted(self.offsite_seen)[:MAX_LISTED],
            "too_deep": stats.get("depth/request_ignored_count", 0),
            "duplicates_filtered": stats.get("dupefilter/filtered", 0),
            "retries": stats.get("retry/count", 0),
            "errors": dict(sorted(self.errors.items())),
            "bytes": stats.get("downloader/response_bytes", 0),
            "requests": stats.get("downloader/request_count", 0),
            "max_depth_reached": stats.get("request_depth_max", 0),
            "media_urls": self.spool.media_urls,
            "parts": self.spool.parts,
        }
