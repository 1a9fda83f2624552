"""Airflow DAGs generated from Kho's sources registry: one DAG per source.

Each DAG runs ``crawl`` (only for kind ``crawl``) → ``ingest`` → ``verify`` → ``gc`` by calling
the ``kho`` CLI of Kho's own virtualenv as a subprocess with an argv list (never a shell
string). Airflow runs in its own virtualenv without Kho installed, so the registry is read
here with plain ``yaml.safe_load`` and validated just enough to build the DAGs.

Environment (on the scheduler and the workers):

- ``KHO_SOURCES``: path to the registry (sources.yaml). Config paths in it are relative to it.
- ``KHO_BIN``: the ``kho`` executable (default: ``kho`` on PATH).
- ``KHO_STORE``: the object store passed as ``--store`` (default: Kho's own default).
- ``KHO_RUNNER_ARGS``: a JSON file holding a list of Beam options for ``kho ingest`` (e.g.
  deploy/runners/flink.json); each string is one argv item, passed as it is (default: none,
  Beam's local FnApiRunner).
- ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``: passed through; or, when the Airflow
  connection ``kho_s3`` exists, its login/password (and extra ``endpoint``) are used.

See docs/airflow.md.
"""

from __future__ import annotations

import logging
import os
import json
import re
import shlex
import shutil
import subprocess
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from airflow.sdk import DAG, task

log = logging.getLogger(__name__)

KINDS = ("crawl", "files", "list")
CONN_ID = "kho_s3"
TAIL_LINES = 40


def kho_bin() -> str:
    """The kho executable: $KHO_BIN, else ``kho`` found on PATH."""
    return os.environ.get("KHO_BIN") or shutil.which("kho") or "kho"


def registry_path() -> Path | None:
    """The registry named by $KHO_SOURCES, or None when unset."""
    value = os.environ.get("KHO_SOURCES")
    return Path(value).expanduser().resolve() if value else None


def load_sources(path: Path) -> list[dict[str, Any]]:
    """Read the registry and check each source has name, kind, dataset, schedule and configs."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    sources = data.get("sources") if isinstance(data, dict) else None
    if not isinstance(sources, list):
        raise ValueError(f"{path}: expected a top-level 'sources:' list")
    checked: list[dict[str, Any]] = []
    for i, src in enumerate(sources):
        where = f"{path}: sources[{i}]"
        if not isinstance(src, dict):
            raise ValueError(f"{where}: expected a mapping")
        for key in ("name", "kind", "dataset", "schedule", "ingest"):
            if not isinstance(src.get(key), str) or not src[key].strip():
                raise ValueError(f"{where}: '{key}' must be a non-empty string")
        if src["kind"] not in KINDS:
            raise ValueError(f"{where}: kind {src['kind']!r} is not one of {', '.join(KINDS)}")
        if src["kind"] == "crawl" and not isinstance(src.get("crawl"), str):
            raise ValueError(f"{where}: a crawl source needs a 'crawl' config path")
        if len(src["schedule"].split()) != 5 and not src["schedule"].startswith("@"):
            raise ValueError(f"{where}: schedule {src['schedule']!r} is not a 5-field cron")
        checked.append(src)
    return checked


def dag_id_for(name: str) -> str:
    """``kho_<name>`` with anything outside [A-Za-z0-9_.-] replaced by '_'."""
    return "kho_" + re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def resolve(registry: Path, rel: str) -> str:
    """A config path of the registry, relative to the registry's folder."""
    p = Path(rel).expanduser()
    return str(p if p.is_absolute() else (registry.parent / p))


def store_args() -> list[str]:
    """``["--store", $KHO_STORE]`` when set, else nothing (kho uses its default)."""
    store = os.environ.get("KHO_STORE")
    return ["--store", store] if store else []


class RunnerArgsError(ValueError):
    """The runner-args file named by $KHO_RUNNER_ARGS is missing or not a JSON list of options."""


def runner_args() -> list[str]:
    """The Beam options in the JSON list file $KHO_RUNNER_ARGS, each one argv item; [] when unset.

    A JSON list, not a file of words for ``$(cat FILE)``: an option such as
    ``--environment_config={"command": "..."}`` holds spaces and quotes that word-splitting
    would break into pieces."""
    value = os.environ.get("KHO_RUNNER_ARGS")
    if not value:
        return []
    path = Path(value).expanduser()
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RunnerArgsError(f"KHO_RUNNER_ARGS={value}: cannot read it ({exc}); point it at a "
                              "JSON list file such as deploy/runners/flink.json, or unset it") from None
    except json.JSONDecodeError as exc:
        raise RunnerArgsError(f"KHO_RUNNER_ARGS={value}: not JSON ({exc}); write a JSON list of "
                              'strings, e.g. ["--runner=FlinkRunner", "--parallelism=8"]') from None
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise RunnerArgsError(f"KHO_RUNNER_ARGS={value}: expected a JSON list of strings, one Beam "
                              'option each, e.g. ["--runner=FlinkRunner", "--parallelism=8"]')
    bad = [i for i in items if not i.startswith("--")]
    if bad:
        raise RunnerArgsError(f"KHO_RUNNER_ARGS={value}: {bad[0]!r} is not an option; write each "
                              "option with its value as one string, --name=value")
    return items


def ingest_argv(src: dict[str, Any], registry: Path) -> list[str]:
    """The ``kho`` arguments of a source's ingest task: config, store, runner options."""
    return ["ingest", resolve(registry, src["ingest"]), *store_args(), *runner_args()]


def credentials_env() -> dict[str, str]:
    """The subprocess environment: this one plus S3 credentials from connection kho_s3 if any."""
    env = dict(os.environ)
    try:
        from airflow.sdk.bases.hook import BaseHook  # Airflow 3 location

        conn = BaseHook.get_connection(CONN_ID)
    except Exception:  # no such connection, or no metadata access: the environment's own
        log.debug("no Airflow connection %s; using the environment's credentials", CONN_ID)
        return env
    if conn.login:
        env["AWS_ACCESS_KEY_ID"] = conn.login
    if conn.password:
        env["AWS_SECRET_ACCESS_KEY"] = conn.password
    endpoint = (conn.extra_dejson or {}).get("endpoint") or (conn.extra_dejson or {}).get("endpoint_url")
    if endpoint:
        # Kho reads KHO_S3_ENDPOINT first, then AWS_ENDPOINT_URL: the connection sets both.
        env["KHO_S3_ENDPOINT"] = env["AWS_ENDPOINT_URL"] = str(endpoint)
    log.info("using S3 credentials from Airflow connection %s", CONN_ID)
    return env


def shell_command(args: list[str]) -> str:
    """``kho ARGS`` as one shell line, each item quoted (``shlex.join``): what a task logs, and
    what a BashOperator or a script would run to hand ``kho`` exactly the same argv."""
    return shlex.join([kho_bin(), *args])


def run_kho(args: list[str]) -> None:
    """Run ``kho ARGS``, log its output line by line, raise with its last lines on failure."""
    argv = [kho_bin(), *args]
    # Run as a list (no shell); logged shell-quoted, so the line can be pasted into a shell.
    log.info("running %s", shell_command(args))
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=credentials_env()
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            tail.append(line)
            log.info("%s", line)
        rc = proc.wait()
    if rc != 0:
        raise RuntimeError(f"{shlex.join(argv)} exited with {rc}; last lines:\n" + "\n".join(tail))


def build_dag(src: dict[str, Any], registry: Path) -> DAG:
    """One DAG for one source: [crawl →] ingest → verify → gc."""
    name, dataset = src["name"], src["dataset"]
    with DAG(
        dag_id=dag_id_for(name),
        schedule=src["schedule"],
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,  # versions of one dataset are committed one at a time
        tags=["kho", dataset],
        doc_md=f"Kho source `{name}` ({src['kind']}) → dataset `{dataset}`; owner {src.get('owner', '?')}.",
    ) as dag:

        @task(task_id="ingest")
        def ingest() -> None:
            run_kho(ingest_argv(src, registry))

        @task(task_id="verify")
        def verify() -> None:
            run_kho(["verify", dataset, *store_args()])

        @task(task_id="gc")
        def gc() -> None:
            # A dry run: it reports what crashed runs left; deleting stays an operator's call.
            run_kho(["gc", "--dataset", dataset, *store_args()])

        first = ingest()
        first >> verify() >> gc()
        if src["kind"] == "crawl":

            @task(task_id="crawl")
            def crawl() -> None:
                run_kho(["crawl", resolve(registry, src["crawl"]), *store_args()])

            crawl() >> first
    return dag


def build_all() -> dict[str, DAG]:
    """Every source's DAG, keyed by dag_id; none (with a warning) when KHO_SOURCES is unset."""
    registry = registry_path()
    if registry is None:
        log.warning("KHO_SOURCES is not set; no Kho DAGs generated")
        return {}
    dags: dict[str, DAG] = {}
    for src in load_sources(registry):
        dag = build_dag(src, registry)
        if dag.dag_id in dags:
            raise ValueError(f"{registry}: two sources map to dag_id {dag.dag_id}")
        dags[dag.dag_id] = dag
    return dags


globals().update(build_all())
