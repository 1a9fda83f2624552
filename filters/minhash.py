"""MinHash signatures and LSH band hashes for near-duplicate detection (no Beam).

A document becomes a set of shingles (n-grams of tokens of its normalized text); a MinHash
signature of ``bands * rows`` values estimates the Jaccard similarity of two such sets; and
each band of ``rows`` values is hashed to one 64-bit bucket key. Two documents that share any
bucket key are candidate duplicates (the LSH "S-curve": P(candidate) = 1 - (1 - J^rows)^bands).

Choices, and why (measured in bench/bench_dedup.py, written up in docs/dedup.md):

- Tokens are *syllables* (whitespace tokens) by default. Vietnamese words are 1-3 syllables,
  so syllable 5-grams see the same text as FineWeb's word 5-grams at a finer grain, and they
  cost nothing, while underthesea's word segmentation runs at ~1,300 sentences/s per core.
  ``tokenization="word"`` is kept for comparison and for callers that already segmented.
- Normalization keeps Vietnamese diacritics (tone marks carry meaning: "ma", "má", "mà" are
  different words); it lowercases, applies NFC, replaces punctuation by spaces and folds digits
  to 0 so that page counters and dates do not break near-duplicates.
- Hashing is vectorized: one xxh64 per token, n-gram hashes combined in numpy, and
  ``num_perm`` multiply-add hash functions over uint64 whose top 32 bits are kept
  (multiply-add-shift hashing, Dietzfelbinger). Signatures are uint32: half the bytes of
  64-bit values, and a 2^-32 chance collision per value is far below MinHash's own variance.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import cached_property
from typing import Literal

import numpy as np
import xxhash
from pydantic import BaseModel, ConfigDict, Field, model_validator

#: A signature value no real shingle set produces: the signature of an empty document.
EMPTY = np.uint32(0xFFFFFFFF)

_PUNCT = re.compile(r"[^\w\s]|_", re.UNICODE)
_DIGITS = re.compile(r"\d+", re.UNICODE)
# Odd 64-bit multipliers that mix the hashes of consecutive tokens into one n-gram hash.
_NGRAM_MULTS = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                         0xD6E8FEB86659FD93, 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53,
                         0x94D049BB133111EB, 0xBF58476D1CE4E5B9], dtype=np.uint64)


class MinHashConfig(BaseModel):
    """Near-duplicate settings. Defaults follow FineWeb (5-grams, 14 bands x 8 rows), with
    syllable tokens and pair verification chosen by measurement (docs/dedup.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ngram: int = Field(5, ge=1, le=8, description="shingle size in tokens")
    bands: int = Field(14, ge=1, le=64, description="LSH bands (bucket keys per document)")
    rows: int = Field(8, ge=1, le=64, description="signature values per band")
    seed: int = Field(1, ge=0, description="seeds the hash functions; must match the index's")
    tokenization: Literal["syllable", "word"] = "syllable"
    jaccard_threshold: float = Field(0.8, gt=0, le=1, description="near-duplicate if J >= this")
    verify_pairs: bool = Field(True, description=(
        "drop candidate edges whose estimated Jaccard (from the signatures) is below the threshold"))
    max_bucket_size: int = Field(10_000, ge=2, description=(
        "larger buckets are streamed and star-connected to their best member (see docs/dedup.md)"))
    cc_rounds: int = Field(12, ge=1, le=64, description=(
        "large-star/small-star rounds of connected components unrolled in the Beam graph"))

    @model_validator(mode="after")
    def _check(self) -> "MinHashConfig":
        if self.bands * self.rows > 1024:
            raise ValueError("bands * rows must be <= 1024")
        return self

    @property
    def num_perm(self) -> int:
        """Signature length."""
        return self.bands * self.rows

    def candidate_probability(self, jaccard: float) -> float:
        """P(two documents with this Jaccard share at least one bucket)."""
        return 1.0 - (1.0 - jaccard ** self.rows) ** self.bands


def normalize(text: str) -> str:
    """Text as shingled: NFC, lowercase, punctuation to spaces, digits folded to 0, single
    spaces. Diacritics are kept (they distinguish Vietnamese words)."""
    text = unicodedata.normalize("NFC", text).lower()
    text = _PUNCT.sub(" ", text)
    text = _DIGITS.sub("0", text)
    return " ".join(text.split())


def syllable_tokens(text: str) -> list[str]:
    """Whitespace tokens of the normalized text (Vietnamese syllables)."""
    return normalize(text).split()


def word_tokens(text: str) -> list[str]:
    """underthesea word segmentation of the normalized text (slow: ~1,300 sentences/s)."""
    from underthesea import word_tokenize  # imported lazily: heavy, and optional

    return [w.replace(" ", "_") for w in word_tokenize(normalize(text))]


def tokenize(text: str, tokenization: str = "syllable") -> list[str]:
    """Tokens of ``text`` under the configured tokenization."""
    return word_tokens(text) if tokenization == "word" else syllable_tokens(text)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """A bijective 64-bit finalizer: spreads the combined n-gram hashes over all bits."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _signed64(x: int) -> int:
    """Reinterpret an unsigned 64-bit value as signed."""
    return x - (1 << 64) if x >= (1 << 63) else x


class MinHasher:
    """Computes MinHash signatures and LSH band hashes; deterministic for a given seed.

    Build one per worker (it holds the hash parameters) and call :meth:`text_bands` or
    :meth:`signature` + :meth:`band_hashes` per document.
    """

    def __init__(self, num_perm: int | None = None, bands: int = 14, rows: int = 8, ngram: int = 5,
                 seed: int = 1, tokenization: str = "syllable") -> None:
        if num_perm is None:
            num_perm = bands * rows
        if num_perm != bands * rows:
            raise ValueError(f"num_perm ({num_perm}) must equal bands * rows ({bands * rows})")
        if ngram > len(_NGRAM_MULTS):
            raise ValueError(f"ngram must be <= {len(_NGRAM_MULTS)}")
        self.num_perm, self.bands, self.rows = num_perm, bands, rows
        self.ngram, self.seed, self.tokenization = ngram, seed, tokenization
        rng = np.random.Generator(np.random.PCG64(seed))
        # Odd multipliers keep a -> a*x a bijection of uint64; b is any offset.
        self._a = (rng.integers(0, 2**63, size=num_perm, dtype=np.uint64) << np.uint64(1)) | np.uint64(1)
        self._b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64) << np.uint64(1)

    @classmethod
    def from_config(cls, cfg: MinHashConfig) -> "MinHasher":
        """The hasher a :class:`MinHashConfig` describes."""
        return cls(bands=cfg.bands, rows=cfg.rows, ngram=cfg.ngram, seed=cfg.seed,
                   tokenization=cfg.tokenization)

    @cached_property
    def _empty(self) -> np.ndarray:
        return np.full(self.num_perm, EMPTY, dtype=np.uint32)

    def shingles(self, tokens: Sequence[str]) -> np.ndarray:
        """64-bit hashes of the token n-grams (a document shorter than n is one shingle)."""
        if not tokens:
            return np.empty(0, dtype=np.uint64)
        h = np.fromiter((xxhash.xxh64_intdigest(t) for t in tokens), dtype=np.uint64, count=len(tokens))
        n = min(self.ngram, len(h))
        width = len(h) - n + 1
        acc = h[:width] * _NGRAM_MULTS[0]
        for k in range(1, n):
            acc = acc + h[k:k + width] * _NGRAM_MULTS[k]
        return _splitmix64(acc + np.uint64(n))

    def signature(self, tokens: Sequence[str], chunk: int = 4096) -> np.ndarray:
        """MinHash signature (uint32[num_perm]) of the token sequence's shingle set.

        An empty sequence gives the all-0xFFFFFFFF signature, which :meth:`band_hashes` maps to
        no bucket keys: empty documents are exact duplicates, not near ones.
        """
        sh = self.shingles(tokens)
        if sh.size == 0:
            return self._empty.copy()
        best = np.full(self.num_perm, np.iinfo(np.uint64).max, dtype=np.uint64)
        for start in range(0, sh.size, chunk):  # bounds memory for very long documents
            block = sh[start:start + chunk, None] * self._a[None, :] + self._b[None, :]
            np.minimum(best, block.min(axis=0), out=best)
        return (best >> np.uint64(32)).astype(np.uint32)

    def band_hashes(self, sig: np.ndarray) -> list[int]:
        """One 64-bit bucket key per band, the band index mixed in (so equal values in
        different bands never share a bucket). Empty signature -> no keys.

        Keys are *signed* int64 (the xxh64 bits reinterpreted): Beam's VarIntCoder, Parquet
        int64 and Arrow all take them without overflow."""
        sig = np.ascontiguousarray(sig, dtype=np.uint32)
        if sig.size and bool((sig == EMPTY).all()):
            return []
        view = sig.reshape(self.bands, self.rows)
        return [_signed64(xxhash.xxh64_intdigest(view[b].tobytes(), seed=b + 1)) for b in range(self.bands)]

    def text_signature(self, text: str) -> np.ndarray:
        """Signature of a text under this hasher's tokenization."""
        return self.signature(tokenize(text, self.tokenization))

    def text_bands(self, text: str) -> tuple[np.ndarray, list[int]]:
        """(signature, band hashes) of a text: what a pipeline stores per record."""
        sig = self.text_signature(text)
        return sig, self.band_hashes(sig)


def estimate_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Fraction of equal signature values: an unbiased estimate of the Jaccard similarity."""
    a, b = np.asarray(sig_a), np.asarray(sig_b)
    if a.shape != b.shape:
        raise ValueError(f"signature shapes differ: {a.shape} vs {b.shape}")
    return float(np.count_nonzero(a == b)) / a.size if a.size else 0.0


def jaccard(a: set, b: set) -> float:
    """Exact Jaccard similarity of two sets (ground truth in tests and the bench)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def shingle_set(text: str, ngram: int = 5, tokenization: str = "syllable") -> set[tuple[str, ...]]:
    """The exact shingle set of a text (for ground truth; the hasher never builds it)."""
    toks = tokenize(text, tokenization)
    n = min(ngram, len(toks))
    return {tuple(toks[i:i + n]) for i in range(len(toks) - n + 1)} if toks else set()


def signature_to_bytes(sig: np.ndarray) -> bytes:
    """Compact little-endian bytes of a signature (for records and shuffles)."""
    return np.ascontiguousarray(sig, dtype="<u4").tobytes()


def signature_from_bytes(data: bytes) -> np.ndarray:
    """Inverse of :func:`signature_to_bytes`."""
    return np.frombuffer(data, dtype="<u4")
