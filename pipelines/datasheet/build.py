"""Build a version's datasheet from its stored columns and its lineage."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from pipelines.datasheet.bounds import DatasheetBounds
from pipelines.datasheet.registry import ALL, SheetContext, sections_for
from schemas.manifest import Manifest
from storage.errors import StoreError
from storage.versions import VersionRef, VersionStore

log = logging.getLogger(__name__)

DATASHEET_FORMAT = "kho.datasheet/1"
HEADINGS = ("composition", "provenance", "funnel", "privacy", "skew", "quality")


def _load_sections() -> None:
    """Import the built-in modality sections (they register themselves)."""
    from pipelines.datasheet import common, image, text  # noqa: F401


def lineage(vs: VersionStore, m: Manifest) -> tuple[list[Manifest], str | None]:
    """``m`` and its ancestors, newest first; the second item says why the chain stopped
    early (an unreadable parent or a loop), None when it is complete."""
    chain, seen = [m], {m.version}
    while m.parent:
        if m.parent in seen:
            return chain, f"parent loop at {m.parent}: run `kho verify {m.dataset}`"
        seen.add(m.parent)
        try:
            m = vs.manifest(VersionRef(m.dataset, m.parent))
        except StoreError as exc:
            return chain, f"{m.dataset}@{m.parent} unreadable: {exc}"
        chain.append(m)
    return chain, None


def build_datasheet(store_or_vs, dataset: str, version: str,
                    bounds: DatasheetBounds | None = None, *, incremental: bool = True) -> dict[str, Any]:
    """The datasheet of ``dataset@version`` as JSON data (see docs/architecture.md, Datasheets).

    ``store_or_vs`` is an ObjectStore or a VersionStore. ``version`` may be a ref.
    ``incremental``: start from the parent's stored scans where they fit (see
    pipelines/datasheet/state.py); False reads every shard.
    """
    return build_with_context(store_or_vs, dataset, version, bounds, incremental=incremental)[0]


def build_with_context(store_or_vs, dataset: str, version: str, bounds: DatasheetBounds | None = None,
                       *, incremental: bool = True) -> tuple[dict[str, Any], SheetContext]:
    """:func:`build_datasheet` and the context it was built in (its scans, to be stored)."""
    _load_sections()
    vs = store_or_vs if isinstance(store_or_vs, VersionStore) else VersionStore(store_or_vs)
    m = vs.manifest(VersionRef(dataset, version))
    chain, broken = lineage(vs, m)
    ctx = SheetContext(vs=vs, manifest=m, lineage=chain, bounds=bounds or DatasheetBounds(),
                       broken_lineage=broken, incremental=incremental)
    modalities = sorted({s.modality for s in ctx.shards()})
    sheet: dict[str, Any] = {
        "format": DATASHEET_FORMAT, "dataset": m.dataset, "version": m.version,
        "created_at": m.created_at.isoformat(), "built_at": datetime.now(timezone.utc).isoformat(),
        "modalities": modalities, "rows": m.total_rows, "stored_bytes": m.total_bytes,
        "bounds": ctx.bounds.model_dump(mode="json"), **{h: {} for h in HEADINGS},
    }
    for fn in sections_for(ALL):
        for heading, part in fn(ctx).items():
            sheet.setdefault(heading, {}).update(part)
    for modality in modalities:
        for fn in sections_for(modality):
            for heading, part in fn(ctx).items():
                sheet.setdefault(heading, {}).setdefault(modality, {}).update(part)
    sheet["flags"] = sorted(f"{mod}.{name}" for mod, ind in sheet["skew"].items() if isinstance(ind, dict)
                            for name, v in ind.items() if isinstance(v, dict) and v.get("flagged"))
    sheet["scans"] = dict(sorted(ctx.scan_mode.items()))
    return sheet, ctx
