"""A Beam SDK worker pool as its own process, for tests that run Kho through the PortableRunner.

``python -m apache_beam.runners.worker.worker_pool_main --service_port=PORT`` is what a Flink or
Spark task manager runs beside itself (the worker-pool sidecar): a runner with
``--environment_type=EXTERNAL --environment_config=localhost:PORT`` asks it to start SDK worker
processes, which then pull their work over gRPC. The pool here runs in its own empty working
directory with its own temporary folder, so a pipeline that relies on the driver's cwd, the
driver's temp files or its module globals fails the way it would on a cluster.

Its worker processes are started as ``python -c ...`` (Beam's pool looks ``python`` up on
PATH), so the pool's PATH puts this interpreter's folder first.

``BeamJobService`` runs Beam's Python job service the same way, the jar-free stand-in for the
Flink or Spark job server, so driver, job server and SDK workers are three processes.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

#: How long the pool may take to import Beam and bind its port (a shared, busy machine).
START_TIMEOUT_S = 120.0


class BeamServiceError(RuntimeError):
    """A Beam service process did not start; the message carries the end of its log."""


def free_port() -> int:
    """A TCP port on localhost that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("localhost", port)) == 0


class _BeamService:
    """One Beam service module run as its own process: own cwd, own TMPDIR, log in a file."""

    module = ""
    what = "Beam service"

    def __init__(self, python: str | None = None, port: int | None = None,
                 unset: tuple[str, ...] = ()) -> None:
        """``unset``: environment variables the process must not inherit (e.g. credentials)."""
        self.python = python or sys.executable
        self.unset = unset
        self.port = port or free_port()
        self._tmp = tempfile.TemporaryDirectory(prefix="kho-beam-service-")
        self.workdir = Path(self._tmp.name) / "cwd"
        self.tempdir = Path(self._tmp.name) / "tmp"
        self.log_path = Path(self._tmp.name) / "service.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """``localhost:PORT``, where the service listens."""
        return f"localhost:{self.port}"

    def _args(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> "_BeamService":
        """Start the process and return once it accepts connections; BeamServiceError otherwise."""
        self.workdir.mkdir(parents=True)
        self.tempdir.mkdir(parents=True)
        env = dict(os.environ)
        env["PATH"] = str(Path(self.python).parent) + os.pathsep + env.get("PATH", "")
        env.update(TMPDIR=str(self.tempdir), PYTHONUNBUFFERED="1")
        env.pop("PYTHONPATH", None)  # workers must find Kho as installed, not via the driver's path
        for name in self.unset:
            env.pop(name, None)
        with open(self.log_path, "wb") as logf:
            self._proc = subprocess.Popen(
                [self.python, "-m", self.module, *self._args()],
                cwd=self.workdir, env=env, stdout=logf, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _listening(self.port):
            problem = None
            if self._proc.poll() is not None:
                problem = f"the {self.what} exited with {self._proc.returncode}"
            elif time.monotonic() > deadline:
                problem = f"the {self.what} did not listen on port {self.port} within {START_TIMEOUT_S:.0f} s"
            if problem:
                tail = self.log_text()[-3000:]
                self.stop()
                raise BeamServiceError(f"{problem}; its log ends:\n{tail}")
            time.sleep(0.2)
        log.info("%s pid %d listening on %s (cwd %s)", self.what, self._proc.pid, self.address,
                 self.workdir)
        return self

    def log_text(self) -> str:
        """The service's log so far (for the pool: its own lines and its workers' stderr)."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        """Stop the process and everything it started (its process group); remove its folders."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, 15)
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait(timeout=20)
            except ProcessLookupError:
                pass
        self._tmp.cleanup()

    def __enter__(self) -> "_BeamService":
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class BeamWorkerPool(_BeamService):
    """``worker_pool_main``: starts SDK worker processes when a runner asks (EXTERNAL environment).

    ``environment_config`` is the value for Beam's ``--environment_config``."""

    module = "apache_beam.runners.worker.worker_pool_main"
    what = "Beam worker pool"

    def _args(self) -> list[str]:
        return [f"--service_port={self.port}"]

    @property
    def environment_config(self) -> str:
        """``localhost:PORT``, what ``--environment_config`` names for an EXTERNAL environment."""
        return self.address

    def workers_started(self) -> int:
        """How many SDK worker processes the pool has started so far (from its log)."""
        return self.log_text().count("Starting worker with command")


class BeamJobService(_BeamService):
    """Beam's Python job service (``local_job_service_main``) as its own process: the role of
    the Flink or Spark job server, run without a jar; ``--job_endpoint`` is ``address``."""

    module = "apache_beam.runners.portability.local_job_service_main"
    what = "Beam job service"

    def _args(self) -> list[str]:
        return [f"--port={self.port}", f"--staging_dir={self.tempdir / 'staging'}"]
