"""The version manifest and shard-list contracts (format ``kho.manifest/2``).

A manifest is small and immutable; it points to shard lists (Parquet, at most
``SHARD_LIST_MAX_ROWS`` rows each) that hold every stored object of the version. Its
``merkle_root`` covers the lists' roots and every other field (format 2; format 1, read for
old stores, covered the lists only). ``parent_root`` is the parent's root, so a child vouches
for its parent's whole manifest.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

MANIFEST_FORMAT = "kho.manifest/2"
SHARD_LIST_MAX_ROWS = 50_000
#: Formats whose rows are records (the others, e.g. a WebDataset tar's Parquet index, describe them).
PRIMARY_FORMATS = ("parquet", "webdataset")

SHARD_LIST_SCHEMA = pa.schema([
    pa.field("key", pa.string(), nullable=False),
    pa.field("format", pa.string(), nullable=False),
    pa.field("modality", pa.string(), nullable=False),
    pa.field("rows", pa.int64(), nullable=False),
    pa.field("bytes", pa.int64(), nullable=False),
    pa.field("sha256", pa.string(), nullable=False),
    pa.field("pair", pa.string(), nullable=False),
], metadata={"kho.schema": "shard-list/1"})


class ShardListRef(BaseModel):
    """One shard list object, with enough totals to plan work without opening it.

    ``formats``: ``"<modality>/<format>" -> [shards, rows, bytes]`` of the list, so that
    ``kho datasets show`` sums these instead of reading the lists (one manifest read). None in
    manifests written before it existed; :meth:`Manifest.fields` then leaves it out, so those
    manifests keep the root they were committed with."""

    model_config = ConfigDict(extra="forbid")

    key: str
    sha256: str
    bytes: int
    shards: int
    rows: int
    data_bytes: int
    merkle_root: str
    modalities: list[str] = Field(default_factory=list)
    formats: dict[str, tuple[int, int, int]] | None = None


def list_totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The totals a :class:`ShardListRef` records for shard-list ``rows`` (the commit writes
    them, ``kho verify`` recomputes them): only primary formats count as rows."""
    by: dict[tuple[str, str], list[int]] = {}
    for r in rows:
        t = by.setdefault((r["modality"], r["format"]), [0, 0, 0])
        t[0] += 1
        t[1] += r["rows"]
        t[2] += r["bytes"]
    return {
        "shards": len(rows),
        "rows": sum(r["rows"] for r in rows if r["format"] in PRIMARY_FORMATS),
        "data_bytes": sum(r["bytes"] for r in rows),
        "modalities": sorted({r["modality"] for r in rows}),
        "formats": {f"{m}/{f}": (n, k, b) for (m, f), (n, k, b) in sorted(by.items())},
    }


class SourceSummary(BaseModel):
    """What one source contributed to the version."""

    model_config = ConfigDict(extra="allow")

    name: str
    uri: str = ""
    inputs: int = 0
    kept: int = 0


class Manifest(BaseModel):
    """A dataset version. Written last: its presence is the commit."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["kho.manifest/1", "kho.manifest/2"] = MANIFEST_FORMAT
    dataset: str
    version: str
    parent: str | None = None
    parent_root: str | None = None
    created_at: datetime
    code_version: str
    config_hash: str = ""
    run_id: str = ""
    sources: list[SourceSummary] = Field(default_factory=list)
    stats: dict[str, Any] = Field(default_factory=dict)
    shard_lists: list[ShardListRef] = Field(default_factory=list)
    merkle_root: str

    def fields(self) -> dict[str, Any]:
        """Every field but the root, as JSON data: what format 2's root covers besides the lists."""
        data = self.model_dump(mode="json", exclude={"merkle_root"})
        for ref in data["shard_lists"]:
            if ref.get("formats") is None:
                ref.pop("formats", None)
        return data

    def expected_root(self, list_roots: list[str] | None = None) -> str:
        """The root this manifest should carry, from ``list_roots`` (default: as recorded)."""
        from storage.merkle import fields_hash, version_root

        roots = [r.merkle_root for r in self.shard_lists] if list_roots is None else list_roots
        if self.format == "kho.manifest/1":
            return version_root(roots)
        return version_root(roots, fields_hash(self.fields()))

    @property
    def total_shards(self) -> int:
        return sum(s.shards for s in self.shard_lists)

    @property
    def total_rows(self) -> int:
        return sum(s.rows for s in self.shard_lists)

    @property
    def total_bytes(self) -> int:
        return sum(s.data_bytes for s in self.shard_lists)
