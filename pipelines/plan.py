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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipelines.config import IngestConfig, SourceConfig
from storage import ledger
from storage.base import ObjectStore
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


def _glob_part_matches(name: str, part: str) -> bool:
    """One path component against one pattern component, as glob matches it: wildcards
    never match a hidden name unless the pattern component starts with a dot too."""
    import fnmatch

    if name.startswith(".") and not part.startswith("."):
        return False
    return fnmatch.fnmatchcase(name, part)


def _glob_matches(names: list[str], parts: list[str]) -> bool:
    """Whether path components ``names`` match pattern components ``parts``; ``**`` is zero
    or more (non-hidden) components. A set of pattern positions, no backtracking."""

    def skip_stars(states: set[int]) -> set[int]:
        out = set(states)
        for j in sorted(states):
            while j < len(parts) and parts[j] == "**":
                j += 1
                out.add(j)
        return out

    states = skip_stars({0})
    for name in names:
        nxt: set[int] = set()
        for j in states:
            if j == len(parts):
                continue
            if parts[j] == "**":
                if not name.startswith("."):
                    nxt.add(j)
            elif _glob_part_matches(name, parts[j]):
                nxt.add(j + 1)
        states = skip_stars(nxt)
    return len(parts) in states


def _walk_glob(pattern: str) -> list[str]:
    """Files a recursive (``**``) pattern matches. Directory links are followed, but each
    real directory (device, inode) is listed once, so a link loop or a folder linked twice
    ends the walk instead of recursing until the path is too long (glob.glob's behaviour)."""
    import os

    parts = list(Path(pattern).parts)
    first = next(i for i, part in enumerate(parts) if glob.has_magic(part))
    root, rest = os.path.join(*parts[:first]) if first else ".", parts[first:]
    seen_dirs: set[tuple[int, int]] = set()
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        try:
            st = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen_dirs:
            dirnames[:] = []
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        dirnames.sort()
        rel = [] if dirpath == root else Path(os.path.relpath(dirpath, root)).parts
        found += [os.path.join(dirpath, f) for f in filenames if _glob_matches([*rel, f], rest)]
    return sorted(found)


def _expand_local(pattern: str) -> list[str]:
    """Paths a local pattern names, sorted: a literal path as is (the caller checks it),
    ``**`` patterns by a loop-safe walk, other globs by glob.glob (they cannot recurse)."""
    if not glob.has_magic(pattern):
        return [pattern]
    if "**" in Path(pattern).parts:
        return _walk_glob(pattern)
    return sorted(glob.glob(pattern))


def _local_entry(src: SourceConfig, match: str) -> tuple[str, str, int, str]:
    """(uri, path, size, fingerprint) of one local match; the uri is the resolved path.

    A broken or looping symlink is kept, with size -1 and the link as its path: the read
    fails to open it and quarantines it, so it is counted instead of stopping the plan. A
    path that is neither a file nor a link stops the plan (the config names it wrongly)."""
    import os

    p = Path(match)
    real = os.path.realpath(match)
    if p.is_file():
        st = os.stat(real)
        return f"file://{real}", real, st.st_size, f"{st.st_size}:{st.st_mtime_ns}"
    if p.is_symlink():
        return f"file://{real}", str(p.absolute()), -1, f"broken-link:{os.readlink(match)}"
    raise NoInputsError(f"source {src.name!r}: input {match} does not exist or is not a file")


def _drop_duplicates(src: SourceConfig, found: list[tuple[str, str, int, str]],
                     where: str) -> list[tuple[str, str, int, str]]:
    """``found`` with each uri once (first occurrence wins), logging how many were dropped:
    the same input twice would give its records twice, under the same ids."""
    import logging

    seen: set[str] = set()
    unique = []
    for entry in found:
        if entry[0] not in seen:
            seen.add(entry[0])
            unique.append(entry)
    if len(unique) < len(found):
        logging.getLogger(__name__).info(
            "source %r: %d duplicate %s inputs dropped (the same file reached by more than one "
            "pattern, link or path)", src.name, len(found) - len(unique), where)
    return unique


def _local_inputs(src: SourceConfig, base: Path) -> list[tuple[str, str, int, str]]:
    """A source's local inputs as (uri, path, size, fingerprint), each file once across all
    its patterns, however many globs, linked folders or link loops reach it."""
    import logging

    found = []
    for pattern in src.paths:
        if pattern.startswith("store:"):
            continue
        full = pattern if Path(pattern).is_absolute() else str(base / pattern)
        found += [_local_entry(src, m) for m in _expand_local(full)]
    found = _drop_duplicates(src, found, "local")
    for _, path, size, _ in found:
        if size < 0:
            logging.getLogger(__name__).warning(
                "source %r: %s is a broken or looping symbolic link; it will be quarantined",
                src.name, path)
    return found


def _store_inputs(src: SourceConfig, store: ObjectStore) -> list[tuple[str, str, int, str]]:
    """A source's inputs in the object store (store:KEY or store:PREFIX/) as (uri, key,
    size, fingerprint), each key once across its patterns."""
    found = []
    for pattern in src.paths:
        if not pattern.startswith("store:"):
            continue
        key = pattern[len("store:"):]
        infos = list(store.list(key)) if key.endswith("/") else [store.stat(key)]
        for info in infos:
            found.append((f"{store.uri.split('?')[0].rstrip('/')}/{info.key}", info.key, info.size,
                          f"{info.size}:{info.modified.isoformat()}"))
    return _drop_duplicates(src, found, "store")


def committed_runs(vs: VersionStore, dataset: str) -> set[str]:
    """Run ids that produced a version of ``dataset`` (names listed, manifests not read)."""
    return set(vs.committed_runs(dataset).values())


def list_units(cfg: IngestConfig, store: ObjectStore) -> list[WorkUnit]:
    """Every input of every source as a work unit (no ledger lookups)."""
    units = []
    for src in cfg.sources:
        inputs = [("local", *i) for i in _local_inputs(src, cfg.base_dir)]
        inputs += [("store", *i) for i in _store_inputs(src, store)]
        inputs = [i for i in inputs if src.accepts(i[1])]  # e.g. an image folder's sidecars
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
        entry = ledger.read_entry(store, dataset, u.source["name"], u.uri)
        (done if ledger.is_done(entry, u.fingerprint, committed) else todo).append(u)
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
