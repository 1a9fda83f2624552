"""The run report (pipelines/report.py): what its HTML and SVG say, on hand-made stats and on
the bundled sample's real run."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from filters.quality import GROUPS, QualityThresholds
from pipelines.report import EXAMPLE_CHARS, excerpt, render_report, signal_plots, signal_thresholds

NS = "{http://www.w3.org/2000/svg}"

WORDS = ("Bộ Giáo dục và Đào tạo vừa công bố quy chế tuyển sinh đại học năm nay với nhiều điều chỉnh "
         "thí sinh được đăng ký nguyện vọng không giới hạn trên hệ thống trực tuyến").split()


def _long_text(n_chars: int = 400) -> str:
    """What the pipeline stores as an example: a text cut at n_chars, in the middle of a word."""
    text, i = "", 0
    while len(text) < n_chars + 20:
        text += WORDS[i % len(WORDS)] + " "
        i += 1
    while text[n_chars - 1].isspace() or text[n_chars].isspace():
        n_chars += 1
    return text[:n_chars]  # ends mid-word


def _signals(**values: float) -> dict[str, float]:
    from filters.quality import SIGNAL_NAMES

    return {**dict.fromkeys(SIGNAL_NAMES, 0.0), **values}


def _stats(quality: dict | None = None) -> dict:
    """Stats shaped like pipelines.stats.finish: 13 rejected documents (6 by language, without
    signals), 24 rule failures."""
    samples = []
    for i in range(9):
        samples.append({"outcome": "kept", "lang": "vi", "lang_score": 0.99,
                        "signals": _signals(gopher_non_symbol_words=60.0 + 10 * i, gopher_stop_words=5.0 + i,
                                            fineweb_short_line_ratio=0.1 * (i % 4))})
    for i in range(7):
        samples.append({"outcome": "rejected", "lang": "vi", "lang_score": 0.95,
                        "signals": _signals(gopher_non_symbol_words=10.0 + i, fineweb_short_line_ratio=0.5,
                                            gopher_stop_words=float(i % 2))})
    for _ in range(6):
        samples.append({"outcome": "rejected", "lang": "en", "lang_score": 0.2, "signals": None})
    return {
        "run_id": "r1", "dataset": "d", "version": "v1", "code_version": "c", "units": 1, "shards": 1,
        "sources": {"s": {"inputs": 24, "kept": 9, "rejected": 13, "quarantined": 0, "duplicates": 2,
                          "reconciles": True}},
        "totals": {"inputs": 24, "kept": 9, "rejected": 13, "quarantined": 0, "duplicates": 2, "reconciles": True},
        "rejected_by_reason": {"gopher_quality:gopher_short_doc": 7, "gopher_quality:gopher_enough_stop_words": 4,
                               "fineweb:line_punct_ratio": 7, "language:other_language": 6},
        "quarantined_by_error": {}, "pii_by_type": {"PHONE": 2}, "funnel": {"read": 24, "decoded": 24},
        "samples": samples,
        "examples": {"gopher_quality:gopher_short_doc": [
            {"source": "s", "pointer": "line:1", "text": _long_text()},
            {"source": "s", "pointer": "line:2", "text": "Ngắn gọn."}]},
        "config": {"language": {"min_score": 0.65},
                   "quality": (quality if quality is not None else QualityThresholds().model_dump(mode="json"))},
    }


def _svgs(page: str) -> dict[str, ET.Element]:
    """Every chart of the page by its title."""
    out = {}
    for svg in re.findall(r"<svg.*?</svg>", page, re.S):
        root = ET.fromstring(svg)
        out[root.find(f"{NS}title").text] = root
    return out


def _texts(root: ET.Element, cls: str | None = None) -> list[str]:
    return [t.text for t in root.iter(f"{NS}text") if cls is None or t.get("class") == cls]


def _ticks(root: ET.Element) -> list[float]:
    labels = [t for t in root.iter(f"{NS}text") if t.get("y") == "196.0"]
    return [float(t.text.replace(",", "")) for t in sorted(labels, key=lambda t: float(t.get("x")))]


def _dashed(root: ET.Element) -> list[ET.Element]:
    return [line for line in root.findall(f"{NS}line") if line.get("stroke-dasharray")]


def test_every_chart_has_x_and_y_axis_titles() -> None:
    charts = _svgs(render_report(_stats()))
    assert len(charts) >= 6
    for title, root in charts.items():
        assert len(_texts(root, "x-title")) == 1 and _texts(root, "x-title")[0], title
        assert len(_texts(root, "y-title")) == 1 and _texts(root, "y-title")[0], title
    assert _texts(charts["gopher_stop_words"], "x-title") == ["distinct stop words present"]
    assert _texts(charts["gopher_stop_words"], "y-title") == ["documents"]


def test_documents_and_rule_failures_are_both_shown_and_named() -> None:
    page = render_report(_stats())
    charts = _svgs(page)
    # histogram legends: documents plotted of the outcome's documents in the table
    legend = _texts(charts["gopher_non_symbol_words"], "legend")
    assert legend == ["kept: 9 of 9 docs", "rejected: 7 of 13 docs"]
    assert _texts(charts["Language score (sample)"], "legend") == ["kept: 9 of 9 docs", "rejected: 13 of 13 docs"]
    # the reasons chart counts rule failures, and says so
    reasons = charts["Top rejection reasons"]
    assert "rule failures" in _texts(reasons, "x-title")[0]
    assert _texts(reasons, "note") == ["13 rejected documents, 24 rule failures"]
    assert "13 rejected documents, 24 rule failures: a document can fail several rules" in page
    assert "<th>+ rejected</th>" in page and "Counts are documents" in page


def test_disabled_thresholds_are_not_drawn_and_do_not_set_the_axis() -> None:
    defaults = QualityThresholds().model_dump(mode="json")
    thresholds = signal_thresholds(defaults)
    assert defaults["short_line_thr"] == 999 and "fineweb_short_line_ratio" not in thresholds  # 999: off
    assert "c4_sentences" not in thresholds  # the C4 group is off by default
    assert "rep_dup_para_frac" not in thresholds  # None: off
    assert thresholds["gopher_non_symbol_words"] == (50.0, "min ")
    on = QualityThresholds(enabled=set(GROUPS), short_line_thr=0.67).model_dump(mode="json")
    assert signal_thresholds(on)["fineweb_short_line_ratio"] == (0.67, "max ")
    assert signal_thresholds(on)["c4_sentences"] == (5.0, "min ")
    assert "c4_sentences" not in signal_thresholds({**on, "min_num_sentences": -1})
    assert "gopher_stop_words" not in signal_thresholds({**on, "min_stop_words": 0})

    # few groups on: the off rules' signals are plotted too, without a line, on their own range
    quality = QualityThresholds(enabled={"fineweb"}).model_dump(mode="json")
    assert ("fineweb_short_line_ratio", None, "") in signal_plots(quality)
    charts = _svgs(render_report(_stats(quality)))
    short = charts["fineweb_short_line_ratio (rule off)"]
    assert _dashed(short) == [] and "max 999" not in _texts(short)
    assert _ticks(short)[0] == 0 and _ticks(short)[-1] == 0.5  # the data's range, not 0-999
    assert _dashed(charts["fineweb_line_punct_ratio"])  # an active rule keeps its line


def test_a_constant_signal_is_one_labelled_bar_in_a_window_around_it() -> None:
    charts = _svgs(render_report(_stats()))
    hashes = charts["gopher_hash_ratio"]  # every sample has 0 '#'
    bars = [r for r in hashes.findall(f"{NS}rect") if r.get("width") != "10"]
    centres = {round(float(r.get("x")) + float(r.get("width")) / 2) for r in bars}
    assert centres == {64 + 200}  # the middle of the plot, under the middle tick
    ticks = _ticks(hashes)
    assert ticks[2] == 0 and ticks[0] < 0 < 0.1 <= ticks[-1]
    assert "all 16 values = 0" in _texts(hashes)


def test_example_texts_are_cut_between_words_with_an_ellipsis() -> None:
    page = render_report(_stats())
    shown = re.findall(r"<span class=ex>(.*?)</span>", page, re.S)
    stored = _long_text()
    long, short = shown
    assert long.endswith("…") and len(long) <= EXAMPLE_CHARS + 1
    body = long[:-1]
    assert stored.startswith(body) and stored[len(body)] == " "  # the cut is at a word boundary
    assert short == "Ngắn gọn."  # short texts are shown whole, without an ellipsis


def test_excerpt() -> None:
    assert excerpt("một hai ba", 20) == "một hai ba"
    assert excerpt("một hai ba bốn", 9) == "một hai…"
    assert excerpt("một hai ba bốn", 10) == "một hai ba…"  # the limit falls on a space: whole words kept
    assert excerpt("một, hai ba", 6) == "một…"  # no dangling punctuation before the ellipsis
    assert excerpt("x" * 50, 10) == "x" * 9 + "…"  # one long word: cut inside it


# ----------------------------------------------------------------------------- the real demo run

@pytest.mark.slow
def test_demo_keeps_its_ordinary_news_and_the_report_shows_it(tmp_path) -> None:
    import pyarrow.parquet as pq

    from pipelines.cli import SAMPLE_CONFIG
    from pipelines.config import load_ingest_config
    from pipelines.ingest import run_ingest
    from storage.api import open_dataset
    from storage.local import LocalStore

    store = LocalStore(tmp_path / "store")
    result = run_ingest(load_ingest_config(SAMPLE_CONFIG), store)
    kept = {r["url"] for r in open_dataset(store, "vi-text-sample", result.version).to_table().to_pylist()}
    # the 4-sentence news pages of the crawl and the 4-sentence forum posts (only C4 rejected them)
    assert {"https://bao.example.vn/giao-duc/tuyen-sinh", "https://bao.example.vn/kinh-te/xuat-khau",
            "https://diendan.example.vn/t/0", "https://diendan.example.vn/t/3"} <= kept
    assert not any(r.startswith("c4:") for r in result.stats["rejected_by_reason"])
    rejected = [r for key in result.stats["tables"].get("rejected", [])
                for r in pq.read_table(store.url(key)).to_pylist()]
    assert any(r["url"] == "https://spam.example/1" for r in rejected)  # the navigation menu is still junk

    page = store.get_text(result.report_key)
    t = result.stats["totals"]
    failures = sum(result.stats["rejected_by_reason"].values())
    assert f"{t['rejected']} rejected documents, {failures} rule failures" in page
    charts = _svgs(page)
    assert all(_texts(root, "x-title") and _texts(root, "y-title") for root in charts.values())
    assert not any("max 999" in _texts(root) for root in charts.values())
    assert f"rejected: {t['rejected']} of {t['rejected']} docs" in _texts(charts["Language score (sample)"], "legend")


@pytest.mark.slow
def test_a_demo_config_that_enables_c4_rejects_with_c4_reasons(tmp_path) -> None:
    import pyarrow.parquet as pq

    from pipelines.cli import SAMPLE_CONFIG
    from pipelines.config import load_ingest_config
    from pipelines.ingest import run_ingest
    from storage.local import LocalStore

    cfg = load_ingest_config(SAMPLE_CONFIG)
    cfg = cfg.model_copy(update={"quality": QualityThresholds(enabled=set(GROUPS))})
    store = LocalStore(tmp_path / "store")
    result = run_ingest(cfg, store)
    assert result.stats["rejected_by_reason"].get("c4:too_few_sentences", 0) >= 4
    rejected = {r["url"]: r["reasons"] for key in result.stats["tables"].get("rejected", [])
                for r in pq.read_table(store.url(key)).to_pylist()}
    assert rejected["https://bao.example.vn/giao-duc/tuyen-sinh"] == ["c4:too_few_sentences"]
    reasons_chart = next(root for title, root in _svgs(store.get_text(result.report_key)).items()
                         if title.startswith("Top rejection reasons"))
    assert "c4:too_few_sentences" in _texts(reasons_chart)
