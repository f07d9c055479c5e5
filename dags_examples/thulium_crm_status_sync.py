"""CRM status sync: apply the CRM's view of each lead to the outbound campaign, then branch on failures.

Shows: an upstream task turning a CRM export (a CSV shipped beside this file) into records —
status, assigned agent, next call date, campaign fields —, the update operator applying them with
``fail_on_failed_phones=False`` so the task stays green, and a branch that sends the failures to
a follow-up task instead of failing the whole run.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_thulium.operators.thulium import ThuliumUpdateRecordsOperator

CRM_EXPORT_CSV = Path(__file__).parent / "data" / "crm_export.csv"
CAMPAIGN_ID = "00001"

# CRM stage → the campaign's status id (from GET outbounds/:id/statuses on the account).
STATUS_BY_CRM_STAGE = {
    "won": 3,  # NO_CALL: a customer now, stop calling
    "lost": 3,  # NO_CALL
    "callback": 5,  # CALL_NO_SOONER_THAN: needs next_call_date
    "assigned": 4,  # MY_RECORD: needs agent_login and next_call_date
}

with DAG(
    dag_id="thulium_crm_status_sync",
    schedule="0 6 * * *",
    start_date=datetime(2024, 6, 1),
    catchup=False,
    tags=["thulium", "example"],
):
    # Not shown in the log: Airflow would print the phone numbers in "Done. Returned value was: ...".
    @task(show_return_value_in_logs=False)
    def build_records() -> list[dict[str, Any]]:
        """Turn the CRM export into Thulium records; empty CSV cells are left out of the record."""
        records = []
        with CRM_EXPORT_CSV.open(newline="") as file:
            for row in csv.DictReader(file):
                record: dict[str, Any] = {
                    "phone_number": row["phone_number"],
                    "status_id": STATUS_BY_CRM_STAGE[row["crm_stage"]],
                    "record_fields": {"crm_id": row["crm_id"], "segment": row["segment"]},
                }
                if row["owner"]:
                    record["agent_login"] = row["owner"]
                if row["next_contact"]:
                    record["next_call_date"] = row["next_contact"]
                records.append(record)
        return records

    update = ThuliumUpdateRecordsOperator(
        task_id="apply_crm_statuses",
        campaign_id=CAMPAIGN_ID,
        records=build_records(),
        fail_on_failed_phones=False,
    )

    # The XComs are pulled inside the tasks rather than taken as arguments: Airflow keeps a task's
    # arguments among its rendered fields (the UI's "Rendered Template"), and the results and the
    # summary's failed_phones hold full phone numbers.

    @task.branch
    def any_failures(ti: Any = None) -> str:
        summary = ti.xcom_pull(task_ids="apply_crm_statuses", key="summary")
        return "follow_up_failures" if summary["failed"] else "all_synced"

    @task(show_return_value_in_logs=False)
    def follow_up_failures(ti: Any = None) -> list[dict[str, Any]]:
        """Hand the rejected records to a person: here, a list with Thulium's reasons."""
        results = ti.xcom_pull(task_ids="apply_crm_statuses")
        summary = ti.xcom_pull(task_ids="apply_crm_statuses", key="summary")
        rejected = [{"phone_number": phone, **results[phone]} for phone in summary["failed_phones"]]
        print(f"{len(rejected)} record(s) need attention: " + "; ".join(str(r.get("message")) for r in rejected))
        return rejected

    @task
    def all_synced() -> None:
        print("Every CRM record is in step with the campaign.")

    update >> any_failures() >> [follow_up_failures(), all_synced()]
