"""A run's tables as the review app sees them: records, review items and their media.

A run (``runs/<run>/``) holds ``stats.json``, ``tables.json`` (table name -> the Parquet
objects of its rejected, duplicates and quarantine tables) and belongs to a version whose
kept shards hold what it published: Parquet for text, WebDataset tars with a Parquet index
per tar for images. :func:`load_run` opens all of that as :class:`RunData`; nothing here
writes to the store.

Media (what a viewer shows besides ``fields``) is referred to, never copied into the review
database, by a :class:`MediaRef`, in one of two forms:

- a byte range of an object: ``key`` + ``offset`` + ``length`` (a member of a kept tar);
- a binary cell of a Parquet run table: ``key`` + ``column`` + ``row_key`` (the row's ``id``),
  with ``offset=None`` and ``length`` the cell's size (the rejected and duplicate images, the
  quarantined raw input).

:func:`read_media` turns either into bytes; :func:`is_run_key` and :func:`allowed_keys` let
the web app refuse any key that is not the run's own (path traversal defence).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

import pyarrow.parquet as pq

from storage.base import ObjectStore, check_key
from storage.errors import InvalidKeyError, ObjectNotFoundError, StoreError
from storage.layout import RUN_ID_RE, check_name, run_id_of, run_prefix
from storage.shards import ShardInfo
from storage.versions import VersionStore

log = logging.getLogger(__name__)

#: The run tables a review queue draws from ("kept" is the version's shards of the run).
TABLES = ("kept", "rejected", "duplicates", "quarantine")
#: Run tables that hold media the app may stream (besides the dataset's own shards).
MEDIA_TABLES = ("rejected", "duplicates", "quarantine")
#: The media name of a quarantined input's raw bytes: leads only, shown as escaped text.
RAW_MEDIA = "raw"
#: Columns never copied into an item's fields: bulky, internal, or raw content.
HIDDEN_COLUMNS = frozenset({"raw", "image", "embedding", "members", "shard", "run_id",
                            "code_version"})
_BATCH_ROWS = 256
_MEMBER_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp",
                 "gif": "image/gif", "wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac",
                 "mp4": "video/mp4", "webm": "video/webm"}


class ReviewError(RuntimeError):
    """Base class of every error the review package raises on purpose (a RuntimeError, so
    `kho` prints its message as one line)."""


class RunNotFoundError(ReviewError):
    """The run has no ``stats.json`` in this store (wrong id, wrong store, or a failed run)."""


class MediaError(ReviewError):
    """A media reference cannot be read: malformed, outside the run, or its row is gone."""


@dataclass(frozen=True)
class MediaRef:
    """Where one medium of an item lies in the store (see the module docstring).

    Exactly one form is set: ``offset`` and ``length`` (a byte range of ``key``), or
    ``column`` and ``row_key`` (a binary cell of the Parquet object ``key``; ``length`` is
    then the cell's size). ``lead_only`` marks content only leads may see (raw inputs).
    """

    key: str
    offset: int | None
    length: int | None
    content_type: str
    column: str | None = None
    row_key: str | None = None
    lead_only: bool = False

    def __post_init__(self) -> None:
        try:
            check_key(self.key)
        except InvalidKeyError as exc:
            raise MediaError(f"media reference with an invalid key: {exc}") from None
        ranged = self.offset is not None
        cell = self.column is not None or self.row_key is not None
        if ranged == cell:
            raise MediaError(f"media reference {self.key!r} must give either offset+length or "
                             "column+row_key, not both or neither")
        if ranged and (self.length is None or self.offset < 0 or self.length < 0):
            raise MediaError(f"media reference {self.key!r}: a byte range needs offset >= 0 and length >= 0")
        if cell and not (self.column and self.row_key):
            raise MediaError(f"media reference {self.key!r}: a table cell needs both column and row_key")

    @property
    def is_range(self) -> bool:
        """Whether this is a byte range of an object (else a Parquet cell)."""
        return self.offset is not None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MediaRef:
        return cls(**data)


@dataclass(frozen=True)
class ReviewItem:
    """One thing an annotator judges: a record (or a duplicate pair) and the pipeline's decision.

    ``fields`` holds JSON values only (the published, PII-scrubbed content, never raw input);
    ``media`` names the item's media (``image``; ``other_image`` for a duplicate pair, whose
    other record's fields are ``fields["other"]``, or None when it was not found).
    """

    item_key: str
    run_id: str
    dataset: str
    modality: str
    queue: str
    record_id: str
    decision: str
    reasons: list[str]
    fields: dict[str, Any]
    media: dict[str, MediaRef] = field(default_factory=dict)
    other_record_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The item as JSON-able data (what the review database stores as an item's payload)."""
        out = asdict(self)
        out["media"] = {name: ref.to_json() for name, ref in self.media.items()}
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReviewItem:
        """Rebuild an item from :meth:`to_json`'s output."""
        media = {name: MediaRef.from_json(ref) for name, ref in (data.get("media") or {}).items()}
        return cls(**{**data, "media": media})


def item_key(run_id: str, queue: str, record_id: str) -> str:
    """The stable key of an item: the same record in the same queue of a run keeps it."""
    return hashlib.sha256(f"{run_id}\n{queue}\n{record_id}".encode()).hexdigest()[:24]


@dataclass(frozen=True)
class RunSummary:
    """One line of the run picker."""

    run_id: str
    dataset: str
    version: str | None
    modality: str
    totals: dict[str, Any]


@dataclass(frozen=True)
class StoredRow:
    """A table row and the store key of the Parquet object it was read from."""

    key: str
    row: dict[str, Any]


class RunData:
    """A run's statistics, tables and published shards, read lazily from the store."""

    def __init__(self, store: ObjectStore, stats: dict[str, Any], tables: dict[str, list[ShardInfo]]) -> None:
        self.store = store
        self.stats = stats
        self.run_id: str = stats["run_id"]
        self.dataset: str = stats["dataset"]
        self.version: str | None = stats.get("version")
        self.modality: str = (stats.get("config") or {}).get("modality", "text")
        self.tables = tables
        self._kept: list[ShardInfo] | None = None

    def __repr__(self) -> str:
        return f"RunData({self.run_id!r}, {self.dataset}@{self.version}, {self.modality})"

    @property
    def pii_redacted(self) -> bool:
        """Whether the run published text with PII replaced by placeholders."""
        return bool(((self.stats.get("config") or {}).get("pii") or {}).get("redact", True))

    def rejection_reasons(self) -> list[str]:
        """Every rule that rejected a record in this run, sorted."""
        return sorted((self.stats.get("rejected_by_reason") or {}).keys())

    def version_shards(self) -> list[ShardInfo]:
        """Every stored object of the run's version (empty while it has none)."""
        if not self.version:
            return []
        vs = VersionStore(self.store)
        return list(vs.shards(vs.manifest(f"{self.dataset}@{self.version}")))

    def kept_shards(self) -> list[ShardInfo]:
        """The record-bearing kept shards this run published (text Parquet, tar indexes)."""
        if self._kept is None:
            if not self.version:
                log.warning("run %s has no committed version yet: its kept queue is empty "
                            "(`kho datasets show %s` repairs an interrupted commit)", self.run_id, self.dataset)
            self._kept = [s for s in self.version_shards()
                          if _holds_records(s) and run_id_of(s.key) == self.run_id]
        return self._kept

    def table_objects(self, table: str) -> list[str]:
        """Store keys of one table's Parquet objects."""
        if table == "kept":
            return [s.key for s in self.kept_shards()]
        if table not in TABLES:
            raise ValueError(f"unknown run table {table!r}: use one of {', '.join(TABLES)}")
        return [s.key for s in self.tables.get(table, [])]

    def iter_rows(self, table: str, columns: list[str] | None = None) -> Iterator[StoredRow]:
        """Rows of one table with the object each came from, batch by batch (bounded memory)."""
        for key in self.table_objects(table):
            for row in iter_parquet(self.store, key, columns):
                yield StoredRow(key, row)

    def iter_records(self, table: str) -> Iterator[dict[str, Any]]:
        """Rows of ``kept``, ``rejected``, ``duplicates`` or ``quarantine`` as dicts."""
        for stored in self.iter_rows(table):
            yield stored.row

    def find_kept(self, ids: Iterable[str]) -> dict[str, StoredRow]:
        """Kept records by id, looked up in this version's shards, then its ancestors' (a
        duplicate may point at a record an earlier version published and a later one removed)."""
        wanted = set(ids)
        found: dict[str, StoredRow] = {}
        if not wanted or not self.version:
            return found
        vs = VersionStore(self.store)
        manifest = vs.manifest(f"{self.dataset}@{self.version}")
        seen: set[str] = set()
        while manifest is not None and wanted - found.keys():
            for shard in vs.shards(manifest):
                if shard.key in seen or not _holds_records(shard):
                    continue
                seen.add(shard.key)
                missing = sorted(wanted - found.keys())
                for row in iter_parquet(self.store, shard.key, filters=[("id", "in", missing)]):
                    found.setdefault(row["id"], StoredRow(shard.key, row))
                if not wanted - found.keys():
                    break
            manifest = vs.manifest(f"{self.dataset}@{manifest.parent}") if manifest.parent else None
        return found


def _holds_records(shard: ShardInfo) -> bool:
    """Parquet shards and tar indexes hold one row per record; tars hold the bytes."""
    return shard.format in ("parquet", "wds-index")


def iter_parquet(store: ObjectStore, key: str, columns: list[str] | None = None,
                 filters: list[tuple[str, str, Any]] | None = None) -> Iterator[dict[str, Any]]:
    """Rows of one Parquet object, read through the store's Arrow filesystem in batches."""
    fs, root = store.arrow_filesystem()
    path = f"{root}/{key}"
    if filters:
        table = pq.read_table(path, filesystem=fs, columns=columns, filters=filters)
        yield from table.to_pylist()
        return
    with fs.open_input_file(path) as fh:  # type: ignore[attr-defined]
        for batch in pq.ParquetFile(fh).iter_batches(batch_size=_BATCH_ROWS, columns=columns):
            yield from batch.to_pylist()


def load_run(store: ObjectStore, run_id: str) -> RunData:
    """Open a run for review: its ``stats.json``, ``tables.json`` and version.

    Raises RunNotFoundError when the run has no statistics (it failed before its commit,
    or the id or store is wrong)."""
    if not RUN_ID_RE.fullmatch(run_id):
        raise RunNotFoundError(f"{run_id!r} is not a run id (they look like 20260101T120000Z-1a2b3c4d); "
                               "see `kho review` run picker or `kho datasets show`")
    prefix = run_prefix(run_id)
    try:
        stats = json.loads(store.get_bytes(f"{prefix}/stats.json"))
    except ObjectNotFoundError:
        raise RunNotFoundError(f"run {run_id} has no stats.json in {store.uri}: it failed before "
                               "its commit, or it belongs to another store") from None
    try:
        index = json.loads(store.get_bytes(f"{prefix}/tables.json"))
    except ObjectNotFoundError:
        index = {}
    tables = {name: [ShardInfo(**info) for info in infos] for name, infos in index.items()}
    return RunData(store, stats, tables)


def list_runs(store: ObjectStore) -> list[RunSummary]:
    """Runs with statistics in the store, newest first (run ids start with their time)."""
    out = []
    for run_id in sorted(store.list_children("runs"), reverse=True):
        if not RUN_ID_RE.fullmatch(run_id):
            continue
        try:
            stats = json.loads(store.get_bytes(f"{run_prefix(run_id)}/stats.json"))
        except ObjectNotFoundError:
            continue  # a run that never reached its commit
        except (StoreError, ValueError) as exc:
            log.warning("run %s: unreadable stats.json skipped (%s)", run_id, exc)
            continue
        out.append(RunSummary(run_id, stats.get("dataset", ""), stats.get("version"),
                              (stats.get("config") or {}).get("modality", "text"), stats.get("totals") or {}))
    return out


# -- fields and media of a row ------------------------------------------------------------
def json_value(value: Any) -> Any:
    """``value`` as JSON data: NaN and infinities become None, dates ISO text, bytes dropped."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return None
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    return value


def row_fields(row: dict[str, Any]) -> dict[str, Any]:
    """What a viewer may show of a row: every column but hidden and binary ones, as JSON."""
    return {k: json_value(v) for k, v in row.items()
            if k not in HIDDEN_COLUMNS and not isinstance(v, (bytes, bytearray, memoryview))}


def sniff_content_type(data: bytes) -> str:
    """The media type of encoded bytes by their magic number (octet-stream if unknown)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return "application/octet-stream"


def media_kind(content_type: str) -> str:
    """``image``, ``audio`` or ``video`` (the media name an item uses), else ``file``."""
    head = content_type.split("/", 1)[0]
    return head if head in ("image", "audio", "video") else "file"


def row_media(stored: StoredRow) -> dict[str, MediaRef]:
    """The media of one row: tar members of a kept sample, binary cells of a run table.

    A quarantine row's ``raw`` cell becomes the lead-only :data:`RAW_MEDIA`."""
    row, media = stored.row, {}
    for member in row.get("members") or []:
        ext = member["name"].rsplit(".", 1)[-1].lower()
        ctype = _MEMBER_TYPES.get(ext)
        if ctype and media_kind(ctype) not in media:
            media[media_kind(ctype)] = MediaRef(row["shard"], int(member["offset"]), int(member["size"]), ctype)
    for column, value in row.items():
        if not isinstance(value, (bytes, bytearray)) or not row.get("id"):
            continue
        if column == "raw":
            media[RAW_MEDIA] = MediaRef(stored.key, None, len(value), "application/octet-stream",
                                        column="raw", row_key=row["id"], lead_only=True)
        elif value:
            ctype = sniff_content_type(bytes(value[:16]))
            media.setdefault(media_kind(ctype) if ctype != "application/octet-stream" else column,
                             MediaRef(stored.key, None, len(value), ctype, column=column, row_key=row["id"]))
    return media


# -- reading media back -------------------------------------------------------------------
def media_size(ref: MediaRef) -> int | None:
    """The medium's size in bytes, known without reading it (None for an old reference)."""
    return ref.length


def read_media(store: ObjectStore, ref: MediaRef) -> bytes:
    """The bytes a reference names: one ranged read, or one cell of a Parquet run table.

    Raises MediaError when the object or row is gone or holds fewer bytes than recorded."""
    try:
        if ref.is_range:
            assert ref.offset is not None and ref.length is not None
            data = store.get_range(ref.key, ref.offset, ref.length)
        else:
            rows = list(iter_parquet(store, ref.key, columns=["id", ref.column],
                                     filters=[("id", "=", ref.row_key)]))
            if not rows:
                raise MediaError(f"row {ref.row_key} is not in {ref.key}: the run table was rewritten; "
                                 "recreate the queue")
            data = rows[0][ref.column] or b""
    except ObjectNotFoundError:
        raise MediaError(f"{ref.key} is gone from the store (removed by gc?); recreate the queue") from None
    if ref.length is not None and len(data) != ref.length:
        raise MediaError(f"{ref.key}: read {len(data)} bytes where {ref.length} were recorded; "
                         "the object changed since the queue was drawn: recreate the queue")
    return data


def is_run_key(run_id: str, dataset: str, key: str) -> bool:
    """Whether ``key`` may be streamed for this run: a safe key inside the run's media
    tables or the dataset's shards (anything else, ``..`` included, is refused)."""
    try:
        check_key(key)
        check_name("dataset", dataset)
    except (InvalidKeyError, ValueError):
        return False
    if not RUN_ID_RE.fullmatch(run_id):
        return False
    prefixes = [f"{run_prefix(run_id)}/{t}/" for t in MEDIA_TABLES] + [f"datasets/{dataset}/shards/"]
    return any(key.startswith(p) for p in prefixes)


def allowed_keys(run: RunData) -> set[str]:
    """Exactly the keys of the run's tables and of its version's shards."""
    keys = {info.key for table in MEDIA_TABLES for info in run.tables.get(table, [])}
    return keys | {s.key for s in run.version_shards()}


__all__ = ["MEDIA_TABLES", "RAW_MEDIA", "TABLES", "MediaError", "MediaRef", "ReviewError", "ReviewItem",
           "RunData", "RunNotFoundError", "RunSummary", "StoredRow", "allowed_keys", "is_run_key",
           "item_key", "iter_parquet", "json_value", "list_runs", "load_run", "media_size", "read_media",
           "row_fields", "row_media"]
