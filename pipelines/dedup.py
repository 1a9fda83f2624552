"""Near-duplicate removal in Beam: LSH buckets -> candidate edges -> connected components.

Everything is keyed and grouped, never collected on one worker, so the same graph runs on the
FnApiRunner and on Flink/Spark/Dataflow at 100 PB:

1. ``EmitBuckets``: each item (any modality: an id, bucket keys, a priority, optionally a
   signature) goes to its LSH buckets; published records come from the dedup index.
2. ``GroupBuckets`` + ``BucketEdges``: each bucket becomes a *star* around its best member
   (O(n) edges, never O(n^2) pairs), optionally verified by the kind's verifier (``VERIFIERS``:
   MinHash estimated Jaccard, Hamming distance of bit hashes, cosine of embeddings; the kind
   is the config's: ``MinHashConfig``, ``filters.lsh.HammingConfig``, ``CosineConfig``).
   Buckets over ``max_bucket_size`` are streamed twice (find the best, then emit) instead of
   being materialized.
3. ``ConnectedComponents``: alternating large-star / small-star (Kiveris et al., 2014), one
   GroupByKey per half-round, unrolled ``cc_rounds`` times in the pipeline graph. Nodes are
   ordered by (published first, priority, id), so a converged component is a star around its
   representative: the published record if any, else the best priority.
4. ``Resolve``: every non-representative gets (duplicate_id, kept_id). A node whose label is not
   itself a root (the graph had not converged) is left kept: the component stays split, which
   keeps a duplicate but never drops a unique record. A counter reports it.

The published-record index (``index/<dataset>/runs/<run>/``) is Parquet of (partition, band,
band_hash, id) sorted by band_hash; each run lists its own shards in ``shards.json`` beside
them, so no two runs write the same object and only committed runs' lists are read (no LIST,
no shared manifest to lose updates on). See docs/dedup.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, NamedTuple, Union

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from filters.lsh import (CosineConfig, CosineLSH, HammingConfig, HammingLSH, cosine_similarities,
                         hamming_distances)
from filters.minhash import MinHashConfig, MinHasher, signature_from_bytes, signature_to_bytes
from storage.base import ObjectStore
from storage.dedup_index import (PublishedIndex, index_table, partition_of, read_shard, shard_key,
                                 write_run_index, write_shard)

log = logging.getLogger(__name__)

NAMESPACE = "kho_dedup"
#: Nodes sort first by this flag: published records (0) always beat new ones (1).
PUBLISHED, NEW = 0, 1
#: Members of an oversized bucket verified per numpy call while it is streamed.
STREAM_CHUNK = 1024

#: The settings of one clustering kind; its ``kind`` picks the verifier (MinHashConfig has no
#: ``kind`` field: it is "minhash").
ClusterConfig = Union[MinHashConfig, HammingConfig, CosineConfig]


class DedupItem(NamedTuple):
    """One record as the clustering sees it, whatever its modality.

    ``bucket_keys``: signed 64-bit LSH bucket keys, band index mixed in (text: MinHash band
    hashes; images: pigeonhole bands of a pHash; embeddings: hyperplane bands).
    ``priority``: lower is better, e.g. ``(-quality, crawl_date, id)``; all items of a run
    must have mutually comparable priorities. ``signature``: optional bytes the run's verifier
    checks candidate pairs with, in the format of the config's kind: "minhash" little-endian
    uint32 values, "hamming" the bit-packed hash, "cosine" the little-endian float32/float16
    vector. ``None`` (or a length other than the bucket leader's) skips verification for
    this item: the bucket collision is then the evidence.
    """

    id: str
    bucket_keys: tuple[int, ...]
    priority: tuple = ()
    signature: bytes | None = None


Node = tuple  # (flag, priority, id): ordered, hashable, deterministic to encode


def item_node(item: DedupItem) -> Node:
    """The graph node of a new item: ordered after every published record."""
    return (NEW, tuple(item.priority), item.id)


def published_node(record_id: str) -> Node:
    """The graph node of a published record: it wins any component it is in."""
    return (PUBLISHED, (), record_id)


def text_dedup_item(record_id: str, text: str, hasher: MinHasher, priority: tuple = ()) -> DedupItem:
    """A text record's DedupItem (signature + band hashes) under ``hasher``."""
    sig, keys = hasher.text_bands(text)
    return DedupItem(record_id, tuple(keys), tuple(priority), signature_to_bytes(sig))


def hamming_dedup_item(record_id: str, hash_bytes: bytes, lsh: HammingLSH, priority: tuple = ()) -> DedupItem:
    """A bit hash's DedupItem (e.g. an image's 64-bit pHash, ``filters.lsh.hash_to_bytes``)."""
    return DedupItem(record_id, tuple(lsh.keys(hash_bytes)), tuple(priority), bytes(hash_bytes))


def cosine_dedup_item(record_id: str, vector, lsh: CosineLSH, priority: tuple = ()) -> DedupItem:
    """An embedding's DedupItem (hyperplane band keys + the vector as signature)."""
    return DedupItem(record_id, tuple(lsh.keys(vector)), tuple(priority), lsh.signature(vector))


# ------------------------------------------------------------------------------ verifiers

#: ``(head_sig, others, cfg) -> bool mask``: which of ``others`` (signature bytes, all of
#: ``head_sig``'s length) are near duplicates of ``head_sig`` under ``cfg``. Vectorised.
Verifier = Callable[[bytes, Sequence[bytes], Any], np.ndarray]


def verify_minhash(head_sig: bytes, others: Sequence[bytes], cfg: MinHashConfig) -> np.ndarray:
    """Estimated Jaccard (fraction of equal uint32 values) >= ``cfg.jaccard_threshold``."""
    head = signature_from_bytes(head_sig)
    mat = np.frombuffer(b"".join(others), dtype="<u4").reshape(len(others), head.size)
    est = (mat == head[None, :]).mean(axis=1)
    return est >= cfg.jaccard_threshold


def verify_hamming(head_sig: bytes, others: Sequence[bytes], cfg: HammingConfig) -> np.ndarray:
    """Hamming distance of the bit-packed hashes <= ``cfg.max_distance``."""
    return hamming_distances(head_sig, others) <= cfg.max_distance


def verify_cosine(head_sig: bytes, others: Sequence[bytes], cfg: CosineConfig) -> np.ndarray:
    """Cosine of the vectors (``cfg.dtype``) >= ``cfg.cosine_threshold``."""
    return cosine_similarities(head_sig, others, cfg.numpy_dtype) >= cfg.cosine_threshold


VERIFIERS: dict[str, Verifier] = {"minhash": verify_minhash, "hamming": verify_hamming,
                                  "cosine": verify_cosine}


def register_verifier(kind: str, verifier: Verifier) -> None:
    """Add a kind (its config needs ``kind``, ``verify_pairs``, ``max_bucket_size``,
    ``cc_rounds``, ``bands`` and ``index_fingerprint()``). Use a module-level function: the
    DoFn carries it to the workers by reference."""
    VERIFIERS[kind] = verifier


def config_kind(cfg: Any) -> str:
    """The clustering kind of a config ("minhash" for MinHashConfig, else its ``kind``)."""
    return getattr(cfg, "kind", "minhash")


def verifier_for(cfg: Any) -> Verifier:
    kind = config_kind(cfg)
    try:
        return VERIFIERS[kind]
    except KeyError:
        raise ValueError(f"no dedup verifier for kind {kind!r} (known: {sorted(VERIFIERS)})") from None


# ---------------------------------------------------------------------------- buckets -> edges


def _emit_buckets(item: DedupItem) -> Iterator[tuple[int, tuple[Node, bytes | None]]]:
    node = item_node(item)
    for key in dict.fromkeys(item.bucket_keys):  # unique, order kept
        yield key, (node, item.signature)


def _verified(head_sig: bytes | None, others: list[bytes | None], cfg: Any,
              verify: Verifier | None = None) -> np.ndarray:
    """Which of ``others`` pass the kind's check against ``head_sig`` (a missing signature on
    either side, or one of another length, passes: the bucket collision is the only evidence)."""
    ok = np.ones(len(others), dtype=bool)
    if head_sig is None:
        return ok
    idx = [i for i, s in enumerate(others) if s is not None and len(s) == len(head_sig)]
    if idx:
        ok[idx] = (verify or verifier_for(cfg))(head_sig, [others[i] for i in idx], cfg)
    return ok


class BucketEdges(beam.DoFn):
    """One LSH bucket -> candidate edges (member, leader) with leader < member.

    Small buckets: greedy leader clustering in priority order, i.e. a star around the best
    member; with ``verify_pairs``, members that fail the check against that leader form the
    next star around the best of them, and so on (no O(n^2) pairs are ever emitted). Oversized
    buckets are streamed in two passes over the grouped iterable: find the best member, then
    connect (verified) members to it; members that fail stay unconnected *through this
    bucket* (they have ``bands - 1`` other chances).

    The check is the config's kind's verifier (``VERIFIERS``), vectorised over a star's
    members (a streamed bucket: over chunks of ``STREAM_CHUNK``).
    """

    def __init__(self, cfg: ClusterConfig) -> None:
        self.cfg = cfg
        self.verify = verifier_for(cfg)
        self.buckets = Metrics.counter(NAMESPACE, "buckets_with_candidates")
        self.oversized = Metrics.counter(NAMESPACE, "oversized_buckets")
        self.rejected = Metrics.counter(NAMESPACE, "edges_rejected_by_verification")

    def process(self, element: tuple[int, Iterable[tuple[Node, bytes | None]]]) -> Iterator[tuple[Node, Node]]:
        _, members = element
        small: list[tuple[Node, bytes | None]] = []
        for m in members:
            small.append(m)
            if len(small) > self.cfg.max_bucket_size:
                self.oversized.inc()
                yield from self._stream(members)
                return
        if len(small) < 2 or all(node[0] == PUBLISHED for node, _ in small):
            return
        self.buckets.inc()
        yield from self._stars(small)

    def _stars(self, members: list[tuple[Node, bytes | None]]) -> Iterator[tuple[Node, Node]]:
        rest = sorted(dict(members).items())  # one entry per node, best first
        while len(rest) > 1:
            (head, head_sig), others = rest[0], rest[1:]
            ok = (_verified(head_sig, [s for _, s in others], self.cfg, self.verify)
                  if self.cfg.verify_pairs else np.ones(len(others), dtype=bool))
            for (node, _), good in zip(others, ok):
                if good and not (node[0] == PUBLISHED and head[0] == PUBLISHED):
                    yield node, head
            self.rejected.inc(int((~ok).sum()))
            rest = [o for o, good in zip(others, ok) if not good]

    def _stream(self, members: Iterable[tuple[Node, bytes | None]]) -> Iterator[tuple[Node, Node]]:
        head, head_sig = min(members, key=lambda m: m[0])
        # GBK values are re-iterable; only one chunk at a time is held.
        todo = ((node, sig) for node, sig in members
                if not (node == head or (node[0] == PUBLISHED and head[0] == PUBLISHED)))
        while chunk := list(islice(todo, STREAM_CHUNK)):
            ok = (_verified(head_sig, [s for _, s in chunk], self.cfg, self.verify)
                  if self.cfg.verify_pairs else np.ones(len(chunk), dtype=bool))
            self.rejected.inc(int((~ok).sum()))
            for (node, _), good in zip(chunk, ok):
                if good:
                    yield node, head


class CandidateEdges(beam.PTransform):
    """DedupItems (+ published (bucket_key, id) pairs) -> candidate edges (node, node)."""

    def __init__(self, cfg: ClusterConfig, published_index: beam.PCollection | None = None) -> None:
        super().__init__()
        verifier_for(cfg)  # an unknown kind fails at graph construction, not on a worker
        self.cfg, self.published_index = cfg, published_index

    def expand(self, items):
        members = items | "EmitBuckets" >> beam.FlatMap(_emit_buckets)
        if self.published_index is not None:
            published = self.published_index | "PublishedBuckets" >> beam.Map(
                lambda kv: (kv[0], (published_node(kv[1]), None)))
            members = (members, published) | "WithPublished" >> beam.Flatten()
        return (members
                | "GroupBuckets" >> beam.GroupByKey()
                | "BucketEdges" >> beam.ParDo(BucketEdges(self.cfg)))


# ------------------------------------------------------------------- connected components


def _both_ways(edge: tuple[Node, Node]) -> Iterator[tuple[Node, Node]]:
    u, v = edge
    if u != v:
        yield u, v
        yield v, u


def _toward_larger(edge: tuple[Node, Node]) -> Iterator[tuple[Node, Node]]:
    u, v = edge
    if u != v:
        yield (u, v) if u > v else (v, u)


class _LargeStar(beam.DoFn):
    """At u: connect every neighbour larger than u to m = min(N(u) + u)."""

    def __init__(self, round_no: int) -> None:
        self.changes = Metrics.counter(NAMESPACE, f"cc_round_{round_no:02d}_large_changes")

    def process(self, element: tuple[Node, Iterable[Node]]) -> Iterator[tuple[Node, Node]]:
        u, nbrs = element
        nbrs = set(nbrs)
        m = min(min(nbrs), u)
        larger = [v for v in nbrs if v > u]
        if m < u and larger:
            self.changes.inc(len(larger))
        for v in larger:
            yield v, m


class _SmallStar(beam.DoFn):
    """At u with its smaller neighbours N: connect N + u to m = min(N)."""

    def __init__(self, round_no: int) -> None:
        self.changes = Metrics.counter(NAMESPACE, f"cc_round_{round_no:02d}_small_changes")

    def process(self, element: tuple[Node, Iterable[Node]]) -> Iterator[tuple[Node, Node]]:
        u, smaller = element
        smaller = set(smaller)
        m = min(smaller)
        if len(smaller) > 1:
            self.changes.inc(len(smaller) - 1)
        yield u, m
        for v in smaller:
            if v != m:
                yield v, m


class ConnectedComponents(beam.PTransform):
    """Edges (node, node) -> labels (node, label): label = the minimum node of the component
    once converged (nodes without edges do not appear).

    ``rounds`` alternations of large-star and small-star, each a GroupByKey, unrolled in the
    graph. Kiveris et al. prove the alternation converges in O(log^2 n) rounds (O(log n)
    observed; our inputs are bucket stars, so components start with diameter <= 2 per bucket).
    """

    def __init__(self, rounds: int) -> None:
        super().__init__()
        self.rounds = rounds

    def expand(self, edges):
        for r in range(1, self.rounds + 1):
            edges = (edges
                     | f"LargeStarEmit{r}" >> beam.FlatMap(_both_ways)
                     | f"LargeStarGroup{r}" >> beam.GroupByKey()
                     | f"LargeStar{r}" >> beam.ParDo(_LargeStar(r))
                     | f"SmallStarEmit{r}" >> beam.FlatMap(_toward_larger)
                     | f"SmallStarGroup{r}" >> beam.GroupByKey()
                     | f"SmallStar{r}" >> beam.ParDo(_SmallStar(r)))
        return (edges
                | "LabelEmit" >> beam.FlatMap(lambda e: [(e[0], e[1]), (e[1], e[0]), (e[0], e[0]), (e[1], e[1])])
                | "Label" >> beam.CombinePerKey(min))


class _Resolve(beam.DoFn):
    """At node x: if x labels itself (a root), its children are its duplicates; otherwise the
    graph had not converged and its children stay kept (a split component, counted)."""

    def __init__(self) -> None:
        self.unresolved = Metrics.counter(NAMESPACE, "cc_unresolved_nodes")
        self.duplicates = Metrics.counter(NAMESPACE, "near_duplicates")

    def process(self, element: tuple[Node, Iterable[tuple[str, Node]]]) -> Iterator[tuple[str, str]]:
        x, values = element
        is_root = any(kind == "s" and label == x for kind, label in values)
        for kind, child in values:  # second pass over the re-iterable group
            if kind != "c":
                continue
            if not is_root:
                self.unresolved.inc()
            elif child[0] == NEW:
                self.duplicates.inc()
                yield child[-1], x[-1]


def _resolve_emit(kv: tuple[Node, Node]) -> Iterator[tuple[Node, tuple[str, Node]]]:
    node, label = kv
    yield node, ("s", label)
    if label != node:
        yield label, ("c", node)


class NearDuplicates(beam.PTransform):
    """DedupItems -> (duplicate_id, kept_id) for every item that is not its cluster's
    representative. The representative is a published record if the cluster has one (it is
    already out), else the item with the lowest ``priority`` (then the smallest id).

    ``config``: the kind's settings (``MinHashConfig`` for text, ``filters.lsh.HammingConfig``
    for bit hashes, ``CosineConfig`` for embeddings): verifier, bucket guard, ``cc_rounds``.
    ``published_index``: optional PCollection of (bucket_key, published_id), e.g. from
    :class:`ReadDedupIndex`. Published ids never appear as duplicates.
    """

    def __init__(self, config: ClusterConfig, published_index: beam.PCollection | None = None) -> None:
        super().__init__()
        verifier_for(config)  # an unknown kind fails here, not on a worker
        self.config, self.published_index = config, published_index

    def expand(self, items):
        labels = (items
                  | "CandidateEdges" >> CandidateEdges(self.config, self.published_index)
                  | "Components" >> ConnectedComponents(self.config.cc_rounds))
        return (labels
                | "ResolveEmit" >> beam.FlatMap(_resolve_emit)
                | "ResolveGroup" >> beam.GroupByKey()
                | "Resolve" >> beam.ParDo(_Resolve()))


class SplitNearDuplicates(beam.PTransform):
    """Records (dicts with ``id``) + (duplicate_id, kept_id) pairs -> tagged outputs
    ``unique`` and ``duplicates`` (the record with ``dup_kind="near"`` and ``dup_of``)."""

    def __init__(self, pairs: beam.PCollection) -> None:
        super().__init__()
        self.pairs = pairs

    def expand(self, records):
        keyed = records | "KeyById" >> beam.Map(lambda r: (r["id"], r))
        return ({"r": keyed, "d": self.pairs}
                | "JoinPairs" >> beam.CoGroupByKey()
                | "Split" >> beam.FlatMap(_split_joined).with_outputs("duplicates", main="unique"))


def _split_joined(kv: tuple[str, dict[str, list]]) -> Iterator[Any]:
    _, groups = kv
    kept_of = list(groups["d"])
    for rec in groups["r"]:
        if kept_of:
            yield beam.pvalue.TaggedOutput("duplicates", {**rec, "dup_kind": "near", "dup_of": kept_of[0]})
        else:
            yield rec


# ------------------------------------------------------------------------- published index
# The index's storage format lives in storage/dedup_index.py (no Beam); here only transforms.


class _ProbePartition(beam.DoFn):
    def __init__(self, store: ObjectStore, shards_by_partition: dict[int, list[str]]) -> None:
        self.store, self.shards = store, shards_by_partition

    def process(self, element: tuple[int, Iterable[int]]) -> Iterator[tuple[int, str]]:
        part, keys = element
        probe = np.unique(np.fromiter(keys, dtype=np.int64))
        for key in self.shards.get(part, []):
            yield from read_shard(self.store, key, probe)


class ReadDedupIndex(beam.PTransform):
    """Published records' (bucket_key, id) from ``index/<dataset>/`` via its manifest.

    Input: the pipeline root (``p | ReadDedupIndex(...)``) reads every shard; or, with
    ``probe`` (a PCollection of the run's bucket keys), a semi-join: new keys are grouped by
    index partition and each partition's shards are read only where their row-group ranges
    can hold a probed key. The index is never shuffled. ``config`` (if given) must match the
    settings the index was built with. ``only_runs`` keeps the shards of those runs only
    (the runs that committed a version), so a crashed run's index shards are ignored.
    """

    def __init__(self, store: ObjectStore, dataset: str, config: ClusterConfig | None = None,
                 probe: beam.PCollection | None = None, only_runs: set[str] | None = None) -> None:
        super().__init__()
        self.store, self.dataset, self.probe = store, dataset, probe
        index = PublishedIndex.load(store, dataset, only_runs, config)
        self.shards, self.bits = index.shards, index.bits

    def expand(self, pbegin):
        if self.probe is None:
            keys = PublishedIndex(self.shards, self.bits).keys()
            store = self.store
            return (pbegin
                    | "IndexShards" >> beam.Create(keys)
                    | "SpreadShards" >> beam.Reshuffle()
                    | "ReadShards" >> beam.FlatMap(lambda k: read_shard(store, k, None)))
        bits = self.bits
        return (self.probe
                | "ProbeByPartition" >> beam.Map(lambda k: (partition_of(k, bits), int(k)))
                | "GroupProbe" >> beam.GroupByKey()
                | "ProbePartitions" >> beam.ParDo(_ProbePartition(self.store, self.shards)))


class _WritePartition(beam.DoFn):
    def __init__(self, store: ObjectStore, dataset: str, run_id: str, row_group_rows: int) -> None:
        self.store, self.dataset, self.run_id, self.rg = store, dataset, run_id, row_group_rows

    def process(self, element: tuple[int, Iterable[tuple[int, int, str]]]) -> Iterator[dict[str, Any]]:
        part, rows = element
        yield write_shard(self.store, shard_key(self.dataset, self.run_id, part),
                          index_table(part, rows), self.rg, self.run_id)


class _WriteRunList(beam.DoFn):
    """Write this run's list of index shards (its own key; later runs read it once committed)."""

    def __init__(self, store: ObjectStore, dataset: str, run_id: str, config: ClusterConfig, bits: int) -> None:
        self.store, self.dataset, self.run_id, self.config, self.bits = store, dataset, run_id, config, bits

    def process(self, shards: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        yield write_run_index(self.store, self.dataset, self.run_id, self.config, self.bits, shards)


class WriteDedupIndex(beam.PTransform):
    """Kept DedupItems -> index shards (one per non-empty partition, sorted by band_hash) under
    ``index/<dataset>/runs/<run_id>/`` and their list ``shards.json`` (output: the list).

    Call it once the run's version is committed, with the items that were kept.
    """

    def __init__(self, store: ObjectStore, dataset: str, run_id: str, config: ClusterConfig,
                 partition_bits: int = 8, row_group_rows: int = 8192) -> None:
        super().__init__()
        self.store, self.dataset, self.run_id, self.config = store, dataset, run_id, config
        self.bits, self.rg = partition_bits, row_group_rows

    def expand(self, items):
        bits, bands = self.bits, self.config.bands

        def rows(item: DedupItem) -> Iterator[tuple[int, tuple[int, int, str]]]:
            for band, key in enumerate(item.bucket_keys):
                yield partition_of(key, bits), (band % bands, int(key), item.id)

        return (items
                | "IndexRows" >> beam.FlatMap(rows)
                | "GroupPartitions" >> beam.GroupByKey()
                | "WritePartitions" >> beam.ParDo(_WritePartition(self.store, self.dataset, self.run_id, self.rg))
                | "CollectShardList" >> beam.combiners.ToList()
                | "WriteRunList" >> beam.ParDo(_WriteRunList(self.store, self.dataset, self.run_id,
                                                           self.config, bits)))
