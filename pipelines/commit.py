"""The commit step of a run: check the books, then publish.

Runs once per run as a DoFn over side inputs (shard infos, statistics, work units), so it
works the same on every runner and nothing is held on the driver. Order:

1. the equation inputs = kept + rejected + quarantined + duplicates (a run that would lose
   records commits nothing), and the run's input claims (a run that lost them commits nothing);
2. every new shard exists (gc or an operator cannot have removed what the manifest will name);
3. the run's tables index and ledger entries, ``stats.json`` without a version (all keyed by
   the run id);
4. the commit loop: re-check dedup against versions committed since planning
   (pipelines/recheck.py), then one conditional create of the next version on top of the head;
   a lost race goes round again;
5. ``stats.json`` with the version, the run report, and the version's datasheet
   (pipelines/datasheet; a failure there only logs a warning: the version is committed).
   A run killed between 4 and 5 has a version without a report: `kho datasets show` and the
   next ingest rebuild it (repair_run), and `kho datasets card` builds a missing datasheet.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import apache_beam as beam
import pyarrow as pa

from pipelines.datasheet.card import card_keys, write_card_after_commit
from storage import ledger
from storage.base import ObjectStore
from storage.errors import ObjectNotFoundError, StoreError
from storage.faults import checkpoint
from storage.layout import run_prefix
from storage.leases import RunLease
from storage.shards import ShardInfo, json_bytes
from storage.versions import COMMIT_ATTEMPTS, CommitConflictError, VersionStore

log = logging.getLogger(__name__)


class ReconciliationError(RuntimeError):
    """Outcomes do not add up to inputs: a record was lost or counted twice. Nothing is committed."""


def check_reconciliation(stats: dict[str, Any]) -> None:
    """Raise ReconciliationError naming each source whose books do not balance."""
    bad = {s: r for s, r in stats["sources"].items() if not r["reconciles"]}
    if bad:
        lines = [f"{s}: inputs {r['inputs']} != kept {r['kept']} + rejected {r['rejected']} + "
                 f"quarantined {r['quarantined']} + duplicates {r['duplicates']}" for s, r in bad.items()]
        raise ReconciliationError("run does not reconcile, nothing committed:\n" + "\n".join(lines))


class MissingShardError(StoreError):
    """A shard this run wrote is gone before its commit (deleted by hand or by a gc run)."""


def check_shards_exist(store: ObjectStore, shards: list[dict[str, Any]]) -> None:
    """Raise MissingShardError naming the first missing shard: never commit a dangling version."""
    for s in shards:
        if not store.exists(s["key"]):
            raise MissingShardError(f"shard {s['key']} of this run is missing before its commit "
                                    "(deleted by gc or by hand?); nothing committed: rerun the ingest")


def runs_since(vs: VersionStore, head, seen: set[str]) -> list[str]:
    """Runs of ``head`` and its ancestors that are not in ``seen`` (newest first, stopping at
    a seen one). Walking from the head this commit will build on, not from whatever is newest
    by now, is what makes the check complete: a version committed after ``head`` was read
    makes the conditional create fail, and the loop checks again."""
    out = []
    m = head
    while m is not None and m.run_id not in seen:
        out.append(m.run_id)
        m = vs.manifest(f"{m.dataset}@{m.parent}") if m.parent else None
    return out


class CommitRun(beam.DoFn):
    """Publish a run: see the module docstring for the order and why.

    ``seen_runs``: the committed runs whose dedup index this run was checked against when it
    planned; ``recheck``: whether to re-check against runs committed since (near dedup on);
    ``dup_schema``: the schema of the duplicates table, for records the re-check moves there.
    """

    def __init__(self, store: ObjectStore, dataset: str, run_id: str, code_version: str,
                 config_hash: str, config_dump: dict[str, Any], report_fn: Callable[[dict], str],
                 seen_runs: set[str] | None = None, recheck: bool = False,
                 dup_schema: pa.Schema | None = None) -> None:
        self.store, self.dataset, self.run_id = store, dataset, run_id
        self.code_version, self.config_hash, self.config_dump = code_version, config_hash, config_dump
        self.report_fn = report_fn
        self.seen_runs, self.recheck, self.dup_schema = set(seen_runs or ()), recheck, dup_schema

    def process(self, _, shards: list[dict], tables: list[tuple[str, dict]], stats: dict,
                units: list[dict], index: list | None = None):
        # ``index`` is only a dependency: the dedup index of this run is written first.
        check_reconciliation(stats)
        lease = RunLease(self.store, self.dataset, self.run_id)
        lease.claimed = [u["unit_id"] for u in units]
        lease.check_claims()
        check_shards_exist(self.store, shards)
        checkpoint("after_shards")
        prefix = run_prefix(self.run_id)
        table_index: dict[str, list[dict]] = {}
        for name, info in tables:
            table_index.setdefault(name, []).append(info)
        ledger.write_entries(self.store, units, self.dataset, self.run_id)
        vs = VersionStore(self.store)
        manifest, seen = None, set(self.seen_runs)
        for attempt in range(COMMIT_ATTEMPTS):
            head = vs.head(self.dataset)
            shards = self._recheck(vs, head, shards, stats, table_index, seen, attempt)
            self.store.put_bytes(f"{prefix}/tables.json", json_bytes(table_index), "application/json")
            summary = {k: v for k, v in stats.items() if k not in ("samples", "examples")}
            self.store.put_bytes(f"{prefix}/stats.json", json_bytes(self._full(stats, table_index, shards, units)),
                                 "application/json")
            sources = [{"name": s, "uri": ",".join(sorted({u["uri"] for u in units
                                                            if u["source"]["name"] == s})[:20]),
                        "inputs": r["inputs"], "kept": r["kept"]} for s, r in stats["sources"].items()]
            try:
                manifest = vs.try_commit(
                    self.dataset, [ShardInfo(**s) for s in shards], parent=head,
                    code_version=self.code_version, run_id=self.run_id, config_hash=self.config_hash,
                    sources=sources, stats=summary)
                break
            except CommitConflictError as exc:
                log.info("run %s: %s; re-checking and retrying", self.run_id, exc)
        if manifest is None:
            raise CommitConflictError(f"run {self.run_id}: {COMMIT_ATTEMPTS} commits in a row lost "
                                      "to concurrent runs; nothing committed, rerun later")
        full = self._full(stats, table_index, shards, units, manifest.version)
        self.store.put_bytes(f"{prefix}/stats.json", json_bytes(full), "application/json")
        checkpoint("after_stats")
        html = self.report_fn(full)
        self.store.put_bytes(f"{prefix}/report.html", html.encode("utf-8"), "text/html; charset=utf-8")
        write_card_after_commit(self.store, self.dataset, manifest.version)
        log.info("run %s committed %s@%s", self.run_id, self.dataset, manifest.version)
        yield json.dumps({"version": manifest.version})

    def _recheck(self, vs: VersionStore, head, shards: list[dict], stats: dict,
                 table_index: dict[str, list[dict]], seen: set[str], attempt: int) -> list[dict]:
        """Drop kept records that duplicate runs committed since this run planned, up to ``head``."""
        new_runs = runs_since(vs, head, seen)
        seen.update(new_runs)
        if not (self.recheck and new_runs):
            return shards
        from pipelines.recheck import concurrent_duplicates, drop_concurrent_duplicates

        found = concurrent_duplicates(self.store, self.dataset, self.run_id, new_runs)
        tag = f"-c{attempt}"
        shards, dup_info = drop_concurrent_duplicates(
            self.store, self.dataset, self.run_id, shards, stats, found,
            f"{run_prefix(self.run_id)}/duplicates/concurrent{tag}.parquet", self.dup_schema, tag)
        if dup_info is not None:
            table_index.setdefault("duplicates", []).append(dup_info.to_dict())
        return shards

    def _full(self, stats: dict, table_index: dict, shards: list[dict], units: list[dict],
              version: str | None = None) -> dict[str, Any]:
        return {**stats, "run_id": self.run_id, "dataset": self.dataset, "version": version,
                "code_version": self.code_version, "config": self.config_dump,
                "tables": {k: [i["key"] for i in v] for k, v in table_index.items()},
                "shards": len(shards), "units": len(units)}


def repair_run(store: ObjectStore, run_id: str, version: str,
               report_fn: Callable[[dict], str]) -> bool:
    """Finish a run killed right after its commit point: stats.json gets its version, the
    report is rendered from it and the datasheet written. Return whether anything was repaired."""
    prefix = run_prefix(run_id)
    try:
        stats = json.loads(store.get_bytes(f"{prefix}/stats.json"))
    except ObjectNotFoundError:
        return False
    if stats.get("version") == version and store.exists(f"{prefix}/report.html"):
        return False
    dataset = stats.get("dataset")
    stats["version"] = version
    store.put_bytes(f"{prefix}/stats.json", json_bytes(stats), "application/json")
    store.put_bytes(f"{prefix}/report.html", report_fn(stats).encode("utf-8"), "text/html; charset=utf-8")
    if dataset and not store.exists(card_keys(dataset, version)["readme"]):
        write_card_after_commit(store, dataset, version)
    log.warning("run %s was interrupted after committing %s: its stats and report were rebuilt",
                run_id, version)
    return True
