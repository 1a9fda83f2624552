"""docs/scale.md's tables are what bench/bench_scale.py prints from the committed results, so
the page cannot drift from bench/results/scale.json."""

from __future__ import annotations

import json
from pathlib import Path

from bench.bench_scale import markdown_tables

ROOT = Path(__file__).resolve().parent.parent


def test_docs_scale_tables_are_the_bench_output_of_the_committed_results() -> None:
    data = json.loads((ROOT / "bench" / "results" / "scale.json").read_text())
    doc = (ROOT / "docs" / "scale.md").read_text()
    seconds, counts = markdown_tables(data).split("\n\n")
    assert seconds.strip() in doc, "regenerate with `python -m bench.bench_scale --tables`"
    assert counts.strip() in doc, "regenerate with `python -m bench.bench_scale --tables`"


def test_show_and_committed_runs_stay_flat_in_the_committed_results() -> None:
    """The design's claims, read off the measured counts: at the largest N, show reads 11
    manifests at most and the committed runs come from names alone."""
    data = json.loads((ROOT / "bench" / "results" / "scale.json").read_text())
    for leg, rows in data["figures"]["per_n"].items():
        top = rows[-1]["ops"]
        assert top["show"]["objects_read"] <= 12, leg  # the ref + 11 manifests
        assert top["ingest_committed_runs"]["objects_read"] == 0, leg
        assert top["commit_1000_shards"]["objects_read"] <= 2, leg
