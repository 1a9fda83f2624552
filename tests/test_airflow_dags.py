"""The Airflow DAGs of deploy/airflow, loaded and run in Airflow's own virtualenv.

Airflow cannot share Kho's venv, so scripts/setup.sh makes `.venv-airflow`; these tests drive it
as a subprocess. KHO_AIRFLOW_VENV points at another Airflow venv; KHO_SKIP_AIRFLOW=1 skips the
tests when no Airflow venv exists (otherwise a missing venv is a failure: run scripts/setup.sh).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "deploy" / "airflow"
REGISTRY = ROOT / "pipelines" / "configs" / "sources.yaml"
KHO_BIN = Path(sys.executable).parent / "kho"


def airflow_venv() -> Path:
    """The Airflow venv: $KHO_AIRFLOW_VENV or .venv-airflow; skip or fail when it is missing."""
    venv = Path(os.environ.get("KHO_AIRFLOW_VENV") or ROOT / ".venv-airflow")
    if not (venv / "bin" / "airflow").exists():
        if os.environ.get("KHO_SKIP_AIRFLOW") == "1":
            pytest.skip(f"no Airflow venv at {venv} and KHO_SKIP_AIRFLOW=1")
        pytest.fail(f"no Airflow venv at {venv}: run scripts/setup.sh (or set KHO_AIRFLOW_VENV)")
    return venv


def airflow_env(home: Path, registry: Path, **extra: str) -> dict[str, str]:
    """An environment for Airflow with its home in a tmp folder and our DAG folder."""
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        KHO_SOURCES=str(registry),
        **extra,
    )
    return env


LOAD = """
import json
from airflow.models.dagbag import DagBag
bag = DagBag(dag_folder=%r, include_examples=False)
out = {"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
for d in bag.dags.values():
    out["dags"][d.dag_id] = {
        "max_active_runs": d.max_active_runs,
        "catchup": d.catchup,
        "schedule": d.timetable.summary,
        "tags": sorted(d.tags),
        "down": {t.task_id: sorted(t.downstream_task_ids) for t in d.tasks},
    }
print("KHO-JSON " + json.dumps(out))
"""


def test_dagbag_one_dag_per_source(tmp_path: Path) -> None:
    venv = airflow_venv()
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-c", LOAD % str(DAGS)],
        env=airflow_env(tmp_path, REGISTRY),
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("KHO-JSON "))
    got = json.loads(line[len("KHO-JSON "):])
    assert got["errors"] == {}
    sources = yaml.safe_load(REGISTRY.read_text())["sources"]
    assert set(got["dags"]) == {f"kho_{s['name']}" for s in sources}
    for s in sources:
        dag = got["dags"][f"kho_{s['name']}"]
        assert dag["max_active_runs"] == 1
        assert dag["catchup"] is False
        assert dag["schedule"] == s["schedule"]
        assert dag["tags"] == sorted(["kho", s["dataset"]])
        chain = {"ingest": ["verify"], "verify": ["gc"], "gc": []}
        if s["kind"] == "crawl":
            chain["crawl"] = ["ingest"]
        assert dag["down"] == chain


@pytest.mark.slow
def test_dags_test_runs_the_sample_source(tmp_path: Path) -> None:
    venv = airflow_venv()
    registry = tmp_path / "sources.yaml"
    sample = yaml.safe_load(REGISTRY.read_text())["sources"][0]
    assert sample["name"] == "vi-text-sample" and sample["kind"] == "files"
    sample = {**sample, "ingest": str(REGISTRY.parent / sample["ingest"])}
    registry.write_text(yaml.safe_dump({"sources": [sample]}))
    store = tmp_path / "store"
    env = airflow_env(tmp_path / "airflow", registry, KHO_STORE=str(store), KHO_BIN=str(KHO_BIN))
    airflow = str(venv / "bin" / "airflow")
    mig = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert mig.returncode == 0, mig.stdout[-2000:] + mig.stderr[-2000:]
    run = subprocess.run([airflow, "dags", "test", "kho_vi-text-sample"], env=env,
                         capture_output=True, text=True, timeout=900, cwd=tmp_path)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    finished = [l for l in out.splitlines() if "DagRun Finished: dag_id=kho_vi-text-sample" in l]
    assert finished and "state=success" in finished[-1], out[-4000:]
    latest = store / "datasets" / "vi-text-sample" / "refs" / "latest"
    assert latest.exists(), out[-4000:]
    assert latest.read_text().split()[0] == "v1"


#: A runner option word-splitting would break: spaces, both quotes, $(...), a backslash, backticks.
AWKWARD = ['--runner=FlinkRunner',
           '--environment_config={"command": "/opt/my sdk/boot", "env": {"NOTE": "it\'s $(rm -rf /) \\\\ `id`"}}',
           '--parallelism=8']

RUN_INGEST = """
import importlib.util, json, os
spec = importlib.util.spec_from_file_location("kho_dags", %r)
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
dag = m.build_all()["kho_vi-text-sample"]
dag.get_task("ingest").python_callable()   # the task body: runs $KHO_BIN with the argv
src = m.load_sources(m.registry_path())[0]
args = m.ingest_argv(src, m.registry_path())
errors = {}
for name, text in json.loads(os.environ["BAD_FILES"]).items():
    path = os.path.join(os.environ["BAD_DIR"], name)
    if text is not None:
        open(path, "w").write(text)
    os.environ["KHO_RUNNER_ARGS"] = path
    try:
        m.runner_args()
        errors[name] = None
    except m.RunnerArgsError as exc:
        errors[name] = str(exc)
print("KHO-JSON " + json.dumps({"args": args, "line": m.shell_command(args), "errors": errors}))
"""

RECORDER = """#!{python}
import json, sys
with open({out!r}, "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
"""


def test_runner_args_file_reaches_kho_as_separate_argv_items(tmp_path: Path) -> None:
    """KHO_RUNNER_ARGS names a JSON list; the ingest task hands each string to `kho` as one argv
    item, intact, and its logged shell line (shlex-quoted) gives a shell the same argv."""
    venv = airflow_venv()
    runner_file = tmp_path / "runner.json"
    runner_file.write_text(json.dumps(AWKWARD))
    recorded = tmp_path / "argv.jsonl"
    recorder = tmp_path / "fake-kho"
    recorder.write_text(RECORDER.format(python=sys.executable, out=str(recorded)))
    recorder.chmod(0o755)
    bad = {"missing.json": None, "not-json.json": "--runner=FlinkRunner\n", "object.json": '{"runner": "x"}',
           "bare-word.json": '["--runner=FlinkRunner", "FlinkRunner"]', "number.json": '["--a=1", 2]'}
    env = airflow_env(tmp_path / "home", REGISTRY, KHO_BIN=str(recorder), KHO_STORE=str(tmp_path / "store"),
                      KHO_RUNNER_ARGS=str(runner_file), BAD_FILES=json.dumps(bad), BAD_DIR=str(tmp_path))
    proc = subprocess.run([str(venv / "bin" / "python"), "-c", RUN_INGEST % str(DAGS / "kho_dags.py")],
                          env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(next(l for l in proc.stdout.splitlines() if l.startswith("KHO-JSON "))[9:])
    sample = yaml.safe_load(REGISTRY.read_text())["sources"][0]
    expected = ["ingest", str(REGISTRY.parent / sample["ingest"]), "--store", str(tmp_path / "store"), *AWKWARD]
    assert got["args"] == expected
    runs = [json.loads(l) for l in recorded.read_text().splitlines()]
    assert runs == [expected]  # what the task ran: every runner option one argv item, intact
    assert shlex.split(got["line"]) == [str(recorder), *expected]
    shell = subprocess.run(["bash", "-c", got["line"]], capture_output=True, text=True, timeout=60)
    assert shell.returncode == 0, shell.stderr
    assert [json.loads(l) for l in recorded.read_text().splitlines()][-1] == expected
    errors = got["errors"]
    assert "cannot read it" in errors["missing.json"]
    assert "not JSON" in errors["not-json.json"]
    assert "expected a JSON list of strings" in errors["object.json"]
    assert "expected a JSON list of strings" in errors["number.json"]
    assert "'FlinkRunner' is not an option" in errors["bare-word.json"]

