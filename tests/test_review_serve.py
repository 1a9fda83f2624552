"""`kho review serve` as a user starts it: the real console entry point, a real port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_kho_review_serve_answers_on_loopback_and_stops_on_sigint(tmp_path: Path) -> None:
    port = _free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("KHO_")}, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "review", "serve", "--store",
                             str(tmp_path / "store"), "--port", str(port)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, page = time.monotonic() + 60, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2).read().decode()
                break
            except OSError:
                time.sleep(0.3)
        assert page is not None, f"no answer on port {port}: {proc.poll()}"
        assert 'id="login"' in page and 'name="csrf_token"' in page
        assert (tmp_path / "review.sqlite").exists()  # the default database, beside the store
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert f"http://127.0.0.1:{port}" in out
