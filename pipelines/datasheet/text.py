"""The text modality's sections: composition, privacy, skew and quality, from one pass over
the version's text shards (only the columns below, batch by batch)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from pipelines.datasheet import lexicons as lx
from pipelines.datasheet.domains import domain_and_tld
from pipelines.datasheet.measures import Values, domain_indicators, indicator, month_of, shares, time_indicator
from pipelines.datasheet.registry import SheetContext, register_section
from pipelines.datasheet.state import fingerprint
from pipelines.datasheet.textmatch import PhraseIndex, syllables

MODALITY = "text"
COLUMNS = ["source", "url", "crawl_date", "license", "lang", "lang_score", "lang_variant", "text",
           "signals.words", "pii", "pii_total"]
NO_DIACRITICS = "no_diacritics"
#: Every word list of the text indicators, matched in one pass per document.
_LISTS = PhraseIndex({**{("dialect", r): w for r, w in lx.DIALECT_MARKERS.items()},
                      **{("gender", g): w for g, w in lx.GENDER_TERMS.items()},
                      **{("topic", t): w for t, w in lx.TOPIC_KEYWORDS.items()}})


@dataclass
class TextScan:
    """Everything the text sections report, folded over every kept row."""

    rows: int = 0
    text_bytes: int = 0
    words: float = 0.0
    by: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    words_by_source: Counter = field(default_factory=Counter)
    pii: Counter = field(default_factory=Counter)
    pii_by_source: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    rows_with_pii: Counter = field(default_factory=Counter)
    vi_rows: int = 0
    vi_no_diacritics: int = 0
    dialect_docs: Counter = field(default_factory=Counter)
    docs_with_markers: int = 0
    gender: Counter = field(default_factory=Counter)
    topics: Counter = field(default_factory=Counter)
    values: dict[str, Values] = field(default_factory=lambda: defaultdict(Values))

    def add_row(self, r: dict[str, Any]) -> None:
        text = r.get("text") or ""
        source = r.get("source") or "?"
        self.rows += 1
        self.text_bytes += len(text.encode("utf-8"))
        words = (r.get("signals") or {}).get("words")
        if words is not None:
            self.words += words
            self.words_by_source[source] += int(words)
        domain, tld = domain_and_tld(r.get("url"))
        lang = r.get("lang")
        for key, value in (("source", source), ("license", r.get("license")), ("language", lang),
                           ("lang_variant", r.get("lang_variant") or "standard"), ("domain", domain),
                           ("tld", tld), ("crawl_month", month_of(r.get("crawl_date")))):
            self.by[key][value] += 1
        for t, n in (r.get("pii") or {}).items():
            if n:
                self.pii[t] += n
                self.pii_by_source[source][t] += n
        if r.get("pii_total"):
            self.rows_with_pii[source] += 1
        if lang == "vi":
            self.vi_rows += 1
            self.vi_no_diacritics += r.get("lang_variant") == NO_DIACRITICS
        found = _LISTS.count(syllables(text))
        regions = [r for r in lx.DIALECT_MARKERS if len(found.get(("dialect", r), ())) >= lx.MIN_MARKERS]
        self.dialect_docs.update(regions)
        self.docs_with_markers += bool(regions)
        for g in lx.GENDER_TERMS:
            self.gender[g] += sum(found.get(("gender", g), {}).values())
        hits = {t: sum(found.get(("topic", t), {}).values()) for t in lx.TOPIC_KEYWORDS}
        best = max(hits, key=lambda t: hits[t])
        self.topics[best if hits[best] else lx.OTHER_TOPIC] += 1

    def add_values(self, batch: dict[str, list]) -> None:
        if "signals" in batch:
            self.values["words"].add((s or {}).get("words") for s in batch["signals"])
        if "lang_score" in batch:
            self.values["lang_score"].add(batch["lang_score"])


#: What a stored text scan depends on: a scan made with other columns or word lists is redone.
FINGERPRINT = fingerprint(MODALITY, COLUMNS, lx.DIALECT_MARKERS, lx.MIN_MARKERS, lx.GENDER_TERMS,
                          lx.TOPIC_KEYWORDS, lx.OTHER_TOPIC, NO_DIACRITICS)


def _add_batch(acc: TextScan, batch) -> None:
    acc.add_values(batch.to_pydict())
    for row in batch.to_pylist():
        acc.add_row(row)


def scan(ctx: SheetContext) -> TextScan:
    """The version's text scan (memoised: every text section shares it): the parent's stored
    scan plus the new shards, or one pass over every text shard."""
    return ctx.memo("text-scan", lambda: ctx.fold(MODALITY, "parquet", COLUMNS, TextScan, _add_batch,
                                                  FINGERPRINT))


def composition(ctx: SheetContext) -> dict[str, Any]:
    s = scan(ctx)
    shards = ctx.shards(MODALITY, "parquet")
    return {"composition": {
        "rows": s.rows, "stored_bytes": sum(x.bytes for x in shards), "text_bytes": s.text_bytes,
        "words": int(s.words), "shards": len(shards),
        "by_source": shares(s.by["source"], s.rows),
        "words_by_source": dict(sorted(s.words_by_source.items())),
        "by_license": shares(s.by["license"], s.rows), "by_language": shares(s.by["language"], s.rows),
        "by_lang_variant": shares(s.by["lang_variant"], s.rows),
        "by_domain": shares(s.by["domain"], s.rows, top=50), "domains": len(s.by["domain"]),
        "by_tld": shares(s.by["tld"], s.rows), "by_crawl_month": sorted(
            shares(s.by["crawl_month"], s.rows), key=lambda d: (d["value"] is None, d["value"] or "")),
        "domain_rule": "registered domain = last two labels of the URL host, or last three under a "
                       "second-level suffix such as .com.vn, .edu.vn, .gov.vn (see "
                       "pipelines/datasheet/domains.py)",
        "words_from": "signals.words (whitespace words of the normalized text)",
    }}


def privacy(ctx: SheetContext) -> dict[str, Any]:
    s = scan(ctx)
    return {"privacy": {
        "pii_by_type": dict(s.pii.most_common()), "pii_total": sum(s.pii.values()),
        "pii_by_source": {src: dict(c.most_common()) for src, c in sorted(s.pii_by_source.items())},
        "rows_with_pii_by_source": dict(sorted(s.rows_with_pii.items())),
        "note": "Findings of the PII scrubber in published text; each was replaced by a "
                "placeholder such as <PHONE> before the shards were written.",
    }}


def skew(ctx: SheetContext) -> dict[str, Any]:
    s, b = scan(ctx), ctx.bounds
    nodiac = round(s.vi_no_diacritics / s.vi_rows, 6) if s.vi_rows else 0.0
    dialect_shares = {r: (round(s.dialect_docs[r] / s.docs_with_markers, 6) if s.docs_with_markers else 0.0)
                      for r in lx.DIALECT_MARKERS}
    top_region = max(dialect_shares.values(), default=0.0)
    male, female = s.gender["male"], s.gender["female"]
    ratio = round(male / female, 6) if female else None
    lo, hi = b.gender_ratio_range
    topic_rows = shares(s.topics, s.rows)
    top_topic = topic_rows[0]["share"] if topic_rows else 0.0
    return {"skew": {
        **domain_indicators(s.by["domain"], b),
        "no_diacritics_share": indicator(
            nodiac, "share of Vietnamese rows typed without tone marks (lang_variant = no_diacritics)",
            "As tagged by the language identifier; short texts without tone marks may be missed.",
            flagged=nodiac > b.max_no_diacritics_share, bound=b.max_no_diacritics_share,
            rows=s.vi_no_diacritics, of=s.vi_rows),
        "dialect_region": indicator(
            dialect_shares, "share of documents with dialect markers that have markers of each region",
            lx.DIALECT_LIMITS, flagged=s.docs_with_markers > 0 and top_region > b.max_dialect_region_share,
            bound=b.max_dialect_region_share, documents={r: s.dialect_docs[r] for r in lx.DIALECT_MARKERS},
            documents_with_markers=s.docs_with_markers, documents_without_markers=s.rows - s.docs_with_markers,
            method=lx.DIALECT_METHOD, markers={r: list(w) for r, w in lx.DIALECT_MARKERS.items()}),
        "gender_term_ratio": indicator(
            ratio, "male / female person-term occurrences", lx.GENDER_LIMITS,
            flagged=ratio is not None and not lo <= ratio <= hi, bound=[lo, hi],
            male_terms=male, female_terms=female, method=lx.GENDER_METHOD,
            terms={g: list(w) for g, w in lx.GENDER_TERMS.items()}),
        "topic_mix": indicator(
            topic_rows, "documents per topic (keyword based)", lx.TOPIC_LIMITS,
            flagged=top_topic > b.max_topic_share, bound=b.max_topic_share, method=lx.TOPIC_METHOD,
            keywords={t: list(w) for t, w in lx.TOPIC_KEYWORDS.items()}),
        "time_coverage": time_indicator(s.by["crawl_month"], b),
    }}


def _thresholds(ctx: SheetContext) -> dict[str, Any]:
    cfg = (ctx.run_stats(ctx.manifest.run_id) or {}).get("config") or {} if ctx.manifest.run_id else {}
    q, lang = cfg.get("quality") or {}, cfg.get("language") or {}
    return {"words": {"min": q.get("min_doc_words"), "max": q.get("max_doc_words")},
            "lang_score": {"min": lang.get("min_score")}}


def quality(ctx: SheetContext) -> dict[str, Any]:
    s = scan(ctx)
    thresholds = _thresholds(ctx)
    return {"quality": {"signals": {name: {**s.values[name].summary(), "thresholds": thresholds.get(name, {})}
                                    for name in ("words", "lang_score")},
                        "thresholds_from": f"the config of run {ctx.manifest.run_id or '-'}"}}


for _fn in (composition, privacy, skew, quality):
    register_section(MODALITY, _fn)
