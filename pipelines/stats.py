"""Run statistics as a mergeable accumulator: counts per source and outcome, reasons,
errors, PII by type, and deterministic samples for the report's plots and examples.

Samples are "bottom-k by hash of id": the k records with the smallest hash, which is the
same set whatever the runner, worker count or bundle order, and merges associatively.
Plain Python; the pipeline wraps it in a CombineFn.
"""

from __future__ import annotations

import heapq
from collections import Counter
from typing import Any

OUTCOMES = ("kept", "rejected", "quarantined", "duplicates")
SAMPLE_K = 4000
EXAMPLES_PER_REASON = 3


def _h(record_id: str) -> int:
    return int(record_id[:15], 16) if record_id else 0


def new_stats() -> dict[str, Any]:
    return {
        "inputs": Counter(),  # source -> records read (counted at the reader)
        "outcomes": Counter(),  # (source, outcome) -> n
        "reasons": Counter(),  # rejection rule -> n
        "errors": Counter(),  # quarantine error class -> n
        "pii": Counter(),  # PII type -> findings
        "stages": Counter(),  # funnel stage -> records remaining
        "samples": [],  # heap of (-h, id, sample dict) for the plots
        "examples": {},  # reason -> heap of (-h, id, example)
    }


def _push(heap: list, k: int, item: tuple) -> None:
    if len(heap) < k:
        heapq.heappush(heap, item)
    elif item > heap[0]:
        heapq.heapreplace(heap, item)


def add_event(acc: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """Fold one event in: ``{"kind": "input", "source", "n"}`` or an outcome event."""
    if event["kind"] == "input":
        acc["inputs"][event["source"]] += event.get("n", 1)
        return acc
    outcome = event["outcome"]
    acc["outcomes"][(event["source"], outcome)] += 1
    for stage in event.get("stages", ()):
        acc["stages"][stage] += 1
    for reason in event.get("reasons", ()):
        acc["reasons"][reason] += 1
        ex = acc["examples"].setdefault(reason, [])
        _push(ex, EXAMPLES_PER_REASON, (-_h(event["id"]), event["id"], event.get("example", {})))
    if event.get("error"):
        acc["errors"][event["error"]] += 1
        ex = acc["examples"].setdefault(f"quarantine:{event['error']}", [])
        _push(ex, EXAMPLES_PER_REASON, (-_h(event["id"]), event["id"], event.get("example", {})))
    for t, n in (event.get("pii") or {}).items():
        if n:
            acc["pii"][t] += n
    if event.get("sample"):
        _push(acc["samples"], SAMPLE_K, (-_h(event["id"]), event["id"], event["sample"]))
    return acc


def merge(accs: list[dict[str, Any]]) -> dict[str, Any]:
    out = new_stats()
    for a in accs:
        for key in ("inputs", "outcomes", "reasons", "errors", "pii", "stages"):
            out[key].update(a[key])
        for item in a["samples"]:
            _push(out["samples"], SAMPLE_K, item)
        for reason, items in a["examples"].items():
            heap = out["examples"].setdefault(reason, [])
            for item in items:
                _push(heap, EXAMPLES_PER_REASON, item)
    return out


def finish(acc: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready stats, with the reconciliation per source."""
    sources = sorted(set(acc["inputs"]) | {s for s, _ in acc["outcomes"]})
    per_source = {}
    for s in sources:
        row = {o: acc["outcomes"].get((s, o), 0) for o in OUTCOMES}
        row["inputs"] = acc["inputs"].get(s, 0)
        row["reconciles"] = row["inputs"] == sum(row[o] for o in OUTCOMES)
        per_source[s] = row
    totals = {k: sum(r[k] for r in per_source.values()) for k in ("inputs", *OUTCOMES)}
    totals["reconciles"] = all(r["reconciles"] for r in per_source.values())
    return {
        "sources": per_source,
        "totals": totals,
        "rejected_by_reason": dict(acc["reasons"].most_common()),
        "quarantined_by_error": dict(acc["errors"].most_common()),
        "pii_by_type": dict(acc["pii"].most_common()),
        "funnel": dict(acc["stages"]),
        "samples": [s for _, _, s in sorted(acc["samples"], reverse=True)],
        "examples": {r: [e for _, _, e in sorted(items, reverse=True)]
                     for r, items in sorted(acc["examples"].items())},
    }
