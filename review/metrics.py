"""The lead dashboard's numbers: how often the pipeline's decisions were right, per queue and filter.

Labels (:data:`review.db.LABELS`): 1 = the pipeline's decision is correct, 2 = it is wrong,
3 = the judge is unsure.

How an item's judgements resolve into one label:

- Each user counts once per item: when the same record was drawn twice into the same row (two
  seeds of a queue, or two reason queues of one filter) and one user judged both copies, that
  user's most recent judgement counts.
- A lead's label is final (adjudication): if a lead judged the item, the most recent lead
  judgement is its label, whatever the annotators said.
- Otherwise, if every annotator gave the same label, that label; if they disagree the item is
  *disputed*: it counts as judged (and in ``unresolved``) but has no label, so it is not in
  correct, wrong, unsure or precision until a lead adjudicates it.
- Unsure (3) counts as judged but not in precision.

``precision = correct / (correct + wrong)`` over the resolved items, with its 95% Wilson score
interval (:func:`wilson_interval`), which stays sensible for the small samples a review draws.

Agreement is Cohen's kappa (:func:`cohen_kappa`) over the doubly judged items: for each item
with two or more annotator (non-lead) judgements, the first two by user id form one pair.

Rows (:func:`dashboard`): one per drawn queue name of a run, all seeds pooled (the same record
drawn by two seeds of one queue has the same ``item_key`` and counts once), in the order
``kept``, ``reason:*`` (sorted), ``pii``, ``duplicates``, ``quarantine``, then any other queue
(sorted); then one row per *filter*, ``filter:<prefix>``, sorted: a filter is the group of
reason queues whose rule shares the prefix before the first ``:`` (``reason:gopher_quality:
gopher_short_doc`` and ``reason:gopher_quality:gopher_repetition`` make ``filter:gopher_quality``);
its row pools their items, counting a record rejected by two of its rules once.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from review.db import LABELS, Item, Judgement, Queue, ReviewDB, User
from review.runs import ReviewError
from review.sampling import DUPLICATES, KEPT, PII, QUARANTINE, queue_rule

log = logging.getLogger(__name__)

CORRECT, WRONG, UNSURE = 1, 2, 3
#: z of a two-sided 95% normal interval.
Z95 = 1.959963984540054
FILTER_PREFIX = "filter:"
#: Disputed items listed per row at most.
MAX_DISPUTED = 10


class MetricsError(ReviewError, ValueError):
    """A metric was asked of impossible inputs (negative counts, malformed label pairs)."""


# -- statistics ---------------------------------------------------------------------------
def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a binomial proportion ``successes / n``, clipped to [0, 1].

    Unlike the normal (Wald) interval it never collapses to a point at 0 or n successes and
    stays inside [0, 1], which matters for review samples of a few dozen items. None when
    ``n == 0`` (nothing to estimate)."""
    if isinstance(successes, bool) or isinstance(n, bool) or not isinstance(successes, int) \
            or not isinstance(n, int):
        raise MetricsError(f"wilson_interval needs integer counts, got successes={successes!r}, n={n!r}")
    if n < 0 or not 0 <= successes <= max(n, 0):
        raise MetricsError(f"wilson_interval needs 0 <= successes <= n, got successes={successes}, n={n}")
    if not (isinstance(z, (int, float)) and math.isfinite(z) and z > 0):
        raise MetricsError(f"wilson_interval needs a positive finite z, got {z!r}")
    if n == 0:
        return None
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = (z / denom) * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n))
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact at the ends, where rounding
    high = 1.0 if successes == n else min(1.0, centre + half)  # would leave 1e-17 off the bound
    return low, high


def cohen_kappa(pairs: Sequence[tuple[int, int]]) -> float | None:
    """Cohen's kappa of two raters: ``(p_o - p_e) / (1 - p_e)``, from ``(label_a, label_b)`` pairs.

    ``p_o`` is the share of pairs that agree, ``p_e`` the agreement expected by chance from
    each rater's label frequencies. None when there are no pairs. When ``p_e == 1`` both raters
    gave one and the same label to every item, so ``p_o == 1`` too and kappa is 0/0; it is
    returned as 1.0 (perfect agreement), where scikit-learn would give NaN. Computed on exact
    integer counts, so that case is detected without rounding error."""
    pairs = list(pairs)
    for pair in pairs:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise MetricsError(f"cohen_kappa takes (label_a, label_b) pairs, got {pair!r}")
    n = len(pairs)
    if n == 0:
        return None
    agree = sum(1 for a, b in pairs if a == b)
    count_a = Counter(a for a, _ in pairs)
    count_b = Counter(b for _, b in pairs)
    chance = sum(count_a[label] * count_b[label] for label in count_a)  # p_e * n^2
    if chance == n * n:
        return 1.0
    return (agree * n - chance) / (n * n - chance)


def resolve(annotator_labels: Sequence[int], lead_label: int | None = None) -> int | None:
    """The label an item resolves to (see the module docstring): the lead's if any, else the
    annotators' common label, else None (no judgement, or disagreeing annotators)."""
    if lead_label is not None:
        return lead_label
    distinct = set(annotator_labels)
    return distinct.pop() if len(distinct) == 1 else None


# -- dashboard rows -----------------------------------------------------------------------
@dataclass(frozen=True)
class DisputedItem:
    """An item the lead should look at: annotators disagree, or it resolved to wrong or unsure.

    ``labels`` and ``comments`` are the annotators' (by user id), then the leads'."""

    item_id: int
    record_id: str
    labels: list[int]
    comments: list[str]


@dataclass(frozen=True)
class QueueMetrics:
    """One dashboard row: a queue (all seeds pooled) or a filter (its reason queues pooled).

    ``judged`` counts items with at least one judgement; ``correct``, ``wrong`` and ``unsure``
    the items resolved to each label; ``unresolved`` the judged items whose annotators disagree
    with no lead label yet. ``doubles`` counts items with two or more annotator judgements and
    ``kappa`` is their agreement."""

    queue: str
    kind: str  # "queue" or "filter"
    items: int
    judged: int
    correct: int
    wrong: int
    unsure: int
    unresolved: int
    precision: float | None
    interval: tuple[float, float] | None
    doubles: int
    kappa: float | None
    disputed: list[DisputedItem] = field(default_factory=list)

    @property
    def is_filter(self) -> bool:
        """Whether this row pools the reason queues of one filter."""
        return self.kind == "filter"

    def to_json(self) -> dict[str, Any]:
        """The row's figures as JSON data (what the export's summary.json holds per row)."""
        return {"queue": self.queue, "kind": self.kind, "items": self.items, "judged": self.judged,
                "correct": self.correct, "wrong": self.wrong, "unsure": self.unsure,
                "unresolved": self.unresolved, "precision": self.precision,
                "interval": list(self.interval) if self.interval is not None else None,
                "doubles": self.doubles, "kappa": self.kappa}


def filter_of(rule: str) -> str:
    """The filter a rejection rule belongs to: its prefix before the first ``:`` (the whole
    rule when it has none)."""
    return rule.split(":", 1)[0]


def queue_sort_key(name: str) -> tuple[int, str]:
    """The dashboard order of a queue name: kept, reason:* sorted, pii, duplicates,
    quarantine, then any other queue sorted."""
    if name == KEPT:
        return (0, "")
    if queue_rule(name) is not None:
        return (1, name)
    fixed = {PII: 2, DUPLICATES: 3, QUARANTINE: 4}
    return (fixed[name], "") if name in fixed else (5, name)


@dataclass
class _Vote:
    user_id: int
    is_lead: bool
    label: int
    comment: str | None
    at: datetime
    judgement_id: int

    def newer_than(self, other: _Vote) -> bool:
        return (self.at, self.judgement_id) > (other.at, other.judgement_id)


@dataclass
class _Unit:
    """One counted item of a row: every drawn copy of a record, with one vote per user."""

    item_id: int
    record_id: str
    votes: dict[int, _Vote] = field(default_factory=dict)

    def add_item(self, item_id: int) -> None:
        self.item_id = min(self.item_id, item_id)

    def add_vote(self, vote: _Vote) -> None:
        old = self.votes.get(vote.user_id)
        if old is None or vote.newer_than(old):
            self.votes[vote.user_id] = vote

    def annotator_votes(self) -> list[_Vote]:
        return sorted((v for v in self.votes.values() if not v.is_lead), key=lambda v: v.user_id)

    def lead_votes(self) -> list[_Vote]:
        return sorted((v for v in self.votes.values() if v.is_lead), key=lambda v: v.user_id)

    def lead_label(self) -> int | None:
        leads = self.lead_votes()
        if not leads:
            return None
        return max(leads, key=lambda v: (v.at, v.judgement_id)).label


def _dispute_rank(unit: _Unit, label: int | None) -> tuple[int, ...] | None:
    """How disputed a judged item is (smaller first), or None when it is not disputed at all:
    disagreeing annotators without a lead, then adjudicated disagreements (more distinct
    labels, then more votes first), then items resolved wrong, then unsure."""
    distinct = {v.label for v in unit.annotator_votes()}
    if len(distinct) > 1:
        tier = 0 if label is None else 1
        return (tier, -len(distinct), -len(unit.votes), unit.item_id)
    if label == WRONG:
        return (2, 0, -len(unit.votes), unit.item_id)
    if label == UNSURE:
        return (3, 0, -len(unit.votes), unit.item_id)
    return None


def _row(name: str, kind: str, units: Iterable[_Unit]) -> QueueMetrics:
    counts = Counter[int]()
    items = judged = unresolved = 0
    pairs: list[tuple[int, int]] = []
    ranked: list[tuple[tuple[int, ...], _Unit]] = []
    for unit in units:
        items += 1
        if not unit.votes:
            continue
        judged += 1
        annotators = unit.annotator_votes()
        label = resolve([v.label for v in annotators], unit.lead_label())
        if label is None:
            unresolved += 1
        else:
            counts[label] += 1
        if len(annotators) >= 2:
            pairs.append((annotators[0].label, annotators[1].label))
        rank = _dispute_rank(unit, label)
        if rank is not None:
            ranked.append((rank, unit))
    ranked.sort(key=lambda ru: ru[0])
    disputed = []
    for _, unit in ranked[:MAX_DISPUTED]:
        votes = unit.annotator_votes() + unit.lead_votes()
        disputed.append(DisputedItem(unit.item_id, unit.record_id, [v.label for v in votes],
                                     [v.comment for v in votes if v.comment]))
    correct, wrong = counts[CORRECT], counts[WRONG]
    decided = correct + wrong
    return QueueMetrics(queue=name, kind=kind, items=items, judged=judged, correct=correct, wrong=wrong,
                        unsure=counts[UNSURE], unresolved=unresolved,
                        precision=correct / decided if decided else None,
                        interval=wilson_interval(correct, decided), doubles=len(pairs),
                        kappa=cohen_kappa(pairs), disputed=disputed)


def dashboard(db: ReviewDB, run_id: str) -> list[QueueMetrics]:
    """The dashboard rows of a run (see the module docstring for order and pooling); empty
    when no queue of the run has been drawn. Three queries, whatever the number of items."""
    queue_units: dict[str, dict[str, _Unit]] = {}
    filter_units: dict[str, dict[str, _Unit]] = {}
    with db.session() as s:
        names = s.scalars(select(Queue.name).where(Queue.run_id == run_id).distinct()).all()
        items = s.execute(select(Queue.name, Item.id, Item.item_key, Item.record_id)
                          .join(Item, Item.queue_id == Queue.id).where(Queue.run_id == run_id)
                          .order_by(Item.id)).all()
        votes = s.execute(select(Judgement.item_id, Judgement.id, Judgement.user_id, User.role, Judgement.label,
                                 Judgement.comment, Judgement.updated_at)
                          .join(Item, Judgement.item_id == Item.id).join(Queue, Item.queue_id == Queue.id)
                          .join(User, User.id == Judgement.user_id).where(Queue.run_id == run_id)).all()
    for name in names:
        queue_units.setdefault(name, {})
        rule = queue_rule(name)
        if rule is not None:
            filter_units.setdefault(filter_of(rule), {})
    units_of_item: dict[int, list[_Unit]] = {}
    for name, item_id, key, record_id in items:
        pools = [(queue_units[name], key)]  # the same record in one queue name has one item_key
        rule = queue_rule(name)
        if rule is not None:
            pools.append((filter_units[filter_of(rule)], record_id))
        for pool, pool_key in pools:
            unit = pool.get(pool_key)
            if unit is None:
                unit = pool[pool_key] = _Unit(item_id, record_id)
            else:
                unit.add_item(item_id)
            units_of_item.setdefault(item_id, []).append(unit)
    for item_id, judgement_id, user_id, role, label, comment, at in votes:
        vote = _Vote(user_id, role == "lead", label, comment, at, judgement_id)
        for unit in units_of_item.get(item_id, ()):
            unit.add_vote(vote)
    rows = [_row(name, "queue", queue_units[name].values()) for name in sorted(queue_units, key=queue_sort_key)]
    rows += [_row(f"{FILTER_PREFIX}{f}", "filter", filter_units[f].values()) for f in sorted(filter_units)]
    log.debug("dashboard of run %s: %d row(s), %d item(s), %d judgement(s)", run_id, len(rows), len(items),
              len(votes))
    return rows


# -- flat judgement rows ------------------------------------------------------------------
def judgement_rows(db: ReviewDB, run_id: str | None = None) -> list[dict[str, Any]]:
    """Every judgement (of one run, or of all runs) joined with its item, queue and user, as
    flat dicts: what the Parquet and Label Studio exports are built from.

    Keys: ``judgement_id, item_id, user_id, run_id, dataset, modality, queue, seed, item_key,
    record_id, decision, reasons, user, role, label, label_name, comment, judged_at`` (when
    the current label was given) and ``created_at`` (the user's first judgement of the item).
    Ordered by run, queue, seed, item position and user id, so exports are stable."""
    query = (select(Judgement.id, Judgement.item_id, Judgement.user_id, Queue.run_id, Queue.dataset,
                    Queue.modality, Queue.name, Queue.seed, Item.item_key, Item.record_id, Item.decision,
                    Item.reasons, User.name, User.role, Judgement.label, Judgement.comment,
                    Judgement.updated_at, Judgement.created_at)
             .join(Item, Judgement.item_id == Item.id).join(Queue, Item.queue_id == Queue.id)
             .join(User, User.id == Judgement.user_id))
    if run_id is not None:
        query = query.where(Queue.run_id == run_id)
    query = query.order_by(Queue.run_id, Queue.name, Queue.seed, Item.position, User.id)
    with db.session() as s:
        rows = s.execute(query).all()
    return [{"judgement_id": jid, "item_id": item_id, "user_id": user_id, "run_id": rid, "dataset": dataset,
             "modality": modality, "queue": queue, "seed": seed, "item_key": key, "record_id": record_id,
             "decision": decision, "reasons": list(reasons or []), "user": user, "role": role,
             "label": label, "label_name": LABELS.get(label, "unknown"), "comment": comment,
             "judged_at": updated, "created_at": created}
            for (jid, item_id, user_id, rid, dataset, modality, queue, seed, key, record_id, decision, reasons,
                 user, role, label, comment, updated, created) in rows]


__all__ = ["CORRECT", "DisputedItem", "FILTER_PREFIX", "MAX_DISPUTED", "MetricsError", "QueueMetrics", "UNSURE",
           "WRONG", "Z95", "cohen_kappa", "dashboard", "filter_of", "judgement_rows", "queue_sort_key", "resolve",
           "wilson_interval"]
