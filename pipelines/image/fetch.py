"""Fetch the images an image-caption list names by URL, politely.

An img2dataset-style list (a URL column and a caption column) names images on other
people's servers. :class:`PoliteFetcher` downloads them the way a well-behaved crawler
does: it identifies itself, obeys robots.txt (fetched once per host and cached), keeps to
a per-host concurrency and request rate (raised by ``Crawl-delay``), backs off and honours
``Retry-After`` when a server is struggling, refuses images whose ``X-Robots-Tag`` header
opts out of AI use (``noai`` / ``noimageai``), and never reads more than ``max_bytes``.

Every outcome is a :class:`FetchResult`; network and HTTP problems never raise. A failed
result carries a short machine code in ``reason`` (the closed set is :data:`REASONS`) so
that a reader can turn it into a quarantine row and the run report can count it.

There is no Beam here: a reader calls :meth:`PoliteFetcher.fetch_many` for the URLs of one
list file and gets the results back in input order.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import requests
import urllib3
from pydantic import BaseModel, ConfigDict, Field
from requests.adapters import HTTPAdapter

log = logging.getLogger(__name__)

DEFAULT_USER_AGENT = "KhoBot/0.1 (+https://github.com/kho-data/kho; data@kho.example)"

#: The key :meth:`PoliteFetcher.counts` uses for successful fetches.
OK = "ok"

#: Why a fetch failed: the closed set of ``FetchResult.reason`` codes. ``http_<status>``
#: stands for the codes made from an HTTP status (``http_404``, ``http_503``, ...).
REASONS: dict[str, str] = {
    "robots_disallowed": "robots.txt of the URL's host disallows it for our user agent. A "
                         "robots.txt answering 401/403, 5xx or 429 after retries, or that "
                         "cannot be fetched at all, disallows the whole host (conservative).",
    "x_robots_noai": "the response's X-Robots-Tag header says noai or noimageai for all "
                     "agents or ours; the content is dropped",
    "too_large": "Content-Length, or the body read so far, is over max_bytes",
    "not_an_image": "the Content-Type is missing or not one of the accepted content_types",
    "http_<status>": "the server answered with this status (429 and 5xx after retries)",
    "timeout": "connecting, a read, or reading the whole body took longer than timeout_s "
               "(after retries)",
    "connection_error": "the connection failed or broke (after retries)",
    "bad_url": "the URL (or a redirect's target) cannot be parsed, has no host, or its "
               "scheme is not in allowed_schemes",
    "too_many_redirects": "more than max_redirects redirects",
}

_NOAI_DIRECTIVES = frozenset({"noai", "noimageai"})
#: X-Robots-Tag directives that carry a value after a colon (so they are not agent scopes).
_VALUED_DIRECTIVES = frozenset({"unavailable_after", "max-snippet", "max-image-preview",
                                "max-video-preview"})
_ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 asks parsers to read at least 500 KiB
_CHUNK = 64 * 1024


def is_known_reason(reason: str) -> bool:
    """Whether ``reason`` is one of :data:`REASONS` (``http_<status>`` with a real status).

    Downstream code (quarantine rows, the run report) can assert on it so that a new code
    is a deliberate change to the closed set, not a typo."""
    if reason in REASONS and reason != "http_<status>":
        return True
    code = reason.removeprefix("http_")
    return reason.startswith("http_") and code.isdigit() and len(code) == 3


class FetchSettings(BaseModel):
    """How politely, and how much, to fetch.

    ``per_host_rate`` is the most request starts per second to one host (its inverse is
    the least interval between two starts); a robots.txt ``Crawl-delay`` or
    ``Request-rate`` for our agent raises that interval when it is longer. Hosts are told
    apart by host name, ports and schemes together, so one server is never hit harder
    because it answers on two ports. ``retries`` is the number of retries (so up to
    ``retries + 1`` tries) of one URL's fetch, for connection errors, timeouts, 429 and 5xx;
    delays double from ``backoff_s`` with jitter, or follow ``Retry-After`` on 429/503.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    user_agent: str = Field(DEFAULT_USER_AGENT, pattern=r"^[^\s/]", description=(
        "Sent on every request and matched against robots.txt and X-Robots-Tag scopes by its "
        "product token (the part before the first '/'). Name the project and a contact."))
    per_host_concurrency: int = Field(2, ge=1, le=64)
    per_host_rate: float = Field(2.0, gt=0, description="Request starts per second per host.")
    max_workers: int = Field(16, ge=1, le=256, description=(
        "Threads in all; fetch_many keeps at most max_workers * 4 URLs in flight or buffered."))
    timeout_s: float = Field(15.0, gt=0, description=(
        "Bounds connecting, each read, and reading the whole body of one try."))
    retries: int = Field(3, ge=0, le=20)
    backoff_s: float = Field(0.5, ge=0)
    max_wait_s: float = Field(30.0, ge=0, description=(
        "Longest single wait before a retry. A Retry-After above it ends the retries: we do "
        "not come back sooner than the server asked."))
    max_bytes: int = Field(20_000_000, ge=1)
    max_redirects: int = Field(5, ge=0, le=30)
    respect_robots: bool = True
    honour_x_robots: bool = True
    allowed_schemes: tuple[str, ...] = ("http", "https")
    content_types: tuple[str, ...] = Field(("image/*",), min_length=1, description=(
        "Accepted media types: exact ('image/png') or a whole family ('image/*')."))
    trust_env: bool = Field(True, description=(
        "Let requests read proxies and .netrc from the environment."))

    @property
    def agent_token(self) -> str:
        """Our product token ('KhoBot'), the name robots.txt groups and X-Robots-Tag scopes use."""
        return self.user_agent.split("/", 1)[0].split()[0]


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The outcome of fetching one URL.

    ``ok`` results carry ``content``; failed ones carry ``reason`` (one of :data:`REASONS`)
    and never content. ``status`` is the last HTTP status seen (None when no answer came),
    ``final_url`` the URL after redirects (the last one tried when it failed),
    ``attempts`` the tries of the request: 0 when none was sent (bad_url, or robots said
    no), else 1 plus the retries made (redirect hops are not tries), and ``elapsed_s``
    the wall time of the whole fetch, waits for politeness included."""

    url: str
    ok: bool
    status: int | None
    content: bytes | None = field(repr=False)
    content_type: str | None
    final_url: str
    reason: str | None
    message: str
    attempts: int
    elapsed_s: float


class _Failed(Exception):
    """One try failed; ``retryable`` says whether another try may help."""

    def __init__(self, reason: str, message: str, *, status: int | None = None,
                 retryable: bool = False, retry_after: float | None = None,
                 content_type: str | None = None) -> None:
        super().__init__(message)
        self.reason, self.message, self.status = reason, message, status
        self.retryable, self.retry_after, self.content_type = retryable, retry_after, content_type


@dataclass(frozen=True, slots=True)
class _Answer:
    """What one successful try brought back."""

    status: int
    content: bytes
    content_type: str | None


class _HostGate:
    """Per-host politeness: at most ``concurrency`` requests at once, and at least
    ``interval`` seconds between two request starts."""

    def __init__(self, concurrency: int, interval: float) -> None:
        self._cond = threading.Condition()
        self._concurrency, self._interval = concurrency, interval
        self._active = 0
        self._last_start: float | None = None
        self._not_before = 0.0

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the host's request slots, started no sooner than the rate allows."""
        self._acquire()
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    def _acquire(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                if self._active < self._concurrency:
                    start_at = self._not_before
                    if self._last_start is not None:
                        start_at = max(start_at, self._last_start + self._interval)
                    if now >= start_at:
                        self._active += 1
                        self._last_start = now
                        return
                    self._cond.wait(start_at - now)
                else:
                    self._cond.wait()

    def raise_interval(self, interval: float) -> None:
        """Space request starts at least ``interval`` apart from now on (Crawl-delay)."""
        with self._cond:
            self._interval = max(self._interval, interval)

    def defer(self, seconds: float) -> None:
        """Start no request to this host for ``seconds`` (the server's Retry-After)."""
        with self._cond:
            self._not_before = max(self._not_before, time.monotonic() + seconds)


@dataclass
class _RobotsEntry:
    """One host's robots.txt verdict, filled once by the first thread that needs it."""

    ready: threading.Event = field(default_factory=threading.Event)
    parser: RobotFileParser | None = None
    note: str = ""


def x_robots_forbids_ai(values: Iterable[str], agent_token: str) -> bool:
    """Whether X-Robots-Tag header values opt out of AI use for ``agent_token``.

    Each value is a comma-separated list of directives; ``name: directive`` scopes the
    directive, and those after it in the same header line, to one user agent. ``noai``
    and ``noimageai`` count when unscoped, scoped to ``*``, or scoped to our token; case
    does not matter. Other agents' directives do not bind us."""
    ours = agent_token.lower()
    for value in values:
        scope: str | None = None
        for part in value.split(","):
            directive = part.strip().lower()
            head, sep, rest = directive.partition(":")
            head = head.strip()
            if sep and head and head not in _VALUED_DIRECTIVES and " " not in head:
                scope, directive = head, rest.strip()
            if directive in _NOAI_DIRECTIVES and scope in (None, "*", ours):
                return True
    return False


def _header_values(response: requests.Response, name: str) -> list[str]:
    """Every value of a header, one per header line (requests alone joins them with ', ')."""
    raw_headers = getattr(response.raw, "headers", None)
    if raw_headers is not None and hasattr(raw_headers, "getlist"):
        return list(raw_headers.getlist(name))
    value = response.headers.get(name)
    return [value] if value is not None else []


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _accepts(media_type: str, patterns: Iterable[str]) -> bool:
    """Whether a media type is one of the accepted patterns ('image/png' or 'image/*')."""
    for pattern in patterns:
        pattern = pattern.strip().lower()
        if pattern.endswith("/*") and media_type.startswith(pattern[:-1]) and media_type != pattern[:-1]:
            return True
        if media_type == pattern:
            return True
    return False


def _parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or an HTTP date); None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _classify(exc: BaseException) -> _Failed:
    """Turn a requests/urllib3 error into a failure code; timeouts and broken connections retry."""
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                        requests.exceptions.InvalidSchema, requests.exceptions.URLRequired,
                        urllib3.exceptions.LocationParseError)):
        return _Failed("bad_url", f"the URL cannot be requested: {exc}")
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return _Failed("too_many_redirects", f"too many redirects: {exc}")
    timed_out = isinstance(exc, (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError,
                                 TimeoutError))
    if not timed_out and exc.args and isinstance(exc.args[0], urllib3.exceptions.TimeoutError):
        timed_out = True  # requests wraps a read timeout while streaming in ConnectionError
    if timed_out:
        return _Failed("timeout", f"the server did not answer in time ({type(exc).__name__})",
                       retryable=True)
    return _Failed("connection_error", f"the connection failed: {type(exc).__name__}: {exc}",
                   retryable=True)


_NETWORK_ERRORS = (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError)


class PoliteFetcher:
    """Fetches URLs concurrently while keeping to each host's robots.txt, rate and limits.

    Thread-safe. robots.txt verdicts and per-host gates live as long as the fetcher, so
    use one fetcher for a whole list file (or run). Close it (or use it as a context
    manager) to end its threads and connections."""

    def __init__(self, settings: FetchSettings | None = None) -> None:
        self.settings = settings or FetchSettings()
        self._lock = threading.Lock()
        self._gates: dict[str, _HostGate] = {}
        self._robots: dict[str, _RobotsEntry] = {}
        self._counts: Counter[str] = Counter()
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._pool: ThreadPoolExecutor | None = None
        self._rng = random.Random()

    # -- public API -------------------------------------------------------------------

    def fetch(self, url: str) -> FetchResult:
        """Fetch one URL; every network or HTTP problem is a failed result, never an exception."""
        started = time.monotonic()
        result = self._fetch(url, started)
        with self._lock:
            self._counts[OK if result.ok else str(result.reason)] += 1
        log.debug("fetch %s: %s (%s, %d tries, %.2fs)", url, "ok" if result.ok else result.reason,
                  result.status, result.attempts, result.elapsed_s)
        return result

    def fetch_many(self, urls: Iterable[str]) -> Iterator[FetchResult]:
        """Fetch URLs concurrently and yield their results in input order.

        At most ``max_workers * 4`` URLs are taken from ``urls`` ahead of the one being
        yielded (in flight or finished and waiting their turn), so memory stays bounded
        however long the list is; per-host limits hold across all of them. Stopping early
        cancels the URLs not yet started."""
        pool = self._executor()
        window = self.settings.max_workers * 4
        source = iter(urls)
        pending: deque[Future[FetchResult]] = deque(
            pool.submit(self.fetch, url) for url in islice(source, window))
        try:
            while pending:
                result = pending.popleft().result()
                for url in islice(source, 1):
                    pending.append(pool.submit(self.fetch, url))
                yield result
        finally:
            for future in pending:
                future.cancel()

    def counts(self) -> dict[str, int]:
        """Outcomes so far: ``ok`` and each failure reason, for the run report."""
        with self._lock:
            return dict(self._counts)

    def close(self) -> None:
        """End the worker threads and close every connection."""
        with self._lock:
            pool, self._pool = self._pool, None
            sessions, self._sessions = self._sessions, []
        self._local = threading.local()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        for session in sessions:
            session.close()

    def __enter__(self) -> PoliteFetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- one URL ----------------------------------------------------------------------

    def _fetch(self, url: str, started: float) -> FetchResult:
        """Follow redirects and retry transient failures; the first definite outcome wins."""
        current, attempts, redirects = url, 0, 0
        while True:
            try:
                self._check_url(current)
                self._check_robots(current)
                attempts = max(attempts, 1)
                target, answer = self._try_once(current)
            except _Failed as failure:
                if failure.retryable and attempts and attempts <= self.settings.retries:
                    wait = self._retry_wait(attempts, failure)
                    if wait is not None:
                        time.sleep(wait)
                        attempts += 1
                        continue
                return self._failed(url, current, failure, attempts, started)
            if target is not None:
                redirects += 1
                if redirects > self.settings.max_redirects:
                    failure = _Failed("too_many_redirects", f"more than {self.settings.max_redirects} "
                                      f"redirects; the last pointed to {target}")
                    return self._failed(url, current, failure, attempts, started)
                current = target
                continue
            assert answer is not None
            return FetchResult(url=url, ok=True, status=answer.status, content=answer.content,
                               content_type=answer.content_type, final_url=current, reason=None,
                               message=f"fetched {len(answer.content)} bytes",
                               attempts=attempts, elapsed_s=time.monotonic() - started)

    def _failed(self, url: str, current: str, failure: _Failed, attempts: int,
                started: float) -> FetchResult:
        return FetchResult(url=url, ok=False, status=failure.status, content=None,
                           content_type=failure.content_type, final_url=current,
                           reason=failure.reason, message=failure.message, attempts=attempts,
                           elapsed_s=time.monotonic() - started)

    def _check_url(self, url: str) -> None:
        """Refuse what is not an absolute URL of an allowed scheme with a host."""
        if not isinstance(url, str) or not url.strip():
            raise _Failed("bad_url", f"not a URL: {url!r}")
        try:
            parts = urlsplit(url.strip())
            host = parts.hostname
        except ValueError as exc:
            raise _Failed("bad_url", f"{url!r} cannot be parsed as a URL: {exc}") from None
        allowed = tuple(s.lower() for s in self.settings.allowed_schemes)
        if parts.scheme.lower() not in allowed:
            raise _Failed("bad_url", f"{url!r} has scheme {parts.scheme!r}; only "
                          f"{', '.join(allowed)} are fetched (FetchSettings.allowed_schemes)")
        if not host:
            raise _Failed("bad_url", f"{url!r} names no host")

    def _retry_wait(self, attempts: int, failure: _Failed) -> float | None:
        """Seconds before the next try, or None when the server asked for longer than we wait."""
        if failure.retry_after is not None:
            if failure.retry_after > self.settings.max_wait_s:
                failure.message += (f"; the server asked to wait {failure.retry_after:.0f}s "
                                    f"(Retry-After), more than max_wait_s={self.settings.max_wait_s}")
                return None
            return failure.retry_after
        window = min(self.settings.max_wait_s, self.settings.backoff_s * 2 ** (attempts - 1))
        return window / 2 + self._rng.uniform(0, window / 2)

    def _try_once(self, url: str) -> tuple[str | None, _Answer | None]:
        """One GET within the host's gate: a redirect target, or the accepted answer."""
        gate = self._gate(url)
        with gate.slot():
            try:
                response = self._session().get(
                    url, stream=True, allow_redirects=False, timeout=self._timeout(),
                    headers={"Accept": "image/*,*/*;q=0.5"})
            except _NETWORK_ERRORS as exc:
                raise _classify(exc) from None
            with response:
                if response.is_redirect:
                    return urljoin(url, response.headers["Location"]), None
                self._check_status(response, gate)
                return None, self._accept(response)

    def _check_status(self, response: requests.Response, gate: _HostGate) -> None:
        """Fail on a non-2xx answer; 429 and 5xx may be retried, after Retry-After if given."""
        status = response.status_code
        if 200 <= status < 300:
            return
        retry_after = None
        if status in (429, 503):
            retry_after = _parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None:
                gate.defer(min(retry_after, self.settings.max_wait_s))
        raise _Failed(f"http_{status}", f"the server answered {status} {response.reason or ''}".strip(),
                      status=status, retryable=status == 429 or status >= 500,
                      retry_after=retry_after)

    def _accept(self, response: requests.Response) -> _Answer:
        """Check a 2xx answer's headers, then read its body within max_bytes."""
        status = response.status_code
        content_type = response.headers.get("Content-Type")
        if self.settings.honour_x_robots and x_robots_forbids_ai(
                _header_values(response, "X-Robots-Tag"), self.settings.agent_token):
            raise _Failed("x_robots_noai", "the server's X-Robots-Tag opts this image out of AI "
                          "use (noai/noimageai); it was not downloaded", status=status,
                          content_type=content_type)
        media_type = _media_type(content_type)
        if not _accepts(media_type, self.settings.content_types):
            raise _Failed("not_an_image", f"Content-Type is {media_type or 'missing'}, not one of "
                          f"{', '.join(self.settings.content_types)}", status=status,
                          content_type=content_type)
        declared = response.headers.get("Content-Length", "").strip()
        if declared.isdigit() and int(declared) > self.settings.max_bytes:
            raise _Failed("too_large", f"Content-Length {declared} is over max_bytes="
                          f"{self.settings.max_bytes}", status=status, content_type=content_type)
        content = self._read_body(response, self.settings.max_bytes, truncate=False)
        return _Answer(status=status, content=content, content_type=content_type)

    def _read_body(self, response: requests.Response, limit: int, *, truncate: bool) -> bytes:
        """Stream the body; past ``limit`` stop (and fail as too_large unless ``truncate``)."""
        deadline = time.monotonic() + self.settings.timeout_s
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(_CHUNK):
                size += len(chunk)
                if size > limit:
                    if truncate:
                        chunks.append(chunk[: len(chunk) - (size - limit)])
                        break
                    raise _Failed("too_large", f"the body is over max_bytes={limit}; reading "
                                  "stopped", status=response.status_code,
                                  content_type=response.headers.get("Content-Type"))
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise _Failed("timeout", f"reading the body took over timeout_s="
                                  f"{self.settings.timeout_s}", status=response.status_code,
                                  retryable=True)
        except _NETWORK_ERRORS as exc:
            failure = _classify(exc)
            failure.status = response.status_code
            raise failure from None
        return b"".join(chunks)

    # -- robots.txt -------------------------------------------------------------------

    def _check_robots(self, url: str) -> None:
        """Fail with robots_disallowed when the host's robots.txt says no to our agent."""
        if not self.settings.respect_robots:
            return
        entry = self._robots_entry(url)
        assert entry.parser is not None
        if not entry.parser.can_fetch(self.settings.user_agent, url):
            raise _Failed("robots_disallowed", f"{entry.note} disallows {url} for "
                          f"{self.settings.agent_token}")

    def _robots_entry(self, url: str) -> _RobotsEntry:
        """The host's robots verdict, fetching robots.txt once per scheme and host."""
        parts = urlsplit(url)
        origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        with self._lock:
            entry = self._robots.get(origin)
            owner = entry is None
            if entry is None:
                entry = self._robots[origin] = _RobotsEntry()
        if owner:
            try:
                entry.parser, entry.note = self._load_robots(origin)
            finally:
                if entry.parser is None:  # an unexpected error: stay on the safe side
                    entry.parser, entry.note = _disallow_all(), f"robots.txt of {origin} (unreadable)"
                entry.ready.set()
        else:
            entry.ready.wait()
        return entry

    def _load_robots(self, origin: str) -> tuple[RobotFileParser, str]:
        """Fetch and parse robots.txt; 4xx allows all, 401/403 and unreachable disallow all."""
        robots_url = f"{origin}/robots.txt"
        attempts = 1
        while True:
            try:
                status, text = self._get_robots(robots_url)
                break
            except _Failed as failure:
                wait = self._retry_wait(attempts, failure) if failure.retryable else None
                if wait is None or attempts > self.settings.retries:
                    log.warning("robots.txt of %s could not be fetched (%s: %s); fetching "
                                "nothing from that host", origin, failure.reason, failure.message)
                    return _disallow_all(), (f"robots.txt of {origin} could not be fetched "
                                             f"({failure.reason}), which")
                time.sleep(wait)
                attempts += 1
        note = f"robots.txt of {origin}"
        if status in (401, 403):
            return _disallow_all(), f"{note} (answered {status}, so all is disallowed)"
        if 400 <= status < 500:
            parser = RobotFileParser(robots_url)
            parser.allow_all = True
            return parser, note
        parser = RobotFileParser(robots_url)
        parser.parse(text.splitlines())
        self._apply_crawl_delay(origin, parser)
        return parser, note

    def _get_robots(self, robots_url: str) -> tuple[int, str]:
        """GET robots.txt within the host's gate; 429 and 5xx are retryable failures."""
        gate = self._gate(robots_url)
        with gate.slot():
            try:
                response = self._session().get(robots_url, stream=True, allow_redirects=True,
                                               timeout=self._timeout())
            except _NETWORK_ERRORS as exc:
                raise _classify(exc) from None
            with response:
                status = response.status_code
                if status == 429 or status >= 500:
                    self._check_status(response, gate)
                if not 200 <= status < 300:
                    return status, ""
                body = self._read_body(response, _ROBOTS_MAX_BYTES, truncate=True)
        return status, body.decode("utf-8", errors="replace")

    def _apply_crawl_delay(self, origin: str, parser: RobotFileParser) -> None:
        """Raise the host's request interval to robots.txt's Crawl-delay / Request-rate for us."""
        agent = self.settings.user_agent
        delays = [float(parser.crawl_delay(agent) or 0)]
        rate = parser.request_rate(agent)
        if rate is not None and rate.requests > 0:
            delays.append(rate.seconds / rate.requests)
        interval = max(delays)
        if interval > 1 / self.settings.per_host_rate:
            log.info("robots.txt of %s asks for %.1fs between requests; keeping to it", origin,
                     interval)
            self._gate(origin).raise_interval(interval)

    # -- shared plumbing --------------------------------------------------------------

    def _gate(self, url: str) -> _HostGate:
        """The politeness gate of the URL's host name (shared by its ports and schemes)."""
        host = (urlsplit(url).hostname or "").lower()
        with self._lock:
            gate = self._gates.get(host)
            if gate is None:
                gate = self._gates[host] = _HostGate(self.settings.per_host_concurrency,
                                                     1 / self.settings.per_host_rate)
            return gate

    def _timeout(self) -> tuple[float, float]:
        return (self.settings.timeout_s, self.settings.timeout_s)

    def _session(self) -> requests.Session:
        """This thread's session (requests sessions are not shared between threads)."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = self.settings.user_agent
            session.max_redirects = self.settings.max_redirects
            session.trust_env = self.settings.trust_env
            adapter = HTTPAdapter(pool_connections=8, pool_maxsize=self.settings.per_host_concurrency,
                                  max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.settings.max_workers,
                                                thread_name_prefix="kho-fetch")
            return self._pool


def _disallow_all() -> RobotFileParser:
    parser = RobotFileParser()
    parser.disallow_all = True
    return parser
