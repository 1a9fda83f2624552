"""PoliteFetcher against a real local HTTP server: outcomes, retries, robots, politeness."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image

from pipelines.image.fetch import (REASONS, FetchSettings, PoliteFetcher, is_known_reason,
                                   x_robots_forbids_ai)

ROBOTS = ("User-agent: otherbot\nDisallow: /\n\n"
          "User-agent: *\nDisallow: /private/\n")


def _image_bytes(fmt: str, colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buf, format=fmt)
    return buf.getvalue()


PNG = _image_bytes("PNG", (200, 30, 30))
JPEG = _image_bytes("JPEG", (30, 200, 30))


@dataclass
class Site:
    """What the test server serves, and what it saw."""

    robots_status: int = 200
    robots_body: str = ROBOTS
    lock: threading.Lock = field(default_factory=threading.Lock)
    hits: Counter = field(default_factory=Counter)
    starts: list[tuple[float, str]] = field(default_factory=list)
    agents: set[str] = field(default_factory=set)
    active: int = 0
    max_active: int = 0
    base: str = ""

    def url(self, path: str) -> str:
        return self.base + path

    def image_starts(self) -> list[float]:
        return [t for t, path in self.starts if path != "/robots.txt"]


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            parts = urlsplit(self.path)
            path, query = parts.path, parse_qs(parts.query)
            with site.lock:
                site.hits[path] += 1
                hit = site.hits[path]
                site.starts.append((time.monotonic(), path))
                site.agents.add(self.headers.get("User-Agent", ""))
                site.active += 1
                site.max_active = max(site.max_active, site.active)
            try:
                time.sleep(int(query.get("ms", ["0"])[0]) / 1000)
                if path == "/slow":
                    time.sleep(1.0)
            finally:
                with site.lock:  # done before answering: the client cannot overlap us
                    site.active -= 1
            try:
                self._answer(path, hit)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading (too_large, timeout): expected

        def _send(self, status: int, body: bytes = b"", ctype: str = "image/png",
                  headers: Iterable[tuple[str, str]] = (), length: int | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _send_chunked(self, chunks: list[bytes]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in chunks:
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")

        def _answer(self, path: str, hit: int) -> None:
            x_robots = {"/noai.png": ["noai"], "/scoped-noai.png": ["KhoBot: noimageai"],
                        "/list-noai.png": ["noindex, NoAI"], "/star-noai.png": ["*: noai"],
                        "/two-lines.png": ["otherbot: noai", "noimageai"],
                        "/otherbot.png": ["otherbot: noai"]}
            if path == "/robots.txt":
                self._send(site.robots_status, site.robots_body.encode(), "text/plain")
            elif path in ("/img/a.png", "/private/a.png", "/slow"):
                self._send(200, PNG)
            elif path == "/img/b.jpg":
                self._send(200, JPEG, "image/jpeg")
            elif path in x_robots:
                self._send(200, PNG, headers=[("X-Robots-Tag", v) for v in x_robots[path]])
            elif path == "/flaky":
                self._send(500, b"busy", "text/plain") if hit < 3 else self._send(200, PNG)
            elif path == "/limited":
                if hit == 1:
                    self._send(429, b"slow down", "text/plain", [("Retry-After", "1")])
                else:
                    self._send(200, JPEG, "image/jpeg")
            elif path == "/big-declared":
                self._send(200, b"x" * 10_000)
            elif path == "/big-chunked":
                self._send_chunked([b"x" * 2_000] * 5)
            elif path == "/page.html":
                self._send(200, b"<html><body>hi</body></html>", "text/html; charset=utf-8")
            elif path == "/redirect":
                self._send(302, b"", "text/plain", [("Location", "/img/a.png")])
            elif path == "/redirect-private":
                self._send(302, b"", "text/plain", [("Location", "/private/a.png")])
            elif path == "/loop":
                self._send(302, b"", "text/plain", [("Location", "/loop")])
            else:
                self._send(404, b"not found", "text/plain")

    return Handler


@pytest.fixture
def site() -> Iterator[Site]:
    """A fresh server (and fresh server-side counters) for each test."""
    state = Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _settings(**overrides: object) -> FetchSettings:
    """Small limits so that every failure mode is reached in a fraction of a second."""
    values: dict[str, object] = dict(timeout_s=0.4, retries=2, backoff_s=0.01, max_bytes=4_000,
                                     per_host_rate=1000.0, per_host_concurrency=8, max_workers=8,
                                     trust_env=False)
    values.update(overrides)
    return FetchSettings(**values)


@pytest.fixture
def fetcher() -> Iterator[PoliteFetcher]:
    with PoliteFetcher(_settings()) as f:
        yield f


def test_images_are_fetched_with_their_bytes_and_type(site: Site, fetcher: PoliteFetcher) -> None:
    png, jpeg = fetcher.fetch(site.url("/img/a.png")), fetcher.fetch(site.url("/img/b.jpg"))
    assert (png.ok, png.status, png.reason, png.attempts) == (True, 200, None, 1)
    assert png.content == PNG and png.content_type == "image/png"
    assert jpeg.ok and jpeg.content == JPEG and jpeg.content_type == "image/jpeg"
    assert png.final_url == site.url("/img/a.png")


def test_every_request_carries_our_user_agent(site: Site, fetcher: PoliteFetcher) -> None:
    fetcher.fetch(site.url("/img/a.png"))
    assert site.hits["/robots.txt"] == 1
    assert site.agents == {fetcher.settings.user_agent}
    assert fetcher.settings.agent_token == "KhoBot"


def test_robots_disallowed_path_is_never_requested(site: Site, fetcher: PoliteFetcher) -> None:
    result = fetcher.fetch(site.url("/private/a.png"))
    assert (result.ok, result.reason, result.attempts, result.content) == (False, "robots_disallowed", 0, None)
    assert "/private/a.png" in result.message
    assert site.hits["/private/a.png"] == 0


def test_redirect_into_disallowed_path_is_checked_against_robots(site: Site, fetcher: PoliteFetcher) -> None:
    result = fetcher.fetch(site.url("/redirect-private"))
    assert (result.reason, result.attempts) == ("robots_disallowed", 1)
    assert result.final_url == site.url("/private/a.png")
    assert site.hits["/private/a.png"] == 0


def test_robots_txt_is_fetched_once_per_host(site: Site, fetcher: PoliteFetcher) -> None:
    results = list(fetcher.fetch_many([site.url("/img/a.png")] * 12))
    assert all(r.ok for r in results)
    assert site.hits["/robots.txt"] == 1


@pytest.mark.parametrize(("robots_status", "ok", "reason"), [
    (404, True, None),  # no robots.txt: everything allowed
    (401, False, "robots_disallowed"),
    (403, False, "robots_disallowed"),
    (500, False, "robots_disallowed"),  # unreachable robots: conservative, disallow all
])
def test_robots_txt_status_decides_the_host(site: Site, robots_status: int, ok: bool,
                                            reason: str | None) -> None:
    site.robots_status = robots_status
    with PoliteFetcher(_settings(retries=1)) as fetcher:
        result = fetcher.fetch(site.url("/img/a.png"))
    assert (result.ok, result.reason) == (ok, reason)
    assert site.hits["/img/a.png"] == (1 if ok else 0)
    assert site.hits["/robots.txt"] == (2 if robots_status == 500 else 1)  # 5xx retried once


def test_unreachable_robots_disallows_and_ignoring_robots_gives_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/a.png"  # nothing listens there any more
    with PoliteFetcher(_settings()) as fetcher:
        guarded = fetcher.fetch(url)
    with PoliteFetcher(_settings(respect_robots=False)) as fetcher:
        unguarded = fetcher.fetch(url)
    assert (guarded.reason, guarded.attempts) == ("robots_disallowed", 0)
    assert "could not be fetched" in guarded.message
    assert (unguarded.reason, unguarded.attempts, unguarded.status) == ("connection_error", 3, None)


@pytest.mark.parametrize("path", ["/noai.png", "/scoped-noai.png", "/list-noai.png",
                                  "/star-noai.png", "/two-lines.png"])
def test_x_robots_noai_for_us_drops_the_image(site: Site, fetcher: PoliteFetcher, path: str) -> None:
    result = fetcher.fetch(site.url(path))
    assert (result.ok, result.reason, result.content, result.status) == (False, "x_robots_noai", None, 200)


def test_x_robots_noai_for_another_bot_does_not_block_us(site: Site, fetcher: PoliteFetcher) -> None:
    result = fetcher.fetch(site.url("/otherbot.png"))
    assert result.ok and result.content == PNG


def test_x_robots_is_ignored_when_not_honoured(site: Site) -> None:
    with PoliteFetcher(_settings(honour_x_robots=False)) as fetcher:
        assert fetcher.fetch(site.url("/noai.png")).ok


def test_x_robots_parsing_scopes_and_case() -> None:
    assert x_robots_forbids_ai(["NOIMAGEAI"], "KhoBot")
    assert x_robots_forbids_ai(["khobot: noindex, noai"], "KhoBot")
    assert not x_robots_forbids_ai(["otherbot: noindex, noai"], "KhoBot")
    assert not x_robots_forbids_ai(["unavailable_after: 25 Jun 2010 15:00:00 PST, noindex"], "KhoBot")
    assert not x_robots_forbids_ai([], "KhoBot")


def test_http_errors_are_reported_by_status(site: Site, fetcher: PoliteFetcher) -> None:
    result = fetcher.fetch(site.url("/missing"))
    assert (result.ok, result.status, result.reason, result.attempts) == (False, 404, "http_404", 1)
    assert site.hits["/missing"] == 1  # a 404 is not retried


def test_server_error_is_retried_until_it_succeeds(site: Site, fetcher: PoliteFetcher) -> None:
    result = fetcher.fetch(site.url("/flaky"))
    assert (result.ok, result.attempts, result.content) == (True, 3, PNG)
    assert site.hits["/flaky"] == 3


def test_server_error_past_the_retries_fails_with_its_status(site: Site) -> None:
    with PoliteFetcher(_settings(retries=1)) as fetcher:
        result = fetcher.fetch(site.url("/flaky"))
    assert (result.ok, result.reason, result.status, result.attempts) == (False, "http_500", 500, 2)


def test_429_waits_for_retry_after(site: Site, fetcher: PoliteFetcher) -> None:
    result = fetcher.fetch(site.url("/limited"))
    assert (result.ok, result.attempts, result.content) == (True, 2, JPEG)
    first, second = [t for t, path in site.starts if path == "/limited"]
    assert second - first >= 0.95


def test_retry_after_longer_than_we_wait_ends_the_retries(site: Site) -> None:
    with PoliteFetcher(_settings(max_wait_s=0.5)) as fetcher:
        result = fetcher.fetch(site.url("/limited"))
    assert (result.reason, result.attempts) == ("http_429", 1)
    assert "Retry-After" in result.message


def test_slow_server_times_out_after_retries(site: Site) -> None:
    with PoliteFetcher(_settings(timeout_s=0.2, retries=1)) as fetcher:
        result = fetcher.fetch(site.url("/slow"))
    assert (result.ok, result.reason, result.attempts) == (False, "timeout", 2)
    assert site.hits["/slow"] == 2


def test_declared_content_length_over_max_bytes_is_too_large(site: Site, fetcher: PoliteFetcher) -> None:
    result = fetcher.fetch(site.url("/big-declared"))
    assert (result.ok, result.reason, result.content, result.attempts) == (False, "too_large", None, 1)


def test_streamed_body_over_max_bytes_is_too_large(site: Site, fetcher: PoliteFetcher) -> None:
    result = fetcher.fetch(site.url("/big-chunked"))
    assert (result.ok, result.reason, result.content) == (False, "too_large", None)
    with PoliteFetcher(_settings(max_bytes=20_000)) as roomy:
        assert len(roomy.fetch(site.url("/big-chunked")).content or b"") == 10_000


def test_html_is_not_an_image(site: Site, fetcher: PoliteFetcher) -> None:
    result = fetcher.fetch(site.url("/page.html"))
    assert (result.ok, result.reason, result.content) == (False, "not_an_image", None)
    assert result.content_type == "text/html; charset=utf-8"


def test_redirect_to_an_image_is_followed(site: Site, fetcher: PoliteFetcher) -> None:
    result = fetcher.fetch(site.url("/redirect"))
    assert (result.ok, result.content, result.attempts) == (True, PNG, 1)
    assert result.url == site.url("/redirect") and result.final_url == site.url("/img/a.png")


def test_redirect_loop_stops_at_max_redirects(site: Site, fetcher: PoliteFetcher) -> None:
    result = fetcher.fetch(site.url("/loop"))
    assert (result.ok, result.reason) == (False, "too_many_redirects")
    assert site.hits["/loop"] == fetcher.settings.max_redirects + 1


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/a.png", "not a url", "http:///a.png", "",
                                 "http://[::1/a.png"])
def test_bad_urls_are_refused_without_a_request(url: str, fetcher: PoliteFetcher) -> None:
    result = fetcher.fetch(url)
    assert (result.ok, result.reason, result.attempts, result.status) == (False, "bad_url", 0, None)


def test_fetch_many_yields_in_input_order_and_counts_outcomes(site: Site, fetcher: PoliteFetcher) -> None:
    urls = [site.url("/img/a.png?ms=150"), site.url("/missing"), site.url("/img/b.jpg?ms=60"),
            site.url("/private/a.png"), site.url("/noai.png"), site.url("/page.html"),
            site.url("/img/a.png"), site.url("/big-declared"), "ftp://x/y.png"]
    results = list(fetcher.fetch_many(urls))
    assert [r.url for r in results] == urls
    assert [r.reason for r in results] == [None, "http_404", None, "robots_disallowed",
                                           "x_robots_noai", "not_an_image", None, "too_large",
                                           "bad_url"]
    assert fetcher.counts() == {"ok": 3, "http_404": 1, "robots_disallowed": 1, "x_robots_noai": 1,
                                "not_an_image": 1, "too_large": 1, "bad_url": 1}
    assert all(is_known_reason(r.reason) for r in results if r.reason)


def test_fetch_many_reads_only_a_bounded_window_ahead(site: Site) -> None:
    pulled = 0

    def urls() -> Iterator[str]:
        nonlocal pulled
        for _ in range(100):
            pulled += 1
            yield site.url("/img/a.png")

    with PoliteFetcher(_settings(max_workers=2)) as fetcher:
        results = fetcher.fetch_many(urls())
        assert next(results).ok
        assert pulled <= 2 * 4 + 1
        results.close()


def test_per_host_concurrency_one_never_overlaps_requests(site: Site) -> None:
    urls = [site.url("/img/a.png?ms=50")] * 6
    with PoliteFetcher(_settings(per_host_concurrency=1)) as fetcher:
        assert all(r.ok for r in fetcher.fetch_many(urls))
    assert site.max_active == 1


def test_per_host_concurrency_above_one_does_overlap(site: Site) -> None:
    """The control for the test above: the server-side measure does see overlap."""
    urls = [site.url("/img/a.png?ms=100")] * 8
    with PoliteFetcher(_settings(per_host_concurrency=4)) as fetcher:
        assert all(r.ok for r in fetcher.fetch_many(urls))
    assert 2 <= site.max_active <= 4


def test_per_host_rate_spaces_request_starts(site: Site) -> None:
    urls = [site.url("/img/a.png")] * 5
    with PoliteFetcher(_settings(per_host_rate=5.0, per_host_concurrency=4)) as fetcher:
        assert all(r.ok for r in fetcher.fetch_many(urls))
    starts = sorted(t for t, _ in site.starts)  # robots.txt counts: it is a request too
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert len(gaps) == 5
    assert min(gaps) >= 0.2 - 0.03


def test_crawl_delay_for_our_agent_raises_the_interval(site: Site) -> None:
    site.robots_body = "User-agent: KhoBot\nCrawl-delay: 1\nDisallow: /private/\n"
    with PoliteFetcher(_settings()) as fetcher:
        assert fetcher.fetch(site.url("/img/a.png")).ok
    (robots_at, _), (image_at, _) = site.starts
    assert image_at - robots_at >= 0.95


def test_reason_set_is_closed() -> None:
    assert {"robots_disallowed", "x_robots_noai", "too_large", "not_an_image", "timeout",
            "connection_error", "bad_url", "too_many_redirects"} <= set(REASONS)
    assert is_known_reason("http_503") and not is_known_reason("http_5x") and not is_known_reason("oops")
