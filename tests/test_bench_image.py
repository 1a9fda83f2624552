"""bench/image runs end to end in its tiny mode and writes the figures it promises (no timing
is asserted: speed is measured by `make bench-image`, never judged in a test)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.bench_image import OPTIONAL_STEPS, fast_steps, make_corpus, ratio_entry

ROOT = Path(__file__).parent.parent
STEPS = {"read", "decode", "signals", "hashes", "nsfw", "text", "brisque", "face_detect", "plate_detect",
         "blur", "encode", "thumbnail", "caption", "other"}


@pytest.mark.slow
def test_bench_image_tiny_writes_figures_ratios_baselines_breakdown_and_memory(tmp_path: Path) -> None:
    committed = (ROOT / "bench" / "results" / "image.json").read_bytes()
    env = {**os.environ, "KHO_BENCH_RESULTS": str(tmp_path)}
    try:
        done = subprocess.run([sys.executable, "-m", "bench.bench_image", "--tiny", "--cache", str(tmp_path / "cache")],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    finally:
        shutil.rmtree(tmp_path / "cache", ignore_errors=True)  # ~250 MB of test weights
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "image.json").read_text())
    figures, ratio, inputs = result["figures"], result["ratio"], result["inputs"]
    for key in ("pillow_loop", "kho", "kho_fast", "kho_annotate_loop"):
        assert figures[f"{key}_images_per_s"] > 0 and figures[f"{key}_wall_s"] > 0
    assert figures["clip_stage_images_per_s"] > 0 and figures["bare_model_forward_images_per_s"] > 0
    assert figures["clip"]["device"] in {"cpu", "cuda"} and figures["clip"]["dtype"] in {"float32", "float16"}
    # both baselines are named, and every ratio is a Kho figure over a baseline's figure
    assert set(inputs["baselines"]) == {"pillow_loop", "bare_model_forward"}
    assert set(ratio) == {"kho_vs_pillow_loop", "kho_fast_vs_pillow_loop", "kho_annotate_loop_vs_pillow_loop",
                          "clip_stage_vs_bare_model_forward"}
    for entry in ratio.values():
        assert entry["denominator"].removesuffix("_images_per_s") in inputs["baselines"]
        assert math.isclose(entry["value"], figures[entry["numerator"]] / figures[entry["denominator"]])
        assert entry["meets_target"] is (entry["value"] >= entry["target"])
    assert ratio["kho_vs_pillow_loop"]["target"] == 0.6
    assert ratio["clip_stage_vs_bare_model_forward"]["target"] == 0.8
    # where the time goes, and what kho_fast turned off (from that breakdown)
    bd = figures["annotate_breakdown"]
    assert set(bd["ms_per_image"]) == STEPS and bd["images"] == 12
    assert len(bd["top5"]) == 5 and set(bd["top5"]) <= STEPS
    assert figures["kho_fast_off"] and set(figures["kho_fast_off"]) <= set(OPTIONAL_STEPS)
    assert figures["kho_outcomes"]["inputs"] == 12 and figures["kho_outcomes"]["reconciles"]
    assert figures["kho_fast_outcomes"]["inputs"] == 12
    assert all(v > 0 for v in figures["peak_rss_mib"].values())
    assert inputs["per_core"]["pinned_cpu"] is not None
    assert result["notes"] and all(isinstance(n, str) for n in result["notes"])
    assert (ROOT / "bench" / "results" / "image.json").read_bytes() == committed  # results went to tmp_path only


def test_corpus_is_deterministic_jpegs_with_vietnamese_captions(tmp_path: Path) -> None:
    a = make_corpus(tmp_path / "a", 3, seed=5, min_side=96, max_side=160)
    b = make_corpus(tmp_path / "b", 3, seed=5, min_side=96, max_side=160)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert all(p.read_bytes()[:2] == b"\xff\xd8" for p in a)
    caption = a[0].with_suffix(".txt").read_text(encoding="utf-8")
    assert any(ch in caption for ch in "ăâđêôơưạảấầẩậắằẳặẹẻẽếềểệịọỏốồổộớờởợụủứừửự")


def test_ratio_entry_and_fast_steps() -> None:
    entry = ratio_entry({"a_images_per_s": 3.0, "b_images_per_s": 4.0}, "a_images_per_s", "b_images_per_s", 0.6)
    assert entry["value"] == 0.75 and entry["meets_target"] is True
    # only optional steps are turned off, costliest first; faces and NSFW never
    ms = {"face_detect": 900.0, "nsfw": 800.0, "text": 500.0, "brisque": 20.0, "plate_detect": 300.0}
    assert fast_steps(ms) == ["text", "plate_detect"]
