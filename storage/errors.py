"""Typed errors of the storage layer.

Every message says what went wrong and what the user can do about it. Messages never
contain credentials: stores are described by endpoint and bucket only.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class for every storage failure."""


class StoreConfigError(StoreError):
    """The store URI or its environment is invalid (bad scheme, missing credentials)."""


class StoreAuthError(StoreError):
    """The server rejected the credentials; retrying will not help."""


class BucketNotFoundError(StoreError):
    """The bucket named in the store URI does not exist."""


class ObjectNotFoundError(StoreError, KeyError):
    """A key that should exist does not."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else "object not found"


class TransientStoreError(StoreError):
    """A retryable failure (connection reset, 5xx, SlowDown) outlived the retry budget."""


class InvalidKeyError(StoreError, ValueError):
    """An object key is empty, absolute or escapes the store root."""


class VersionNotFoundError(StoreError):
    """A dataset, version or ref that the user named does not exist."""


class IntegrityError(StoreError):
    """Stored bytes do not match the hash recorded in a manifest."""


class EndpointNotS3Error(StoreConfigError):
    """The endpoint answers HTTP, but not as an S3 API (a web site, a console, a proxy page)."""


class StoreUnreachableError(TransientStoreError):
    """No connection to the S3 endpoint could be made (refused, unknown host, timed out)."""
