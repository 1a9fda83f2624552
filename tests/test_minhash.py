"""MinHash signatures: determinism, band sharing for similar texts, Jaccard estimates."""

from __future__ import annotations

import random

import numpy as np
import pytest
from pydantic import ValidationError

from filters.minhash import (MinHashConfig, MinHasher, estimate_jaccard, jaccard, normalize, shingle_set,
                             signature_from_bytes, signature_to_bytes, syllable_tokens)

SYLLABLES = ("người dân thành phố hội nghị chuyển đổi số dữ liệu doanh nghiệp nông nghiệp giá lúa xuất "
             "khẩu thư viện sách điện tử bóng đá đội tuyển mưa lớn miền trung du lịch nhà nước chính "
             "sách phát triển kinh tế xã hội giáo dục đào tạo sinh viên trường học bệnh viện").split()


def _text(rng: random.Random, n: int = 400) -> str:
    return " ".join(rng.choice(SYLLABLES) for _ in range(n))


def _edit(text: str, rng: random.Random, frac: float) -> str:
    toks = text.split()
    for i in rng.sample(range(len(toks)), int(frac * len(toks))):
        toks[i] = f"x{rng.randrange(10**6)}"
    return " ".join(toks)


def test_signature_is_deterministic_across_instances() -> None:
    text = _text(random.Random(1))
    a, b = MinHasher(seed=7), MinHasher(seed=7)
    assert np.array_equal(a.text_signature(text), b.text_signature(text))
    assert a.band_hashes(a.text_signature(text)) == b.band_hashes(b.text_signature(text))
    assert not np.array_equal(a.text_signature(text), MinHasher(seed=8).text_signature(text))
    sig = a.text_signature(text)
    assert sig.dtype == np.uint32 and sig.shape == (112,)
    assert np.array_equal(signature_from_bytes(signature_to_bytes(sig)), sig)


def test_normalization_keeps_diacritics_and_folds_noise() -> None:
    assert normalize("  Hà Nội, NĂM 2024!  ") == "hà nội năm 0"
    assert normalize("ma") != normalize("má")
    # NFD input (decomposed tone marks) gives the same tokens as NFC
    import unicodedata
    assert syllable_tokens(unicodedata.normalize("NFD", "Việt Nam")) == ["việt", "nam"]


def test_similar_texts_share_bands_unrelated_do_not() -> None:
    rng = random.Random(2)
    h = MinHasher()
    base = _text(rng)
    near = _edit(base, rng, 0.01)
    other = _text(rng)
    bands = set(h.band_hashes(h.text_signature(base)))
    assert bands & set(h.band_hashes(h.text_signature(near)))
    assert not bands & set(h.band_hashes(h.text_signature(other)))
    assert len(bands) == 14


def test_jaccard_estimate_is_close_to_true_jaccard() -> None:
    rng = random.Random(3)
    h = MinHasher()
    errors = []
    for frac in (0.0, 0.01, 0.03, 0.06, 0.1, 0.2):
        base = _text(rng, 600)
        other = _edit(base, rng, frac)
        true = jaccard(shingle_set(base), shingle_set(other))
        est = estimate_jaccard(h.text_signature(base), h.text_signature(other))
        errors.append(abs(true - est))
    # 112 permutations: standard error <= 0.05; allow 3 sigma per pair, tighter on average
    assert max(errors) < 0.15 and float(np.mean(errors)) < 0.06


def test_empty_and_short_documents() -> None:
    h = MinHasher()
    assert h.band_hashes(h.signature([])) == []
    short = h.text_signature("xin chào")  # shorter than one 5-gram: one shingle
    assert len(h.band_hashes(short)) == 14
    assert np.array_equal(short, h.text_signature("Xin   chào!"))


def test_band_index_is_mixed_in() -> None:
    h = MinHasher(bands=2, rows=2)
    sig = np.array([5, 6, 5, 6], dtype=np.uint32)  # identical bands
    b0, b1 = h.band_hashes(sig)
    assert b0 != b1


def test_config_is_strict_and_consistent() -> None:
    cfg = MinHashConfig()
    assert (cfg.ngram, cfg.bands, cfg.rows, cfg.jaccard_threshold) == (5, 14, 8, 0.8)
    assert cfg.num_perm == 112 and 0.9 < cfg.candidate_probability(0.8) < 0.95
    with pytest.raises(ValidationError):
        MinHashConfig(bogus=1)
    with pytest.raises(ValueError):
        MinHasher(num_perm=100, bands=14, rows=8)
    assert MinHasher.from_config(cfg).num_perm == 112
