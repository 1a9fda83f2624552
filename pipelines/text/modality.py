"""The text modality: what Vietnamese text plugs into the ingest core.

Readers: JSONL (plain, .gz, .zst), Parquet, WARC/WET. Annotator: normalize, language ID,
quality signals, PII (pipelines/text.py's AnnotateText). Near dedup: MinHash of syllable
n-grams. Shards: Parquet. Report: language-score and quality-signal histograms.
"""

from __future__ import annotations

from typing import Any

import apache_beam as beam

from pipelines.config import IngestConfig
from pipelines.core.modality import Modality, ModalitySchemas, register_modality
from pipelines.readers import READERS


class TextModality(Modality):
    """Vietnamese text documents."""

    name = "text"
    config_model = IngestConfig
    writer = "parquet"
    funnel = ("read", "decoded", "language", "quality", "unique")

    def readers(self):
        return dict(READERS)

    def annotator(self, cfg: IngestConfig, run_id: str, code_version: str) -> beam.DoFn:
        from pipelines.text.annotate import AnnotateText

        return AnnotateText(cfg, run_id, code_version)

    def schemas(self, cfg: IngestConfig) -> ModalitySchemas:
        from pipelines.text.annotate import _pii_types, _signal_names
        from schemas.text import QUARANTINE_SCHEMA, duplicates_schema, rejected_schema, text_record_schema

        signals, pii = _signal_names(), _pii_types()
        return ModalitySchemas(text_record_schema(signals, pii), rejected_schema(signals, pii),
                               duplicates_schema(), QUARANTINE_SCHEMA)

    def dedup_items(self, cfg: IngestConfig) -> beam.DoFn | None:
        from pipelines.text.annotate import TextDedupItems

        if not cfg.dedup.near.enabled:
            return None
        return TextDedupItems(cfg.dedup.near.minhash.model_dump())

    def near_dedup_config(self, cfg: IngestConfig):
        return cfg.dedup.near.minhash

    def stages(self, outcome: str, reasons: list[str]) -> list[str]:
        from pipelines.text.annotate import _stages

        return _stages(outcome, reasons)

    def sample(self, rec: dict[str, Any]) -> dict[str, Any]:
        return {"lang": rec.get("lang"), "lang_score": rec.get("lang_score"), "signals": rec.get("signals")}

    def example_text(self, rec: dict[str, Any]) -> str:
        return rec.get("text") or ""

    def report_plots(self, stats: dict[str, Any]) -> list[str]:
        from pipelines.report import text_report_plots

        return text_report_plots(stats)

    def duplicate_row(self, rec: dict[str, Any]) -> dict[str, Any]:
        return {**rec, "kind": rec.get("dup_kind", "exact")}


TEXT = register_modality(TextModality())
