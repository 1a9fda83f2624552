"""The datasheet's sections: a registry per modality, and the context they read from.

A section is ``fn(ctx) -> dict``: a mapping from a heading of the datasheet
(``composition``, ``provenance``, ``funnel``, ``privacy``, ``skew``, ``quality``) to what the
section contributes there. Sections registered for a modality (``"text"``, ``"image"``) run
only when the version has shards of it and land under ``datasheet[heading][modality]``;
sections registered for :data:`ALL` run for every version and are merged into
``datasheet[heading]`` directly. A new modality adds its own sections by calling
:func:`register_section` at import time, as pipelines/datasheet/text.py does.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.datasheet.bounds import DatasheetBounds
from schemas.manifest import Manifest
from storage.base import ObjectStore
from storage.errors import ObjectNotFoundError, StoreError
from storage.layout import datasheet_prefix, run_prefix
from storage.shards import ShardInfo
from storage.versions import VersionStore, diff_versions

log = logging.getLogger(__name__)

ALL = "*"
Section = Callable[["SheetContext"], dict[str, Any]]
_SECTIONS: dict[str, list[Section]] = {}


def register_section(modality: str, fn: Section) -> Section:
    """Add ``fn`` to the sections of ``modality`` (or :data:`ALL`) and return it.
    Registering the same function twice is a no-op (modules may be re-imported)."""
    fns = _SECTIONS.setdefault(modality, [])
    if fn not in fns:
        fns.append(fn)
    return fn


def sections_for(modality: str) -> list[Section]:
    """The sections registered for ``modality``, in registration order."""
    return list(_SECTIONS.get(modality, ()))


class _RangeFile(io.RawIOBase):
    """A seekable read-only view of one stored object through ranged reads, so pyarrow
    fetches a Parquet footer and the column chunks it needs, not the whole object."""

    def __init__(self, store: ObjectStore, key: str) -> None:
        self.store, self.key = store, key
        self.size = store.stat(key).size
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def readinto(self, buf) -> int:
        n = min(len(buf), max(0, self.size - self.pos))
        if n == 0:
            return 0
        data = self.store.get_range(self.key, self.pos, n)
        buf[:len(data)] = data
        self.pos += len(data)
        return len(data)


@dataclass
class SheetContext:
    """What sections read: the version, its lineage (newest first), the store, the bounds,
    and helpers that read stored columns batch by batch and run stats once each."""

    vs: VersionStore
    manifest: Manifest
    lineage: list[Manifest]
    bounds: DatasheetBounds
    broken_lineage: str | None = None
    #: False: every scan reads every shard (``kho datasets card --rebuild``, tests)
    incremental: bool = True
    #: modality -> (fingerprint, scan) of the scans made here, for the card to keep
    scans: dict[str, tuple[str, Any]] = field(default_factory=dict)
    #: modality -> how its scan was made: "incremental from vN (+K shards)" or "full (K shards)"
    scan_mode: dict[str, str] = field(default_factory=dict)
    _memo: dict[str, Any] = field(default_factory=dict)
    _shards: list[ShardInfo] | None = None

    @property
    def store(self) -> ObjectStore:
        return self.vs.store

    def memo(self, key: str, fn: Callable[[], Any]) -> Any:
        """``fn()`` computed once per datasheet (a scan shared by several sections)."""
        if key not in self._memo:
            self._memo[key] = fn()
        return self._memo[key]

    def shards(self, modality: str | None = None, fmt: str | None = None) -> list[ShardInfo]:
        """The version's stored objects, filtered by modality and format."""
        if self._shards is None:
            self._shards = list(self.vs.shards(self.manifest))
        return [s for s in self._shards
                if (modality is None or s.modality == modality) and (fmt is None or s.format == fmt)]

    def fold(self, modality: str, fmt: str, columns: list[str], make: type,
             add_batch: Callable[[Any, pa.RecordBatch], None], fp: str) -> Any:
        """The scan of this version's ``modality`` shards of format ``fmt``: the parent's stored
        scan plus the shards this version adds when that is possible (see
        pipelines/datasheet/state.py), else a scan of every shard. ``add_batch(scan, batch)``
        folds one record batch of ``columns``; ``fp`` names what the scan depends on."""
        from pipelines.datasheet import state

        acc, shards = None, None
        parent = self.lineage[1] if self.incremental and len(self.lineage) > 1 else None
        if parent is not None:
            acc = state.read(self.store, make, self.manifest.dataset, parent.version, modality, fp)
            if acc is not None:
                diff = diff_versions(self.vs, parent, self.manifest)
                if diff.removed:
                    acc = None  # counts cannot be taken back without reading what left
                else:
                    shards = [s for s in diff.added if s.modality == modality and s.format == fmt]
        if acc is None:
            acc, shards = make(), self.shards(modality, fmt)
            self.scan_mode[modality] = f"full ({len(shards)} shards)"
        else:
            self.scan_mode[modality] = f"incremental from {parent.version} (+{len(shards)} shards)"
        for batch in self.batches(shards, columns):
            add_batch(acc, batch)
        self.scans[modality] = (fp, acc)
        return acc

    def batches(self, shards: list[ShardInfo], columns: list[str],
                batch_size: int = 1024) -> Iterator[pa.RecordBatch]:
        """Record batches of the given Parquet objects, reading only ``columns`` (nested ones
        as ``struct.field``); columns a shard lacks are left out of its batches.

        1,024 rows a batch: the scans turn each batch into Python rows (the text column too),
        and at 4,096 the card written at commit peaked about 50 MB higher for no speed gain
        (measured on a 20,000-document version)."""
        for shard in shards:
            with io.BufferedReader(_RangeFile(self.store, shard.key), buffer_size=1 << 20) as fh:
                pf = pq.ParquetFile(fh)
                wanted = [c for c in columns if _has_path(pf.schema_arrow, c)]
                yield from pf.iter_batches(batch_size=batch_size, columns=wanted)

    def parent_sheet(self) -> dict[str, Any] | None:
        """The parent version's stored datasheet (``datasheet.json``), or None without one
        (or when this build is not incremental): sections reuse what it computed per run."""
        if not self.incremental or len(self.lineage) < 2:
            return None
        parent = self.lineage[1]

        def load() -> dict[str, Any] | None:
            sheet = read_json(self.store, f"{datasheet_prefix(parent.dataset, parent.version)}/datasheet.json")
            ok = isinstance(sheet, dict) and sheet.get("version") == parent.version
            return sheet if ok else None
        return self.memo("parent-sheet", load)

    def run_stats(self, run_id: str) -> dict[str, Any] | None:
        """``runs/<run>/stats.json`` of a run in the lineage, or None if it is missing."""
        return self.memo(f"stats:{run_id}", lambda: read_json(self.store, f"{run_prefix(run_id)}/stats.json"))


def _has_path(schema: pa.Schema, column: str) -> bool:
    head, _, rest = column.partition(".")
    if head not in schema.names:
        return False
    if not rest:
        return True
    t = schema.field(head).type
    return isinstance(t, pa.StructType) and t.get_field_index(rest) >= 0


def read_json(store: ObjectStore, key: str) -> Any:
    """A JSON object of the store, or None when it is missing or unreadable (logged)."""
    try:
        return json.loads(store.get_bytes(key))
    except ObjectNotFoundError:
        return None
    except (StoreError, ValueError) as exc:
        log.warning("datasheet: could not read %s (%s); treated as missing", key, exc)
        return None
