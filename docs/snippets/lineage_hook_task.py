"""Hook lineage: a ``@task`` that reads one campaign and writes another reports both (docs/guides/lineage.md)."""

from __future__ import annotations

from datetime import datetime

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_thulium.hooks.thulium import ThuliumHook

with DAG(
    dag_id="thulium_do_not_call_across_campaigns",
    schedule=None,
    start_date=datetime(2024, 6, 1),
    catchup=False,
) as dag:
    # [START hook_lineage]
    @task(show_return_value_in_logs=False)
    def remove_refusals() -> int:
        """Numbers that refused calls in campaign 00001 (a NO_CALL status) leave campaign 00002 too."""
        hook = ThuliumHook()
        refusals = [record["phone_number"] for record in hook.iter_records("00001", system_statuses=["NO_CALL"])]
        results = hook.delete_records("00002", refusals)  # outbounds/00001 is the input, outbounds/00002 the output
        return len(results)

    # [END hook_lineage]
    remove_refusals()
