"""The glibc arena limit a local run sets (pipelines/malloc_arenas.py): it takes effect in the
process and in the processes it starts, leaves a user's own MALLOC_ARENA_MAX alone, and a bad
KHO_MALLOC_ARENAS is a clear error. Each case runs in a fresh interpreter: glibc fixes the limit
at a process's first extra arena."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.malloc_arenas import MallocArenasError, arenas_from_env

REPO = Path(__file__).resolve().parent.parent

#: Set the limit, then hold 12 threads that each malloc at once, and count glibc's heaps
#: (malloc_info's <heap> entries); also what a child process sees in its environment.
PROBE = r"""
import ctypes, json, os, subprocess, sys, tempfile, threading
from pipelines.malloc_arenas import limit_malloc_arenas
applied = limit_malloc_arenas()
barrier = threading.Barrier(13)
def work():
    keep = [bytearray(100_000) for _ in range(4)]
    barrier.wait()
    barrier.wait()
threads = [threading.Thread(target=work) for _ in range(12)]
for t in threads: t.start()
barrier.wait()
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
path = tempfile.mktemp()
fp = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, ctypes.c_void_p(fp))
libc.fclose(ctypes.c_void_p(fp))
heaps = open(path).read().count("<heap nr=")
barrier.wait()
for t in threads: t.join()
child = subprocess.run([sys.executable, "-c", "import os; print(os.environ.get('MALLOC_ARENA_MAX'))"],
                       capture_output=True, text=True).stdout.strip()
print(json.dumps({"applied": applied, "heaps": heaps, "child": child}))
"""


def _probe(**env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX", "KHO_MALLOC_ARENAS")}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, env={**base, **env},
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_the_limit_caps_this_process_heaps_and_reaches_child_processes():
    got = _probe()
    assert got["applied"] is True
    assert got["heaps"] <= 2
    assert got["child"] == "2"


def test_without_the_limit_concurrent_threads_spread_over_more_heaps():
    got = _probe(KHO_MALLOC_ARENAS="0")
    assert got["applied"] is False
    assert got["heaps"] > 2  # the baseline the limit is measured against
    assert got["child"] == "None"


def test_a_users_own_malloc_arena_max_is_left_alone():
    got = _probe(MALLOC_ARENA_MAX="4")
    assert got["applied"] is False
    assert got["child"] == "4"


@pytest.mark.parametrize("raw", ["two", "-1", "1.5"])
def test_a_bad_kho_malloc_arenas_names_the_variable_and_what_to_set(monkeypatch, raw):
    monkeypatch.setenv("KHO_MALLOC_ARENAS", raw)
    with pytest.raises(MallocArenasError, match=r"KHO_MALLOC_ARENAS=.*whole number >= 0"):
        arenas_from_env()


def test_kho_ingest_with_a_bad_kho_malloc_arenas_fails_in_one_line(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"text": "Xin chào các bạn, đây là một câu tiếng Việt."}) + "\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"dataset: arenas\nsources:\n  - name: s\n    format: jsonl\n    paths: ['{src}']\n")
    env = {**os.environ, "KHO_MALLOC_ARENAS": "lots"}
    env.pop("MALLOC_ARENA_MAX", None)
    r = subprocess.run([sys.executable, "-m", "pipelines.cli", "ingest", str(cfg), "--store", str(tmp_path / "s")],
                       cwd=REPO, env=env, capture_output=True, text=True)
    assert r.returncode == 2
    err = [line for line in r.stderr.splitlines() if line.strip()]
    assert err[-1].startswith("error: KHO_MALLOC_ARENAS='lots' is not a whole number"), r.stderr
