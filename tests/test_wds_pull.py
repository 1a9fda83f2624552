"""`kho pull --where` on WebDataset shards: the index is filtered, only the matching members
are range-read (and verified), and DEST gets a tar of just those samples with its index."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from storage.base import ObjectStore
from storage.errors import IntegrityError, ObjectNotFoundError
from storage.local import LocalStore
from storage.pull import pull_version, sidecar
from storage.shards import ShardInfo, WebDatasetShardWriter
from storage.versions import VersionStore, shard_prefix
from storage.where import UnknownColumnError

RUN = "20261202T000000Z-abcdef01"
META = pa.schema([pa.field("id", pa.string(), nullable=False), pa.field("source", pa.string()),
                  pa.field("score", pa.float64())])
N = 60
WHERE = "score >= 0.9"


def _samples() -> dict[str, dict]:
    """Sample key -> (members, metadata); each carries a few KB of distinct bytes."""
    out = {}
    for i in range(N):
        key = f"s{i:04d}"
        payload = hashlib.sha256(key.encode()).digest() * (40 + i)
        out[key] = {"members": {"bin": payload, "txt": f"chú thích {i}".encode(),
                                "json": json.dumps({"id": key}).encode()},
                    "meta": {"id": key, "source": "cam", "score": i / N}}
    return out


def _publish(store: ObjectStore, samples: dict[str, dict]) -> tuple[VersionStore, list[ShardInfo]]:
    """Write the samples through the real writer (two or more tars) and commit them."""
    writer = WebDatasetShardWriter(store, shard_prefix("pics", "image", RUN), modality="image",
                                   metadata_schema=META, target_bytes=60_000)
    for key, s in samples.items():
        writer.write(key, s["members"], s["meta"])
    shards = writer.close()
    vs = VersionStore(store)
    vs.commit("pics", shards, code_version="t", run_id=RUN)
    return vs, shards


def _matching(samples: dict[str, dict]) -> set[str]:
    return {k for k, s in samples.items() if s["meta"]["score"] >= 0.9}


def test_ranged_reads_return_the_asked_bytes_and_stop_at_the_end(store: ObjectStore) -> None:
    data = bytes(range(256)) * 40
    store.put_bytes("r/obj", data)
    assert store.get_range("r/obj", 100, 50) == data[100:150]
    assert store.get_range("r/obj", 0, len(data)) == data
    assert store.get_range("r/obj", len(data) - 10, 100) == data[-10:]
    assert store.get_range("r/obj", len(data) + 5, 10) == b""
    assert store.get_range("r/obj", 7, 0) == b""
    with pytest.raises(ObjectNotFoundError):
        store.get_range("r/missing", 0, 10)
    with pytest.raises(ValueError):
        store.get_range("r/obj", -1, 10)


def test_a_selective_where_fetches_only_the_matching_members_into_a_readable_tar(
        store: ObjectStore, tmp_path: Path) -> None:
    import webdataset as wds

    samples = _samples()
    vs, shards = _publish(store, samples)
    tars = [s for s in shards if s.format == "webdataset"]
    assert len(tars) >= 2
    dest = tmp_path / "out"
    report = pull_version(vs, vs.manifest("pics@latest"), dest, where=WHERE, workers=2)

    want = _matching(samples)
    assert 0 < len(want) < N and report.rows_written == len(want)
    assert sorted(report.fetched) == sorted(s.key for s in shards)
    tar_bytes = sum(t.bytes for t in tars)
    assert report.bytes_fetched < tar_bytes / 4, (report.bytes_fetched, tar_bytes)
    assert {p.suffix for p in dest.rglob("*") if p.is_file()} == {".tar", ".parquet"}

    local_tars = [str(dest / t.key) for t in tars]
    seen = {s["__key__"]: s for s in wds.WebDataset(local_tars, shardshuffle=False, empty_check=False)}
    assert set(seen) == want
    for key in want:
        for ext, data in samples[key]["members"].items():
            assert seen[key][ext] == data

    for t in tars:
        raw = (dest / t.key).read_bytes()
        index = pq.read_table(dest / t.pair)
        assert set(index.column("key").to_pylist()) <= want
        for row in index.to_pylist():
            assert row["shard"] == t.key and row["score"] >= 0.9
            for m in row["members"]:
                got = raw[m["offset"]: m["offset"] + m["size"]]
                assert got == samples[row["key"]]["members"][m["name"].split(".", 1)[1]]
                assert hashlib.sha256(got).hexdigest() == m["sha256"]


def test_a_rerun_of_a_finished_filtered_pull_fetches_nothing(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    vs, shards = _publish(store, _samples())
    m, dest = vs.manifest("pics@latest"), tmp_path / "out"
    first = pull_version(vs, m, dest, where=WHERE, workers=2)
    again = pull_version(vs, m, dest, where=WHERE, workers=2)
    assert first.bytes_fetched > 0
    assert (again.fetched, again.bytes_fetched) == ([], 0)
    assert sorted(again.skipped) == sorted(s.key for s in shards)
    other = pull_version(vs, m, dest, where="score < 0.1", workers=2)  # another filter: redone
    assert other.rows_written == sum(1 for i in range(N) if i / N < 0.1)
    assert not list((sidecar(dest) / "tmp").iterdir())


def test_a_damaged_member_is_caught_by_a_filtered_pull_and_nothing_lands_in_dest(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    samples = _samples()
    vs, shards = _publish(store, samples)
    victim = max(_matching(samples))  # the last sample: a member the filter selects
    tar = next(s for s in shards if s.format == "webdataset"
               and victim in pq.read_table(store.root / s.pair).column("key").to_pylist())
    index = pq.read_table(store.root / tar.pair).to_pylist()
    member = next(m for r in index if r["key"] == victim for m in r["members"] if m["name"].endswith(".bin"))
    raw = bytearray(store.get_bytes(tar.key))
    raw[member["offset"] + 10] ^= 0xFF
    store.put_bytes(tar.key, bytes(raw))

    dest = tmp_path / "out"
    with pytest.raises(IntegrityError, match=f"{victim}.bin"):
        pull_version(vs, vs.manifest("pics@latest"), dest, where=WHERE, workers=1)
    assert not (dest / tar.key).exists()
    assert not list((sidecar(dest) / "tmp").iterdir())


def test_an_index_without_member_hashes_falls_back_to_the_whole_verified_tar(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    samples = _samples()
    writer = WebDatasetShardWriter(store, shard_prefix("pics", "image", RUN), modality="image",
                                   metadata_schema=META, target_bytes=60_000)
    for key, s in samples.items():
        writer.write(key, s["members"], s["meta"])
    old = []
    for s in writer.close():  # rewrite each index as written before members had a sha256
        if s.format == "wds-index":
            table = pq.read_table(store.root / s.key)
            rows = [{**r, "members": [{k: v for k, v in m.items() if k != "sha256"} for m in r["members"]]}
                    for r in table.to_pylist()]
            buf = io.BytesIO()
            pq.write_table(pa.Table.from_pylist(rows), buf)
            data = buf.getvalue()
            store.put_bytes(s.key, data)
            s = ShardInfo(s.key, s.format, s.modality, s.rows, len(data),
                          hashlib.sha256(data).hexdigest(), s.pair)
        old.append(s)
    vs = VersionStore(store)
    vs.commit("pics", old, code_version="t", run_id=RUN)
    report = pull_version(vs, vs.manifest("pics@latest"), tmp_path / "out", where=WHERE, workers=2)
    tars = [s for s in old if s.format == "webdataset"]
    holding = [t for t in tars if _matching(samples) & set(pq.read_table(store.root / t.pair)
                                                            .column("key").to_pylist())]
    assert holding and report.bytes_fetched >= sum(t.bytes for t in holding)  # whole, verified
    assert report.rows_written == len(_matching(samples))
    for t in tars:
        raw = (tmp_path / "out" / t.key).read_bytes()
        for row in pq.read_table(tmp_path / "out" / t.pair).to_pylist():
            for m in row["members"]:
                assert hashlib.sha256(raw[m["offset"]: m["offset"] + m["size"]]).hexdigest() == m["sha256"]


def test_a_where_on_a_column_the_index_lacks_names_the_real_columns(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    vs, _ = _publish(store, _samples())
    with pytest.raises(UnknownColumnError, match="score"):
        pull_version(vs, vs.manifest("pics@latest"), tmp_path / "out", where="scor >= 0.9")
