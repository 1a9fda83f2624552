"""Whole-word phrase counting for Vietnamese text (no tokenizer needed: syllables are words
separated by spaces, so a phrase matches when its syllables appear consecutively).

The datasheet counts several word lists (dialect regions, gender terms, topics) in every kept
document of a version, so matching is one pass per document for all lists together
(:class:`PhraseIndex`): a syllable that starts no phrase costs one set lookup, and only at the
positions where a phrase can start are the phrase's next syllables compared.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Hashable, Iterable, Mapping
from itertools import compress, count

_WORD = re.compile(r"\w+", re.UNICODE)


def syllables(text: str) -> list[str]:
    """Case-folded NFC syllables of ``text`` (digits count as syllables, punctuation splits)."""
    return [w for w in _WORD.findall(unicodedata.normalize("NFC", text).casefold()) if not w.isdigit()]


class PhraseIndex:
    """Counts, in one pass over a syllable list, the phrases of several named lists.

    ``lists`` maps a list name (``"northern"``, ``"female"``, ``"kinh tế"`` ...) to its phrases;
    :meth:`count` returns ``{name: {phrase: occurrences}}`` with only the lists and phrases that
    occur. A phrase in two lists counts in both.
    """

    def __init__(self, lists: Mapping[Hashable, Iterable[str]]) -> None:
        owners: dict[tuple[str, ...], dict[Hashable, str]] = {}
        for name, phrases in lists.items():
            for p in phrases:
                key = tuple(syllables(p))
                if key:  # a phrase listed twice in one list (after case folding) counts once
                    owners.setdefault(key, {})[name] = p
        self.owners: dict[tuple[str, ...], list[tuple[Hashable, str]]] = {
            k: list(v.items()) for k, v in owners.items()}
        #: first syllable -> the lengths of the phrases that start with it, longest first
        lengths: dict[str, set[int]] = {}
        for key in self.owners:
            lengths.setdefault(key[0], set()).add(len(key))
        self.starts: dict[str, list[int]] = {w: sorted(ks, reverse=True) for w, ks in lengths.items()}

    def count(self, words: list[str]) -> dict[Hashable, dict[str, int]]:
        """``{list name: {phrase: occurrences}}`` in ``words`` (absent ones left out)."""
        out: dict[Hashable, dict[str, int]] = {}
        starts, owners, n = self.starts, self.owners, len(words)
        # the positions where some phrase can start, found without a Python-level loop
        for i in compress(count(), map(starts.__contains__, words)):
            w = words[i]
            for k in starts[w]:
                if i + k > n:
                    continue
                hit = owners.get(tuple(words[i:i + k])) if k > 1 else owners.get((w,))
                if hit is None:
                    continue
                for name, phrase in hit:
                    found = out.setdefault(name, {})
                    found[phrase] = found.get(phrase, 0) + 1
        return out


class PhraseCounter:
    """Counts occurrences of fixed phrases (one or more syllables) in a syllable list; one
    list of a :class:`PhraseIndex` (use the index to count several lists in one pass)."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self.index = PhraseIndex({"": phrases})

    def count(self, words: list[str]) -> dict[str, int]:
        """phrase -> occurrences in ``words`` (phrases that do not occur are left out)."""
        return self.index.count(words).get("", {})
