"""Precision / recall of a PII detector against labelled examples (per type and overall).

Matching rule: a predicted finding matches a gold span when the types are equal and the
character intersection-over-union of the two spans is at least ``min_iou`` (default 0.5).
Matching is one-to-one (greedy by IoU, highest first), so a prediction can satisfy only one
gold span and vice versa. Precision = matched predictions / predictions, recall = matched
gold spans / gold spans; a type with no predictions (or no gold) gets 1.0 for that side.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Example", "TypeScore", "evaluate", "format_table", "iou"]


class _Detector(Protocol):
    def find_pii(self, text: str) -> Sequence[Any]: ...


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled text: gold spans as (type, start, end)."""

    text: str
    spans: tuple[tuple[str, int, int], ...]

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Example:
        return cls(obj["text"], tuple((s["type"], s["start"], s["end"]) for s in obj["spans"]))


@dataclass(slots=True)
class TypeScore:
    """Counts for one type (or ``ALL``): true positives, predictions, gold spans, errors."""

    tp: int = 0
    predicted: int = 0
    gold: int = 0
    false_positives: list[tuple[str, str]] = field(default_factory=list)
    false_negatives: list[tuple[str, str]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.tp / self.gold if self.gold else 1.0


def iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Character intersection-over-union of two half-open spans."""
    inter = min(a[1], b[1]) - max(a[0], b[0])
    if inter <= 0:
        return 0.0
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


def _match(gold: list[tuple[str, int, int]], pred: list[tuple[str, int, int]],
           min_iou: float) -> set[tuple[int, int]]:
    pairs = sorted(((iou(g[1:], p[1:]), gi, pi) for gi, g in enumerate(gold)
                    for pi, p in enumerate(pred) if g[0] == p[0]), reverse=True)
    used_g: set[int] = set()
    used_p: set[int] = set()
    matched: set[tuple[int, int]] = set()
    for score, gi, pi in pairs:
        if score < min_iou or gi in used_g or pi in used_p:
            continue
        used_g.add(gi)
        used_p.add(pi)
        matched.add((gi, pi))
    return matched


def evaluate(detector: _Detector, examples: Iterable[Example | Mapping[str, Any]],
             min_iou: float = 0.5) -> dict[str, TypeScore]:
    """Score ``detector.find_pii`` on ``examples``; keys are the PII types seen plus ``ALL``."""
    scores: dict[str, TypeScore] = {"ALL": TypeScore()}
    for ex in examples:
        if not isinstance(ex, Example):
            ex = Example.from_json(ex)
        gold = list(ex.spans)
        pred = [(f.type, f.start, f.end) for f in detector.find_pii(ex.text)]
        matched = _match(gold, pred, min_iou)
        mg = {gi for gi, _ in matched}
        mp = {pi for _, pi in matched}
        for gi, (t, s, e) in enumerate(gold):
            for key in (t, "ALL"):
                sc = scores.setdefault(key, TypeScore())
                sc.gold += 1
                if gi in mg:
                    sc.tp += 1
                else:
                    sc.false_negatives.append((ex.text[s:e], ex.text))
        for pi, (t, s, e) in enumerate(pred):
            for key in (t, "ALL"):
                sc = scores.setdefault(key, TypeScore())
                sc.predicted += 1
                if pi not in mp:
                    sc.false_positives.append((ex.text[s:e], ex.text))
    return scores


def format_table(scores: Mapping[str, TypeScore]) -> str:
    """A fixed-width per-type table (types sorted, ``ALL`` last)."""
    rows = [f"{'type':<18}{'gold':>6}{'pred':>6}{'tp':>6}{'precision':>11}{'recall':>9}"]
    for key in sorted(k for k in scores if k != "ALL") + ["ALL"]:
        s = scores.get(key)
        if s is None:
            continue
        rows.append(f"{key:<18}{s.gold:>6}{s.predicted:>6}{s.tp:>6}{s.precision:>11.3f}{s.recall:>9.3f}")
    return "\n".join(rows)
