"""Merkle roots over shard hashes, so one short hash vouches for a whole version.

Two levels: each shard list has a root over its shards (key and sha256 of each, ordered
by key), and a version's root is taken over its lists' roots and the hash of the manifest's
other fields (format 2). A new version that reuses a list reuses its root without reading it;
`verify` recomputes every level from the bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def leaf_hash(key: str, sha256_hex: str) -> bytes:
    """Hash of one shard: its key and content hash, so a renamed shard changes the root."""
    return hashlib.sha256(b"\x00" + key.encode() + b"\x00" + bytes.fromhex(sha256_hex)).digest()


def merkle_root(leaves: Iterable[bytes]) -> str:
    """Root of a binary Merkle tree; an odd node is promoted unchanged to the next level."""
    level = list(leaves)
    if not level:
        return hashlib.sha256(b"").hexdigest()
    while len(level) > 1:
        nxt = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest()
               for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0].hex()


def shards_root(entries: Iterable[tuple[str, str]]) -> str:
    """Root over (key, sha256) pairs, ordered by key."""
    return merkle_root(leaf_hash(k, h) for k, h in sorted(entries))


def version_root(list_roots: Iterable[str], fields_hash: str | None = None) -> str:
    """Root over the shard lists' roots, in manifest order, and (format 2) the hash of every
    other manifest field, so no field can change without changing the root."""
    leaves = [bytes.fromhex(r) for r in list_roots]
    if fields_hash is not None:
        leaves.append(hashlib.sha256(b"\x02" + bytes.fromhex(fields_hash)).digest())
    return merkle_root(leaves)


def fields_hash(fields: dict) -> str:
    """sha256 of a manifest's fields (all but its root) as canonical JSON."""
    import json

    blob = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()
