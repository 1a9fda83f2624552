"""The object store interface that every Kho layer writes through.

Two backends implement it: a local directory (the embedded default) and an S3-compatible
bucket (MinIO in production) through the minio SDK. Keys are '/'-separated, relative and the
same on both, so a dataset can be copied between them unchanged.
"""

from __future__ import annotations

import abc
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from storage.errors import InvalidKeyError

#: Objects larger than this are uploaded in parts by ``put_file``.
MULTIPART_THRESHOLD = 64 * 1024 * 1024
MULTIPART_PART_SIZE = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What a store knows about one object without reading it."""

    key: str
    size: int
    modified: datetime


def check_range(start: int, length: int) -> None:
    """Refuse a byte range no store can serve: ``get_range`` takes ``start, length >= 0``."""
    if start < 0 or length < 0:
        raise ValueError(f"invalid byte range start={start} length={length}: both must be >= 0")


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe relative object key, else raise InvalidKeyError."""
    if not key or key.startswith("/") or "\\" in key:
        raise InvalidKeyError(f"invalid object key {key!r}: use a relative '/'-separated key")
    norm = posixpath.normpath(key)
    if norm != key.rstrip("/") or norm.startswith("..") or "/../" in f"/{norm}/":
        raise InvalidKeyError(f"invalid object key {key!r}: no '.', '..' or empty segments")
    return key


class ObjectStore(abc.ABC):
    """An S3-like flat key space with atomic puts.

    Writers rely on one guarantee: an object is either absent or complete. Readers never
    observe a partial object, so a crash mid-write leaves at most an unreferenced object.
    """

    #: A URI that reopens the same store (no credentials in it).
    uri: str

    @abc.abstractmethod
    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Store ``data`` under ``key`` atomically, replacing any previous object."""

    @abc.abstractmethod
    def put_if_absent(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> bool:
        """Create ``key`` only if no object is stored under it; return whether this call created it.

        The one conditional write of the commit protocol: of two racing callers exactly one
        gets True (S3 ``If-None-Match: *``; locally an exclusive hard link of a complete file).
        ``data`` must be unique to the caller (it names its run): a retried S3 request is told
        apart from a lost race by comparing the stored bytes with ``data``.
        """

    @abc.abstractmethod
    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None:
        """Upload a local file atomically; large files go up in parts."""

    @abc.abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """Return the whole object; raises ObjectNotFoundError if absent."""

    @abc.abstractmethod
    def open_read(self, key: str) -> BinaryIO:
        """Return a streaming reader over the object (close it when done)."""

    @abc.abstractmethod
    def get_range(self, key: str, start: int, length: int) -> bytes:
        """Return ``length`` bytes of the object from byte ``start``: one ranged read, so a
        reader can take a few members of a large tar without fetching all of it.

        Fewer bytes come back only where the object ends first (none from ``start`` at or past
        the end), so callers compare the length they got. Raises ObjectNotFoundError if the
        object is absent and ValueError for a negative ``start`` or ``length``."""

    @abc.abstractmethod
    def download(self, key: str, path: Path) -> None:
        """Copy the object to a local file."""

    @abc.abstractmethod
    def stat(self, key: str) -> ObjectInfo:
        """Size and modification time; raises ObjectNotFoundError if absent."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove an object; deleting an absent key is not an error."""

    @abc.abstractmethod
    def url(self, key: str, expires_s: int = 3600) -> str:
        """A URL a reader can fetch without Kho: presigned GET (S3) or a file path (local)."""

    @abc.abstractmethod
    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object under ``prefix``. For gc and admin only: data paths never list."""

    @abc.abstractmethod
    def list_children(self, prefix: str) -> list[str]:
        """Immediate child names under ``prefix`` (one level, like ``ls``). Admin only."""

    @abc.abstractmethod
    def arrow_filesystem(self) -> tuple[object, str]:
        """A ``pyarrow.fs.FileSystem`` and the path prefix that maps keys onto it."""

    def put_text(self, key: str, text: str) -> None:
        """Store UTF-8 text."""
        self.put_bytes(key, text.encode("utf-8"), content_type="text/plain; charset=utf-8")

    def get_text(self, key: str) -> str:
        """Read an object as UTF-8 text."""
        return self.get_bytes(key).decode("utf-8")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.uri!r})"
