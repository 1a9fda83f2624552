"""Arrow schemas of the text pipeline's tables (``kho.text/2``).

Signal and PII columns are structs with one field per signal / PII type, so training teams
re-threshold from stored values (``signals.gopher_n_words > 50``) without recomputing.
The field lists come from the filters that produce them and are passed in, keeping
schemas/ free of any dependency on the filters' code. Signals are float64, as the filters
define them (ratios, and counts computed as floats); PII counts are int32, ``chars`` int64.

Lineage (``kho.text/2``; ``/1`` had neither column and stored an absent crawl date as ''):

- ``source_id``: the record's own id in its source (the source's ``id_field``, the
  WARC-Record-ID for WARC) as a string, ints converted; null when it has none.
- ``extra``: the source's ``extra_fields`` the record has, as one JSON object in a string
  (values keep their JSON types; a field the record lacks is left out); null when the source
  names none. A JSON string rather than a struct, because records and sources differ in the
  fields they have and a struct fixes them per shard; rather than ``map<string, string>``,
  because HF ``datasets`` cannot load a map column (and map values would be JSON anyway).
  pyarrow, polars, DuckDB (``extra->>'author'``) and HF datasets all read it as a string.
- ``crawl_date``: null when absent.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

TEXT_SCHEMA_VERSION = "kho.text/2"
REJECTED_SCHEMA_VERSION = "kho.text.rejected/2"
DUPLICATES_SCHEMA_VERSION = "kho.duplicates/2"

PROVENANCE_FIELDS = [
    pa.field("id", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("uri", pa.string(), nullable=False),
    pa.field("pointer", pa.string(), nullable=False),
    pa.field("source_id", pa.string()),  # the source's own id; null when it has none
    pa.field("url", pa.string()),
    pa.field("crawl_date", pa.string()),  # null when absent
    pa.field("license", pa.string()),
    pa.field("extra", pa.string()),  # JSON object of the source's extra_fields; see above
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
        {"kho.schema": REJECTED_SCHEMA_VERSION})


def duplicates_schema() -> pa.Schema:
    """Records dropped as duplicates, with the id of the record they duplicate."""
    return pa.schema([
        *PROVENANCE_FIELDS,
        pa.field("dup_of", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # "exact" | "near"
        pa.field("content_hash", pa.string()),
        pa.field("text", pa.string()),
    ], metadata={"kho.schema": DUPLICATES_SCHEMA_VERSION})


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
