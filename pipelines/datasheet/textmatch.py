"""Whole-word phrase counting for Vietnamese text (no tokenizer needed: syllables are words
separated by spaces, so a phrase matches when its syllables appear consecutively)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_WORD = re.compile(r"\w+", re.UNICODE)


def syllables(text: str) -> list[str]:
    """Case-folded NFC syllables of ``text`` (digits count as syllables, punctuation splits)."""
    return [w for w in _WORD.findall(unicodedata.normalize("NFC", text).casefold()) if not w.isdigit()]


class PhraseCounter:
    """Counts occurrences of fixed phrases (one or more syllables) in a syllable list."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self.phrases = {tuple(syllables(p)): p for p in phrases}
        self.max_len = max((len(k) for k in self.phrases), default=1)

    def count(self, words: list[str]) -> dict[str, int]:
        """phrase -> occurrences in ``words`` (phrases that do not occur are left out)."""
        out: dict[str, int] = {}
        n = len(words)
        for i in range(n):
            for k in range(1, min(self.max_len, n - i) + 1):
                phrase = self.phrases.get(tuple(words[i:i + k]))
                if phrase is not None:
                    out[phrase] = out.get(phrase, 0) + 1
        return out
