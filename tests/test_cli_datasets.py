"""The `kho` storage commands, run as a user would (typer's runner, a real local store)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from storage.local import LocalStore
from storage.shards import ParquetShardWriter
from storage.versions import VersionStore, shard_prefix

runner = CliRunner()
SCHEMA = pa.schema([pa.field("id", pa.string()), pa.field("lang", pa.string())])


@pytest.fixture
def published(tmp_path: Path) -> tuple[str, list]:
    store = LocalStore(tmp_path / "store")
    vs = VersionStore(store)
    all_shards = []
    for run, n in (("r1", 40), ("r2", 25)):
        w = ParquetShardWriter(store, shard_prefix("news", "text", run), SCHEMA, modality="text",
                               target_bytes=600, row_group_rows=10)
        w.write_rows([{"id": f"{run}-{i}", "lang": "vi" if i % 2 else "en"} for i in range(n)])
        shards = w.close()
        all_shards += shards
        vs.commit("news", shards, code_version="test", run_id=run)
    return str(tmp_path / "store"), all_shards


def _run(*args: str):
    result = runner.invoke(app, list(args))
    return result


def test_help_teaches_the_typical_session() -> None:
    out = _run("--help").output
    assert "kho ingest" in out and "kho pull" in out and "KHO_STORE" in out


def test_list_show_diff_and_tag(published) -> None:
    store, _ = published
    out = _run("datasets", "list", "--store", store).output
    assert "news" in out and "v2" in out and "65" in out
    show = _run("datasets", "show", "news@v1", "--store", store)
    assert show.exit_code == 0 and "merkle root" in show.output and "40" in show.output
    diff = _run("datasets", "diff", "news@v1", "news@v2", "--store", store)
    assert "+25 rows" in diff.output.replace(",", "")
    tag = _run("datasets", "tag", "news@v1", "gold", "--store", store)
    assert tag.exit_code == 0
    assert VersionStore(LocalStore(store)).resolve("news@gold") == "v1"


def test_unknown_version_is_a_clear_error(published) -> None:
    store, _ = published
    result = _run("datasets", "show", "news@v9", "--store", store)
    assert result.exit_code != 0
    assert "kho datasets list" in str(result.exception) + result.output


def test_verify_exits_nonzero_and_names_the_bad_shard(published) -> None:
    store, shards = published
    assert _run("verify", "news", "--store", store).exit_code == 0
    victim = Path(store) / shards[0].key
    victim.write_bytes(victim.read_bytes()[:-3] + b"xyz")
    result = _run("verify", "news", "--store", store)
    assert result.exit_code == 1
    assert shards[0].key in result.output


def test_pull_with_where_and_gc_dry_run(published, tmp_path: Path) -> None:
    store, shards = published
    dest = tmp_path / "out"
    result = _run("pull", "news@latest", str(dest), "--store", store, "--where", "lang = 'vi'")
    assert result.exit_code == 0, result.output
    assert "32 rows" in result.output.replace(",", "")  # 20 + 12 odd ids
    assert (dest.with_name(dest.name + ".kho") / "manifest.json").exists()
    gc = _run("gc", "--store", store, "--grace-hours", "0")
    assert gc.exit_code == 0 and "0 unreferenced" in gc.output


def test_bad_where_fails_before_downloading(published, tmp_path: Path) -> None:
    store, _ = published
    result = _run("pull", "news", str(tmp_path / "o"), "--store", store, "--where", "lang ===")
    assert result.exit_code != 0
    assert not (tmp_path / "o" / "datasets").exists()
