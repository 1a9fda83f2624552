"""Character classes for Vietnamese capitalisation, shared by the name and address rules.

Python's ``re`` has no ``\\p{Lu}``; these classes list the Vietnamese letters explicitly
(NFC, precomposed) so a "capitalised syllable" is an upper-case letter followed by
lower-case letters only: ``Nguyễn`` and ``A`` qualify, ``TP`` and ``UBND`` do not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_VOWELS_UPPER = (
    "AÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬEÈÉẺẼẸÊỀẾỂỄỆIÌÍỈĨỊOÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢUÙÚỦŨỤƯỪỨỬỮỰYỲÝỶỸỴ"
)
UPPER_CHARS = "BCDFGHJKLMNPQRSTVWXZĐ" + _VOWELS_UPPER
LOWER_CHARS = UPPER_CHARS.lower()

UPPER = "[" + UPPER_CHARS + "]"
LOWER = "[" + LOWER_CHARS + "]"
# One capitalised syllable, not followed by more word characters (so "TPHCM" is not one).
CAP_SYL = UPPER + LOWER + r"*(?![\w])"
# One to five capitalised syllables separated by single spaces.
CAP_SEQ = CAP_SYL + r"(?: " + CAP_SYL + r"){0,4}"
# Two to five capitalised syllables (a street or full personal name).
CAP_SEQ2 = CAP_SYL + r"(?: " + CAP_SYL + r"){1,4}"


def word_alternation(words: Iterable[str], fold_case: bool = False) -> str:
    """A regex alternation matching exactly ``words``, longest first, built as a prefix tree.

    Python's ``re`` tries the branches of ``a|b|c`` one after another at every position, so a
    flat list of a hundred cue words costs a hundred attempts per character; the tree shares
    prefixes and fails after a character or two. Where several words match at one position
    they are prefixes of each other, and the tree tries the longer continuation before
    stopping, which is the order a longest-first flat alternation gives. ``fold_case``: the
    pattern will be used case-insensitively, so words differing only in case are one branch.
    """
    trie: dict[str, dict] = {}
    for word in words:
        node = trie
        for ch in (word.lower() if fold_case else word):
            node = node.setdefault(ch, {})
        node[""] = {}
    return _trie_pattern(trie)


def _trie_pattern(node: dict[str, dict]) -> str:
    branches = [re.escape(ch) + _trie_pattern(child) for ch, child in sorted(node.items()) if ch]
    ends = "" in node
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if ends:  # the word may stop here, but only after the longer words were tried
        return "(?:" + body + ")?" if len(branches) > 1 or len(body) > 1 else body + "?"
    return body


def first_char_lookahead(words: Iterable[str], fold_case: bool = False) -> str:
    """``(?=[...])`` over the first characters of ``words`` (both cases when ``fold_case``).

    Placed at the very start of a pattern it lets the engine reject a position with one
    character test, before any lookbehind or alternation runs.
    """
    chars = {w[0] for w in words if w}
    if fold_case:
        chars = {c for ch in chars for c in (ch.lower(), ch.upper())}
    return "(?=[" + "".join(re.escape(c) for c in sorted(chars)) + "])"
