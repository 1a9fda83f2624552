"""Same inputs and config, same version contents: kept ids, duplicate decisions, shard rows,
whatever the run, the bundle order or the number of workers."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.config import load_ingest_config
from pipelines.ingest import run_ingest
from storage.local import LocalStore
from storage.versions import VersionStore
from tests.data.make_text_golden import decisions, generated_config


def _run(cfg: Path, store_dir: Path, args: list[str]) -> tuple[dict, list[list[str]]]:
    store = LocalStore(store_dir)
    result = run_ingest(load_ingest_config(cfg), store, args)
    vs = VersionStore(store)
    m = vs.manifest(f"golden@{result.version}")
    shard_rows = sorted(
        sorted(pq.read_table(io.BytesIO(store.get_bytes(s.key)), columns=["id"]).column("id").to_pylist())
        for s in vs.shards(m))
    return decisions(store, result), shard_rows


@pytest.mark.slow
def test_repeated_runs_and_worker_counts_give_the_same_version_contents(tmp_path: Path) -> None:
    cfg = generated_config(tmp_path)  # near-duplicate-heavy, one fixed set of input paths
    first = _run(cfg, tmp_path / "s1", [])
    assert first[0]["duplicates"][0] > 20  # the corpus really exercises near dedup
    for n, args in enumerate(([], [], ["--direct_running_mode=multi_processing", "--direct_num_workers=2"])):
        again = _run(cfg, tmp_path / f"s{n + 2}", args)
        assert again[0] == first[0], f"run {n + 2} ({args or 'one worker'}) decided differently"
        assert again[1] == first[1], f"run {n + 2} ({args or 'one worker'}) wrote other shard rows"
