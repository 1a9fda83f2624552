"""Per-document quality signals for Vietnamese text, in one pass over a document tokenized once.

datatrove's ``GopherQualityFilter``, ``GopherRepetitionFilter``, ``C4QualityFilter`` and
``FineWebQualityFilter`` each tokenize the document again, stop at the first failing rule and
keep no values. Kho instead

1. tokenizes a document once (:func:`tokenize_document`),
2. computes every signal *value* of the four rule groups (:func:`compute_signals`), stored with
   the record so thresholds can change later without recomputing, and
3. lists *every* failing rule (:func:`failed_rules`), named ``"<group>:<datatrove reason>"``,
   e.g. ``"gopher_quality:gopher_short_doc"``.

A document is dropped by a group iff datatrove's filter with the same thresholds and the same
tokenizer instance drops it; ``tests/test_quality_parity.py`` proves this document by document.
:func:`datatrove_filters` builds those datatrove filters from a :class:`QualityThresholds`.

C4 line removal. ``C4QualityFilter`` also rewrites the text of documents it keeps (it drops
lines without terminal punctuation, with fewer than 3 words, mentioning javascript or cookie
policies...). Kho does not rewrite text here: the C4 signals count what the line rules would
remove (``c4_*_lines``) and the sentences left in the kept lines (``c4_sentences``), which is
exactly what datatrove's *drop decision* depends on. Rewriting is a separate concern (it would
change the text every other signal, the dedup hashes and PII offsets were computed on).

Default groups. Kho applies what FineWeb-2 applies to ``vie_Latn``: Gopher quality, Gopher
repetition and FineWeb quality. The C4 group is *off* by default (``enabled`` leaves it out),
as in FineWeb-2, which does not run ``C4QualityFilter``; its signals are still computed and
stored, so ``quality: {enabled: [gopher_quality, gopher_repetition, fineweb, c4]}`` (or
re-thresholding stored signals with :func:`failed_rules`) turns it back on. Measured on the
bundled sample and on ``bench.corpus`` (docs/architecture.md, "Quality defaults"): C4's
``too_few_sentences`` (fewer than 5 sentences) rejected ordinary 3-4 sentence Vietnamese news
and forum posts that every other rule keeps, and rejected no junk that the other groups keep.

Structural parameters (n-gram sizes, C4 line rules, FineWeb's short-line length and stop
characters, Gopher's stop-word list) decide what a signal *measures*, so they are fields of :class:`QualityThresholds`
passed to :func:`compute_signals`; changing them needs recomputation. All other fields are
pure thresholds and can be re-applied to stored signals with :func:`failed_rules`.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable
from itertools import accumulate
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pydantic
from datatrove.pipeline.filters.c4_filters import CITATION_REGEX, ELLIPSIS, END_PUNCTUATION, POLICY_SUBSTRINGS
from datatrove.pipeline.filters.gopher_repetition_filter import (
    find_duplicates,
)
from datatrove.utils.text import PUNCTUATION_SET, TERMINAL_PUNCTUATION

from filters.tokenizer import VietnameseWordTokenizer, get_vietnamese_stopwords

if TYPE_CHECKING:
    from datatrove.pipeline.filters.base_filter import BaseFilter

logger = logging.getLogger(__name__)

GROUPS: tuple[str, ...] = ("gopher_quality", "gopher_repetition", "c4", "fineweb")
#: The groups applied by default: FineWeb-2's for vie_Latn (no C4; see the module docstring).
DEFAULT_ENABLED: frozenset[str] = frozenset({"gopher_quality", "gopher_repetition", "fineweb"})
TOP_N_GRAM_SIZES: tuple[int, ...] = (2, 3, 4)
DUP_N_GRAM_SIZES: tuple[int, ...] = (5, 6, 7, 8, 9, 10)

#: FineWeb-2's stop words for vie_Latn (huggingface/fineweb-2, configs/vie_Latn.yml).
FINEWEB2_VIE_STOPWORDS: tuple[str, ...] = (
    "là", "và", "của", "một", "được", "trong", "năm", "các", "có", "loài", "này", "đã", "người",
)

_PARAGRAPH_SPLIT = re.compile(r"\n{2,}")
_LINE_SPLIT = re.compile("\n+")
_BULLETS = ("•", "-")
_ELLIPSES = ("...", "…")


class QualityThresholds(pydantic.BaseModel, extra="forbid"):
    """Every parameter of datatrove's four heuristic filters, under datatrove's own names.

    Provenance of the defaults. "FW2" = FineWeb-2's Vietnamese settings: the per-language file
    ``configs/vie_Latn.yml`` and the constants in ``fineweb-2-pipeline.py`` of
    github.com/huggingface/fineweb-2. "DT" = datatrove 0.10.1's constructor default (FineWeb-2
    kept it, or, for C4, did not run the filter at all).

    * enabled: gopher_quality, gopher_repetition, fineweb (FW2: FineWeb-2 did not apply C4).
      C4 is off by default; add ``"c4"`` to enable it. Its signals are computed either way.
    * Gopher quality: min_doc_words 50 (DT), max_doc_words 100000 (DT), min_avg_word_length 3
      (FW2), max_avg_word_length 11 (FW2), max_symbol_word_ratio 0.1 (DT),
      max_bullet_lines_ratio 0.9 (DT), max_ellipsis_lines_ratio 0.3 (DT),
      max_non_alpha_words_ratio 0.803 (FW2; despite the name, the *minimum* share of words
      with a letter), min_stop_words 2 (FW2), stop_words = FineWeb-2's 13 vie_Latn stop words
      (FW2); ``"underthesea"`` selects underthesea's shipped list instead.
    * Gopher repetition: dup_line_frac 0.293 (FW2); dup_para_frac, dup_para_char_frac,
      dup_line_char_frac disabled (FW2 sets them to 0: "trafilatura pretty much removes
      paragraphs"); top_n_grams {2: 0.223, 3: 0.197, 4: 0.171} (FW2); dup_n_grams
      {5: 0.178, 6: 0.163, 7: 0.15, 8: 0.136, 9: 0.124, 10: 0.111} (FW2).
    * C4 (off by default, see ``enabled``): every value DT (split_paragraph, remove_citations,
      filter_no_terminal_punct, min_num_sentences 5, min_words_per_line 3, max_word_length
      1000, lorem ipsum, javascript, curly bracket and policy filters on).
    * FineWeb: line_punct_thr 0.333 (FW2), line_punct_exclude_zero False (DT),
      stop_chars = datatrove's TERMINAL_PUNCTUATION (DT), short_line_thr 999 i.e. disabled
      (FW2), short_line_length 30 (DT), char_duplicates_ratio 0.1 (FW2; 0.01 in FineWeb
      English), new_line_ratio 0.103 (FW2).

    Caveat: FineWeb-2 computed its word-based statistics with datatrove's tokenizer for
    ``vie`` (spaCy ``vi``, pyvi word segmentation); Kho segments with underthesea's CRF. Both
    produce multi-syllable words, but word counts, average word length and n-gram fractions
    are not identical, so the FW2 thresholds are a calibrated starting point, not a replica.

    Disabling: as in datatrove, ``None`` or ``0`` disables a Gopher threshold, ``-1`` (or
    ``None``) disables C4's integer limits, and ``None`` disables a FineWeb threshold or an
    n-gram size. FineWeb-2's language-score threshold (0.802) belongs to language ID, not here.
    """

    enabled: set[str] = set(DEFAULT_ENABLED)

    # --- Gopher quality ---------------------------------------------------------------
    min_doc_words: int | None = 50
    max_doc_words: int | None = 100_000
    min_avg_word_length: float | None = 3
    max_avg_word_length: float | None = 11
    max_symbol_word_ratio: float | None = 0.1
    max_bullet_lines_ratio: float | None = 0.9
    max_ellipsis_lines_ratio: float | None = 0.3
    max_non_alpha_words_ratio: float | None = 0.803
    min_stop_words: int | None = 2
    stop_words: list[str] | Literal["underthesea"] = list(FINEWEB2_VIE_STOPWORDS)  # structural

    # --- Gopher repetition --------------------------------------------------------------
    dup_line_frac: float | None = 0.293
    dup_para_frac: float | None = None
    dup_line_char_frac: float | None = None
    dup_para_char_frac: float | None = None
    top_n_grams: dict[int, float | None] = {2: 0.223, 3: 0.197, 4: 0.171}
    dup_n_grams: dict[int, float | None] = {
        5: 0.178, 6: 0.163, 7: 0.15, 8: 0.136, 9: 0.124, 10: 0.111}

    # --- C4 quality ---------------------------------------------------------------------
    split_paragraph: Literal[True] = True  # structural; sentence mode is not supported
    remove_citations: bool = True  # structural
    filter_no_terminal_punct: bool = True  # structural
    min_num_sentences: int | None = 5
    min_words_per_line: int = 3  # structural
    max_word_length: int = 1000  # structural
    filter_lorem_ipsum: bool = True
    filter_javascript: bool = True  # structural
    filter_curly_bracket: bool = True
    filter_policy: bool = True  # structural

    # --- FineWeb quality ----------------------------------------------------------------
    line_punct_thr: float | None = 0.333
    line_punct_exclude_zero: bool = False
    stop_chars: tuple[str, ...] | None = None  # structural; None = datatrove's TERMINAL_PUNCTUATION
    short_line_thr: float | None = 999
    short_line_length: int = 30  # structural
    char_duplicates_ratio: float | None = 0.1
    new_line_ratio: float | None = 0.103

    @pydantic.field_validator("enabled")
    @classmethod
    def _known_groups(cls, value: set[str]) -> set[str]:
        unknown = value - set(GROUPS)
        if unknown:
            raise ValueError(f"unknown rule groups {sorted(unknown)}; known: {list(GROUPS)}")
        return value

    @pydantic.field_validator("top_n_grams", "dup_n_grams")
    @classmethod
    def _known_sizes(cls, value: dict[int, float | None], info: pydantic.ValidationInfo) -> dict[int, float | None]:
        sizes = TOP_N_GRAM_SIZES if info.field_name == "top_n_grams" else DUP_N_GRAM_SIZES
        unknown = set(value) - set(sizes)
        if unknown:
            raise ValueError(f"n-gram sizes {sorted(unknown)} have no signal; allowed: {list(sizes)}")
        return value

    def resolved_stop_words(self) -> frozenset[str]:
        """The stop-word set the Gopher stop-word rule counts."""
        if self.stop_words == "underthesea":
            return get_vietnamese_stopwords()
        return frozenset(self.stop_words)

    def resolved_stop_chars(self) -> tuple[str, ...]:
        """FineWeb's line-ending characters (datatrove's TERMINAL_PUNCTUATION by default)."""
        return tuple(TERMINAL_PUNCTUATION) if self.stop_chars is None else tuple(self.stop_chars)


_DEFAULT_THRESHOLDS = QualityThresholds()


@dataclass(frozen=True)
class TokenizedDoc:
    """A document tokenized once: everything the signals need that costs more than a split.

    Attributes:
        text: the document text, unchanged.
        words: Vietnamese words from the tokenizer (``tokenizer.word_tokenize(text)``).
        lines: ``text.splitlines()`` (the line notion of Gopher quality and C4).
        sentence_counts: C4 line text (stripped, citations removed) -> number of sentences
            the tokenizer's sentence splitter finds in it, counted the way datatrove's
            ``split_into_sentences`` counts (at least one). Precomputed for the lines that
            end like a sentence (the only ones C4's default rules keep); other lines are
            counted on demand by ``count_sentences`` and memoised here.
        count_sentences: the tokenizer's sentence counter, for lines not precomputed (only
            needed with non-default C4 line rules).
    """

    text: str
    words: list[str]
    lines: tuple[str, ...] = ()
    sentence_counts: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    count_sentences: Callable[[str], int] | None = field(default=None, repr=False, compare=False)

    def sentences_in(self, c4_line: str) -> int:
        """C4's sentence count of a kept line (``c4_line`` is that line as C4 sees it)."""
        n = self.sentence_counts.get(c4_line)
        if n is None:
            if self.count_sentences is None:
                raise ValueError("sentence count not precomputed and no sentence counter available")
            n = self.sentence_counts[c4_line] = self.count_sentences(c4_line)
        return n


def _c4_line(line: str, remove_citations: bool = True) -> str:
    """A line as C4 tests its ending: stripped, Wikipedia citation marks removed."""
    line = line.strip()
    return CITATION_REGEX.sub("", line) if remove_citations else line


def _ends_like_sentence(c4_line: str) -> bool:
    return c4_line.endswith(END_PUNCTUATION) and not c4_line.endswith(ELLIPSIS)


def _sentence_counter(tokenizer: Any) -> Callable[[str], int]:
    """How datatrove's ``split_into_sentences`` counts: at least one part per line."""
    return lambda line: max(1, len(tokenizer.span_tokenize(line)))


def tokenize_document(text: str, tokenizer: VietnameseWordTokenizer) -> TokenizedDoc:
    """Tokenize ``text`` once into words, lines and the sentence counts C4 needs."""
    count = _sentence_counter(tokenizer)
    lines = tuple(text.splitlines())
    counts: dict[str, int] = {}
    for line in lines:
        c4_line = _c4_line(line)
        if c4_line not in counts and _ends_like_sentence(c4_line):
            counts[c4_line] = count(c4_line)
    return TokenizedDoc(text=text, words=tokenizer.word_tokenize(text), lines=lines,
                        sentence_counts=counts, count_sentences=count)


# ----------------------------------------------------------------------------- signals

SIGNAL_DOCS: dict[str, str] = {
    # document basics
    "chars": "len(text), characters",
    "words": "Vietnamese words from the tokenizer, punctuation tokens included",
    "lines": "len(text.splitlines())",
    # Gopher quality
    "gopher_non_symbol_words": "words with at least one non-punctuation character",
    "gopher_avg_word_length": "mean length of non-symbol words (0 when there are none)",
    "gopher_hash_ratio": "'#' count / words",
    "gopher_ellipsis_ratio": "('...' + '…') count / words",
    "gopher_bullet_lines_ratio": "lines starting with • or - / lines",
    "gopher_ellipsis_lines_ratio": "lines ending with ... or … / lines",
    "gopher_alpha_words_ratio": "words containing a letter / words",
    "gopher_stop_words": "distinct stop words present",
    # Gopher repetition
    "rep_paragraphs": "paragraphs (split on 2+ newlines)",
    "rep_dup_para_frac": "duplicate paragraphs / paragraphs",
    "rep_dup_para_char_frac": "characters in duplicate paragraphs / chars",
    "rep_line_count": "lines (split on 1+ newlines)",
    "rep_dup_line_frac": "duplicate lines / lines",
    "rep_dup_line_char_frac": "characters in duplicate lines / chars",
    **{f"rep_top_{n}_gram_char_frac": f"characters covered by the most frequent word {n}-gram / chars"
       for n in TOP_N_GRAM_SIZES},
    **{f"rep_dup_{n}_gram_char_frac": f"characters in repeated word {n}-grams / chars" for n in DUP_N_GRAM_SIZES},
    # C4
    "c4_too_long_word_lines": "lines removed for a word longer than max_word_length",
    "c4_no_terminal_punct_lines": "lines removed for not ending in terminal punctuation",
    "c4_too_few_words_lines": "lines removed for fewer than min_words_per_line words",
    "c4_lorem_ipsum_lines": "otherwise-kept lines containing 'lorem ipsum' (drops the document)",
    "c4_javascript_lines": "lines removed for mentioning javascript",
    "c4_curly_bracket_lines": "otherwise-kept lines containing '{' (drops the document)",
    "c4_policy_lines": "lines removed for cookie / terms-of-use phrases",
    "c4_kept_lines": "lines C4 keeps",
    "c4_sentences": "sentences in the kept lines (the tokenizer's sentence splitter)",
    # FineWeb
    "fineweb_nonblank_lines": "non-blank lines of text.split('\\n')",
    "fineweb_line_punct_ratio": "non-blank lines ending in a stop character / non-blank lines",
    "fineweb_short_line_ratio": "non-blank lines of <= short_line_length chars / non-blank lines",
    "fineweb_char_dup_ratio": "characters in duplicate non-blank lines / chars excluding newlines",
    "fineweb_newlines": "newline characters",
    "fineweb_list_ratio": "newlines / words (newlines when there are no words)",
}

#: Every signal, in a fixed order: the pipeline declares one float64 struct field per name.
SIGNAL_NAMES: tuple[str, ...] = tuple(SIGNAL_DOCS)

#: signal -> (threshold field, "min " or "max "), for plots that draw a threshold line.
SIGNAL_THRESHOLDS: dict[str, tuple[str, str]] = {
    "gopher_non_symbol_words": ("min_doc_words", "min "),
    "gopher_avg_word_length": ("min_avg_word_length", "min "),
    "gopher_hash_ratio": ("max_symbol_word_ratio", "max "),
    "gopher_ellipsis_ratio": ("max_symbol_word_ratio", "max "),
    "gopher_bullet_lines_ratio": ("max_bullet_lines_ratio", "max "),
    "gopher_ellipsis_lines_ratio": ("max_ellipsis_lines_ratio", "max "),
    "gopher_alpha_words_ratio": ("max_non_alpha_words_ratio", "min "),
    "gopher_stop_words": ("min_stop_words", "min "),
    "rep_dup_para_frac": ("dup_para_frac", "max "),
    "rep_dup_para_char_frac": ("dup_para_char_frac", "max "),
    "rep_dup_line_frac": ("dup_line_frac", "max "),
    "rep_dup_line_char_frac": ("dup_line_char_frac", "max "),
    "c4_sentences": ("min_num_sentences", "min "),
    "fineweb_line_punct_ratio": ("line_punct_thr", "min "),
    "fineweb_short_line_ratio": ("short_line_thr", "max "),
    "fineweb_char_dup_ratio": ("char_duplicates_ratio", "max "),
    "fineweb_list_ratio": ("new_line_ratio", "max "),
}


def _lines(doc: TokenizedDoc) -> tuple[str, ...]:
    """``doc.text.splitlines()``, computed once by tokenize_document (recomputed if left empty)."""
    return doc.lines or tuple(doc.text.splitlines())


def _ratio(num: float, den: float) -> float:
    """num / den, or 0.0 for an empty denominator (datatrove would divide by zero there)."""
    return num / den if den else 0.0


_WORD_KINDS: dict[str, tuple[bool, bool]] = {}


def _word_kind(word: str) -> tuple[bool, bool]:
    """(only punctuation, contains a letter) of a word, memoised: a document repeats its words."""
    kind = _WORD_KINDS.get(word)
    if kind is None:
        if len(_WORD_KINDS) > 500_000:
            _WORD_KINDS.clear()
        kind = _WORD_KINDS[word] = (all(ch in PUNCTUATION_SET for ch in word), any(ch.isalpha() for ch in word))
    return kind


def _gopher_quality_signals(doc: TokenizedDoc, stopwords: frozenset[str]) -> dict[str, float]:
    text, words = doc.text, doc.words
    n_words = len(words)
    kinds = [_word_kind(w) for w in words]
    non_symbol = [w for w, (symbolic, _) in zip(words, kinds) if not symbolic]
    lines = _lines(doc)
    bullets = sum(s.lstrip().startswith(_BULLETS) for s in lines)
    ellipsis_end = sum(s.rstrip().endswith(_ELLIPSES) for s in lines)
    alpha = sum(has_letter for _, has_letter in kinds)
    return {
        "gopher_non_symbol_words": float(len(non_symbol)),
        "gopher_avg_word_length": _ratio(sum(len(w) for w in non_symbol), len(non_symbol)),
        "gopher_hash_ratio": _ratio(text.count("#"), n_words),
        "gopher_ellipsis_ratio": _ratio(text.count("...") + text.count("…"), n_words),
        "gopher_bullet_lines_ratio": _ratio(bullets, len(lines)),
        "gopher_ellipsis_lines_ratio": _ratio(ellipsis_end, len(lines)),
        "gopher_alpha_words_ratio": _ratio(alpha, n_words),
        "gopher_stop_words": float(len(stopwords.intersection(words))),
    }


class NGramKeys:
    """Word n-grams of one document as strings, each built by one slice of a joined text.

    datatrove keys repeated n-grams by the words concatenated without separator and top
    n-grams by the words joined with spaces, building each key with a ``join`` over a list
    slice. Joining the document once and slicing between word offsets gives the same strings
    at a fraction of the cost, for the nine n-gram sizes Kho computes on every document.
    """

    def __init__(self, words: list[str]) -> None:
        self.n_words = len(words)
        self.concat = "".join(words)
        self.spaced = " ".join(words)
        self.offsets = list(accumulate((len(w) for w in words), initial=0))  # into ``concat``

    def concatenated(self, n: int) -> list[str]:
        """Keys of ``"".join(words[i:i + n])`` for every position."""
        text, offs = self.concat, self.offsets
        return [text[a:b] for a, b in zip(offs, offs[n:])]

    def spaced_grams(self, n: int) -> list[str]:
        """``" ".join(words[i:i + n])`` for every position (datatrove's ``get_n_grams``)."""
        text, offs = self.spaced, self.offsets
        # word k starts at offs[k] + k in the spaced text; an n-gram ends one space before word i+n
        return [text[a + i:b + i + n - 1] for i, (a, b) in enumerate(zip(offs, offs[n:]))]


def top_n_gram_chars(grams: list[str]) -> int:
    """datatrove's ``find_top_duplicate``: length of the most frequent n-gram times its count
    (the first one seen among equally frequent ones), counted in C by ``Counter``."""
    gram, count = Counter(grams).most_common(1)[0]
    return len(gram) * count


def repeated_n_gram_chars(words: list[str], n: int, keys: NGramKeys | None = None) -> int:
    """datatrove's ``find_all_duplicate``, same result, faster on the common case.

    Characters in word n-grams already seen earlier, scanning left to right and jumping past a
    repeated n-gram (n-grams keyed by their words concatenated without separator, as datatrove
    does). Kho computes every size for every document (datatrove stops at the first failing
    rule), so a document without any repeated key, most clean prose, is answered by one set
    construction.
    """
    grams = (keys or NGramKeys(words)).concatenated(n)
    if len(set(grams)) == len(grams):
        return 0
    seen: set[str] = set()
    repeated, idx, end = 0, 0, len(grams)
    while idx < end:
        key = grams[idx]
        if key in seen:
            repeated += len(key)
            idx += n
        else:
            seen.add(key)
            idx += 1
    return repeated


def _repetition_signals(doc: TokenizedDoc) -> dict[str, float]:
    text, words = doc.text, doc.words
    n_chars = len(text)
    paragraphs = _PARAGRAPH_SPLIT.split(text.strip())
    para_dups, para_dup_chars = find_duplicates(paragraphs)
    lines = _LINE_SPLIT.split(text)
    line_dups, line_dup_chars = find_duplicates(lines)
    out = {
        "rep_paragraphs": float(len(paragraphs)),
        "rep_dup_para_frac": _ratio(para_dups, len(paragraphs)),
        "rep_dup_para_char_frac": _ratio(para_dup_chars, n_chars),
        "rep_line_count": float(len(lines)),
        "rep_dup_line_frac": _ratio(line_dups, len(lines)),
        "rep_dup_line_char_frac": _ratio(line_dup_chars, n_chars),
    }
    keys = NGramKeys(words)
    for n in TOP_N_GRAM_SIZES:
        grams = keys.spaced_grams(n)
        out[f"rep_top_{n}_gram_char_frac"] = _ratio(top_n_gram_chars(grams), n_chars) if grams else 0.0
    for n in DUP_N_GRAM_SIZES:
        out[f"rep_dup_{n}_gram_char_frac"] = _ratio(repeated_n_gram_chars(words, n, keys), n_chars)
    return out


def _c4_signals(doc: TokenizedDoc, th: QualityThresholds) -> dict[str, float]:
    """Walk the lines as C4QualityFilter does, counting each removal reason instead of acting."""
    counts = dict.fromkeys(("too_long_word", "no_terminal_punct", "too_few_words", "lorem_ipsum",
                            "javascript", "curly_bracket", "policy", "kept"), 0)
    sentences = 0
    for raw in _lines(doc):
        line = raw.strip()
        words = line.split()
        if th.max_word_length != -1 and any(len(w) > th.max_word_length for w in words):
            counts["too_long_word"] += 1
            continue
        if th.remove_citations:
            line = CITATION_REGEX.sub("", line)
        if th.filter_no_terminal_punct and not _ends_like_sentence(line):
            counts["no_terminal_punct"] += 1
            continue
        if len(words) < th.min_words_per_line:
            counts["too_few_words"] += 1
            continue
        line_l = line.lower()
        if "lorem ipsum" in line_l:
            counts["lorem_ipsum"] += 1
        if th.filter_javascript and "javascript" in line_l:
            counts["javascript"] += 1
            continue
        if "{" in line:
            counts["curly_bracket"] += 1
        if th.filter_policy and any(p in line_l for p in POLICY_SUBSTRINGS):
            counts["policy"] += 1
            continue
        counts["kept"] += 1
        sentences += doc.sentences_in(line)
    out = {f"c4_{k}_lines": float(v) for k, v in counts.items()}
    out["c4_sentences"] = float(sentences)
    return out


def _fineweb_signals(doc: TokenizedDoc, th: QualityThresholds) -> dict[str, float]:
    text = doc.text
    lines = [line for line in text.split("\n") if line.strip() != ""]
    stop_chars = th.resolved_stop_chars()
    newlines = text.count("\n")
    n_lines = len(lines)
    return {
        "fineweb_nonblank_lines": float(n_lines),
        "fineweb_line_punct_ratio": _ratio(sum(1 for line in lines if line.endswith(stop_chars)), n_lines),
        "fineweb_short_line_ratio": _ratio(sum(1 for line in lines if len(line) <= th.short_line_length), n_lines),
        "fineweb_char_dup_ratio": _ratio(find_duplicates(lines)[1], len(text) - newlines) if n_lines else 0.0,
        "fineweb_newlines": float(newlines),
        "fineweb_list_ratio": newlines / len(doc.words) if doc.words else float(newlines),
    }


def compute_signals(doc: TokenizedDoc, stopwords: frozenset[str],
                    thresholds: QualityThresholds | None = None) -> dict[str, float]:
    """Every signal of :data:`SIGNAL_NAMES` for one tokenized document, as floats.

    ``thresholds`` only supplies the structural parameters (see the module docstring);
    the datatrove defaults apply when it is omitted.
    """
    th = thresholds or _DEFAULT_THRESHOLDS
    text = doc.text
    signals: dict[str, float] = {
        "chars": float(len(text)),
        "words": float(len(doc.words)),
        "lines": float(len(_lines(doc))),
    }
    signals.update(_gopher_quality_signals(doc, stopwords))
    signals.update(_repetition_signals(doc))
    signals.update(_c4_signals(doc, th))
    signals.update(_fineweb_signals(doc, th))
    return signals


# ----------------------------------------------------------------------------- decisions

def _on(value: float | None) -> bool:
    """datatrove's convention for Gopher thresholds: None and 0 disable a rule."""
    return bool(value)


def _gopher_quality_failures(s: dict[str, float], th: QualityThresholds) -> list[str]:
    fails = []
    n = s["gopher_non_symbol_words"]
    if _on(th.min_doc_words) and n < th.min_doc_words:
        fails.append("gopher_short_doc")
    if _on(th.max_doc_words) and n > th.max_doc_words:
        fails.append("gopher_long_doc")
    if n > 0:  # datatrove's mean of no words is NaN, which fails no comparison
        avg = s["gopher_avg_word_length"]
        if _on(th.min_avg_word_length) and avg < th.min_avg_word_length:
            fails.append("gopher_below_avg_threshold")
        if _on(th.max_avg_word_length) and avg > th.max_avg_word_length:
            fails.append("gopher_above_avg_threshold")
    if _on(th.max_symbol_word_ratio) and s["gopher_hash_ratio"] > th.max_symbol_word_ratio:
        fails.append("gopher_too_many_hashes")
    if _on(th.max_symbol_word_ratio) and s["gopher_ellipsis_ratio"] > th.max_symbol_word_ratio:
        fails.append("gopher_too_many_ellipsis")
    if _on(th.max_bullet_lines_ratio) and s["gopher_bullet_lines_ratio"] > th.max_bullet_lines_ratio:
        fails.append("gopher_too_many_bullets")
    if _on(th.max_ellipsis_lines_ratio) and s["gopher_ellipsis_lines_ratio"] > th.max_ellipsis_lines_ratio:
        fails.append("gopher_too_many_end_ellipsis")
    if _on(th.max_non_alpha_words_ratio) and s["gopher_alpha_words_ratio"] < th.max_non_alpha_words_ratio:
        fails.append("gopher_below_alpha_threshold")
    if _on(th.min_stop_words) and s["gopher_stop_words"] < th.min_stop_words:
        fails.append("gopher_enough_stop_words")
    return fails


def _repetition_failures(s: dict[str, float], th: QualityThresholds) -> list[str]:
    if s["chars"] == 0:
        return ["empty"]
    checks = [
        ("dup_para_frac", s["rep_dup_para_frac"], th.dup_para_frac),
        ("dup_para_char_frac", s["rep_dup_para_char_frac"], th.dup_para_char_frac),
        ("dup_line_frac", s["rep_dup_line_frac"], th.dup_line_frac),
        ("dup_line_char_frac", s["rep_dup_line_char_frac"], th.dup_line_char_frac),
    ]
    fails = [reason for reason, value, limit in checks if _on(limit) and value > limit]
    for n, limit in sorted(th.top_n_grams.items()):
        if limit is not None and s[f"rep_top_{n}_gram_char_frac"] > limit:
            fails.append(f"top_{n}_gram")
    for n, limit in sorted(th.dup_n_grams.items()):
        if limit is not None and s[f"rep_dup_{n}_gram_char_frac"] > limit:
            fails.append(f"duplicated_{n}_n_grams")
    return fails


def _c4_failures(s: dict[str, float], th: QualityThresholds) -> list[str]:
    fails = []
    if th.filter_lorem_ipsum and s["c4_lorem_ipsum_lines"] > 0:
        fails.append("lorem_ipsum")
    if th.filter_curly_bracket and s["c4_curly_bracket_lines"] > 0:
        fails.append("curly_bracket")
    if th.min_num_sentences not in (None, -1) and s["c4_sentences"] < th.min_num_sentences:
        fails.append("too_few_sentences")
    return fails


def _fineweb_failures(s: dict[str, float], th: QualityThresholds) -> list[str]:
    if s["fineweb_nonblank_lines"] == 0:
        return ["empty"]
    fails = []
    punct = s["fineweb_line_punct_ratio"]
    if th.line_punct_thr is not None and punct < th.line_punct_thr and not (punct == 0 and th.line_punct_exclude_zero):
        fails.append("line_punct_ratio")
    if th.short_line_thr is not None and s["fineweb_short_line_ratio"] > th.short_line_thr:
        fails.append("short_line_ratio")
    if th.char_duplicates_ratio is not None and s["fineweb_char_dup_ratio"] > th.char_duplicates_ratio:
        fails.append("char_dup_ratio")
    if th.new_line_ratio is not None and s["fineweb_list_ratio"] > th.new_line_ratio:
        fails.append("list_ratio")
    return fails


_GROUP_FAILURES = {
    "gopher_quality": _gopher_quality_failures,
    "gopher_repetition": _repetition_failures,
    "c4": _c4_failures,
    "fineweb": _fineweb_failures,
}


def failed_rules(signals: dict[str, float], thresholds: QualityThresholds) -> list[str]:
    """Every failing rule of the enabled groups, as ``"<group>:<datatrove reason>"``.

    Order is stable: groups in :data:`GROUPS` order, rules in datatrove's order. An empty
    list means keep.
    """
    out = []
    for group in GROUPS:
        if group in thresholds.enabled:
            out.extend(f"{group}:{reason}" for reason in _GROUP_FAILURES[group](signals, thresholds))
    return out


class QualityScorer:
    """Tokenize once, compute every signal, list every failing rule.

    One instance per worker: it holds the tokenizer (CRF model and line memo).
    """

    def __init__(self, thresholds: QualityThresholds | None = None,
                 tokenizer: VietnameseWordTokenizer | None = None) -> None:
        self.thresholds = thresholds or QualityThresholds()
        self.tokenizer = tokenizer or VietnameseWordTokenizer()
        self.stopwords = self.thresholds.resolved_stop_words()

    def signals(self, text: str) -> dict[str, float]:
        """Every signal value of ``text``."""
        doc = tokenize_document(text, self.tokenizer)
        return compute_signals(doc, self.stopwords, self.thresholds)

    def score(self, text: str) -> tuple[dict[str, float], list[str]]:
        """(signals, failed rules) of ``text``; no failed rules means keep."""
        signals = self.signals(text)
        return signals, failed_rules(signals, self.thresholds)


# ----------------------------------------------------------------------------- datatrove

def datatrove_filters(thresholds: QualityThresholds, tokenizer: Any) -> list[BaseFilter]:
    """datatrove's own filters for the enabled groups, configured like ``thresholds``.

    Used by the parity test and the benchmark baseline. C4 comes last because it rewrites the
    text of the documents it keeps, which would change what a later filter sees.
    """
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    th = thresholds
    built: dict[str, BaseFilter] = {}
    if "gopher_repetition" in th.enabled:
        built["gopher_repetition"] = GopherRepetitionFilter(
            dup_line_frac=th.dup_line_frac, dup_para_frac=th.dup_para_frac,
            dup_line_char_frac=th.dup_line_char_frac, dup_para_char_frac=th.dup_para_char_frac,
            top_n_grams=tuple((n, f) for n, f in sorted(th.top_n_grams.items()) if f is not None),
            dup_n_grams=tuple((n, f) for n, f in sorted(th.dup_n_grams.items()) if f is not None),
            language=tokenizer)
    if "gopher_quality" in th.enabled:
        built["gopher_quality"] = GopherQualityFilter(
            min_doc_words=th.min_doc_words, max_doc_words=th.max_doc_words,
            min_avg_word_length=th.min_avg_word_length, max_avg_word_length=th.max_avg_word_length,
            max_symbol_word_ratio=th.max_symbol_word_ratio, max_bullet_lines_ratio=th.max_bullet_lines_ratio,
            max_ellipsis_lines_ratio=th.max_ellipsis_lines_ratio,
            max_non_alpha_words_ratio=th.max_non_alpha_words_ratio, min_stop_words=th.min_stop_words,
            stop_words=sorted(th.resolved_stop_words()), language=tokenizer)
    if "fineweb" in th.enabled:
        never = float("inf")
        built["fineweb"] = FineWebQualityFilter(
            line_punct_thr=th.line_punct_thr if th.line_punct_thr is not None else -never,
            line_punct_exclude_zero=th.line_punct_exclude_zero, stop_chars=th.resolved_stop_chars(),
            short_line_thr=th.short_line_thr if th.short_line_thr is not None else never,
            short_line_length=th.short_line_length,
            char_duplicates_ratio=th.char_duplicates_ratio if th.char_duplicates_ratio is not None else never,
            new_line_ratio=th.new_line_ratio if th.new_line_ratio is not None else never,
            language=tokenizer)
    if "c4" in th.enabled:
        built["c4"] = C4QualityFilter(
            split_paragraph=th.split_paragraph, remove_citations=th.remove_citations,
            filter_no_terminal_punct=th.filter_no_terminal_punct,
            min_num_sentences=-1 if th.min_num_sentences is None else th.min_num_sentences,
            min_words_per_line=th.min_words_per_line, max_word_length=th.max_word_length,
            filter_lorem_ipsum=th.filter_lorem_ipsum, filter_javascript=th.filter_javascript,
            filter_curly_bracket=th.filter_curly_bracket, filter_policy=th.filter_policy,
            language=tokenizer)
    return list(built.values())


def datatrove_filter_by_group(thresholds: QualityThresholds, tokenizer: Any) -> dict[str, BaseFilter]:
    """Like :func:`datatrove_filters`, keyed by Kho's group name."""
    order = [g for g in ("gopher_repetition", "gopher_quality", "fineweb", "c4") if g in thresholds.enabled]
    return dict(zip(order, datatrove_filters(thresholds, tokenizer)))
