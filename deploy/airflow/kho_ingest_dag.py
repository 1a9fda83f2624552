"""Airflow DAG: ingest every configured source of one dataset, then verify the new version.

Deploy one copy per dataset (set DATASET and CONFIG). Airflow only schedules; all record work
runs in Beam on the cluster runner named by the args file.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator

DATASET = "vi-text"
CONFIG = "/opt/kho/configs/vi-text.yaml"
RUNNER_ARGS = "/opt/kho/deploy/runners/flink.args"
KHO = "/opt/kho/.venv/bin/kho"

with DAG(
    dag_id=f"kho_ingest_{DATASET}",
    start_date=datetime(2026, 11, 1),
    schedule="@daily",
    catchup=False,
    max_active_runs=1,  # versions of one dataset are committed one at a time
    default_args={"retries": 2, "retry_delay": timedelta(minutes=10)},
) as dag:
    ingest = BashOperator(task_id="ingest", bash_command=f"{KHO} ingest {CONFIG} $(cat {RUNNER_ARGS})")
    verify = BashOperator(task_id="verify", bash_command=f"{KHO} verify {DATASET}")
    gc = BashOperator(task_id="gc", bash_command=f"{KHO} gc --dataset {DATASET} --delete")
    ingest >> verify >> gc
