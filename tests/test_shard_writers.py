"""Shard writers produce files the ecosystem's readers open without glue."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from storage.base import ObjectStore
from storage.local import LocalStore
from storage.shards import ParquetShardWriter, WebDatasetShardWriter

SCHEMA = pa.schema([
    pa.field("id", pa.string(), nullable=False),
    pa.field("text", pa.string()),
    pa.field("lang", pa.string()),
    pa.field("score", pa.float64()),
])


def _rows(n: int) -> list[dict]:
    return [{"id": f"r{i:05d}", "text": f"Văn bản số {i} " * 20, "lang": "vi" if i % 3 else "en",
             "score": i / n} for i in range(n)]


def test_parquet_shards_roll_over_at_the_target_size_and_hash_what_was_stored(store: ObjectStore) -> None:
    writer = ParquetShardWriter(store, "ds/shards/text/run1", SCHEMA, modality="text",
                                target_bytes=20_000, row_group_rows=100)
    writer.write_rows(_rows(1500))
    shards = writer.close()
    assert len(shards) > 1
    assert sum(s.rows for s in shards) == 1500
    for s in shards:
        data = store.get_bytes(s.key)
        assert hashlib.sha256(data).hexdigest() == s.sha256
        assert len(data) == s.bytes
        meta = pq.read_metadata(io.BytesIO(data))
        assert meta.num_rows == s.rows
        assert meta.row_group(0).column(1).compression == "ZSTD"


def test_parquet_shards_open_with_pyarrow_dataset_and_hf_datasets(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    writer = ParquetShardWriter(store, "ds/shards/text/run1", SCHEMA, modality="text",
                                target_bytes=30_000, row_group_rows=200)
    writer.write_rows(_rows(900))
    shards = writer.close()
    files = [store.url(s.key) for s in shards]
    table = pads.dataset(files, format="parquet").to_table()
    assert table.schema == SCHEMA
    assert sorted(table.column("id").to_pylist()) == [r["id"] for r in _rows(900)]

    import datasets

    hf = datasets.load_dataset("parquet", data_files=files, split="train",
                               cache_dir=str(tmp_path / "hf-cache"))
    assert hf.num_rows == 900
    assert set(hf.column_names) == set(SCHEMA.names)


def _samples(n: int) -> list[tuple[str, dict[str, bytes], dict]]:
    out = []
    for i in range(n):
        key = f"sample-{i:04d}"
        payload = bytes([i % 251]) * (100 + i * 37)
        out.append((key, {"bin": payload, "json": json.dumps({"i": i}).encode(),
                          "txt": f"chú thích {i}".encode()}, {"caption_len": len(f"chú thích {i}")}))
    return out


def test_webdataset_tars_yield_the_same_samples_and_index_offsets_point_at_members(store: ObjectStore, tmp_path: Path) -> None:
    meta_schema = pa.schema([pa.field("caption_len", pa.int64())])
    writer = WebDatasetShardWriter(store, "ds/shards/image/run1", modality="image",
                                   metadata_schema=meta_schema, target_bytes=40_000)
    samples = _samples(120)
    for key, members, meta in samples:
        writer.write(key, members, meta)
    objects = writer.close()
    tars = [o for o in objects if o.format == "webdataset"]
    indexes = [o for o in objects if o.format == "wds-index"]
    assert len(tars) > 1 and len(tars) == len(indexes)
    assert sum(t.rows for t in tars) == 120

    by_key = {k: m for k, m, _ in samples}
    for tar_info, index_info in zip(tars, indexes):
        raw = store.get_bytes(tar_info.key)
        assert hashlib.sha256(raw).hexdigest() == tar_info.sha256
        index = pq.read_table(io.BytesIO(store.get_bytes(index_info.key)))
        for row in index.to_pylist():
            for member in row["members"]:
                ext = member["name"].rsplit(".", 1)[1]
                got = raw[member["offset"]: member["offset"] + member["size"]]
                assert got == by_key[row["key"]][ext]
        with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
            assert len(tf.getmembers()) == 3 * index.num_rows

    import webdataset as wds

    local = tmp_path / "tars"
    local.mkdir()
    paths = []
    for t in tars:
        p = local / Path(t.key).name
        p.write_bytes(store.get_bytes(t.key))
        paths.append(str(p))
    seen = {s["__key__"]: s for s in wds.WebDataset(paths, shardshuffle=False, empty_check=False)}
    assert set(seen) == set(by_key)
    for key, members in by_key.items():
        assert seen[key]["bin"] == members["bin"]
        assert seen[key]["txt"] == members["txt"]
