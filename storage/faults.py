"""Named fault points: where a test kills or pauses a process on purpose.

The commit protocol is only as good as its behaviour at each step it can be interrupted, so
every step that matters calls :func:`checkpoint` with a stable name. Normally that does
nothing. Tests set, in the environment of the process under test:

``KHO_CRASH_AT=NAME[,NAME...]``
    the process sends itself SIGKILL at that point (a real crash: no cleanup, no finally).
``KHO_PAUSE_AT=NAME[,NAME...]`` and ``KHO_PAUSE_DIR=DIR``
    the process writes ``DIR/NAME.<pid>.reached`` and waits until ``DIR/NAME.go`` exists (at
    most ``KHO_PAUSE_TIMEOUT_S``, default 300 s), so a test can line two runs up at the same
    point and release them together: a race forced by the test, not left to timing.

Points in use (grep for ``checkpoint(``): ``after_claim``, ``after_shards``,
``before_commit_point``, ``after_commit_point``, ``after_stats``.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

log = logging.getLogger(__name__)


def _names(var: str) -> set[str]:
    return {n.strip() for n in os.environ.get(var, "").split(",") if n.strip()}


def checkpoint(name: str) -> None:
    """Crash or pause here if the environment asks for it (tests only); else return at once."""
    if name in _names("KHO_CRASH_AT"):
        log.warning("fault point %s: killing process %d (KHO_CRASH_AT)", name, os.getpid())
        os.kill(os.getpid(), signal.SIGKILL)
    if name in _names("KHO_PAUSE_AT") and os.environ.get("KHO_PAUSE_DIR"):
        folder = Path(os.environ["KHO_PAUSE_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.{os.getpid()}.reached").write_text(str(os.getpid()))
        deadline = time.monotonic() + float(os.environ.get("KHO_PAUSE_TIMEOUT_S", "300"))
        while not (folder / f"{name}.go").exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"fault point {name}: no {folder / (name + '.go')} in time")
            time.sleep(0.05)
