"""Vietnamese orthography tables and converters for legacy (pre-Unicode) encodings.

Why this exists: a large share of older Vietnamese text on disk and on the web was written in
8-bit font encodings. When such a file is read as Latin-1/cp1252 (what every generic decoder
does) it *decodes without error* into gibberish that no UTF-8 check catches:

* **TCVN3** (TCVN 5712:1993, the "VN3"/ABC font table): one byte per toned lowercase letter,
  e.g. ``"Hà Nội"`` reads as ``"Hµ Néi"``. Uppercase toned letters have no code of their own
  (the ``.VnTimeH`` fonts draw the lowercase codes as capitals), so they decode as lowercase;
  :func:`tcvn3_to_unicode` re-capitalises tokens whose other letters are all capitals.
* **VNI Windows**: a base letter followed by a diacritic byte, e.g. ``"Nội"`` reads as
  ``"Noäi"``; a few letters (đ ơ ư ỉ ĩ ị ỵ) have single codes.
* **VIQR** (RFC 1456): plain ASCII with mnemonics after the vowel, e.g. ``"No^.i"``:
  ``( ^ +`` for breve, circumflex and horn; ``' ` ? ~ .`` for the five tones; ``dd`` for đ;
  a backslash escapes a mnemonic that is meant literally.

The tables below were written from the published code charts. Detection is deliberately
conservative (see :func:`detect_legacy_encoding`): it converts every candidate token and counts
how many become *valid Vietnamese syllables* (onset + rhyme + tone rules), so ordinary
Vietnamese, English, French or German text never converts.

The module also holds the Vietnamese syllable model (onsets, rhymes, tone marks, the main-vowel
rule) because detection, tone-mark placement (:mod:`filters.normalize`) and the
no-diacritics language check (:mod:`filters.langid`) all need the same definition.
It is pure Python with no third-party imports.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "TONE_NONE", "TONE_GRAVE", "TONE_ACUTE", "TONE_HOOK", "TONE_TILDE", "TONE_DOT",
    "ONSETS", "RHYMES", "LegacyScore", "Syllable", "compose", "decompose_char", "split_syllable",
    "is_valid_syllable",
    "main_vowel_index", "strip_diacritics", "tcvn3_to_unicode", "unicode_to_tcvn3",
    "vni_to_unicode", "unicode_to_vni", "viqr_to_unicode", "unicode_to_viqr",
    "score_legacy_encoding", "detect_legacy_encoding", "convert_legacy", "LEGACY_ENCODINGS",
    "VIETNAMESE_LETTER",
]

#: One letter that only Vietnamese writes (shaped or toned; NFC), either case.
VIETNAMESE_LETTER = re.compile("[ăâđêôơưĂÂĐÊÔƠƯĩũĨŨ\u1ea0-\u1ef9àáãèéìíòóõùúýÀÁÃÈÉÌÍÒÓÕÙÚÝ]")

LegacyEncoding = Literal["tcvn3", "vni", "viqr"]
LEGACY_ENCODINGS: tuple[LegacyEncoding, ...] = ("tcvn3", "vni", "viqr")

# --------------------------------------------------------------------------------------------
# Letters: base (with shape mark) x tone
# --------------------------------------------------------------------------------------------

TONE_NONE, TONE_GRAVE, TONE_ACUTE, TONE_HOOK, TONE_TILDE, TONE_DOT = range(6)
#: combining mark of each tone (huyền, sắc, hỏi, ngã, nặng), index = tone number
_TONE_COMBINING = ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")
_BASE_VOWELS = "aăâeêioôơuưy"
_SHAPED_VOWELS = "ăâêôơư"
VOWELS_LOWER = frozenset(_BASE_VOWELS)

_COMPOSE: dict[tuple[str, int], str] = {}
_DECOMPOSE: dict[str, tuple[str, int]] = {}
for _base in _BASE_VOWELS + _BASE_VOWELS.upper():
    for _tone, _mark in enumerate(_TONE_COMBINING):
        _ch = unicodedata.normalize("NFC", _base + _mark)
        _COMPOSE[(_base, _tone)] = _ch
        _DECOMPOSE[_ch] = (_base, _tone)

#: every lowercase or uppercase Vietnamese vowel letter, toned or not
ALL_VOWEL_CHARS = frozenset(_DECOMPOSE)
#: vowel letters that carry a tone mark
TONED_VOWEL_CHARS = frozenset(c for c, (_, t) in _DECOMPOSE.items() if t)


def compose(base: str, tone: int) -> str:
    """The precomposed letter for a (possibly shaped) base vowel and a tone number."""
    return _COMPOSE.get((base, tone), base)


def decompose_char(ch: str) -> tuple[str, int]:
    """Split a letter into (base letter with its shape mark, tone number); consonants get 0."""
    return _DECOMPOSE.get(ch, (ch, TONE_NONE))


_STRIP_TABLE = {ord(c): (b.translate({ord("ă"): "a", ord("â"): "a", ord("ê"): "e", ord("ô"): "o",
                                       ord("ơ"): "o", ord("ư"): "u", ord("Ă"): "A", ord("Â"): "A",
                                       ord("Ê"): "E", ord("Ô"): "O", ord("Ơ"): "O", ord("Ư"): "U"}))
                for c, (b, _) in _DECOMPOSE.items()}
_STRIP_TABLE.update({ord("đ"): "d", ord("Đ"): "D"})


def strip_diacritics(text: str) -> str:
    """Vietnamese text without tone or shape marks (and đ -> d), e.g. "Việt" -> "Viet"."""
    return text.translate(_STRIP_TABLE)


# --------------------------------------------------------------------------------------------
# Syllable model
# --------------------------------------------------------------------------------------------

ONSETS = frozenset({"", "b", "c", "ch", "d", "đ", "g", "gh", "gi", "h", "k", "kh", "l", "m", "n",
                     "ng", "ngh", "nh", "p", "ph", "qu", "r", "s", "t", "th", "tr", "v", "x"})

# Rhymes (vần) without tone, with the medial vowel; written from the standard rhyme inventory.
RHYMES = frozenset("""
a ai ao au ay am an ang anh ap at ac ach
ăm ăn ăng ăp ăt ăc
âu ây âm ân âng âp ât âc
e eo em en eng ep et ec
ê êu êm ên ênh êp êt êch
i ia iu im in inh ip it ich
iêu iêm iên iêng iêp iêt iêc
y yêu yêm yên yêng yêt
o oi om on ong op ot oc oong ooc
ô ôi ôm ôn ông ôp ôt ôc
ơ ơi ơm ơn ơp ơt
u ua ui um un ung up ut uc
uôi uôm uôn uông uôt uôc
ư ưa ưi ưu ưm ưn ưng ưt ưc
ươi ươu ươm ươn ương ươp ươt ươc
oa oai oao oay oam oan oang oanh oap oat oac oach
oăm oăn oăng oăt oăc
oe oeo oem oen oeng oet
uân uâng uât uây
uê uên uênh uêt uêch
uy uya uyu uynh uyt uych uyp uyên uyêt
uơ
""".split())

_STOP_CODAS = ("c", "ch", "p", "t")
_FRONT = frozenset("eêiy")


@dataclass(frozen=True, slots=True)
class Syllable:
    """A parsed syllable: lowercase onset and rhyme (with shape marks) and the tone number."""

    onset: str
    rhyme: str
    tone: int


def _bases_and_tone(word: str) -> tuple[str, int] | None:
    """Lowercase toneless spelling and the tone of a word; None if it has two tone marks."""
    bases = []
    tone = TONE_NONE
    for ch in word.lower():
        base, t = _DECOMPOSE.get(ch, (ch, TONE_NONE))
        if t:
            if tone:
                return None
            tone = t
        bases.append(base)
    return "".join(bases), tone


def _first_vowel(s: str) -> int:
    for i, ch in enumerate(s):
        if ch in VOWELS_LOWER:
            return i
    return -1


def split_syllable(word: str) -> Syllable | None:
    """Parse one syllable into onset, rhyme and tone, or None if it is not Vietnamese.

    ``qu`` and ``gi`` count as onsets when a vowel follows (``quả`` = qu+a, ``già`` = gi+a);
    ``gì``/``gìn`` have the vowel ``i`` after the onset ``g``. Spelling rules are enforced
    (k/gh/ngh only before e ê i y; c/g/ng never before them; stop codas only with sắc or
    nặng), which is what makes the legacy-encoding detector hard to fool.
    """
    parsed = _bases_and_tone(word)
    if parsed is None:
        return None
    s, tone = parsed
    i = _first_vowel(s)
    if i < 0:
        return None
    prefix, rest = s[:i], s[i:]
    if prefix == "q":
        if not rest.startswith("u") or len(rest) < 2:
            return None
        rhyme = rest[1:]
        if rhyme[0] in "uưo" or (rhyme not in RHYMES and "u" + rhyme not in RHYMES):
            return None
        onset = "qu"
    elif prefix == "g" and rest.startswith("i") and len(rest) > 1 and rest[1] in VOWELS_LOWER:
        rhyme = rest[1:]
        if rhyme[0] == "i" or (rhyme not in RHYMES and "i" + rhyme not in RHYMES):
            return None
        onset = "gi"
    else:
        onset, rhyme = prefix, rest
        if onset not in ONSETS or rhyme not in RHYMES:
            return None
        head = rhyme[0]
        if onset in ("k", "gh", "ngh") and head not in _FRONT:
            return None
        if onset in ("c", "ng") and head in _FRONT:
            return None
        if onset == "g" and head in _FRONT and not rhyme.startswith("i"):
            return None
        if onset == "" and rhyme.startswith("iê"):
            return None
        if onset and rhyme.startswith("yê"):
            return None
    if rhyme.endswith(_STOP_CODAS) and tone not in (TONE_ACUTE, TONE_DOT):
        return None
    return Syllable(onset, rhyme, tone)


def is_valid_syllable(word: str) -> bool:
    """True if ``word`` (any case, NFC) is a well-formed Vietnamese syllable."""
    return split_syllable(word) is not None


def main_vowel_index(rhyme: str, style: Literal["new", "old"] = "new") -> int:
    """Index, within ``rhyme``, of the vowel that carries the tone mark.

    1. One vowel: that vowel.
    2. A vowel with a shape mark (ă â ê ô ơ ư) takes it; in ``ươ`` the ``ơ``.
    3. A consonant coda follows: the last vowel (``hoàng``, ``huỳnh``, ``toán``).
    4. Three vowels, open: the middle one (``ngoài``, ``khuỷu``, ``ngoèo``).
    5. Two vowels, open: ``oa``, ``oe``, ``uy`` take it on the second vowel in the "new"
       style (``hoà``, ``khoẻ``, ``thuỷ``) and on the first in the "old" style (``hòa``,
       ``khỏe``, ``thủy``); every other pair on the first (``mái``, ``mía``, ``múa``).
    """
    n = 0
    while n < len(rhyme) and rhyme[n] in VOWELS_LOWER:
        n += 1
    vowels = rhyme[:n]
    if n <= 1:
        return 0
    if "ươ" in vowels:
        return vowels.index("ơ")
    for i, ch in enumerate(vowels):
        if ch in _SHAPED_VOWELS:
            return i
    if n < len(rhyme):
        return n - 1
    if n == 3:
        return 1
    if vowels in ("oa", "oe", "uy"):
        return 1 if style == "new" else 0
    return 0


# --------------------------------------------------------------------------------------------
# TCVN3 (TCVN 5712:1993, VN3)
# --------------------------------------------------------------------------------------------

# byte -> letter, from the VN3 code chart (A1..FE). Bytes 0x00-0x7F are ASCII.
_TCVN3_CHART = {
    0xA1: "Ă", 0xA2: "Â", 0xA3: "Ê", 0xA4: "Ô", 0xA5: "Ơ", 0xA6: "Ư", 0xA7: "Đ",
    0xA8: "ă", 0xA9: "â", 0xAA: "ê", 0xAB: "ô", 0xAC: "ơ", 0xAD: "ư", 0xAE: "đ",
    0xB5: "à", 0xB6: "ả", 0xB7: "ã", 0xB8: "á", 0xB9: "ạ",
    0xBB: "ằ", 0xBC: "ẳ", 0xBD: "ẵ", 0xBE: "ắ", 0xC6: "ặ",
    0xC7: "ầ", 0xC8: "ẩ", 0xC9: "ẫ", 0xCA: "ấ", 0xCB: "ậ",
    0xCC: "è", 0xCE: "ẻ", 0xCF: "ẽ", 0xD0: "é", 0xD1: "ẹ",
    0xD2: "ề", 0xD3: "ể", 0xD4: "ễ", 0xD5: "ế", 0xD6: "ệ",
    0xD7: "ì", 0xD8: "ỉ", 0xDC: "ĩ", 0xDD: "í", 0xDE: "ị",
    0xDF: "ò", 0xE1: "ỏ", 0xE2: "õ", 0xE3: "ó", 0xE4: "ọ",
    0xE5: "ồ", 0xE6: "ổ", 0xE7: "ỗ", 0xE8: "ố", 0xE9: "ộ",
    0xEA: "ờ", 0xEB: "ở", 0xEC: "ỡ", 0xED: "ớ", 0xEE: "ợ",
    0xEF: "ù", 0xF1: "ủ", 0xF2: "ũ", 0xF3: "ú", 0xF4: "ụ",
    0xF5: "ừ", 0xF6: "ử", 0xF7: "ữ", 0xF8: "ứ", 0xF9: "ự",
    0xFA: "ỳ", 0xFB: "ỷ", 0xFC: "ỹ", 0xFD: "ý", 0xFE: "ỵ",
}
#: str.translate table: the Latin-1 character of each TCVN3 byte -> the Unicode letter
_TCVN3_DECODE = {code: letter for code, letter in _TCVN3_CHART.items()}
_TCVN3_ENCODE = {letter: chr(code) for code, letter in _TCVN3_CHART.items()}
_TCVN3_UPPER_CODES = frozenset(chr(c) for c in range(0xA1, 0xA8))
_TCVN3_KEYS = frozenset(chr(c) for c in _TCVN3_CHART)
# Latin-1 letters that are also ordinary Unicode Vietnamese letters: a token made only of these
# is no evidence either way ("có" is Unicode "có" or TCVN3 "cú").
_VI_LATIN1_LETTERS = frozenset("àáâãèéêìíòóôõùúýÀÁÂÃÈÉÊÌÍÒÓÔÕÙÚÝ")
# TCVN3 codes that are not ordinary Vietnamese letters: the evidence, and a cheap pre-check.
_TCVN3_STRONG = _TCVN3_KEYS - _VI_LATIN1_LETTERS
_TCVN3_GATE = re.compile("[" + "".join(sorted(re.escape(c) for c in _TCVN3_STRONG)) + "]")
_TOKEN = re.compile(r"\S+")


def tcvn3_to_unicode(text: str) -> str:
    """Convert TCVN3 text that was decoded as Latin-1/cp1252 into Unicode (NFC).

    Tokens whose other letters are all capitals (a heading typed in a ``.VnTimeH`` font) are
    upper-cased, since TCVN3 has no codes for capital toned letters.
    """
    out = text.translate(_TCVN3_DECODE)
    if not any(c.isupper() for c in text):
        return out
    pieces = []
    last = 0
    for m in _TOKEN.finditer(text):
        tok = m.group()
        upper = sum(1 for c in tok if (c.isascii() and c.isupper()) or c in _TCVN3_UPPER_CODES)
        lower = sum(1 for c in tok if c.isascii() and c.islower())
        if upper >= 2 and lower == 0 and any(c in _TCVN3_KEYS for c in tok):
            pieces.append(out[last:m.start()])
            pieces.append(out[m.start():m.end()].upper())
            last = m.end()
    pieces.append(out[last:])
    return "".join(pieces)


def unicode_to_tcvn3(text: str) -> str:
    """Encode Unicode Vietnamese as TCVN3 characters (Latin-1 code points); lossy for capital
    toned letters, which become the lowercase code as in a real ``.VnTime`` document.
    ``.encode("latin-1")`` on the result gives the bytes of a TCVN3 file."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        code = _TCVN3_ENCODE.get(ch)
        if code is None and ch.isupper():
            code = _TCVN3_ENCODE.get(ch.lower())
        out.append(code if code is not None else ch)
    return "".join(out)


# --------------------------------------------------------------------------------------------
# VNI Windows
# --------------------------------------------------------------------------------------------

# diacritic byte (as its cp1252 character) -> (shape, tone); shape: "" | "^" | "("
_VNI_MODIFIERS: dict[str, tuple[str, int]] = {}
for _lo, _shape, _tone in (
        ("ù", "", TONE_ACUTE), ("ø", "", TONE_GRAVE), ("û", "", TONE_HOOK), ("õ", "", TONE_TILDE),
        ("ï", "", TONE_DOT),
        ("â", "^", TONE_NONE), ("á", "^", TONE_ACUTE), ("à", "^", TONE_GRAVE),
        ("å", "^", TONE_HOOK), ("ã", "^", TONE_TILDE), ("ä", "^", TONE_DOT),
        ("ê", "(", TONE_NONE), ("é", "(", TONE_ACUTE), ("è", "(", TONE_GRAVE),
        ("ú", "(", TONE_HOOK), ("ü", "(", TONE_TILDE), ("ë", "(", TONE_DOT)):
    _VNI_MODIFIERS[_lo] = (_shape, _tone)
    _VNI_MODIFIERS[_lo.upper()] = (_shape, _tone)

# single-code letters
_VNI_SINGLE = {"ñ": "đ", "Ñ": "Đ", "ô": "ơ", "Ô": "Ơ", "ö": "ư", "Ö": "Ư",
               "æ": "ỉ", "Æ": "Ỉ", "ó": "ĩ", "Ó": "Ĩ", "ò": "ị", "Ò": "Ị", "î": "ỵ", "Î": "Ỵ"}
# base code -> Unicode base letter that modifiers attach to
_VNI_BASES = {c: c for c in "aeiouyAEIOUY"} | {"ô": "ơ", "Ô": "Ơ", "ö": "ư", "Ö": "Ư"}
_SHAPE_OF = {("a", "^"): "â", ("e", "^"): "ê", ("o", "^"): "ô", ("a", "("): "ă",
             ("o", "+"): "ơ", ("u", "+"): "ư"}
_VNI_PATTERN = re.compile(
    "([" + "".join(_VNI_BASES) + "])([" + "".join(_VNI_MODIFIERS) + "])|([" + "".join(_VNI_SINGLE) + "])")
_VNI_GATE = re.compile("[øùûõïåäëüØÙÛÕÏÅÄËÜ](?<=[aeouyôöAEOUYÔÖ].)")
_VNI_STRONG = (frozenset(_VNI_MODIFIERS) | frozenset(_VNI_SINGLE)) - _VI_LATIN1_LETTERS


def _shaped(base: str, shape: str) -> str | None:
    """Apply a shape mark to a base vowel, keeping its case; None if the pair is not valid."""
    if not shape:
        return base
    low = _SHAPE_OF.get((base.lower(), shape))
    if low is None:
        return None
    return low.upper() if base.isupper() else low


def _vni_sub(m: re.Match[str]) -> str:
    if m.group(3):
        return _VNI_SINGLE[m.group(3)]
    base, mod = _VNI_BASES[m.group(1)], m.group(2)
    shape, tone = _VNI_MODIFIERS[mod]
    shaped = _shaped(base, shape)
    if shaped is None or (base.lower() == "i" and tone == TONE_NONE):
        return _VNI_SINGLE.get(m.group(1), m.group(1)) + mod
    return compose(shaped, tone)


def vni_to_unicode(text: str) -> str:
    """Convert VNI Windows text that was decoded as cp1252/Latin-1 into Unicode (NFC)."""
    return _VNI_PATTERN.sub(_vni_sub, text)


_VNI_ENCODE_MOD = {v: k for k, v in _VNI_MODIFIERS.items() if k.islower()}
_VNI_ENCODE_SINGLE = {v: k for k, v in _VNI_SINGLE.items()}
_UNSHAPE = {"ă": ("a", "("), "â": ("a", "^"), "ê": ("e", "^"), "ô": ("o", "^"),
            "ơ": ("o", "+"), "ư": ("u", "+")}


def unicode_to_vni(text: str) -> str:
    """Encode Unicode Vietnamese as VNI Windows characters (for tests and round trips)."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        if ch in _VNI_ENCODE_SINGLE:
            out.append(_VNI_ENCODE_SINGLE[ch])
            continue
        base, tone = decompose_char(ch)
        if ch == base and base.lower() not in _UNSHAPE:
            out.append(ch)
            continue
        upper = base.isupper()
        plain, shape = _UNSHAPE.get(base.lower(), (base.lower(), ""))
        if shape == "+":  # ơ / ư are single codes that take tone modifiers
            head, shape = ("ô" if plain == "o" else "ö"), ""
        elif plain == "i" and tone:  # i with a tone is a single code (ì í are identical)
            single = {TONE_GRAVE: "ì", TONE_ACUTE: "í", TONE_HOOK: "æ", TONE_TILDE: "ó",
                      TONE_DOT: "ò"}[tone]
            out.append(single.upper() if upper else single)
            continue
        elif plain == "y" and tone == TONE_DOT:
            out.append("Î" if upper else "î")
            continue
        else:
            head = plain
        mod = _VNI_ENCODE_MOD.get((shape, tone), "") if (shape or tone) else ""
        piece = head + mod
        out.append(piece.upper() if upper else piece)
    return "".join(out)


# --------------------------------------------------------------------------------------------
# VIQR (RFC 1456)
# --------------------------------------------------------------------------------------------

_VIQR_SHAPES = {"(": "(", "^": "^", "+": "+"}
_VIQR_TONES = {"'": TONE_ACUTE, "`": TONE_GRAVE, "?": TONE_HOOK, "~": TONE_TILDE, ".": TONE_DOT}
_VIQR_MARKS = frozenset("(^+'`?~.")
_AMBIGUOUS_TONES = frozenset(".?'")  # also sentence punctuation / apostrophe
# any real VIQR paragraph has these; the rare mark first, then look behind for the vowel
_VIQR_GATE = re.compile(r"[\^(+`~](?<=[aeiouyAEIOUY].)")
# a strong mnemonic, or a tone mark inside a word ("cu?a"); a final "." or "?" is no evidence
_VIQR_CANDIDATE = re.compile(
    r"[aeiouyAEIOUY](?:[\^(+`~]|['?.](?=[A-Za-z]))|(?<![A-Za-z])[dD][dD][aeiouyAEIOUY]")


def _viqr_token(tok: str, final: bool) -> str:
    """Convert one whitespace-delimited VIQR token.

    ``final`` says the token ends a sentence or line; a trailing ``.``, ``?`` or ``'`` there
    is read as punctuation, elsewhere (and inside a word) as a tone mark, unless the syllable
    already has a tone. ``\\`` escapes the next mnemonic.
    """
    out: list[str] = []
    i, n = 0, len(tok)
    toned = False
    while i < n:
        ch = tok[i]
        if ch == "\\" and i + 1 < n and tok[i + 1] in _VIQR_MARKS | {"\\", "d", "D"}:
            out.append(tok[i + 1])
            i += 2
            continue
        if not ch.isalpha():
            toned = False
            out.append(ch)
            i += 1
            continue
        if ch in "dD" and tok[i + 1:i + 2] in ("d", "D") and (i == 0 or not tok[i - 1].isalpha()):
            out.append("Đ" if ch == "D" else "đ")
            i += 2
            continue
        if ch.lower() not in "aeiouy":
            out.append(ch)
            i += 1
            continue
        base = ch
        j = i + 1
        if j < n and tok[j] in _VIQR_SHAPES:
            shaped = _shaped(ch, _VIQR_SHAPES[tok[j]])
            if shaped is not None:
                base, j = shaped, j + 1
        tone = TONE_NONE
        if j < n and tok[j] in _VIQR_TONES and not toned:
            mark = tok[j]
            # a mark followed by more punctuation ("khoe?.") is a tone; a bare final one is
            # ambiguous and read as punctuation at the end of a sentence or line
            at_end = j + 1 == n
            if not (mark in _AMBIGUOUS_TONES and at_end and final):
                tone, j = _VIQR_TONES[mark], j + 1
                toned = True
        out.append(compose(base, tone))
        i = j
    return "".join(out)


def _ends_sentence(token: str, next_token: str) -> bool:
    """A capital after a lowercase ``token`` suggests a sentence end; after a capitalised one
    (a name such as "A^'n DDo^. Du+o+ng", or text in capitals) it does not."""
    if not next_token or not next_token[0].isupper():
        return False
    return not token[:1].isupper()


def viqr_to_unicode(text: str) -> str:
    """Convert VIQR (RFC 1456) text into Unicode (NFC).

    Ambiguity: a ``.``/``?``/``'`` after a final vowel is a tone mark unless the word ends a
    line or the text, or the next word starts with a capital (then it is punctuation), as RFC
    1456 leaves writers to escape it. Trailing marks after a consonant are always literal.
    """
    matches = list(_TOKEN.finditer(text))
    pieces = []
    last = 0
    for k, m in enumerate(matches):
        nxt = matches[k + 1] if k + 1 < len(matches) else None
        final = nxt is None or "\n" in text[m.end():nxt.start()] or _ends_sentence(m.group(), nxt.group())
        pieces.append(text[last:m.start()])
        pieces.append(_viqr_token(m.group(), final))
        last = m.end()
    pieces.append(text[last:])
    return "".join(pieces)


_VIQR_ENCODE_TONE = {v: k for k, v in _VIQR_TONES.items()}


def unicode_to_viqr(text: str) -> str:
    """Encode Unicode Vietnamese as VIQR (for tests and round trips)."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        if ch in "đĐ":
            out.append("dd" if ch == "đ" else "DD")
            continue
        base, tone = decompose_char(ch)
        if ch == base and base.lower() not in _UNSHAPE:
            out.append(ch)
            continue
        plain, shape = _UNSHAPE.get(base.lower(), (base.lower(), ""))
        piece = (plain.upper() if base.isupper() else plain) + shape + _VIQR_ENCODE_TONE.get(tone, "")
        out.append(piece)
    return "".join(out)


# --------------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------------

# Vietnamese letters outside Latin-1: they never occur in legacy text read as Latin-1/cp1252.
_VN_NON_LATIN1 = re.compile("[ăđơưĂĐƠƯĩũĨŨ\u1ea0-\u1ef9\u0300-\u0323]")
_EDGE_NONLETTERS = re.compile(r"^[\W\d_]+|[\W\d_]+$")
_MAX_TOKENS = 3000          # detection looks at the first tokens only (bounded cost)
_MIN_CANDIDATES = 3
_MIN_VALID_RATIO = 0.8
_MIN_CANDIDATE_SHARE = 0.2  # of word tokens


@dataclass(frozen=True)
class LegacyScore:
    """Evidence that a text is in one legacy encoding.

    ``candidates``: tokens that contain the encoding's characteristic characters;
    ``valid``: those that convert into well-formed Vietnamese syllables; ``words``: tokens
    with a letter. ``ratio`` = valid / candidates.
    """

    encoding: str
    candidates: int
    valid: int
    words: int

    @property
    def ratio(self) -> float:
        return self.valid / self.candidates if self.candidates else 0.0

    @property
    def fires(self) -> bool:
        """The decision rule (see :func:`detect_legacy_encoding`)."""
        if self.candidates < _MIN_CANDIDATES:
            # a very short text (a title) may still be all-valid
            return self.candidates >= 2 and self.valid == self.candidates and self.words <= 5
        return (self.ratio >= _MIN_VALID_RATIO
                and self.candidates >= _MIN_CANDIDATE_SHARE * self.words)


def _converted_is_vietnamese(converted: str) -> bool:
    core = _EDGE_NONLETTERS.sub("", converted)
    if not core:
        return False
    return all(part and is_valid_syllable(part) for part in core.split("-"))


def _is_candidate(tok: str, encoding: str) -> bool:
    if encoding == "tcvn3":
        return any(c in _TCVN3_STRONG for c in tok)
    if encoding == "vni":
        return any(c in _VNI_STRONG for c in tok)
    return _VIQR_CANDIDATE.search(tok) is not None


def score_legacy_encoding(text: str, encoding: LegacyEncoding) -> LegacyScore:
    """Count candidate tokens and how many of them convert into valid Vietnamese syllables."""
    tokens = text.split(None, _MAX_TOKENS)[:_MAX_TOKENS]
    words = candidates = valid = 0
    for k, tok in enumerate(tokens):
        if not any(c.isalpha() for c in tok):
            continue
        words += 1
        if not _is_candidate(tok, encoding):
            continue
        candidates += 1
        if encoding == "tcvn3":
            conv = tok.translate(_TCVN3_DECODE)
        elif encoding == "vni":
            conv = vni_to_unicode(tok)
        else:
            nxt = tokens[k + 1] if k + 1 < len(tokens) else ""
            conv = _viqr_token(tok, final=not nxt or _ends_sentence(tok, nxt))
        if conv != tok and _converted_is_vietnamese(conv):
            valid += 1
    return LegacyScore(encoding, candidates, valid, words)


def _gated_encodings(text: str) -> list[LegacyEncoding]:
    """Encodings whose characteristic characters appear at all (cheap regex pre-checks)."""
    found: list[LegacyEncoding] = []
    if _TCVN3_GATE.search(text):
        found.append("tcvn3")
    if _VNI_GATE.search(text):
        found.append("vni")
    if _VIQR_GATE.search(text):
        found.append("viqr")
    return found


def detect_legacy_encoding(text: str) -> LegacyEncoding | None:
    """Which legacy encoding ``text`` (already decoded as Latin-1/cp1252 or ASCII) is in.

    Conservative by construction:

    1. Pre-check: characteristic characters must appear (TCVN3 codes that are not ordinary
       Vietnamese letters; a vowel followed by a VNI tone byte; a VIQR mnemonic after a vowel).
       Only tokens with such *unambiguous* evidence are candidates: a token made of letters
       that Unicode Vietnamese also uses ("có", "hoà") counts neither way.
    2. Texts that already contain Vietnamese letters outside Latin-1 (ơ ư đ ạ ế ...) are real
       Unicode Vietnamese and are left alone (for TCVN3 and VNI, which decode to Latin-1).
    3. Score: at least 3 candidate tokens (2 in a text of at most 5 words), at least 80 % of
       them convert into valid Vietnamese syllables, and they make up at least 20 % of the
       words. French, German and English words with accents fail step 3 because their
       conversions break the onset/rhyme/tone rules.

    Returns the encoding with the best ratio, or None.
    """
    gated = _gated_encodings(text)
    if not gated:
        return None
    best: LegacyScore | None = None
    for encoding in gated:
        score = score_legacy_encoding(text, encoding)
        if not score.fires:
            continue
        if encoding != "viqr":
            non_latin1 = len(_VN_NON_LATIN1.findall(text, 0, 20000))
            if non_latin1 > max(2, score.candidates // 10):
                continue
        if best is None or score.ratio > best.ratio:
            best = score
    return best.encoding if best else None  # type: ignore[return-value]


def convert_legacy(text: str, encoding: LegacyEncoding) -> str:
    """Convert text in the named legacy encoding into Unicode (NFC)."""
    if encoding == "tcvn3":
        return tcvn3_to_unicode(text)
    if encoding == "vni":
        return vni_to_unicode(text)
    if encoding == "viqr":
        return viqr_to_unicode(text)
    raise ValueError(f"unknown legacy encoding {encoding!r}; expected one of {LEGACY_ENCODINGS}")
