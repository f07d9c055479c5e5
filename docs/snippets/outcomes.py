"""Snippets of docs/guides/outcomes.md, run by tests/integration/test_docs_outcomes.py."""

from __future__ import annotations

from datetime import datetime

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_thulium.destinations import FileDestination
from airflow_provider_thulium.hooks.thulium import ThuliumHook
from airflow_provider_thulium.operators.thulium import ThuliumExportRecordsOperator
from airflow_provider_thulium.sensors.thulium import ThuliumCampaignSensor

with DAG(
    dag_id="thulium_docs_outcomes",
    schedule=None,
    start_date=datetime(2025, 3, 1),
    catchup=False,
    params={"exports": "/data/exports"},
) as dag:
    # [START whole_campaign_to_a_file]
    snapshot = ThuliumExportRecordsOperator(
        task_id="snapshot_campaign",
        campaign_id="00001",
        # No filters: every record, whatever its last call. A re-run replaces the file.
        destination=FileDestination("{{ params.exports }}/campaign_00001/{{ ds }}.jsonl"),
        hook_params={"max_concurrent_requests": 4},
    )
    # [END whole_campaign_to_a_file]

    # [START deferrable_sensor]
    fresh_leads_called = ThuliumCampaignSensor(
        task_id="wait_for_fresh_leads",
        campaign_id="00001",
        system_statuses=["TO_CALL"],  # only the records never called yet
        max_records=10,
        poke_interval=300,
        timeout=6 * 3600,
        deferrable=True,  # the triggerer polls; no worker slot while waiting
    )
    # [END deferrable_sensor]

    # [START export_from_a_task]
    @task
    def export_callbacks(folder: str) -> int:
        """The hook's export in @task code: the records to call back, to a CSV file; returns the row count."""
        summary = ThuliumHook().export_records(
            "00001",
            FileDestination(f"{folder}/callbacks.csv"),
            columns={"record_id": "record_id", "phone_number": "phone", "next_call_date": "call_back_at"},
            system_statuses=["CALL_NO_SOONER_THAN"],
        )
        return summary["rows"]

    # [END export_from_a_task]

    snapshot >> fresh_leads_called >> export_callbacks("{{ params.exports }}")
