"""The crawl configuration (``kho crawl CRAWL.yaml``): what to fetch, how politely, how much.

Each bound maps onto one of Scrapy's own settings (see :func:`scrapy_settings` in
pipelines/crawl/spider.py), so Scrapy's machinery enforces it; unknown keys are errors.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.config import read_yaml, validate_model

DEFAULT_USER_AGENT = "KhoBot/0.1 (+https://github.com/kho-data/kho; dataset curation)"
_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class CrawlConfig(BaseModel):
    """One crawl of one source into one dataset's crawl folder."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(pattern=_NAME, description="Dataset whose ingest will read the WARCs.")
    source: str = Field(pattern=_NAME, description="Source name (the ingest config's sources[].name).")
    store: str | None = Field(None, description="Object store URI; --store / $KHO_STORE win over it.")
    seeds: list[str] = Field(default_factory=list, description="Start URLs (followed by links).")
    sitemaps: list[str] = Field(default_factory=list, description=(
        "sitemap.xml URLs (or a robots.txt, whose Sitemap: lines are read)."))
    allowed_domains: list[str] = Field(min_length=1, description=(
        "Host names the crawl may fetch (subdomains included); links elsewhere are counted "
        "as offsite and not fetched."))
    user_agent: str = Field(DEFAULT_USER_AGENT, min_length=8, description=(
        "Sent with every request and matched against robots.txt; name the project and a contact."))
    obey_robots: bool = True
    per_host_concurrency: int = Field(2, ge=1, le=64)
    delay_s: float = Field(0.5, ge=0, description="Delay between requests to one host (randomized 0.5-1.5x).")
    autothrottle: bool = Field(True, description="Adapt the delay to the server's latency (AutoThrottle).")
    max_depth: int = Field(5, ge=0, description="Links followed from a seed; 0: no limit.")
    max_pages: int = Field(1000, ge=0, description="Responses per crawl (robots.txt included); 0: no limit.")
    max_bytes: int = Field(1 << 30, ge=0, description="Response bytes per crawl; past it the crawl stops. 0: no limit.")
    max_page_bytes: int = Field(8 << 20, ge=1024, description="Largest response; a larger one is dropped.")
    max_seconds: float = Field(3600, ge=0, description="Wall time of the crawl; 0: no limit.")
    download_timeout_s: float = Field(30, gt=0, description="One request's timeout (counted as an error).")
    retries: int = Field(2, ge=0, le=10, description="Retries of a failed request (5xx, timeouts).")
    content_types: list[str] = Field(default_factory=lambda: ["text/html", "application/xhtml+xml"],
                                     min_length=1, description="Media types written to the WARC.")
    collect_media: bool = Field(False, description=(
        "Also record the image/audio/video URLs seen in pages (media-<n>.jsonl per WARC part)."))
    warc_records_per_file: int = Field(500, ge=1, description=(
        "Pages per WARC part: a part is uploaded, and its pages entered in the ledger, as it "
        "fills, so a killed crawl loses at most one part's pages."))

    @field_validator("seeds", "sitemaps")
    @classmethod
    def _http_urls(cls, urls: list[str]) -> list[str]:
        bad = [u for u in urls if not u.startswith(("http://", "https://"))]
        if bad:
            raise ValueError(f"use absolute http(s) URLs; got {', '.join(bad)}")
        return urls

    @field_validator("allowed_domains")
    @classmethod
    def _hosts(cls, hosts: list[str]) -> list[str]:
        bad = [h for h in hosts if "/" in h or ":" in h]
        if bad:
            raise ValueError(f"give host names without scheme or port; got {', '.join(bad)}")
        return [h.lower() for h in hosts]

    @model_validator(mode="after")
    def _something_to_fetch(self) -> "CrawlConfig":
        if not self.seeds and not self.sitemaps:
            raise ValueError("give at least one of seeds or sitemaps")
        return self


def load_crawl_config(path: str | Path) -> CrawlConfig:
    """Load and validate a crawl config; raises schemas.config.ConfigError naming the key."""
    return validate_model(CrawlConfig, read_yaml(path), str(path))
