"""The sources registry, ``kho sources status`` on a real store, ``kho sources run``, and the
Kubernetes CronJob example."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.config import load_ingest_config
from pipelines.ingest import run_ingest
from pipelines.sources.registry import RegistryError, check_cron, load_registry
from pipelines.sources.status import registry_status, source_status
from storage.layout import crawl_run_prefix, run_info_key
from storage.local import LocalStore
from storage.versions import VersionStore

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "pipelines" / "configs" / "sources.yaml"
SAMPLE_DATA = REPO / "pipelines" / "sample_data"


def _write(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _entry(**over) -> dict:
    e = {"name": "s", "kind": "files", "dataset": "vi-text-sample",
         "ingest": str(REPO / "pipelines/configs/sample.yaml"), "schedule": "0 3 * * *",
         "owner": "me", "license": "CC-BY-4.0"}
    e.update(over)
    return e


# -- the registry -------------------------------------------------------------------------
def test_example_registry_loads():
    reg = load_registry(EXAMPLE)
    assert [(s.name, s.kind, s.dataset) for s in reg.sources] == [
        ("vi-text-sample", "files", "vi-text-sample"), ("baomoi", "crawl", "vi-web")]
    assert reg.path(reg.get("baomoi").crawl).is_file()


@pytest.mark.parametrize("expr", ["0 3 * * *", "*/15 0-6,22 1 jan-mar mon-fri", "@daily", "5 4 * * 7"])
def test_good_cron(expr):
    assert check_cron(expr) == expr


@pytest.mark.parametrize("expr, words", [("0 3 * *", "4 fields"), ("61 3 * * *", "minute field"),
                                         ("0 25 * * *", "hour field"), ("0 3 * * x", "day of week"),
                                         ("*/0 * * * *", "step"), ("0 5-2 * * *", "backwards")])
def test_bad_cron_is_named(tmp_path, expr, words):
    path = _write(tmp_path / "sources.yaml", {"sources": [_entry(schedule=expr)]})
    with pytest.raises(RegistryError) as err:
        load_registry(path)
    assert "schedule" in str(err.value) and words in str(err.value)


def test_crawl_source_needs_its_crawl_config(tmp_path):
    path = _write(tmp_path / "sources.yaml", {"sources": [_entry(kind="crawl")]})
    with pytest.raises(RegistryError, match="kind crawl: give its crawl config"):
        load_registry(path)
    path = _write(tmp_path / "sources.yaml", {"sources": [_entry(kind="crawl", crawl="nowhere.yaml")]})
    with pytest.raises(RegistryError, match=r"crawl config .*nowhere.yaml \(key `crawl`\) does not exist"):
        load_registry(path)


def test_unknown_key_is_named(tmp_path):
    path = _write(tmp_path / "sources.yaml", {"sources": [_entry(shedule="0 3 * * *")]})
    with pytest.raises(RegistryError, match="shedule"):
        load_registry(path)


def test_missing_ingest_config_and_wrong_dataset(tmp_path):
    path = _write(tmp_path / "sources.yaml", {"sources": [_entry(ingest="gone.yaml")]})
    with pytest.raises(RegistryError, match=r"gone.yaml \(key `ingest`\) does not exist"):
        load_registry(path)
    path = _write(tmp_path / "sources.yaml", {"sources": [_entry(dataset="other")]})
    with pytest.raises(RegistryError, match="writes dataset 'vi-text-sample'"):
        load_registry(path)


def test_unknown_source_name_lists_the_names():
    with pytest.raises(RegistryError, match="it has: vi-text-sample, baomoi"):
        load_registry(EXAMPLE).get("nope")


# -- status on a real store ---------------------------------------------------------------
@pytest.fixture(scope="module")
def sample_store(tmp_path_factory) -> tuple[LocalStore, dict]:
    """The bundled sample ingested once into a local store; returns (store, its stats.json)."""
    store = LocalStore(tmp_path_factory.mktemp("kho") / "store")
    result = run_ingest(load_ingest_config(REPO / "pipelines/configs/sample.yaml"), store, [])
    assert result.version == "v1"
    return store, json.loads(store.get_bytes(f"runs/{result.run_id}/stats.json"))


def test_status_of_the_ingested_sample(sample_store):
    store, stats = sample_store
    rows = {r.name: r for r in registry_status(load_registry(EXAMPLE), store)}
    row = rows["vi-text-sample"]
    assert row.last_version == "v1" and row.last_run.version == "v1"
    assert row.last_run.run_id == stats["run_id"] and stats["dataset"] == "vi-text-sample"
    for key in ("kept", "rejected", "quarantined", "duplicates"):
        assert row.counts()[key] == stats["totals"][key]
    assert row.pending == 0 and set(row.pending_by_source) == {"sample-news", "sample-forum", "sample-crawl"}
    crawl = rows["baomoi"]
    assert crawl.last_crawl is None and crawl.last_version is None and crawl.pending == 0
    assert "never crawled" in crawl.notes


def test_status_reports_failed_runs_and_crawls(tmp_path, sample_store):
    store, stats = sample_store
    work = LocalStore(tmp_path / "copy")
    shutil.copytree(store.root, work.root, dirs_exist_ok=True)
    reg = load_registry(EXAMPLE)
    failed = "29991231T000000Z-0000dead"  # newer than any real run
    work.put_bytes(run_info_key(failed), json.dumps(
        {"run_id": failed, "dataset": "vi-text-sample", "started": "2999-12-31T00:00:00+00:00"}).encode())
    row = source_status(reg, reg.get("vi-text-sample"), work)
    assert any(failed in f and "committed no version" in f for f in row.failures)
    assert row.last_version == "v1"
    crawl_runs = crawl_run_prefix("vi-web", "baomoi", "")
    work.put_bytes(f"{crawl_runs}20261201T000000Z-00000001/crawl.json", json.dumps(
        {"crawl_id": "20261201T000000Z-00000001", "finished_at": "2026-12-01T00:10:00+00:00",
         "pages_written": 7, "finish_reason": "finished"}).encode())
    row = source_status(reg, reg.get("baomoi"), work)
    assert row.last_crawl.pages_written == 7 and row.failures == []
    work.put_bytes(f"{crawl_runs}20261202T000000Z-00000002/crawl.log", b"Traceback ...")
    row = source_status(reg, reg.get("baomoi"), work)
    assert row.last_crawl.summary_missing and "stored no summary" in row.failures[0]


@pytest.fixture
def files_registry(tmp_path) -> Path:
    """A registry with one files source whose ingest reads tmp_path/drop/*.jsonl."""
    drop = tmp_path / "drop"
    drop.mkdir()
    shutil.copy(SAMPLE_DATA / "forum.jsonl", drop / "a.jsonl")
    _write(tmp_path / "ingest.yaml", {"dataset": "vi-drop", "sources": [
        {"name": "drop", "format": "jsonl", "paths": ["drop/*.jsonl"], "license": "CC-BY-4.0"}]})
    return _write(tmp_path / "sources.yaml", {"sources": [_entry(
        name="drop", dataset="vi-drop", ingest="ingest.yaml")]})


def _new_input(drop: Path, name: str) -> None:
    """A copy of a sample file's good records made new (other ids and texts)."""
    out = []
    for i, line in enumerate((SAMPLE_DATA / "forum.jsonl").read_bytes().splitlines()):
        try:  # the sample holds deliberately broken lines: only the good ones are copied
            rec = json.loads(line.decode("utf-8"))
        except ValueError:
            continue
        for k, v in rec.items():
            if isinstance(v, str) and k != "url":
                rec[k] = f"{v} ({name} {i})"
        out.append(json.dumps(rec, ensure_ascii=False))
    (drop / name).write_text("\n".join(out) + "\n", encoding="utf-8")


def test_pending_counts_a_new_file_and_run_ingests_it(tmp_path, files_registry):
    from pipelines.sources.run import run_source

    store = LocalStore(tmp_path / "store")
    reg = load_registry(files_registry)
    assert source_status(reg, reg.get("drop"), store).pending == 1  # never ingested
    first = run_source(reg, "drop", store)
    assert first.version == "v1" and first.verified == "v1"
    row = source_status(reg, reg.get("drop"), store)
    assert row.pending == 0 and row.last_version == "v1"
    _new_input(tmp_path / "drop", "b.jsonl")
    assert source_status(reg, reg.get("drop"), store).pending == 1
    second = run_source(reg, "drop", store)
    assert second.version == "v2" and second.verified == "v2"
    row = source_status(reg, reg.get("drop"), store)
    assert row.pending == 0 and row.last_run.run_id == second.run_id
    again = run_source(reg, "drop", store)  # nothing new: no version, still verified
    assert again.version is None and again.verified == "v2"


def test_cli_status_json_and_table(sample_store):
    store, stats = sample_store
    runner = CliRunner()
    res = runner.invoke(app, ["sources", "status", "--registry", str(EXAMPLE), "--store", str(store.root), "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert rows[0]["name"] == "vi-text-sample" and rows[0]["last_version"] == "v1"
    assert rows[0]["last_run"]["totals"]["kept"] == stats["totals"]["kept"]
    assert rows[0]["pending"] == 0
    res = runner.invoke(app, ["sources", "status", "--registry", str(EXAMPLE), "--store", str(store.root)])
    assert res.exit_code == 0 and "vi-text-sample" in res.stdout and "baomoi" in res.stdout


def test_cli_run_unknown_source_fails(tmp_path):
    res = CliRunner().invoke(app, ["sources", "run", "nope", "--registry", str(EXAMPLE),
                                   "--store", str(tmp_path / "s")])
    assert res.exit_code != 0 and isinstance(res.exception, RegistryError)


def test_cli_run_passes_beam_options_to_the_ingest_and_refuses_unknown_ones(tmp_path, files_registry):
    store = tmp_path / "store"
    runner = CliRunner()
    bad = runner.invoke(app, ["sources", "run", "drop", "--registry", str(files_registry), "--store", str(store),
                              "--direct_num_workerz=2"])
    assert bad.exit_code == 2 and "did you mean --direct_num_workers" in bad.output
    assert not (store / "datasets").exists()  # refused before anything ran
    ok = runner.invoke(app, ["sources", "run", "drop", "--registry", str(files_registry), "--store", str(store),
                             "--direct_running_mode=multi_threading", "--direct_num_workers=2"])
    assert ok.exit_code == 0, ok.output
    run_id = VersionStore(LocalStore(store)).manifest("vi-drop@latest").run_id
    info = json.loads(LocalStore(store).get_text(run_info_key(run_id)))
    assert info["runner"] == "FnApiRunner"
    assert info["beam_args"] == ["--direct_running_mode=multi_threading", "--direct_num_workers=2"]


def test_a_run_records_its_beam_options_with_secrets_hidden() -> None:
    from pipelines.ingest import recorded_args

    assert recorded_args(["--runner=FlinkRunner", "--s3_secret_access_key=abc", "--s3_access_key_id", "AK",
                          "--parallelism=8"]) == [
        "--runner=FlinkRunner", "--s3_secret_access_key=***", "--s3_access_key_id", "***", "--parallelism=8"]


# -- a crawl source, end to end on the local test sites ------------------------------------
@pytest.fixture()
def sites():
    from tests.crawl_sites import serve

    s, server = serve()
    yield s
    server.shutdown()


def _crawl_registry(tmp: Path, sites) -> Path:
    """A registry with one crawl source (dataset web, source news) on the test sites."""
    a, b = sites.base("localhost"), sites.base("127.0.0.1")
    _write(tmp / "crawl.yaml", {
        "dataset": "web", "source": "news", "seeds": [f"{a}/", f"{b}/"],
        "sitemaps": [f"{a}/sitemap.xml"], "allowed_domains": ["localhost", "127.0.0.1"],
        "user_agent": "KhoBot/0.1 (+https://example.invalid/kho-tests; dataset curation)",
        "delay_s": 0, "autothrottle": False, "max_depth": 3, "download_timeout_s": 1, "retries": 0,
        "per_host_concurrency": 4, "warc_records_per_file": 3})
    _write(tmp / "ingest.yaml", {"dataset": "web", "sources": [
        {"name": "news", "format": "warc", "license": "CC-BY-4.0", "paths": ["store:crawls/web/news/warc/"]}]})
    return _write(tmp / "sources.yaml", {"sources": [_entry(
        name="news", kind="crawl", dataset="web", crawl="crawl.yaml", ingest="ingest.yaml")]})


def test_crawl_source_run_and_status(tmp_path, sites):
    """The data engineer's loop: run the crawl source (crawl, ingest, verify), see it in
    status; a page changes, a crawl alone leaves one WARC part pending; the next run adds it."""
    from pipelines.crawl.run import run_crawl
    from pipelines.sources.run import run_source
    from pipelines.sample_data.make_sample import NEWS
    from tests.crawl_sites import article

    store = LocalStore(tmp_path / "store")
    reg = load_registry(_crawl_registry(tmp_path, sites))
    before = source_status(reg, reg.get("news"), store)
    assert before.last_crawl is None and before.pending == 0 and before.last_version is None
    first = run_source(reg, "news", store)
    assert first.crawl["pages_written"] == 10 and first.version == "v1" and first.verified == "v1"
    row = source_status(reg, reg.get("news"), store)
    assert row.last_crawl.crawl_id == first.crawl["crawl_id"] and row.last_crawl.pages_written == 10
    assert row.last_version == "v1" and row.last_run.run_id == first.run_id and row.pending == 0
    stats = json.loads(store.get_bytes(f"runs/{first.run_id}/stats.json"))
    assert row.counts()["kept"] == stats["totals"]["kept"] == 5

    sites.pages[("localhost", "/news/2")] = article(*NEWS[5], ("/",))
    recrawl = run_crawl(reg.path(reg.get("news").crawl), store)
    assert recrawl["pages_written"] == 1
    row = source_status(reg, reg.get("news"), store)
    assert row.pending == 1 and row.last_crawl.crawl_id == recrawl["crawl_id"]
    second = run_source(reg, "news", store)
    assert second.crawl["pages_written"] == 0 and second.version == "v2"
    row = source_status(reg, reg.get("news"), store)
    assert row.pending == 0 and row.last_version == "v2" and row.last_run.totals["kept"] == 1


# -- the Kubernetes example ---------------------------------------------------------------
def test_kubernetes_cronjob_example():
    docs = [d for d in yaml.safe_load_all((REPO / "deploy/kubernetes/kho-source-cronjob.yaml").read_text()) if d]
    jobs = [d for d in docs if d["kind"] == "CronJob"]
    assert jobs
    for job in jobs:
        spec = job["spec"]
        assert spec["concurrencyPolicy"] == "Forbid"
        check_cron(spec["schedule"])
        container = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        args = container["args"]
        assert isinstance(args, list) and all(isinstance(a, str) for a in args)
        assert args[:3] == ["kho", "sources", "run"] and args[4:] == ["--registry", "/config/sources.yaml"]
        secrets = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]}
        assert set(secrets) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
        assert {"configMapRef": {"name": "kho-env"}} in container["envFrom"]
    env = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "kho-env")
    assert "KHO_STORE" in env["data"]


