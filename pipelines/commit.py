"""The commit step of a run: check the books, then publish.

Runs once per run as a DoFn over side inputs (shard infos, statistics, work units), so it
works the same on every runner and nothing is held on the driver. Order: the equation
inputs = kept + rejected + quarantined + duplicates is checked first (a run that would
lose records commits nothing); then the run's tables index, the ledger, the version
manifest (the commit point), and last the run report.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import apache_beam as beam

from pipelines.plan import write_ledger
from storage.base import ObjectStore
from storage.shards import ShardInfo, json_bytes
from storage.versions import VersionStore

log = logging.getLogger(__name__)


class ReconciliationError(RuntimeError):
    """Outcomes do not add up to inputs: a record was lost or counted twice. Nothing is committed."""


def run_prefix(run_id: str) -> str:
    return f"runs/{run_id}"


def check_reconciliation(stats: dict[str, Any]) -> None:
    """Raise ReconciliationError naming each source whose books do not balance."""
    bad = {s: r for s, r in stats["sources"].items() if not r["reconciles"]}
    if bad:
        lines = [f"{s}: inputs {r['inputs']} != kept {r['kept']} + rejected {r['rejected']} + "
                 f"quarantined {r['quarantined']} + duplicates {r['duplicates']}" for s, r in bad.items()]
        raise ReconciliationError("run does not reconcile, nothing committed:\n" + "\n".join(lines))


class CommitRun(beam.DoFn):
    """Publish a run: see the module docstring for the order and why."""

    def __init__(self, store: ObjectStore, dataset: str, run_id: str, code_version: str,
                 config_hash: str, config_dump: dict[str, Any], report_fn) -> None:
        self.store, self.dataset, self.run_id = store, dataset, run_id
        self.code_version, self.config_hash, self.config_dump = code_version, config_hash, config_dump
        self.report_fn = report_fn

    def process(self, _, shards: list[dict], tables: list[tuple[str, dict]], stats: dict,
                units: list[dict], index: list | None = None):
        # ``index`` is only a dependency: the dedup index of this run is written first.
        check_reconciliation(stats)
        prefix = run_prefix(self.run_id)
        table_index: dict[str, list[dict]] = {}
        for name, info in tables:
            table_index.setdefault(name, []).append(info)
        self.store.put_bytes(f"{prefix}/tables.json", json_bytes(table_index), "application/json")
        write_ledger(self.store, units, self.dataset, self.run_id)
        summary = {k: v for k, v in stats.items() if k not in ("samples", "examples")}
        sources = [{"name": s, "uri": ",".join(sorted({u["uri"] for u in units if u["source"]["name"] == s})[:20]),
                    "inputs": r["inputs"], "kept": r["kept"]} for s, r in stats["sources"].items()]
        manifest = VersionStore(self.store).commit(
            self.dataset, [ShardInfo(**s) for s in shards], code_version=self.code_version,
            run_id=self.run_id, config_hash=self.config_hash, sources=sources, stats=summary)
        full = {**stats, "run_id": self.run_id, "dataset": self.dataset, "version": manifest.version,
                "code_version": self.code_version, "config": self.config_dump,
                "tables": {k: [i["key"] for i in v] for k, v in table_index.items()},
                "shards": len(shards), "units": len(units)}
        self.store.put_bytes(f"{prefix}/stats.json", json_bytes(full), "application/json")
        html = self.report_fn(full)
        self.store.put_bytes(f"{prefix}/report.html", html.encode("utf-8"), "text/html; charset=utf-8")
        log.info("run %s committed %s@%s", self.run_id, self.dataset, manifest.version)
        yield json.dumps({"version": manifest.version})
