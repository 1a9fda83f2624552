"""A version's datasheet scans, kept so that the next version's datasheet reads only new shards.

Every modality folds its rows into a scan (``TextScan``, ``ImageScan``): counters, sums and
the values behind quantiles. Scans of disjoint sets of shards merge by adding, so the datasheet
of ``vN+1`` = the scan stored with ``vN``'s card + a scan of the shards ``vN+1`` adds, and a
commit's datasheet costs O(new shards), not O(version). The scan is rebuilt from every shard
when the parent has no stored scan, when it was made by other code (its fingerprint differs:
other columns or word lists), or when the new version removed shards (counters cannot be
taken back without reading what left).

Stored as one ``.npz`` per modality (``allow_pickle`` off: numbers and one JSON header) beside
the card, at :func:`state_key`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import zipfile
from collections import Counter
from typing import Any, TypeVar

import numpy as np

from pipelines.datasheet.measures import Values
from storage.base import ObjectStore
from storage.errors import ObjectNotFoundError, StoreError
from storage.layout import datasheet_prefix

log = logging.getLogger(__name__)

STATE_FORMAT = "kho.datasheet-scan/1"
S = TypeVar("S")


def state_key(dataset: str, version: str, modality: str) -> str:
    """Where the scan of one modality of a version's datasheet is kept."""
    return f"{datasheet_prefix(dataset, version)}/scan-{modality}.npz"


def fingerprint(*parts: Any) -> str:
    """A short hash of what a scan depends on (its format, columns, word lists)."""
    return hashlib.sha256(json.dumps([STATE_FORMAT, *parts], sort_keys=True, ensure_ascii=False,
                                     default=str).encode()).hexdigest()[:16]


def _pairs(counter: Counter) -> list[list[Any]]:
    return [[k, v] for k, v in counter.items()]


def merge_into(acc: S, other: S) -> S:
    """Add ``other``'s counts and values into ``acc`` (two scans of disjoint shards)."""
    for f in dataclasses.fields(acc):  # type: ignore[arg-type]
        a, b = getattr(acc, f.name), getattr(other, f.name)
        if isinstance(a, Counter):
            a.update(b)
        elif isinstance(a, dict):
            for k, v in b.items():
                if isinstance(v, Values):
                    a[k].merge(v)
                else:
                    a[k].update(v)
        else:
            setattr(acc, f.name, a + b)
    return acc


def dump(scan: Any, fp: str, covers: str) -> bytes:
    """A scan as ``.npz`` bytes: a JSON header (counters, sums) and one array per value list."""
    header: dict[str, Any] = {"format": STATE_FORMAT, "fingerprint": fp, "covers": covers, "fields": {}}
    arrays: dict[str, np.ndarray] = {}
    for f in dataclasses.fields(scan):
        v = getattr(scan, f.name)
        if isinstance(v, Counter):
            header["fields"][f.name] = {"counter": _pairs(v)}
        elif isinstance(v, dict):
            if all(isinstance(x, Values) for x in v.values()):
                meta = {}
                for i, (k, vals) in enumerate(v.items()):
                    arrays[f"{f.name}.{i}"] = vals.array()
                    meta[k] = {"array": f"{f.name}.{i}", "seen": vals.seen, "step": vals.step}
                header["fields"][f.name] = {"values": meta}
            else:
                header["fields"][f.name] = {"counters": {k: _pairs(c) for k, c in v.items()}}
        else:
            header["fields"][f.name] = {"number": v}
    buf = io.BytesIO()
    np.savez_compressed(buf, __header__=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8), **arrays)
    return buf.getvalue()


def load(cls: type[S], data: bytes, fp: str) -> tuple[S, str] | None:
    """The scan in ``data`` and the version it covers, or None if it was made for another
    fingerprint or is unreadable (the caller then scans every shard)."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            header = json.loads(bytes(z["__header__"]).decode())
            if header.get("format") != STATE_FORMAT or header.get("fingerprint") != fp:
                return None
            scan = cls()
            for name, spec in header["fields"].items():
                target = getattr(scan, name)
                if "counter" in spec:
                    target.update({k: n for k, n in spec["counter"]})
                elif "counters" in spec:
                    for k, pairs in spec["counters"].items():
                        target[k].update({key: n for key, n in pairs})
                elif "values" in spec:
                    for k, m in spec["values"].items():
                        target[k] = Values.from_array(z[m["array"]], seen=m["seen"], step=m["step"])
                else:
                    setattr(scan, name, spec["number"])
            return scan, header["covers"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile) as exc:
        log.warning("datasheet: a stored scan is unreadable (%s); scanning every shard instead", exc)
        return None


def read(store: ObjectStore, cls: type[S], dataset: str, version: str, modality: str,
         fp: str) -> S | None:
    """The stored scan of ``dataset@version`` for ``modality``, or None (missing, stale, unreadable)."""
    try:
        data = store.get_bytes(state_key(dataset, version, modality))
    except ObjectNotFoundError:
        return None
    except StoreError as exc:
        log.warning("datasheet: the scan of %s@%s (%s) could not be read (%s)", dataset, version, modality, exc)
        return None
    got = load(cls, data, fp)
    if got is None or got[1] != version:
        return None
    return got[0]

