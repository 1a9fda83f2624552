"""The image modality's sections, from the Parquet index rows of the version's tars (one row
per published image; the tars themselves are never opened)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from pipelines.datasheet.domains import domain_and_tld
from pipelines.datasheet.measures import Values, domain_indicators, indicator, month_of, shares, time_indicator
from pipelines.datasheet.registry import SheetContext, register_section
from pipelines.datasheet.state import fingerprint

MODALITY = "image"
COLUMNS = ["source", "url", "crawl_date", "license", "caption", "caption_lang", "caption_variant",
           "caption_pii", "caption_pii_total", "faces", "plates", "width", "height", "bytes", "signals.blur"]


@dataclass
class ImageScan:
    """Everything the image sections report, folded over every index row."""

    images: int = 0
    image_bytes: int = 0
    captioned: int = 0
    by: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    pii: Counter = field(default_factory=Counter)
    pii_by_source: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    blurred: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    vi_captions: int = 0
    vi_no_diacritics: int = 0
    values: dict[str, Values] = field(default_factory=lambda: defaultdict(Values))

    def add_row(self, r: dict[str, Any]) -> None:
        source = r.get("source") or "?"
        self.images += 1
        self.image_bytes += r.get("bytes") or 0
        self.captioned += bool(r.get("caption"))
        domain, tld = domain_and_tld(r.get("url"))
        for key, value in (("source", source), ("license", r.get("license")),
                           ("caption_language", r.get("caption_lang")), ("domain", domain), ("tld", tld),
                           ("caption_variant", r.get("caption_variant") or ("standard" if r.get("caption") else None)),
                           ("crawl_month", month_of(r.get("crawl_date")))):
            self.by[key][value] += 1
        for t, n in (r.get("caption_pii") or {}).items():
            if n:
                self.pii[t] += n
                self.pii_by_source[source][t] += n
        for kind in ("faces", "plates"):
            self.blurred[source][kind] += r.get(kind) or 0
        if r.get("caption_lang") == "vi":
            self.vi_captions += 1
            self.vi_no_diacritics += r.get("caption_variant") == "no_diacritics"
        for name in ("width", "height"):
            self.values[name].add([r.get(name)])
        self.values["blur"].add([(r.get("signals") or {}).get("blur")])


#: What a stored image scan depends on: a scan made with other columns is redone.
FINGERPRINT = fingerprint(MODALITY, COLUMNS)


def _add_batch(acc: ImageScan, batch) -> None:
    for row in batch.to_pylist():
        acc.add_row(row)


def scan(ctx: SheetContext) -> ImageScan:
    """The version's image scan from its tars' index rows (memoised; incremental as text's)."""
    return ctx.memo("image-scan", lambda: ctx.fold(MODALITY, "wds-index", COLUMNS, ImageScan, _add_batch,
                                                   FINGERPRINT))


def composition(ctx: SheetContext) -> dict[str, Any]:
    s = scan(ctx)
    tars = ctx.shards(MODALITY, "webdataset")
    return {"composition": {
        "images": s.images, "rows": s.images, "stored_bytes": sum(t.bytes for t in tars),
        "image_bytes": s.image_bytes, "captioned": s.captioned, "shards": len(tars),
        "by_source": shares(s.by["source"], s.images), "by_license": shares(s.by["license"], s.images),
        "by_caption_language": shares(s.by["caption_language"], s.images),
        "by_caption_variant": shares(s.by["caption_variant"], s.images),
        "by_domain": shares(s.by["domain"], s.images, top=50), "domains": len(s.by["domain"]),
        "by_tld": shares(s.by["tld"], s.images),
        "by_crawl_month": sorted(shares(s.by["crawl_month"], s.images),
                                 key=lambda d: (d["value"] is None, d["value"] or "")),
    }}


def privacy(ctx: SheetContext) -> dict[str, Any]:
    s = scan(ctx)
    return {"privacy": {
        "caption_pii_by_type": dict(s.pii.most_common()),
        "caption_pii_by_source": {k: dict(v.most_common()) for k, v in sorted(s.pii_by_source.items())},
        "faces_blurred": sum(c["faces"] for c in s.blurred.values()),
        "plates_blurred": sum(c["plates"] for c in s.blurred.values()),
        "blurred_by_source": {k: dict(v) for k, v in sorted(s.blurred.items())},
        "note": "Faces and licence plates found by the detectors were blurred in the published "
                "images; PII in captions was replaced by placeholders.",
    }}


def skew(ctx: SheetContext) -> dict[str, Any]:
    s, b = scan(ctx), ctx.bounds
    nodiac = round(s.vi_no_diacritics / s.vi_captions, 6) if s.vi_captions else 0.0
    return {"skew": {
        **domain_indicators(s.by["domain"], b),
        "no_diacritics_share": indicator(
            nodiac, "share of Vietnamese captions typed without tone marks", "Captions only.",
            flagged=nodiac > b.max_no_diacritics_share, bound=b.max_no_diacritics_share),
        "time_coverage": time_indicator(s.by["crawl_month"], b),
    }}


def quality(ctx: SheetContext) -> dict[str, Any]:
    s = scan(ctx)
    return {"quality": {"signals": {n: s.values[n].summary() for n in ("width", "height", "blur")}}}


for _fn in (composition, privacy, skew, quality):
    register_section(MODALITY, _fn)
