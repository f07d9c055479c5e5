"""System-test DAG: a deferrable delete of a record in a call waits in the real triggerer, then resumes.

The system test frees the record when the retry arrives (a sandbox fault with an action), so the
delete succeeds on its second request, sent from the worker after the trigger fired.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_thulium.operators.thulium import ThuliumDeleteRecordsOperator

with DAG(
    dag_id="thulium_system_deferrable_delete",
    schedule=None,
    start_date=datetime(2024, 6, 1),
    catchup=False,
    tags=["thulium", "system-test"],
):
    ThuliumDeleteRecordsOperator(
        task_id="delete_in_call",
        campaign_id="00001",
        phone_numbers=["48500100203", "48500100204"],  # 203 is in a call in the sandbox's demo data
        deferrable=True,
        call_in_progress_retries=1,
        # Longer than the scheduler takes to see the deferring try's exit on a loaded machine: Airflow
        # fails a resumed task whose earlier exit it processes only after the resume was queued.
        call_in_progress_retry_delay=timedelta(seconds=10),
    )
