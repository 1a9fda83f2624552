"""Dataset versions: immutable manifests, reusable shard lists, and refs.

Keys (same on every backend):
    datasets/<name>/versions/<version>.json     manifest, written last, never rewritten
    datasets/<name>/refs/<ref>                  a version id as text ("latest", tags)
    datasets/<name>/shardlists/<version>-<n>.parquet
Commit order is shards, then shard lists, then the manifest (the commit point), then refs.
A crash before the manifest leaves only unreferenced objects, which `gc` removes.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from schemas.manifest import SHARD_LIST_MAX_ROWS, SHARD_LIST_SCHEMA, Manifest, ShardListRef, SourceSummary
from storage.base import ObjectStore
from storage.errors import IntegrityError, StoreError, VersionNotFoundError
from storage.merkle import shards_root, version_root
from storage.shards import ShardInfo, json_bytes, write_parquet_object

log = logging.getLogger(__name__)

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
PRIMARY_FORMATS = ("parquet", "webdataset")


def check_name(kind: str, value: str) -> str:
    """Validate a dataset, version or ref name (they become object keys)."""
    if not _NAME_RE.match(value):
        raise ValueError(f"invalid {kind} name {value!r}: use letters, digits, '.', '_' or '-' "
                         "(at most 128, starting with a letter or digit)")
    return value


def dataset_prefix(dataset: str) -> str:
    return f"datasets/{check_name('dataset', dataset)}"


def manifest_key(dataset: str, version: str) -> str:
    return f"{dataset_prefix(dataset)}/versions/{version}.json"


def ref_key(dataset: str, ref: str) -> str:
    return f"{dataset_prefix(dataset)}/refs/{check_name('ref', ref)}"


def shard_prefix(dataset: str, modality: str, run_id: str) -> str:
    """Where one run writes its shards of one modality."""
    return f"{dataset_prefix(dataset)}/shards/{modality}/{run_id}"


@dataclass(frozen=True)
class VersionRef:
    """A parsed ``NAME[@REF]``: REF is a version id or a ref name (default ``latest``)."""

    dataset: str
    ref: str = "latest"

    @classmethod
    def parse(cls, spec: str) -> VersionRef:
        name, _, ref = spec.partition("@")
        return cls(check_name("dataset", name), check_name("ref", ref or "latest"))

    def __str__(self) -> str:
        return f"{self.dataset}@{self.ref}"


class VersionStore:
    """Reads and commits versions of datasets in one object store."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    # -- reading -----------------------------------------------------------------------
    def datasets(self) -> list[str]:
        """Dataset names (one short listing of ``datasets/``; admin use)."""
        return self.store.list_children("datasets")

    def versions(self, dataset: str) -> list[str]:
        """Version ids of a dataset, oldest first (lists only its small versions/ folder)."""
        names = [n[:-5] for n in self.store.list_children(f"{dataset_prefix(dataset)}/versions")
                 if n.endswith(".json")]
        return sorted(names, key=_version_sort_key)

    def refs(self, dataset: str) -> dict[str, str]:
        """Ref name -> version id."""
        out = {}
        for name in self.store.list_children(f"{dataset_prefix(dataset)}/refs"):
            out[name] = self.store.get_text(ref_key(dataset, name)).strip()
        return out

    def resolve(self, ref: VersionRef | str) -> str:
        """The version id a ``NAME@REF`` points at."""
        ref = VersionRef.parse(ref) if isinstance(ref, str) else ref
        if self.store.exists(manifest_key(ref.dataset, ref.ref)):
            return ref.ref
        key = ref_key(ref.dataset, ref.ref)
        if not self.store.exists(key):
            known = ", ".join(self.versions(ref.dataset)[-5:]) or "none"
            raise VersionNotFoundError(
                f"{ref} is neither a version nor a ref of dataset {ref.dataset!r} "
                f"(recent versions: {known}); see `kho datasets list`")
        return self.store.get_text(key).strip()

    def manifest(self, ref: VersionRef | str) -> Manifest:
        """Load and validate the manifest that ``ref`` resolves to."""
        ref = VersionRef.parse(ref) if isinstance(ref, str) else ref
        version = self.resolve(ref)
        return Manifest.model_validate_json(self.store.get_bytes(manifest_key(ref.dataset, version)))

    def shard_list(self, listref: ShardListRef, *, check: bool = True) -> pa.Table:
        """One shard list as a table; ``check`` compares its bytes with the manifest's hash."""
        data = self.store.get_bytes(listref.key)
        if check and hashlib.sha256(data).hexdigest() != listref.sha256:
            raise IntegrityError(f"shard list {listref.key} does not match its manifest hash: "
                                 "the version is damaged; run `kho verify`")
        return pq.read_table(io.BytesIO(data), schema=SHARD_LIST_SCHEMA)

    def shards(self, manifest: Manifest, modality: str | None = None) -> Iterator[ShardInfo]:
        """Every stored object of a version, list by list (bounded memory)."""
        for listref in manifest.shard_lists:
            if modality and listref.modalities and modality not in listref.modalities:
                continue
            for row in self.shard_list(listref).to_pylist():
                if modality is None or row["modality"] == modality:
                    yield ShardInfo(**row)

    # -- writing -----------------------------------------------------------------------
    def commit(
        self,
        dataset: str,
        new_shards: Iterable[ShardInfo],
        *,
        parent: str | None = "latest",
        removed_keys: Iterable[str] = (),
        code_version: str,
        run_id: str = "",
        config_hash: str = "",
        sources: Iterable[SourceSummary | dict[str, Any]] = (),
        stats: dict[str, Any] | None = None,
        refs: Iterable[str] = ("latest",),
    ) -> Manifest:
        """Publish a new version = parent's shards - removed + new, then move ``refs``.

        The parent's shard lists that lose nothing are reused as they are; only lists that
        lose shards are rewritten, and the new shards get lists of their own.
        """
        check_name("dataset", dataset)
        parent_manifest = self._parent(dataset, parent)
        version = self._next_version(dataset, parent_manifest)
        removed = set(removed_keys)
        lists: list[ShardListRef] = []
        pending: list[dict[str, Any]] = []
        if parent_manifest is not None:
            for listref in parent_manifest.shard_lists:
                if not removed:
                    lists.append(listref)
                    continue
                rows = self.shard_list(listref).to_pylist()
                kept = [r for r in rows if r["key"] not in removed]
                if len(kept) == len(rows):
                    lists.append(listref)
                else:
                    pending.extend(kept)
        pending.extend(s.to_dict() for s in new_shards)
        pending.sort(key=lambda r: r["key"])
        for n, start in enumerate(range(0, len(pending), SHARD_LIST_MAX_ROWS)):
            lists.append(self._write_list(dataset, version, n, pending[start:start + SHARD_LIST_MAX_ROWS]))
        manifest = Manifest(
            dataset=dataset, version=version,
            parent=parent_manifest.version if parent_manifest else None,
            created_at=datetime.now(timezone.utc), code_version=code_version,
            config_hash=config_hash, run_id=run_id,
            sources=[s if isinstance(s, SourceSummary) else SourceSummary(**s) for s in sources],
            stats=stats or {}, shard_lists=lists,
            merkle_root=version_root(r.merkle_root for r in lists),
        )
        key = manifest_key(dataset, version)
        if self.store.exists(key):
            raise StoreError(f"version {dataset}@{version} appeared while committing: another run "
                             "committed to this dataset concurrently; rerun to commit on top of it")
        self.store.put_bytes(key, json_bytes(manifest.model_dump(mode="json")), "application/json")
        for ref in refs:
            self.tag(dataset, ref, version)
        log.info("committed %s@%s: %d shards, %d rows", dataset, version,
                 manifest.total_shards, manifest.total_rows)
        return manifest

    def tag(self, dataset: str, ref: str, version: str) -> None:
        """Point ``ref`` at an existing version."""
        if not self.store.exists(manifest_key(dataset, version)):
            raise VersionNotFoundError(f"cannot tag {dataset}@{version}: no such version")
        self.store.put_text(ref_key(dataset, ref), version + "\n")

    def _parent(self, dataset: str, parent: str | None) -> Manifest | None:
        if parent is None:
            return None
        try:
            return self.manifest(VersionRef(dataset, parent))
        except VersionNotFoundError:
            if parent == "latest":
                return None  # first version of a new dataset
            raise

    def _next_version(self, dataset: str, parent: Manifest | None) -> str:
        existing = self.versions(dataset)
        last = max((_version_sort_key(v)[0] for v in existing), default=0)
        return f"v{last + 1}"

    def _write_list(self, dataset: str, version: str, n: int, rows: list[dict[str, Any]]) -> ShardListRef:
        table = pa.Table.from_pylist(rows, schema=SHARD_LIST_SCHEMA)
        key = f"{dataset_prefix(dataset)}/shardlists/{version}-{n:04d}.parquet"
        info = write_parquet_object(self.store, key, table)
        primary = [r for r in rows if r["format"] in PRIMARY_FORMATS]
        return ShardListRef(
            key=key, sha256=info.sha256, bytes=info.bytes, shards=len(rows),
            rows=sum(r["rows"] for r in primary), data_bytes=sum(r["bytes"] for r in rows),
            merkle_root=shards_root((r["key"], r["sha256"]) for r in rows),
            modalities=sorted({r["modality"] for r in rows}),
        )


def _version_sort_key(version: str) -> tuple[int, str]:
    m = re.match(r"^v(\d+)$", version)
    return (int(m.group(1)), version) if m else (0, version)


@dataclass
class VersionDiff:
    """Shards and rows that differ between two versions."""

    added: list[ShardInfo]
    removed: list[ShardInfo]

    @property
    def rows_added(self) -> int:
        return sum(s.rows for s in self.added if s.format in PRIMARY_FORMATS)

    @property
    def rows_removed(self) -> int:
        return sum(s.rows for s in self.removed if s.format in PRIMARY_FORMATS)


def diff_versions(vs: VersionStore, a: Manifest, b: Manifest) -> VersionDiff:
    """What ``b`` has that ``a`` lacks and vice versa (by key and hash).

    Lists shared by both versions are skipped without being read.
    """
    shared = {r.key for r in a.shard_lists} & {r.key for r in b.shard_lists}

    def entries(m: Manifest) -> dict[tuple[str, str], ShardInfo]:
        out = {}
        for listref in m.shard_lists:
            if listref.key in shared:
                continue
            for row in vs.shard_list(listref).to_pylist():
                out[(row["key"], row["sha256"])] = ShardInfo(**row)
        return out

    ea, eb = entries(a), entries(b)
    return VersionDiff(added=[eb[k] for k in sorted(eb.keys() - ea.keys())],
                       removed=[ea[k] for k in sorted(ea.keys() - eb.keys())])
