"""An Airflow DAG that runs Kizuna's daily run through its CLI (an example; not part of the
kizuna package and not imported by it).

Copy it into your DAGs folder. The task calls the same ``kizuna daily`` as cron or
``kizuna scheduler`` would, so the run log, the store lock (one run at a time) and resume
behave the same: a retry of a failed task continues from the step that failed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG(
    dag_id="kizuna_daily",
    # 06:00 in the business timezone (set KIZUNA_TIMEZONE to the same zone)
    schedule="0 6 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,  # a backfill is one command: kizuna daily --from D --to D [--step N]
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=10)},
) as dag:
    BashOperator(
        task_id="daily_run",
        # {{ ds }} is the run's logical date; exit code non-zero on a failed step.
        bash_command="kizuna --home /srv/kizuna daily --as-of {{ ds }} --json",
        env={"KIZUNA_DATABASE_URL": "postgresql+psycopg://kizuna@db/kizuna"},
        append_env=True,
    )
