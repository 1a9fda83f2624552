"""Text decoding and normalization: legacy encodings, mojibake, tone marks, whitespace."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from filters.legacy_encodings import (
    ONSETS,
    RHYMES,
    VOWELS_LOWER,
    compose,
    detect_legacy_encoding,
    is_valid_syllable,
    score_legacy_encoding,
    tcvn3_to_unicode,
    unicode_to_tcvn3,
    unicode_to_viqr,
    unicode_to_vni,
    viqr_to_unicode,
    vni_to_unicode,
)
from filters.normalize import (
    NormalizeResult,
    TextDecodeError,
    _needs_tone_pass,
    _place_tone,
    decode_bytes,
    decode_cp1258,
    decode_legacy_bytes,
    fix_tone_marks,
    normalize_text,
)

DATA = Path(__file__).parent / "data"

# Real Vietnamese, already in the canonical form (NFC, new tone style, clean whitespace).
CLEAN_VI = (
    "Hà Nội là thủ đô của nước Cộng hoà Xã hội chủ nghĩa Việt Nam, đồng thời là trung tâm chính "
    "trị, văn hoá và giáo dục quan trọng bậc nhất của cả nước. Thành phố nằm ở phía tây bắc của "
    "vùng đồng bằng sông Hồng, có lịch sử hơn một nghìn năm.\n\n"
    "Người dân Hà Nội nổi tiếng thanh lịch, mến khách. Ẩm thực nơi đây rất phong phú với phở, "
    "bún chả, bánh cuốn, chả cá Lã Vọng. Du khách thường ghé thăm Hồ Gươm, Văn Miếu – Quốc Tử "
    "Giám và phố cổ. Tuy vậy, tình trạng ùn tắc giao thông và ô nhiễm không khí vẫn là những "
    "thách thức lớn; thành phố đang xây dựng đường sắt đô thị, khuyến khích người dân đi xe buýt "
    "và trồng thêm cây xanh. Quỹ đất ngoại thành còn nhiều, giường bệnh ở các bệnh viện tuyến "
    "trên thì quá tải: “Chúng tôi cần thêm bác sĩ!”, một y tá khoẻ mạnh nói."
)
SENTENCE = "Hà Nội là thủ đô của Việt Nam"
SENTENCES = [
    SENTENCE,
    "Người dân ở đây rất thân thiện và hiếu khách.",
    "Quyết định này được Thủ tướng ký ngày 15 tháng 3 năm 2024.",
    "Mùa thu Hà Nội, gió heo may thổi nhẹ qua những con phố cổ.",
    "Giữa trưa hè, chúng tôi uống nước dừa và ăn khoai lang nướng.",
]


# --------------------------------------------------------------------------------------------
# Legacy encodings
# --------------------------------------------------------------------------------------------

def test_tcvn3_text_is_converted_to_unicode() -> None:
    hand_typed = "Hµ Néi lµ thñ ®« cña ViÖt Nam"  # what a .VnTime document reads as in cp1252
    assert detect_legacy_encoding(hand_typed) == "tcvn3"
    assert normalize_text(hand_typed) == NormalizeResult(SENTENCE, ("tcvn3",))
    assert normalize_text("Ng­êi d©n ë ®©y rÊt th©n thiÖn vµ hiÕu kh¸ch.").text == SENTENCES[1]
    for sentence in SENTENCES:
        encoded = unicode_to_tcvn3(sentence)
        assert encoded != sentence
        assert normalize_text(encoded).text == sentence


def test_tcvn3_uppercase_heading_is_recapitalised() -> None:
    # .VnTimeH headings use the lowercase codes for capital toned letters
    assert tcvn3_to_unicode("§¹I HäC QUèC GIA Hµ NéI") == "ĐẠI HỌC QUỐC GIA Hà NỘI"


def test_tcvn3_file_bytes_are_decoded_and_converted() -> None:
    raw = (DATA / "tcvn3_sample.txt").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = decode_legacy_bytes(raw)
    assert text.startswith("Hà Nội là thủ đô của nước Cộng hoà Xã hội chủ nghĩa Việt Nam,")
    assert "thành Đại La và đổi tên thành Thăng Long." in text
    assert "Người dân Hà Nội nổi tiếng thanh lịch" in text
    assert normalize_text(text.strip()).fixes == ()  # already canonical apart from the final newline


def test_decode_legacy_bytes_reads_vni_file_bytes() -> None:
    raw = unicode_to_vni(SENTENCES[1]).encode("cp1252")
    assert decode_legacy_bytes(raw) == SENTENCES[1]


def test_decode_legacy_bytes_rejects_bytes_that_are_not_vietnamese() -> None:
    raw = "Le café où je bois est très agréable.".encode("latin-1")
    with pytest.raises(TextDecodeError) as info:
        decode_legacy_bytes(raw)
    assert info.value.offset == raw.index(b"\xe9")
    with pytest.raises(TextDecodeError):
        decode_legacy_bytes(bytes(range(128, 256)))


def test_vni_text_is_converted() -> None:
    assert normalize_text("Haø Noäi laø thuû ñoâ cuûa Vieät Nam").text == SENTENCE
    assert vni_to_unicode("Xin chaøo caùc baïn") == "Xin chào các bạn"
    assert vni_to_unicode("ngöôøi, nghóa, lòch söû, kyû nieäm") == "người, nghĩa, lịch sử, kỷ niệm"
    assert vni_to_unicode("VIEÄT NAM") == "VIỆT NAM"
    for sentence in SENTENCES:
        result = normalize_text(unicode_to_vni(sentence))
        assert result == NormalizeResult(sentence, ("vni",))


def test_viqr_text_is_converted() -> None:
    assert normalize_text("Ha` No^.i la` thu? ddo^ cu?a Vie^.t Nam").text == SENTENCE
    assert viqr_to_unicode("Ngu+o+`i da^n o+? dda^y ra^'t tha^n thie^.n va` hie^'u kha'ch.") == SENTENCES[1]
    for sentence in SENTENCES:
        result = normalize_text(unicode_to_viqr(sentence))
        assert result == NormalizeResult(sentence, ("viqr",))


def test_viqr_final_period_is_punctuation_and_escaped_marks_stay_literal() -> None:
    assert viqr_to_unicode("Toi la` ddo^.") == "Toi là đô."
    assert viqr_to_unicode("Anh khoe? kho^ng?.") == "Anh khoẻ không?."
    assert viqr_to_unicode(r"Ba\? la` ai") == "Ba? là ai"


@pytest.mark.parametrize("text", [
    "Le café où je bois est très agréable, déjà vu à Noël. Où est la gare? Ça coûte très cher.",
    "Mon père a été élevé à Besançon où il a étudié la théologie et le français.",
    "Über den Wolken muss die Freiheit wohl grenzenlos sein. Müller äße gerne Käse in Köln.",
    "El niño comió una manzana en el jardín. ¿Dónde está la estación? Mañana será otro día.",
    "A criança não sabe o que é a vida. Você está em São Paulo há três anos.",
    "Copyright © 2024 Kho · All rights reserved ® · 5 × 3 = 15 · 10 µm · «quoted»",
    "The quick brown fox jumps over the lazy dog. Don't you think it's a nice day? I'm sure.",
    "f(a(x)) = a^2 + b^2; x~y; a`b`c; if (a(b)) return a+b;",
    "Blåbærsyltetøy på smørbrød er godt. Ærlig talt, øl er også fint.",
    "Cá và Tôm, Áo dài ©",  # short Unicode Vietnamese made only of Latin-1 letters
    "Set `a` to `b`, call f(a) then g(a^2) or h(a(b)) with `i` and `e` keys.",
])
def test_foreign_text_is_not_mistaken_for_a_legacy_encoding(text: str) -> None:
    assert detect_legacy_encoding(text) is None
    assert normalize_text(text).text == text


def test_french_text_is_not_mistaken_for_vni() -> None:
    french = ("Le maïs est sûr et mûr à Noël, dit le naïf aïeul en jouant de la flûte; "
              "le café où je bois est très agréable, à côté du théâtre.")
    score = score_legacy_encoding(french, "vni")
    assert score.candidates >= 3 and not score.fires
    assert normalize_text(french).fixes == ()


def test_unicode_vietnamese_is_not_detected_as_legacy() -> None:
    assert detect_legacy_encoding(CLEAN_VI) is None
    for sentence in SENTENCES:
        assert detect_legacy_encoding(sentence) is None
        assert detect_legacy_encoding(unicodedata.normalize("NFD", sentence)) is None


def test_encoders_and_decoders_round_trip_every_letter() -> None:
    letters = "".join(sorted({compose(v, t) for v in "aăâeêioôơuưy" for t in range(6)})) + "đ"
    word = " ".join(letters)
    assert vni_to_unicode(unicode_to_vni(word)) == word
    assert viqr_to_unicode(unicode_to_viqr(word) + " x") == word + " x"
    assert tcvn3_to_unicode(unicode_to_tcvn3(word)) == word
    upper = word.upper()
    assert vni_to_unicode(unicode_to_vni(upper)) == upper
    assert viqr_to_unicode(unicode_to_viqr(upper) + " x") == upper + " x"


# --------------------------------------------------------------------------------------------
# Clean text, NFC, tone marks
# --------------------------------------------------------------------------------------------

def test_correct_vietnamese_is_unchanged() -> None:
    result = normalize_text(CLEAN_VI)
    assert result.text == CLEAN_VI
    assert result.fixes == ()
    for sentence in SENTENCES:
        assert normalize_text(sentence) == NormalizeResult(sentence, ())


def test_decomposed_vietnamese_becomes_nfc() -> None:
    nfd = unicodedata.normalize("NFD", CLEAN_VI)
    result = normalize_text(nfd)
    assert result.text == CLEAN_VI
    assert result.fixes == ("nfc",)


@pytest.mark.parametrize("old,new", [
    ("hòa bình", "hoà bình"), ("òa khóc", "oà khóc"), ("khỏe mạnh", "khoẻ mạnh"),
    ("lòe loẹt", "loè loẹt"), ("thủy lợi", "thuỷ lợi"), ("ùy ban", "uỳ ban"),
    ("Hòa", "Hoà"), ("HÒA", "HOÀ"), ("Thủy", "Thuỷ"), ("tùy ý", "tuỳ ý"),
    ("văn hóa", "văn hoá"), ("lũy tre", "luỹ tre"), ("xòe", "xoè"), ("họa sĩ", "hoạ sĩ"),
])
def test_old_tone_style_is_rewritten_to_new(old: str, new: str) -> None:
    result = normalize_text(old)
    assert result.text == new
    assert result.fixes == ("tone_marks",)
    assert normalize_text(new, tone_style="old").text == old


@pytest.mark.parametrize("word", [
    # marks that are the same in both styles must never move
    "hoàng", "toán", "huỳnh", "khuỷu", "ngoài", "xoáy", "ngoèo", "người", "rượu", "khuyến",
    "thuế", "tuần", "mía", "múa", "túi", "mái", "cửa", "hữu", "quý", "quả", "quyết", "quỳnh",
    "già", "giữa", "giường", "gì", "gìn", "nghĩa", "yếu", "uống", "thuở", "khuya",
])
def test_tone_marks_that_both_styles_agree_on_are_kept(word: str) -> None:
    for style in ("new", "old"):
        assert fix_tone_marks(word, style) == word
        assert fix_tone_marks(word.upper(), style) == word.upper()


@pytest.mark.parametrize("wrong,right", [
    ("baì", "bài"), ("tòan", "toàn"), ("qúa", "quá"), ("gìa", "già"), ("qúy", "quý"),
    ("ngừơi", "người"), ("nguyên", "nguyên"), ("hùynh", "huỳnh"), ("oaì", "oài"),
    ("lạị", "lạị"),  # two tone marks: not a syllable, left alone
])
def test_misplaced_tone_marks_are_moved(wrong: str, right: str) -> None:
    assert fix_tone_marks(wrong) == right


def test_eth_typed_for_d_bar_is_replaced_in_vietnamese_words_only() -> None:
    result = normalize_text("Ðà Nẵng ðẹp lắm, Guðrún sống ở ðó")
    assert result == NormalizeResult("Đà Nẵng đẹp lắm, Guðrún sống ở đó", ("lookalike_chars",))


def test_foreign_words_keep_their_accents() -> None:
    text = "café naïve Zürich São Paulo Curaçao déjà-vu Ñandú piñata Ångström"
    assert normalize_text(text) == NormalizeResult(text, ())


@pytest.mark.parametrize("style", ["new", "old"])
def test_fast_tone_precheck_catches_every_misplaced_mark(style: str) -> None:
    """Every (onset, rhyme, tone, position) that the rewriter would change is caught by the
    regex pre-check that lets clean text skip the word-by-word pass."""
    missed = []
    for onset in ONSETS:
        for rhyme in RHYMES:
            base = onset + rhyme
            for i, ch in enumerate(base):
                if ch not in VOWELS_LOWER:
                    continue
                for tone in range(1, 6):
                    word = base[:i] + compose(ch, tone) + base[i + 1:]
                    if _place_tone(word, style) != word and not _needs_tone_pass(word, style):
                        missed.append(word)
    assert missed == []


def test_syllable_rules_reject_impossible_spellings() -> None:
    assert is_valid_syllable("nghiêng") and is_valid_syllable("Quốc") and is_valid_syllable("giữa")
    assert is_valid_syllable("ke") and not is_valid_syllable("ce")  # k before e, c elsewhere
    assert not is_valid_syllable("càc")  # a stop coda takes only sắc or nặng
    for bad in ("cé", "ngi", "kà", "quu", "thàt", "straße", "ĩet", "gii"):
        assert not is_valid_syllable(bad), bad


# --------------------------------------------------------------------------------------------
# Mojibake, control characters, whitespace
# --------------------------------------------------------------------------------------------

def test_mojibake_is_repaired() -> None:
    hand_typed = "Viá»‡t Nam lÃ  má»™t quá»‘c gia"
    assert normalize_text(hand_typed) == NormalizeResult("Việt Nam là một quốc gia", ("mojibake",))
    for sentence in SENTENCES:
        broken = sentence.encode("utf-8").decode("latin-1")
        assert normalize_text(broken).text == sentence


def test_mojibake_check_leaves_vietnamese_with_typographic_punctuation_alone() -> None:
    text = "Cô ấy nói: “có…” rồi đi — «tạm biệt»."
    assert normalize_text(text) == NormalizeResult(text, ())


def test_control_chars_are_removed_but_newlines_and_tabs_kept() -> None:
    text = "Hà\x00 Nội\x07\tlà thủ\u200b đô\ufeff\nViệt\u00adNam"
    result = normalize_text(text)
    assert result.text == "Hà Nội\tlà thủ đô\nViệtNam"
    assert result.fixes == ("control_chars",)
    emoji = "gia đình 👨\u200d👩\u200d👧"
    assert normalize_text(emoji).text == emoji


def test_whitespace_is_normalised() -> None:
    text = "  Hà\u00a0Nội   là  thủ đô. \r\n\r\n\r\n\r\n  Việt\u3000Nam \n\n\n"
    result = normalize_text(text)
    assert result.text == "Hà Nội là thủ đô.\n\nViệt Nam"
    assert result.fixes == ("whitespace",)
    assert normalize_text("a\n\nb").text == "a\n\nb"


@pytest.mark.parametrize("text", [
    CLEAN_VI, unicodedata.normalize("NFD", CLEAN_VI), "Hµ Néi lµ thñ ®« cña ViÖt Nam",
    "Haø Noäi laø thuû ñoâ cuûa Vieät Nam", " hòa\u00a0 bình \x00", "Viá»‡t Nam lÃ  má»™t quá»‘c gia",
])
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize_text(text).text
    assert normalize_text(once) == NormalizeResult(once, ())


def test_unknown_tone_style_is_rejected() -> None:
    with pytest.raises(ValueError, match="tone_style"):
        normalize_text("hoà", tone_style="modern")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Decoding bytes
# --------------------------------------------------------------------------------------------

def test_utf8_is_decoded_and_bom_stripped() -> None:
    assert decode_bytes(SENTENCE.encode("utf-8")) == SENTENCE
    assert decode_bytes(b"\xef\xbb\xbf" + SENTENCE.encode("utf-8")) == SENTENCE


def test_invalid_utf8_raises_decode_error_with_offset() -> None:
    raw = "Hà Nội".encode("utf-8") + b" \xff\xfe broken " + "Việt".encode("utf-8")
    with pytest.raises(TextDecodeError) as info:
        decode_bytes(raw)
    assert info.value.offset == len("Hà Nội".encode("utf-8")) + 1
    assert "offset 10" in str(info.value) and "declare the source encoding" in str(info.value)
    assert isinstance(info.value, ValueError)
    # a truncated multi-byte sequence at the end
    with pytest.raises(TextDecodeError) as info:
        decode_bytes("Việt".encode("utf-8")[:-2])
    assert info.value.offset == 2


def test_invalid_utf8_is_not_guessed_as_cp1252() -> None:
    with pytest.raises(TextDecodeError):
        decode_bytes("café".encode("cp1252"))


def test_declared_encoding_is_used_when_bytes_are_not_utf8() -> None:
    assert decode_bytes("café crème".encode("cp1252"), declared="windows-1252") == "café crème"
    assert decode_bytes(unicode_to_tcvn3(SENTENCE).encode("latin-1"), declared="TCVN3") == SENTENCE
    assert decode_bytes(unicode_to_vni(SENTENCE).encode("cp1252"), declared="vni") == SENTENCE
    # valid UTF-8 wins over a (wrong) declaration
    assert decode_bytes(SENTENCE.encode("utf-8"), declared="iso-8859-1") == SENTENCE


def test_bad_declared_encoding_raises_actionable_error() -> None:
    with pytest.raises(TextDecodeError, match="unknown"):
        decode_bytes(b"\xff\xfe", declared="klingon-8")
    with pytest.raises(TextDecodeError, match="declares UTF-8"):
        decode_bytes(b"abc\xff", declared="utf-8")
    with pytest.raises(TextDecodeError) as info:
        decode_bytes(b"ab\x81", declared="cp1252")  # 0x81 is undefined in cp1252
    assert info.value.offset == 2


def test_cp1258_combining_marks_become_nfc() -> None:
    # cp1258: ê = 0xEA, combining dot below = 0xF2, combining acute = 0xEC, ư = 0xFD, ơ = 0xF5
    raw = b"Vi\xea\xf2t Nam, ng\xfd\xf5\xcci Vi\xea\xf2t"
    text = decode_cp1258(raw)
    assert text == "Việt Nam, người Việt"
    assert unicodedata.is_normalized("NFC", text)
    assert decode_bytes(raw, declared="cp1258") == text
    with pytest.raises(TextDecodeError):
        decode_cp1258(b"abc\x81")
