"""Shared bench plumbing: machine facts, timing, and writing bench/results/NAME.json."""

from __future__ import annotations

import json
import os
import platform
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def results_dir() -> Path:
    """Where results go: bench/results, or $KHO_BENCH_RESULTS (smoke tests write elsewhere)."""
    folder = Path(os.environ.get("KHO_BENCH_RESULTS") or RESULTS)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


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


def write_jsonl_parts(rows: Iterable[dict[str, Any]], folder: Path, files: int) -> list[Path]:
    """``rows`` as ``files`` JSONL files ``part-NNN.jsonl``, dealt round-robin (both systems of a
    bench read the same files)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"part-{i:03d}.jsonl" for i in range(files)]
    handles = [open(p, "w", encoding="utf-8") for p in paths]
    try:
        for i, row in enumerate(rows):
            handles[i % files].write(json.dumps(row, ensure_ascii=False) + "\n")
    finally:
        for h in handles:
            h.close()
    return paths


def write_results(name: str, inputs: dict[str, Any], figures: dict[str, Any], ratio: dict[str, Any]) -> Path:
    """Write NAME.json to :func:`results_dir` and return its path."""
    path = results_dir() / f"{name}.json"
    path.write_text(json.dumps({"bench": name, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                "machine": machine(), "inputs": inputs, "figures": figures, "ratio": ratio},
                               indent=2, ensure_ascii=False) + "\n")
    return path


def write_chart(name: str, labels: list[str], values: list[float], title: str) -> Path:
    """Write NAME.svg to :func:`results_dir`: a horizontal bar chart of the run's headline figures."""
    from pipelines.svgplot import bar_chart

    path = results_dir() / f"{name}.svg"
    path.write_text(bar_chart(labels, [round(v, 1) for v in values], title, horizontal=True) + "\n")
    return path


def _tree_rss_bytes(root: int) -> int:
    """Resident memory of process ``root`` and all its descendants (Linux /proc), in bytes."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                fields = dict(line.split(":", 1) for line in fh if ":" in line)
        except OSError:
            continue
        pid = int(entry)
        children.setdefault(int(fields.get("PPid", "0").strip() or 0), []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


class PeakTreeRss:
    """Peak resident memory of this process and its children while the ``with`` block runs.

    Sampled every ``interval`` seconds (worker processes come and go, so the peak of the sum
    is what a machine must hold). ``peak_mib`` and ``added_mib`` after the block."""

    def __init__(self, interval: float = 0.25) -> None:
        self.interval, self.peak, self.start = interval, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss_bytes(me))
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakTreeRss:
        self.start = _tree_rss_bytes(os.getpid())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mib(self) -> float:
        """Highest resident memory of the process tree, MiB."""
        return self.peak / 2**20

    @property
    def added_mib(self) -> float:
        """Peak minus what the tree held when the block began (the run's own memory), MiB."""
        return max(0, self.peak - self.start) / 2**20


def corpus_parts(folder: Path, *, docs: int, files: int, seed: int) -> list[Path]:
    """The generated Vietnamese corpus (near-duplicates, junk, PII) as ``files`` JSONL files
    of text, url and id: the input of the store-safety tests and the cluster fault bench."""
    from bench.corpus import generate_vietnamese_corpus

    rows = [{"text": d["text"], "url": d["url"], "id": d["id"]} for d in generate_vietnamese_corpus(docs, seed)]
    return write_jsonl_parts(rows, folder, files)


def text_ingest_config(path: Path, dataset: str, inputs: list[Path]) -> Path:
    """A text ingest config over ``inputs`` written to ``path`` (no NER fallback, so runs stay
    a few seconds; two write buckets)."""
    path.write_text(json.dumps({
        "dataset": dataset,
        "sources": [{"name": "src", "format": "jsonl", "paths": [str(p) for p in inputs]}],
        "pii": {"ner_fallback": False},
        "output": {"write_buckets": 2},
    }))
    return path
