"""Open an object store from a URI: a local path, ``file://PATH`` or ``s3://BUCKET/PREFIX``."""

from __future__ import annotations

from storage.base import ObjectStore
from storage.errors import StoreConfigError
from storage.local import LocalStore
from storage.retry import RetryPolicy

DEFAULT_STORE = ".kho/store"


def open_store(uri: str | None = None, *, retry: RetryPolicy | None = None,
               create_bucket: bool = False) -> ObjectStore:
    """Return the store that ``uri`` names; None means the embedded local default."""
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
