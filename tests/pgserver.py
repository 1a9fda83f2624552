"""Start and stop a real PostgreSQL server (Debian's binaries) in a temporary folder.

It listens only on a Unix socket in its own folder (no TCP port), with trust authentication
for its one local user. initdb refuses to run as root, so under root the server runs as the
``postgres`` account the Debian package creates.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


def pg_bin() -> Path | None:
    """The folder of the newest installed PostgreSQL's binaries, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    return Path(found[-1]).parent if found else None


@dataclass
class PgServer:
    root: Path
    bin: Path
    user: str

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL of ``database`` through the socket."""
        return f"postgresql+psycopg://{self.user}@/{database}?host={self.socket_dir}"

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.root / "data"), "-l", str(self.root / "pg.log"), "-w",
                  "-o", f"-k {self.socket_dir} -c listen_addresses='' -c fsync=off", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")

    def createdb(self, name: str) -> str:
        self._run("createdb", "-h", str(self.socket_dir), "-U", self.user, name)
        return self.url(name)


def start_pg(root: Path) -> PgServer:
    """initdb a cluster under ``root`` and start it; raises RuntimeError if PostgreSQL is missing."""
    binaries = pg_bin()
    if binaries is None:
        raise RuntimeError("PostgreSQL is not installed: run scripts/setup.sh (Debian package postgresql)")
    root.mkdir(parents=True, exist_ok=True)
    (root / "run").mkdir(exist_ok=True)
    user = "postgres" if os.geteuid() == 0 else os.environ.get("USER", "kho")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(root / "run", "postgres")
        for parent in root.parents:  # the postgres account must reach its folder
            if str(parent).startswith(("/tmp/", "/var/tmp/")) and parent.stat().st_mode & 0o001 == 0:
                os.chmod(parent, parent.stat().st_mode | 0o001)
    server = PgServer(root, binaries, user)
    server._run("initdb", "-D", str(root / "data"), "-U", user, "-A", "trust", "-E", "UTF8", "--no-sync")
    server.start()
    return server
