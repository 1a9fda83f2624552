"""bench/core: the text ingest at two commits on the same corpus, to show that moving the text
pipeline onto the modality-neutral core (pipelines/core/) cost no speed and no memory.

Each commit is checked out as a git worktree under bench/work/ and run in its own process
(``PYTHONPATH`` = that worktree), alternating commits run by run so that a busy machine slows
both alike. The figures per commit are the fastest run (docs/s), the fewest CPU seconds, and
the highest and the median peak resident memory of the run's process tree (workers included)
over the repeats (one run's peak varies by about 5 %, so the median is the steadier figure).
Each commit runs with its own allocator settings: a MALLOC_ARENA_MAX of the caller's is not
passed on (pipelines/malloc_arenas.py sets one for the commits that have it). The baseline is named:
``before`` (default 943ffe8, the last commit before the core). Results: bench/results/core.json.

    python -m bench.bench_core --docs 20000 --repeat 2 [--before SHA] [--after SHA]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import _tree_rss_bytes, write_jsonl_parts, write_results

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "bench" / "work"
BEFORE = "943ffe8"  # bench/text spaCy baseline, the last commit before pipelines/core/
WORKERS = 2

#: Run in the child: one ingest of the corpus with that commit's code, totals on stdout.
CHILD = """
import json, sys, time
from pipelines.config import IngestConfig
from pipelines.ingest import run_ingest
from storage.local import LocalStore
corpus, store, near = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
cfg = IngestConfig.model_validate({"dataset": "bench-core",
    "sources": [{"name": "bench", "format": "jsonl", "paths": [corpus + "/*.jsonl"]}],
    "output": {"write_buckets": 2}, "dedup": {"near": {"enabled": near}}})
t0 = time.perf_counter()
r = run_ingest(cfg, LocalStore(store), ["--direct_running_mode=multi_processing", "--direct_num_workers=2"])
print(json.dumps({"wall_s": time.perf_counter() - t0, "totals": r.stats["totals"]}))
"""


def worktree(sha: str) -> Path:
    """A checkout of ``sha`` under bench/work/ (made once)."""
    resolved = subprocess.run(["git", "rev-parse", "--short", sha], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
    path = WORK / f"core-{resolved}"
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "worktree", "add", "--detach", str(path), resolved], cwd=REPO,
                       check=True, capture_output=True)
    return path


_TICK = os.sysconf("SC_CLK_TCK")


def _tree_cpu_s(root: int, seen: dict[int, float]) -> None:
    """Record into ``seen`` the CPU seconds (user + system) each process of ``root``'s tree has
    used so far (Linux /proc; a process's own time only, so nothing is counted twice)."""
    parents: dict[int, int] = {}
    own: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(entry)] = int(fields[1])
        own[int(entry)] = (int(fields[11]) + int(fields[12])) / _TICK
    tree, todo = set(), [root]
    while todo:
        pid = todo.pop()
        tree.add(pid)
        todo.extend(c for c, p in parents.items() if p == pid and c not in tree)
    for pid in tree:
        if pid in own:
            seen[pid] = max(seen.get(pid, 0.0), own[pid])


def run_once(tree: Path, corpus: Path, store: Path, near: bool) -> dict:
    """One ingest in a child process; its wall time, the peak RSS of its process tree, and the
    CPU seconds of that tree (sampled every 0.25 s: a process's last quarter second may be
    missed), which a busy machine disturbs much less than wall time."""
    env = {**{k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}, "PYTHONPATH": str(tree)}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(corpus), str(store), "1" if near else "0"],
                            cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak = [0]
    cpu: dict[int, float] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_bytes(proc.pid))
            _tree_cpu_s(proc.pid, cpu)
            done.wait(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"ingest at {tree.name} failed (exit {proc.returncode})")
    result = json.loads(out.strip().splitlines()[-1])
    return {**result, "peak_rss_mib": peak[0] / 2**20, "cpu_s": sum(cpu.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--before", default=BEFORE, help="the named baseline commit")
    parser.add_argument("--after", default="HEAD")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from bench.corpus import generate_vietnamese_corpus

    trees = {"before": worktree(args.before), "after": worktree(args.after)}
    runs: dict[str, dict[str, list[dict]]] = {k: {"full": [], "no_near": []} for k in trees}
    with tempfile.TemporaryDirectory(prefix="kho-bench-core-") as tmp:
        corpus = Path(tmp) / "corpus"
        write_jsonl_parts(generate_vietnamese_corpus(args.docs, seed=args.seed), corpus, args.files)
        for r in range(args.repeat):
            for config, near in (("full", True), ("no_near", False)):
                for name, tree in trees.items():
                    res = run_once(tree, corpus, Path(tmp) / f"store-{name}-{config}-{r}", near)
                    log.info("%s %s run %d: %.1f s, %.1f CPU s, peak %.0f MiB", name, config, r, res["wall_s"],
                             res["cpu_s"], res["peak_rss_mib"])
                    runs[name][config].append(res)
    figures: dict = {}
    for name in trees:
        for config, rs in runs[name].items():
            best = min(x["wall_s"] for x in rs)
            figures[f"{name}_{config}_docs_per_s"] = args.docs / best
            figures[f"{name}_{config}_peak_rss_mib"] = max(x["peak_rss_mib"] for x in rs)
            figures[f"{name}_{config}_median_peak_rss_mib"] = statistics.median(x["peak_rss_mib"] for x in rs)
            figures[f"{name}_{config}_all_peak_rss_mib"] = [round(x["peak_rss_mib"]) for x in rs]
            figures[f"{name}_{config}_all_wall_s"] = [round(x["wall_s"], 2) for x in rs]
            figures[f"{name}_{config}_docs_per_cpu_s"] = args.docs / min(x["cpu_s"] for x in rs)
            figures[f"{name}_{config}_all_cpu_s"] = [round(x["cpu_s"], 2) for x in rs]
            figures[f"{name}_{config}_totals"] = rs[0]["totals"]
    ratio = {}
    for config in ("full", "no_near"):
        ratio[f"{config}_speed_after_over_before"] = (figures[f"after_{config}_docs_per_s"]
                                                     / figures[f"before_{config}_docs_per_s"])
        ratio[f"{config}_cpu_efficiency_after_over_before"] = (figures[f"after_{config}_docs_per_cpu_s"]
                                                              / figures[f"before_{config}_docs_per_cpu_s"])
        ratio[f"{config}_memory_after_over_before"] = (figures[f"after_{config}_peak_rss_mib"]
                                                      / figures[f"before_{config}_peak_rss_mib"])
        ratio[f"{config}_median_memory_after_over_before"] = (figures[f"after_{config}_median_peak_rss_mib"]
                                                             / figures[f"before_{config}_median_peak_rss_mib"])
        ratio[f"{config}_same_outcomes"] = (figures[f"after_{config}_totals"] == figures[f"before_{config}_totals"])
    inputs = {"docs": args.docs, "files": args.files, "seed": args.seed, "repeat": args.repeat,
              "workers": WORKERS, "baseline": f"before = {trees['before'].name} (text pipeline before the core)",
              "after": trees["after"].name, "interleaved": True,
              "figure": "fastest run (docs/s), fewest CPU seconds of the run's process tree (docs per "
                        "CPU second), and the highest and the median peak RSS of that tree over the repeats",
              "configs": {"full": "the default pipeline (near dedup on)", "no_near": "near dedup off"}}
    path = write_results("core", inputs, figures, ratio)
    print(json.dumps(ratio, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
