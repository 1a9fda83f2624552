"""The ingest ledger: one small object per ingested input, ``ledger/<dataset>/<source>/<uri-hash>.json``.

An entry counts only if the run that wrote it committed a version (see the commit protocol in
docs/architecture.md), so a run killed before its commit leaves nothing that hides inputs from
the rerun. Point lookups only: nothing here LISTs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from storage.base import ObjectStore
from storage.errors import ObjectNotFoundError
from storage.layout import ledger_key


def read_entry(store: ObjectStore, dataset: str, source: str, uri: str) -> dict[str, Any]:
    """The ledger entry of one input, or {} if it has none (or it is unreadable)."""
    try:
        return json.loads(store.get_bytes(ledger_key(dataset, source, uri)))
    except (ObjectNotFoundError, ValueError):
        return {}


def is_done(entry: dict[str, Any], fingerprint: str, committed: set[str]) -> bool:
    """Whether an entry says the input, as it is now, was ingested by a committed run."""
    return entry.get("fingerprint") == fingerprint and entry.get("run_id") in committed


def write_entries(store: ObjectStore, units: Iterable[dict[str, Any]], dataset: str, run_id: str) -> None:
    """Record every unit of a run (written before the run's manifest)."""
    for u in units:
        store.put_bytes(ledger_key(dataset, u["source"]["name"], u["uri"]), json.dumps(
            {"uri": u["uri"], "fingerprint": u["fingerprint"], "run_id": run_id,
             "dataset": dataset}).encode(), "application/json")
