"""Record identity and the small helpers every modality's pipeline shares.

Records travel through Beam as plain dicts (cheap to pickle, schema applied at the write).
"""

from __future__ import annotations

import hashlib
from typing import Any

#: Raw bytes kept in a quarantine row, so an annotator can see what failed.
QUARANTINE_RAW_LIMIT = 64 * 1024


def record_id(source: str, uri: str, pointer: str) -> str:
    """Stable id from provenance: re-ingesting the same input gives the same id."""
    return hashlib.sha256(f"{source}\x00{uri}\x00{pointer}".encode()).hexdigest()[:32]


def content_hash(text: str) -> str:
    """Exact-duplicate key: sha256 of the normalized text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def quarantine_row(source: str, uri: str, pointer: str, error: BaseException | str,
                   message: str | None = None, raw: bytes | None = None) -> dict[str, Any]:
    """A quarantine entry: what failed, where, and (bounded) the raw bytes."""
    error_class = error if isinstance(error, str) else type(error).__name__
    msg = message if message is not None else str(error)
    raw = raw or b""
    return {
        "id": record_id(source, uri, pointer),
        "source": source,
        "uri": uri,
        "pointer": pointer,
        "error_class": error_class,
        "message": msg[:2000],
        "raw": raw[:QUARANTINE_RAW_LIMIT],
        "raw_truncated": len(raw) > QUARANTINE_RAW_LIMIT,
    }
