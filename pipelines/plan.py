"""Planning an ingest: list each source's inputs, skip what the ledger already holds, and
turn the rest into deterministic work units.

The ledger has one small object per ingested input, ``ledger/<dataset>/<source>/<uri-hash>.json``,
checked with a point lookup (never a LIST). An entry counts only if the run that wrote it
committed a version, so a run killed before its commit leaves nothing that hides inputs
from the rerun.
"""

from __future__ import annotations

import glob
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipelines.config import IngestConfig, SourceConfig
from storage.base import ObjectStore
from storage.errors import ObjectNotFoundError
from storage.layout import ledger_key
from storage.versions import VersionStore


@dataclass(frozen=True)
class WorkUnit:
    """One input file of one source: the unit of reading, progress and the ledger."""

    unit_id: str
    source: dict[str, Any]
    uri: str
    location: str  # "local" or "store"
    path: str  # local path or store key
    size: int
    fingerprint: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class NoInputsError(ValueError):
    """A source's paths match no files."""


def _local_inputs(src: SourceConfig, base: Path) -> list[tuple[str, str, int, str]]:
    found = []
    for pattern in src.paths:
        if pattern.startswith("store:"):
            continue
        full = pattern if Path(pattern).is_absolute() else str(base / pattern)
        matches = sorted(glob.glob(full, recursive=True)) if glob.has_magic(full) else [full]
        for m in matches:
            p = Path(m)
            if not p.is_file():
                raise NoInputsError(f"source {src.name!r}: input {m} does not exist or is not a file")
            st = p.stat()
            found.append((f"file://{p.resolve()}", str(p.resolve()), st.st_size,
                          f"{st.st_size}:{st.st_mtime_ns}"))
    return found


def _store_inputs(src: SourceConfig, store: ObjectStore) -> list[tuple[str, str, int, str]]:
    found = []
    for pattern in src.paths:
        if not pattern.startswith("store:"):
            continue
        key = pattern[len("store:"):]
        infos = list(store.list(key)) if key.endswith("/") else [store.stat(key)]
        for info in infos:
            found.append((f"{store.uri.split('?')[0].rstrip('/')}/{info.key}", info.key, info.size,
                          f"{info.size}:{info.modified.isoformat()}"))
    return found


def committed_runs(vs: VersionStore, dataset: str) -> set[str]:
    """Run ids that produced a version of ``dataset``."""
    return {vs.manifest(f"{dataset}@{v}").run_id for v in vs.versions(dataset)}


def list_units(cfg: IngestConfig, store: ObjectStore) -> list[WorkUnit]:
    """Every input of every source as a work unit (no ledger lookups)."""
    units = []
    for src in cfg.sources:
        inputs = [("local", *i) for i in _local_inputs(src, cfg.base_dir)]
        inputs += [("store", *i) for i in _store_inputs(src, store)]
        if not inputs:
            raise NoInputsError(f"source {src.name!r}: its paths matched no inputs")
        for location, uri, path, size, fp in inputs:
            unit_id = hashlib.sha256(f"{src.name}\x00{uri}".encode()).hexdigest()[:16]
            units.append(WorkUnit(unit_id, src.model_dump(mode="json"), uri, location, path, size, fp))
    return units


def split_done(units: list[WorkUnit], store: ObjectStore, dataset: str,
               committed: set[str]) -> tuple[list[WorkUnit], list[WorkUnit]]:
    """(to ingest, already ingested): an input is done when its ledger entry has the same
    fingerprint and was written by a run that committed a version (``committed``)."""
    todo, done = [], []
    for u in units:
        try:
            entry = json.loads(store.get_bytes(ledger_key(dataset, u.source["name"], u.uri)))
        except ObjectNotFoundError:
            entry = {}
        if entry.get("fingerprint") == u.fingerprint and entry.get("run_id") in committed:
            done.append(u)
        else:
            todo.append(u)
    return todo, done


def plan_units(cfg: IngestConfig, store: ObjectStore,
               committed: set[str] | None = None) -> tuple[list[WorkUnit], list[str]]:
    """Work units to ingest, and the URIs skipped because the ledger already holds them.

    ``committed``: the dataset's committed run ids, if the caller already has them. A run
    that may overlap others claims its inputs first (pipelines/ingest.py) and then calls
    :func:`split_done`, so that a run committed meanwhile is seen."""
    if committed is None:
        committed = committed_runs(VersionStore(store), cfg.dataset)
    todo, done = split_done(list_units(cfg, store), store, cfg.dataset, committed)
    return todo, [u.uri for u in done]


def write_ledger(store: ObjectStore, units: list[dict[str, Any]], dataset: str, run_id: str) -> None:
    """Record every unit of a run in the ledger (done before the manifest; see module doc)."""
    for u in units:
        store.put_bytes(ledger_key(dataset, u["source"]["name"], u["uri"]), json.dumps(
            {"uri": u["uri"], "fingerprint": u["fingerprint"], "run_id": run_id,
             "dataset": dataset}).encode(), "application/json")
