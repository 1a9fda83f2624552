"""Language identification: fastText lid.176 and Vietnamese typed without diacritics."""

from __future__ import annotations

import pytest

from filters.langid import (
    LangResult,
    LanguageIdentifier,
    LanguageModelError,
    default_identifier,
    vietnamese_ascii_syllables,
)
from filters.legacy_encodings import strip_diacritics

VIETNAMESE = [
    "Hà Nội là thủ đô của nước Cộng hoà Xã hội chủ nghĩa Việt Nam.",
    "Người dân ở đây rất thân thiện và hiếu khách.",
    "Năm 1010, vua Lý Thái Tổ dời đô từ Hoa Lư về thành Đại La và đổi tên thành Thăng Long.",
    "Trong những năm gần đây, thành phố đã đầu tư mạnh mẽ vào cơ sở hạ tầng giao thông.",
]
NO_DIACRITICS = [
    "toi dang o ha noi, hom nay troi dep qua",
    "cam on ban rat nhieu",
    "Hom qua toi di hoc ve muon nen me toi rat lo lang",
    "anh oi em yeu anh nhieu lam",
    "ban co khoe khong",
] + [strip_diacritics(s) for s in VIETNAMESE]
ENGLISH = [
    "The committee will meet next Tuesday to discuss the budget.",
    "Please send me the report before the end of the day.",
    "He can go to the bar but not to the ban.",  # short words that are also Vietnamese syllables
    "It is a long way to the top if you want to rock and roll.",
    "We had a lot of fun at the party on Saturday night.",
]
OTHER = [
    ("it", "La casa di mia madre è molto bella e non ho tempo per te."),
    ("it", "ciao come stai oggi"),
    ("id", "Saya pergi ke pasar untuk membeli sayur dan buah bersama ibu saya."),
    ("fr", "Je ne sais pas ce que tu veux dire, mais on va à la plage demain matin."),
    ("es", "No sé qué hacer con mi vida, pero mañana será otro día."),
    ("pt", "Ela não sabe o que fazer com a vida, mas vai para São Paulo amanhã."),
    ("de", "Ich habe heute keine Zeit für dich, weil ich arbeiten muss."),
    ("tl", "Ang mga bata ay naglalaro sa labas ng bahay namin."),
]


@pytest.fixture(scope="module")
def lid() -> LanguageIdentifier:
    return default_identifier()


@pytest.mark.parametrize("text", VIETNAMESE)
def test_vietnamese_is_identified(lid: LanguageIdentifier, text: str) -> None:
    result = lid.identify(text)
    assert result.lang == "vi" and result.variant is None
    assert result.score > 0.9


@pytest.mark.parametrize("text", NO_DIACRITICS)
def test_vietnamese_without_diacritics_is_tagged_not_dropped(lid: LanguageIdentifier,
                                                            text: str) -> None:
    result = lid.identify(text)
    assert result == LangResult("vi", result.score, "no_diacritics")
    assert result.score >= 0.65  # the default keep threshold


@pytest.mark.parametrize("text", ENGLISH)
def test_english_stays_english(lid: LanguageIdentifier, text: str) -> None:
    result = lid.identify(text)
    assert result.lang == "en" and result.variant is None


@pytest.mark.parametrize("lang,text", OTHER)
def test_other_languages_keep_their_label(lid: LanguageIdentifier, lang: str, text: str) -> None:
    result = lid.identify(text)
    assert result.lang == lang and result.variant is None


@pytest.mark.parametrize("text", VIETNAMESE + NO_DIACRITICS + ENGLISH + [t for _, t in OTHER] + [
    "", "   ", "12345 !!!", "a", "ok", "x" * 5000, "Việt " * 3000])
def test_langid_score_is_a_probability(lid: LanguageIdentifier, text: str) -> None:
    result = lid.identify(text)
    assert 0.0 <= result.score <= 1.0
    assert isinstance(result.lang, str) and result.lang


def test_text_without_letters_is_undetermined(lid: LanguageIdentifier) -> None:
    assert lid.identify("") == LangResult("und", 0.0, None)
    assert lid.identify("2024 - 15/3 :)") == LangResult("und", 0.0, None)


def test_newlines_are_accepted(lid: LanguageIdentifier) -> None:
    text = "\n".join(VIETNAMESE) + "\r\n\n"
    assert lid.identify(text).lang == "vi"


def test_default_identifier_is_cached_per_process() -> None:
    assert default_identifier() is default_identifier()


def test_syllable_inventory_holds_unaccented_vietnamese_only() -> None:
    syllables = vietnamese_ascii_syllables()
    assert {"nguoi", "khong", "duoc", "truong", "nghieng", "quoc"} <= syllables
    assert not {"and", "with", "ciao", "pergi", "straat", "zhong", "schon"} & syllables


def test_missing_model_raises_actionable_error(tmp_path) -> None:
    with pytest.raises(LanguageModelError, match="model_path"):
        LanguageIdentifier(str(tmp_path / "missing.ftz"))


def test_unaccented_vietnamese_that_fasttext_calls_vi_keeps_a_high_score() -> None:
    from filters.langid import default_identifier

    r = default_identifier().identify("anh oi cho em hoi duong den cho Ben Thanh di the nao vay anh")
    assert r.lang == "vi" and r.variant == "no_diacritics"
    assert r.score >= 0.65
