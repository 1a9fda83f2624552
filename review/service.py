"""What the review web app does with the database: draw queues, hand out items, record judgements.

Every function takes a :class:`~review.db.ReviewDB` and opens its own short session, so the
app can call them from any request thread. Annotators see and judge only the items assigned
to them; leads see and may judge every item (a lead's judgement adjudicates: see metrics).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from review.db import LABELS, Assignment, Item, Judgement, Queue, ReviewDB, User, utcnow
from review.runs import ReviewError, ReviewItem, RunData
from review.sampling import available_queues, build_queues

log = logging.getLogger(__name__)

MAX_COMMENT_CHARS = 2000
MAX_PER_QUEUE = 10_000


class QueueError(ReviewError, ValueError):
    """A queue cannot be drawn as asked (bad size, seed or share); the message says why."""


class UnknownQueueError(QueueError):
    """The run offers no queue of that name."""


class QueueNotFoundError(ReviewError, LookupError):
    """No queue has that id."""


class ItemNotFoundError(ReviewError, LookupError):
    """No item has that id (in that queue)."""


class InvalidJudgementError(ReviewError, ValueError):
    """A judgement's label or comment is not acceptable."""


class NotAssignedError(ReviewError, PermissionError):
    """The user may not see or judge this item: not assigned to them, or the user is inactive."""


class QueueSpec(BaseModel):
    """How to draw one queue (validated before anything is read or written)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=256)
    per_queue: int = Field(ge=1, le=MAX_PER_QUEUE, description="items drawn at most")
    seed: int = Field(ge=0, le=2**31 - 1, description="the same seed draws the same items")
    double_share: float = Field(ge=0.0, le=1.0, description="share of items given to two annotators")


@dataclass(frozen=True)
class QueueInfo:
    """A drawn queue, for the queue picker."""

    id: int
    run_id: str
    dataset: str
    modality: str
    name: str
    seed: int
    per_queue: int
    double_share: float
    items: int
    created_at: datetime


@dataclass(frozen=True)
class ItemView:
    """An item as one user sees it: the ReviewItem, its place, and that user's judgement."""

    item_id: int
    queue_id: int
    position: int
    total: int
    item: ReviewItem
    label: int | None = None
    comment: str | None = None
    judged_at: datetime | None = None

    @property
    def judged(self) -> bool:
        return self.label is not None


# -- drawing queues -----------------------------------------------------------------------
def _spec(name: str, per_queue: int, seed: int, double_share: float) -> QueueSpec:
    try:
        return QueueSpec(name=name, per_queue=per_queue, seed=seed, double_share=double_share)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise QueueError(f"cannot draw queue {name!r}: {problems}") from None


def _fraction(tag: str, key: str) -> int:
    return int(hashlib.sha256(f"{tag}\n{key}".encode()).hexdigest()[:16], 16)


def annotators_for(item_key: str, annotators: list[int], double_share: float) -> list[int]:
    """Who judges an item: one annotator chosen by the item key's hash, and a second one (the
    next in id order) for the ``double_share`` of keys whose hash falls below it."""
    if not annotators:
        return []
    first = _fraction("assign", item_key) % len(annotators)
    chosen = [annotators[first]]
    if len(annotators) > 1 and _fraction("double", item_key) / 2**64 < double_share:
        chosen.append(annotators[(first + 1) % len(annotators)])
    return chosen


def _active_annotators(s: Session) -> list[int]:
    return list(s.scalars(select(User.id).where(User.role == "annotator", User.active.is_(True))
                          .order_by(User.id)))


def _assign_missing(s: Session, queue: Queue) -> int:
    """Assign every item of the queue that has no annotator yet; return how many were."""
    annotators = _active_annotators(s)
    if not annotators:
        log.warning("queue %d (%s): no active annotator to assign items to; add annotators, then "
                    "create the queue again to assign them", queue.id, queue.name)
        return 0
    unassigned = s.execute(select(Item.id, Item.item_key).where(
        Item.queue_id == queue.id, ~select(Assignment.item_id).where(Assignment.item_id == Item.id).exists()))
    n = 0
    for item_id, key in unassigned:
        for user_id in annotators_for(key, annotators, queue.double_share):
            s.add(Assignment(item_id=item_id, user_id=user_id))
        n += 1
    return n


def _existing_queue(s: Session, run_id: str, name: str, seed: int) -> Queue | None:
    return s.scalar(select(Queue).where(Queue.run_id == run_id, Queue.name == name, Queue.seed == seed))


def create_queue(db: ReviewDB, run: RunData, name: str, per_queue: int, seed: int,
                 double_share: float) -> int:
    """Draw queue ``name`` of a run, store its items and assign annotators; return its id.

    A queue already drawn for the same (run, name, seed) is returned as it is (items never
    change under annotators' feet), after assigning items that had no annotator yet."""
    spec = _spec(name, per_queue, seed, double_share)
    with db.session() as s:
        existing = _existing_queue(s, run.run_id, spec.name, spec.seed)
        if existing is not None:
            if (existing.per_queue, existing.double_share) != (spec.per_queue, spec.double_share):
                log.warning("queue %s of run %s with seed %d exists (per_queue %d, double_share %.2f): "
                            "reusing it; pick another seed for a new draw", name, run.run_id, seed,
                            existing.per_queue, existing.double_share)
            _assign_missing(s, existing)
            return existing.id
    drawn = build_queues(run, spec.per_queue, spec.seed, queues=[spec.name])
    if spec.name not in drawn:
        raise UnknownQueueError(f"run {run.run_id} has no queue {spec.name!r}; its queues: "
                                f"{', '.join(available_queues(run))}")
    try:
        with db.session() as s:
            queue = Queue(run_id=run.run_id, dataset=run.dataset, modality=run.modality, name=spec.name,
                          seed=spec.seed, per_queue=spec.per_queue, double_share=spec.double_share)
            s.add(queue)
            s.flush()
            s.add_all(Item(queue_id=queue.id, position=pos, item_key=it.item_key, record_id=it.record_id,
                           decision=it.decision, reasons=list(it.reasons), payload=it.to_json())
                      for pos, it in enumerate(drawn[spec.name]))
            s.flush()
            _assign_missing(s, queue)
            queue_id = queue.id
    except IntegrityError:  # another request drew the same queue at the same moment
        with db.session() as s:
            existing = _existing_queue(s, run.run_id, spec.name, spec.seed)
            if existing is None:
                raise
            return existing.id
    log.info("queue %d: %s of run %s, %d item(s), seed %d", queue_id, spec.name, run.run_id,
             len(drawn[spec.name]), spec.seed)
    return queue_id


def list_queues(db: ReviewDB, run_id: str | None = None) -> list[QueueInfo]:
    """Drawn queues (of one run, or all), newest first, with their item counts."""
    with db.session() as s:
        counts = select(Item.queue_id, func.count(Item.id).label("n")).group_by(Item.queue_id).subquery()
        query = select(Queue, func.coalesce(counts.c.n, 0)).outerjoin(counts, counts.c.queue_id == Queue.id)
        if run_id is not None:
            query = query.where(Queue.run_id == run_id)
        rows = s.execute(query.order_by(Queue.created_at.desc(), Queue.id.desc())).all()
    return [QueueInfo(q.id, q.run_id, q.dataset, q.modality, q.name, q.seed, q.per_queue, q.double_share,
                      int(n), q.created_at) for q, n in rows]


def get_queue(db: ReviewDB, queue_id: int) -> QueueInfo:
    """One drawn queue with its item count; raises QueueNotFoundError."""
    with db.session() as s:
        q = _queue(s, queue_id)
        n = s.scalar(select(func.count(Item.id)).where(Item.queue_id == queue_id)) or 0
    return QueueInfo(q.id, q.run_id, q.dataset, q.modality, q.name, q.seed, q.per_queue, q.double_share,
                     int(n), q.created_at)


# -- reading items ------------------------------------------------------------------------
def _user(s: Session, user_id: int) -> User:
    user = s.get(User, user_id)
    if user is None or not user.active:
        raise NotAssignedError("this account is unknown or deactivated: ask a lead to reactivate it")
    return user


def _queue(s: Session, queue_id: int) -> Queue:
    queue = s.get(Queue, queue_id)
    if queue is None:
        raise QueueNotFoundError(f"no review queue {queue_id}: pick one from the queue list")
    return queue


def _visible_items(user: User, queue_id: int):
    """Items of a queue the user may see: all for a lead, the assigned ones for an annotator."""
    query = select(Item).where(Item.queue_id == queue_id)
    if not user.is_lead:
        query = query.join(Assignment, and_(Assignment.item_id == Item.id, Assignment.user_id == user.id))
    return query


def _view(s: Session, item: Item, user_id: int | None, total: int | None = None) -> ItemView:
    judgement = None
    if user_id is not None:
        judgement = s.scalar(select(Judgement).where(Judgement.item_id == item.id, Judgement.user_id == user_id))
    if total is None:
        total = s.scalar(select(func.count(Item.id)).where(Item.queue_id == item.queue_id)) or 0
    return ItemView(item.id, item.queue_id, item.position, total, ReviewItem.from_json(item.payload),
                    judgement.label if judgement else None, judgement.comment if judgement else None,
                    judgement.updated_at if judgement else None)


def _visible_total(s: Session, user: User, queue_id: int) -> int:
    return s.scalar(select(func.count()).select_from(_visible_items(user, queue_id).subquery())) or 0


def next_item(db: ReviewDB, queue_id: int, user_id: int, after_position: int | None) -> ItemView | None:
    """The user's next item after ``after_position``; with None, the first one they have not
    judged yet (where they left off). None when there is no such item.

    ``total`` of the view counts the items this user sees in the queue."""
    with db.session() as s:
        user, _ = _user(s, user_id), _queue(s, queue_id)
        query = _visible_items(user, queue_id)
        if after_position is None:
            judged = select(Judgement.item_id).where(Judgement.item_id == Item.id, Judgement.user_id == user.id)
            query = query.where(~judged.exists())
        else:
            query = query.where(Item.position > after_position)
        item = s.scalar(query.order_by(Item.position).limit(1))
        return _view(s, item, user.id, _visible_total(s, user, queue_id)) if item else None


def previous_item(db: ReviewDB, queue_id: int, user_id: int, before_position: int | None) -> ItemView | None:
    """The user's item before ``before_position`` (None: their last item), or None."""
    with db.session() as s:
        user, _ = _user(s, user_id), _queue(s, queue_id)
        query = _visible_items(user, queue_id)
        if before_position is not None:
            query = query.where(Item.position < before_position)
        item = s.scalar(query.order_by(Item.position.desc()).limit(1))
        return _view(s, item, user.id, _visible_total(s, user, queue_id)) if item else None


def _may_see(s: Session, user: User, item_id: int) -> bool:
    if user.is_lead:
        return True
    return s.get(Assignment, (item_id, user.id)) is not None


def get_item(db: ReviewDB, item_id: int, user_id: int | None = None) -> ItemView:
    """One item; with ``user_id``, as that user sees it (their judgement), and only if they
    may see it (NotAssignedError otherwise). Raises ItemNotFoundError."""
    with db.session() as s:
        item = s.get(Item, item_id)
        if item is None:
            raise ItemNotFoundError(f"no review item {item_id}")
        if user_id is not None:
            user = _user(s, user_id)
            if not _may_see(s, user, item_id):
                raise NotAssignedError(f"item {item_id} is not assigned to {user.name}")
            return _view(s, item, user.id, _visible_total(s, user, item.queue_id))
        return _view(s, item, None)


# -- judging ------------------------------------------------------------------------------
def _check_judgement(label: int, comment: str | None) -> str | None:
    if isinstance(label, bool) or not isinstance(label, int) or label not in LABELS:
        raise InvalidJudgementError(f"label must be 1 (correct decision), 2 (wrong decision) or 3 (unsure), "
                                    f"not {label!r}")
    if comment is not None and not isinstance(comment, str):
        raise InvalidJudgementError("comment must be text")
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise InvalidJudgementError(f"comment has {len(comment)} characters; keep it to {MAX_COMMENT_CHARS}")
    return comment or None


def judge(db: ReviewDB, item_id: int, user_id: int, label: int, comment: str | None) -> None:
    """Record (or replace) the user's judgement of an item.

    Checks the label (1, 2, 3), the comment (at most 2000 characters; blank means none) and
    that the user is active and assigned the item or a lead."""
    comment = _check_judgement(label, comment)
    for attempt in range(2):
        try:
            with db.session() as s:
                user = _user(s, user_id)
                if s.get(Item, item_id) is None:
                    raise ItemNotFoundError(f"no review item {item_id}")
                if not _may_see(s, user, item_id):
                    raise NotAssignedError(f"item {item_id} is not assigned to {user.name}; "
                                           "judge the items of your own queue")
                existing = s.scalar(select(Judgement).where(Judgement.item_id == item_id,
                                                            Judgement.user_id == user_id))
                if existing is None:
                    s.add(Judgement(item_id=item_id, user_id=user_id, label=label, comment=comment))
                else:
                    existing.label, existing.comment, existing.updated_at = label, comment, utcnow()
            return
        except IntegrityError:  # the same user's double submit raced itself: update instead
            if attempt:
                raise


def queue_progress(db: ReviewDB, queue_id: int, user_id: int) -> dict[str, int]:
    """``{"judged", "total", "remaining"}``: of the items this user sees in the queue, how
    many they have judged."""
    with db.session() as s:
        user, _ = _user(s, user_id), _queue(s, queue_id)
        visible = _visible_items(user, queue_id).subquery()
        total = s.scalar(select(func.count()).select_from(visible)) or 0
        judged = s.scalar(select(func.count(Judgement.id)).where(
            Judgement.user_id == user.id, Judgement.item_id.in_(select(visible.c.id)))) or 0
    return {"queue_id": queue_id, "judged": judged, "total": total, "remaining": total - judged}


__all__ = ["InvalidJudgementError", "ItemNotFoundError", "ItemView", "MAX_COMMENT_CHARS", "NotAssignedError",
           "QueueError", "QueueInfo", "QueueNotFoundError", "QueueSpec", "UnknownQueueError", "annotators_for",
           "create_queue", "get_item", "get_queue", "judge", "list_queues", "next_item", "previous_item", "queue_progress"]
