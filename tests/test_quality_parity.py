"""Decision parity: Kho's signals + failed_rules drop a document for a rule group exactly when
datatrove's own filter (same thresholds, same tokenizer instance) drops it.

Runs on ~300 generated Vietnamese documents plus hand-written edge cases, under three threshold
sets, each with all four groups enabled (C4 is off by default, as in FineWeb-2, but its rules
must still decide like datatrove's when a config turns it on): Kho's default thresholds
(FineWeb-2 vie_Latn), datatrove's constructor defaults (which turn on the rules FineWeb-2
disabled: paragraph duplicates, short lines, 1% duplicate characters), and non-default
structural C4/FineWeb parameters. The default chain (no C4) is checked against datatrove's
filters built from the defaults.
"""

from __future__ import annotations

import pytest
from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import get_filter_result

from bench.corpus import generate_vietnamese_corpus
from filters.quality import (
    GROUPS,
    QualityThresholds,
    compute_signals,
    datatrove_filter_by_group,
    failed_rules,
    tokenize_document,
)
from filters.tokenizer import VietnameseWordTokenizer

EDGE_CASES = [
    "",
    "\n\n",
    "   ",
    "Một dòng.",
    "Dòng có khoảng trắng cuối.   \nDòng thứ hai cũng vậy.  \n",
    "Windows\r\nxuống dòng\r\nkiểu CRLF.\r\n",
    "Dòng một\u2028dòng hai\u2029dòng ba.\x0bdòng bốn\x0cdòng năm\x85dòng sáu.",
    "Theo Wikipedia, Hà Nội là thủ đô của Việt Nam.[1] Thành phố có lịch sử lâu đời.[2]\n" * 3,
    "Trang này cần bật javascript để hiển thị nội dung đầy đủ cho bạn đọc.\n"
    "Chúng tôi dùng cookie theo privacy policy của công ty và các đối tác.",
    "lorem ipsum ở dòng không có dấu chấm\nCòn đây là một câu hoàn chỉnh có dấu chấm.",
    "Dòng có ngoặc nhọn { nhưng không có dấu câu\nDòng có { và kết thúc bằng dấu chấm rồi.",
    "Kết thúc bằng ba chấm nên C4 bỏ dòng này...\nDòng này kết thúc bằng dấu chấm than!",
    "### ### ### tiêu đề ###\n# # #\n...\n…",
    "- một\n- hai\n- ba\n• bốn\n  - năm",
    "\u200b\n\u200b",
    "Hà Nội " * 80,
    ("Người dân được hưởng lợi từ chính sách mới của nhà nước và các địa phương trong năm nay. " * 4 + "\n\n") * 3,
]

ALL_GROUPS = set(GROUPS)
DEFAULTS = QualityThresholds()
FINEWEB2 = QualityThresholds(enabled=ALL_GROUPS)
DATATROVE_DEFAULTS = QualityThresholds(
    enabled=ALL_GROUPS,
    min_avg_word_length=3, max_avg_word_length=10, max_non_alpha_words_ratio=0.8,
    stop_words=["là", "và", "của", "có", "được", "các", "trong", "những"],
    dup_line_frac=0.3, dup_para_frac=0.3, dup_line_char_frac=0.2, dup_para_char_frac=0.2,
    top_n_grams={2: 0.2, 3: 0.18, 4: 0.16},
    dup_n_grams={5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10},
    line_punct_thr=0.12, short_line_thr=0.67, char_duplicates_ratio=0.01, new_line_ratio=0.3,
)

#: non-default structural C4 rules and looser FineWeb/Gopher settings: exercises the
#: sentence counts computed on demand (lines C4 keeps without terminal punctuation).
STRUCTURAL_VARIANTS = QualityThresholds(
    enabled=ALL_GROUPS,
    remove_citations=False, filter_no_terminal_punct=False, min_words_per_line=1, max_word_length=15,
    filter_javascript=False, filter_policy=False, min_num_sentences=8,
    line_punct_exclude_zero=True, stop_chars=(".", "!", "?", "…"), short_line_length=20, short_line_thr=0.5,
    stop_words="underthesea", min_stop_words=4, max_doc_words=300,
)


@pytest.fixture(scope="module")
def tokenizer() -> VietnameseWordTokenizer:
    return VietnameseWordTokenizer()


def sample_corpus_texts() -> list[str]:
    """The bundled sample corpus (what `make demo` ingests), normalized as the pipeline does;
    lines that are not valid JSON records (planted for the quarantine) are skipped."""
    import gzip
    import json
    from pathlib import Path

    from filters.normalize import normalize_text

    folder = Path(__file__).parent.parent / "pipelines" / "sample_data"
    raw = gzip.decompress((folder / "news.jsonl.gz").read_bytes()) + b"\n" + (folder / "forum.jsonl").read_bytes()
    out = []
    for line in raw.splitlines():
        try:
            rec = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue
        if isinstance(rec, dict) and isinstance(rec.get("text"), str):
            out.append(normalize_text(rec["text"]).text)
    return out


def test_sample_corpus_is_read_for_parity() -> None:
    assert len(sample_corpus_texts()) >= 20


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Benchmark corpus (generated), the bundled sample corpus, and edge cases."""
    return [d["text"] for d in generate_vietnamese_corpus(300, seed=11)] + sample_corpus_texts() + EDGE_CASES


def _datatrove_outcome(flt, text: str, idx: int) -> tuple[bool, str | None]:
    return get_filter_result(flt.filter(Document(text=text, id=str(idx))))


@pytest.mark.parametrize("thresholds", [FINEWEB2, DATATROVE_DEFAULTS, STRUCTURAL_VARIANTS],
                         ids=["fineweb2_vie", "datatrove_defaults", "structural_variants"])
def test_every_group_decides_like_datatrove(thresholds: QualityThresholds, tokenizer, texts) -> None:
    filters = datatrove_filter_by_group(thresholds, tokenizer)
    assert set(filters) == set(GROUPS)
    stopwords = thresholds.resolved_stop_words()
    mismatches: list[str] = []
    outcomes = {g: {True: 0, False: 0} for g in GROUPS}
    for idx, text in enumerate(texts):
        signals = compute_signals(tokenize_document(text, tokenizer), stopwords, thresholds)
        failed = failed_rules(signals, thresholds)
        for group, flt in filters.items():
            dt_keep, dt_reason = _datatrove_outcome(flt, text, idx)
            ours = [r.split(":", 1)[1] for r in failed if r.startswith(group + ":")]
            kho_keep = not ours
            outcomes[group][kho_keep] += 1
            if kho_keep != dt_keep:
                mismatches.append(f"doc {idx} {group}: kho={ours} datatrove={dt_keep, dt_reason} {text[:80]!r}")
            elif not dt_keep and dt_reason not in ours:
                mismatches.append(f"doc {idx} {group}: datatrove's reason {dt_reason} not in {ours}")
    assert not mismatches, "\n".join(mismatches[:20]) + f"\n({len(mismatches)} mismatches)"
    for group, seen in outcomes.items():
        assert seen[True] > 0 and seen[False] > 0, f"{group} needs both keep and drop outcomes: {seen}"


@pytest.mark.parametrize("thresholds", [DEFAULTS, FINEWEB2], ids=["defaults_no_c4", "with_c4"])
def test_datatrove_chain_keeps_what_kho_keeps(thresholds: QualityThresholds, tokenizer) -> None:
    """The whole chain (C4 last, as datatrove_filters orders it) keeps exactly Kho's kept docs:
    with the defaults (FineWeb-2's chain, no C4) and with C4 turned on."""
    docs = generate_vietnamese_corpus(120, seed=3)
    filters = list(datatrove_filter_by_group(thresholds, tokenizer).values())
    stopwords = thresholds.resolved_stop_words()
    for d in docs:
        signals = compute_signals(tokenize_document(d["text"], tokenizer), stopwords, thresholds)
        doc = Document(text=d["text"], id=d["id"])
        chain_keep = all(get_filter_result(f.filter(doc))[0] for f in filters)
        assert chain_keep == (not failed_rules(signals, thresholds)), d["id"]


def test_default_chain_is_fineweb2s_without_c4(tokenizer) -> None:
    from datatrove.pipeline.filters import C4QualityFilter

    filters = datatrove_filter_by_group(DEFAULTS, tokenizer)
    assert set(filters) == {"gopher_quality", "gopher_repetition", "fineweb"}
    assert not any(isinstance(f, C4QualityFilter) for f in filters.values())
    assert "c4" in datatrove_filter_by_group(FINEWEB2, tokenizer)
