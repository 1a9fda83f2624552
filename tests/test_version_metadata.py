"""Version metadata that stays cheap as a history grows: per-format totals in each shard-list
reference (``kho datasets show`` reads one manifest, not every list), committed-run markers
(an ingest lists names instead of reading every manifest), and a pull that reads each list once."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.plan import committed_runs
from schemas.manifest import Manifest
from storage.base import ObjectStore
from storage.errors import ObjectNotFoundError
from storage.layout import committed_marker_key, committed_prefix
from storage.local import LocalStore
from storage.pull import pull_version
from storage.shards import ParquetShardWriter, ShardInfo
from storage.verify import verify_version
from storage.versions import VersionStore, diff_versions, manifest_key, shard_prefix

SCHEMA = pa.schema([pa.field("id", pa.string()), pa.field("lang", pa.string())])


def _shards(store: ObjectStore, run: str, n: int, modality: str = "text") -> list[ShardInfo]:
    w = ParquetShardWriter(store, shard_prefix("news", modality, run), SCHEMA, modality=modality,
                           target_bytes=600, row_group_rows=10)
    w.write_rows([{"id": f"{run}-{i}", "lang": "vi" if i % 2 else "en"} for i in range(n)])
    return w.close()


def _totals_by_reading(vs: VersionStore, m: Manifest) -> dict[tuple[str, str], tuple[int, int, int]]:
    by: dict[tuple[str, str], tuple[int, int, int]] = {}
    for s in vs.shards(m):
        n, r, b = by.get((s.modality, s.format), (0, 0, 0))
        by[(s.modality, s.format)] = (n + 1, r + s.rows, b + s.bytes)
    return by


class _NoListReads:
    """A store that fails any read of a shard list: proves an operation never opens one."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def get_bytes(self, key: str) -> bytes:
        if "/shardlists/" in key:
            raise AssertionError(f"read a shard list: {key}")
        return self.inner.get_bytes(key)


@contextmanager
def _recorded_reads(store: ObjectStore) -> Iterator[list[str]]:
    """The keys ``store.get_bytes`` reads inside the block, in order."""
    reads: list[str] = []
    original = store.get_bytes

    def recording(key: str) -> bytes:
        reads.append(key)
        return original(key)

    store.get_bytes = recording  # type: ignore[method-assign]
    try:
        yield reads
    finally:
        del store.get_bytes


def _as_old_manifest(vs: VersionStore, m: Manifest) -> Manifest:
    """Rewrite ``m`` as a manifest from before per-format totals (no ``formats``), with the
    root such a manifest was committed with, and re-anchor its refs."""
    old = m.model_copy(update={"shard_lists": [r.model_copy(update={"formats": None}) for r in m.shard_lists]})
    old = old.model_copy(update={"merkle_root": old.expected_root()})
    data = old.model_dump(mode="json")
    for ref in data["shard_lists"]:
        del ref["formats"]
    vs.store.put_bytes(manifest_key(m.dataset, m.version), json.dumps(data).encode())
    vs.tag(m.dataset, "latest", m.version)
    return Manifest.model_validate_json(vs.store.get_bytes(manifest_key(m.dataset, m.version)))


def test_a_commit_records_per_format_totals_that_match_its_lists(store: ObjectStore) -> None:
    vs = VersionStore(store)
    vs.commit("news", _shards(store, "r1", 40), code_version="t", run_id="r1")
    m = vs.commit("news", _shards(store, "r2", 30, modality="image"), code_version="t", run_id="r2")
    assert all(ref.formats is not None for ref in m.shard_lists)
    want = _totals_by_reading(vs, m)
    assert set(want) == {("text", "parquet"), ("image", "parquet")}
    assert want[("text", "parquet")][1] == 40 and want[("image", "parquet")][1] == 30
    assert VersionStore(_NoListReads(store)).format_totals(m) == want
    assert verify_version(vs, m).ok


def test_an_old_manifest_without_format_totals_keeps_its_root_and_is_read_from_its_lists(store: ObjectStore) -> None:
    vs = VersionStore(store)
    m = vs.commit("news", _shards(store, "r1", 40), code_version="t", run_id="r1")
    old = _as_old_manifest(vs, m)
    assert all(ref.formats is None for ref in old.shard_lists)
    assert old.merkle_root != m.merkle_root  # the new root covers the totals
    report = verify_version(vs, old)
    assert report.ok, report.problems
    assert vs.format_totals(old) == _totals_by_reading(vs, m)
    with pytest.raises(AssertionError, match="read a shard list"):
        VersionStore(_NoListReads(store)).format_totals(old)


def test_verify_names_per_format_totals_that_disagree_with_the_list(store: ObjectStore) -> None:
    vs = VersionStore(store)
    m = vs.commit("news", _shards(store, "r1", 40), code_version="t", run_id="r1")
    ref = m.shard_lists[0]
    wrong = {name: (n, rows + 1, b) for name, (n, rows, b) in ref.formats.items()}
    bad = m.model_copy(update={"shard_lists": [ref.model_copy(update={"formats": wrong})]})
    bad = bad.model_copy(update={"merkle_root": bad.expected_root()})  # a consistent but wrong commit
    store.put_bytes(manifest_key("news", "v1"), bad.model_dump_json().encode())
    vs.tag("news", "latest", "v1")
    report = verify_version(vs, vs.manifest("news@v1"))
    assert not report.ok
    assert any("manifest says formats=" in p and "41" in p for _, p in report.problems)


def test_each_commit_leaves_a_committed_marker_and_the_runs_come_from_names(store: ObjectStore) -> None:
    vs = VersionStore(store)
    for run in ("r1", "r2", "r3"):
        vs.commit("news", _shards(store, run, 5), code_version="t", run_id=run)
    assert sorted(store.list_children(committed_prefix("news"))) == ["v1=r1", "v2=r2", "v3=r3"]
    with _recorded_reads(store) as reads:
        assert committed_runs(vs, "news") == {"r1", "r2", "r3"}
    assert reads == []


def test_a_version_without_its_marker_is_read_once_and_its_marker_rewritten(store: ObjectStore) -> None:
    vs = VersionStore(store)
    for run in ("r1", "r2"):
        vs.commit("news", _shards(store, run, 5), code_version="t", run_id=run)
    store.delete(committed_marker_key("news", "v2", "r2"))  # killed right after its commit point
    store.put_bytes(committed_marker_key("news", "v9", "ghost"), b"")  # a marker with no version
    assert vs.committed_runs("news") == {"v1": "r1", "v2": "r2"}
    assert store.exists(committed_marker_key("news", "v2", "r2"))
    assert "ghost" not in committed_runs(vs, "news")


def test_a_store_that_refuses_writes_still_gets_the_committed_runs(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "s")
    vs = VersionStore(store)
    vs.commit("news", _shards(store, "r1", 5), code_version="t", run_id="r1")
    store.delete(committed_marker_key("news", "v1", "r1"))

    def refuse(*a, **k):
        from storage.errors import StoreError
        raise StoreError("read-only credentials")

    store.put_bytes = refuse  # type: ignore[method-assign]
    assert committed_runs(vs, "news") == {"r1"}
    with pytest.raises(ObjectNotFoundError):
        store.get_bytes(committed_marker_key("news", "v1", "r1"))


def test_pull_reads_each_shard_list_once(store: ObjectStore, tmp_path: Path) -> None:
    vs = VersionStore(store)
    vs.commit("news", _shards(store, "r1", 40), code_version="t", run_id="r1")
    m = vs.commit("news", _shards(store, "r2", 30), code_version="t", run_id="r2")
    with _recorded_reads(store) as reads:
        report = pull_version(vs, m, tmp_path / "out", where="lang = 'vi'")
    list_reads = [k for k in reads if "/shardlists/" in k]
    assert sorted(list_reads) == sorted(r.key for r in m.shard_lists)
    assert report.rows_written == 35  # every odd id of 40 + 30


def test_show_lists_the_last_versions_of_a_long_lineage_unless_asked_for_all(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "s")
    vs = VersionStore(store)
    for i in range(14):
        vs.commit("news", _shards(store, f"r{i}", 3), code_version="t", run_id=f"r{i}")
    runner = CliRunner()
    out = runner.invoke(app, ["datasets", "show", "news", "--store", str(tmp_path / "s")])
    assert out.exit_code == 0, out.output
    shown = set(re.findall(r"\bv(\d+)\b", out.output.split("lineage of")[1].split("sources of")[0]))
    assert shown == {str(n) for n in range(5, 15)}
    assert "--lineage 0 lists all" in out.output
    assert "+3" in out.output  # v5's rows added, from v4 which is read but not listed
    everything = runner.invoke(app, ["datasets", "show", "news", "--lineage", "0", "--store",
                                     str(tmp_path / "s")])
    assert everything.exit_code == 0, everything.output
    shown = set(re.findall(r"\bv(\d+)\b", everything.output.split("lineage of")[1].split("sources of")[0]))
    assert shown == {str(n) for n in range(1, 15)}


def test_many_small_commits_keep_one_list_and_every_version_stays_whole(store: ObjectStore, tmp_path: Path) -> None:
    vs = VersionStore(store)
    published: list[ShardInfo] = []
    versions = []
    for i in range(12):
        shards = _shards(store, f"r{i}", 4)
        published += shards
        versions.append(vs.commit("news", shards, code_version="t", run_id=f"r{i}"))
    head = versions[-1]
    assert len(head.shard_lists) == 1  # the small tail list absorbed every commit
    assert {s.key for s in vs.shards(head)} == {s.key for s in published}
    assert head.total_rows == 48
    for m in versions:  # older versions still reference the lists they were committed with
        assert verify_version(vs, m).ok
        assert m.total_rows == 4 * int(m.version[1:])
    d = diff_versions(vs, versions[5], versions[6])
    assert [s.key for s in d.added] == sorted(s.key for s in vs.shards(versions[6])
                                              if s.key not in {x.key for x in vs.shards(versions[5])})
    assert d.removed == [] and d.rows_added == 4


def test_a_full_tail_list_is_reused_and_the_new_rows_get_their_own(tmp_path: Path, monkeypatch) -> None:
    import storage.versions as versions

    monkeypatch.setattr(versions, "SHARD_LIST_MAX_ROWS", 4)
    store = LocalStore(tmp_path / "s")
    vs = VersionStore(store)
    first = vs.commit("news", _shards(store, "r1", 40), code_version="t", run_id="r1")
    assert first.shard_lists[-1].shards >= 2  # half full or more: kept as it is
    second = vs.commit("news", _shards(store, "r2", 10), code_version="t", run_id="r2")
    assert {r.key for r in first.shard_lists} <= {r.key for r in second.shard_lists}
    third = vs.commit("news", _shards(store, "r3", 10), code_version="t", run_id="r3")
    kept = {r.key for r in second.shard_lists} - {r.key for r in third.shard_lists}
    assert all(r.shards >= 2 for r in third.shard_lists[:-1])
    assert len(kept) <= 1  # at most the small tail was rewritten
    assert verify_version(vs, third).ok and third.total_rows == 60
