"""The ingest skeleton every modality runs through (Beam, any runner).

    plan units (driver) -> read (modality readers) -> annotate (modality DoFn)
    -> model stages (RunInference with the modality's handlers) -> decide
    -> exact dedup -> near dedup (shared clustering, against the run and the published index)
    -> write kept shards + run tables -> stats -> commit -> report

The modality (pipelines/core/modality.py) supplies readers, annotator, dedup items, schemas,
writer kind and report plots; nothing here knows what a record holds beyond the fields the
contract names (id, source, uri, pointer, crawl_date, content_hash, reasons).
"""

from __future__ import annotations

from typing import Any

import apache_beam as beam

from pipelines.commit import CommitRun
from pipelines.common import ExactDedup, ReadUnits, RunStats, WriteTable, keep_rule
from pipelines.core.modality import Modality
from schemas.config import config_hash
from storage.base import ObjectStore
from storage.layout import run_prefix, shard_prefix

EXAMPLE_CHARS = 400


def outcome_event(modality: Modality, outcome: str, rec: dict[str, Any]) -> dict[str, Any]:
    """The stats event of one record's final outcome."""
    reasons = rec.get("reasons") or []
    event = {"kind": "outcome", "outcome": outcome, "source": rec["source"], "id": rec["id"],
             "reasons": reasons if outcome == "rejected" else [],
             "stages": modality.stages(outcome, reasons), "pii": rec.get("pii")}
    example = {"id": rec["id"], "source": rec["source"], "uri": rec["uri"], "pointer": rec["pointer"]}
    if outcome == "quarantined":
        event["error"] = rec["error_class"]
        example["message"] = rec["message"]
    else:
        example["text"] = modality.example_text(rec)[:EXAMPLE_CHARS]
        example.update(modality.example_media(rec))
        event["sample"] = {"outcome": outcome, **modality.sample(rec)}
    event["example"] = example
    return event


class _Events(beam.DoFn):
    def __init__(self, modality: Modality, outcome: str) -> None:
        self.modality, self.outcome = modality, outcome

    def process(self, rec: dict[str, Any]):
        yield outcome_event(self.modality, self.outcome, rec)


def add_near_dedup(p: beam.Pipeline, unique, modality: Modality, cfg: Any, store: ObjectStore,
                   run_id: str, committed: set[str]):
    """Near-duplicate removal after exact dedup, against the run and the published index.

    Returns (unique, near_duplicates, index_written). The index update of this run is only
    read by later runs once this run's version is committed (``committed``)."""
    from pipelines.dedup import NearDuplicates, ReadDedupIndex, SplitNearDuplicates, WriteDedupIndex

    mh = modality.near_dedup_config(cfg)
    items = unique | "NearDedupSignatures" >> beam.ParDo(modality.dedup_items(cfg))
    probe = items | "ProbeKeys" >> beam.FlatMap(lambda it: it.bucket_keys)
    published = p | "ReadDedupIndex" >> ReadDedupIndex(store, cfg.dataset, mh, probe=probe, only_runs=committed)
    pairs = items | "NearDuplicates" >> NearDuplicates(mh, published_index=published)
    split = unique | "SplitNearDuplicates" >> SplitNearDuplicates(pairs)
    # The kept records' items go to the index: a join on ids, not a second signature pass.
    kept_items = ({"item": items | "ItemsById" >> beam.Map(lambda it: (it.id, it)),
                   "dup": pairs | "DuplicateIds" >> beam.Map(lambda pair: (pair[0], None))}
                  | "JoinDuplicateIds" >> beam.CoGroupByKey()
                  | "KeptItems" >> beam.FlatMap(lambda kv: [] if kv[1]["dup"] else kv[1]["item"]))
    index = kept_items | "WriteDedupIndex" >> WriteDedupIndex(store, cfg.dataset, run_id, mh)
    return split.unique, split.duplicates, index


def apply_model_stages(records, modality: Modality, cfg: Any, store: ObjectStore | None = None):
    """The modality's model stages (RunInference), then its post-model decision.

    Returns (records, [quarantine PCollections]); with no stages the records pass untouched."""
    quarantines = []
    for label, stage in modality.model_stages(cfg, store):
        out = records | f"Model{label}" >> stage
        records = out.annotated
        quarantines.append(out.quarantine)
    decide = modality.decide(cfg)
    if decide is not None:
        records = records | "DecideOnModels" >> beam.Map(decide)
    return records, quarantines


def build_ingest_pipeline(p: beam.Pipeline, modality: Modality, cfg: Any, store: ObjectStore,
                          units: list[dict], run_id: str, code_version: str,
                          progress_dir: str | None = None, committed_runs: set[str] | None = None) -> None:
    """Add a whole ingest of ``modality`` (through the commit) to pipeline ``p``.

    ``committed_runs``: runs of this dataset that committed a version (planned on the
    driver); only their dedup-index shards count as published."""
    from pipelines.report import render_report

    schemas = modality.schemas(cfg)
    out = cfg.output
    runp = run_prefix(run_id)

    unit_pc = p | "PlanUnits" >> beam.Create(units)
    read = unit_pc | "ReadUnits" >> ReadUnits(store, progress_dir, modality.readers())
    annotated = read.records | "Annotate" >> beam.ParDo(
        modality.annotator(cfg, run_id, code_version)).with_outputs("quarantine", main="annotated")
    scored, model_quarantine = apply_model_stages(annotated.annotated, modality, cfg, store)
    keep, rejected = scored | "Decide" >> beam.Partition(
        lambda r, _n: 0 if not r["reasons"] else 1, 2)
    if cfg.dedup.exact:
        dd = keep | "ExactDedup" >> ExactDedup(keep_rule)
        unique, duplicates = dd.unique, dd.duplicates
    else:
        unique, duplicates = keep, p | "NoDuplicates" >> beam.Create([])
    index_done = None
    near_on = cfg.dedup.near.enabled and modality.dedup_items(cfg) is not None
    if near_on:
        unique, near, index_done = add_near_dedup(p, unique, modality, cfg, store, run_id,
                                                  committed_runs or set())
        duplicates = (duplicates, near) | "AllDuplicates" >> beam.Flatten()
    quarantine = ((read.quarantine, annotated.quarantine, *model_quarantine)
                  | "AllQuarantine" >> beam.Flatten())

    shards = unique | "WriteKept" >> WriteTable(
        store, shard_prefix(cfg.dataset, modality.name, run_id), schemas.kept,
        modality=modality.name, buckets=out.write_buckets, target_bytes=out.target_shard_bytes,
        row_group_rows=out.row_group_rows,
        to_sample=modality.to_sample if modality.writer == "webdataset" else None)
    tables = []
    for name, pc, schema, buckets, to_row in (
        ("rejected", rejected, schemas.rejected, max(1, out.write_buckets // 2), None),
        ("duplicates", duplicates, schemas.duplicates, 1, modality.duplicate_row),
        ("quarantine", quarantine, schemas.quarantine, 1, None),
    ):
        infos = pc | f"Write{name.title()}" >> WriteTable(
            store, f"{runp}/{name}", schema, modality=modality.name, buckets=buckets,
            target_bytes=out.target_shard_bytes, row_group_rows=out.row_group_rows, to_row=to_row)
        tables.append(infos | f"Name{name.title()}" >> beam.Map(lambda i, n=name: (n, i)))
    table_infos = tables | "AllTables" >> beam.Flatten()

    events = (
        read.inputs,
        unique | "KeptEvents" >> beam.ParDo(_Events(modality, "kept")),
        rejected | "RejectedEvents" >> beam.ParDo(_Events(modality, "rejected")),
        duplicates | "DuplicateEvents" >> beam.ParDo(_Events(modality, "duplicates")),
        quarantine | "QuarantineEvents" >> beam.ParDo(_Events(modality, "quarantined")),
    ) | "AllEvents" >> beam.Flatten()
    stats = events | "RunStats" >> RunStats()

    _ = (p
         | "CommitTrigger" >> beam.Create([None])
         | "Commit" >> beam.ParDo(
             CommitRun(store, cfg.dataset, run_id, code_version, config_hash(cfg),
                       cfg.model_dump(mode="json"), render_report, seen_runs=committed_runs,
                       recheck=near_on, dup_schema=schemas.duplicates),
             shards=beam.pvalue.AsList(shards), tables=beam.pvalue.AsList(table_infos),
             stats=beam.pvalue.AsSingleton(stats), units=beam.pvalue.AsList(unit_pc),
             index=beam.pvalue.AsList(index_done) if index_done is not None else []))
