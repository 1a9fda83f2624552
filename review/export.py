"""Judgements out of the review app: Parquet and a summary into the store, Label Studio JSON.

:func:`export_parquet` writes, under the run's own prefix,

- ``runs/<run>/review/judgements.parquet``: every judgement of the run so far, one row each,
  with exactly :data:`JUDGEMENT_SCHEMA`;
- ``runs/<run>/review/summary.json``: the dashboard's figures per queue and per filter
  (:func:`review.metrics.dashboard`), so a datasheet can report annotator precision per
  filter without the app or its database.

Each export replaces both objects (each put is atomic): they always hold every judgement up to
the export, so exporting again is the way to refresh them.

:func:`label_studio_tasks` gives the judged items in Label Studio's JSON task format (``data``
plus ``annotations`` with a ``choices`` result and, when commented, a ``textarea`` result),
for a project whose labeling config names its object ``record``, its choices ``decision``
(``correct``, ``wrong``, ``unsure``) and its text area ``comment``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select

from review.db import LABELS, Item, Judgement, Queue, ReviewDB, utcnow
from review.metrics import dashboard, judgement_rows
from review.runs import ReviewError, json_value
from storage.base import ObjectStore
from storage.errors import StoreError
from storage.layout import RUN_ID_RE, run_prefix

log = logging.getLogger(__name__)

#: The columns of ``judgements.parquet``, in this order; only ``comment`` may be null.
JUDGEMENT_SCHEMA = pa.schema([
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("dataset", pa.string(), nullable=False),
    pa.field("modality", pa.string(), nullable=False),
    pa.field("queue", pa.string(), nullable=False),
    pa.field("seed", pa.int64(), nullable=False),
    pa.field("item_key", pa.string(), nullable=False),
    pa.field("record_id", pa.string(), nullable=False),
    pa.field("decision", pa.string(), nullable=False),
    pa.field("reasons", pa.list_(pa.string()), nullable=False),
    pa.field("user", pa.string(), nullable=False),
    pa.field("role", pa.string(), nullable=False),
    pa.field("label", pa.int8(), nullable=False),
    pa.field("label_name", pa.string(), nullable=False),
    pa.field("comment", pa.string(), nullable=True),
    pa.field("judged_at", pa.timestamp("us", tz="UTC"), nullable=False),
])
REVIEW_DIR = "review"
PARQUET_TYPE = "application/vnd.apache.parquet"
#: Label Studio names: the labeling config's object, choices and text area.
LS_OBJECT, LS_CHOICES, LS_COMMENT = "record", "decision", "comment"


class ExportError(ReviewError):
    """The judgements of a run cannot be exported; the message says what to do."""


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_parquet` wrote: the two store keys and the number of judgements."""

    key: str
    summary_key: str
    rows: int


def judgements_key(run_id: str) -> str:
    """Where a run's exported judgements lie in the store."""
    return f"{run_prefix(run_id)}/{REVIEW_DIR}/judgements.parquet"


def summary_key(run_id: str) -> str:
    """Where a run's exported review summary lies in the store."""
    return f"{run_prefix(run_id)}/{REVIEW_DIR}/summary.json"


def judgements_table(db: ReviewDB, run_id: str) -> pa.Table:
    """Every judgement of a run as an Arrow table with exactly :data:`JUDGEMENT_SCHEMA`."""
    rows = judgement_rows(db, run_id)
    columns = {f.name: [row[f.name] for row in rows] for f in JUDGEMENT_SCHEMA}
    return pa.table(columns, schema=JUDGEMENT_SCHEMA)


def _parquet_bytes(table: pa.Table) -> bytes:
    buf = pa.BufferOutputStream()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue().to_pybytes()


def _iso(at: datetime) -> str:
    """An aware time as ISO 8601 UTC with a ``Z`` (what Label Studio writes)."""
    return at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _check_run(db: ReviewDB, run_id: str) -> None:
    if not isinstance(run_id, str) or not RUN_ID_RE.fullmatch(run_id):
        raise ExportError(f"{run_id!r} is not a run id (they look like 20260101T120000Z-1a2b3c4d): "
                          "export from the run's dashboard")
    with db.session() as s:
        drawn = s.scalar(select(Queue.id).where(Queue.run_id == run_id).limit(1))
    if drawn is None:
        raise ExportError(f"run {run_id} has no review queue in {db!r}: draw a queue and judge some "
                          "items first, or open the review app on the database that holds them")


def export_parquet(db: ReviewDB, store: ObjectStore, run_id: str) -> ExportResult:
    """Write every judgement of a run into the store as one Parquet object, and the dashboard
    figures as ``summary.json`` beside it (see the module docstring), replacing earlier exports.

    The Parquet object goes first: a summary never names judgements that are not stored.
    Raises ExportError for a malformed run id, a run with no drawn queue, or a failed write."""
    _check_run(db, run_id)
    table = judgements_table(db, run_id)
    rows = dashboard(db, run_id)
    key, skey = judgements_key(run_id), summary_key(run_id)
    summary = {
        "run_id": run_id,
        "exported_at": utcnow().isoformat(),
        "judgements": table.num_rows,
        "judgements_key": key,
        "labels": {str(k): v for k, v in LABELS.items()},
        "resolution": "a lead's label is final; else the annotators' common label; disagreeing annotators "
                      "leave an item unresolved; precision = correct / (correct + wrong), unsure excluded",
        "queues": [row.to_json() for row in rows],
    }
    try:
        store.put_bytes(key, _parquet_bytes(table), PARQUET_TYPE)
        store.put_bytes(skey, (json.dumps(summary, ensure_ascii=False, indent=2) + "\n").encode("utf-8"),
                        "application/json")
    except (StoreError, OSError) as exc:
        raise ExportError(f"could not write the review export of run {run_id} to {store.uri}: {exc}; "
                          "check that the store is reachable and writable, then export again") from exc
    log.info("run %s: %d judgement(s) exported to %s (summary %s)", run_id, table.num_rows, key, skey)
    return ExportResult(key, skey, table.num_rows)


def _ls_annotation(row: dict[str, Any]) -> dict[str, Any]:
    result: list[dict[str, Any]] = [{
        "id": f"j{row['judgement_id']}-{LS_CHOICES}", "from_name": LS_CHOICES, "to_name": LS_OBJECT,
        "type": "choices", "value": {"choices": [row["label_name"]]}}]
    if row["comment"]:
        result.append({"id": f"j{row['judgement_id']}-{LS_COMMENT}", "from_name": LS_COMMENT, "to_name": LS_OBJECT,
                       "type": "textarea", "value": {"text": [row["comment"]]}})
    return {"result": result, "completed_by": row["user"], "created_at": _iso(row["created_at"]),
            "updated_at": _iso(row["judged_at"]), "ground_truth": row["role"] == "lead"}


def label_studio_tasks(db: ReviewDB, run_id: str) -> list[dict[str, Any]]:
    """The judged items of a run as Label Studio tasks, by item id: ``id`` (the item id),
    ``data`` (the record's fields plus ``record_id``, ``queue``, ``decision``, ``reasons``) and
    one annotation per judgement (``completed_by`` is the user's name; a lead's judgement is
    marked ``ground_truth``). Items nobody judged are left out."""
    by_item: dict[int, list[dict[str, Any]]] = {}
    for row in judgement_rows(db, run_id):
        by_item.setdefault(row["item_id"], []).append(row)
    with db.session() as s:
        items = s.execute(select(Item.id, Item.payload, Item.record_id, Item.decision, Item.reasons, Queue.name)
                          .join(Queue, Item.queue_id == Queue.id)
                          .where(Queue.run_id == run_id,
                                 select(Judgement.id).where(Judgement.item_id == Item.id).exists())
                          .order_by(Item.id)).all()
    tasks = []
    for item_id, payload, record_id, decision, reasons, queue in items:
        if item_id not in by_item:  # judged between the two queries: left for the next export
            continue
        fields = json_value((payload or {}).get("fields") or {})
        data = {**fields, "record_id": record_id, "queue": queue, "decision": decision,
                "reasons": list(reasons or [])}
        annotations = [_ls_annotation(row) for row in sorted(by_item[item_id], key=lambda r: r["user_id"])]
        tasks.append({"id": item_id, "data": data, "annotations": annotations})
    return tasks


def label_studio_json(db: ReviewDB, run_id: str) -> bytes:
    """:func:`label_studio_tasks` as an indented UTF-8 JSON document, ready to import."""
    tasks = label_studio_tasks(db, run_id)
    return (json.dumps(tasks, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


__all__ = ["ExportError", "ExportResult", "JUDGEMENT_SCHEMA", "export_parquet", "judgements_key",
           "judgements_table", "label_studio_json", "label_studio_tasks", "summary_key"]
