"""Review queues: stratified, reproducible samples of a run's decisions.

Queues (names are part of the web app's contract):

- ``kept``: records the run published;
- ``reason:<rule>``: records a rule rejected (a record several rules rejected is in each of
  their queues, with that queue's rule first in its reasons);
- ``pii``: records whose published content had PII scrubbed (text ``pii_total > 0``; image
  ``caption_pii_total > 0`` or faces / plates blurred), kept or rejected;
- ``duplicates``: pairs of the dropped record and the kept record it duplicates;
- ``quarantine``: inputs that could not be read or decoded.

Each queue draws up to ``per_queue`` of its records independently of the others
(stratified), as the records with the smallest ``sha256(seed, record_id)``: a uniform sample
without replacement that needs no random state, so the same run, seed and size give the same
items in the same order on every machine, and a larger sample contains the smaller one.
Selection streams the tables and keeps only the best ``per_queue`` candidates per queue.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from review.runs import ReviewItem, RunData, StoredRow, item_key, iter_parquet, row_fields, row_media

log = logging.getLogger(__name__)

KEPT, PII, DUPLICATES, QUARANTINE = "kept", "pii", "duplicates", "quarantine"
REASON_PREFIX = "reason:"


def reason_queue(rule: str) -> str:
    """The queue name of one rejection rule."""
    return f"{REASON_PREFIX}{rule}"


def queue_rule(queue: str) -> str | None:
    """The rule of a ``reason:<rule>`` queue, else None."""
    return queue[len(REASON_PREFIX):] if queue.startswith(REASON_PREFIX) else None


def available_queues(run: RunData) -> list[str]:
    """Every queue a run offers, in display order (from its statistics: no table is read)."""
    return [KEPT, *(reason_queue(r) for r in run.rejection_reasons()), PII, DUPLICATES, QUARANTINE]


def hash_rank(seed: int, record_id: str) -> int:
    """A record's place in a seed's random order: the first 8 bytes of sha256(seed, id)."""
    return int.from_bytes(hashlib.sha256(f"{seed}\x1f{record_id}".encode()).digest()[:8], "big")


def sample_ids(ids: Iterable[str], k: int, seed: int) -> list[str]:
    """The ``k`` ids of smallest rank, in rank order: a uniform sample without replacement."""
    return [i for _, i in heapq.nsmallest(k, ((hash_rank(seed, i), i) for i in set(ids)))]


@dataclass
class _Candidate:
    rank: int
    record_id: str
    stored: StoredRow
    decision: str
    reasons: list[str]


@dataclass
class _TopK:
    """The ``k`` candidates of smallest rank seen so far (a max-heap of size k)."""

    k: int
    heap: list[tuple[int, str, int]] = field(default_factory=list)  # (-rank, inverted id, n)
    items: dict[int, _Candidate] = field(default_factory=dict)
    _n: int = 0

    def offer(self, cand: _Candidate) -> None:
        if self.k <= 0:
            return
        entry = (-cand.rank, _invert(cand.record_id), self._n)
        if len(self.heap) < self.k:
            heapq.heappush(self.heap, entry)
        elif entry > self.heap[0]:
            _, _, old = heapq.heappushpop(self.heap, entry)
            del self.items[old]
        else:
            return
        self.items[self._n] = cand
        self._n += 1

    def ordered(self) -> list[_Candidate]:
        return sorted(self.items.values(), key=lambda c: (c.rank, c.record_id))


def _invert(text: str) -> str:
    """A key ordering strings in reverse, so equal ranks keep the smallest id (ties are
    practically impossible with 64-bit ranks, but the order stays total)."""
    return "".join(chr(0x10FFFF - ord(ch)) for ch in text)


def has_pii(row: dict[str, Any]) -> bool:
    """Whether the published content had PII scrubbed: placeholders in text or caption, or
    faces / licence plates blurred in an image."""
    return any((row.get(col) or 0) > 0 for col in ("pii_total", "caption_pii_total", "faces", "plates"))


class _Selector:
    """Streams a run's tables into one top-k per wanted queue."""

    def __init__(self, run: RunData, per_queue: int, seed: int, wanted: set[str] | None) -> None:
        self.run, self.per_queue, self.seed, self.wanted = run, per_queue, seed, wanted
        self.queues: dict[str, _TopK] = {}

    def wants(self, queue: str) -> bool:
        return self.wanted is None or queue in self.wanted

    def offer(self, queue: str, stored: StoredRow, decision: str, reasons: list[str]) -> None:
        if not self.wants(queue):
            return
        rid = stored.row["id"]
        top = self.queues.setdefault(queue, _TopK(self.per_queue))
        top.offer(_Candidate(hash_rank(self.seed, rid), rid, stored, decision, reasons))

    def wants_table(self, *queues: str, prefix: str | None = None) -> bool:
        if self.wanted is None:
            return True
        return any(q in self.wanted for q in queues) or bool(
            prefix and any(q.startswith(prefix) for q in self.wanted))

    def run_tables(self) -> None:
        if self.wants_table(KEPT, PII):
            for stored in self.run.iter_rows("kept"):
                self.offer(KEPT, stored, "kept", [])
                if has_pii(stored.row):
                    self.offer(PII, stored, "kept", [])
        if self.wants_table(PII, prefix=REASON_PREFIX):
            for stored in self.run.iter_rows("rejected"):
                reasons = list(stored.row.get("reasons") or [])
                for rule in dict.fromkeys(reasons):
                    self.offer(reason_queue(rule), stored, "rejected", [rule, *(r for r in reasons if r != rule)])
                if has_pii(stored.row):
                    self.offer(PII, stored, "rejected", reasons)
        if self.wants_table(DUPLICATES):
            for stored in self.run.iter_rows("duplicates"):
                self.offer(DUPLICATES, stored, "duplicate", [f"duplicate:{stored.row.get('kind') or 'exact'}"])
        if self.wants_table(QUARANTINE):
            for stored in self.run.iter_rows("quarantine"):
                self.offer(QUARANTINE, stored, "quarantined", [stored.row.get("error_class") or "unknown"])


def build_queues(run: RunData, per_queue: int, seed: int, *,
                 queues: Collection[str] | None = None) -> dict[str, list[ReviewItem]]:
    """Draw every queue of a run (or only ``queues``): up to ``per_queue`` items each.

    Returns queue name -> items in draw order; a queue the run offers but has no records
    for (a rule whose only records were moved by a concurrent re-check) maps to []."""
    if per_queue < 0:
        raise ValueError(f"per_queue must be >= 0, got {per_queue}")
    wanted = set(queues) if queues is not None else None
    selector = _Selector(run, per_queue, seed, wanted)
    selector.run_tables()
    names = [q for q in available_queues(run) if wanted is None or q in wanted]
    names += sorted(set(selector.queues) - set(names))
    out: dict[str, list[ReviewItem]] = {}
    for name in names:
        top = selector.queues.get(name)
        cands = top.ordered() if top else []
        out[name] = _pair_items(run, name, cands) if name == DUPLICATES else [_item(run, name, c) for c in cands]
        log.info("run %s queue %s: %d item(s) drawn (seed %d)", run.run_id, name, len(out[name]), seed)
    return out


def _base_fields(run: RunData, row: dict[str, Any]) -> dict[str, Any]:
    fields = row_fields(row)
    if run.modality == "text":
        fields["pii_redacted"] = run.pii_redacted
    return fields


def _item(run: RunData, queue: str, cand: _Candidate) -> ReviewItem:
    return ReviewItem(
        item_key=item_key(run.run_id, queue, cand.record_id), run_id=run.run_id, dataset=run.dataset,
        modality=run.modality, queue=queue, record_id=cand.record_id, decision=cand.decision,
        reasons=list(cand.reasons), fields=_base_fields(run, cand.stored.row),
        media=row_media(cand.stored))


def _kept_ends(run: RunData, dup_ofs: set[str], hops: int = 4) -> dict[str, StoredRow]:
    """For each id a duplicate points at, the kept record it leads to: itself when it is kept,
    else the record that one was in turn dropped for, read from this run's duplicates table
    (an exact copy of a record that near dedup then dropped for a better copy), at most
    ``hops`` steps. The chains are walked in the duplicates table alone; the kept shards are
    searched once for the ids pointed at and once for every id the chains pass."""
    found = run.find_kept(dup_ofs)
    chains = {d: [d] for d in dup_ofs if d not in found}  # wanted id -> the ids its chain passes
    if not chains:
        return found
    for _ in range(hops):
        step = _dropped_for(run, {chain[-1] for chain in chains.values()})
        if not step:
            break
        for chain in chains.values():
            if chain[-1] in step:
                chain.append(step[chain[-1]])
    more = run.find_kept({i for chain in chains.values() for i in chain[1:]})
    for want, chain in chains.items():
        hit = next((i for i in chain[1:] if i in more), None)
        if hit is not None:
            found[want] = more[hit]
    return found


def _dropped_for(run: RunData, ids: set[str]) -> dict[str, str]:
    """``id -> dup_of`` for those of ``ids`` this run dropped as duplicates."""
    out = {}
    for key in run.table_objects("duplicates"):
        for row in iter_parquet(run.store, key, ["id", "dup_of"], filters=[("id", "in", sorted(ids))]):
            if row.get("dup_of"):
                out[row["id"]] = row["dup_of"]
    return out


def _pair_items(run: RunData, queue: str, cands: list[_Candidate]) -> list[ReviewItem]:
    """Duplicate pairs: the dropped record, and the kept one it duplicates when found in this
    version or an earlier one, following the run's duplicates table when that record was
    itself dropped (else ``fields["other"]`` is None and ``other_missing`` says why)."""
    others = _kept_ends(run, {c.stored.row["dup_of"] for c in cands if c.stored.row.get("dup_of")})
    items = []
    for cand in cands:
        item = _item(run, queue, cand)
        dup_of = cand.stored.row.get("dup_of")
        other = others.get(dup_of) if dup_of else None
        fields, media = dict(item.fields), dict(item.media)
        if other is not None:
            fields["other"] = _base_fields(run, other.row)
            media.update({f"other_{name}": ref for name, ref in row_media(other).items()})
        else:
            fields["other"] = None
            fields["other_missing"] = (f"the record it duplicates ({dup_of}) is not in the kept shards of "
                                       f"{run.dataset}@{run.version} or an earlier version")
        items.append(replace(item, fields=fields, media=media, other_record_id=dup_of))
    return items


__all__ = ["DUPLICATES", "KEPT", "PII", "QUARANTINE", "REASON_PREFIX", "available_queues", "build_queues",
           "has_pii", "hash_rank", "queue_rule", "reason_queue", "sample_ids"]
