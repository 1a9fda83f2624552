"""The datasheet's phrase matcher counts exactly what a plain scan of every word window counts."""

from __future__ import annotations

import random

from pipelines.datasheet import lexicons as lx
from pipelines.datasheet.textmatch import PhraseCounter, PhraseIndex, syllables


def _reference(lists: dict, words: list[str]) -> dict:
    """Every window of every length compared with every phrase: slow and obviously right."""
    out: dict = {}
    for name, phrases in lists.items():
        keys = {tuple(syllables(p)): p for p in phrases}
        for i in range(len(words)):
            for key, phrase in keys.items():
                if tuple(words[i:i + len(key)]) == key:
                    out.setdefault(name, {}).setdefault(phrase, 0)
                    out[name][phrase] += 1
    return out


def test_one_pass_over_several_lists_counts_what_a_window_scan_counts() -> None:
    lists = {**{("dialect", r): w for r, w in lx.DIALECT_MARKERS.items()},
             **{("gender", g): w for g, w in lx.GENDER_TERMS.items()},
             **{("topic", t): w for t, w in lx.TOPIC_KEYWORDS.items()}}
    index = PhraseIndex(lists)
    vocab = sorted({s for ws in lists.values() for p in ws for s in syllables(p)} | {"và", "của", "là"})
    rng = random.Random(5)
    for _ in range(300):
        words = [rng.choice(vocab) for _ in range(rng.randint(0, 60))]
        assert index.count(words) == _reference(lists, words)


def test_a_phrase_in_two_lists_counts_in_both_and_a_repeated_phrase_once() -> None:
    index = PhraseIndex({"a": ["bác sĩ", "Bác sĩ"], "b": ["bác sĩ", "sĩ"]})
    words = syllables("Bác sĩ nói: bác sĩ giỏi.")
    assert index.count(words) == {"a": {"Bác sĩ": 2}, "b": {"bác sĩ": 2, "sĩ": 2}}


def test_phrases_match_whole_syllables_after_case_folding_and_nfc() -> None:
    counter = PhraseCounter(["thế nào", "mô"])
    decomposed = "The\u0302\u0301 na\u0300o"  # "Thế nào" written with combining marks
    assert counter.count(syllables(f"{decomposed}? Mô hình mộ mô")) == {"thế nào": 1, "mô": 2}
    assert counter.count(syllables("mộtmô thếnào")) == {}  # inside a longer word: no match
