"""Review queues drawn from real runs (review.sampling, review.service.create_queue) and the
agreement they make measurable (review.metrics.dashboard).

The runs are the ``review_runs`` fixture's: the bundled text sample and the generated image
sample (near-duplicates, corrupt files). Every expectation is checked against the run's own
tables, statistics and version shards, read here with pyarrow, not through the sampler.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from review.app import create_app
from review.db import Assignment, Item, ReviewDB
from review.metrics import dashboard
from review.runs import RAW_MEDIA, RunData, StoredRow, load_run
from review.sampling import (DUPLICATES, KEPT, PII, QUARANTINE, _kept_ends, available_queues, build_queues,
                             hash_rank, reason_queue, sample_ids)
from review.service import create_queue, judge, list_queues
from review.settings import ReviewSettings
from storage.local import LocalStore
from storage.versions import VersionStore
from tests.test_review_security import draw, logged_in, make_db, make_users

RUNS = ["text_run", "image_run"]


@pytest.fixture(scope="module")
def runs(review_runs: dict) -> dict[str, RunData]:
    return {name: load_run(review_runs["store"], review_runs[name]) for name in RUNS}


@pytest.fixture
def db(tmp_path: Path):
    database = make_db(tmp_path)
    yield database
    database.dispose()


def ids_of(items) -> list[str]:
    return [it.record_id for it in items]


def table_rows(run: RunData, table: str) -> dict[str, dict]:
    """A run table's rows by id, read straight from the objects tables.json lists."""
    fs, root = run.store.arrow_filesystem()
    rows = {}
    for info in run.tables.get(table, []):
        for row in pq.read_table(f"{root}/{info.key}", filesystem=fs).to_pylist():
            rows[row["id"]] = row
    return rows


def version_kept_ids(run: RunData) -> set[str]:
    """Ids of every record the run's version published (Parquet shards and tar indexes)."""
    vs = VersionStore(run.store)
    fs, root = run.store.arrow_filesystem()
    ids: set[str] = set()
    for shard in vs.shards(vs.manifest(f"{run.dataset}@{run.version}")):
        if shard.format in ("parquet", "wds-index"):
            ids.update(pq.read_table(f"{root}/{shard.key}", filesystem=fs, columns=["id"]).column("id").to_pylist())
    return ids


# -- build_queues -------------------------------------------------------------------------
@pytest.mark.parametrize("which", RUNS)
def test_the_same_seed_draws_the_same_items_in_the_same_order(review_runs: dict, runs: dict, which: str) -> None:
    first = build_queues(runs[which], 4, 7)
    again = build_queues(load_run(review_runs["store"], review_runs[which]), 4, 7)  # a fresh read of the run
    assert list(first) == list(again) == available_queues(runs[which])
    for name in first:
        assert ids_of(first[name]) == ids_of(again[name]), name
        assert [it.to_json() for it in first[name]] == [it.to_json() for it in again[name]], name
    # only some queues: the same items as the full draw
    some = build_queues(runs[which], 4, 7, queues=[KEPT, QUARANTINE])
    assert set(some) == {KEPT, QUARANTINE}
    assert ids_of(some[KEPT]) == ids_of(first[KEPT]) and ids_of(some[QUARANTINE]) == ids_of(first[QUARANTINE])


@pytest.mark.parametrize("which", RUNS)
def test_a_different_seed_draws_a_different_order(runs: dict, which: str) -> None:
    run = runs[which]
    kept = version_kept_ids(run)
    a = ids_of(build_queues(run, len(kept), 0, queues=[KEPT])[KEPT])
    b = ids_of(build_queues(run, len(kept), 1, queues=[KEPT])[KEPT])
    assert set(a) == set(b) == kept
    assert a != b
    for seed, ids in ((0, a), (1, b)):  # the order is the seed's hash rank
        assert ids == sorted(ids, key=lambda i: hash_rank(seed, i))
    small_a = ids_of(build_queues(run, 3, 0, queues=[KEPT])[KEPT])
    small_b = ids_of(build_queues(run, 3, 1, queues=[KEPT])[KEPT])
    assert small_a != small_b


@pytest.mark.parametrize("which", RUNS)
def test_a_larger_sample_holds_the_smaller_one_as_its_prefix(runs: dict, which: str) -> None:
    sizes = [1, 2, 5, 1000]
    draws = {k: build_queues(runs[which], k, 3) for k in sizes}
    for name in draws[sizes[-1]]:
        for small, large in zip(sizes, sizes[1:]):
            s, big = ids_of(draws[small][name]), ids_of(draws[large][name])
            assert len(s) <= small and big[:len(s)] == s, (name, small, large)
    assert build_queues(runs[which], 0, 3)[KEPT] == []
    with pytest.raises(ValueError):
        build_queues(runs[which], -1, 3)


@pytest.mark.parametrize("which", RUNS)
@pytest.mark.parametrize("per_queue", [1, 2, 50])
def test_every_rejection_reason_has_its_own_queue_of_records_that_rule_rejected(
        runs: dict, which: str, per_queue: int) -> None:
    run = runs[which]
    by_reason = run.stats["rejected_by_reason"]
    assert by_reason
    rejected = table_rows(run, "rejected")
    drawn = build_queues(run, per_queue, 11)
    assert {n for n in drawn if n.startswith("reason:")} == {reason_queue(r) for r in by_reason}
    for rule, count in by_reason.items():
        items = drawn[reason_queue(rule)]
        assert len(items) == min(per_queue, count), (rule, len(items), count)
        assert len(set(ids_of(items))) == len(items)
        for it in items:
            assert it.decision == "rejected" and it.queue == reason_queue(rule)
            assert it.reasons[0] == rule
            row = rejected[it.record_id]
            assert rule in row["reasons"] and sorted(it.reasons) == sorted(set(row["reasons"]))
    # every record a rule rejected is in that rule's queue once per_queue is large enough
    if per_queue == 50:
        for rule in by_reason:
            assert set(ids_of(drawn[reason_queue(rule)])) == {i for i, r in rejected.items() if rule in r["reasons"]}


@pytest.mark.parametrize("which", RUNS)
def test_the_kept_queue_holds_only_records_of_the_version(runs: dict, which: str) -> None:
    run = runs[which]
    kept = version_kept_ids(run)
    assert len(kept) == run.stats["totals"]["kept"]
    not_kept = set(table_rows(run, "rejected")) | set(table_rows(run, "duplicates"))
    for per_queue in (3, 1000):
        items = build_queues(run, per_queue, 5, queues=[KEPT])[KEPT]
        assert len(items) == min(per_queue, len(kept))
        assert set(ids_of(items)) <= kept and not set(ids_of(items)) & not_kept
        assert all(it.decision == "kept" and it.reasons == [] for it in items)
    if run.modality == "image":
        assert all(it.media["image"].key.startswith(f"datasets/{run.dataset}/shards/") for it in items)


@pytest.mark.parametrize("which", RUNS)
def test_duplicate_items_carry_the_record_they_duplicate(runs: dict, which: str) -> None:
    run = runs[which]
    dups = table_rows(run, "duplicates")
    kept = version_kept_ids(run)
    items = build_queues(run, 1000, 2, queues=[DUPLICATES])[DUPLICATES]
    assert set(ids_of(items)) == set(dups)
    for it in items:
        row = dups[it.record_id]
        assert it.decision == "duplicate" and it.reasons == [f"duplicate:{row.get('kind') or 'exact'}"]
        assert it.other_record_id == row["dup_of"]
        if row["dup_of"] in kept:
            assert it.fields["other"]["id"] == row["dup_of"], it.record_id
            if run.modality == "image":
                assert "other_image" in it.media and "image" in it.media
        else:  # it duplicates a record that was itself dropped: the pair shows where that chain ends
            end = row["dup_of"]
            for _ in range(4):
                if end in kept or end not in dups:
                    break
                end = dups[end]["dup_of"]
            if end in kept:
                assert it.fields["other"]["id"] == end, it.record_id
            else:
                assert it.fields["other"] is None and row["dup_of"] in it.fields["other_missing"]
    if run.modality == "image":
        near = [it for it in items if it.reasons == ["duplicate:near"] and it.fields["other"]]
        assert near, "the image sample has near-duplicates of kept images"


@pytest.mark.parametrize("which", RUNS)
def test_the_quarantine_queue_matches_the_quarantine_table(runs: dict, which: str) -> None:
    run = runs[which]
    table = table_rows(run, "quarantine")
    assert len(table) == run.stats["totals"]["quarantined"] > 0
    items = build_queues(run, 1000, 9, queues=[QUARANTINE])[QUARANTINE]
    assert sorted(ids_of(items)) == sorted(table)
    assert Counter(it.reasons[0] for it in items) == Counter(run.stats["quarantined_by_error"])
    for it in items:
        assert it.decision == "quarantined" and it.reasons == [table[it.record_id]["error_class"]]
        assert RAW_MEDIA not in it.fields and "raw" not in it.fields
        if table[it.record_id].get("raw"):
            assert it.media[RAW_MEDIA].lead_only
    assert len(build_queues(run, 2, 9, queues=[QUARANTINE])[QUARANTINE]) == 2


def _pii_columns(modality: str) -> tuple[str, ...]:
    return ("pii_total",) if modality == "text" else ("caption_pii_total", "faces", "plates")


@pytest.mark.parametrize("which", RUNS)
def test_the_pii_queue_holds_only_records_with_pii(runs: dict, which: str) -> None:
    run = runs[which]
    columns = _pii_columns(run.modality)
    candidates = {row["id"]: row for table in ("kept", "rejected") for row in run.iter_records(table)}
    with_pii = {i for i, row in candidates.items() if any((row.get(c) or 0) > 0 for c in columns)}
    assert with_pii, f"the {which} has records with PII"
    items = build_queues(run, 1000, 4, queues=[PII])[PII]
    assert set(ids_of(items)) == with_pii
    for it in items:
        assert any((it.fields.get(c) or 0) > 0 for c in columns), it.fields
    small = build_queues(run, 1, 4, queues=[PII])[PII]
    assert len(small) == 1 and small[0].record_id in with_pii


# -- create_queue: stored items and assignments -------------------------------------------
def _assignments(db: ReviewDB, queue_id: int) -> dict[int, set[int]]:
    with db.session() as s:
        rows = s.execute(select(Item.id, Assignment.user_id).outerjoin(Assignment, Assignment.item_id == Item.id)
                         .where(Item.queue_id == queue_id)).all()
    out: dict[int, set[int]] = {}
    for item_id, user_id in rows:
        out.setdefault(item_id, set())
        if user_id is not None:
            out[item_id].add(user_id)
    return out


def test_double_share_one_assigns_every_item_to_both_annotators(runs: dict, db: ReviewDB) -> None:
    users = make_users(db, ("lead", "lead"), ("ann1", "annotator"), ("ann2", "annotator"))
    queue_id = create_queue(db, runs["text_run"], KEPT, 50, 0, 1.0)
    assigned = _assignments(db, queue_id)
    assert len(assigned) == runs["text_run"].stats["totals"]["kept"]
    assert all(a == {users["ann1"], users["ann2"]} for a in assigned.values())


def test_double_share_zero_assigns_every_item_to_exactly_one_annotator(runs: dict, db: ReviewDB) -> None:
    users = make_users(db, ("lead", "lead"), ("ann1", "annotator"), ("ann2", "annotator"))
    queue_id = create_queue(db, runs["image_run"], KEPT, 50, 0, 0.0)
    assigned = _assignments(db, queue_id)
    assert assigned and all(len(a) == 1 for a in assigned.values())
    share = Counter(next(iter(a)) for a in assigned.values())
    assert set(share) == {users["ann1"], users["ann2"]}  # both get work; the lead none


def test_drawing_the_same_run_name_and_seed_twice_returns_the_same_queue(runs: dict, db: ReviewDB) -> None:
    make_users(db, ("ann1", "annotator"), ("ann2", "annotator"))
    run = runs["text_run"]
    first = create_queue(db, run, KEPT, 5, 3, 0.5)
    assert create_queue(db, run, KEPT, 5, 3, 0.5) == first
    assert create_queue(db, run, KEPT, 8, 3, 0.0) == first  # other sizes reuse it too: items never change
    other_seed = create_queue(db, run, KEPT, 5, 4, 0.5)
    other_name = create_queue(db, run, QUARANTINE, 5, 3, 0.5)
    assert len({first, other_seed, other_name}) == 3
    assert len(list_queues(db, run.run_id)) == 3
    with db.session() as s:
        stored = list(s.scalars(select(Item.record_id).where(Item.queue_id == first).order_by(Item.position)))
    assert stored == ids_of(build_queues(run, 5, 3, queues=[KEPT])[KEPT])


def test_drawing_again_assigns_items_drawn_before_any_annotator_existed(runs: dict, db: ReviewDB) -> None:
    run = runs["image_run"]
    queue_id = create_queue(db, run, KEPT, 6, 0, 0.0)
    assert all(a == set() for a in _assignments(db, queue_id).values())
    users = make_users(db, ("ann1", "annotator"))
    assert create_queue(db, run, KEPT, 6, 0, 0.0) == queue_id
    assigned = _assignments(db, queue_id)
    assert len(assigned) == 6 and all(a == {users["ann1"]} for a in assigned.values())


def test_sample_ids_is_the_seeds_hash_rank_order_without_repeats() -> None:
    ids = [f"rec-{i}" for i in range(40)]
    for seed in (0, 1, 99):
        full = sample_ids(ids + ids[:5], 1000, seed)  # repeated ids are drawn once
        assert full == sorted(ids, key=lambda i: hash_rank(seed, i))
        assert sample_ids(reversed(ids), 7, seed) == full[:7]  # input order does not matter
    assert sample_ids(ids, 10, 0) != sample_ids(ids, 10, 1)
    assert sample_ids(ids, 0, 0) == [] and sample_ids([], 5, 0) == []


# -- agreement ----------------------------------------------------------------------------
def _kappa(a: list[int], b: list[int]) -> float:
    n = len(a)
    p_o = sum(x == y for x, y in zip(a, b)) / n
    p_e = sum(a.count(k) * b.count(k) for k in set(a) | set(b)) / (n * n)
    return (p_o - p_e) / (1 - p_e)


def test_cohens_kappa_shows_on_the_dashboard_once_two_annotators_judged_the_same_items(
        review_runs: dict, runs: dict, db: ReviewDB) -> None:
    users = make_users(db, ("lead", "lead"), ("ann1", "annotator"), ("ann2", "annotator"))
    run = runs["text_run"]
    app = create_app(review_runs["store"], db, ReviewSettings())
    lead = logged_in(app, "lead")
    queue_id = draw(lead, run.run_id, KEPT, per_queue=50, seed=0, double_share=1.0)
    with db.session() as s:
        item_ids = list(s.scalars(select(Item.id).where(Item.queue_id == queue_id).order_by(Item.position)))
    assert len(item_ids) >= 10

    def kept_row():
        (row,) = [r for r in dashboard(db, run.run_id) if r.queue == KEPT]
        return row

    assert kept_row().kappa is None and kept_row().doubles == 0
    labels_a = [(1, 1, 2, 1, 3)[i % 5] for i in range(len(item_ids))]
    labels_b = [(1, 2, 2, 1, 3)[i % 5] for i in range(len(item_ids))]
    for item_id, label in zip(item_ids, labels_a):
        judge(db, item_id, users["ann1"], label, None)
    assert kept_row().kappa is None and kept_row().doubles == 0  # one annotator: nothing to compare
    for item_id, label in zip(item_ids, labels_b):
        judge(db, item_id, users["ann2"], label, None)
    row = kept_row()
    assert row.doubles == len(item_ids)
    assert row.kappa == pytest.approx(_kappa(labels_a, labels_b))
    assert 0 < row.kappa < 1
    judge(db, item_ids[0], users["lead"], 2, None)  # a lead's adjudication is not a third rater
    assert kept_row().kappa == pytest.approx(_kappa(labels_a, labels_b))
    # and the lead's dashboard page shows it
    page = lead.get(f"/runs/{run.run_id}/dashboard").text
    cell = re.search(r'<tr data-queue="kept">.*?<td class="kappa">([^<]*)</td>', page, re.S)
    assert cell and cell.group(1) == f"{_kappa(labels_a, labels_b):.2f}"


class _ChainRun(RunData):
    """A run whose kept records are ``kept`` and whose duplicates table is a real Parquet
    object of (id, dup_of) rows: the chains the pair lookup follows, without a whole ingest."""

    def __init__(self, store, kept: set[str], dup_key: str) -> None:
        super().__init__(store, {"run_id": "r", "dataset": "d", "version": "v1"}, {})
        self.kept_ids, self.dup_key = kept, dup_key

    def table_objects(self, table: str) -> list[str]:
        return [self.dup_key] if table == "duplicates" else []

    def find_kept(self, ids):
        return {i: StoredRow("kept.parquet", {"id": i}) for i in ids if i in self.kept_ids}


def test_a_duplicate_of_a_dropped_record_leads_to_the_kept_end_of_its_chain(tmp_path: Path):
    store = LocalStore(tmp_path)
    # a -> b -> c (kept); x -> y -> z -> w -> v -> u (kept, 5 hops: past the bound);
    # m -> n (n dropped for nothing recorded); k is kept itself
    rows = {"a": "b", "b": "c", "x": "y", "y": "z", "z": "w", "w": "v", "v": "u", "m": "n"}
    buf = pa.BufferOutputStream()
    pq.write_table(pa.table({"id": list(rows), "dup_of": list(rows.values())}), buf)
    store.put_bytes("runs/r/duplicates/part-0.parquet", buf.getvalue().to_pybytes())
    run = _ChainRun(store, {"c", "u", "k"}, "runs/r/duplicates/part-0.parquet")
    ends = _kept_ends(run, {"b", "x", "n", "k"}, hops=4)
    assert {want: stored.row["id"] for want, stored in ends.items()} == {"b": "c", "k": "k"}
    # with a bound long enough the long chain reaches its kept record too
    assert _kept_ends(run, {"x"}, hops=5)["x"].row["id"] == "u"
