"""`kho` options and output: Beam options checked, --create-bucket / `kho store init`, plain
full-width output without a terminal, and `datasets show` with the version's whole lineage."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

import pipelines.cli as cli
from pipelines.cli import UnknownOptionError, app, check_beam_args
from storage.local import LocalStore
from storage.shards import ParquetShardWriter
from storage.versions import VersionStore, shard_prefix

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "pipelines" / "configs" / "sample.yaml"
runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list:
    """Stand in for the ingest itself: record what `kho ingest` would hand to Beam."""
    calls = []
    monkeypatch.setattr(cli, "_ingest", lambda config, store, beam_args, create_bucket=False:
                        calls.append((store, beam_args, create_bucket)))
    return calls


# -- 1. unknown options are errors; Beam's own pass through -------------------------------

def test_a_typo_is_an_error_naming_the_closest_option(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # where the default store .kho/store would be written
    monkeypatch.delenv("KHO_STORE", raising=False)
    result = _run("ingest", str(SAMPLE), "--stor", str(tmp_path / "other-store"))
    assert result.exit_code == 2
    assert "unknown option --stor (did you mean --store?)" in result.output
    assert not (tmp_path / ".kho").exists() and not (tmp_path / "other-store").exists()


def test_a_misspelt_beam_option_names_beams_option(captured) -> None:
    result = _run("ingest", str(SAMPLE), "--runner=FlinkRunner", "--flink_mastr=x:8081")
    assert result.exit_code == 2 and "did you mean --flink_master?" in result.output
    assert not captured


@pytest.mark.parametrize("beam_args", [
    ["--direct_running_mode=multi_processing", "--direct_num_workers=2"],
    ["--runner=FlinkRunner", "--flink_master=x:8081"],
    ["--runner", "FlinkRunner", "--flink_master", "x:8081", "--parallelism=4"],
    ["--experiments=a", "--experiments", "b", "--save_main_session"],
])
def test_beams_own_options_pass_through(captured, beam_args: list[str], tmp_path: Path) -> None:
    result = _run("ingest", str(SAMPLE), *beam_args, "--store", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert captured == [(str(tmp_path), beam_args, False)]


def test_anything_after_a_bare_double_dash_passes_unchecked(captured) -> None:
    result = _run("ingest", str(SAMPLE), "--direct_num_workers=2", "--", "--plugin_only=1", "x")
    assert result.exit_code == 0, result.output
    assert captured[0][1] == ["--direct_num_workers=2", "--plugin_only=1", "x"]


def test_bad_values_and_stray_arguments_are_errors(captured) -> None:
    bad = _run("ingest", str(SAMPLE), "--direct_num_workers=many")
    assert bad.exit_code == 2 and "--direct_num_workers" in bad.output and "many" in bad.output
    stray = _run("ingest", str(SAMPLE), "second.yaml")
    assert stray.exit_code == 2 and "'second.yaml'" in stray.output and "one config" in stray.output
    assert not captured
    with pytest.raises(UnknownOptionError, match="neither Kho nor Beam"):
        check_beam_args(["--zqzqzq=1"])


def test_the_error_is_one_line_and_beams_import_warning_is_gone(tmp_path: Path) -> None:
    """As a user runs it: the real entry point, stderr not a terminal."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KHO_")}
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "ingest", str(SAMPLE), "--stor", "x"],
                            cwd=tmp_path, env={**env, "PYTHONPATH": str(REPO)}, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: unknown option --stor (did you mean --store?); `kho ingest --help` lists Kho's "
        "options, Beam's pipeline options pass through, and anything after a bare `--` goes to "
        "Beam unchecked"]


# -- 2. --create-bucket and `kho store init` ------------------------------------------------

def test_store_init_creates_a_local_folder_and_says_so(tmp_path: Path) -> None:
    target = tmp_path / "new" / "store"
    first = _run("store", "init", "--store", str(target))
    assert first.exit_code == 0, first.output
    assert target.is_dir() and f"created folder {target}" in first.output and "empty" in first.output
    again = _run("store", "init", "--store", f"file://{target}")
    assert again.exit_code == 0 and "exists already" in again.output


def test_ingest_and_demo_take_create_bucket(captured) -> None:
    assert "--create-bucket" in _run("demo", "--help").output
    assert _run("ingest", str(SAMPLE), "--create-bucket").exit_code == 0
    assert captured[0][2] is True


@pytest.mark.slow
def test_store_init_and_create_bucket_on_s3(s3_server) -> None:
    from storage.errors import BucketNotFoundError

    def uri(bucket: str) -> str:
        return f"s3://{bucket}/kho?endpoint=http://{s3_server.endpoint}"

    bucket = f"kho-init-{uuid.uuid4().hex[:8]}"
    first = _run("store", "init", "--store", uri(bucket))
    assert first.exit_code == 0, first.output
    assert f"created bucket '{bucket}'" in first.output
    assert "exists already" in _run("store", "init", "--store", uri(bucket)).output

    missing = uri(f"kho-demo-{uuid.uuid4().hex[:8]}")
    without = _run("demo", "--store", missing)
    assert isinstance(without.exception, BucketNotFoundError)
    made = _run("demo", "--store", missing, "--create-bucket")
    assert made.exit_code == 0, made.output
    assert "verified vi-text-sample@v1" in made.output


# -- 3. without a terminal, whole lines -----------------------------------------------------

LONG_URI = "s3://kho-archive/" + "/".join(f"crawl-segment-{i:03d}" for i in range(25)) + "/part-00000.jsonl.gz"


def _commit(vs: VersionStore, store: LocalStore, dataset: str, run: str, source: str, uri: str = "") -> None:
    w = ParquetShardWriter(store, shard_prefix(dataset, "text", run), pa.schema([("id", pa.string())]),
                           modality="text")
    w.write_rows([{"id": f"{run}-{i}"} for i in range(3)])
    vs.commit(dataset, w.close(), code_version="test", run_id=run,
              sources=[{"name": source, "uri": uri or f"file:///data/{source}.jsonl", "inputs": 3, "kept": 3}])


@pytest.fixture
def lineage(tmp_path: Path) -> str:
    store = LocalStore(tmp_path / "store")
    vs = VersionStore(store)
    _commit(vs, store, "vi-news-with-a-rather-long-dataset-name", "run-one", "news-2026-10", LONG_URI)
    _commit(vs, store, "vi-news-with-a-rather-long-dataset-name", "run-two", "forum-2026-11")
    _commit(vs, store, "vi-news-with-a-rather-long-dataset-name", "run-three", "crawl-2026-12")
    return str(tmp_path / "store")


def test_without_a_terminal_headers_and_paths_are_whole(lineage: str) -> None:
    listing = _run("datasets", "list", "--store", lineage).output
    assert "vi-news-with-a-rather-long-dataset-name" in listing and "…" not in listing
    show = _run("datasets", "show", "vi-news-with-a-rather-long-dataset-name@v1", "--store", lineage).output
    assert "…" not in show
    assert any(LONG_URI in line for line in show.splitlines())  # on one line, not folded or wrapped
    for header in ("modality", "format", "shards", "source", "uri", "inputs", "kept", "version", "run"):
        assert header in show


def test_run_summary_headers_are_whole_without_a_terminal(capsys, tmp_path: Path) -> None:
    class Result:
        run_id, version, report_key = "20261202T000000Z-00000000", "v1", "runs/x/" + "r" * 150 + "/report.html"
        row = {"inputs": 1, "kept": 1, "rejected": 0, "quarantined": 0, "duplicates": 0, "reconciles": True}
        stats = {"dataset": "d", "sources": {"a-source-with-a-long-name-" + "x" * 60: row}, "totals": row,
                 "rejected_by_reason": {"gopher_repetition:duplicated_10_n_grams": 3},
                 "quarantined_by_error": {}, "pii_by_type": {}}

    store = LocalStore(tmp_path)
    cli._print_summary(Result(), store)
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if "source" in line)
    for name in ("inputs", "kept", "rejected", "quarantined", "duplicates", "reconciles"):
        assert name in header
    assert "…" not in out
    assert f"report: {store.url(Result.report_key)}" in out.splitlines()


# -- 4. datasets show: the whole lineage ----------------------------------------------------

def test_show_lists_the_lineage_and_every_ancestors_sources(lineage: str) -> None:
    result = _run("datasets", "show", "vi-news-with-a-rather-long-dataset-name@v3", "--store", lineage)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "lineage of vi-news-with-a-rather-long-dataset-name@v3" in out
    for version, run, source in (("v3", "run-three", "crawl-2026-12"), ("v2", "run-two", "forum-2026-11"),
                                 ("v1", "run-one", "news-2026-10")):
        row = next(line for line in out.splitlines() if source in line and "file://" not in line
                   and "s3://" not in line)
        assert version in row and run in row
    assert LONG_URI in out and "file:///data/forum-2026-11.jsonl" in out


def test_show_says_where_the_lineage_breaks(lineage: str) -> None:
    root = Path(lineage) / "datasets" / "vi-news-with-a-rather-long-dataset-name" / "versions"
    (root / "v1.json").unlink()
    out = _run("datasets", "show", "vi-news-with-a-rather-long-dataset-name@v3", "--store", lineage).output
    broken = next(line for line in out.splitlines() if line.strip("│ ").startswith("v1"))
    assert "unreadable" in broken
