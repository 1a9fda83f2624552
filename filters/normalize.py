"""Text decoding and normalization for Vietnamese: one canonical form before any signal.

Why: exact dedup hashes, MinHash shingles, language ID and quality signals all see the text
this module returns, so the same sentence must come out byte-identical whatever editor,
encoding or keyboard produced it.

Steps of :func:`normalize_text`, each only when a cheap pre-check says it may apply, so a
clean 2 KB Vietnamese document costs about 0.1 ms on one core (a few regex scans); a legacy
encoded one about 2 ms, a mojibake one about 0.4 ms (ftfy):

1. **mojibake** - UTF-8 read as cp1252/Latin-1 ("Viá»‡t") repaired with ``ftfy.fix_encoding``,
   kept only if it lowers the count of mojibake signatures and adds no U+FFFD.
2. **tcvn3 / vni / viqr** - legacy encodings that arrive already decoded
   (:func:`filters.legacy_encodings.detect_legacy_encoding`, conservative by design).
3. **control_chars** - C0/C1 controls (except ``\\n`` and ``\\t``), zero-width characters, soft
   hyphens, bidi controls removed; a ZWJ is kept only between non-letters (emoji sequences).
4. **nfc** - Unicode NFC (decomposed input, cp1258-style combining tone marks).
   **lookalike_chars** - Icelandic ð/Ð typed for đ/Đ, in words that then are Vietnamese.
5. **tone_marks** - one tone-mark placement style everywhere (below).
6. **whitespace** - CR/CRLF to LF, NBSP and other space characters to a space, runs of spaces
   collapsed, spaces at line ends removed, three or more newlines (two or more blank lines)
   collapsed to one blank line, text stripped.

Tone-mark placement
-------------------
Default ``tone_style="new"`` (*kiểu mới*): the tone mark goes on the main vowel, the rule
taught in Vietnamese schools by the Ministry of Education's orthography rules and used in
its textbooks. The "old" style (*kiểu cũ*, common in older web text and the default of many
keyboards) differs only for the open rhymes ``oa``, ``oe``, ``uy``. Both are correct
Vietnamese; what matters for dedup and training data is that one style is used everywhere,
and "new" is the only one that follows a single rule (the main vowel) without an exception
list. The exact rule (:func:`filters.legacy_encodings.main_vowel_index`):

* a single vowel carries the mark: ``má``, ``gì``, ``quý`` (``qu`` and ``gi`` before another
  vowel are onsets: ``quả``, ``già``, ``giữa``; so ``qúa`` -> ``quá``, ``gìa`` -> ``già``);
* a vowel with a shape mark (ă â ê ô ơ ư) carries it, ``ơ`` in ``ươ``: ``tuần``, ``thuế``,
  ``người``, ``khuyến``, ``rượu``;
* with a consonant coda, the last vowel: ``hoàng``, ``toán``, ``huỳnh``, ``khoèn``;
* three vowels, open: the middle one: ``ngoài``, ``xoáy``, ``khuỷu``, ``ngoèo``;
* two vowels, open: the first (``mái``, ``mía``, ``múa``, ``túi``), except ``oa``, ``oe``,
  ``uy``:

  ===========  ==========  ==========
  rhyme        new (used)  old
  ===========  ==========  ==========
  oa           hoà, oà     hòa, òa
  oe           khoẻ, oè    khỏe, òe
  uy           thuỷ, uỳ    thủy, ùy
  ===========  ==========  ==========

Misplaced marks (``baì``, ``tòan``) are moved as well. Only words that parse as one
well-formed Vietnamese syllable are touched, so foreign words are never rewritten.
underthesea's ``text_normalize`` was not used: it rewrites to the *old* style, re-tokenizes and
re-joins text with spaces (changing punctuation spacing), and applies a spelling dictionary
(``nghành`` -> ``ngành``), which is more than a normalizer should silently do.
"""

from __future__ import annotations

import codecs
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from filters.legacy_encodings import (
    ALL_VOWEL_CHARS,
    TONED_VOWEL_CHARS,
    compose,
    convert_legacy,
    decompose_char,
    detect_legacy_encoding,
    is_valid_syllable,
    main_vowel_index,
    split_syllable,
)

__all__ = ["TextDecodeError", "NormalizeResult", "decode_bytes", "decode_cp1258",
           "decode_legacy_bytes", "detect_legacy_encoding", "normalize_text", "fix_tone_marks"]

log = logging.getLogger(__name__)

ToneStyle = Literal["new", "old"]
_UTF8_BOM = b"\xef\xbb\xbf"


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------

class TextDecodeError(ValueError):
    """Bytes that cannot be decoded as text; the pipeline quarantines the record.

    ``offset`` is the byte offset of the first invalid sequence (None if not applicable) and
    ``encoding`` the encoding that was tried.
    """

    def __init__(self, message: str, *, offset: int | None = None, encoding: str = "utf-8") -> None:
        super().__init__(message)
        self.offset = offset
        self.encoding = encoding


def _utf8_error(raw: bytes, err: UnicodeDecodeError, hint: str = "") -> TextDecodeError:
    bad = raw[err.start:err.start + 4].hex(" ")
    return TextDecodeError(
        f"input is not valid UTF-8: {err.reason} at byte offset {err.start} (bytes {bad}); "
        f"{hint or 'declare the source encoding (e.g. cp1258, windows-1252, tcvn3, vni) in the '}"
        f"{'' if hint else 'source config, or convert the file to UTF-8'}",
        offset=err.start, encoding="utf-8")


def _try_utf8(raw: bytes) -> tuple[str | None, UnicodeDecodeError | None]:
    """(text, None) if ``raw`` is valid UTF-8, else (None, the decode error)."""
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as err:
        return None, err


def decode_cp1258(raw: bytes) -> str:
    """Decode Windows-1258 bytes; its separate combining tone marks are composed to NFC.

    cp1258 writes most toned letters as a base letter plus a combining mark (e.g. ``e`` +
    U+0323), which NFC turns into the precomposed letter (``ẹ``) that the rest of the
    pipeline expects.
    """
    try:
        text = raw.decode("cp1258")
    except UnicodeDecodeError as err:
        raise TextDecodeError(
            f"input is not valid cp1258: byte 0x{raw[err.start]:02x} at offset {err.start} is "
            f"undefined in Windows-1258; check the declared encoding of this source",
            offset=err.start, encoding="cp1258") from err
    return unicodedata.normalize("NFC", text)


_LEGACY_ALIASES = {"tcvn3": "tcvn3", "tcvn": "tcvn3", "vn3": "tcvn3", "abc": "tcvn3",
                   "tcvn-5712": "tcvn3", "vni": "vni", "vni-windows": "vni"}
_CP1258_ALIASES = {"cp1258", "windows-1258", "1258"}


def decode_bytes(raw: bytes, declared: str | None = None) -> str:
    """Decode bytes: strict UTF-8 first (BOM stripped), then the declared encoding, if any.

    Invalid UTF-8 without a declared encoding raises :class:`TextDecodeError` with the byte
    offset of the first invalid sequence: such inputs are quarantined, never guessed (a
    silent cp1252 guess turns any binary or mis-declared file into plausible-looking junk).
    ``declared`` may be any Python codec name, ``cp1258`` (composed to NFC), or ``tcvn3`` /
    ``vni`` (decoded as Latin-1 and converted).
    """
    raw = raw.removeprefix(_UTF8_BOM)
    text, utf8_err = _try_utf8(raw)
    if text is not None:
        return text
    if not declared:
        raise _utf8_error(raw, utf8_err)
    name = declared.strip().lower().replace("_", "-")
    if name in _LEGACY_ALIASES:
        return convert_legacy(raw.decode("latin-1"), _LEGACY_ALIASES[name])  # type: ignore[arg-type]
    if name in _CP1258_ALIASES:
        return decode_cp1258(raw)
    try:
        codec = codecs.lookup(name).name
    except LookupError as err:
        raise TextDecodeError(
            f"declared encoding {declared!r} is unknown to Python's codecs and the input is not "
            f"valid UTF-8 (first bad byte at offset {utf8_err.start}); fix the source's "
            f"declared encoding", offset=utf8_err.start, encoding=declared) from err
    if codec in ("utf-8", "utf-8-sig"):
        raise _utf8_error(raw, utf8_err, hint="the source declares UTF-8 but the bytes are not; "
                                              "the file is corrupt or mis-declared")
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as err:
        raise TextDecodeError(
            f"input is neither valid UTF-8 nor valid {codec}: {err.reason} at byte offset "
            f"{err.start}; check the declared encoding of this source",
            offset=err.start, encoding=codec) from err


def _plausible_vietnamese(text: str, min_share: float = 0.8) -> bool:
    """Whether most words carrying non-ASCII letters are valid Vietnamese syllables."""
    words = [w for w in re.findall(r"\w+", text) if not w.isascii()]
    if len(words) < 3:
        return False
    valid = sum(1 for w in words if is_valid_syllable(w.lower()))
    return valid / len(words) >= min_share


def decode_legacy_bytes(raw: bytes) -> str:
    """Decode a file that may be in a legacy 8-bit Vietnamese encoding (TCVN3, VNI, CP1258).

    UTF-8 first; otherwise the bytes are read as Latin-1 and converted only if
    :func:`detect_legacy_encoding` recognises TCVN3 or VNI; otherwise as Windows-1258 if
    that yields Vietnamese syllables. Anything else raises :class:`TextDecodeError`
    (quarantine), with the offset of the first invalid UTF-8 byte.
    """
    raw = raw.removeprefix(_UTF8_BOM)
    text, utf8_err = _try_utf8(raw)
    if text is not None:
        return text
    text = raw.decode("latin-1")
    encoding = detect_legacy_encoding(text)
    if encoding in ("tcvn3", "vni"):
        log.debug("decoded %d bytes as %s", len(raw), encoding)
        return convert_legacy(text, encoding)
    try:
        cp1258 = decode_cp1258(raw)
    except TextDecodeError:
        cp1258 = ""
    if cp1258 and _plausible_vietnamese(cp1258):
        log.debug("decoded %d bytes as cp1258", len(raw))
        return cp1258
    raise _utf8_error(raw, utf8_err, hint="nor recognisable as TCVN3, VNI or CP1258 Vietnamese; "
                                          "declare the source encoding or convert the file to UTF-8")


# --------------------------------------------------------------------------------------------
# Tone-mark placement
# --------------------------------------------------------------------------------------------

_LETTER = r"[^\W\d_]"
_V = "".join(sorted(ALL_VOWEL_CHARS))
_T = "".join(sorted(TONED_VOWEL_CHARS))
# Words with a toned vowel next to another vowel: the only places a mark can be misplaced
# (qu and gi included, since u and i are vowels here). Used on the slow path only.
_TONE_CANDIDATE = re.compile(rf"(?<!{_LETTER}){_LETTER}*?(?:[{_T}][{_V}]|[{_V}][{_T}]){_LETTER}*")
_TONE_CACHE: dict[tuple[str, str], str] = {}
_TONE_CACHE_MAX = 200_000


def _tone_gates(style: ToneStyle) -> tuple[re.Pattern[str], ...]:
    """Fast regexes that together match every misplaced tone mark for ``style`` (and few
    correct spellings), so texts already in the right style skip the word-by-word pass.

    Each starts with a character class and has no alternation, which lets the regex engine
    scan quickly (one alternation of all of them is ~5x slower). They cover: a plain vowel
    toned next to a shaped one (``ìê``, ``ưí``); ``ừơ``; a toned plain vowel followed by a
    plain vowel and more letters (``tòan``, ``òai``); open pairs toned on the wrong vowel
    for the style (``hòa`` in new, ``hoà`` in old, ``baì``); ``gìa`` and ``qúa``.
    Completeness is checked exhaustively over all syllables in tests/test_normalize.py.
    """
    plain = "aeiouy"
    tv = {v: "".join(compose(v, t) + compose(v.upper(), t) for t in range(1, 6)) for v in plain}
    tp = "".join(tv.values())
    ts = "".join(sorted(c for c in TONED_VOWEL_CHARS if decompose_char(c)[0].lower() not in plain))
    shaped = "ăâêôơưĂÂÊÔƠƯ"
    second_ok = {"oa", "oe", "uy"} if style == "new" else set()
    end = f"(?!{_LETTER})"
    patterns = [f"[{tp}][{shaped}{ts}]", f"[{shaped}][{tp}]", "[ừứửữựỪỨỬỮỰ][ơƠ]",
                f"[{tp}][{plain}{plain.upper()}]{_LETTER}",
                f"[gG][{tv['i']}][{_V}]", f"[qQ][{tv['u']}][{_V}]"]
    for first in plain:
        cls = f"[{first}{first.upper()}]"
        # first + toned second is wrong where the mark belongs on the first vowel; after q
        # and g, u and i belong to the onset. Written toned-char first (then look behind):
        # toned letters are rarer than plain vowels, so the scan is faster.
        guard = {"u": "(?<![qQ][uU].)", "i": "(?<![gG][iI].)"}.get(first, "")
        seconds = "".join(tv[y] for y in plain if first + y not in second_ok)
        patterns.append(f"[{seconds}](?<={cls}.){guard}{end}")
        # toned first + second is wrong where the mark belongs on the second vowel
        ys = "".join(y for y in plain if first + y in second_ok)
        if ys:
            patterns.append(f"[{tv[first]}][{ys}{ys.upper()}]{end}")
    return tuple(re.compile(p) for p in patterns)


_TONE_GATES = {"new": _tone_gates("new"), "old": _tone_gates("old")}


def _needs_tone_pass(text: str, style: ToneStyle) -> bool:
    return any(p.search(text) for p in _TONE_GATES[style])


def _place_tone(word: str, style: ToneStyle) -> str:
    """The word with its tone mark on the vowel the style requires (unchanged if not a
    single well-formed Vietnamese syllable)."""
    syl = split_syllable(word)
    if syl is None or not syl.tone:
        return word
    target = len(syl.onset) + main_vowel_index(syl.rhyme, style)
    current = next((i for i, ch in enumerate(word) if ch in TONED_VOWEL_CHARS), -1)
    if current == target or current < 0 or target >= len(word):
        return word
    chars = list(word)
    base, tone = decompose_char(chars[current])
    chars[current] = base
    target_base, _ = decompose_char(chars[target])
    chars[target] = compose(target_base, tone)
    return "".join(chars)


def fix_tone_marks(text: str, style: ToneStyle = "new") -> str:
    """Move tone marks to the position ``style`` requires, word by word (NFC input)."""
    def repl(m: re.Match[str]) -> str:
        word = m.group()
        key = (word, style)
        fixed = _TONE_CACHE.get(key)
        if fixed is None:
            if len(_TONE_CACHE) >= _TONE_CACHE_MAX:
                _TONE_CACHE.clear()
            fixed = _TONE_CACHE[key] = _place_tone(word, style)
        return fixed

    if not _needs_tone_pass(text, style):
        return text
    return _TONE_CANDIDATE.sub(repl, text)


# --------------------------------------------------------------------------------------------
# Mojibake, control characters, whitespace
# --------------------------------------------------------------------------------------------

# A UTF-8 lead byte followed by a continuation byte, both seen through cp1252 or Latin-1.
_CP1252_HIGH = "\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014" \
               "\u2018-\u201a\u201c-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122"
_MOJIBAKE_GATE = re.compile(f"[\u00c2-\u00f4][\u0080-\u00bf{_CP1252_HIGH}]")

_NEWLINE_LIKE = re.compile("\r\n?|[\x0b\x0c\u2028\u2029\x85]")
_CONTROL_CHARS = ("\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u00ad\u200b\u200c\u200e\u200f"
                  "\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff")
_CONTROL_GATE = re.compile(f"[{_CONTROL_CHARS}]")
_REMOVABLE = re.compile(f"[{_CONTROL_CHARS}]|(?<={_LETTER})\u200d|\u200d(?={_LETTER})")
_SPACE_LIKE = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_WS_CHAR_GATE = re.compile("[\r\x0b\x0c\x85\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
_WS_SEQUENCES = ("  ", " \n", "\t\n", "\n ", "\n\t", "\n\n\n")
_MULTI_SPACE = re.compile(" {2,}")
_LINE_EDGES = re.compile(r"[ \t]*\n[ \t]*")
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class NormalizeResult:
    """Normalized text and the names of the fixes applied, in order (for the run report):
    ``mojibake``, ``tcvn3``, ``vni``, ``viqr``, ``control_chars``, ``nfc``,
    ``lookalike_chars``, ``tone_marks``, ``whitespace``."""

    text: str
    fixes: tuple[str, ...]


def _repair_mojibake(text: str) -> str | None:
    """ftfy's encoding repair, or None when it changes nothing plausible."""
    import ftfy  # imported lazily: only texts that show mojibake signatures pay for it

    fixed = ftfy.fix_encoding(text)
    if fixed == text or fixed.count("\ufffd") > text.count("\ufffd"):
        return None
    if len(_MOJIBAKE_GATE.findall(fixed)) >= len(_MOJIBAKE_GATE.findall(text)):
        return None
    return fixed


def _normalize_whitespace(text: str) -> str:
    text = _NEWLINE_LIKE.sub("\n", text)
    text = _SPACE_LIKE.sub(" ", text)
    text = _MULTI_SPACE.sub(" ", text)
    text = _LINE_EDGES.sub("\n", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


_ETH_WORD = re.compile(rf"{_LETTER}*[ðÐ]{_LETTER}*")


def _eth_to_d_bar(m: re.Match[str]) -> str:
    """Icelandic eth (ð, Ð), which looks like đ/Đ and was often typed for it, becomes đ/Đ in
    words that are then Vietnamese syllables ("Ðà Nẵng"); Icelandic words keep it."""
    word = m.group()
    candidate = word.replace("ð", "đ").replace("Ð", "Đ")
    return candidate if is_valid_syllable(candidate) else word


def _needs_whitespace_pass(text: str) -> bool:
    return (text[:1].isspace() or text[-1:].isspace() or any(s in text for s in _WS_SEQUENCES)
            or _WS_CHAR_GATE.search(text) is not None)


def normalize_text(text: str, *, tone_style: ToneStyle = "new") -> NormalizeResult:
    """Canonical form of a text: see the module docstring for the steps and the tone rule."""
    if tone_style not in ("new", "old"):
        raise ValueError(f"tone_style must be 'new' or 'old', got {tone_style!r}")
    fixes: list[str] = []
    if _MOJIBAKE_GATE.search(text):
        repaired = _repair_mojibake(text)
        if repaired is not None:
            text = repaired
            fixes.append("mojibake")
    encoding = detect_legacy_encoding(text)
    if encoding is not None:
        text = convert_legacy(text, encoding)
        fixes.append(encoding)
    if _CONTROL_GATE.search(text) or "\u200d" in text:
        cleaned = _REMOVABLE.sub("", text)
        if cleaned != text:
            text = cleaned
            fixes.append("control_chars")
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
        fixes.append("nfc")
    if "ð" in text or "Ð" in text:
        fixed = _ETH_WORD.sub(_eth_to_d_bar, text)
        if fixed != text:
            text = fixed
            fixes.append("lookalike_chars")
    placed = fix_tone_marks(text, tone_style)
    if placed != text:
        text = placed
        fixes.append("tone_marks")
    if _needs_whitespace_pass(text):
        cleaned = _normalize_whitespace(text)
        if cleaned != text:
            text = cleaned
            fixes.append("whitespace")
    return NormalizeResult(text, tuple(fixes))
