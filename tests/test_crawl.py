"""`kho crawl` against local sites (tests/crawl_sites.py): what is fetched, what is refused
and why, the bounds, the WARC parts and ledger, re-crawls, resume after a kill, and the
WARC parts ingested into versions."""

from __future__ import annotations

import gzip
import io
import json
import os
from pathlib import Path

import pytest
import yaml
from warcio.archiveiterator import ArchiveIterator

from pipelines.crawl.config import DEFAULT_USER_AGENT, CrawlConfig, load_crawl_config
from pipelines.crawl.ledger import CrawlLedger
from pipelines.crawl.run import CrawlFailedError, run_crawl
from pipelines.sample_data.make_sample import NEWS
from schemas.config import ConfigError
from storage.base import ObjectStore
from storage.layout import crawl_media_key, crawl_warc_prefix
from storage.local import LocalStore
from tests.crawl_sites import Sites, article, serve

UA = "KhoBot/0.1 (+https://example.invalid/kho-tests; dataset curation)"


@pytest.fixture()
def sites():
    s, server = serve()
    yield s
    server.shutdown()


def _config(tmp: Path, sites: Sites, **over) -> Path:
    a, b = sites.base("localhost"), sites.base("127.0.0.1")
    cfg = {"dataset": "web", "source": "news", "seeds": [f"{a}/", f"{b}/"],
           "sitemaps": [f"{a}/sitemap.xml"], "allowed_domains": ["localhost", "127.0.0.1"],
           "user_agent": UA, "delay_s": 0, "autothrottle": False, "max_depth": 3,
           "download_timeout_s": 1, "retries": 0, "per_host_concurrency": 4,
           "collect_media": True, "warc_records_per_file": 3, **over}
    path = tmp / f"crawl-{len(list(tmp.glob('crawl-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _warc(store: ObjectStore, keys: list[str]) -> list[tuple[str, str]]:
    """(record type, target URI) of every record in the parts, in order."""
    out = []
    for key in keys:
        for rec in ArchiveIterator(io.BytesIO(store.get_bytes(key))):
            out.append((rec.rec_type, rec.rec_headers.get_header("WARC-Target-URI")))
    return out


def _written(store: ObjectStore, summary: dict) -> list[str]:
    return sorted(u for t, u in _warc(store, summary["parts"]) if t == "response")


def test_first_crawl_fetches_refuses_and_bounds(tmp_path: Path, sites: Sites) -> None:
    store = LocalStore(tmp_path / "store")
    s = run_crawl(_config(tmp_path, sites), store)
    a, b = sites.base("localhost"), sites.base("127.0.0.1")
    fetched = sites.fetched()

    # robots.txt: read first on each host, and its disallowed pages are never requested
    assert {"localhost/robots.txt", "127.0.0.1/robots.txt"} <= set(fetched)
    assert not [f for f in fetched if "/private/" in f or "/members/" in f]
    assert s["refused_robots"] == 2
    assert s["refused_robots_urls"] == [f"{b}/members/list", f"{a}/private/secret"]
    # the offsite link is counted, never requested (only the two hosts appear in the log)
    assert s["offsite_urls"] == ["http://offsite.invalid/page"]
    assert {e["host"] for e in sites.log} == {"localhost", "127.0.0.1"}
    # the trap is cut at max_depth (index 0 -> trap/1 at depth 1 ... trap/3 at depth 3)
    assert sorted(f for f in fetched if "/trap/" in f) == [f"localhost/trap/{n}" for n in (1, 2, 3)]
    assert s["too_deep"] == 1 and s["max_depth_reached"] == 3
    # the 404 and the slow page (2 s, timeout 1 s) are errors by kind; nothing else failed
    assert s["errors"] == {"404": 1, "timeout": 1}
    # a JSON response is fetched (its type is only known then) but not written
    assert "localhost/api/feed" in fetched and s["skipped_content_type"] == 1
    # every request carried the configured user agent
    assert {e["agent"] for e in sites.log} == {UA}
    # normalization: /news/1#top and /news/../news/2 are the pages already queued, fetched once
    assert fetched.count("localhost/news/1") == 1 and fetched.count("localhost/news/2") == 1
    assert s["duplicates_filtered"] >= 2

    # the WARC holds each HTML page once, a request record after each response, the
    # redirect under its target, the sitemap-only page, and nothing refused or failed
    pages = ["/", "/news/1", "/news/2", "/news/3", "/news/moved", "/trap/1", "/trap/2", "/trap/3"]
    expect = sorted([a + p for p in pages] + [f"{b}/", f"{b}/blog/1"])
    assert _written(store, s) == expect
    assert s["pages_written"] == s["pages_new"] == len(expect)
    records = _warc(store, s["parts"])
    assert [t for t, _ in records] == ["response", "request"] * len(expect)
    assert len(s["parts"]) == 4  # 10 pages, 3 per part
    assert all(k.startswith(crawl_warc_prefix("web", "news") + "/" + s["crawl_id"]) for k in s["parts"])
    assert s["bytes"] > 0 and s["finish_reason"] == "finished"

    # the ledger remembers validators and hashes; the summary is stored; media were listed
    entry = CrawlLedger(store, "web", "news").get(f"{a}/news/1")
    assert entry["etag"] and len(entry["sha256"]) == 64 and entry["crawl_id"] == s["crawl_id"]
    assert entry["part"] in s["parts"] and f"{a}/" in entry["links"]
    stored = json.loads(store.get_bytes(f"crawls/web/news/runs/{s['crawl_id']}/crawl.json"))
    assert stored == s and s["ingest_path"] == "store:crawls/web/news/warc/"
    assert "Dumping Scrapy stats" in store.get_text(f"crawls/web/news/runs/{s['crawl_id']}/crawl.log")
    media = [json.loads(line) for k in store.list("crawls/web/news/runs/")
             if k.key.endswith(".jsonl") for line in store.get_text(k.key).splitlines()]
    assert {(m["url"], m["kind"]) for m in media} == {(f"{b}/img/a.png", "image"),
                                                      (f"{b}/v/b.mp4", "video")}
    assert s["media_urls"] == 2


def test_trap_bounded_by_max_pages(tmp_path: Path, sites: Sites) -> None:
    store = LocalStore(tmp_path / "store")
    cfg = _config(tmp_path, sites, seeds=[sites.base("localhost") + "/trap/1"], sitemaps=[],
                  max_depth=0, max_pages=6, per_host_concurrency=1, collect_media=False)
    s = run_crawl(cfg, store)
    traps = [f for f in sites.fetched() if "/trap/" in f]
    assert s["finish_reason"] == "closespider_pagecount"
    assert 4 <= len(traps) <= 7  # robots.txt counts as a response; one may be in flight


def test_politeness_and_byte_bound(tmp_path: Path, sites: Sites) -> None:
    """One request at a time per host, AutoThrottle on; the crawl stops past max_bytes."""
    store = LocalStore(tmp_path / "store")
    s = run_crawl(_config(tmp_path, sites, per_host_concurrency=1, autothrottle=True,
                          delay_s=0.05, max_bytes=4000), store)
    assert s["finish_reason"] == "max_bytes"
    assert sites.max_active == {"localhost": 1, "127.0.0.1": 1}
    # (requests already handed to Scrapy's downloader still finish after the stop, so on a
    # site this small the count of pages is not much lower: the finish reason is the check)


def test_robots_ignored_when_asked(tmp_path: Path, sites: Sites) -> None:
    store = LocalStore(tmp_path / "store")
    s = run_crawl(_config(tmp_path, sites, seeds=[sites.base("localhost") + "/private/secret"],
                          sitemaps=[], obey_robots=False), store)
    assert "localhost/private/secret" in sites.fetched() and s["refused_robots"] == 0


def test_recrawl_writes_only_changed_pages(tmp_path: Path, sites: Sites) -> None:
    store = LocalStore(tmp_path / "store")
    a = sites.base("localhost")
    first = run_crawl(_config(tmp_path, sites), store)
    sites.pages[("localhost", "/news/2")] = article(*NEWS[5], ("/",))
    sites.log.clear()
    second = run_crawl(_config(tmp_path, sites), store)
    assert _written(store, second) == [f"{a}/news/2"]
    assert second["pages_changed"] == 1 and second["pages_new"] == 0
    # pages with an ETag were asked conditionally and answered 304 (/news/1, /news/moved);
    # /news/3 has no validators and the unchanged ones were compared by hash
    assert second["not_modified"] == 2
    assert second["pages_unchanged"] == first["pages_written"] - 1
    asked = {e["path"]: e["inm"] for e in sites.log if e["host"] == "localhost"}
    assert asked["/news/1"].startswith('"') and asked["/news/3"] == ""
    # links of a 304 page come from the ledger: the trap behind the index is still walked
    assert "/trap/3" in asked


def test_killed_crawl_resumes_without_rewriting(tmp_path: Path, sites: Sites,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalStore(tmp_path / "store")
    cfg = _config(tmp_path, sites, warc_records_per_file=2, per_host_concurrency=1)
    monkeypatch.setenv("KHO_CRASH_AT", "crawl_after_part_1")
    with pytest.raises(CrawlFailedError, match="rerun it to resume") as failed:
        run_crawl(cfg, store)
    assert "crawl_after_part_1" in str(failed.value)  # the log's last lines name the fault point
    killed = sorted(k.key for k in store.list("crawls/web/news/warc/"))
    assert len(killed) == 2  # parts 0 and 1 made it, the crash came after their ledger entries
    before = {u for t, u in _warc(store, killed) if t == "response"}
    monkeypatch.delenv("KHO_CRASH_AT")
    sites.log.clear()
    resumed = run_crawl(cfg, store)
    again = set(_written(store, resumed))
    assert before and not before & again  # nothing written twice
    assert len(before | again) == 10  # and together they hold the whole site
    # pages with an ETag that the killed crawl wrote were not sent again (304, no body)
    etagged = {u for u in before if "/news/" in u and not u.endswith("/news/3")}
    assert resumed["not_modified"] == len(etagged)


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"dataset": "web", "source": "news", "seeds": ["http://x/"],
                                   "allowed_domains": ["x"], "max_pagez": 3}))
    with pytest.raises(ConfigError, match="max_pagez"):
        load_crawl_config(bad)
    with pytest.raises(ValueError, match="seeds or sitemaps"):
        CrawlConfig(dataset="web", source="news", allowed_domains=["x"])
    with pytest.raises(ValueError, match="without scheme or port"):
        CrawlConfig(dataset="web", source="news", seeds=["http://x/"], allowed_domains=["x:80"])
    assert "http" in DEFAULT_USER_AGENT and "Kho" in DEFAULT_USER_AGENT


def _ingest_config(tmp: Path) -> Path:
    path = tmp / "ingest.yaml"
    path.write_text(yaml.safe_dump({"dataset": "web", "sources": [
        {"name": "news", "format": "warc", "license": "CC-BY-4.0",
         "paths": [f"store:{crawl_warc_prefix('web', 'news')}/"]}]}))
    return path


def _kept_urls(store: ObjectStore, run_id: str) -> list[str]:
    import pyarrow.parquet as pq

    keys = [o.key for o in store.list(f"datasets/web/shards/text/{run_id}/") if o.key.endswith(".parquet")]
    return sorted(u for k in keys for u in pq.read_table(io.BytesIO(store.get_bytes(k)),
                                                         columns=["url"]).column("url").to_pylist())


@pytest.mark.slow
def test_crawl_then_ingest_adds_only_changed_pages(tmp_path: Path, sites: Sites) -> None:
    """The issue's loop: crawl, ingest (v1); a page changes; crawl again, ingest (v2 adds it)."""
    from pipelines.config import load_ingest_config
    from pipelines.ingest import run_ingest

    store = LocalStore(tmp_path / "store")
    a, b = sites.base("localhost"), sites.base("127.0.0.1")
    first = run_crawl(_config(tmp_path, sites), store)
    r1 = run_ingest(load_ingest_config(_ingest_config(tmp_path)), store)
    assert r1.version == "v1" and r1.stats["funnel"]["read"] == first["pages_written"] == 10
    # the five articles pass the text filters; index, trap and blog-front pages are too short
    assert _kept_urls(store, r1.run_id) == sorted(
        [f"{a}/news/{p}" for p in ("1", "2", "3", "moved")] + [f"{b}/blog/1"])

    sites.pages[("localhost", "/news/2")] = article(*NEWS[5], ("/",))
    second = run_crawl(_config(tmp_path, sites), store)
    assert second["pages_written"] == 1 and len(second["parts"]) == 1
    r2 = run_ingest(load_ingest_config(_ingest_config(tmp_path)), store)
    assert r2.version == "v2"
    assert sorted(r2.skipped_inputs) == sorted(f"{store.uri.rstrip('/')}/{k}" for k in first["parts"])
    assert r2.stats["funnel"]["read"] == 1 and r2.stats["totals"]["kept"] == 1
    assert _kept_urls(store, r2.run_id) == [f"{a}/news/2"]

    # a crawl that finds nothing new writes no part, and the ingest has nothing to do
    third = run_crawl(_config(tmp_path, sites), store)
    assert third["pages_written"] == 0 and third["parts"] == []
    assert run_ingest(load_ingest_config(_ingest_config(tmp_path)), store).version is None


def test_cli_crawl_prints_the_summary(tmp_path: Path, sites: Sites) -> None:
    from typer.testing import CliRunner

    from pipelines.cli import app

    cfg = _config(tmp_path, sites, seeds=[sites.base("localhost") + "/news/1"], sitemaps=[], max_depth=1)
    store = str(tmp_path / "store")
    result = CliRunner().invoke(app, ["crawl", str(cfg), "--store", store])
    assert result.exit_code == 0, result.output
    assert "pages fetched" in result.output and "refused by robots.txt" in result.output
    assert 'store:crawls/web/news/warc/' in result.output
    result = CliRunner().invoke(app, ["crawl", str(cfg), "--store", store, "--json"])
    summary = json.loads(result.output)
    assert summary["pages_written"] == 0 and summary["not_modified"] == 1


def test_example_config_is_valid() -> None:
    cfg = load_crawl_config(Path(__file__).parents[1] / "pipelines/configs/crawl_example.yaml")
    assert cfg.user_agent == DEFAULT_USER_AGENT and cfg.collect_media


def test_crawl_and_recrawl_on_each_backend(tmp_path: Path, sites: Sites, store: ObjectStore) -> None:
    """The child process reopens the store from its URI (S3 credentials from the environment)."""
    cfg = _config(tmp_path, sites, seeds=[sites.base("localhost") + "/news/1"], sitemaps=[],
                  max_depth=1, warc_records_per_file=1)
    first = run_crawl(cfg, store)
    assert _written(store, first) == [sites.base("localhost") + p for p in ("/", "/news/1")]
    assert sorted(o.key for o in store.list(crawl_warc_prefix("web", "news") + "/")) == sorted(first["parts"])
    second = run_crawl(cfg, store)
    assert second["pages_written"] == 0 and second["not_modified"] == 1
