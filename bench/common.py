"""Shared bench plumbing: machine facts, timing, and writing bench/results/NAME.json."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            mem = fh.readline().split(":")[1].strip()
    except OSError:
        pass
    cpu = ""
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((l.split(":")[1].strip() for l in fh if l.startswith("model name")), "")
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory": mem, "python": platform.python_version(),
            "platform": platform.platform()}


def best_of(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """Fastest wall time of ``repeat`` calls, and the last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def write_results(name: str, inputs: dict[str, Any], figures: dict[str, Any], ratio: dict[str, Any]) -> Path:
    """Write bench/results/NAME.json and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"bench": name, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                "machine": machine(), "inputs": inputs, "figures": figures, "ratio": ratio},
                               indent=2, ensure_ascii=False) + "\n")
    return path


def write_chart(name: str, labels: list[str], values: list[float], title: str) -> Path:
    """Write bench/results/NAME.svg: a horizontal bar chart of the run's headline figures."""
    from pipelines.svgplot import bar_chart

    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.svg"
    path.write_text(bar_chart(labels, [round(v, 1) for v in values], title, horizontal=True) + "\n")
    return path
