"""Sections every version gets, whatever its modalities: provenance, the processing funnel
across the lineage, and annotator precision from the review app's exported summaries."""

from __future__ import annotations

import io
import logging
from collections import Counter
from typing import Any

import pyarrow.parquet as pq

from pipelines.datasheet.registry import ALL, SheetContext, read_json, register_section
from storage.errors import StoreError
from storage.layout import review_summary_key

log = logging.getLogger(__name__)

FUNNEL_FIELDS = ("inputs", "kept", "rejected", "quarantined", "duplicates")


def _licenses(stats: dict[str, Any] | None) -> dict[str, str | None]:
    """source name -> licence from a run's config (what the operator declared)."""
    cfg = (stats or {}).get("config") or {}
    return {s.get("name"): s.get("license") for s in cfg.get("sources") or [] if isinstance(s, dict)}


def provenance(ctx: SheetContext) -> dict[str, Any]:
    """Sources with their URIs and licences, and the runs that built the version and its parents."""
    sources, runs = [], []
    for m in ctx.lineage:
        stats = ctx.run_stats(m.run_id) if m.run_id else None
        licenses = _licenses(stats)
        for s in m.sources:
            sources.append({"name": s.name, "uris": [u for u in s.uri.split(",") if u],
                            "license": licenses.get(s.name), "inputs": s.inputs, "kept": s.kept,
                            "version": m.version, "run_id": m.run_id})
        runs.append({"version": m.version, "parent": m.parent, "run_id": m.run_id or None,
                     "created_at": m.created_at.isoformat(), "code_version": m.code_version,
                     "config_hash": m.config_hash or None, "merkle_root": m.merkle_root,
                     "stats_found": stats is not None})
    m = ctx.manifest
    return {"provenance": {
        "sources": sources, "runs": runs, "lineage_complete": ctx.broken_lineage is None,
        "lineage_problem": ctx.broken_lineage,
        "merkle_root": m.merkle_root,
        "verify": {"command": f"kho verify {m.dataset}@{m.version}",
                   "what": "re-hashes every shard, recomputes the shard-list and version roots and "
                           "checks them against this root, the refs and the child's parent_root"},
    }}


def _duplicate_kinds(ctx: SheetContext, stats: dict[str, Any]) -> Counter:
    """exact/near counts from a run's duplicates tables (only their ``kind`` column)."""
    kinds: Counter = Counter()
    for key in (stats.get("tables") or {}).get("duplicates") or []:
        try:
            table = pq.read_table(io.BytesIO(ctx.store.get_bytes(key)), columns=["kind"])
        except (StoreError, OSError, KeyError) as exc:
            log.warning("datasheet: duplicates table %s unreadable (%s); its kinds are not counted", key, exc)
            continue
        kinds.update(table.column("kind").to_pylist())
    return kinds


def funnel(ctx: SheetContext) -> dict[str, Any]:
    """Inputs, kept, rejected by reason, quarantined by error and duplicates by kind, summed
    over the runs of the version and every parent (each run adds its own inputs)."""
    totals = Counter({k: 0 for k in FUNNEL_FIELDS})
    reasons, errors, dup_kinds = Counter(), Counter(), Counter()
    per_run, missing = [], []
    # the duplicates tables of older runs were counted by the parent's datasheet: reuse them
    parent = ctx.parent_sheet() or {}
    counted = {(r.get("version"), r.get("run_id")): r.get("duplicates_by_kind")
               for r in (parent.get("funnel") or {}).get("runs") or [] if isinstance(r, dict)}
    for m in ctx.lineage:
        stats = ctx.run_stats(m.run_id) if m.run_id else None
        if stats is None:
            missing.append(m.version)
            continue
        t = stats.get("totals") or {}
        totals.update({k: int(t.get(k, 0)) for k in FUNNEL_FIELDS})
        reasons.update(stats.get("rejected_by_reason") or {})
        errors.update(stats.get("quarantined_by_error") or {})
        known = counted.get((m.version, m.run_id))
        kinds = Counter(known) if isinstance(known, dict) else _duplicate_kinds(ctx, stats)
        dup_kinds.update(kinds)
        per_run.append({"version": m.version, "run_id": m.run_id,
                        **{k: int(t.get(k, 0)) for k in FUNNEL_FIELDS}, "duplicates_by_kind": dict(kinds)})
    return {"funnel": {
        "totals": dict(totals), "rejected_by_reason": dict(reasons.most_common()),
        "quarantined_by_error": dict(errors.most_common()),
        "duplicates_by_kind": {"exact": dup_kinds.get("exact", 0), "near": dup_kinds.get("near", 0),
                               **{k: v for k, v in dup_kinds.items() if k not in ("exact", "near")}},
        "runs": per_run, "versions_without_stats": missing,
        "note": "Rejected counts by reason add up to more than the rejected total when a record "
                "failed several rules.",
    }}


def annotator_precision(ctx: SheetContext) -> dict[str, Any]:
    """Precision per queue and filter from each lineage run's exported review summary."""
    runs = []
    for m in ctx.lineage:
        if not m.run_id:
            continue
        summary = read_json(ctx.store, review_summary_key(m.run_id))
        if summary is None:
            runs.append({"version": m.version, "run_id": m.run_id, "status": "no judgements yet"})
            continue
        rows = [{k: q.get(k) for k in ("queue", "kind", "judged", "precision", "interval")}
                for q in summary.get("queues") or [] if isinstance(q, dict)]
        runs.append({"version": m.version, "run_id": m.run_id, "status": "judged",
                     "exported_at": summary.get("exported_at"), "judgements": summary.get("judgements"),
                     "filters": [r for r in rows if r["kind"] == "filter"],
                     "queues": [r for r in rows if r["kind"] != "filter"]})
    return {"quality": {"annotator_precision": {
        "runs": runs,
        "how": "From runs/<run>/review/summary.json, written by the review app's export; precision "
               "= correct / (correct + wrong) among judged items, with its interval. A run without "
               "that object has no judgements yet.",
    }}}


for _fn in (provenance, funnel, annotator_precision):
    register_section(ALL, _fn)
