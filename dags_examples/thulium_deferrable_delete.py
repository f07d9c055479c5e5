"""Deferrable delete: opted-out numbers removed even when an agent is on a call with one of them.

Shows: a record in a call cannot be removed; ``call_in_progress_retries`` tries it again after
``call_in_progress_retry_delay``, and ``deferrable=True`` spends that wait in the triggerer instead of
a worker slot (the requests are always sent from the worker when the task resumes). A phone still in
a call after the last try is reported as ``CALL_IN_PROGRESS``; with ``fail_on_failed_phones=False``
the task succeeds and the next scheduled run removes it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_thulium.operators.thulium import ThuliumDeleteRecordsOperator

with DAG(
    dag_id="thulium_deferrable_delete",
    schedule=None,
    start_date=datetime(2024, 6, 1),
    catchup=False,
    tags=["thulium", "example"],
):
    ThuliumDeleteRecordsOperator(
        task_id="delete_in_call",
        campaign_id="00001",
        phone_numbers=["48500100203", "48500100204"],  # 203 is in a call in the sandbox's demo data
        deferrable=True,
        call_in_progress_retries=1,
        # Waits of a minute or more are what deferral is for; a short one keeps the example quick. Not
        # shorter: Airflow fails a resumed task whose earlier exit a busy scheduler processes late.
        call_in_progress_retry_delay=timedelta(seconds=10),
        fail_on_failed_phones=False,
    )
