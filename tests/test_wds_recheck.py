"""The commit re-check takes records that duplicate a concurrent commit out of WebDataset
tars too: new tar + index under new keys, offsets rewritten, the rows to the duplicates."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.recheck import drop_concurrent_duplicates
from storage.base import ObjectStore
from storage.errors import IntegrityError
from storage.local import LocalStore
from storage.shards import ShardInfo, WebDatasetShardWriter
from storage.verify import verify_version
from storage.versions import VersionStore, shard_prefix

RUN = "20261202T000000Z-0000beef"
META = pa.schema([pa.field("id", pa.string(), nullable=False), pa.field("source", pa.string(), nullable=False),
                  pa.field("caption", pa.string())])
DUP_SCHEMA = pa.schema([pa.field("id", pa.string(), nullable=False), pa.field("source", pa.string()),
                        pa.field("caption", pa.string()), pa.field("dup_of", pa.string(), nullable=False),
                        pa.field("kind", pa.string(), nullable=False)])
N = 40


def _members(i: int) -> dict[str, bytes]:
    key = f"img{i:04d}"
    return {"jpg": hashlib.sha256(key.encode()).digest() * (30 + i), "txt": f"ảnh {i}".encode(),
            "json": json.dumps({"id": key}).encode()}


def _write(store: ObjectStore) -> list[dict]:
    writer = WebDatasetShardWriter(store, shard_prefix("pics", "image", RUN), modality="image",
                                   metadata_schema=META, target_bytes=30_000)
    for i in range(N):
        writer.write(f"img{i:04d}", _members(i), {"id": f"img{i:04d}", "source": "cam", "caption": f"ảnh {i}"})
    return [s.to_dict() for s in writer.close()]


def _stats() -> dict:
    return {"sources": {"cam": {"kept": N, "duplicates": 0}}, "totals": {"kept": N, "duplicates": 0},
            "funnel": {"unique": N}}


def _index_keys(store: ObjectStore, shard: dict) -> list[str]:
    return pq.read_table(io.BytesIO(store.get_bytes(shard["pair"]))).column("key").to_pylist()


def test_dropped_samples_leave_the_tars_and_their_rows_go_to_the_duplicates(store: ObjectStore,
                                                                            tmp_path: Path) -> None:
    import webdataset as wds

    shards = _write(store)
    tars = [s for s in shards if s["format"] == "webdataset"]
    assert len(tars) >= 3
    found = {"img0001": "other-a", _index_keys(store, tars[1])[0]: "other-b"}
    stats = _stats()
    out, dup = drop_concurrent_duplicates(store, "pics", RUN, shards, stats, found,
                                          f"runs/{RUN}/duplicates/concurrent-c0.parquet", DUP_SCHEMA, "-c0")

    assert len(out) == len(shards)
    untouched = tars[2]
    assert untouched in out and next(s for s in out if s["key"] == untouched["pair"]) in shards
    new_tars = [s for s in out if s["format"] == "webdataset" and s["key"].endswith("-c0.tar")]
    assert len(new_tars) == 2
    local = tmp_path / "tars"
    local.mkdir()
    for t in new_tars:
        index_info = next(s for s in out if s["key"] == t["pair"])
        assert index_info["format"] == "wds-index" and index_info["key"].endswith("-c0.parquet")
        assert index_info["pair"] == t["key"]
        raw = store.get_bytes(t["key"])
        assert (len(raw), hashlib.sha256(raw).hexdigest()) == (t["bytes"], t["sha256"])
        index_raw = store.get_bytes(index_info["key"])
        assert hashlib.sha256(index_raw).hexdigest() == index_info["sha256"]
        index = pq.read_table(io.BytesIO(index_raw))
        assert index.num_rows == t["rows"] == index_info["rows"]
        assert not set(index.column("id").to_pylist()) & set(found)
        for row in index.to_pylist():
            assert row["shard"] == t["key"]
            for m in row["members"]:
                got = raw[m["offset"]: m["offset"] + m["size"]]
                assert got == _members(int(row["key"][3:]))[m["name"].split(".", 1)[1]]
                assert hashlib.sha256(got).hexdigest() == m["sha256"]
        (local / Path(t["key"]).name).write_bytes(raw)
    seen = {s["__key__"]: s for s in wds.WebDataset([str(p) for p in sorted(local.iterdir())],
                                                    shardshuffle=False, empty_check=False)}
    old_keys = {k for t in tars if t["key"].removesuffix(".tar") + "-c0.tar" in {n["key"] for n in new_tars}
                for k in _index_keys(store, t)}
    assert set(seen) == old_keys - set(found)
    assert all(seen[k]["jpg"] == _members(int(k[3:]))["jpg"] for k in seen)

    dups = pq.read_table(io.BytesIO(store.get_bytes(dup.key))).to_pylist()
    assert {(d["id"], d["dup_of"], d["source"]) for d in dups} == {(k, v, "cam") for k, v in found.items()}
    assert stats["totals"] == {"kept": N - 2, "duplicates": 2}
    assert stats["concurrent_duplicates"] == 2 and stats["funnel"]["unique"] == N - 2
    assert all(store.exists(s["key"]) for s in shards)  # the originals stay for gc

    vs = VersionStore(store)
    m = vs.commit("pics", [ShardInfo(**s) for s in out], code_version="t", run_id=RUN)
    assert m.total_rows == N - 2 and verify_version(vs, m).ok


def test_a_tar_that_no_longer_matches_its_hash_stops_the_recheck(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    shards = _write(store)
    tar = next(s for s in shards if s["format"] == "webdataset")
    raw = bytearray(store.get_bytes(tar["key"]))
    raw[-2000] ^= 0x01
    store.put_bytes(tar["key"], bytes(raw))
    with pytest.raises(IntegrityError, match="rerun the ingest"):
        drop_concurrent_duplicates(store, "pics", RUN, shards, _stats(), {"img0000": "other"},
                                   f"runs/{RUN}/duplicates/concurrent-c0.parquet", DUP_SCHEMA, "-c0")
