"""The Vietnamese text pipeline: read, normalize, identify language, compute quality
signals, decide, scrub PII, drop duplicates, write shards, commit.

Per-record logic lives in filters/ (no Beam); this module wires it into Beam with the
shared transforms of pipelines/common.py. Quality signals are computed only for documents
in a kept language (tokenizing other languages as Vietnamese would be wasted work and
meaningless values); their language score is still stored.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import apache_beam as beam

from pipelines.commit import CommitRun
from pipelines.common import ExactDedup, ReadUnits, RunStats, WriteTable, keep_rule
from pipelines.config import IngestConfig
from pipelines.records import content_hash, quarantine_row
from schemas.config import config_hash
from schemas.text import QUARANTINE_SCHEMA, duplicates_schema, rejected_schema, text_record_schema
from storage.base import ObjectStore
from storage.layout import run_prefix, shard_prefix

EXAMPLE_CHARS = 400


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


def outcome_event(outcome: str, rec: dict[str, Any]) -> dict[str, Any]:
    """The stats event of one record's final outcome."""
    reasons = rec.get("reasons") or []
    event = {"kind": "outcome", "outcome": outcome, "source": rec["source"], "id": rec["id"],
             "reasons": reasons if outcome == "rejected" else [],
             "stages": _stages(outcome, reasons), "pii": rec.get("pii")}
    example = {"id": rec["id"], "source": rec["source"], "uri": rec["uri"], "pointer": rec["pointer"]}
    if outcome == "quarantined":
        event["error"] = rec["error_class"]
        example["message"] = rec["message"]
    else:
        example["text"] = (rec.get("text") or "")[:EXAMPLE_CHARS]
        event["sample"] = {"outcome": outcome, "lang": rec.get("lang"), "lang_score": rec.get("lang_score"),
                           "signals": rec.get("signals")}
    event["example"] = example
    return event


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


def add_near_dedup(p: beam.Pipeline, unique, cfg: IngestConfig, store: ObjectStore, run_id: str,
                   committed: set[str]):
    """Near-duplicate removal after exact dedup, against the run and the published index.

    Returns (unique, near_duplicates, index_written). The index update of this run is only
    read by later runs once this run's version is committed (``committed``)."""
    from pipelines.dedup import NearDuplicates, ReadDedupIndex, SplitNearDuplicates, WriteDedupIndex

    mh = cfg.dedup.near.minhash
    items = unique | "NearDedupSignatures" >> beam.ParDo(TextDedupItems(mh.model_dump()))
    probe = items | "ProbeKeys" >> beam.FlatMap(lambda it: it.bucket_keys)
    published = p | "ReadDedupIndex" >> ReadDedupIndex(store, cfg.dataset, mh, probe=probe, only_runs=committed)
    pairs = items | "NearDuplicates" >> NearDuplicates(mh, published_index=published)
    split = unique | "SplitNearDuplicates" >> SplitNearDuplicates(pairs)
    # The kept records' signatures go to the index: a join on ids, not a second MinHash pass.
    kept_items = ({"item": items | "ItemsById" >> beam.Map(lambda it: (it.id, it)),
                   "dup": pairs | "DuplicateIds" >> beam.Map(lambda pair: (pair[0], None))}
                  | "JoinDuplicateIds" >> beam.CoGroupByKey()
                  | "KeptItems" >> beam.FlatMap(lambda kv: [] if kv[1]["dup"] else kv[1]["item"]))
    index = kept_items | "WriteDedupIndex" >> WriteDedupIndex(store, cfg.dataset, run_id, mh)
    return split.unique, split.duplicates, index


def _dup_row(rec: dict[str, Any]) -> dict[str, Any]:
    return {**rec, "kind": rec.get("dup_kind", "exact")}


def build_text_pipeline(p: beam.Pipeline, cfg: IngestConfig, store: ObjectStore, units: list[dict],
                        run_id: str, code_version: str, progress_dir: str | None = None,
                        committed_runs: set[str] | None = None) -> None:
    """Add the whole text ingest (through the commit) to pipeline ``p``.

    ``committed_runs``: runs of this dataset that committed a version (planned on the
    driver); only their dedup-index shards count as published."""
    from pipelines.report import render_report

    signal_names, pii_types = _signal_names(), _pii_types()
    out = cfg.output
    runp = run_prefix(run_id)

    unit_pc = p | "PlanUnits" >> beam.Create(units)
    read = unit_pc | "ReadUnits" >> ReadUnits(store, progress_dir)
    annotated = read.records | "Annotate" >> beam.ParDo(
        AnnotateText(cfg, run_id, code_version)).with_outputs("quarantine", main="annotated")
    keep, rejected = annotated.annotated | "Decide" >> beam.Partition(
        lambda r, _n: 0 if not r["reasons"] else 1, 2)
    if cfg.dedup.exact:
        dd = keep | "ExactDedup" >> ExactDedup()
        unique, duplicates = dd.unique, dd.duplicates
    else:
        unique, duplicates = keep, p | "NoDuplicates" >> beam.Create([])
    index_done = None
    if cfg.dedup.near.enabled:
        unique, near, index_done = add_near_dedup(p, unique, cfg, store, run_id, committed_runs or set())
        duplicates = (duplicates, near) | "AllDuplicates" >> beam.Flatten()
    quarantine = (read.quarantine, annotated.quarantine) | "AllQuarantine" >> beam.Flatten()

    shards = unique | "WriteKept" >> WriteTable(
        store, shard_prefix(cfg.dataset, "text", run_id), text_record_schema(signal_names, pii_types),
        modality="text", buckets=out.write_buckets, target_bytes=out.target_shard_bytes,
        row_group_rows=out.row_group_rows)
    tables = []
    for name, pc, schema, buckets, to_row in (
        ("rejected", rejected, rejected_schema(signal_names, pii_types), max(1, out.write_buckets // 2), None),
        ("duplicates", duplicates, duplicates_schema(), 1, _dup_row),
        ("quarantine", quarantine, QUARANTINE_SCHEMA, 1, None),
    ):
        infos = pc | f"Write{name.title()}" >> WriteTable(
            store, f"{runp}/{name}", schema, modality="text", buckets=buckets,
            target_bytes=out.target_shard_bytes, row_group_rows=out.row_group_rows, to_row=to_row)
        tables.append(infos | f"Name{name.title()}" >> beam.Map(lambda i, n=name: (n, i)))
    table_infos = tables | "AllTables" >> beam.Flatten()

    events = (
        read.inputs,
        unique | "KeptEvents" >> beam.Map(lambda r: outcome_event("kept", r)),
        rejected | "RejectedEvents" >> beam.Map(lambda r: outcome_event("rejected", r)),
        duplicates | "DuplicateEvents" >> beam.Map(lambda r: outcome_event("duplicates", r)),
        quarantine | "QuarantineEvents" >> beam.Map(lambda r: outcome_event("quarantined", r)),
    ) | "AllEvents" >> beam.Flatten()
    stats = events | "RunStats" >> RunStats()

    _ = (p
         | "CommitTrigger" >> beam.Create([None])
         | "Commit" >> beam.ParDo(
             CommitRun(store, cfg.dataset, run_id, code_version, config_hash(cfg),
                       cfg.model_dump(mode="json"), render_report, seen_runs=committed_runs,
                       recheck=cfg.dedup.near.enabled, dup_schema=duplicates_schema()),
             shards=beam.pvalue.AsList(shards), tables=beam.pvalue.AsList(table_infos),
             stats=beam.pvalue.AsSingleton(stats), units=beam.pvalue.AsList(unit_pc),
             index=beam.pvalue.AsList(index_done) if index_done is not None else []))
