"""The text pipeline end to end on Beam's FnApiRunner, on the bundled sample and real corrupt input."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytest.importorskip("filters.pii")
pytest.importorskip("filters.quality")
pytest.importorskip("filters.langid")

from pipelines.cli import SAMPLE_CONFIG  # noqa: E402
from pipelines.config import load_ingest_config  # noqa: E402
from pipelines.ingest import run_ingest  # noqa: E402
from storage.api import open_dataset  # noqa: E402
from storage.base import ObjectStore  # noqa: E402
from storage.local import LocalStore  # noqa: E402
from storage.verify import verify_version  # noqa: E402
from storage.versions import VersionStore  # noqa: E402
from tests.warc_fixtures import write_sample_warc  # noqa: E402

pytestmark = pytest.mark.slow


def _table(store: ObjectStore, stats: dict, name: str) -> list[dict]:
    rows = []
    for key in stats["tables"].get(name, []):
        rows += pq.read_table(store.url(key) if isinstance(store, LocalStore) else
                              __import__("io").BytesIO(store.get_bytes(key))).to_pylist()
    return rows


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    store = LocalStore(tmp_path_factory.mktemp("store"))
    result = run_ingest(load_ingest_config(SAMPLE_CONFIG), store)
    return store, result


def test_sample_run_reconciles_every_input(sample_run) -> None:
    _, result = sample_run
    t = result.stats["totals"]
    assert t["inputs"] == t["kept"] + t["rejected"] + t["quarantined"] + t["duplicates"]
    assert t["reconciles"] and all(s["reconciles"] for s in result.stats["sources"].values())
    n_news = sum(1 for _ in gzip.open(Path(SAMPLE_CONFIG).parent.parent / "sample_data/news.jsonl.gz"))
    assert result.stats["sources"]["sample-news"]["inputs"] == n_news


def test_sample_outcomes_are_the_planted_ones(sample_run) -> None:
    store, result = sample_run
    kept = open_dataset(store, "vi-text-sample", result.version).to_table().to_pylist()
    urls = {r["url"] for r in kept}
    assert "https://tin.example.vn/bai-0" in urls
    assert not any(u.startswith("https://world.example.com") for u in urls)  # other languages
    rejected = {r["url"]: r for r in _table(store, result.stats, "rejected")}
    assert any(r["reasons"] == ["language:other_language"] for r in rejected.values())
    assert any(any(x.startswith(("gopher", "c4", "fineweb")) for x in r["reasons"]) for r in rejected.values())
    quarantine = _table(store, result.stats, "quarantine")
    assert {q["error_class"] for q in quarantine} >= {"JSONDecodeError", "MissingFieldError", "TextDecodeError"}
    dups = _table(store, result.stats, "duplicates")
    assert any(d["url"] == "https://mirror.example.vn/a" and d["kind"] == "exact" for d in dups)
    nodiac = [r for r in kept + list(rejected.values()) if r["url"].endswith("/t/4")]
    assert nodiac and nodiac[0]["lang"] == "vi" and nodiac[0]["lang_variant"] == "no_diacritics"


def test_pii_is_redacted_in_published_text(sample_run) -> None:
    store, result = sample_run
    texts = " ".join(r["text"] for r in open_dataset(store, "vi-text-sample").to_table().to_pylist())
    assert "0912 345 678" not in texts and "hung.nguyen@example.vn" not in texts
    assert "<PHONE>" in texts and "<EMAIL>" in texts
    assert result.stats["pii_by_type"].get("PHONE", 0) >= 1


def test_signals_are_stored_as_values_for_rethresholding(sample_run) -> None:
    store, result = sample_run
    table = open_dataset(store, "vi-text-sample").to_table()
    signals = table.column("signals").to_pylist()
    assert all(s is not None and all(v is not None for v in s.values()) for s in signals)
    filtered = open_dataset(store, "vi-text-sample", filter="lang_score >= 0.0").to_table()
    assert filtered.num_rows == table.num_rows


def test_report_and_version_are_complete(sample_run) -> None:
    store, result = sample_run
    html = store.get_text(result.report_key)
    assert "<svg" in html and "inputs" in html and "Examples per reason" in html
    vs = VersionStore(store)
    assert verify_version(vs, vs.manifest(f"vi-text-sample@{result.version}")).ok


def test_rerun_skips_inputs_already_in_the_ledger(sample_run) -> None:
    store, result = sample_run
    again = run_ingest(load_ingest_config(SAMPLE_CONFIG), store)
    assert again.version is None and len(again.skipped_inputs) == 3
    assert VersionStore(store).versions("vi-text-sample") == [result.version]


def _bad_inputs_config(tmp_path: Path) -> Path:
    data = tmp_path / "in"
    data.mkdir()
    good = [json.dumps({"text": "Hôm nay trời đẹp, người dân đi dạo quanh hồ Gươm rất đông vui. " * 6},
                       ensure_ascii=False) for _ in range(1)]
    gz = gzip.compress(("\n".join(good * 50) + "\n").encode())
    (data / "truncated.jsonl.gz").write_bytes(gz[: len(gz) // 2])
    (data / "empty.jsonl").write_bytes(b"")
    (data / "gigantic.jsonl").write_bytes(b'{"text": "' + b"x" * 3_000_000 + b'"}\n{"text": "sau"}\n')
    write_sample_warc(data / "crawl.warc")
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(f"""
dataset: bad-inputs
sources:
  - name: jsonl
    format: jsonl
    paths: ["{data}/*.jsonl*"]
    max_line_bytes: 1048576
  - name: warc
    format: warc
    paths: ["{data}/crawl.warc"]
""")
    return cfg


def test_corrupt_inputs_are_quarantined_and_the_run_goes_on(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    result = run_ingest(load_ingest_config(_bad_inputs_config(tmp_path)), store)
    assert result.stats["totals"]["reconciles"]
    errors = result.stats["quarantined_by_error"]
    assert {"TruncatedInputError", "EmptyInputError", "LineTooLongError"} <= set(errors)
    assert result.stats["sources"]["warc"]["quarantined"] == 2
    t = result.stats["totals"]
    assert t["inputs"] - t["quarantined"] >= 3  # records around the damage went on through the pipeline


def test_same_pipeline_runs_against_the_s3_server(s3_server, tmp_path: Path) -> None:
    from tests.conftest import make_s3_store

    store = make_s3_store(s3_server)
    result = run_ingest(load_ingest_config(SAMPLE_CONFIG), store)
    assert result.stats["totals"]["reconciles"] and result.version == "v1"
    vs = VersionStore(store)
    assert verify_version(vs, vs.manifest("vi-text-sample@v1")).ok


def _records(store_dir: Path, dataset: str) -> list[tuple[str, str]]:
    store = LocalStore(store_dir)
    table = open_dataset(store, dataset).to_table(columns=["id", "text"])
    return sorted(zip(table.column("id").to_pylist(), table.column("text").to_pylist()))


def _kill_test_config(tmp_path: Path) -> Path:
    """A corpus big enough that processing, not start-up, dominates the run's time."""
    from bench.corpus import generate_vietnamese_corpus

    data = tmp_path / "corpus"
    data.mkdir()
    docs = generate_vietnamese_corpus(2400, seed=3)
    for part in range(4):
        with open(data / f"part-{part}.jsonl", "w", encoding="utf-8") as fh:
            for d in docs[part::4]:
                fh.write(json.dumps(d, ensure_ascii=False) + "\n")
    cfg = tmp_path / "kill.yaml"
    cfg.write_text(f"""
dataset: kill-test
sources:
  - name: corpus
    format: jsonl
    paths: ["{data}/*.jsonl"]
""")
    return cfg


def test_sigkill_mid_run_then_rerun_equals_a_clean_run(tmp_path: Path) -> None:
    """Kill -9 halfway through (by the clean run's own duration), rerun, compare records."""
    cfg = _kill_test_config(tmp_path)
    cmd = [sys.executable, "-m", "pipelines.cli", "ingest", str(cfg), "--store"]
    clean = tmp_path / "clean"
    t0 = time.monotonic()
    subprocess.run(cmd + [str(clean)], check=True, capture_output=True, timeout=600)
    duration = time.monotonic() - t0
    crashed = tmp_path / "crashed"
    proc = subprocess.Popen(cmd + [str(crashed)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    time.sleep(duration * 0.5)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    vs = VersionStore(LocalStore(crashed))
    assert vs.versions("kill-test") == []  # nothing half-visible
    subprocess.run(cmd + [str(crashed)], check=True, capture_output=True, timeout=600)
    assert vs.versions("kill-test") == ["v1"]
    assert _records(crashed, "kill-test") == _records(clean, "kill-test")


def test_a_document_already_published_is_a_near_duplicate_of_it(sample_run, tmp_path: Path) -> None:
    """Run 2 brings a lightly edited copy of an article run 1 published: it is dropped as a
    near duplicate of the published record, through the dataset's dedup index."""
    store, first = sample_run
    published = open_dataset(store, "vi-text-sample", first.version).to_table().to_pylist()
    article = next(r for r in published if r["url"] == "https://tin.example.vn/bai-2")
    edited = article["text"].replace("Tối qua", "Tối hôm qua", 1)
    (tmp_path / "later.jsonl").write_text(json.dumps(
        {"text": edited, "url": "https://copy.example.vn/x", "date": "2026-01-01"}, ensure_ascii=False) + "\n")
    cfg = tmp_path / "later.yaml"
    cfg.write_text(f"""
dataset: vi-text-sample
sources:
  - name: later
    format: jsonl
    paths: ["{tmp_path}/later.jsonl"]
""")
    second = run_ingest(load_ingest_config(cfg), store)
    assert second.stats["totals"] == {**second.stats["totals"], "inputs": 1, "duplicates": 1, "kept": 0}
    (dup,) = _table(store, second.stats, "duplicates")
    assert dup["dup_of"] == article["id"] and dup["kind"] == "near"
    assert VersionStore(store).manifest("vi-text-sample@latest").parent == first.version


def test_inputs_can_come_from_the_object_store(s3_server, tmp_path: Path) -> None:
    from tests.conftest import make_s3_store

    store = make_s3_store(s3_server)
    sample = Path(SAMPLE_CONFIG).parent.parent / "sample_data"
    store.put_file("inputs/news.jsonl.gz", sample / "news.jsonl.gz")
    cfg = tmp_path / "s3in.yaml"
    cfg.write_text("""
dataset: from-store
sources:
  - name: news
    format: jsonl
    paths: ["store:inputs/"]
""")
    result = run_ingest(load_ingest_config(cfg), store)
    n_news = sum(1 for _ in gzip.open(sample / "news.jsonl.gz"))
    assert result.stats["sources"]["news"]["inputs"] == n_news and result.stats["totals"]["reconciles"]


def test_same_pipeline_runs_on_the_portable_runner(tmp_path: Path) -> None:
    """The portable path Flink and Spark use: Beam's in-process job service, LOOPBACK workers."""
    from apache_beam.runners.portability.local_job_service import LocalJobServicer

    servicer = LocalJobServicer()
    port = servicer.start_grpc_server(0)
    try:
        store = LocalStore(tmp_path / "store")
        result = run_ingest(load_ingest_config(SAMPLE_CONFIG), store,
                            ["--runner=PortableRunner", f"--job_endpoint=localhost:{port}",
                             "--environment_type=LOOPBACK"])
    finally:
        servicer.stop()
    assert result.stats["totals"]["reconciles"] and result.version == "v1"
    direct = run_ingest(load_ingest_config(SAMPLE_CONFIG), LocalStore(tmp_path / "direct"))
    assert _records(tmp_path / "store", "vi-text-sample") == _records(tmp_path / "direct", "vi-text-sample")
