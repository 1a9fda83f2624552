"""bench/text runs end to end on a tiny corpus and writes the figures it promises (no timing
is asserted: speed is measured by `make bench-text`, never judged in a test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_bench_text_writes_three_baselines_profile_memory_and_chart(tmp_path: Path) -> None:
    committed = (ROOT / "bench" / "results" / "text.json").read_bytes()
    env = {**os.environ, "KHO_BENCH_RESULTS": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "bench.bench_text", "--docs", "120", "--files", "2", "--repeat", "1"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "text.json").read_text())
    figures, ratio = result["figures"], result["ratio"]
    baselines = ("datatrove_default", "datatrove_underthesea", "datatrove_kho_tokenizer")
    for key in ("kho", "kho_with_near_dedup", *baselines):
        assert figures[f"{key}_docs_per_s"] > 0 and figures[f"{key}_wall_s"] > 0
    for key in baselines:  # Kho against each baseline: speed and memory
        assert ratio[f"kho_vs_{key}_docs_per_s"] > 0
        assert ratio[f"kho_vs_{key}_peak_memory"] > 0
    assert ratio["kho_with_near_dedup_vs_datatrove_default_docs_per_s"] > 0
    # the named baseline is datatrove's own pick for Vietnamese (spaCy vi + pyvi, as FineWeb-2 ran)
    assert "SpaCyTokenizer('vi')" in result["inputs"]["baseline"]
    assert "C4 off on both sides" in result["inputs"]["steps"]
    # every baseline filtered something and kept something of the 120 documents
    assert set(figures["datatrove_kept"]) == set(baselines)
    assert all(0 < kept < 120 for kept in figures["datatrove_kept"].values())
    assert figures["kho_outcomes"]["inputs"] == 120 and figures["kho_outcomes"]["reconciles"]
    assert set(figures["profile"]["ms_per_doc"]) == {"normalize", "langid", "tokenize (words, C4 sentences)",
                                                     "other quality signals", "pii"}
    assert set(figures["peak_added_rss_mib"]) == {"dt_default", "dt_underthesea", "dt_kho_tok", "kho", "kho_full"}
    assert all(v > 0 for v in figures["peak_added_rss_mib"].values())
    for name in ("datatrove_default", "underthesea", "kho"):
        assert figures["tokenizers_alone"][f"{name}_ms_per_doc"] > 0
    svg = (tmp_path / "text.svg").read_text()
    assert svg.startswith("<svg") and "spaCy vi + pyvi" in svg
    assert (ROOT / "bench" / "results" / "text.json").read_bytes() == committed  # results went to tmp_path only


def test_datatrove_default_vietnamese_tokenizer_is_spacy_with_pyvi() -> None:
    """The named baseline's language code makes datatrove load spaCy's Vietnamese tokenizer
    (pyvi segments words: multi-syllable words come back whole)."""
    from datatrove.utils.word_tokenizers import SpaCyTokenizer, load_word_tokenizer

    from bench.bench_text import datatrove_tokenizer

    tok = load_word_tokenizer(datatrove_tokenizer("default"))
    assert isinstance(tok, SpaCyTokenizer) and tok.language == "vi"
    words = tok.word_tokenize("Hà Nội là thủ đô của Việt Nam.")
    assert "Hà Nội" in words and "Việt Nam" in words
