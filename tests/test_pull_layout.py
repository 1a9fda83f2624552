"""A pulled folder opens with pyarrow, polars, DuckDB and HF datasets as it is (issue: no glue)."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.dataset as pads
import pytest

from pipelines.cli import SAMPLE_CONFIG
from pipelines.config import load_ingest_config
from pipelines.ingest import run_ingest
from storage.local import LocalStore
from storage.pull import pull_version, sidecar
from storage.versions import VersionStore


@pytest.fixture(scope="module")
def pulled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int, int]:
    base = tmp_path_factory.mktemp("pull")
    store = LocalStore(base / "store")
    run_ingest(load_ingest_config(SAMPLE_CONFIG), store)
    vs = VersionStore(store)
    m = vs.manifest("vi-text-sample@latest")
    whole, filtered = base / "whole", base / "filtered"
    pull_version(vs, m, whole)
    report = pull_version(vs, m, filtered, where="chars >= 600")
    return whole, filtered, m.total_rows, report.rows_written


def test_pyarrow_opens_the_pulled_folder_itself(pulled) -> None:
    whole, filtered, rows, kept = pulled
    assert pads.dataset(whole).count_rows() == rows
    expected = pads.dataset(whole).to_table(filter=pads.field("chars") >= 600).num_rows
    assert pads.dataset(filtered).count_rows() == kept == expected
    assert 0 < kept < rows
    assert (sidecar(whole) / "manifest.json").exists()
    assert {p.suffix for p in whole.rglob("*") if p.is_file()} == {".parquet"}
    assert not list((sidecar(whole) / "tmp").iterdir())


def test_polars_scans_the_pulled_folder(pulled) -> None:
    import polars as pl

    whole, _, rows, _ = pulled
    df = pl.scan_parquet(whole).select(pl.len()).collect()
    assert df.item() == rows


def test_duckdb_reads_the_pulled_shards(pulled) -> None:
    import duckdb

    whole, _, rows, _ = pulled
    got = duckdb.sql(f"SELECT count(*) AS n, count(DISTINCT id) AS ids "
                     f"FROM read_parquet('{whole}/**/*.parquet')").fetchall()[0]
    assert got == (rows, rows)


def test_hf_datasets_loads_the_pulled_folder_offline(pulled, monkeypatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from datasets import load_dataset

    whole, _, rows, _ = pulled
    ds = load_dataset("parquet", data_dir=str(whole), split="train",
                      cache_dir=str(whole.parent / "hf-cache"))
    assert ds.num_rows == rows and "text" in ds.column_names
