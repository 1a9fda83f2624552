"""Judgements out of the review app (review.export): Parquet and summary.json into a real
local store, and Label Studio JSON, from a real SQLite review database."""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from review.db import ReviewDB
from review.export import (JUDGEMENT_SCHEMA, ExportError, ExportResult, export_parquet, label_studio_json,
                           label_studio_tasks)
from review.metrics import dashboard
from review.runs import ReviewError
from review.service import judge
from storage.local import LocalStore
from tests.test_review_metrics import OTHER_RUN, RUN, db, make_queue, users  # noqa: F401 (fixtures)

SHORT = "reason:gopher_quality:gopher_short_doc"
REPETITION = "reason:gopher_quality:gopher_repetition"


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


@pytest.fixture
def judged(db: ReviewDB, users: dict[str, int]) -> dict[str, list[int]]:
    """A run with three queues and six judgements (a comment with non-ASCII text among them),
    and one judgement of another run that must never be exported with this one."""
    team = [users["ann1"], users["ann2"], users["ann3"]]
    items = {"kept": make_queue(db, "kept", ["k1", "k2", "k3"], assignees=team,
                                fields={"text": "Grüße aus Köln", "lang": "de", "score": 0.5}),
             SHORT: make_queue(db, SHORT, ["s1", "shared"], seed=4, assignees=team),
             REPETITION: make_queue(db, REPETITION, ["shared"], assignees=team)}
    judge(db, items["kept"][0], users["ann1"], 1, None)
    judge(db, items["kept"][0], users["ann2"], 2, "mostly a cookie banner — drop it")
    judge(db, items["kept"][0], users["lead"], 2, None)
    judge(db, items["kept"][1], users["ann1"], 3, None)
    judge(db, items[SHORT][1], users["ann1"], 1, None)
    judge(db, items[REPETITION][0], users["ann2"], 1, None)
    (other,) = make_queue(db, "kept", ["x1"], run_id=OTHER_RUN, assignees=team)
    judge(db, other, users["ann1"], 1, None)
    return items


def read_parquet(store: LocalStore, key: str):
    return pq.read_table(io.BytesIO(store.get_bytes(key)))


def test_export_parquet_writes_one_row_per_judgement_with_exact_schema(
        db: ReviewDB, store: LocalStore, judged: dict[str, list[int]]) -> None:
    result = export_parquet(db, store, RUN)
    assert result == ExportResult(f"runs/{RUN}/review/judgements.parquet", f"runs/{RUN}/review/summary.json", 6)
    table = read_parquet(store, result.key)
    assert table.schema.equals(JUDGEMENT_SCHEMA)
    assert table.num_rows == 6
    rows = table.to_pylist()
    assert {r["run_id"] for r in rows} == {RUN}
    banner = next(r for r in rows if r["comment"])
    assert banner["comment"] == "mostly a cookie banner — drop it"
    assert (banner["user"], banner["role"], banner["label"], banner["label_name"]) == ("ann2", "annotator", 2,
                                                                                         "wrong")
    assert (banner["queue"], banner["record_id"], banner["decision"], banner["dataset"]) == ("kept", "k1", "kept",
                                                                                             "web")
    lead = next(r for r in rows if r["role"] == "lead")
    assert lead["user"] == "lead" and lead["comment"] is None
    short = next(r for r in rows if r["queue"] == SHORT)
    assert short["seed"] == 4 and short["reasons"] == ["gopher_quality:gopher_short_doc"]
    assert isinstance(short["judged_at"], datetime) and short["judged_at"].utcoffset().total_seconds() == 0


def test_export_replaces_the_object_with_every_judgement_so_far(
        db: ReviewDB, store: LocalStore, users: dict[str, int], judged: dict[str, list[int]]) -> None:
    first = export_parquet(db, store, RUN)
    judge(db, judged["kept"][2], users["ann3"], 2, None)
    judge(db, judged["kept"][1], users["ann1"], 1, None)  # a changed label: still one row
    second = export_parquet(db, store, RUN)
    assert second.key == first.key and second.rows == 7
    table = read_parquet(store, second.key)
    assert table.num_rows == 7
    k2 = [r for r in table.to_pylist() if r["record_id"] == "k2"]
    assert [(r["label"], r["label_name"]) for r in k2] == [(1, "correct")]


def test_summary_json_agrees_with_dashboard(db: ReviewDB, store: LocalStore,
                                            judged: dict[str, list[int]]) -> None:
    result = export_parquet(db, store, RUN)
    summary = json.loads(store.get_bytes(result.summary_key))
    assert summary["run_id"] == RUN and summary["judgements"] == 6
    assert summary["judgements_key"] == result.key
    assert datetime.fromisoformat(summary["exported_at"]).utcoffset().total_seconds() == 0
    rows = dashboard(db, RUN)
    assert [q["queue"] for q in summary["queues"]] == [r.queue for r in rows]
    for exported, row in zip(summary["queues"], rows):
        assert exported == {"queue": row.queue, "kind": row.kind, "items": row.items, "judged": row.judged,
                            "correct": row.correct, "wrong": row.wrong, "unsure": row.unsure,
                            "unresolved": row.unresolved, "precision": row.precision,
                            "interval": list(row.interval) if row.interval else None, "doubles": row.doubles,
                            "kappa": row.kappa}
    gopher = next(q for q in summary["queues"] if q["queue"] == "filter:gopher_quality")
    assert gopher["kind"] == "filter" and (gopher["items"], gopher["judged"], gopher["correct"]) == (2, 1, 1)
    kept = next(q for q in summary["queues"] if q["queue"] == "kept")
    assert (kept["judged"], kept["correct"], kept["wrong"], kept["unsure"], kept["precision"]) == (2, 0, 1, 1, 0.0)


def test_export_refuses_a_bad_run_id_or_a_run_without_queues(
        db: ReviewDB, store: LocalStore, judged: dict[str, list[int]]) -> None:
    with pytest.raises(ExportError, match="not a run id"):
        export_parquet(db, store, "../../etc")
    with pytest.raises(ReviewError, match="no review queue"):
        export_parquet(db, store, "20250101T000000Z-00000000")
    assert not list(store.list("runs"))


def test_label_studio_json_has_one_task_per_judged_item(db: ReviewDB, judged: dict[str, list[int]]) -> None:
    raw = label_studio_json(db, RUN)
    assert "Grüße aus Köln" in raw.decode("utf-8")  # UTF-8, not \u escapes
    tasks = json.loads(raw)
    assert tasks == label_studio_tasks(db, RUN)
    # kept k1 and k2, the short-doc pair item, the repetition item; k3 was never judged
    assert [t["id"] for t in tasks] == [judged["kept"][0], judged["kept"][1], judged[SHORT][1],
                                        judged[REPETITION][0]]
    k1 = tasks[0]
    assert k1["data"] == {"text": "Grüße aus Köln", "lang": "de", "score": 0.5, "record_id": "k1", "queue": "kept",
                          "decision": "kept", "reasons": []}
    assert [a["completed_by"] for a in k1["annotations"]] == ["ann1", "ann2", "lead"]
    assert [a["ground_truth"] for a in k1["annotations"]] == [False, False, True]
    for annotation in k1["annotations"]:
        datetime.fromisoformat(annotation["created_at"].replace("Z", "+00:00"))
        choice = annotation["result"][0]
        assert {k: choice[k] for k in ("from_name", "to_name", "type")} == {
            "from_name": "decision", "to_name": "record", "type": "choices"}
    assert [a["result"][0]["value"] for a in k1["annotations"]] == [
        {"choices": ["correct"]}, {"choices": ["wrong"]}, {"choices": ["wrong"]}]
    commented = k1["annotations"][1]["result"]
    assert len(commented) == 2 and commented[1]["type"] == "textarea"
    assert {k: commented[1][k] for k in ("from_name", "to_name", "value")} == {
        "from_name": "comment", "to_name": "record", "value": {"text": ["mostly a cookie banner — drop it"]}}
    assert all(len(a["result"]) == 1 for a in k1["annotations"] if a is not k1["annotations"][1])
    short = tasks[2]
    assert short["data"]["queue"] == SHORT and short["data"]["reasons"] == ["gopher_quality:gopher_short_doc"]
    assert short["data"]["text"] == "document shared"
    assert tasks[1]["annotations"][0]["result"][0]["value"] == {"choices": ["unsure"]}


def test_label_studio_json_of_a_run_without_judgements_is_an_empty_list(db: ReviewDB,
                                                                        users: dict[str, int]) -> None:
    make_queue(db, "kept", ["k1"], assignees=[users["ann1"]])
    assert json.loads(label_studio_json(db, RUN)) == []
