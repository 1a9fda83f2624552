"""Behaviour of Kho's Vietnamese tokenizer and quality signals (filters/tokenizer.py, filters/quality.py)."""

from __future__ import annotations

import math
import pickle
import subprocess
import sys

import pydantic
import pytest
from datatrove.data import Document
from datatrove.pipeline.filters import GopherQualityFilter

from bench.corpus import generate_vietnamese_corpus
from filters.quality import (
    GROUPS,
    SIGNAL_DOCS,
    SIGNAL_NAMES,
    SIGNAL_THRESHOLDS,
    QualityScorer,
    QualityThresholds,
    compute_signals,
    failed_rules,
    tokenize_document,
)
from filters.tokenizer import VietnameseWordTokenizer, get_vietnamese_stopwords

GOOD_NEWS = (
    "Hà Nội đẩy mạnh chuyển đổi số trong giáo dục\n"
    "Sáng nay, Sở Giáo dục và Đào tạo Hà Nội đã công bố kế hoạch chuyển đổi số cho các trường học "
    "trên địa bàn thành phố. Theo kế hoạch, mỗi trường sẽ được trang bị hệ thống quản lý học tập trực tuyến. "
    "Giáo viên được tập huấn để sử dụng thành thạo các công cụ mới trong năm học này.\n"
    "Ông Nguyễn Văn An, đại diện sở, cho biết chương trình nhận được sự ủng hộ của phụ huynh. "
    "Nhiều ý kiến cho rằng cần có thêm thời gian để đánh giá hiệu quả thực tế của mô hình. "
    "Tuy nhiên, kết quả khảo sát bước đầu cho thấy phần lớn học sinh hài lòng với cách học mới. "
    "Dự kiến chương trình sẽ được nhân rộng ra toàn thành phố vào năm tới."
)


@pytest.fixture(scope="module")
def tokenizer() -> VietnameseWordTokenizer:
    return VietnameseWordTokenizer()


@pytest.fixture(scope="module")
def scorer(tokenizer) -> QualityScorer:
    return QualityScorer(tokenizer=tokenizer)


def test_words_are_vietnamese_words_not_syllables(tokenizer) -> None:
    words = tokenizer.word_tokenize("Bác sĩ ở Hà Nội có thể thản nhiên báo tin cho bệnh nhân.")
    assert "Hà Nội" in words and "Bác sĩ" in words and "bệnh nhân" in words
    assert "Hà" not in words and "Nội" not in words


def test_tokenizer_matches_underthesea_line_by_line(tokenizer) -> None:
    from underthesea import word_tokenize

    uncached = VietnameseWordTokenizer(cache_size=0)
    for doc in generate_vietnamese_corpus(30, seed=5):
        for line in doc["text"].splitlines():
            if line.strip():
                assert uncached.word_tokenize(line) == word_tokenize(line)
                assert tokenizer.word_tokenize(line) == word_tokenize(line)


JUNK_LINES = [
    "7◇7★▓¶○_♠††5※_▪8☆1●♠2□░6/|†●3▫|◆§§▓▒░■□▪▫◆◇○●★☆♦♣♠♥¤§¶†‡•※",
    "▓▒░ ▓▒░ ▓▒░ ▓▒░ ▓▒░ ▓▒░ ▓▒░ ▓▒░",
    "Giá 1.500.000đ (-20%) +84 912 345 678 :)) <3 :D ok NĐ-CP T.Ư 3x4 v.v... --> => 2147483648 -5",
    "http://example.com/a?b=1 và test@x.vn ngày 12/3/2024 lúc 10:30 ΟΔΟΣ İstanbul ǅemal ß",
    # what a whitespace-chunked tokenization could get wrong: end-of-string lookarounds, odd spaces
    "Công ty ABC. ", "Công ty ABC.", "Đạo diễn :D", "Đạo diễn :D ", ":DD vui quá :D", "U.S.A. và T.Ư ",
    "tab\tngăn  cách   đôi\u00a0nbsp\u2003em space ", "a@b.vn. www.abc.vn/x?y=1. ", "  đầu dòng trắng",
    "Ho\u0300a bi\u0300nh (tổ hợp dấu)", "3x4 v.v... -> => ==> 30°C", "H&M NĐ-CP 51A-123.45 4K 60.542.000",
]


def test_fast_crf_equals_underthesea_including_ties() -> None:
    """The Python-scored CRF gives underthesea's words; near-ties fall back to underthesea_core."""
    from underthesea import word_tokenize

    fast = VietnameseWordTokenizer(cache_size=0)
    lines = [line for d in generate_vietnamese_corpus(120, seed=21) for line in d["text"].splitlines()
             if line.strip()] + JUNK_LINES
    for line in lines:
        assert fast.word_tokenize(line) == word_tokenize(line), line
    assert fast.fast_crf is not None and fast.ties > 0  # the tie path was exercised


def test_fast_crf_attributes_equal_underthesea_core(tokenizer) -> None:
    from filters.tokenizer import _syllables

    featurizer, _ = tokenizer.crf
    fast = tokenizer.fast_crf
    for line in JUNK_LINES + ["Bác sĩ Hà Nội", "Một"]:
        syl = _syllables(line)
        reference = featurizer.process([[[s] for s in syl]])[0]
        n = len(syl)
        for i in range(n):
            mine = []
            for lo, hi, templates, _, _ in fast.groups:
                if i + lo < 0:
                    mine += [p + "BOS" for p, _ in templates]
                elif i + lo >= n or i + hi >= n:
                    mine += [p + "EOS" for p, _ in templates]
                else:
                    mine += fast.attributes(templates, " ".join(syl[i + lo:i + hi + 1]))
            assert sorted(mine) == sorted(reference[i])


def test_syllables_equal_underthesea_regex_tokenize() -> None:
    from underthesea.pipeline.word_tokenize.regex_tokenize import tokenize

    from filters.tokenizer import _syllables

    for d in generate_vietnamese_corpus(60, seed=8):
        for line in d["text"].splitlines() + JUNK_LINES:
            assert _syllables(line) == tokenize(line)


def test_crfsuite_model_reader() -> None:
    from filters.tokenizer import _model_dir, read_crfsuite_model

    labels, weights, trans = read_crfsuite_model(f"{_model_dir()}/models.bin")
    assert labels == ["B-W", "I-W"] and len(weights) > 10_000
    assert len(trans) == 2 and all(len(row) == 2 for row in trans)
    assert all(len(w) == 2 for w in weights.values())


def test_newline_is_a_word_boundary(tokenizer) -> None:
    words = tokenizer.word_tokenize("Hà\nNội")
    assert words == ["Hà", "Nội"]


def test_repeated_lines_are_segmented_once(tokenizer) -> None:
    tok = VietnameseWordTokenizer()
    text = "\n".join(["Trang chủ", "Thời sự", "Trang chủ", "Thể thao"] * 5)
    first = tok.word_tokenize(text)
    assert tok.misses == 3 and tok.hits == 17
    assert tok.word_tokenize(text) == first and tok.misses == 3


def test_memo_is_bounded() -> None:
    tok = VietnameseWordTokenizer(cache_size=10)
    tok.word_tokenize("\n".join(f"dòng số {i}" for i in range(50)))
    assert len(tok._cache) == 10


def test_tokenizer_pickles_without_model_or_memo(tokenizer) -> None:
    tokenizer.word_tokenize("Xin chào Việt Nam")
    clone = pickle.loads(pickle.dumps(tokenizer))
    assert clone._crf is None and clone._fast is None and clone._cache == {}
    assert clone.word_tokenize("Xin chào Việt Nam") == tokenizer.word_tokenize("Xin chào Việt Nam")


def test_sentence_spans_cover_sentences(tokenizer) -> None:
    text = "Xin chào. Giá là 1.500.000 đồng! Bạn có khỏe không?"
    spans = tokenizer.span_tokenize(text)
    assert [text[a:b] for a, b in spans] == ["Xin chào.", "Giá là 1.500.000 đồng!", "Bạn có khỏe không?"]


def test_vietnamese_stopwords_come_from_underthesea() -> None:
    stop = get_vietnamese_stopwords()
    assert isinstance(stop, frozenset) and {"của", "và", "là", "được"} <= stop


def test_signals_have_every_declared_name(scorer) -> None:
    for doc in generate_vietnamese_corpus(40, seed=2) + [{"text": ""}]:
        signals, _ = scorer.score(doc["text"])
        assert tuple(signals) == SIGNAL_NAMES
        assert all(isinstance(v, float) and math.isfinite(v) for v in signals.values())
    assert set(SIGNAL_DOCS) == set(SIGNAL_NAMES) and len(set(SIGNAL_NAMES)) == len(SIGNAL_NAMES)


def test_signal_thresholds_point_at_real_fields() -> None:
    fields = QualityThresholds.model_fields
    for signal, (field, direction) in SIGNAL_THRESHOLDS.items():
        assert signal in SIGNAL_NAMES and field in fields and direction in ("min ", "max ")


def test_good_news_is_kept(scorer) -> None:
    signals, failed = scorer.score(GOOD_NEWS)
    assert failed == [], failed
    assert signals["gopher_stop_words"] >= 2 and signals["c4_sentences"] >= 5


#: Ordinary 3-4 sentence news: the bundled sample's crawl page pipelines/sample_data/crawl.warc.gz
#: (bao.example.vn/giao-duc/tuyen-sinh), a headline line and one paragraph of four sentences.
SHORT_NEWS = (
    "Tuyển sinh đại học năm nay có nhiều điểm mới\n"
    "Bộ Giáo dục và Đào tạo vừa công bố quy chế tuyển sinh đại học năm nay với nhiều điều chỉnh. "
    "Thí sinh được đăng ký nguyện vọng không giới hạn trên hệ thống trực tuyến và có thể thay đổi trong "
    "thời gian quy định. Các trường đại học cũng được khuyến khích công bố sớm phương án xét tuyển để học "
    "sinh chủ động lựa chọn. Nhiều chuyên gia cho rằng việc công khai thông tin sớm sẽ giúp giảm áp lực "
    "cho thí sinh và phụ huynh."
)


def _sample_forum_text(record_id: str) -> str:
    import json
    from pathlib import Path

    from filters.normalize import normalize_text

    path = Path(__file__).parent.parent / "pipelines" / "sample_data" / "forum.jsonl"
    for line in path.read_bytes().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("id") == record_id:
            return normalize_text(rec["text"]).text
    raise KeyError(record_id)


def test_defaults_apply_fineweb2s_groups_without_c4() -> None:
    th = QualityThresholds()
    assert th.enabled == {"gopher_quality", "gopher_repetition", "fineweb"}
    assert th.min_num_sentences == 5  # C4's threshold is kept for configs that turn C4 on


def test_ordinary_short_news_and_posts_are_kept_by_default(scorer, tokenizer) -> None:
    """The demo's 3-4 sentence news page and forum posts: C4 alone rejected them (fewer than 5
    sentences); the defaults keep them, and still compute and store the C4 signals."""
    texts = {"crawl news": SHORT_NEWS, "forum-0": _sample_forum_text("forum-0"),
             "forum-3": _sample_forum_text("forum-3")}
    with_c4 = QualityScorer(QualityThresholds(enabled=set(GROUPS)), tokenizer)
    for name, text in texts.items():
        signals, failed = scorer.score(text)
        assert failed == [], (name, failed)
        assert 1 <= signals["c4_sentences"] < 5  # computed even though C4 is off
        assert with_c4.score(text)[1] == ["c4:too_few_sentences"], name


def test_a_config_that_enables_c4_rejects_with_c4_reasons(tmp_path, tokenizer) -> None:
    from pipelines.config import load_ingest_config

    cfg = tmp_path / "c4.yaml"
    cfg.write_text(f"""
dataset: c4-on
sources:
  - name: s
    format: jsonl
    paths: ["{tmp_path}/*.jsonl"]
quality:
  enabled: [gopher_quality, gopher_repetition, c4, fineweb]
""")
    thresholds = load_ingest_config(cfg).quality
    assert "c4" in thresholds.enabled
    _, failed = QualityScorer(thresholds, tokenizer).score(SHORT_NEWS)
    assert failed == ["c4:too_few_sentences"]
    lorem = GOOD_NEWS + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit."
    assert "c4:lorem_ipsum" in QualityScorer(thresholds, tokenizer).score(lorem)[1]
    assert QualityScorer(tokenizer=tokenizer).score(lorem)[1] == []


def test_every_failing_rule_is_listed_not_only_the_first(scorer, tokenizer) -> None:
    spam = "#sale #hot ### 👉 0912 345 678 !!! ... ### $$$ #freeship"
    _, failed = scorer.score(spam)
    gopher = [r for r in failed if r.startswith("gopher_quality:")]
    assert {"gopher_quality:gopher_short_doc", "gopher_quality:gopher_too_many_hashes",
            "gopher_quality:gopher_below_alpha_threshold", "gopher_quality:gopher_enough_stop_words"} <= set(gopher)
    assert any(r.startswith("fineweb:") for r in failed)
    assert not any(r.startswith("c4:") for r in failed)  # C4 is off by default (FineWeb-2)
    every_group = QualityScorer(QualityThresholds(enabled=set(GROUPS)), tokenizer).score(spam)[1]
    assert any(r.startswith("c4:") for r in every_group) and set(failed) < set(every_group)
    # datatrove reports only the first of them
    keep, reason = GopherQualityFilter(min_avg_word_length=3, max_avg_word_length=11, language=tokenizer,
                                       stop_words=list(QualityThresholds().stop_words),
                                       max_non_alpha_words_ratio=0.803).filter(Document(text=spam, id="x"))
    assert not keep and f"gopher_quality:{reason}" == gopher[0]


def test_rule_names_are_group_prefixed_datatrove_reasons(scorer) -> None:
    for doc in generate_vietnamese_corpus(80, seed=9):
        _, failed = scorer.score(doc["text"])
        for rule in failed:
            group, reason = rule.split(":", 1)
            assert group in GROUPS and reason


def test_stored_signals_can_be_rethresholded(tokenizer) -> None:
    strict = QualityThresholds(min_doc_words=400, min_num_sentences=30, new_line_ratio=0.01)
    default = QualityThresholds()
    for doc in generate_vietnamese_corpus(60, seed=4):
        stored = QualityScorer(default, tokenizer).score(doc["text"])[0]
        assert failed_rules(stored, strict) == QualityScorer(strict, tokenizer).score(doc["text"])[1]
    signals = QualityScorer(default, tokenizer).score(GOOD_NEWS)[0]
    assert "gopher_quality:gopher_short_doc" in failed_rules(signals, strict)


def test_disabled_groups_and_rules_report_nothing(scorer) -> None:
    signals, failed = scorer.score("Menu\nTrang chủ\nLiên hệ")
    assert failed
    assert failed_rules(signals, QualityThresholds(enabled=set())) == []
    only_c4 = failed_rules(signals, QualityThresholds(enabled={"c4"}))
    assert only_c4 and all(r.startswith("c4:") for r in only_c4)
    no_short = failed_rules(signals, QualityThresholds(min_doc_words=None))
    assert "gopher_quality:gopher_short_doc" not in no_short


def test_empty_text_is_scored_not_crashed(scorer) -> None:
    signals, failed = scorer.score("")
    assert signals["chars"] == 0.0
    assert {"gopher_repetition:empty", "fineweb:empty", "gopher_quality:gopher_short_doc"} <= set(failed)


def test_thresholds_reject_unknown_keys() -> None:
    with pytest.raises(pydantic.ValidationError):
        QualityThresholds(min_doc_wordz=10)
    with pytest.raises(pydantic.ValidationError):
        QualityThresholds.model_validate({"enabled": ["gopher_quality", "perplexity"]})
    with pytest.raises(pydantic.ValidationError):
        QualityThresholds(top_n_grams={7: 0.1})


def test_thresholds_round_trip_through_json() -> None:
    th = QualityThresholds(stop_words="underthesea", dup_para_frac=0.3, enabled={"c4", "fineweb"})
    again = QualityThresholds.model_validate(th.model_dump(mode="json"))
    assert again == th and again.resolved_stop_words() == get_vietnamese_stopwords()


def test_tokenized_once(monkeypatch, tokenizer) -> None:
    calls = []
    original = tokenizer.word_tokenize
    monkeypatch.setattr(tokenizer, "word_tokenize", lambda text: calls.append(text) or original(text))
    doc = tokenize_document(GOOD_NEWS, tokenizer)
    compute_signals(doc, frozenset(QualityThresholds().stop_words))
    assert calls == [GOOD_NEWS]


def test_filters_package_does_not_import_apache_beam() -> None:
    code = "import sys, filters.quality, filters.tokenizer; assert 'apache_beam' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_repeated_n_gram_chars_equals_datatrove(tokenizer) -> None:
    from datatrove.pipeline.filters.gopher_repetition_filter import find_all_duplicate

    from filters.quality import repeated_n_gram_chars

    samples = [tokenizer.word_tokenize(d["text"]) for d in generate_vietnamese_corpus(80, seed=13)]
    samples += [["ab", "c", "a", "bc", "ab", "c"] * 3, [], ["x"] * 12]
    for words in samples:
        for n in range(1, 11):
            assert repeated_n_gram_chars(words, n) == find_all_duplicate(words, n)


def test_n_gram_keys_and_top_n_gram_equal_datatrove(tokenizer) -> None:
    from datatrove.pipeline.filters.gopher_repetition_filter import find_top_duplicate, get_n_grams

    from filters.quality import NGramKeys, top_n_gram_chars

    samples = [tokenizer.word_tokenize(d["text"]) for d in generate_vietnamese_corpus(80, seed=17)]
    samples += [["ab", "c", "a", "bc", "ab", "c"] * 3, ["x"] * 12, ["Hà Nội", "", "a b", "…"] * 4]
    for words in samples:
        keys = NGramKeys(words)
        for n in range(1, 11):
            grams = get_n_grams(words, n)
            assert keys.spaced_grams(n) == grams
            assert keys.concatenated(n) == ["".join(words[i:i + n]) for i in range(len(words) - n + 1)]
            if grams:
                assert top_n_gram_chars(grams) == find_top_duplicate(grams)
