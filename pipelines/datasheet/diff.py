"""Composition deltas between two versions' datasheets: which sources, licences, domains,
variants, months and dialect regions moved, and by how much (for `kho datasets diff`)."""

from __future__ import annotations

import json
import logging
from typing import Any

from pipelines.datasheet.build import DATASHEET_FORMAT, build_datasheet
from storage.base import ObjectStore
from storage.errors import ObjectNotFoundError
from storage.layout import datasheet_prefix

log = logging.getLogger(__name__)

DIMENSIONS = ("by_source", "by_license", "by_language", "by_lang_variant", "by_caption_variant",
              "by_domain", "by_tld", "by_crawl_month")


def load_datasheet(store: ObjectStore, dataset: str, version: str) -> dict[str, Any]:
    """The stored ``datasheet.json`` of a version, or one built now (not stored) when it is
    missing or of another format."""
    try:
        sheet = json.loads(store.get_bytes(f"{datasheet_prefix(dataset, version)}/datasheet.json"))
        if sheet.get("format") == DATASHEET_FORMAT:
            return sheet
    except (ObjectNotFoundError, ValueError):
        pass
    return build_datasheet(store, dataset, version)


def _rows(items: list[dict[str, Any]]) -> dict[Any, tuple[int, float]]:
    return {d["value"]: (d["count"], d["share"]) for d in items}


def composition_deltas(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Every value whose row count or share differs between datasheets ``a`` and ``b``,
    largest share change first. Domains are compared over each sheet's top 50 only; dialect
    regions as shares of the documents with markers."""
    out: list[dict[str, Any]] = []
    for mod in sorted(set(a["composition"]) | set(b["composition"])):
        ca, cb = a["composition"].get(mod, {}), b["composition"].get(mod, {})
        for dim in DIMENSIONS:
            ra, rb = _rows(ca.get(dim, [])), _rows(cb.get(dim, []))
            for value in sorted(set(ra) | set(rb), key=str):
                (na, sa), (nb, sb) = ra.get(value, (0, 0.0)), rb.get(value, (0, 0.0))
                if na != nb or sa != sb:
                    out.append({"modality": mod, "dimension": dim.removeprefix("by_"), "value": value,
                                "rows_a": na, "rows_b": nb, "share_a": sa, "share_b": sb,
                                "share_change": round(sb - sa, 6)})
        da = ((a.get("skew", {}).get(mod) or {}).get("dialect_region") or {})
        db = ((b.get("skew", {}).get(mod) or {}).get("dialect_region") or {})
        if da or db:
            for region in sorted(set(da.get("value") or {}) | set(db.get("value") or {})):
                na, nb = (da.get("documents") or {}).get(region, 0), (db.get("documents") or {}).get(region, 0)
                sa, sb = (da.get("value") or {}).get(region, 0.0), (db.get("value") or {}).get(region, 0.0)
                if na != nb or sa != sb:
                    out.append({"modality": mod, "dimension": "dialect_region", "value": region,
                                "rows_a": na, "rows_b": nb, "share_a": sa, "share_b": sb,
                                "share_change": round(sb - sa, 6)})
    out.sort(key=lambda r: (-abs(r["share_change"]), -abs(r["rows_b"] - r["rows_a"]), r["dimension"], str(r["value"])))
    return out
