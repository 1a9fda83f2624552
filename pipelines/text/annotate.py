"""The text modality's per-record Beam steps: annotate (normalize, identify language, compute
quality signals, scrub PII, list every failed rule) and the near-dedup items (MinHash).

Per-record logic lives in filters/ (no Beam); the ingest core (pipelines/core/) wires these
steps into the run. Quality signals are computed only for documents
in a kept language (tokenizing other languages as Vietnamese would be wasted work and
meaningless values); their language score is still stored.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import apache_beam as beam

from pipelines.common import keep_rule
from pipelines.config import IngestConfig
from pipelines.records import content_hash, quarantine_row



def _signal_names() -> tuple[str, ...]:
    from filters.quality import SIGNAL_NAMES

    return tuple(SIGNAL_NAMES)


def _pii_types() -> tuple[str, ...]:
    from filters.pii import PII_TYPES

    return tuple(PII_TYPES)


class AnnotateText(beam.DoFn):
    """Normalize, identify language, score quality, scrub PII and list every failed rule.

    Models and tokenizers load once per worker in ``setup``. An exception on one record
    sends that record to quarantine with its error; the bundle goes on.
    """

    def __init__(self, cfg: IngestConfig, run_id: str, code_version: str) -> None:
        self.language = cfg.language.model_dump()
        self.quality = cfg.quality.model_dump(mode="json")
        self.redact = cfg.pii.redact
        self.ner_fallback = cfg.pii.ner_fallback
        self.run_id, self.code_version = run_id, code_version

    def setup(self) -> None:
        from filters.langid import default_identifier
        from filters.pii import PiiDetector
        from filters.quality import QualityScorer, QualityThresholds

        self.lid = default_identifier()
        self.scorer = QualityScorer(QualityThresholds.model_validate(self.quality))
        self.pii = PiiDetector(use_ner=self.ner_fallback)
        self.signal_names = _signal_names()
        self.pii_types = _pii_types()

    def process(self, rec: dict[str, Any]):
        try:
            yield self.annotate(rec)
        except Exception as exc:  # noqa: BLE001 - one bad record goes to quarantine
            yield beam.pvalue.TaggedOutput("quarantine", quarantine_row(
                rec["source"], rec["uri"], rec["pointer"], exc,
                f"annotating failed: {type(exc).__name__}: {exc}",
                raw=rec.get("raw_text", "").encode("utf-8", "replace")))

    def _language_reasons(self, lang) -> list[str]:
        if lang.lang not in self.language["keep"]:
            return ["language:other_language"]
        reasons = []
        if lang.score < self.language["min_score"]:
            reasons.append("language:low_score")
        if lang.variant == "no_diacritics" and self.language["no_diacritics"] == "reject":
            reasons.append("language:no_diacritics")
        return reasons

    def annotate(self, rec: dict[str, Any]) -> dict[str, Any]:
        from filters.normalize import normalize_text

        norm = normalize_text(rec["raw_text"])
        text = norm.text
        if not text.strip():
            reasons, lang, signals = ["empty:no_text"], None, None
        else:
            lang = self.lid.identify(text)
            reasons = self._language_reasons(lang)
            signals = None
            if lang.lang in self.language["keep"]:
                signals, failed = self.scorer.score(text)
                reasons += failed
        findings = self.pii.find_pii(text)
        pii_counts = Counter(f.type for f in findings)
        out_text = self.pii.redact(text, findings) if self.redact else text
        return {
            **{k: rec[k] for k in ("id", "source", "uri", "pointer", "url", "crawl_date", "license")},
            "source_id": rec.get("source_id"),
            "extra": rec.get("extra"),
            "text": out_text,
            "chars": len(out_text),
            "lang": lang.lang if lang else None,
            "lang_score": float(lang.score) if lang else None,
            "lang_variant": lang.variant if lang else None,
            "signals": {n: signals.get(n) for n in self.signal_names} if signals else None,
            "pii": {t: pii_counts.get(t, 0) for t in self.pii_types},
            "pii_total": sum(pii_counts.values()),
            "normalize_fixes": list(norm.fixes),
            "content_hash": content_hash(text),
            "run_id": self.run_id,
            "code_version": self.code_version,
            "reasons": reasons,
        }


def _stages(outcome: str, reasons: list[str]) -> list[str]:
    """Funnel stages a record got through."""
    stages = ["read"]
    if outcome == "quarantined":
        return stages
    stages.append("decoded")
    lang_ok = not any(r.startswith(("language:", "empty:")) for r in reasons)
    if lang_ok:
        stages.append("language")
        if outcome != "rejected":
            stages.append("quality")
    if outcome == "kept":
        stages.append("unique")
    return stages


class TextDedupItems(beam.DoFn):
    """MinHash bucket keys of a record's text; the hasher is built once per worker."""

    def __init__(self, minhash: dict[str, Any]) -> None:
        self.minhash = minhash

    def setup(self) -> None:
        from filters.minhash import MinHashConfig, MinHasher

        self.hasher = MinHasher.from_config(MinHashConfig.model_validate(self.minhash))

    def process(self, rec: dict[str, Any]):
        from pipelines.dedup import text_dedup_item

        # The same keep rule as exact dedup (published records win before it applies).
        yield text_dedup_item(rec["id"], rec["text"], self.hasher, priority=keep_rule(rec))
