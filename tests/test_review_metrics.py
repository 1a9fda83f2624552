"""The lead dashboard's numbers (review.metrics) on a real SQLite review database.

Queues and items are built directly with the ORM models and judged through
review.service.judge, so no pipeline run is needed.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from review.db import Assignment, Item, Queue, ReviewDB
from review.metrics import (DisputedItem, MetricsError, QueueMetrics, cohen_kappa, dashboard, filter_of,
                            judgement_rows, resolve, wilson_interval)
from review.runs import ReviewItem, item_key
from review.service import judge
from review.users import add_user

RUN = "20260101T120000Z-1a2b3c4d"
OTHER_RUN = "20260102T120000Z-5e6f7a8b"
PASSWORD = "correct horse battery"


# -- helpers (also used by test_review_export) --------------------------------------------
def make_db(tmp_path: Path) -> ReviewDB:
    """A fresh SQLite review database with its tables."""
    db = ReviewDB(f"sqlite:///{tmp_path}/r.sqlite")
    db.create_all()
    return db


def make_users(db: ReviewDB) -> dict[str, int]:
    """Three annotators (ann1 < ann2 < ann3 by id) and one lead; name -> user id."""
    return {name: add_user(db, name, role, PASSWORD).id
            for name, role in [("ann1", "annotator"), ("ann2", "annotator"), ("ann3", "annotator"),
                               ("lead", "lead")]}


def make_queue(db: ReviewDB, name: str, records: list[str], *, seed: int = 0, run_id: str = RUN,
               assignees: list[int] | None = None, fields: dict | None = None) -> list[int]:
    """Store a drawn queue of ``records`` (every one assigned to ``assignees``); item ids in order."""
    rule = name.removeprefix("reason:") if name.startswith("reason:") else None
    decision = "rejected" if rule else "kept"
    reasons = [rule] if rule else []
    ids = []
    with db.session() as s:
        queue = Queue(run_id=run_id, dataset="web", modality="text", name=name, seed=seed, per_queue=50,
                      double_share=0.5)
        s.add(queue)
        s.flush()
        for pos, rid in enumerate(records):
            key = item_key(run_id, name, rid)
            it = ReviewItem(item_key=key, run_id=run_id, dataset="web", modality="text", queue=name, record_id=rid,
                            decision=decision, reasons=reasons,
                            fields=fields if fields is not None else {"text": f"document {rid}", "lang": "en"})
            row = Item(queue_id=queue.id, position=pos, item_key=key, record_id=rid, decision=decision,
                       reasons=reasons, payload=it.to_json())
            s.add(row)
            s.flush()
            for user_id in assignees or []:
                s.add(Assignment(item_id=row.id, user_id=user_id))
            ids.append(row.id)
    return ids


def row_of(rows: list[QueueMetrics], name: str) -> QueueMetrics:
    matches = [r for r in rows if r.queue == name]
    assert len(matches) == 1, [r.queue for r in rows]
    return matches[0]


@pytest.fixture
def db(tmp_path: Path) -> ReviewDB:
    db = make_db(tmp_path)
    yield db
    db.dispose()


@pytest.fixture
def users(db: ReviewDB) -> dict[str, int]:
    return make_users(db)


def annotators(users: dict[str, int]) -> list[int]:
    return [users["ann1"], users["ann2"], users["ann3"]]


# -- statistics ---------------------------------------------------------------------------
def test_wilson_interval_matches_known_values() -> None:
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=5e-4) and high == pytest.approx(0.9433, abs=5e-4)
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=5e-4)
    low, high = wilson_interval(10, 10)
    assert low == pytest.approx(0.7225, abs=5e-4) and high == 1.0
    low, high = wilson_interval(50, 100)
    assert (low, high) == pytest.approx((0.4038, 0.5962), abs=5e-4)
    # 90% interval (z = 1.645) is narrower than the 95% one
    low90, high90 = wilson_interval(8, 10, z=1.6448536269514722)
    assert 0.4902 < low90 < 0.8 < high90 < 0.9433


def test_wilson_interval_is_none_without_trials_and_refuses_impossible_counts() -> None:
    assert wilson_interval(0, 0) is None
    for successes, n in [(11, 10), (-1, 10), (0, -1)]:
        with pytest.raises(MetricsError):
            wilson_interval(successes, n)


def test_cohen_kappa_matches_hand_computed_example() -> None:
    a = [1, 1, 1, 1, 1, 1, 2, 2, 2, 3]
    b = [1, 1, 1, 1, 1, 2, 2, 2, 1, 3]
    # p_o = 8/10; p_e = (6*6 + 3*3 + 1*1) / 100 = 0.46; kappa = 0.34 / 0.54 = 17/27
    assert cohen_kappa(list(zip(a, b))) == pytest.approx(17 / 27)
    assert cohen_kappa([(1, 2), (2, 1)]) == pytest.approx(-1.0)
    assert cohen_kappa([(1, 1), (2, 2), (3, 3)]) == pytest.approx(1.0)


def test_cohen_kappa_edge_cases_none_without_pairs_one_for_a_single_shared_label() -> None:
    assert cohen_kappa([]) is None
    assert cohen_kappa([(3, 3), (3, 3)]) == 1.0  # p_o == p_e == 1
    with pytest.raises(MetricsError):
        cohen_kappa([(1, 2, 3)])  # type: ignore[list-item]


def test_cohen_kappa_agrees_with_sklearn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = random.Random(7)
    for _ in range(20):
        pairs = [(rng.choice([1, 2, 3]), rng.choice([1, 1, 2, 3])) for _ in range(rng.randint(3, 40))]
        a, b = zip(*pairs)
        if len(set(a) | set(b)) == 1:
            continue
        assert cohen_kappa(pairs) == pytest.approx(metrics.cohen_kappa_score(a, b))


def test_resolve_prefers_lead_then_unanimous_annotators() -> None:
    assert resolve([1, 2], lead_label=2) == 2
    assert resolve([1, 1]) == 1
    assert resolve([1, 2]) is None
    assert resolve([]) is None
    assert filter_of("gopher_quality:gopher_short_doc") == "gopher_quality"
    assert filter_of("too_short") == "too_short"


# -- resolution on the database -----------------------------------------------------------
def test_lead_label_overrides_disagreeing_annotators(db: ReviewDB, users: dict[str, int]) -> None:
    (item,) = make_queue(db, "kept", ["r1"], assignees=annotators(users))
    judge(db, item, users["ann1"], 1, None)
    judge(db, item, users["ann2"], 2, "boilerplate")
    row = row_of(dashboard(db, RUN), "kept")
    assert (row.judged, row.correct, row.wrong, row.unresolved) == (1, 0, 0, 1)
    judge(db, item, users["lead"], 2, "it is boilerplate")
    row = row_of(dashboard(db, RUN), "kept")
    assert (row.judged, row.correct, row.wrong, row.unsure, row.unresolved) == (1, 0, 1, 0, 0)
    assert row.precision == 0.0
    assert row.doubles == 1  # the lead's judgement is not an annotator pair member
    (disputed,) = row.disputed
    assert disputed.labels == [1, 2, 2]  # annotators by id, then the lead
    assert disputed.comments == ["boilerplate", "it is boilerplate"]


def test_disagreeing_annotators_without_lead_are_disputed_not_in_precision(
        db: ReviewDB, users: dict[str, int]) -> None:
    items = make_queue(db, "kept", ["r1", "r2", "r3"], assignees=annotators(users))
    judge(db, items[0], users["ann1"], 1, None)
    judge(db, items[0], users["ann2"], 2, "spam")
    judge(db, items[1], users["ann1"], 1, None)
    judge(db, items[2], users["ann2"], 1, None)
    judge(db, items[2], users["ann3"], 1, None)
    row = row_of(dashboard(db, RUN), "kept")
    assert (row.items, row.judged, row.correct, row.wrong, row.unsure, row.unresolved) == (3, 3, 2, 0, 0, 1)
    assert row.precision == 1.0
    assert row.interval == pytest.approx(wilson_interval(2, 2))
    assert row.disputed == [DisputedItem(items[0], "r1", [1, 2], ["spam"])]
    assert row.doubles == 2
    # pairs (1, 2) and (1, 1): p_o = 1/2, p_e = (2*1 + 0*1)/4 = 1/2 -> kappa 0
    assert row.kappa == pytest.approx(0.0)


def test_unsure_counts_as_judged_but_not_in_precision(db: ReviewDB, users: dict[str, int]) -> None:
    items = make_queue(db, "pii", ["r1", "r2", "r3"], assignees=annotators(users))
    judge(db, items[0], users["ann1"], 3, "cannot tell")
    judge(db, items[1], users["ann1"], 1, None)
    judge(db, items[2], users["ann1"], 2, None)
    row = row_of(dashboard(db, RUN), "pii")
    assert (row.judged, row.correct, row.wrong, row.unsure) == (3, 1, 1, 1)
    assert row.precision == 0.5
    assert row.interval == pytest.approx(wilson_interval(1, 2))
    # wrong before unsure among the disputed items
    assert [d.record_id for d in row.disputed] == ["r3", "r1"]


def test_precision_changes_when_a_judgement_changes_from_correct_to_wrong(
        db: ReviewDB, users: dict[str, int]) -> None:
    items = make_queue(db, "kept", ["r1", "r2", "r3", "r4"], assignees=annotators(users))
    for item in items:
        judge(db, item, users["ann1"], 1, None)
    row = row_of(dashboard(db, RUN), "kept")
    assert (row.correct, row.wrong, row.precision) == (4, 0, 1.0)
    judge(db, items[0], users["ann1"], 2, "changed my mind")
    row = row_of(dashboard(db, RUN), "kept")
    assert (row.judged, row.correct, row.wrong, row.precision) == (4, 3, 1, 0.75)
    assert row.interval == pytest.approx(wilson_interval(3, 4))


def test_unjudged_queue_has_items_but_no_figures(db: ReviewDB, users: dict[str, int]) -> None:
    make_queue(db, "quarantine", ["q1", "q2"], assignees=annotators(users))
    row = row_of(dashboard(db, RUN), "quarantine")
    assert (row.kind, row.items, row.judged, row.doubles) == ("queue", 2, 0, 0)
    assert row.precision is None and row.interval is None and row.kappa is None and row.disputed == []
    assert not row.is_filter


def test_dashboard_of_a_run_without_queues_is_empty(db: ReviewDB, users: dict[str, int]) -> None:
    make_queue(db, "kept", ["r1"], run_id=OTHER_RUN, assignees=annotators(users))
    assert dashboard(db, RUN) == []


# -- rows, pooling and order --------------------------------------------------------------
def test_rows_follow_dashboard_order_with_filters_last(db: ReviewDB, users: dict[str, int]) -> None:
    for name in ["quarantine", "reason:gopher_quality:gopher_short_doc", "zzz_custom", "pii", "kept",
                 "reason:c4:too_few_sentences", "duplicates", "reason:gopher_quality:gopher_repetition"]:
        make_queue(db, name, ["r1"])
    names = [r.queue for r in dashboard(db, RUN)]
    assert names == ["kept", "reason:c4:too_few_sentences", "reason:gopher_quality:gopher_repetition",
                     "reason:gopher_quality:gopher_short_doc", "pii", "duplicates", "quarantine", "zzz_custom",
                     "filter:c4", "filter:gopher_quality"]


def test_queue_row_pools_seeds_and_counts_a_record_drawn_twice_once(db: ReviewDB, users: dict[str, int]) -> None:
    first = make_queue(db, "kept", ["r1", "r2"], seed=0, assignees=annotators(users))
    second = make_queue(db, "kept", ["r2", "r3"], seed=1, assignees=annotators(users))
    judge(db, first[1], users["ann1"], 1, None)   # r2 in seed 0
    judge(db, second[0], users["ann2"], 2, None)  # r2 in seed 1, another annotator: a disagreement
    judge(db, second[1], users["ann1"], 1, None)  # r3
    rows = dashboard(db, RUN)
    assert [r.queue for r in rows] == ["kept"]
    row = rows[0]
    assert (row.items, row.judged, row.correct, row.unresolved, row.doubles) == (3, 2, 1, 1, 1)
    assert row.disputed[0].item_id == first[1] and row.disputed[0].labels == [1, 2]


def test_same_user_judging_both_copies_counts_once_with_latest_label(db: ReviewDB, users: dict[str, int]) -> None:
    first = make_queue(db, "kept", ["r1"], seed=0, assignees=annotators(users))
    second = make_queue(db, "kept", ["r1"], seed=1, assignees=annotators(users))
    judge(db, first[0], users["ann1"], 1, None)
    judge(db, second[0], users["ann1"], 2, None)  # later: this one counts
    row = row_of(dashboard(db, RUN), "kept")
    assert (row.items, row.judged, row.correct, row.wrong, row.doubles) == (1, 1, 0, 1, 0)


def test_filter_row_pools_its_reason_queues_and_counts_a_record_once(db: ReviewDB, users: dict[str, int]) -> None:
    short = make_queue(db, "reason:gopher_quality:gopher_short_doc", ["a", "b", "shared"],
                       assignees=annotators(users))
    rep = make_queue(db, "reason:gopher_quality:gopher_repetition", ["shared", "c"], assignees=annotators(users))
    c4 = make_queue(db, "reason:c4:too_few_sentences", ["shared"], assignees=annotators(users))
    judge(db, short[0], users["ann1"], 1, None)   # a: correct
    judge(db, short[1], users["ann1"], 2, None)   # b: wrong
    judge(db, short[2], users["ann1"], 1, None)   # shared, judged in two queues of the filter...
    judge(db, rep[0], users["ann2"], 1, None)     # ...by two annotators who agree
    judge(db, rep[1], users["ann3"], 1, None)     # c: correct
    judge(db, c4[0], users["ann1"], 2, None)      # shared in another filter: not pooled into gopher
    rows = dashboard(db, RUN)
    gopher = row_of(rows, "filter:gopher_quality")
    assert gopher.kind == "filter" and gopher.is_filter
    assert (gopher.items, gopher.judged, gopher.correct, gopher.wrong) == (4, 4, 3, 1)
    assert gopher.precision == 0.75
    assert gopher.doubles == 1 and gopher.kappa == 1.0
    assert row_of(rows, "reason:gopher_quality:gopher_short_doc").correct == 2
    assert row_of(rows, "reason:gopher_quality:gopher_repetition").correct == 2
    c4_row = row_of(rows, "filter:c4")
    assert (c4_row.items, c4_row.judged, c4_row.wrong, c4_row.precision) == (1, 1, 1, 0.0)


def test_disputed_lists_at_most_ten_disagreements_first(db: ReviewDB, users: dict[str, int]) -> None:
    records = [f"r{i:02d}" for i in range(14)]
    items = make_queue(db, "kept", records, assignees=annotators(users))
    for item in items[:12]:
        judge(db, item, users["ann1"], 2, None)  # twelve items resolved wrong
    judge(db, items[12], users["ann1"], 1, None)
    judge(db, items[12], users["ann2"], 2, None)
    judge(db, items[13], users["ann1"], 1, None)
    judge(db, items[13], users["ann2"], 2, None)
    judge(db, items[13], users["ann3"], 3, None)  # three distinct labels: the most disputed
    row = row_of(dashboard(db, RUN), "kept")
    assert len(row.disputed) == 10
    assert [d.record_id for d in row.disputed[:2]] == ["r13", "r12"]
    assert row.disputed[0].labels == [1, 2, 3]
    assert all(d.labels == [2] for d in row.disputed[2:])


def test_kappa_uses_first_two_annotators_by_user_id(db: ReviewDB, users: dict[str, int]) -> None:
    items = make_queue(db, "kept", ["r1", "r2"], assignees=annotators(users))
    # ann3 judges first in time, but the pair is (ann1, ann2) by user id
    judge(db, items[0], users["ann3"], 3, None)
    judge(db, items[0], users["ann2"], 1, None)
    judge(db, items[0], users["ann1"], 1, None)
    judge(db, items[1], users["ann2"], 2, None)
    judge(db, items[1], users["ann1"], 2, None)
    row = row_of(dashboard(db, RUN), "kept")
    assert row.doubles == 2 and row.kappa == 1.0


def test_judgement_rows_are_flat_dicts_per_run_or_all(db: ReviewDB, users: dict[str, int]) -> None:
    (mine,) = make_queue(db, "reason:c4:too_few_sentences", ["r1"], seed=3, assignees=annotators(users))
    (other,) = make_queue(db, "kept", ["x1"], run_id=OTHER_RUN, assignees=annotators(users))
    judge(db, mine, users["ann1"], 3, "  hard to say ")
    judge(db, other, users["lead"], 1, None)
    (row,) = judgement_rows(db, RUN)
    assert row["run_id"] == RUN and row["queue"] == "reason:c4:too_few_sentences" and row["seed"] == 3
    assert row["item_id"] == mine and row["record_id"] == "r1" and row["decision"] == "rejected"
    assert row["reasons"] == ["c4:too_few_sentences"]
    assert (row["user"], row["role"], row["label"], row["label_name"]) == ("ann1", "annotator", 3, "unsure")
    assert row["comment"] == "hard to say"
    assert row["judged_at"].tzinfo is not None
    assert {r["run_id"] for r in judgement_rows(db)} == {RUN, OTHER_RUN}
