"""Snippets of docs/guides/sources-and-results.md, run by tests/integration/test_docs_sources.py."""

from __future__ import annotations

from datetime import datetime

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_thulium.hooks.thulium import ThuliumHook
from airflow_provider_thulium.operators.thulium import ThuliumDeleteRecordsOperator, ThuliumUpdateRecordsOperator
from airflow_provider_thulium.sources import FileSource

with DAG(
    dag_id="thulium_docs_sources",
    schedule=None,
    start_date=datetime(2024, 6, 1),
    catchup=False,
    params={"exports": "/data/exports", "results": "/data/results"},
) as dag:
    # [START delete_from_csv]
    remove_opt_outs = ThuliumDeleteRecordsOperator(
        task_id="remove_opt_outs",
        campaign_id="00001",
        # One column, or the one named (or mapped to) phone_number; the others are ignored.
        phone_numbers=FileSource("{{ params.exports }}/do_not_call.csv"),
        results_path="{{ params.results }}/opt_outs_{{ run_id | replace(':', '_') }}.jsonl",
    )
    # [END delete_from_csv]

    # [START update_from_json_lines]
    update_owners = ThuliumUpdateRecordsOperator(
        task_id="update_owners",
        campaign_id="00001",
        records=FileSource(
            "{{ params.exports }}/owners.jsonl",
            columns={"msisdn": "phone_number", "owner": "agent_login", "comment": None},
        ),
        results_path="{{ params.results }}/owners.csv",
    )
    # [END update_from_json_lines]

    # [START hook_with_source]
    @task
    def add_from_file(path: str) -> dict[str, int]:
        """A hook call takes a source where it takes a list; its results come back as a dict, as for a list."""
        results = ThuliumHook().add_records("00001", FileSource(path, columns={"stage": "status"}))
        return {"added": sum(entry["status"] == "ADDED" for entry in results.values())}

    # [END hook_with_source]

    remove_opt_outs >> update_owners >> add_from_file("{{ params.exports }}/new_leads.csv")
