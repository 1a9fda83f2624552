"""The generic clustering with the non-text kinds: bit hashes (Hamming, pigeonhole bands) and
embeddings (cosine, random hyperplanes): their keys (filters/lsh.py), their verifiers, and
NearDuplicates / the published index on the FnApiRunner with them."""

from __future__ import annotations

import json
from pathlib import Path

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from filters.lsh import (CosineConfig, CosineLSH, HammingConfig, HammingLSH, cosine_similarities,
                         hamming_distances, hash_to_bytes, hyperplanes)
from filters.minhash import MinHashConfig
from pipelines.dedup import (VERIFIERS, DedupItem, NearDuplicates, ReadDedupIndex, WriteDedupIndex, _verified,
                             config_kind, cosine_dedup_item, hamming_dedup_item, verifier_for)
from storage.layout import index_run_list_key
from storage.local import LocalStore
from tests.test_dedup_pipeline import ONE, TWO, run_pairs

HAM = HammingConfig()  # 64 bits, max_distance 6 -> 7 bands
DIM = 64
COS = CosineConfig(dim=DIM)  # cos >= 0.95, 20 bands x 12 bits


def flip(h: int, positions) -> int:
    for p in positions:
        h ^= 1 << int(p)
    return h


def noisy(base: np.ndarray, cosine: float, rng: np.random.Generator) -> np.ndarray:
    """A vector at exactly ``cosine`` to ``base`` (a random direction orthogonal to it mixed in)."""
    base = base / np.linalg.norm(base)
    r = rng.standard_normal(base.size)
    r -= (r @ base) * base
    r /= np.linalg.norm(r)
    return cosine * base + np.sqrt(1 - cosine ** 2) * r


# ------------------------------------------------------------------------- keys (no Beam)


def test_pigeonhole_bands_catch_every_pair_within_the_distance() -> None:
    rng = np.random.default_rng(1)
    lsh = HammingLSH(HAM)
    for _ in range(2000):
        h = int(rng.integers(0, 2**63)) * 2 + int(rng.integers(0, 2))
        k = int(rng.integers(0, HAM.max_distance + 1))
        near = flip(h, rng.choice(64, size=k, replace=False))
        a, b = lsh.keys(hash_to_bytes(h)), lsh.keys(hash_to_bytes(near))
        assert len(a) == HAM.bands == 7 and set(a) & set(b)
    # The guarantee is tight: one flipped bit in every band leaves no band equal.
    h = int(rng.integers(0, 2**63))
    starts = [s for s, _ in lsh._bands]
    far = flip(h, starts)
    assert len(starts) == HAM.max_distance + 1
    assert not set(lsh.keys(hash_to_bytes(h))) & set(lsh.keys(hash_to_bytes(far)))
    # Band index is mixed in: equal band values in different bands give different keys.
    assert len(set(HammingLSH(HammingConfig(max_distance=7)).keys(bytes(8)))) == 8


def test_hamming_config_and_bytes() -> None:
    assert HammingConfig(bits=256, max_distance=31).bands == 32
    for bad in ({"bits": 12}, {"bits": 8, "max_distance": 8}, {"bogus": 1}):
        with pytest.raises(ValueError):
            HammingConfig(**bad)
    assert hash_to_bytes(0x8000000000000001) == b"\x80" + bytes(6) + b"\x01"
    with pytest.raises(ValueError):
        hash_to_bytes(1 << 64)
    with pytest.raises(ValueError):
        HammingLSH(HAM).keys(bytes(4))
    assert hamming_distances(bytes(8), [b"\xff" * 8, b"\x01" + bytes(7)]).tolist() == [64, 1]


def test_hyperplane_keys_are_pinned_and_versionless() -> None:
    """Index keys must not move with numpy: the generator is counter based, pinned here."""
    planes = hyperplanes(8, 32, seed=3)
    assert planes.shape == (8, 32)
    assert abs(planes.mean()) < 0.3 and 0.7 < planes.std() < 1.3
    np.testing.assert_array_equal(planes, hyperplanes(8, 32, seed=3))
    assert not np.array_equal(planes, hyperplanes(8, 32, seed=4))
    lsh = CosineLSH(CosineConfig(dim=4, bands=3, rows=8))
    assert lsh.keys([1.0, 2.0, 3.0, 4.0]) == PINNED_COSINE_KEYS
    assert lsh.keys([2.0, 4.0, 6.0, 8.0]) == PINNED_COSINE_KEYS  # scale free
    assert lsh.keys([0, 0, 0, 0]) == [] and lsh.keys([1, np.nan, 0, 0]) == []
    with pytest.raises(ValueError):
        lsh.keys([1.0, 2.0])


PINNED_COSINE_KEYS = [-5767597869914574172, -6657400224693140807, 2840954668095690107]


def test_cosine_candidate_rate_matches_the_s_curve() -> None:
    rng = np.random.default_rng(2)
    cfg = CosineConfig(dim=DIM, bands=4, rows=6)  # a shallow curve, so rates are measurable
    lsh = CosineLSH(cfg)
    for cosine in (0.95, 0.8, 0.5):
        hits = 0
        for _ in range(600):
            a = rng.standard_normal(DIM)
            hits += bool(set(lsh.keys(a)) & set(lsh.keys(noisy(a, cosine, rng))))
        assert abs(hits / 600 - cfg.candidate_probability(cosine)) < 0.06, cosine
    assert COS.candidate_probability(0.95) > 0.998 and COS.candidate_probability(0.5) < 0.15


def test_verifiers_per_kind() -> None:
    rng = np.random.default_rng(3)
    h = int(rng.integers(0, 2**63))
    head = hash_to_bytes(h)
    others = [hash_to_bytes(flip(h, range(k))) for k in (0, 6, 7, 30)]
    assert VERIFIERS["hamming"](head, others, HAM).tolist() == [True, True, False, False]
    v = rng.standard_normal(DIM)
    for dtype in ("float32", "float16"):
        cfg = CosineConfig(dim=DIM, dtype=dtype)
        lsh = CosineLSH(cfg)
        sigs = [lsh.signature(x) for x in (noisy(v, 0.99, rng), noisy(v, 0.9, rng), -v, np.zeros(DIM))]
        assert len(sigs[0]) == DIM * (4 if dtype == "float32" else 2)
        assert VERIFIERS["cosine"](lsh.signature(v), sigs, cfg).tolist() == [True, False, False, False]
        cos = cosine_similarities(lsh.signature(v), sigs, cfg.numpy_dtype)
        assert cos[0] == pytest.approx(0.99, abs=2e-3) and cos[3] == 0.0
    # Missing signatures (either side) and other lengths pass: the collision is the evidence.
    assert _verified(None, [head], HAM).tolist() == [True]
    assert _verified(head, [None, bytes(4), hash_to_bytes(~h & (2**64 - 1))], HAM).tolist() == [True, True, False]
    assert [config_kind(c) for c in (MinHashConfig(), HAM, COS)] == ["minhash", "hamming", "cosine"]

    class Other(HammingConfig):
        kind: str = "nope"

    with pytest.raises(ValueError, match="no dedup verifier"):
        verifier_for(Other())
    with pytest.raises(ValueError, match="no dedup verifier"):
        NearDuplicates(Other())


# ------------------------------------------------------------------------ Beam clustering


def phash_families(rng: np.random.Generator, families: int = 5, variants: int = 4):
    """Bases far apart (random 64-bit), variants within ``HAM.max_distance`` flipped bits, and
    near misses: 13 flips below band 0 (band 0 intact, so a bucket is shared for sure; 13 bits
    keep them > 6 from every variant too)."""
    lsh = HammingLSH(HAM)
    below0 = lsh._bands[0][0]  # bit positions below band 0 (the most significant band)
    items, expected, misses = [], {}, []
    for f in range(families):
        base = int(rng.integers(0, 2**63)) * 2 + 1
        items.append(hamming_dedup_item(f"f{f}-base", hash_to_bytes(base), lsh, (0, f)))
        for v in range(variants):
            k = int(rng.integers(1, HAM.max_distance + 1))
            h = flip(base, rng.choice(64, size=k, replace=False))
            items.append(hamming_dedup_item(f"f{f}-v{v}", hash_to_bytes(h), lsh, (1, f, v)))
            expected[f"f{f}-v{v}"] = f"f{f}-base"
        miss = flip(base, rng.choice(below0, size=2 * HAM.max_distance + 1, replace=False))
        items.append(hamming_dedup_item(f"f{f}-miss", hash_to_bytes(miss), lsh, (2, f)))
        misses.append(f"f{f}-miss")
    for i in range(10):
        h = int(rng.integers(0, 2**63))
        items.append(hamming_dedup_item(f"far-{i}", hash_to_bytes(h), lsh, (3, i)))
    return items, expected, misses


def test_near_phashes_cluster_far_ones_do_not(tmp_path: Path) -> None:
    items, expected, misses = phash_families(np.random.default_rng(4))
    assert run_pairs(items, HAM, tmp_path) == expected
    # Without verification the near misses' shared band makes them duplicates: verification
    # (distance 13 > 6) is what keeps them.
    loose = run_pairs(items, HAM.model_copy(update={"verify_pairs": False}), tmp_path)
    assert set(misses) <= set(loose)
    # Two workers (the verifier travels with the DoFn to other processes) agree.
    assert run_pairs(items, HAM, tmp_path, TWO) == expected


def embedding_families(rng: np.random.Generator, dtype: str = "float32"):
    cfg = COS.model_copy(update={"dtype": dtype})
    lsh = CosineLSH(cfg)
    bases = np.linalg.qr(rng.standard_normal((DIM, DIM)))[0][:6]  # orthonormal rows: cos 0
    items, expected = [], {}
    for f, b in enumerate(bases):
        items.append(cosine_dedup_item(f"e{f}-base", 3.0 * b, lsh, (0, f)))
        for v in range(4):
            items.append(cosine_dedup_item(f"e{f}-v{v}", noisy(b, 0.985, rng), lsh, (1, f, v)))
            expected[f"e{f}-v{v}"] = f"e{f}-base"
        items.append(cosine_dedup_item(f"e{f}-miss", noisy(b, 0.85, rng), lsh, (2, f)))
    return cfg, items, expected


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_noisy_embeddings_cluster_orthogonal_ones_do_not(tmp_path: Path, dtype: str) -> None:
    cfg, items, expected = embedding_families(np.random.default_rng(5), dtype)
    assert run_pairs(items, cfg, tmp_path) == expected
    if dtype == "float32":
        loose = run_pairs(items, cfg.model_copy(update={"verify_pairs": False}), tmp_path)
        assert any(k.endswith("-miss") for k in loose)  # cos 0.85 collides, verification rejects


def mixed_bucket(kind: str) -> tuple[object, list[DedupItem]]:
    """One shared bucket (key 99) holding two tight groups far from each other, priorities
    interleaved (a0 best, then b0), plus an item without a signature."""
    rng = np.random.default_rng(6)
    if kind == "hamming":
        a, b = 0x0F0F_0F0F_0F0F_0F0F, 0xF0F0_F0F0_F0F0_F0F0
        sig_a = [hash_to_bytes(flip(a, rng.choice(64, size=2, replace=False))) for _ in range(4)]
        sig_b = [hash_to_bytes(flip(b, rng.choice(64, size=2, replace=False))) for _ in range(4)]
        cfg = HAM
    else:
        cfg = COS
        lsh = CosineLSH(cfg)
        e = np.eye(DIM)
        sig_a = [lsh.signature(noisy(e[0], 0.99, rng)) for _ in range(4)]
        sig_b = [lsh.signature(noisy(e[1], 0.99, rng)) for _ in range(4)]
    items = []
    for i in range(4):
        items.append(DedupItem(f"a{i}", (99,), (2 * i,), sig_a[i]))
        items.append(DedupItem(f"b{i}", (99,), (2 * i + 1,), sig_b[i]))
    items.append(DedupItem("nosig", (99,), (50,), None))
    return cfg, items


@pytest.mark.parametrize("kind", ["hamming", "cosine"])
def test_verification_splits_a_mixed_bucket_into_stars(tmp_path: Path, kind: str) -> None:
    cfg, items = mixed_bucket(kind)
    a = {f"a{i}": "a0" for i in range(1, 4)}
    b = {f"b{i}": "b0" for i in range(1, 4)}
    # Small bucket: star around a0; the b's fail it and form the next star around b0.
    assert run_pairs(items, cfg, tmp_path) == {**a, **b, "nosig": "a0"}
    assert run_pairs(items, cfg.model_copy(update={"verify_pairs": False}), tmp_path) == {
        **a, **{f"b{i}": "a0" for i in range(4)}, "nosig": "a0"}
    # Oversized (streamed): only the star around the best member; the b's lose this bucket.
    streamed = run_pairs(items, cfg.model_copy(update={"max_bucket_size": 3}), tmp_path)
    assert streamed == {**a, "nosig": "a0"}


@pytest.mark.parametrize("kind", ["hamming", "cosine"])
def test_published_index_works_for_other_kinds(tmp_path: Path, kind: str) -> None:
    """The index holds (partition, band, band_hash, id): bucket keys only, no signatures, so
    any kind's keys go through it; its listing carries the kind's fingerprint."""
    store = LocalStore(tmp_path / "store")
    rng = np.random.default_rng(7)
    if kind == "hamming":
        cfg, lsh = HAM, HammingLSH(HAM)
        bases = [int(rng.integers(0, 2**63)) for _ in range(4)]
        mk = lambda i, h, p: hamming_dedup_item(i, hash_to_bytes(h), lsh, p)  # noqa: E731
        near = lambda h: flip(h, rng.choice(64, size=3, replace=False))  # noqa: E731
    else:
        cfg = COS
        lsh = CosineLSH(cfg)
        bases = list(np.linalg.qr(rng.standard_normal((DIM, DIM)))[0][:4])
        mk = lambda i, v, p: cosine_dedup_item(i, v, lsh, p)  # noqa: E731
        near = lambda v: noisy(v, 0.99, rng)  # noqa: E731
    published = [mk(f"pub-{i}", b, (0,)) for i, b in enumerate(bases[:3])]
    with beam.Pipeline(options=PipelineOptions(ONE)) as p:
        _ = p | beam.Create(published) | WriteDedupIndex(store, "img", "run-1", cfg, partition_bits=2)
    listing = json.loads(store.get_bytes(index_run_list_key("img", "run-1")))
    assert listing["config"] == cfg.index_fingerprint() and listing["config"]["kind"] == kind
    table = pq.read_table(pa.BufferReader(store.get_bytes(listing["shards"][0]["key"])))
    assert table.column_names == ["partition", "band", "band_hash", "id"]
    assert max(r["rows"] for r in listing["shards"]) <= 3 * cfg.bands
    new = [mk("new-near", near(bases[1]), (-1,)),  # better priority, still loses to published
           mk("new-other", bases[3], (3,)),
           mk("new-other-dup", near(bases[3]), (4,))]
    got = run_pairs(new, cfg, tmp_path, store=store, dataset="img")
    assert got == {"new-near": "pub-1", "new-other-dup": "new-other"}
    for other in (MinHashConfig(), HammingConfig(max_distance=3), CosineConfig(dim=DIM, seed=2)):
        with pytest.raises(ValueError, match="near-dedup settings"):
            ReadDedupIndex(store, "img", other)


def test_streamed_bucket_is_verified_chunk_by_chunk() -> None:
    """A bucket over max_bucket_size spanning several STREAM_CHUNKs: every near member gets
    its edge to the best one, no far member does, published-published pairs are skipped."""
    from pipelines.dedup import NEW, PUBLISHED, STREAM_CHUNK, BucketEdges

    rng = np.random.default_rng(8)
    base = int(rng.integers(0, 2**63))
    n = 2 * STREAM_CHUNK + 77
    members = [((PUBLISHED, (), "pub-a"), hash_to_bytes(base)), ((PUBLISHED, (), "pub-b"), None)]
    near = set()
    for i in range(n):
        k = int(rng.integers(0, 13))
        node = (NEW, (i,), f"m{i:05d}")
        members.append((node, hash_to_bytes(flip(base, rng.choice(64, size=k, replace=False)))))
        if k <= HAM.max_distance:
            near.add(node)
    dofn = BucketEdges(HAM.model_copy(update={"max_bucket_size": 10}))
    edges = list(dofn.process((99, members)))
    head = (PUBLISHED, (), "pub-a")
    assert all(v == head for _, v in edges)
    assert {u for u, _ in edges} == near and len(edges) == len(near)
    assert 0 < len(near) < n
