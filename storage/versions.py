"""Dataset versions: immutable manifests, reusable shard lists, and refs.

Keys are built in storage/layout.py. Commit order: shards, then shard lists (named by the run
that writes them, so two runs never write the same list), then the manifest with a
conditional create (the commit point: of two racing commits for ``vN`` exactly one wins, the
other gets CommitConflictError and retries on top of the winner), then refs. A new version's
parent is the highest committed version, never whatever ``latest`` says: a run killed between
its manifest and its ref leaves a stale ref, which the next commit (or ``repair_refs``) moves.
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

from schemas.manifest import (PRIMARY_FORMATS, SHARD_LIST_MAX_ROWS, SHARD_LIST_SCHEMA, Manifest, ShardListRef,
                              SourceSummary, list_totals)
from storage.base import ObjectStore
from storage.errors import IntegrityError, ObjectNotFoundError, StoreError, VersionNotFoundError
from storage.faults import checkpoint
from storage.layout import (check_name, committed_marker_key, committed_prefix, dataset_prefix, manifest_key, ref_key,
                            shard_prefix, shardlist_key, versions_prefix)
from storage.merkle import shards_root
from storage.shards import ShardInfo, json_bytes, write_parquet_object

log = logging.getLogger(__name__)

COMMIT_ATTEMPTS = 8

__all__ = ["CommitConflictError", "PRIMARY_FORMATS", "VersionRef", "VersionStore", "check_name",
           "dataset_prefix", "diff_versions", "manifest_key", "ref_key", "shard_prefix"]


class CommitConflictError(StoreError):
    """Another run committed the version number this commit was about to take."""


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
        names = [n[:-5] for n in self.store.list_children(versions_prefix(dataset))
                 if n.endswith(".json")]
        return sorted(names, key=_version_sort_key)

    def refs(self, dataset: str) -> dict[str, str]:
        """Ref name -> version id."""
        out = {}
        for name in self.store.list_children(f"{dataset_prefix(dataset)}/refs"):
            out[name] = self.ref_entry(dataset, name)[0]
        return out

    def ref_entry(self, dataset: str, ref: str) -> tuple[str, str | None]:
        """(version, manifest root the ref recorded or None for old refs) of one ref."""
        parts = self.store.get_text(ref_key(dataset, ref)).split()
        if not parts:
            raise IntegrityError(f"ref {dataset}@{ref} is empty: run `kho datasets repair {dataset}`")
        return parts[0], (parts[1] if len(parts) > 1 else None)

    def head(self, dataset: str) -> Manifest | None:
        """The highest committed version (the parent of the next commit), or None."""
        versions = self.versions(dataset)
        return self.manifest(f"{dataset}@{versions[-1]}") if versions else None

    def resolve(self, ref: VersionRef | str) -> str:
        """The version id a ``NAME@REF`` points at."""
        ref = VersionRef.parse(ref) if isinstance(ref, str) else ref
        if self.store.exists(manifest_key(ref.dataset, ref.ref)):
            return ref.ref
        try:
            return self.ref_entry(ref.dataset, ref.ref)[0]
        except ObjectNotFoundError:
            known = ", ".join(self.versions(ref.dataset)[-5:]) or "none"
            raise VersionNotFoundError(
                f"{ref} is neither a version nor a ref of dataset {ref.dataset!r} "
                f"(recent versions: {known}); see `kho datasets list`") from None

    def manifest(self, ref: VersionRef | str) -> Manifest:
        """Load and validate the manifest that ``ref`` resolves to."""
        ref = VersionRef.parse(ref) if isinstance(ref, str) else ref
        version = self.resolve(ref)
        return Manifest.model_validate_json(self.store.get_bytes(manifest_key(ref.dataset, version)))

    def committed_runs(self, dataset: str) -> dict[str, str]:
        """Version -> the run id that committed it, for every version of ``dataset``.

        Two listings of names (``versions/`` and ``committed/``) instead of a read of every
        manifest: each commit leaves an empty ``<version>=<run>`` marker after its commit point.
        A version without one (committed before markers existed, or by a run killed right after
        its commit point) has its manifest read once and its marker written, when the store
        allows writes."""
        marked: dict[str, str] = {}
        for name in self.store.list_children(committed_prefix(dataset)):
            version, sep, run = name.partition("=")
            if sep:
                marked[version] = run
        out = {}
        for version in self.versions(dataset):
            if version not in marked:
                run = self.manifest(VersionRef(dataset, version)).run_id
                self.mark_committed(dataset, version, run)
                marked[version] = run
            out[version] = marked[version]
        return out

    def mark_committed(self, dataset: str, version: str, run_id: str) -> None:
        """Write the ``committed/<version>=<run>`` marker (empty, idempotent). Never raises:
        it runs after the commit point, and a missing marker only costs the next reader one
        manifest read (it writes the marker then)."""
        try:
            self.store.put_bytes(committed_marker_key(dataset, version, run_id), b"", "application/octet-stream")
        except StoreError as exc:
            log.warning("could not write the committed marker of %s@%s (%s); the next ingest will", dataset,
                        version, exc)

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

    def format_totals(self, manifest: Manifest) -> dict[tuple[str, str], tuple[int, int, int]]:
        """(modality, format) -> (shards, rows, bytes) of a version: from the manifest alone,
        reading only lists whose reference predates per-format totals (old versions)."""
        by: dict[tuple[str, str], tuple[int, int, int]] = {}
        for ref in manifest.shard_lists:
            formats = ref.formats
            if formats is None:
                formats = list_totals(self.shard_list(ref).to_pylist())["formats"]
            for name, (shards, rows, size) in formats.items():
                key = tuple(name.split("/", 1))
                n, r, b = by.get(key, (0, 0, 0))
                by[key] = (n + shards, r + rows, b + size)
        return by

    # -- writing -----------------------------------------------------------------------
    def commit(self, dataset: str, new_shards: Iterable[ShardInfo], *, parent: str | None = "latest",
               attempts: int = COMMIT_ATTEMPTS, **kw: Any) -> Manifest:
        """Publish a new version = parent's shards - removed + new, retrying lost races.

        ``parent="latest"`` (the default) means the highest committed version; ``None`` starts
        a version with no parent; any other ref or version id branches from that version.
        Callers that must re-check their data when another run committed first (dedup) use
        :meth:`try_commit` in their own loop instead. ``kw``: see :meth:`try_commit`.
        """
        shards = list(new_shards)
        for _ in range(attempts):
            base = self.head(dataset) if parent == "latest" else self._parent(dataset, parent)
            try:
                return self.try_commit(dataset, shards, parent=base, **kw)
            except CommitConflictError as exc:
                log.info("%s; retrying on top of it", exc)
        raise CommitConflictError(f"{dataset}: {attempts} commits in a row lost to concurrent runs; "
                                  "rerun later")

    def try_commit(
        self,
        dataset: str,
        new_shards: Iterable[ShardInfo],
        *,
        parent: Manifest | None,
        removed_keys: Iterable[str] = (),
        code_version: str,
        run_id: str = "",
        config_hash: str = "",
        sources: Iterable[SourceSummary | dict[str, Any]] = (),
        stats: dict[str, Any] | None = None,
        refs: Iterable[str] = ("latest",),
    ) -> Manifest:
        """One attempt to publish ``v(N+1)`` on top of ``parent`` (``vN``).

        The parent's shard lists that lose nothing are reused as they are; only lists that
        lose shards are rewritten, and the new shards get lists of their own, all named by
        ``run_id`` and the version. The parent's last list, when under half full, is rewritten
        together with the new rows, so that many small commits do not make a manifest of many
        small lists: a version has about N / 50,000 lists whatever its commits were, and a
        commit rewrites at most 25,000 old rows. Raises CommitConflictError if ``v(N+1)``
        exists already.
        """
        check_name("dataset", dataset)
        version = self._next_version(dataset, parent)
        tag = f"-{version}"
        removed = set(removed_keys)
        lists: list[ShardListRef] = []
        pending: list[dict[str, Any]] = []
        if parent is not None:
            for listref in parent.shard_lists:
                if not removed:
                    lists.append(listref)
                    continue
                rows = self.shard_list(listref).to_pylist()
                kept = [r for r in rows if r["key"] not in removed]
                if len(kept) == len(rows):
                    lists.append(listref)
                else:
                    pending.extend(kept)
        new_rows = [s.to_dict() for s in new_shards]
        if new_rows and lists and lists[-1].shards < SHARD_LIST_MAX_ROWS // 2:
            pending.extend(self.shard_list(lists.pop()).to_pylist())
        pending.extend(new_rows)
        pending.sort(key=lambda r: r["key"])
        owner = run_id or "manual"
        for n, start in enumerate(range(0, len(pending), SHARD_LIST_MAX_ROWS)):
            lists.append(self._write_list(shardlist_key(dataset, owner, n, tag),
                                          pending[start:start + SHARD_LIST_MAX_ROWS]))
        manifest = Manifest(
            dataset=dataset, version=version,
            parent=parent.version if parent else None,
            parent_root=parent.merkle_root if parent else None,
            created_at=datetime.now(timezone.utc), code_version=code_version,
            config_hash=config_hash, run_id=run_id,
            sources=[s if isinstance(s, SourceSummary) else SourceSummary(**s) for s in sources],
            stats=stats or {}, shard_lists=lists, merkle_root="0" * 64,
        )
        manifest = manifest.model_copy(update={"merkle_root": manifest.expected_root()})
        checkpoint("before_commit_point")
        if not self.store.put_if_absent(manifest_key(dataset, version),
                                        json_bytes(manifest.model_dump(mode="json")), "application/json"):
            raise CommitConflictError(f"{dataset}@{version} was committed by another run first")
        checkpoint("after_commit_point")
        self.mark_committed(dataset, version, run_id)
        for ref in refs:
            self.tag(dataset, ref, version, root=manifest.merkle_root)
        log.info("committed %s@%s: %d shards, %d rows", dataset, version,
                 manifest.total_shards, manifest.total_rows)
        return manifest

    def tag(self, dataset: str, ref: str, version: str, *, root: str | None = None) -> None:
        """Point ``ref`` at an existing version (the ref records the version's root too).

        ``root``: the version's Merkle root when the caller holds its manifest (the commit
        that just wrote it), which saves reading the manifest back."""
        if root is None:
            try:
                root = Manifest.model_validate_json(self.store.get_bytes(manifest_key(dataset, version))).merkle_root
            except ObjectNotFoundError:
                raise VersionNotFoundError(f"cannot tag {dataset}@{version}: no such version") from None
        self.store.put_text(ref_key(dataset, ref), f"{version} {root}\n")

    def repair_refs(self, dataset: str) -> str | None:
        """Move ``latest`` to the highest version if a crash left it behind; return the old target."""
        versions = self.versions(dataset)
        if not versions:
            return None
        try:
            current = self.ref_entry(dataset, "latest")[0]
        except (ObjectNotFoundError, IntegrityError):
            current = None
        if current != versions[-1]:
            log.warning("%s@latest pointed at %s, not the highest version %s (a run was interrupted "
                        "after its commit); moved it", dataset, current, versions[-1])
            self.tag(dataset, "latest", versions[-1])
            return current or "-"
        return None

    def _parent(self, dataset: str, parent: str | None) -> Manifest | None:
        if parent is None:
            return None
        return self.manifest(VersionRef(dataset, parent))

    @staticmethod
    def _next_version(dataset: str, parent: Manifest | None) -> str:
        """``parent`` + 1, strictly: if that number is taken, the conditional create fails and
        the caller learns that its parent is no longer the head (no version is skipped over)."""
        return f"v{_version_sort_key(parent.version)[0] + 1}" if parent else "v1"

    def _write_list(self, key: str, rows: list[dict[str, Any]]) -> ShardListRef:
        table = pa.Table.from_pylist(rows, schema=SHARD_LIST_SCHEMA)
        info = write_parquet_object(self.store, key, table)
        return ShardListRef(key=key, sha256=info.sha256, bytes=info.bytes,
                            merkle_root=shards_root((r["key"], r["sha256"]) for r in rows),
                            **list_totals(rows))


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
