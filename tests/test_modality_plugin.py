"""A minimal modality plugs into the ingest core without touching it: it registers readers,
an annotator and schemas, and gets ledger, dedup, shards, run tables, stats, commit, report,
verify and leases from the core."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import apache_beam as beam
import pyarrow as pa
import pyarrow.dataset as pads
import pytest

from pipelines.config import BaseIngestConfig, SourceConfig, load_ingest_config
from pipelines.core import Modality, ModalitySchemas, register_modality
from pipelines.core.inference import AnnotateWithModel, KhoModelHandler
from pipelines.ingest import run_ingest
from pipelines.records import quarantine_row, record_id
from schemas.config import ConfigError
from schemas.text import QUARANTINE_SCHEMA
from storage.local import LocalStore
from storage.verify import verify_version
from storage.versions import VersionStore


class LinesSource(SourceConfig):
    format: Literal["lines"]


class LinesConfig(BaseIngestConfig):
    """A toy modality: every line of a text file is a record; short lines are rejected."""

    modality: Literal["lines"] = "lines"
    sources: list[LinesSource]
    min_chars: int = 5


def read_lines(fh, uri: str, source: dict[str, Any]):
    for n, raw in enumerate(fh):
        pointer = f"line:{n + 1}"
        try:
            text = raw.decode("utf-8").rstrip("\n")
        except UnicodeDecodeError as exc:
            yield "quarantine", quarantine_row(source["name"], uri, pointer, exc, raw=raw)
            continue
        yield "record", {"id": record_id(source["name"], uri, pointer), "source": source["name"],
                         "uri": uri, "pointer": pointer, "crawl_date": None, "text": text}


class AnnotateLines(beam.DoFn):
    def __init__(self, min_chars: int) -> None:
        self.min_chars = min_chars

    def process(self, rec: dict[str, Any]):
        text = rec["text"].strip()
        yield {**rec, "text": text, "chars": len(text),
               "content_hash": hashlib.sha256(text.lower().encode()).hexdigest(),
               "reasons": ["lines:too_short"] if len(text) < self.min_chars else []}


_BASE = [pa.field("id", pa.string(), nullable=False), pa.field("source", pa.string()),
         pa.field("uri", pa.string()), pa.field("pointer", pa.string()), pa.field("text", pa.string())]


class LinesModality(Modality):
    name = "lines"
    config_model = LinesConfig

    def readers(self):
        return {"lines": read_lines}

    def annotator(self, cfg, run_id, code_version):
        return AnnotateLines(cfg.min_chars)

    def schemas(self, cfg) -> ModalitySchemas:
        return ModalitySchemas(
            kept=pa.schema([*_BASE, pa.field("chars", pa.int32()), pa.field("content_hash", pa.string())]),
            rejected=pa.schema([*_BASE, pa.field("reasons", pa.list_(pa.string()))]),
            duplicates=pa.schema([*_BASE, pa.field("dup_of", pa.string()), pa.field("kind", pa.string())]),
            quarantine=QUARANTINE_SCHEMA)

    def example_text(self, rec):
        return rec.get("text") or ""


register_modality(LinesModality())


def _config(tmp_path: Path, name: str, lines: list[bytes]) -> Path:
    data = tmp_path / f"{name}.txt"
    data.write_bytes(b"\n".join(lines) + b"\n")
    cfg = tmp_path / f"{name}.json"
    cfg.write_text(json.dumps({"modality": "lines", "dataset": "lines", "min_chars": 6,
                               "sources": [{"name": "notes", "format": "lines", "paths": [str(data)]}]}))
    return cfg


def test_a_new_modality_runs_through_the_core_end_to_end(tmp_path: Path) -> None:
    lines = [b"xin chao ca nha", b"ok", b"Xin chao ca nha", b"mot dong khac nua", b"\xff\xfe bad", b"tam biet"]
    path = _config(tmp_path, "a", lines)
    cfg = load_ingest_config(path)
    assert isinstance(cfg, LinesConfig)
    store = LocalStore(tmp_path / "store")
    result = run_ingest(cfg, store)
    totals = result.stats["totals"]
    assert (totals["inputs"], totals["kept"], totals["rejected"], totals["quarantined"], totals["duplicates"]) \
        == (6, 3, 1, 1, 1)
    assert totals["reconciles"]
    vs = VersionStore(store)
    m = vs.manifest("lines@latest")
    assert verify_version(vs, m).ok
    shards = [s.key for s in vs.shards(m)]
    assert all(k.startswith("datasets/lines/shards/lines/") for k in shards)
    table = pads.dataset([str(store.root / k) for k in shards]).to_table()
    kept = sorted(t.lower() for t in table.column("text").to_pylist())  # either copy may win the tie
    assert kept == ["mot dong khac nua", "tam biet", "xin chao ca nha"]
    assert store.exists(f"runs/{result.run_id}/report.html")
    assert result.stats["rejected_by_reason"] == {"lines:too_short": 1}
    again = run_ingest(load_ingest_config(path), store)
    assert again.version is None  # the core's ledger: nothing new


def test_a_format_of_another_modality_is_refused_with_the_allowed_ones(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps({"modality": "lines", "dataset": "x",
                               "sources": [{"name": "s", "format": "jsonl", "paths": ["a"]}]}))
    with pytest.raises(ConfigError, match="sources.0.format.*'lines'"):
        load_ingest_config(cfg)


def test_an_unknown_modality_names_the_known_ones(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps({"modality": "smell", "dataset": "x",
                               "sources": [{"name": "s", "format": "jsonl", "paths": ["a"]}]}))
    with pytest.raises(ConfigError, match="unknown modality 'smell'.*text"):
        load_ingest_config(cfg)


# ---------------------------------------------------------------- a modality with a model stage

class VowelModel(KhoModelHandler):
    """A "model" that counts vowels per line; a line holding "BOOM" cannot be preprocessed."""

    name = "vowel-counter"

    def load(self, device: str) -> Any:
        return set("aeiouy")

    def preprocess(self, record: dict[str, Any]) -> str:
        if "BOOM" in record["text"]:
            raise ValueError("this line cannot be fed to the model")
        return record["text"].lower()

    def predict(self, model: Any, batch: list[str]) -> list[int]:
        return [sum(ch in model for ch in text) for text in batch]


class ScoredLinesConfig(LinesConfig):
    modality: Literal["scoredlines"] = "scoredlines"
    min_vowels: int = 4


class ScoredLinesModality(LinesModality):
    name = "scoredlines"
    config_model = ScoredLinesConfig

    def model_stages(self, cfg, store):
        return [("Vowels", AnnotateWithModel(VowelModel(max_batch_size=2), field="vowels"))]

    def decide(self, cfg):
        def rule(rec: dict[str, Any]) -> dict[str, Any]:
            low = [] if rec["vowels"] >= cfg.min_vowels else ["lines:few_vowels"]
            return {**rec, "reasons": [*rec["reasons"], *low]}
        return rule


register_modality(ScoredLinesModality())


def test_model_stages_run_before_the_decision_and_their_failures_are_quarantined(tmp_path: Path) -> None:
    lines = [b"xin chao ca nha", b"ok", b"BOOM goes the line", b"mot dong khac nua", b"brrr pffft", b"tam biet"]
    data = tmp_path / "s.txt"
    data.write_bytes(b"\n".join(lines) + b"\n")
    cfg = ScoredLinesConfig(dataset="scored", sources=[{"name": "notes", "format": "lines", "paths": [str(data)]}],
                            min_chars=3, min_vowels=3)
    store = LocalStore(tmp_path / "store")
    result = run_ingest(cfg, store)
    totals = result.stats["totals"]
    assert (totals["inputs"], totals["kept"], totals["rejected"], totals["quarantined"]) == (6, 3, 2, 1)
    assert totals["reconciles"]
    # "ok" fails the annotator's rule and the model's; "brrr pffft" only the model's.
    assert result.stats["rejected_by_reason"] == {"lines:too_short": 1, "lines:few_vowels": 2}
    q = pads.dataset(str(store.root / f"runs/{result.run_id}/quarantine"), format="parquet").to_table()
    assert q.column("pointer").to_pylist() == ["line:3"]
    assert "cannot be fed to the model" in q.column("message")[0].as_py()
    vs = VersionStore(store)
    kept = pads.dataset([str(store.root / s.key) for s in vs.shards(vs.manifest("scored@latest"))]).to_table()
    assert sorted(kept.column("text").to_pylist()) == ["mot dong khac nua", "tam biet", "xin chao ca nha"]
