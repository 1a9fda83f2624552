"""Measure what Kho's metadata weighs, by committing real versions, not by estimating.

The planner's per-row and per-list constants (pipelines/capacity/model.py) come from here:
:func:`measure_shard_list_row_bytes` commits one version of synthetic shard entries (keys,
sizes and sha256 shaped as a real run writes them) through ``VersionStore.try_commit`` into a
temporary local store and divides the shard list's size by its rows;
:func:`measure_manifest_bytes` commits versions with 1 and ``lists`` shard lists' worth of
references and fits base + per-list bytes. ``python -m pipelines.capacity.measure`` prints both.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile

from schemas.manifest import SHARD_LIST_MAX_ROWS, Manifest, ShardListRef
from storage.local import LocalStore
from storage.shards import ShardInfo, json_bytes
from storage.versions import VersionStore

_RUN = "20261203T081500Z-0123abcd"
_DATASET = "vi-media"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def synthetic_shards(rows: int, modality: str = "video") -> list[ShardInfo]:
    """``rows`` shard-list entries as a media run writes them: tar + index pairs with the keys
    of storage/layout.py and storage/shards.py, ~1 GB tars, random-looking sha256."""
    shards: list[ShardInfo] = []
    prefix = f"datasets/{_DATASET}/shards/{modality}/{_RUN}"
    for i in range((rows + 1) // 2):
        base = f"{prefix}/part-{i % 512:05d}-{i // 512:05d}"
        tar, index = f"{base}.tar", f"{base}.parquet"
        samples = 3_000 + i % 977
        shards.append(ShardInfo(tar, "webdataset", modality, samples, 1_073_741_824 - i * 7919 % 99_991,
                                _sha(tar), pair=index))
        shards.append(ShardInfo(index, "wds-index", modality, samples, 400_000 + i * 31 % 9_973,
                                _sha(index), pair=tar))
    return shards[:rows]


def measure_shard_list_row_bytes(rows: int = SHARD_LIST_MAX_ROWS) -> float:
    """Bytes per row of a committed shard list of ``rows`` rows (at most one list's worth)."""
    if not 1 <= rows <= SHARD_LIST_MAX_ROWS:
        raise ValueError(f"rows must be 1..{SHARD_LIST_MAX_ROWS} (one shard list), got {rows}")
    with tempfile.TemporaryDirectory(prefix="kho-measure-") as tmp:
        vs = VersionStore(LocalStore(tmp))
        manifest = vs.try_commit(_DATASET, synthetic_shards(rows), parent=None,
                                 code_version="measure", run_id=_RUN)
        (listref,) = manifest.shard_lists
        return listref.bytes / rows


def manifest_bytes(lists: int) -> int:
    """Bytes of a committed-format manifest (json_bytes, as try_commit writes it) holding
    ``lists`` shard-list references shaped as try_commit makes them."""
    refs = [ShardListRef(key=f"datasets/{_DATASET}/shardlists/{_RUN}-v{n + 1}-{n:04d}.parquet",
                         sha256=_sha(f"list{n}"), bytes=2_050_000 + n, shards=SHARD_LIST_MAX_ROWS,
                         rows=75_000_000 + n, data_bytes=26_000_000_000_000 + n,
                         merkle_root=_sha(f"root{n}"), modalities=["video"],
                         formats={"video/wds-index": (SHARD_LIST_MAX_ROWS // 2, 75_000_000 + n, 10_000_000 + n),
                                  "video/webdataset": (SHARD_LIST_MAX_ROWS // 2, 75_000_000 + n,
                                                       25_990_000_000_000 + n)})
            for n in range(lists)]
    m = Manifest(dataset=_DATASET, version=f"v{max(lists, 1)}", parent="v1", parent_root=_sha("parent"),
                 created_at="2026-12-03T08:15:00Z", code_version="0.1.0+g0123abcd", config_hash=_sha("cfg"),
                 run_id=_RUN, sources=[{"name": "baomoi", "uri": "store:crawls/x/", "inputs": 10, "kept": 9}],
                 stats={}, shard_lists=refs, merkle_root=_sha("root"))
    return len(json_bytes(m.model_dump(mode="json")))


def measure_manifest_bytes(lists: int = 100) -> tuple[int, int]:
    """(base bytes, bytes per shard-list reference) of a manifest, from 0 and ``lists`` refs."""
    empty, full = manifest_bytes(0), manifest_bytes(lists)
    return empty, round((full - empty) / lists)


def main() -> None:
    """Print the measured constants (to refresh pipelines/capacity/model.py)."""
    base, per_list = measure_manifest_bytes()
    sys.stdout.write(f"SHARD_LIST_ROW_BYTES = {measure_shard_list_row_bytes():.1f}\n"
                     f"MANIFEST_BASE_BYTES = {base}\nMANIFEST_BYTES_PER_LIST = {per_list}\n")


if __name__ == "__main__":
    main()
