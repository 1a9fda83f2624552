"""NearDuplicates on the FnApiRunner: exact components and representatives on hand-made
graphs, 1 vs 2 workers, reruns, oversized buckets, verification, and the published index."""

from __future__ import annotations

import glob
import random
from pathlib import Path

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from filters.minhash import MinHashConfig, MinHasher, signature_to_bytes
from pipelines.dedup import (DedupItem, NearDuplicates, ReadDedupIndex, WriteDedupIndex,
                             text_dedup_item)
from storage.layout import index_run_list_key
from storage.local import LocalStore

ONE = ["--runner=FnApiRunner"]
TWO = ["--runner=FnApiRunner", "--direct_num_workers=2", "--direct_running_mode=multi_processing"]
NOVERIFY = MinHashConfig(verify_pairs=False)


def run_pairs(items: list[DedupItem], cfg: MinHashConfig, tmp: Path, args: list[str] = ONE,
              store: LocalStore | None = None, dataset: str = "") -> dict[str, str]:
    """Run NearDuplicates and return {duplicate_id: kept_id}."""
    out = tmp / f"pairs-{random.randrange(10**9)}"
    with beam.Pipeline(options=PipelineOptions(args)) as p:
        pc = p | "Items" >> beam.Create(items)
        published = None
        if store is not None:
            probe = pc | "Keys" >> beam.FlatMap(lambda it: it.bucket_keys)
            published = p | "Index" >> ReadDedupIndex(store, dataset, cfg, probe=probe)
        (pc | NearDuplicates(cfg, published)
            | beam.Map(lambda kv: f"{kv[0]}\t{kv[1]}")
            | beam.io.WriteToText(str(out)))
    pairs: dict[str, str] = {}
    for f in glob.glob(f"{out}*"):
        for line in Path(f).read_text().splitlines():
            d, k = line.split("\t")
            assert d not in pairs, f"{d} reported twice"
            pairs[d] = k
    return pairs


def graph_items(edges: list[tuple[str, str]], prio: dict[str, tuple], prefix: str) -> list[DedupItem]:
    """Items whose shared bucket keys are exactly ``edges`` (one bucket per edge)."""
    keys: dict[str, list[int]] = {n: [] for n in prio}
    for i, (a, b) in enumerate(edges):
        k = hash((prefix, i))  # any signed 64-bit key
        keys[a].append(k)
        keys[b].append(k)
    return [DedupItem(n, tuple(keys[n]), prio[n]) for n in prio]


def expected_pairs(edges: list[tuple[str, str]], prio: dict[str, tuple]) -> dict[str, str]:
    """Union-find ground truth: every non-minimum (priority, id) member -> the minimum."""
    parent = {n: n for n in prio}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        parent[find(a)] = find(b)
    comps: dict[str, list[str]] = {}
    for n in prio:
        comps.setdefault(find(n), []).append(n)
    out = {}
    for members in comps.values():
        best = min(members, key=lambda n: (prio[n], n))
        out.update({n: best for n in members if n != best})
    return out


def hand_made_graphs() -> tuple[list[DedupItem], dict[str, str]]:
    """A chain of 12 and one of 40 with shuffled priorities, a star whose centre is not the
    best, two chains that meet only at their far ends, and isolated nodes."""
    rng = random.Random(5)
    items, expected = [], {}

    def add(name: str, nodes: list[str], edges: list[tuple[str, str]], prio: dict[str, tuple]) -> None:
        items.extend(graph_items(edges, prio, name))
        expected.update(expected_pairs(edges, prio))

    for n in (12, 40):
        nodes = [f"chain{n}-{i:03d}" for i in range(n)]
        ranks = list(range(n))
        rng.shuffle(ranks)
        add(f"chain{n}", nodes, list(zip(nodes, nodes[1:])), {v: (r,) for v, r in zip(nodes, ranks)})
    leaves = [f"star-{i:02d}" for i in range(20)]
    prio = {"star-center": (5,), **{leaf: (10 + i,) for i, leaf in enumerate(leaves)}}
    prio["star-13"] = (0,)
    add("star", ["star-center", *leaves], [("star-center", x) for x in leaves], prio)
    a = [f"late-a{i}" for i in range(10)]
    b = [f"late-b{i}" for i in range(10)]
    prio = {v: (100 + i,) for i, v in enumerate(a)} | {v: (i,) for i, v in enumerate(b)}
    add("late", a + b, list(zip(a, a[1:])) + list(zip(b, b[1:])) + [(a[-1], b[-1])], prio)
    iso = {f"iso-{i}": (i,) for i in range(5)}
    items.extend(DedupItem(n, (hash(n),), p) for n, p in iso.items())
    return items, expected


def test_hand_made_graphs_give_exact_components(tmp_path: Path) -> None:
    items, expected = hand_made_graphs()
    got = run_pairs(items, NOVERIFY, tmp_path)
    assert got == expected
    assert got["star-center"] == "star-13"
    assert got["late-a0"] == "late-b0"  # the best record is 19 hops away, across the late join
    assert not any(k.startswith("iso") for k in got)


def random_graph(n: int = 300, m: int = 260, seed: int = 9) -> tuple[list[DedupItem], dict[str, str]]:
    rng = random.Random(seed)
    nodes = [f"r{i:04d}" for i in range(n)]
    edges = [tuple(rng.sample(nodes, 2)) for _ in range(m)]
    prio = {v: (-round(rng.random(), 1), f"2024-01-{rng.randint(1, 28):02d}", v) for v in nodes}
    return graph_items(edges, prio, "rand"), expected_pairs(edges, prio)


def test_one_and_two_workers_and_rerun_agree(tmp_path: Path) -> None:
    items, expected = random_graph()
    one = run_pairs(items, NOVERIFY, tmp_path, ONE)
    two = run_pairs(items, NOVERIFY, tmp_path, TWO)
    again = run_pairs(list(reversed(items)), NOVERIFY, tmp_path, ONE)
    assert one == expected
    assert two == one
    assert again == one


def test_unconverged_components_stay_split_but_correct(tmp_path: Path) -> None:
    nodes = [f"c{i:03d}" for i in range(64)]
    prio = {v: (i,) for i, v in enumerate(reversed(nodes))}  # best at the far end
    edges = list(zip(nodes, nodes[1:]))
    got = run_pairs(graph_items(edges, prio, "u"), MinHashConfig(verify_pairs=False, cc_rounds=1), tmp_path)
    assert 0 < len(got) < 63  # not converged: some records stay kept
    kept = set(nodes) - set(got)
    assert set(got.values()) <= kept  # every duplicate points at a record that is kept
    full = run_pairs(graph_items(edges, prio, "u"), NOVERIFY, tmp_path)
    assert full == expected_pairs(edges, prio)


def test_oversized_bucket_is_streamed_to_its_best_member(tmp_path: Path) -> None:
    items = [DedupItem(f"b{i}", (42,), (i % 7, i)) for i in range(30)]
    got = run_pairs(items, MinHashConfig(verify_pairs=False, max_bucket_size=5), tmp_path)
    assert got == {f"b{i}": "b0" for i in range(1, 30)}


def test_verification_drops_dissimilar_bucket_collisions(tmp_path: Path) -> None:
    h = MinHasher()
    rng = np.random.default_rng(0)
    sig_a = rng.integers(0, 2**32, size=112, dtype=np.uint64).astype(np.uint32)
    sig_b = sig_a.copy()
    sig_b[:10] += 1  # estimated J = 102/112 = 0.91
    sig_c = sig_a.copy()
    sig_c[8:] += 1  # shares band 0 only: J = 8/112
    mk = lambda i, s: DedupItem(i, tuple(h.band_hashes(s)), (i,), signature_to_bytes(s))  # noqa: E731
    items = [mk("a", sig_a), mk("b", sig_b), mk("c", sig_c)]
    assert run_pairs(items, MinHashConfig(), tmp_path) == {"b": "a"}
    assert run_pairs(items, NOVERIFY, tmp_path) == {"b": "a", "c": "a"}


def test_published_records_win(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    cfg = MinHashConfig()
    h = MinHasher.from_config(cfg)
    rng = random.Random(4)
    words = "một hai ba bốn năm sáu bảy tám chín mười trăm nghìn triệu tỷ người nhà".split()
    texts = [" ".join(rng.choice(words) for _ in range(300)) for _ in range(6)]
    published = [text_dedup_item(f"pub-{i}", t, h, (0,)) for i, t in enumerate(texts[:4])]
    with beam.Pipeline(options=PipelineOptions(ONE)) as p:
        _ = (p | beam.Create(published) | WriteDedupIndex(store, "ds", "run-1", cfg, partition_bits=2,
                                                           row_group_rows=8))
    assert store.exists(index_run_list_key("ds", "run-1"))
    near = texts[1].split()
    near[10] = "khác"
    new = [text_dedup_item("new-near", " ".join(near), h, (-1,)),  # better priority, still loses
           text_dedup_item("new-same", texts[2], h, (5,)),
           text_dedup_item("new-other", texts[4], h, (3,)),
           text_dedup_item("new-other-dup", texts[4], h, (4,))]
    got = run_pairs(new, cfg, tmp_path, store=store, dataset="ds")
    assert got == {"new-near": "pub-1", "new-same": "pub-2", "new-other-dup": "new-other"}
    # each run lists its own shards; a second run's list adds to the first's
    with beam.Pipeline(options=PipelineOptions(ONE)) as p:
        _ = p | beam.Create(new[2:3]) | WriteDedupIndex(store, "ds", "run-2", cfg, partition_bits=2)
    got = run_pairs([text_dedup_item("late", texts[4], h, (0,))], cfg, tmp_path, store=store, dataset="ds")
    assert got == {"late": "new-other"}
    with pytest.raises(ValueError):
        ReadDedupIndex(store, "ds", MinHashConfig(seed=99))
