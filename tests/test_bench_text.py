"""bench/text runs end to end on a tiny corpus and writes the figures it promises (no timing
is asserted: speed is measured by `make bench-text`, never judged in a test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_bench_text_writes_both_baselines_profile_memory_and_chart(tmp_path: Path) -> None:
    committed = (ROOT / "bench" / "results" / "text.json").read_bytes()
    env = {**os.environ, "KHO_BENCH_RESULTS": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "bench.bench_text", "--docs", "120", "--files", "2", "--repeat", "1"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "text.json").read_text())
    figures, ratio = result["figures"], result["ratio"]
    for key in ("kho_docs_per_s", "datatrove_docs_per_s", "datatrove_kho_tokenizer_docs_per_s",
                "kho_with_near_dedup_docs_per_s"):
        assert figures[key] > 0
    assert set(ratio) >= {"kho_vs_datatrove_docs_per_s", "kho_vs_datatrove_kho_tokenizer_docs_per_s",
                          "kho_vs_datatrove_peak_memory"}
    assert figures["kho_outcomes"]["inputs"] == 120 and figures["kho_outcomes"]["reconciles"]
    assert set(figures["profile"]["ms_per_doc"]) == {"normalize", "langid", "tokenize (words, C4 sentences)",
                                                     "other quality signals", "pii"}
    assert all(v > 0 for v in figures["peak_added_rss_mib"].values())
    assert figures["tokenizers_alone"]["underthesea_ms_per_doc"] > 0
    assert (tmp_path / "text.svg").read_text().startswith("<svg")
    assert (ROOT / "bench" / "results" / "text.json").read_bytes() == committed  # results went to tmp_path only
