"""The capacity planner's inputs: validated data, with the units spelt out in every name.

Units, so that no figure is off by the 12.6% between PB and PiB:

* ``petabytes``, ``drive_tb``, ``ingest_tb_per_day``: decimal (1 PB = 10^15 bytes, 1 TB =
  10^12 bytes), as drives are sold and as MinIO's and Kubernetes' ``T`` suffix counts.
* ``shard_gib``: binary (1 GiB = 2^30 bytes), as ``output.target_shard_bytes`` is set.
* ``record_kb``: decimal kilobytes (10^3 bytes) per record, by modality.
* ``rebuild_mb_s``: decimal megabytes (10^6 bytes) per second per drive; ``nic_gbit``:
  10^9 bits per second.

Every field has a default except ``petabytes``; docs/capacity.md says where each default
comes from. ``--mix`` and ``--record-kb`` strings (``text=5,image=25,...``) are parsed by
:func:`parse_mix` and :func:`parse_per_modality`, whose errors say what to type instead.
"""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: The modalities Kho ingests, in the order the planner prints them.
MODALITIES = ("text", "image", "audio", "video")

#: Objects stored per shard: a text shard is one Parquet file; a media shard is a
#: WebDataset tar plus its Parquet index (storage/shards.py), two rows of a shard list.
OBJECTS_PER_SHARD = {"text": 1, "image": 2, "audio": 2, "video": 2}

DEFAULT_MIX = {"text": 0.01, "image": 0.24, "audio": 0.25, "video": 0.50}
#: Average stored record size in decimal kB: a web document's text and signals in zstd
#: Parquet; a JPEG/WebP image; about a minute of compressed speech; a short video clip.
DEFAULT_RECORD_KB = {"text": 4.0, "image": 200.0, "audio": 1_000.0, "video": 50_000.0}

#: Bytes one shard-list row takes in a full list of SHARD_LIST_MAX_ROWS rows (zstd Parquet
#: of schemas/manifest.py's SHARD_LIST_SCHEMA), measured by pipelines/capacity/measure.py
#: through VersionStore.try_commit; tests/test_capacity.py re-measures it.
SHARD_LIST_ROW_BYTES = 41.9
#: A manifest's bytes (kho.manifest/2 as committed, indent 2) with no shard list, and per
#: shard-list reference; measured the same way. The run's stats add a few kB per version.
MANIFEST_BASE_BYTES = 628
MANIFEST_BYTES_PER_LIST = 653

#: Erasure set sizes MinIO accepts (drives per set).
MIN_SET_DRIVES, MAX_SET_DRIVES = 2, 16


class CapacityInputError(ValueError):
    """A planner input that cannot be used; the message says which and what to give."""


def _parse_pairs(text: str, option: str) -> dict[str, float]:
    """``"text=5,image=25"`` -> {"text": 5.0, "image": 25.0}, with errors naming ``option``."""
    out: dict[str, float] = {}
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        name, eq, value = part.partition("=")
        name = name.strip().lower()
        if not eq:
            raise CapacityInputError(f"{option}: {part!r} is not NAME=VALUE; write e.g. "
                                     f"{option} text=5,image=25,audio=20,video=50")
        if name not in MODALITIES:
            raise CapacityInputError(f"{option}: unknown modality {name!r}; use {', '.join(MODALITIES)}")
        if name in out:
            raise CapacityInputError(f"{option}: {name} is given twice")
        try:
            number = float(value)
        except ValueError:
            raise CapacityInputError(f"{option}: {name}={value!r} is not a number") from None
        if not math.isfinite(number) or number < 0:
            raise CapacityInputError(f"{option}: {name}={value} must be a number >= 0")
        out[name] = number
    if not out:
        raise CapacityInputError(f"{option}: empty; write e.g. {option} text=5,image=25,audio=20,video=50")
    return out


def parse_mix(text: str | dict[str, float]) -> dict[str, float]:
    """The share of stored bytes per modality, as fractions summing to exactly 1.

    Accepts fractions (``text=0.05,image=0.25,...``, summing to 1) or percentages
    (``text=5,image=25,...``, summing to 100), within 0.1%; modalities not named get 0."""
    pairs = _parse_pairs(text, "--mix") if isinstance(text, str) else {k.lower(): float(v) for k, v in text.items()}
    for name, value in pairs.items():
        if name not in MODALITIES:
            raise CapacityInputError(f"--mix: unknown modality {name!r}; use {', '.join(MODALITIES)}")
        if not math.isfinite(value) or value < 0:
            raise CapacityInputError(f"--mix: {name}={value} must be a number >= 0")
    total = sum(pairs.values())
    if abs(total - 1) > 1e-3 and abs(total - 100) > 0.1:
        raise CapacityInputError(
            f"--mix sums to {total:g}: give fractions summing to 1 (text=0.05,image=0.25,...) "
            "or percentages summing to 100 (text=5,image=25,...)")
    return {m: pairs.get(m, 0.0) / total for m in MODALITIES}


def parse_per_modality(text: str | dict[str, float], defaults: dict[str, float], option: str) -> dict[str, float]:
    """Per-modality numbers (record sizes): ``defaults`` with the named modalities replaced."""
    pairs = _parse_pairs(text, option) if isinstance(text, str) else {k.lower(): float(v) for k, v in text.items()}
    unknown = set(pairs) - set(MODALITIES)
    if unknown:
        raise CapacityInputError(f"{option}: unknown modality {sorted(unknown)[0]!r}; use {', '.join(MODALITIES)}")
    bad = [m for m, v in pairs.items() if not math.isfinite(v) or v <= 0]
    if bad:
        raise CapacityInputError(f"{option}: {bad[0]}={pairs[bad[0]]} must be a number > 0")
    return {m: pairs.get(m, defaults[m]) for m in MODALITIES}


class ErasureCode(BaseModel):
    """``data + parity`` drives per erasure set (MinIO's EC:parity on a set of data+parity)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data: int
    parity: int

    @classmethod
    def parse(cls, text: str) -> ErasureCode:
        """Parse ``"12+4"``: 12 data and 4 parity drives, a set of 16 (MinIO's EC:4)."""
        found = re.fullmatch(r"\s*(\d+)\s*\+\s*(\d+)\s*", text)
        if not found:
            raise CapacityInputError(f"--ec {text!r}: write DATA+PARITY drives per erasure set, "
                                     "e.g. --ec 12+4 (a set of 16 drives, MinIO EC:4)")
        return cls(data=int(found.group(1)), parity=int(found.group(2)))

    @model_validator(mode="after")
    def _minio_allows(self) -> ErasureCode:
        n = self.data + self.parity
        if self.data < 1 or self.parity < 1:
            raise CapacityInputError(f"--ec {self}: needs at least 1 data and 1 parity drive "
                                     "(without parity one failed drive loses data)")
        if not MIN_SET_DRIVES <= n <= MAX_SET_DRIVES:
            raise CapacityInputError(f"--ec {self}: a set of {n} drives; MinIO erasure sets have "
                                     f"{MIN_SET_DRIVES} to {MAX_SET_DRIVES} drives (e.g. --ec 12+4)")
        if self.parity > self.data:
            raise CapacityInputError(f"--ec {self}: parity {self.parity} exceeds data {self.data}; "
                                     f"MinIO allows parity up to half the set (e.g. --ec {n - n // 2}+{n // 2})")
        return self

    @property
    def set_drives(self) -> int:
        """Drives per erasure set, n = k + m."""
        return self.data + self.parity

    def __str__(self) -> str:
        return f"{self.data}+{self.parity}"


class CapacityInputs(BaseModel):
    """What the planner is asked to hold and with what hardware (units in the field names)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    petabytes: float = Field(gt=0, description="Dataset bytes to hold (shards), decimal PB (10^15 B).")
    mix: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_MIX),
                                  description="Share of the bytes per modality (fractions summing to 1).")
    record_kb: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_RECORD_KB),
                                        description="Average record size per modality, decimal kB.")
    shard_gib: float = Field(1.0, gt=0, le=5 * 1024, description="Target shard size, GiB (2^30 B).")
    ec: ErasureCode = Field(default_factory=lambda: ErasureCode(data=12, parity=4))
    drive_tb: float = Field(20.0, gt=0, description="Drive size, decimal TB (10^12 B).")
    drives_per_node: int = Field(24, ge=1, le=1024)
    nodes_per_pool: int = Field(32, ge=1, le=1024)
    fill: float = Field(0.8, gt=0, le=0.95, description="Highest planned fill of usable capacity.")
    run_table_fraction: float = Field(0.10, ge=0, le=10, description=(
        "Run tables (rejected, duplicates, quarantine) kept, as a fraction of dataset bytes."))
    ingest_tb_per_day: float = Field(100.0, gt=0, description="Dataset bytes ingested per day, decimal TB.")
    peak_factor: float = Field(2.0, ge=1, le=24, description="Peak over average ingest rate.")
    rebuild_mb_s: float = Field(100.0, gt=0, description="Heal throughput per rebuilt drive, decimal MB/s.")
    nic_gbit: float = Field(100.0, gt=0, description="Network bandwidth per node, Gbit/s.")
    shard_list_row_bytes: float = Field(SHARD_LIST_ROW_BYTES, gt=0)
    manifest_base_bytes: int = Field(MANIFEST_BASE_BYTES, ge=0)
    manifest_bytes_per_list: int = Field(MANIFEST_BYTES_PER_LIST, gt=0)

    @field_validator("mix", mode="before")
    @classmethod
    def _mix(cls, value: Any) -> dict[str, float]:
        return parse_mix(value)

    @field_validator("record_kb", mode="before")
    @classmethod
    def _record_kb(cls, value: Any) -> dict[str, float]:
        return parse_per_modality(value, DEFAULT_RECORD_KB, "--record-kb")

    @field_validator("ec", mode="before")
    @classmethod
    def _ec(cls, value: Any) -> Any:
        return ErasureCode.parse(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _pool_divides_into_sets(self) -> CapacityInputs:
        n = self.ec.set_drives
        pool = self.nodes_per_pool * self.drives_per_node
        if pool % n:
            p = self.nodes_per_pool
            fits = [s for s in range(MAX_SET_DRIVES, MIN_SET_DRIVES - 1, -1)
                    if pool % s == 0 and (s % p == 0 or p % s == 0)]
            raise CapacityInputError(
                f"a pool of {self.nodes_per_pool} nodes x {self.drives_per_node} drives = {pool} drives "
                f"does not divide into erasure sets of {n} (--ec {self.ec}); change --nodes-per-pool "
                f"or --drives-per-node, or use a set size that divides {pool}: "
                f"{', '.join(map(str, fits)) or 'none from 2 to 16'} drives")
        if n % self.nodes_per_pool and self.nodes_per_pool % n:
            raise CapacityInputError(
                f"erasure sets of {n} drives cannot spread evenly over {self.nodes_per_pool} nodes: "
                f"MinIO needs the set size to divide the node count or the node count to divide "
                f"the set size; change --nodes-per-pool or --ec")
        return self
