"""bench/scale: what Kho's metadata operations cost as a dataset's history grows to 10^7 shard
entries, and what they would cost at 10^8 (100 PB of 1 GiB shards).

For each N a history of N shard entries is synthesized with the objects Kho's commit writes
(bench/scale_history.py: real shard lists, manifests, ref, run records; one version per
50,000 shards), plus one crashed run (1,000 shards, a list, its run.json and a dead lease) for
gc to find. Shard objects themselves (zero-byte) exist only up to ``--objects-max`` (what a
LIST of the bucket walks); every operation measured here except the LISTs never opens a shard.
Each operation runs through a CountingStore, so besides seconds it records objects and bytes
read, LIST calls and keys listed.

Operations: (a) commit a version adding 1,000 shards; (b) resolve ``latest`` and read its
manifest; (b') ``kho datasets show`` (manifest, per-format totals from it, the last 10 versions of lineage);
(c) plan a ``pull --where`` (manifest check + every list + work units, before any download);
(d) plan a verify (every list: hash, Merkle root, totals; manifest root and anchors; no shard
bytes); (e) gc's mark: the code before this change (every list of every version), the full
audit's (each distinct list once), and the by-runs gc's (only what is new since its
checkpoint); (f) whole gc passes: the full audit, the first pass by runs (no checkpoint yet)
and a steady-state pass by runs (after 3 commits and a crash); (g) ingest planning's
``committed_runs`` (lists the ``committed/<version>=<run>`` markers). The named baseline of every ratio is one full LIST
of the bucket at the same N (measured where the N shard objects exist; above that, N plus the
metadata keys times the seconds per key measured at the largest N that had them).

Growth: the least-squares slope of log(seconds), log(bytes read) and log(keys listed)
against log(N) over the N >= 10^5. Two extrapolations to 10^8: ``at_1e8_seconds`` = seconds at
the largest N x (10^8 / N)^(slope of seconds), and ``at_1e8_seconds_model`` with the slope of
the bytes read instead (what an operation's time follows once fixed costs no longer dominate;
for the operations that LIST every shard, the slope of seconds, i.e. of keys listed).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import socket
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pipelines.cli  # noqa: F401  (imported before any timing: show uses its _lineage)
import pipelines.plan  # noqa: F401
from bench.common import machine, results_dir, write_results
from bench.scale_history import CountingStore, dead_pid, run_id, shard_rows, synthesize_history, write_list
from schemas.manifest import SHARD_LIST_MAX_ROWS
from storage.base import ObjectStore
from storage.gc import _RunSweep, collect_garbage, referenced_keys
from storage.layout import manifest_key, run_info_key, run_lease_key, shardlist_key
from storage.local import LocalStore
from storage.merkle import shards_root
from storage.pull import _work_units, check_manifest, checked_shards
from storage.shards import ShardInfo, json_bytes
from storage.verify import _list_totals_problems, anchor_problems
from storage.versions import VersionStore
from storage.where import parse_where

log = logging.getLogger("bench.scale")
DS = "scale"
TARGET = 10 ** 8
WHERE = "lang = 'vi' AND lang_score >= 0.8"
NEW_SHARDS = 1000


# -- the operations ------------------------------------------------------------------------
def old_referenced_keys(vs: VersionStore, dataset: str) -> set[str]:
    """gc's mark before this change (storage/gc.py at 5ee8161): every list of every version,
    re-read for each version that shares it. Kept here as the baseline of the new marks."""
    keys: set[str] = set()
    for version in vs.versions(dataset):
        manifest = vs.manifest(f"{dataset}@{version}")
        keys.add(manifest_key(dataset, version))
        for listref in manifest.shard_lists:
            keys.add(listref.key)
            keys.update(vs.shard_list(listref, check=False).column("key").to_pylist())
    return keys


def show(vs: VersionStore) -> int:
    """What ``kho datasets show NAME`` reads: the manifest, the per-format totals (from the
    manifest; lists only for references older than those totals) and the default lineage
    (pipelines/cli.py's own ``_lineage``, ``SHOW_LINEAGE`` versions and one more)."""
    from pipelines.cli import SHOW_LINEAGE, _lineage

    m = vs.manifest(f"{DS}@latest")
    vs.format_totals(m)
    chain, _ = _lineage(vs, m, limit=SHOW_LINEAGE + 1)
    return len(chain)


def plan_pull(vs: VersionStore) -> int:
    """pull_version up to its first download: parse the filter, check the manifest against its
    lists and anchors (one read of each list), enumerate the shards, build the work units."""
    parse_where(WHERE)
    m = vs.manifest(f"{DS}@latest")
    tables = check_manifest(vs, m)
    return len(_work_units(checked_shards(tables), WHERE))


def plan_verify(vs: VersionStore) -> int:
    """verify_version without hashing shard bytes: every list's hash, root and totals, the
    version root and its anchors (the same functions verify_version calls)."""
    m = vs.manifest(f"{DS}@latest")
    roots, problems = [], 0
    for listref in m.shard_lists:
        rows = vs.shard_list(listref).to_pylist()
        roots.append(shards_root((r["key"], r["sha256"]) for r in rows))
        problems += len(_list_totals_problems(listref, rows))
    assert m.expected_root(roots) == m.merkle_root and not problems
    problems += len(anchor_problems(vs, m))
    return problems


def committed_runs(vs: VersionStore) -> int:
    """pipelines/plan.py's committed_runs (every ingest plans with it): two listings of names."""
    from pipelines.plan import committed_runs as plan_committed

    return len(plan_committed(vs, DS))


def mark_incremental(vs: VersionStore) -> int:
    """The by-runs gc's mark alone: manifests and lists its checkpoint has not seen."""
    sweep = _RunSweep(vs, [DS], timedelta(0), datetime.now(timezone.utc))
    sweep._mark(DS)
    return len(sweep.checkpoints[DS].versions)


def full_list(store: ObjectStore) -> int:
    """The baseline: one LIST of the whole bucket."""
    return sum(1 for _ in store.list(""))


# -- fixtures of one N -----------------------------------------------------------------------
def crash_a_run(store: ObjectStore, i: int, objects: bool) -> str:
    """Leave what a run SIGKILLed before its commit point leaves (run.json, 1,000 shards when
    shard objects are kept, a list, a lease of a process that is gone)."""
    run = run_id(10_000_000 + i)
    store.put_bytes(run_info_key(run), json_bytes({"run_id": run, "dataset": DS}))
    cols = shard_rows(DS, run, 0, NEW_SHARDS)
    write_list(store, shardlist_key(DS, run, 0, "-v999999"), cols)
    if objects:
        from bench.scale_history import _touch

        _touch(store, cols["key"], 16)
    else:  # one shard object, so gc has a shard folder to find
        store.put_bytes(cols["key"][0], b"")
    store.put_bytes(run_lease_key(DS, run), json.dumps({
        "run_id": run, "dataset": DS, "state": "running", "host": socket.gethostname(),
        "pid": dead_pid(), "proc_start": "1"}).encode())
    return run


def commit_new(vs: VersionStore, i: int, objects: bool) -> Callable[[], Any]:
    """A commit of NEW_SHARDS shards by a fresh run (its run.json and shards written first,
    outside the timing, as a run writes them before its commit)."""
    run = run_id(20_000_000 + i)
    vs.store.put_bytes(run_info_key(run), json_bytes({"run_id": run, "dataset": DS}))
    cols = shard_rows(DS, run, 0, NEW_SHARDS)
    shards = [ShardInfo(**dict(zip(cols, vals))) for vals in zip(*cols.values())]
    if objects:
        from bench.scale_history import _touch

        _touch(vs.store, cols["key"], 16)
    return lambda: vs.commit(DS, shards, code_version="bench-scale", run_id=run)


def _timed(counting: CountingStore, fn: Callable[[], Any], repeat: int) -> dict[str, Any]:
    best = math.inf
    for _ in range(repeat):
        counting.reset()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return {"seconds": round(best, 6), **counting.snapshot()}


#: Operations that LIST every shard key (where the shard objects were not written, the bench
#: adds the listing they would have done; see summarize).
LISTS_SHARDS = ("gc_full_audit", "gc_by_runs_first_pass")
HEAVY = ("plan_pull_where", "plan_verify", "mark_full_distinct_lists", "gc_full_audit")


def measure(inner: ObjectStore, n: int, *, objects: bool, repeat: int, old_mark_max: int,
            heavy_max: int) -> dict[str, Any]:
    """Every operation on a history of ``n`` shard entries in ``inner`` (an empty store);
    above ``heavy_max`` the operations that read every shard entry in Python (HEAVY: linear,
    fitted from the smaller N) are left out to keep the bench under an hour."""
    counting = CountingStore(inner)
    vs = VersionStore(counting)
    t0 = time.perf_counter()
    hist = synthesize_history(inner, DS, n, shard_objects=objects)
    setup_s = time.perf_counter() - t0
    crash_a_run(inner, 0, objects)
    reps = repeat if n < 10 ** 6 else 1
    ops: dict[str, Any] = {}
    heavy = n <= heavy_max

    def timed(op: str, fn: Callable[[], Any], reps: int) -> None:
        if heavy or op not in HEAVY:
            ops[op] = _timed(counting, fn, reps)

    ops["full_list"] = _timed(counting, lambda: full_list(counting), reps)
    ops["resolve_manifest"] = _timed(counting, lambda: vs.manifest(f"{DS}@latest"), max(reps, 3))
    timed("show", lambda: show(vs), reps)
    timed("plan_pull_where", lambda: plan_pull(vs), reps)
    timed("plan_verify", lambda: plan_verify(vs), reps)
    ops["ingest_committed_runs"] = _timed(counting, lambda: committed_runs(vs), reps)
    if n <= old_mark_max:
        ops["mark_old_every_list_of_every_version"] = _timed(counting, lambda: old_referenced_keys(vs, DS), 1)
    timed("mark_full_distinct_lists", lambda: referenced_keys(vs, DS), 1)
    timed("gc_full_audit", lambda: collect_garbage(vs, [DS], grace=timedelta(0),
                                                                     full=True), 1)
    first = {}
    ops["gc_by_runs_first_pass"] = _timed(counting, lambda: first.setdefault(
        "r", collect_garbage(vs, [DS], grace=timedelta(0), dry_run=False)), 1)
    ops["gc_by_runs_first_pass"]["deleted"] = first["r"].deleted
    commits = [commit_new(vs, i, objects) for i in range(3)]
    times = []
    for c in commits:
        times.append(_timed(counting, c, 1))
    ops["commit_1000_shards"] = min(times, key=lambda r: r["seconds"])
    crash_a_run(inner, 1, objects)
    ops["mark_by_runs_after_3_commits"] = _timed(counting, lambda: mark_incremental(vs), reps)
    steady = {}
    ops["gc_by_runs_steady"] = _timed(counting, lambda: steady.setdefault(
        "r", collect_garbage(vs, [DS], grace=timedelta(0))), 1)
    ops["gc_by_runs_steady"]["found"] = len(steady["r"].unreferenced)
    ops["gc_by_runs_steady"]["runs_examined"] = steady["r"].runs_examined
    m = vs.manifest(f"{DS}@latest")
    return {"n": n, "versions": hist.versions + 3, "lists": len(m.shard_lists), "runs": len(hist.runs) + 5,
            "shard_objects": objects, "setup_seconds": round(setup_s, 1),
            "manifest_bytes": len(inner.get_bytes(manifest_key(DS, m.version))), "ops": ops}


# -- growth and extrapolation ----------------------------------------------------------------
FIT_FROM = 10 ** 5  # smaller N are dominated by fixed costs (imports, a round trip)


def _slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log10(y) on log10(x) over the points with x >= FIT_FROM (all
    points if fewer than two are that large)."""
    pts = [(math.log10(x), math.log10(y)) for x, y in zip(xs, ys) if x > 0 and y > 0]
    big = [p for p, x in zip(pts, xs) if x >= FIT_FROM]
    pts = big if len(big) >= 2 else pts
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    var = sum((p[0] - mx) ** 2 for p in pts)
    return round(sum((p[0] - mx) * (p[1] - my) for p in pts) / var, 3) if var else None


def _baseline_seconds(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """One full LIST at each N: measured where the shard objects exist, else estimated."""
    with_objects = [r for r in rows if r["shard_objects"]]
    per_key = None
    if with_objects:
        top = with_objects[-1]["ops"]["full_list"]
        per_key = top["seconds"] / max(top["keys_listed"], 1)
    out = {}
    for r in rows:
        fl = r["ops"]["full_list"]
        if r["shard_objects"] or per_key is None:
            out[r["n"]] = {"seconds": fl["seconds"], "keys": fl["keys_listed"], "estimated": False}
        else:
            keys = fl["keys_listed"] + r["n"]
            out[r["n"]] = {"seconds": round(keys * per_key, 3), "keys": keys, "estimated": True}
    return out


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per op: slope of seconds and of bytes read over N, seconds at 10^8, ratio to the baseline."""
    base = _baseline_seconds(rows)
    ops = sorted({op for r in rows for op in r["ops"] if op != "full_list"})
    out: dict[str, Any] = {}
    keys_100pb = base[rows[-1]["n"]]["keys"] * TARGET / rows[-1]["n"]
    per_key = base[rows[-1]["n"]]["seconds"] / base[rows[-1]["n"]]["keys"]
    out["full_list"] = {"at_1e8_seconds": round(keys_100pb * per_key, 1), "slope_seconds": 1.0,
                        "note": "linear in the objects listed (every shard is a key)"}
    for op in ops:
        have = [r for r in rows if op in r["ops"]]
        ns = [r["n"] for r in have]
        by_n = _per_n_seconds(rows, op, base)
        secs = [by_n[n] for n in ns]
        modeled = op in LISTS_SHARDS and any(not r["shard_objects"] for r in have)
        read = [r["ops"][op]["bytes_read"] + 1 for r in have]
        listed = [r["ops"][op]["keys_listed"] + r["ops"][op]["children_listed"] + 1 for r in have]
        s, sb = _slope(ns, secs), _slope(ns, read)
        at = secs[-1] * (TARGET / ns[-1]) ** s if s is not None else None
        # Seconds follow the bytes an operation reads (its fixed costs shrink the seconds' slope
        # at small N); the ones that LIST shards follow the keys listed (slope of seconds ~1).
        grow = s if op in LISTS_SHARDS else sb
        model = secs[-1] * (TARGET / ns[-1]) ** grow if grow is not None else None
        out[op] = {
            "slope_seconds": s, "slope_bytes_read": sb, "slope_keys_listed": _slope(ns, listed),
            "at_1e8_seconds": None if at is None else round(at, 3),
            "at_1e8_hours": None if at is None else round(at / 3600, 4),
            "at_1e8_seconds_model": None if model is None else round(model, 3),
            "model": "seconds at the largest N x (1e8/N)^slope of " +
                     ("seconds (keys listed)" if op in LISTS_SHARDS else "bytes read"),
            "vs_full_list": {str(r["n"]): round(sec / max(base[r["n"]]["seconds"], 1e-9), 4)
                             for r, sec in zip(have, secs)},
        }
        if modeled:
            out[op]["modeled"] = ("above the shard-object limit the measured seconds plus N x the "
                                  "seconds per listed key (the shards it would have listed)")
    out["_baseline_full_list_seconds"] = {str(k): v for k, v in base.items()}
    return out


# -- the chart -------------------------------------------------------------------------------
def loglog_svg(rows: list[dict[str, Any]], ops: list[str], title: str) -> str:
    """Seconds against N on log-log axes, one line per operation."""
    from html import escape

    colors = ["#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#4e342e", "#ad1457",
              "#558b2f", "#283593"]
    pts = {op: [(r["n"], r["ops"][op]["seconds"]) for r in rows if op in r["ops"]] for op in ops}
    xs = [math.log10(n) for v in pts.values() for n, _ in v]
    ys = [math.log10(max(s, 1e-5)) for v in pts.values() for _, s in v]
    x0, x1 = math.floor(min(xs)), math.ceil(max(xs))
    y0, y1 = math.floor(min(ys)), math.ceil(max(ys))
    w, h, left, top, pw, ph = 760, 420, 60, 30, 420, 330

    def px(x: float) -> float:
        return left + pw * (x - x0) / max(x1 - x0, 1)

    def py(y: float) -> float:
        return top + ph - ph * (y - y0) / max(y1 - y0, 1)

    body = [f"<rect x='{left}' y='{top}' width='{pw}' height='{ph}' fill='none' stroke='#999'/>"]
    for e in range(x0, x1 + 1):
        body.append(f"<text x='{px(e):.1f}' y='{top + ph + 16}' font-size='11' text-anchor='middle'>1e{e}</text>")
    for e in range(y0, y1 + 1):
        body.append(f"<line x1='{left}' x2='{left + pw}' y1='{py(e):.1f}' y2='{py(e):.1f}' stroke='#eee'/>")
        body.append(f"<text x='{left - 6}' y='{py(e) + 4:.1f}' font-size='11' text-anchor='end'>1e{e}</text>")
    body.append(f"<text x='{left + pw / 2}' y='{h - 40}' font-size='12' text-anchor='middle'>shard entries N</text>")
    body.append(f"<text x='14' y='{top + ph / 2}' font-size='12' transform='rotate(-90 14 {top + ph / 2})' "
                f"text-anchor='middle'>seconds</text>")
    for i, op in enumerate(ops):
        c = colors[i % len(colors)]
        line = " ".join(f"{px(math.log10(n)):.1f},{py(math.log10(max(s, 1e-5))):.1f}" for n, s in pts[op])
        body.append(f"<polyline points='{line}' fill='none' stroke='{c}' stroke-width='2'/>")
        body.append(f"<rect x='{left + pw + 14}' y='{top + i * 18}' width='10' height='10' fill='{c}'/>")
        body.append(f"<text x='{left + pw + 28}' y='{top + i * 18 + 9}' font-size='11'>{escape(op)}</text>")
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' viewBox='0 0 {w} {h}' "
            f"font-family='sans-serif'><title>{escape(title)}</title>"
            f"<text x='{left}' y='18' font-size='13' font-weight='bold'>{escape(title)}</text>"
            + "".join(body) + "</svg>\n")


# -- the tables of docs/scale.md ---------------------------------------------------------------
#: (op, label) in the order docs/scale.md lists them.
TABLE_OPS = [
    ("commit_1000_shards", "commit a version of 1,000 new shards"),
    ("resolve_manifest", "resolve `latest` + read the manifest"),
    ("show", "`kho datasets show` (totals + 10 versions of lineage)"),
    ("plan_pull_where", "plan `pull --where`"),
    ("plan_verify", "plan `verify` (no shard bytes)"),
    ("ingest_committed_runs", "ingest planning: `committed_runs`"),
    ("mark_old_every_list_of_every_version", "gc mark **before** (every list of every version)"),
    ("mark_full_distinct_lists", "gc mark, full audit (each distinct list once)"),
    ("mark_by_runs_after_3_commits", "gc mark, by runs, after 3 commits"),
    ("gc_full_audit", "gc pass, `--full` audit (modeled above the objects)"),
    ("gc_by_runs_first_pass", "gc pass, by runs, first (no checkpoint yet)"),
    ("gc_by_runs_steady", "**gc pass, by runs, steady** (3 commits + 1 crash since the last)"),
]


def _secs(x: float | None) -> str:
    """Seconds as the tables print them: 2 significant digits, 3 decimals below 0.01."""
    if x is None:
        return "–"
    if x < 0.01:
        return f"{x:.3f}"
    if x < 10:
        return f"{x:.2g}" if x >= 1 else f"{x:.2f}"
    return f"{x:,.0f}"


def _at(x: float | None) -> str:
    """A 10^8 extrapolation in the unit that reads best."""
    if x is None:
        return "–"
    if x >= 3600:
        return f"{x / 3600:.1f} h"
    if x >= 120:
        return f"{x / 60:.1f} min"
    if x >= 10:
        return f"{x:.0f} s"
    return f"{x:.2g} s" if x >= 1 else f"{x:.2f} s"


def _per_n_seconds(rows: list[dict[str, Any]], op: str,
                   base: dict[int, dict[str, Any]] | None = None) -> dict[int, float]:
    """Seconds of ``op`` per N as summarize() fits them: for the operations that LIST every
    shard, above the shard-object limit, plus the listing of the N keys that were not there."""
    base = base or _baseline_seconds(rows)
    out = {}
    for r in rows:
        if op == "full_list":
            out[r["n"]] = base[r["n"]]["seconds"]
        elif op in r["ops"]:
            sec = r["ops"][op]["seconds"]
            if op in LISTS_SHARDS and not r["shard_objects"]:
                sec += r["n"] * base[r["n"]]["seconds"] / max(base[r["n"]]["keys"], 1)
            out[r["n"]] = sec
    return out


def markdown_tables(data: dict[str, Any]) -> str:
    """The seconds table and the counts table of docs/scale.md, from a scale.json."""
    legs, growth = data["figures"]["per_n"], data["figures"]["growth"]
    local, s3 = legs.get("local", []), legs.get("s3", [])
    ns_l, ns_s = [r["n"] for r in local], [r["n"] for r in s3]
    exp = lambda n: f"10^{round(math.log10(n))}"  # noqa: E731
    head = (["operation"] + [f"local {exp(n)}" if i == 0 else exp(n) for i, n in enumerate(ns_l)]
            + [f"S3 {exp(n)}" if i == 0 else exp(n) for i, n in enumerate(ns_s)]
            + ["slope of seconds (local / S3)", "slope of bytes read", "at 10^8, local", "at 10^8, S3"])
    lines = ["| " + " | ".join(head) + " |", "|---|" + "--:|" * (len(head) - 1)]
    for op, label in TABLE_OPS + [("full_list", "baseline: one full LIST of the bucket")]:
        sl, ss = _per_n_seconds(local, op), _per_n_seconds(s3, op)
        gl, gs = growth.get("local", {}).get(op, {}), growth.get("s3", {}).get(op, {})
        if op == "full_list":
            est_l = {int(k) for k, v in growth.get("local", {}).get("_baseline_full_list_seconds", {}).items()
                     if v["estimated"]}
            est_s = {int(k) for k, v in growth.get("s3", {}).get("_baseline_full_list_seconds", {}).items()
                     if v["estimated"]}
            cells = [_secs(sl.get(n)) + ("*" if n in est_l else "") for n in ns_l]
            cells += [_secs(ss.get(n)) + ("*" if n in est_s else "") for n in ns_s]
            cells += ["1", "–", _at(gl.get("at_1e8_seconds")), _at(gs.get("at_1e8_seconds"))]
        else:
            cells = [_secs(sl.get(n)) for n in ns_l] + [_secs(ss.get(n)) for n in ns_s]
            slopes = f"{gl.get('slope_seconds', '–')} / {gs.get('slope_seconds', '–')}"
            sb = gl.get("slope_bytes_read") if op not in LISTS_SHARDS else None
            cells += [slopes, "–" if sb is None else f"{sb:.2f}", _at(gl.get("at_1e8_seconds_model")),
                      _at(gs.get("at_1e8_seconds_model"))]
        lines.append("| " + " | ".join([label] + cells) + " |")
    lines += ["", "| operation | N | objects read | bytes read | LIST calls | keys listed | one-level names |",
              "|---|--:|--:|--:|--:|--:|--:|"]
    for op, label in TABLE_OPS:
        have = [r for r in local if op in r["ops"]]
        if not have:
            continue
        r = have[-1]
        c = r["ops"][op]
        lines.append(f"| {label} | {exp(r['n'])} | {c['objects_read']:,} | {c['bytes_read']:,} | "
                     f"{c['list_calls']:,} | {c['keys_listed']:,} | {c['children_listed']:,} |")
    return "\n".join(lines) + "\n"


# -- main --------------------------------------------------------------------------------------
def _sizes(text: str) -> list[int]:
    return [int(float(s)) for s in text.split(",") if s.strip()]


def _leg(name: str, make_store: Callable[[int], ObjectStore], sizes: list[int], objects_max: int,
         repeat: int, old_mark_max: int, heavy_max: int) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        log.info("%s: N = %d", name, n)
        row = measure(make_store(n), n, objects=n <= objects_max, repeat=repeat, old_mark_max=old_mark_max,
                      heavy_max=heavy_max)
        rows.append(row)
        (Path(tempfile.gettempdir()) / f"kho-scale-partial-{name}.json").write_text(json.dumps(rows, indent=1))
        print(f"{name} N={n:>10,}  " + "  ".join(f"{op}={r['seconds']:.3f}s" for op, r in row["ops"].items()),
              flush=True)
    return rows


CHART_OPS = ["commit_1000_shards", "resolve_manifest", "show", "plan_pull_where", "plan_verify",
             "ingest_committed_runs", "mark_old_every_list_of_every_version", "gc_full_audit",
             "gc_by_runs_steady", "full_list"]


def finish(name: str, legs: dict[str, list[dict[str, Any]]], inputs: dict[str, Any]) -> Path:
    """Fit, write NAME.json and NAME.svg (the local leg, or the only one), print the growth."""
    fits = {leg: summarize(rows) for leg, rows in legs.items() if rows}
    ratio = {leg: {op: f["vs_full_list"] for op, f in fit.items() if isinstance(f, dict) and "vs_full_list" in f}
             for leg, fit in fits.items()}
    path = write_results(name, inputs, {"per_n": legs, "growth": fits}, ratio)
    shown = legs.get("local") or next(iter(legs.values()))
    chart = results_dir() / f"{name}.svg"
    chart.write_text(loglog_svg(shown, [o for o in CHART_OPS if any(o in r["ops"] for r in shown)],
                                "bench/scale (local): seconds vs shard entries N"))
    for leg, fit in fits.items():
        for op, f in fit.items():
            if isinstance(f, dict) and "slope_seconds" in f:
                print(f"{leg:6s} {op:42s} slope {f['slope_seconds']}  at 1e8: {f['at_1e8_seconds']} s")
    print(f"results: {path}\nchart: {chart}\nmachine: {machine()['cpu']}")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--legs", default="local,s3", help="which legs to run: local, s3 or both")
    ap.add_argument("--sizes", default="1e4,1e5,1e6,1e7", help="local N values")
    ap.add_argument("--objects-max", type=float, default=1e5, help="largest local N with shard objects")
    ap.add_argument("--s3", choices=("cluster", "server"), default="cluster",
                    help="the S3 leg on tests/s3cluster.py (3 volume servers) or tests/s3server.py")
    ap.add_argument("--s3-sizes", default="1e4,1e5,1e6")
    ap.add_argument("--s3-objects-max", type=float, default=1e4)
    ap.add_argument("--old-mark-max", type=float, default=1e6,
                    help="largest N for the old mark (quadratic: every list of every version)")
    ap.add_argument("--heavy-max", type=float, default=1e6,
                    help="largest N for the operations that read every entry in Python (linear)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--name", default="scale")
    ap.add_argument("--merge", default="", help="combine earlier results (comma-separated names) "
                                                  "into NAME.json instead of running")
    ap.add_argument("--tables", action="store_true",
                    help="print docs/scale.md's two tables from results/NAME.json instead of running")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.tables:
        print(markdown_tables(json.loads((results_dir() / f"{args.name}.json").read_text())), end="")
        return
    if args.merge:
        legs, inputs = {}, {}
        for part in args.merge.split(","):
            data = json.loads((results_dir() / f"{part}.json").read_text())
            legs.update({k: v for k, v in data["figures"]["per_n"].items() if v})
            inputs.update({k: v for k, v in data["inputs"].items() if v not in (None, "not run", [])})
        inputs["merged_from"] = args.merge.split(",")
        finish(args.name, legs, inputs)
        return

    run_legs = set(args.legs.split(","))
    legs: dict[str, list[dict[str, Any]]] = {}
    s3_info = "not run"
    with tempfile.TemporaryDirectory(prefix="kho-scale-") as tmp:
        tmp_path = Path(tmp)
        if "local" in run_legs:
            legs["local"] = _leg("local", lambda n: LocalStore(tmp_path / f"local-{n}"), _sizes(args.sizes),
                                 int(args.objects_max), args.repeat, int(args.old_mark_max),
                                 int(args.heavy_max))
        if "s3" in run_legs:
            from contextlib import ExitStack

            from storage.s3 import S3Store

            with ExitStack() as stack:
                if args.s3 == "cluster":
                    from tests.s3cluster import s3_cluster

                    server = stack.enter_context(s3_cluster(tmp_path / "cluster"))
                    s3_info = ("SeaweedFS cluster (tests/s3cluster.py: master, 3 volume servers, filer, "
                               "S3 gateway; replication 001) on 127.0.0.1")
                else:
                    from tests.s3server import start_server

                    server = start_server(tmp_path / "weed")
                    stack.callback(server.stop)
                    s3_info = "SeaweedFS weed mini (tests/s3server.py) on 127.0.0.1"
                os.environ.update(server.env())
                legs["s3"] = _leg("s3", lambda n: S3Store(server.endpoint, f"scale-{n}", create_bucket=True),
                                  _sizes(args.s3_sizes), int(args.s3_objects_max), args.repeat,
                                  int(args.old_mark_max), int(args.heavy_max))
    inputs = {"sizes_local": _sizes(args.sizes) if "local" in run_legs else [],
              "sizes_s3": _sizes(args.s3_sizes) if "s3" in run_legs else [],
              "shards_per_version": SHARD_LIST_MAX_ROWS, "new_shards_per_commit": NEW_SHARDS,
              "shard_objects_up_to": {"local": int(args.objects_max), "s3": int(args.s3_objects_max)},
              "old_mark_up_to": int(args.old_mark_max), "heavy_ops_up_to": int(args.heavy_max),
              "where": WHERE, "s3": s3_info, "extrapolated_to": TARGET,
              "baseline": "one full LIST of the bucket at the same N (measured with the N zero-byte shard "
                          "objects present; above the objects limit: keys x seconds per key measured at "
                          "the largest N with objects)"}
    finish(args.name, legs, inputs)


if __name__ == "__main__":
    main()
