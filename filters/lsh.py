"""Banded LSH bucket keys for bit hashes (Hamming) and embeddings (cosine); no Beam.

The clustering in ``pipelines/dedup.py`` is modality-neutral: an item is an id, 64-bit bucket
keys and an optional signature that a per-kind verifier checks. Text uses MinHash
(``filters/minhash.py``); this module gives the other two kinds their keys and configs:

- **hamming** (``HammingConfig``, ``HammingLSH``): a bit-packed hash (e.g. a 64-bit image
  pHash, an audio fingerprint block) is split into ``max_distance + 1`` contiguous bands. By
  the pigeonhole principle two hashes at Hamming distance <= ``max_distance`` agree exactly on
  at least one band, so they share at least one bucket key: recall is 1 by construction, and
  the verifier (distance <= ``max_distance``) removes the bands' chance collisions.
- **cosine** (``CosineConfig``, ``CosineLSH``): random-hyperplane LSH (Charikar, 2002). Each
  of ``bands * rows`` fixed hyperplanes gives one sign bit; P(bit agrees) = 1 - angle/pi, so
  P(candidate) = 1 - (1 - (1 - angle/pi)^rows)^bands. The verifier keeps cosine >= threshold.

Keys are made like MinHash band keys: xxh64 of the band's bytes with the band index mixed in
as the seed (``seed = band + 1``), reinterpreted as *signed* int64 (Beam's VarIntCoder,
Parquet and Arrow take them without overflow). The hyperplanes come from a counter-based
generator (splitmix64 + Box-Muller over uint64 counters), not from numpy's ``Generator``,
whose normal-variate stream is not promised stable across numpy versions: published index
keys must stay comparable across upgrades.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import xxhash
from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Version of the hyperplane generator; part of the cosine index fingerprint.
HYPERPLANES = "splitmix64-boxmuller/1"


def _signed64(x: int) -> int:
    """Reinterpret an unsigned 64-bit value as signed."""
    return x - (1 << 64) if x >= (1 << 63) else x


class ClusterSettings(BaseModel):
    """Clustering settings every kind shares (the same fields and meaning as MinHashConfig's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    verify_pairs: bool = Field(True, description=(
        "drop candidate edges whose signatures fail the kind's check (distance / similarity)"))
    max_bucket_size: int = Field(10_000, ge=2, description=(
        "larger buckets are streamed and star-connected to their best member (docs/dedup.md)"))
    cc_rounds: int = Field(12, ge=1, le=64, description=(
        "large-star/small-star rounds of connected components unrolled in the Beam graph"))


class HammingConfig(ClusterSettings):
    """Near duplicates of bit hashes: Hamming distance <= ``max_distance`` (pigeonhole bands).

    Expected bucket size for uniformly random hashes is N * 2^-(bits / bands): keep
    ``max_distance`` small relative to ``bits`` (64-bit pHash: 6 -> 7 bands of 9-10 bits,
    N/512 to N/1024 per bucket)."""

    kind: Literal["hamming"] = "hamming"
    bits: int = Field(64, ge=8, le=4096, description="hash length in bits (a multiple of 8)")
    max_distance: int = Field(6, ge=0, description="near-duplicate if Hamming distance <= this")

    @model_validator(mode="after")
    def _check(self) -> "HammingConfig":
        if self.bits % 8:
            raise ValueError("bits must be a multiple of 8 (hashes are bit-packed bytes)")
        if self.max_distance + 1 > self.bits:
            raise ValueError("max_distance + 1 bands cannot exceed bits")
        return self

    @property
    def bands(self) -> int:
        """Bucket keys per item: max_distance + 1 (the pigeonhole guarantee)."""
        return self.max_distance + 1

    @property
    def nbytes(self) -> int:
        return self.bits // 8

    def index_fingerprint(self) -> dict:
        """What must match for two runs' bucket keys to be comparable."""
        return {"kind": self.kind, "bits": self.bits, "bands": self.bands}


class CosineConfig(ClusterSettings):
    """Near duplicates of embeddings: cosine >= ``cosine_threshold`` (random hyperplanes).

    Defaults (20 bands x 12 bits): P(candidate) = 0.9985 at cos 0.95, 0.966 at 0.9, 0.14 at
    0.5; a band holds ~1/4096 of uniformly spread vectors (real embeddings cluster more)."""

    kind: Literal["cosine"] = "cosine"
    dim: int = Field(..., ge=1, le=65_536, description="embedding dimension")
    bands: int = Field(20, ge=1, le=64, description="bucket keys per item")
    rows: int = Field(12, ge=1, le=64, description="sign bits per band")
    seed: int = Field(1, ge=0, description="seeds the hyperplanes; must match the index's")
    cosine_threshold: float = Field(0.95, ge=-1, le=1, description="near-duplicate if cos >= this")
    dtype: Literal["float32", "float16"] = Field("float32", description="signature bytes' dtype")

    @property
    def numpy_dtype(self) -> np.dtype:
        return np.dtype("<f4" if self.dtype == "float32" else "<f2")

    def candidate_probability(self, cosine: float) -> float:
        """P(two vectors with this cosine share at least one bucket)."""
        p = 1.0 - float(np.arccos(np.clip(cosine, -1.0, 1.0))) / np.pi
        return 1.0 - (1.0 - p ** self.rows) ** self.bands

    def index_fingerprint(self) -> dict:
        return {"kind": self.kind, "dim": self.dim, "bands": self.bands, "rows": self.rows,
                "seed": self.seed, "hyperplanes": HYPERPLANES}


# ----------------------------------------------------------------------------- hamming


def hash_to_bytes(value: int, bits: int = 64) -> bytes:
    """An integer hash (e.g. ``int(str(imagehash.phash(img)), 16)``) as bit-packed big-endian bytes."""
    if value < 0 or value >> bits:
        raise ValueError(f"hash does not fit in {bits} unsigned bits")
    return int(value).to_bytes(bits // 8, "big")


def hamming_distances(head: bytes, others: Sequence[bytes]) -> np.ndarray:
    """Hamming distances (int) from ``head`` to each of ``others`` (all of ``head``'s length)."""
    h = np.frombuffer(head, dtype=np.uint8)
    if not others:
        return np.zeros(0, dtype=np.int64)
    mat = np.frombuffer(b"".join(others), dtype=np.uint8).reshape(len(others), h.size)
    return np.bitwise_count(mat ^ h[None, :]).sum(axis=1, dtype=np.int64)


class HammingLSH:
    """Pigeonhole band keys of bit-packed hashes under a :class:`HammingConfig`."""

    def __init__(self, cfg: HammingConfig) -> None:
        self.cfg = cfg
        # Contiguous bands whose widths differ by at most one bit, most significant first.
        edges = np.linspace(0, cfg.bits, cfg.bands + 1).round().astype(int)
        self._bands = [(cfg.bits - int(hi), (1 << int(hi - lo)) - 1) for lo, hi in zip(edges, edges[1:])]
        self._nb = (int(np.diff(edges).max()) + 7) // 8  # bytes of the widest band

    @classmethod
    def from_config(cls, cfg: HammingConfig) -> "HammingLSH":
        return cls(cfg)

    def band_values(self, hash_bytes: bytes) -> list[int]:
        """Each band's bits as an integer."""
        if len(hash_bytes) != self.cfg.nbytes:
            raise ValueError(f"hash has {len(hash_bytes)} bytes, expected {self.cfg.nbytes}")
        v = int.from_bytes(hash_bytes, "big")
        return [(v >> shift) & mask for shift, mask in self._bands]

    def keys(self, hash_bytes: bytes) -> list[int]:
        """One signed 64-bit bucket key per band (band index mixed in as the xxh64 seed)."""
        return [_signed64(xxhash.xxh64_intdigest(val.to_bytes(self._nb, "little"), seed=b + 1))
                for b, val in enumerate(self.band_values(hash_bytes))]


# ------------------------------------------------------------------------------ cosine


def _splitmix64(x: np.ndarray) -> np.ndarray:
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def hyperplanes(dim: int, count: int, seed: int) -> np.ndarray:
    """``count`` Gaussian hyperplanes in ``dim`` dimensions, float64 (dim, count), from a
    counter-based generator: the same values on every platform and numpy version."""
    n = dim * count
    with np.errstate(over="ignore"):
        base = np.uint64(seed) * np.uint64(0xD1342543DE82EF95)
        ctr = np.arange(2 * ((n + 1) // 2), dtype=np.uint64) + base
        bits = _splitmix64(ctr)
    u = ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / (1 << 53))  # (0, 1)
    u1, u2 = u[0::2], u[1::2]
    r = np.sqrt(-2.0 * np.log(u1))
    z = np.concatenate([r * np.cos(2 * np.pi * u2), r * np.sin(2 * np.pi * u2)])[:n]
    return z.reshape(dim, count)


def cosine_similarities(head: bytes, others: Sequence[bytes], dtype: np.dtype) -> np.ndarray:
    """Cosine of ``head`` with each of ``others`` (vector bytes of one dtype); a zero or
    non-finite vector has cosine 0 with everything (it never verifies at threshold > 0)."""
    h = np.frombuffer(head, dtype=dtype).astype(np.float64)
    if not others:
        return np.zeros(0)
    mat = np.frombuffer(b"".join(others), dtype=dtype).astype(np.float64).reshape(len(others), h.size)
    norms = np.linalg.norm(mat, axis=1) * np.linalg.norm(h)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = (mat @ h) / norms
    return np.where(np.isfinite(cos) & (norms > 0), cos, 0.0)


class CosineLSH:
    """Random-hyperplane band keys (and signature bytes) of embeddings under a :class:`CosineConfig`.

    Build one per worker (it holds ``dim * bands * rows`` hyperplane values)."""

    def __init__(self, cfg: CosineConfig) -> None:
        self.cfg = cfg
        self.planes = hyperplanes(cfg.dim, cfg.bands * cfg.rows, cfg.seed)

    @classmethod
    def from_config(cls, cfg: CosineConfig) -> "CosineLSH":
        return cls(cfg)

    def _vector(self, vec) -> np.ndarray:
        v = np.asarray(vec, dtype=np.float64).reshape(-1)
        if v.size != self.cfg.dim:
            raise ValueError(f"vector has {v.size} dimensions, expected {self.cfg.dim}")
        return v

    def signature(self, vec) -> bytes:
        """The vector as the verifier reads it (little-endian ``cfg.dtype``)."""
        return np.ascontiguousarray(self._vector(vec), dtype=self.cfg.numpy_dtype).tobytes()

    def sign_bits(self, vec) -> np.ndarray:
        """bool (bands, rows): which side of each hyperplane the vector lies on."""
        v = self._vector(vec)
        return (v @ self.planes > 0).reshape(self.cfg.bands, self.cfg.rows)

    def keys(self, vec) -> list[int]:
        """One signed 64-bit bucket key per band; a zero or non-finite vector has none."""
        v = self._vector(vec)
        if not np.isfinite(v).all() or not v.any():
            return []
        packed = np.packbits(self.sign_bits(v), axis=1)
        return [_signed64(xxhash.xxh64_intdigest(packed[b].tobytes(), seed=b + 1))
                for b in range(self.cfg.bands)]
