"""A multi-node SeaweedFS cluster on 127.0.0.1: one master, N volume servers, a filer, S3.

``tests/s3server.py`` runs everything in one ``weed mini`` process, which can show a server
restart but never a lost disk. This module starts each role as its own process from the same
``weed`` binary, so a test can SIGKILL one volume server, SIGSTOP the S3 gateway, or restart
any of them, and watch what Kho does:

* ``weed master`` with ``-defaultReplication=001``: every volume gets one more copy on another
  volume server of the same rack, so with three or more volume servers any one can be lost
  and every object still has a live copy (and new volumes can still be grown on the other
  two). Small volumes (``-volumeSizeLimitMB``) and a high ``-max`` per volume server, as in
  s3server.py, so the many buckets (collections) tests create fit whatever the disk.
* ``weed volume`` x N, each with its own folder and port, pointed at the master.
* ``weed filer`` with the same ``-defaultReplicaPlacement=001`` (the S3 gateway writes
  through the filer, which asks the master for volumes of that placement).
* ``weed s3`` on the filer, with the test credentials in an identities file.

Every port is a free one whose gRPC twin (port + 10000) is free too. Logs go to
``<root>/logs/<role>.log``. Run ``python -m tests.s3cluster --dir DIR`` to keep a cluster
in the foreground (Ctrl-C stops it); it prints the endpoint and the credentials to export.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.s3server import ACCESS_KEY, SECRET_KEY, _free_ports, _weed_binary

log = logging.getLogger(__name__)

#: Every volume has one extra copy on a different server of the same rack ("001"): the
#: placement that survives losing one volume server of three.
REPLICATION = "001"


class ClusterError(RuntimeError):
    """The cluster did not come up (or back) in time; the message names the log to read."""


@dataclass
class WeedProcess:
    """One ``weed`` role; ``kill``/``restart``/``pause``/``resume`` act on its real process."""

    name: str
    args: list[str]
    log_path: Path
    env: dict[str, str]
    proc: subprocess.Popen | None = None
    paused: bool = False

    def start(self) -> None:
        """Launch the process (in its own session, so signals reach only it)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            out.write(f"\n--- start {time.strftime('%H:%M:%S')}: {' '.join(self.args)}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT,
                                         env=self.env, start_new_session=True)
        self.paused = False

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise ClusterError(f"{self.name} is not running")
        return self.proc.pid

    def alive(self) -> bool:
        """Whether the process exists (a paused process is alive)."""
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: the process dies at once, with no shutdown of any kind (a lost node)."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.paused = False

    def stop(self, timeout_s: float = 15) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout_s``."""
        if not self.alive():
            return
        if self.paused:
            self.resume()
        os.kill(self.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def restart(self) -> None:
        """Start it again with the same folder and ports (after ``kill`` or ``stop``)."""
        if self.alive():
            self.stop()
        self.start()

    def pause(self) -> None:
        """SIGSTOP: the process stays, holds its sockets, and answers nothing (a slow node)."""
        os.kill(self.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        """SIGCONT after ``pause``."""
        os.kill(self.pid, signal.SIGCONT)
        self.paused = False


@dataclass
class S3Cluster:
    """The processes of one cluster and how to reach its S3 gateway."""

    root: Path
    master: WeedProcess
    volumes: list[WeedProcess]
    filer: WeedProcess
    s3: WeedProcess
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        """``host:port`` of the S3 gateway."""
        return f"127.0.0.1:{self.ports['s3']}"

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.endpoint}"

    def env(self) -> dict[str, str]:
        """The environment a client needs: the test credentials."""
        return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}

    def store_uri(self, bucket: str, prefix: str = "data") -> str:
        """A Kho store URI on this cluster (``open_store`` accepts it)."""
        return f"s3://{bucket}/{prefix}?endpoint={self.endpoint_url}"

    @property
    def processes(self) -> list[WeedProcess]:
        return [self.master, *self.volumes, self.filer, self.s3]

    def start(self, timeout_s: float = 90) -> None:
        """Start every role in dependency order and wait until the cluster serves S3."""
        self.master.start()
        self._wait(lambda: self._http_ok(f"http://127.0.0.1:{self.ports['master']}/cluster/status"),
                   self.master, timeout_s)
        for volume in self.volumes:
            volume.start()
        self.filer.start()
        self.s3.start()
        self.wait_healthy(timeout_s)

    def stop(self, timeout_s: float = 10) -> None:
        """SIGTERM every process at once, SIGKILL what is left after ``timeout_s``; the data
        folders stay for a post-mortem."""
        for proc in reversed(self.processes):
            if proc.alive():
                if proc.paused:
                    proc.resume()
                os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for proc in self.processes:
            if proc.proc is None:
                continue
            try:
                proc.proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                log.warning("weed %s did not stop on SIGTERM; killing it", proc.name)
                proc.kill()

    def live_volume_servers(self) -> int:
        """How many volume servers the master counts as alive right now."""
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.ports['master']}/dir/status", timeout=2) as resp:
                topo = json.load(resp).get("Topology", {})
        except (OSError, ValueError):
            return 0
        return sum(len(rack.get("DataNodes") or [])
                   for dc in topo.get("DataCenters") or [] for rack in dc.get("Racks") or [])

    def wait_healthy(self, timeout_s: float = 90, volume_servers: int | None = None) -> None:
        """Until the master sees ``volume_servers`` (default: all) and the S3 gateway answers.

        The S3 check is a real request: an anonymous GET answered 403 means the gateway is up
        and talking to the filer."""
        want = len(self.volumes) if volume_servers is None else volume_servers
        deadline = time.monotonic() + timeout_s
        self._wait(lambda: self.live_volume_servers() >= want, self.master,
                   deadline - time.monotonic(), what=f"{want} volume servers registered")
        self._wait(lambda: self._s3_answers(), self.s3, deadline - time.monotonic(),
                   what="the S3 gateway answering")

    def wait_volume_server_gone(self, timeout_s: float = 60) -> None:
        """Until the master has noticed that a killed volume server is gone."""
        want = sum(1 for v in self.volumes if v.alive())
        self._wait(lambda: self.live_volume_servers() <= want, self.master, timeout_s,
                   what=f"the master counting {want} volume servers")

    def log_lines(self, *names: str, contains: str = "") -> int:
        """Lines of the named processes' logs (all if none named) that contain ``contains``:
        how often the gateway or filer met a dead volume server, for instance."""
        chosen = [p for p in self.processes if not names or p.name in names]
        total = 0
        for proc in chosen:
            if proc.log_path.exists():
                with open(proc.log_path, errors="replace") as fh:
                    total += sum(contains in line for line in fh)
        return total

    # -- helpers -----------------------------------------------------------------------
    def _s3_answers(self) -> bool:
        try:
            urllib.request.urlopen(f"{self.endpoint_url}/", timeout=2)
        except urllib.error.HTTPError as exc:
            return exc.code == 403
        except OSError:
            return False
        return True

    @staticmethod
    def _http_ok(url: str) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except OSError:
            return False

    def _wait(self, ready, proc: WeedProcess, timeout_s: float, what: str | None = None) -> None:
        deadline = time.monotonic() + max(timeout_s, 0)
        while time.monotonic() < deadline:
            for p in self.processes:
                if p.proc is not None and not p.alive() and p.proc.returncode not in (None, -9):
                    raise ClusterError(f"weed {p.name} exited with {p.proc.returncode}; "
                                       f"see {p.log_path}")
            if ready():
                return
            time.sleep(0.25)
        raise ClusterError(f"{what or proc.name + ' ready'} did not happen within "
                           f"{timeout_s:.0f}s; see the logs in {self.root / 'logs'}")


def _identities(path: Path) -> Path:
    """Write the gateway's identities file: the test credentials with every permission."""
    path.write_text(json.dumps({"identities": [{
        "name": "kho-test",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]}))
    return path


def build_cluster(root: Path, volume_servers: int = 3, volume_max: int = 600,
                  volume_size_mb: int = 64) -> S3Cluster:
    """Lay out (but do not start) a cluster whose data and logs live under ``root``."""
    if volume_servers < 3:
        raise ValueError("a cluster that can lose a volume server under replication 001 "
                         "needs at least 3 volume servers")
    root = Path(root).resolve()
    logs = root / "logs"
    for sub in ("master", "filer", "logs", *(f"volume{i}" for i in range(volume_servers))):
        (root / sub).mkdir(parents=True, exist_ok=True)
    names = ["master", "filer", "s3", *(f"volume{i}" for i in range(volume_servers))]
    ports = dict(zip(names, _free_ports(len(names))))
    weed = _weed_binary()
    env = {k: v for k, v in os.environ.items()
           if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    master_addr = f"127.0.0.1:{ports['master']}"
    common = ["-ip=127.0.0.1", "-ip.bind=127.0.0.1"]

    def proc(name: str, *args: str) -> WeedProcess:
        return WeedProcess(name, [weed, *args], logs / f"{name}.log", env)

    master = proc("master", "master", *common, f"-port={ports['master']}",
                  f"-mdir={root / 'master'}", "-peers=none", f"-defaultReplication={REPLICATION}",
                  f"-volumeSizeLimitMB={volume_size_mb}", "-telemetry=false")
    volumes = [proc(f"volume{i}", "volume", *common, f"-port={ports[f'volume{i}']}",
                    f"-dir={root / f'volume{i}'}", f"-max={volume_max}",
                    f"-mserver={master_addr}", "-minFreeSpace=1GiB", "-preStopSeconds=0")
               for i in range(volume_servers)]
    filer = proc("filer", "filer", *common, f"-port={ports['filer']}", f"-master={master_addr}",
                 f"-defaultStoreDir={root / 'filer'}",
                 f"-defaultReplicaPlacement={REPLICATION}")
    s3 = proc("s3", "s3", *common, f"-port={ports['s3']}", f"-filer=127.0.0.1:{ports['filer']}",
              f"-config={_identities(root / 's3-identities.json')}",
              "-port.iceberg=0", "-port.lance=0")
    return S3Cluster(root, master, volumes, filer, s3, ports)


@contextmanager
def s3_cluster(root: Path, volume_servers: int = 3) -> Iterator[S3Cluster]:
    """A started cluster under ``root``, stopped on exit whatever happens inside."""
    cluster = build_cluster(root, volume_servers)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.s3cluster --dir DIR``: run a cluster until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", required=True, type=Path, help="data and logs go here")
    parser.add_argument("--volume-servers", type=int, default=3)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cluster = build_cluster(args.dir, args.volume_servers)
    stop = {"now": False}

    def on_signal(signum, frame):  # noqa: ARG001
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        cluster.start()
        print(f"SeaweedFS cluster up: master 127.0.0.1:{cluster.ports['master']}, "
              f"{len(cluster.volumes)} volume servers (replication {REPLICATION}), "
              f"filer 127.0.0.1:{cluster.ports['filer']}")
        print(f"S3 endpoint: {cluster.endpoint_url}")
        print(f"export AWS_ACCESS_KEY_ID={ACCESS_KEY} AWS_SECRET_ACCESS_KEY={SECRET_KEY}")
        print(f"store URI:   {cluster.store_uri('kho')}   (kho store init creates the bucket)")
        print(f"logs:        {cluster.root / 'logs'}   (Ctrl-C stops the cluster)", flush=True)
        while not stop["now"]:
            time.sleep(0.5)
            dead = [p.name for p in cluster.processes if not p.alive()]
            if dead:
                print(f"weed {', '.join(dead)} exited; see {cluster.root / 'logs'}",
                      file=sys.stderr)
                return 1
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
