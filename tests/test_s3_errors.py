"""What an S3 store says when the endpoint is wrong: real servers, real sockets, no mocks.

A plain web server (http.server in a thread) stands for "an endpoint that is not S3", a closed
port for "the server is down", and the SeaweedFS fixture for a real S3 server.
"""

from __future__ import annotations

import http.server
import logging
import os
import pickle
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.errors import (
    BucketNotFoundError,
    EndpointNotS3Error,
    StoreConfigError,
    StoreUnreachableError,
    TransientStoreError,
)
from storage.retry import RetryPolicy
from storage.s3 import S3Store

ROOT = Path(__file__).resolve().parents[1]
CREDS = {"AWS_ACCESS_KEY_ID": "kho-test-access", "AWS_SECRET_ACCESS_KEY": "kho-test-secret"}
CREDS_KW = {"access_key": CREDS["AWS_ACCESS_KEY_ID"], "secret_key": CREDS["AWS_SECRET_ACCESS_KEY"]}
FAST = RetryPolicy(max_attempts=5, base_delay_s=0.01, max_delay_s=0.05)


class WebServer:
    """A real HTTP server on 127.0.0.1 answering every request with one HTML page."""

    def __init__(self, status: int = 404, title: str = "Welcome to nginx!") -> None:
        self.requests = 0
        outer = self
        body = (f"<!DOCTYPE html><html><head><title>{title}</title></head>"
                f"<body><h1>{title}</h1>{'<p>filler</p>' * 200}</body></html>").encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def answer(self) -> None:
                outer.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = answer

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.httpd.server_port}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def web() -> Iterator[WebServer]:
    server = WebServer()
    yield server
    server.stop()


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def _store(endpoint: str, retry: RetryPolicy = FAST, **kw) -> S3Store:
    return S3Store(endpoint, "kho-bucket", "data", retry=retry, **CREDS_KW, **kw)


@pytest.mark.parametrize("region", [None, "us-east-1"])  # with a region minio skips ?location
def test_a_web_server_is_named_as_not_s3_in_one_line(web: WebServer, region) -> None:
    store = _store(web.endpoint, region=region)
    for op in (lambda: store.put_bytes("k", b"1"), lambda: store.get_bytes("k"),
               lambda: list(store.list("")), lambda: store.delete("k")):
        before = web.requests
        started = time.monotonic()
        with pytest.raises(EndpointNotS3Error) as err:
            op()
        assert time.monotonic() - started < 2
        assert web.requests - before == 1  # a web page is not retried
        msg = str(err.value)
        assert msg.startswith(f"http://{web.endpoint} ")
        assert "HTTP 404 text/html" in msg and "'Welcome to nginx!'" in msg
        assert "check the endpoint" in msg
        assert "\n" not in msg and "filler" not in msg and len(msg) < 400


def test_a_proxy_503_page_is_retried_then_reported() -> None:
    server = WebServer(status=503, title="503 Service Temporarily Unavailable")
    try:
        store = _store(server.endpoint, region="us-east-1")
        with pytest.raises(TransientStoreError) as err:
            store.put_bytes("k", b"1")
        assert server.requests == FAST.max_attempts
        msg = str(err.value)
        assert "HTTP 503 text/html" in msg and f"{FAST.max_attempts} attempts" in msg
        assert server.endpoint in msg and "\n" not in msg
    finally:
        server.stop()


def test_a_down_server_fails_fast_with_one_warning(closed_port: int, caplog) -> None:
    store = _store(f"127.0.0.1:{closed_port}", retry=RetryPolicy())  # the production default
    caplog.set_level(logging.DEBUG, logger="storage.retry")
    started = time.monotonic()
    with pytest.raises(StoreUnreachableError) as err:
        store.put_bytes("k", b"1")
    elapsed = time.monotonic() - started
    assert elapsed < 4, f"took {elapsed:.1f}s"  # was ~20 s of retries
    msg = str(err.value)
    assert f"cannot reach S3 endpoint http://127.0.0.1:{closed_port} (connection refused)" in msg
    assert "\n" not in msg and "HTTPConnectionPool" not in msg
    retry_logs = [r for r in caplog.records if r.name == "storage.retry"]
    warnings = [r for r in retry_logs if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "retrying" in warnings[0].getMessage()
    assert len(retry_logs) == RetryPolicy().first_contact_attempts - 1
    assert all(r.levelno == logging.DEBUG for r in retry_logs[1:])


def test_a_server_that_answered_before_gets_the_full_budget(monkeypatch) -> None:
    for name, value in CREDS.items():  # a pickled store reads them from the environment
        monkeypatch.setenv(name, value)
    server = WebServer()
    store = _store(server.endpoint)
    with pytest.raises(EndpointNotS3Error):
        store.get_bytes("k")  # an answer: the endpoint is live
    copy = pickle.loads(pickle.dumps(store))
    server.stop()  # now connections are refused
    for s in (store, copy):
        with pytest.raises(StoreUnreachableError, match=f"{FAST.max_attempts} attempts"):
            s.get_bytes("k")


def test_a_pickled_store_rides_out_a_restart_on_its_first_call(s3_server) -> None:
    """A Beam worker's copy of a store that reached its server retries in full at once."""
    store = S3Store(s3_server.endpoint, f"kho-{uuid.uuid4().hex[:12]}", create_bucket=True,
                    retry=RetryPolicy(max_attempts=12, base_delay_s=0.2, max_delay_s=2.0))
    worker_copy = pickle.loads(pickle.dumps(store))
    s3_server.stop()
    restarter = threading.Timer(2.0, s3_server.start)
    restarter.start()
    try:
        worker_copy.put_bytes("during-outage", b"survived")
    finally:
        restarter.join()
    assert store.get_bytes("during-outage") == b"survived"


def test_the_missing_bucket_message_gives_real_ways_to_create_it(s3_server) -> None:
    store = S3Store(s3_server.endpoint, "kho-no-such-bucket-here")
    with pytest.raises(BucketNotFoundError) as err:
        store.put_bytes("x", b"1")
    msg = str(err.value)
    assert "--create-bucket" not in msg
    assert "`mc mb ALIAS/kho-no-such-bucket-here`" in msg and "create_bucket=True" in msg


def _kho(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **CREDS}
    env.pop("KHO_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_prints_a_not_s3_endpoint_as_one_line(web: WebServer) -> None:
    result = _kho("datasets", "list", "--store", f"s3://kho/x?endpoint=http://{web.endpoint}")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: http://{web.endpoint} does not speak S3")
    assert lines[0].endswith("(KHO_DEBUG=1 shows the traceback)")


def test_cli_prints_a_down_server_as_one_warning_and_one_error(closed_port: int) -> None:
    started = time.monotonic()
    result = _kho("datasets", "list", "--store", f"s3://kho/x?endpoint=http://127.0.0.1:{closed_port}")
    assert time.monotonic() - started < 15  # interpreter start included; was ~20 s of retries
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("WARNING storage.retry: list s3://kho/datasets failed "
                               "(connection refused); retrying")
    assert lines[1].startswith(f"error: cannot reach S3 endpoint http://127.0.0.1:{closed_port}")
    assert "Traceback" not in result.stderr and "urllib3" not in result.stderr


def test_a_retry_deadline_stops_retrying_before_the_attempts_run_out() -> None:
    from storage.retry import RetryBudgetExhausted, call_with_retry

    now = [0.0]
    calls = []

    def fail() -> None:
        calls.append(now[0])
        now[0] += 2.0  # each attempt takes 2 s (a stalled request until its read timeout)
        raise TimeoutError("stalled")

    policy = RetryPolicy(max_attempts=20, base_delay_s=1.0, max_delay_s=1.0, deadline_s=10.0)
    with pytest.raises(RetryBudgetExhausted) as err:
        call_with_retry(fail, is_transient=lambda e: True, policy=policy, what="put k",
                        sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0])
    # attempts start at 0, 2.5-3, 5-6 and 7.5-9 s; after the 4th (ending at 9.5-11 s) the
    # next wait would end past 10 s, so the 16 attempts left are not made
    assert len(calls) == 4 and err.value.attempts == 4
    assert err.value.deadline_s == 10.0 and "10s deadline" in str(err.value)
    assert all(t <= 10.0 for t in calls)


def test_the_retry_deadline_and_attempts_come_from_the_environment(monkeypatch) -> None:
    from storage.s3 import retry_policy_from_env

    monkeypatch.setenv("KHO_S3_RETRY_ATTEMPTS", "20")
    monkeypatch.setenv("KHO_S3_RETRY_DEADLINE_S", "1")
    server = WebServer(status=503, title="503 Service Temporarily Unavailable")
    try:
        store = _store(server.endpoint, retry=retry_policy_from_env(), region="us-east-1")
        with pytest.raises(TransientStoreError) as err:
            store.put_bytes("k", b"1")
        assert 2 <= server.requests < 20
        assert "KHO_S3_RETRY_DEADLINE_S=1" in str(err.value)
    finally:
        server.stop()
    for var, value in (("KHO_S3_RETRY_ATTEMPTS", "many"), ("KHO_S3_RETRY_DEADLINE_S", "0")):
        monkeypatch.setenv(var, value)
        with pytest.raises(StoreConfigError, match="KHO_S3_RETRY_ATTEMPTS must be"):
            retry_policy_from_env()
        monkeypatch.delenv(var)
    assert retry_policy_from_env() == RetryPolicy()
