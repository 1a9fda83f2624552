"""Arrow schemas of the text pipeline's tables (``kho.text/1``).

Signal and PII columns are structs with one field per signal / PII type, so training teams
re-threshold from stored values (``signals.gopher_n_words > 50``) without recomputing.
The field lists come from the filters that produce them and are passed in, keeping
schemas/ free of any dependency on the filters' code.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

TEXT_SCHEMA_VERSION = "kho.text/1"

PROVENANCE_FIELDS = [
    pa.field("id", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("uri", pa.string(), nullable=False),
    pa.field("pointer", pa.string(), nullable=False),
    pa.field("url", pa.string()),
    pa.field("crawl_date", pa.string()),
    pa.field("license", pa.string()),
]


def signals_type(signal_names: Sequence[str]) -> pa.StructType:
    return pa.struct([pa.field(n, pa.float64()) for n in signal_names])


def pii_type(pii_types: Sequence[str]) -> pa.StructType:
    return pa.struct([pa.field(t, pa.int32()) for t in pii_types])


def text_record_schema(signal_names: Sequence[str], pii_types: Sequence[str]) -> pa.Schema:
    """Kept records: the published text shards."""
    return pa.schema([
        *PROVENANCE_FIELDS,
        pa.field("text", pa.string(), nullable=False),
        pa.field("chars", pa.int64()),
        pa.field("lang", pa.string()),
        pa.field("lang_score", pa.float64()),
        pa.field("lang_variant", pa.string()),
        pa.field("signals", signals_type(signal_names)),
        pa.field("pii", pii_type(pii_types)),
        pa.field("pii_total", pa.int32()),
        pa.field("normalize_fixes", pa.list_(pa.string())),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("run_id", pa.string()),
        pa.field("code_version", pa.string()),
    ], metadata={"kho.schema": TEXT_SCHEMA_VERSION})


def rejected_schema(signal_names: Sequence[str], pii_types: Sequence[str]) -> pa.Schema:
    """Rejected records: everything a kept record has, plus every failed rule."""
    base = text_record_schema(signal_names, pii_types)
    return base.append(pa.field("reasons", pa.list_(pa.string()), nullable=False)).with_metadata(
        {"kho.schema": "kho.text.rejected/1"})


def duplicates_schema() -> pa.Schema:
    """Records dropped as duplicates, with the id of the record they duplicate."""
    return pa.schema([
        *PROVENANCE_FIELDS,
        pa.field("dup_of", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # "exact" | "near"
        pa.field("content_hash", pa.string()),
        pa.field("text", pa.string()),
    ], metadata={"kho.schema": "kho.duplicates/1"})


QUARANTINE_SCHEMA = pa.schema([
    pa.field("id", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("uri", pa.string(), nullable=False),
    pa.field("pointer", pa.string(), nullable=False),
    pa.field("error_class", pa.string(), nullable=False),
    pa.field("message", pa.string(), nullable=False),
    pa.field("raw", pa.binary()),
    pa.field("raw_truncated", pa.bool_()),
], metadata={"kho.schema": "kho.quarantine/1"})
