"""Open an object store from a URI: a local path, ``file://PATH`` or ``s3://BUCKET/PREFIX``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from storage.base import ObjectStore
from storage.errors import BucketNotFoundError, StoreConfigError
from storage.local import LocalStore
from storage.retry import RetryPolicy

DEFAULT_STORE = ".kho/store"


def open_store(uri: str | None = None, *, retry: RetryPolicy | None = None,
               create_bucket: bool = False) -> ObjectStore:
    """Return the store that ``uri`` names; None means the embedded local default.

    ``create_bucket``: on S3, create the bucket if it does not exist (a local folder is
    always created)."""
    uri = uri or DEFAULT_STORE
    if uri.startswith("s3://"):
        from storage.s3 import parse_s3_uri

        return parse_s3_uri(uri, retry=retry, create_bucket=create_bucket)
    if uri.startswith("file://"):
        return LocalStore(uri[len("file://"):])
    if "://" in uri:
        raise StoreConfigError(
            f"unsupported store URI {uri!r}: use a local path, file://PATH or s3://BUCKET/PREFIX"
        )
    return LocalStore(uri)


@dataclass(frozen=True)
class StoreInit:
    """What :func:`init_store` did: the store, whether it created its bucket or folder."""

    store: ObjectStore
    kind: str      # "bucket" | "folder"
    where: str     # the bucket and endpoint, or the folder's absolute path
    created: bool
    datasets: list[str]

    def describe(self) -> str:
        """One line for the user: what was created (or found), and what is in it."""
        did = f"created {self.kind} {self.where}" if self.created else \
            f"{self.kind} {self.where} exists already (left as it is)"
        held = f"holds {len(self.datasets)} dataset(s): {', '.join(self.datasets)}" if self.datasets \
            else "empty: `kho ingest CONFIG --store ...` publishes the first version"
        return f"{did}; store {self.store.uri} is ready, {held}"


def init_store(uri: str | None = None, *, retry: RetryPolicy | None = None) -> StoreInit:
    """Create the store ``uri`` names: its bucket on S3, its folder locally; rerunning is safe."""
    from storage.versions import VersionStore

    uri = uri or DEFAULT_STORE
    if uri.startswith("s3://"):
        store = open_store(uri, retry=retry)
        try:
            store.list_children("")
            created = False
        except BucketNotFoundError:
            store = open_store(uri, retry=retry, create_bucket=True)
            created = True
        where = f"{store.bucket!r} on {store.endpoint_url}"
        kind = "bucket"
    else:
        path = Path(uri[len("file://"):] if uri.startswith("file://") else uri).expanduser().resolve()
        created = not path.is_dir()
        store = open_store(uri, retry=retry)
        where, kind = str(path), "folder"
    return StoreInit(store, kind, where, created, VersionStore(store).datasets())
