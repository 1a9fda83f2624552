"""Digests of what the text pipeline decides, per record, on the bundled sample and on a
generated corpus: the reference tests/test_text_golden.py compares every run with.

Written once from the last commit before the ingest core was split out of the text
pipeline (119218f) (so the test proves the refactor changed no decision), and to be rewritten on
purpose, with a commit message that says why, when a filter is meant to change decisions:

    python -m tests.data.make_text_golden > tests/data/text_golden.json

The digest leaves out what later, separate changes may touch without changing a decision
(redacted text, PII counts, lineage columns) and keeps ids, content hashes, languages,
scores, every signal, every rejection reason, every duplicate decision and every quarantine.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

GENERATED_DOCS, GENERATED_SEED = 400, 7


def _table_rows(store, keys: list[str], columns: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for key in keys:
        t = pq.read_table(io.BytesIO(store.get_bytes(key)))
        rows += t.select([c for c in columns if c in t.column_names]).to_pylist()
    return rows


def _digest(items: list) -> str:
    blob = json.dumps(sorted(items, key=json.dumps), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _key(row: dict[str, Any]) -> str:
    """A record's identity that does not depend on where the checkout lives (record ids hash
    the input's absolute URI): source, file name, pointer."""
    return f"{row['source']}|{row['uri'].rsplit('/', 1)[-1]}|{row['pointer']}"


def decisions(store, result) -> dict[str, Any]:
    """Counts and digests of one run's decisions."""
    from storage.versions import VersionStore

    vs = VersionStore(store)
    m = vs.manifest(f"{result.stats['dataset']}@{result.version}")
    prov = ["id", "source", "uri", "pointer"]
    kept = _table_rows(store, [s.key for s in vs.shards(m) if s.format == "parquet"],
                       [*prov, "content_hash", "lang", "lang_score", "signals"])
    tables = result.stats["tables"]
    rejected = _table_rows(store, tables.get("rejected", []), [*prov, "reasons"])
    dups = _table_rows(store, tables.get("duplicates", []), [*prov, "dup_of", "kind"])
    quarantine = _table_rows(store, tables.get("quarantine", []), [*prov, "error_class"])
    key_of = {r["id"]: _key(r) for r in kept + rejected + dups + quarantine}
    kept = [[_key(r), r["content_hash"], r["lang"], round(r["lang_score"] or 0, 6),
             {k: (round(v, 9) if isinstance(v, float) else v) for k, v in (r["signals"] or {}).items()}]
            for r in kept]
    rejected = [[_key(r), sorted(r["reasons"])] for r in rejected]
    dups = [[_key(r), key_of.get(r["dup_of"], r["dup_of"]), r["kind"]] for r in dups]
    quarantine = [[_key(r), r["error_class"]] for r in quarantine]
    return {"totals": {k: v for k, v in result.stats["totals"].items()},
            "rejected_by_reason": result.stats["rejected_by_reason"],
            "kept": [len(kept), _digest(kept)], "rejected": [len(rejected), _digest(rejected)],
            "duplicates": [len(dups), _digest(dups)], "quarantine": [len(quarantine), _digest(quarantine)]}


def generated_config(folder: Path) -> Path:
    """A near-duplicate-heavy generated corpus (bench.corpus) as a JSONL text source."""
    from bench.common import write_jsonl_parts
    from bench.corpus import generate_vietnamese_corpus

    rows = [{"text": d["text"], "url": d["url"], "id": d["id"]}
            for d in generate_vietnamese_corpus(GENERATED_DOCS, GENERATED_SEED)]
    files = write_jsonl_parts(rows, folder / "in", 4)
    cfg = folder / "generated.json"
    cfg.write_text(json.dumps({"dataset": "golden", "pii": {"ner_fallback": False},
                               "sources": [{"name": "gen", "format": "jsonl", "paths": [str(f) for f in files]}]}))
    return cfg


#: Record ids hash each input's absolute URI, and near-duplicate ties are broken by id, so
#: the corpora are read from one fixed place wherever the checkout is.
FIXED = Path("/tmp/kho-text-golden")


def run_all(folder: Path) -> dict[str, Any]:
    import shutil

    from pipelines.cli import SAMPLE_CONFIG
    from pipelines.config import load_ingest_config
    from pipelines.ingest import run_ingest
    from storage.local import LocalStore

    shutil.rmtree(FIXED, ignore_errors=True)
    shutil.copytree(SAMPLE_CONFIG.parent.parent, FIXED / "pipelines")
    sample = FIXED / "pipelines" / SAMPLE_CONFIG.parent.name / SAMPLE_CONFIG.name
    out = {}
    for name, cfg in (("sample", sample), ("generated", generated_config(FIXED / "generated"))):
        store = LocalStore(folder / f"store-{name}")
        out[name] = decisions(store, run_ingest(load_ingest_config(cfg), store))
    shutil.rmtree(FIXED, ignore_errors=True)
    return out


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        json.dump(run_all(Path(tmp)), sys.stdout, indent=1, sort_keys=True)
        sys.stdout.write("\n")
