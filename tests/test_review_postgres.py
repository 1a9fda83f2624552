"""The review app's database on a real PostgreSQL server, by URL: the same accounts,
sessions, queues, judgements, figures and export as on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from review import auth
from review.db import ReviewDB
from review.export import export_parquet
from review.metrics import dashboard
from review.runs import load_run
from review.service import create_queue, get_item, judge, next_item
from review.users import add_user, authenticate
from storage.local import LocalStore
from tests.pgserver import PgServer, start_pg

pytest.importorskip("psycopg")


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    server = start_pg(tmp_path_factory.mktemp("pg"))
    try:
        yield server
    finally:
        server.stop()


def test_the_review_database_works_on_postgresql_by_url(pg: PgServer, review_runs: dict, tmp_path: Path) -> None:
    db = ReviewDB(pg.createdb("review"))
    assert db.engine.dialect.name == "postgresql"
    db.create_all()
    db.create_all()  # idempotent on every start
    lead = add_user(db, "lead", "lead", "lead-password-1")
    ann = add_user(db, "ann", "annotator", "ann-password-1")
    assert authenticate(db, "ann", "ann-password-1").id == ann.id
    assert authenticate(db, "ann", "wrong-password") is None

    opened = auth.login(db, "ann", "ann-password-1", "127.0.0.1", limit=5, ttl_s=3600)
    assert opened is not None
    token, info = opened
    assert auth.session_info(db, token) == info  # timezone-aware expiry compares on PostgreSQL too

    run = load_run(review_runs["store"], review_runs["text_run"])
    queue_id = create_queue(db, run, "kept", per_queue=4, seed=3, double_share=0.0)
    assert create_queue(db, run, "kept", per_queue=4, seed=3, double_share=0.0) == queue_id
    labels = [1, 1, 2]
    for label in labels:
        view = next_item(db, queue_id, ann.id, None)
        judge(db, view.item_id, ann.id, label, "ổn" if label == 1 else "không đúng")
    assert get_item(db, view.item_id, ann.id).label == 2
    judge(db, view.item_id, lead.id, 1, "lead adjudicates")

    (row,) = [r for r in dashboard(db, run.run_id) if r.queue == "kept"]
    assert (row.judged, row.correct, row.wrong) == (3, 3, 0)
    out = LocalStore(tmp_path / "out")  # not the shared runs' store: other tests check it has no export
    result = export_parquet(db, out, run.run_id)
    table = pq.read_table(out.root / result.key)
    assert table.num_rows == 4 and sorted(table.column("comment").to_pylist()) == sorted(
        ["ổn", "ổn", "không đúng", "lead adjudicates"])
    db.dispose()
