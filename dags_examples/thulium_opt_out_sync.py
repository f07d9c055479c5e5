"""Opt-out sync: every day, remove the numbers that asked not to be called from an outbound campaign.

Shows: reading the day's do-not-call list (a CSV shipped beside this file), the delete operator
taking its phone numbers from an upstream task (``XComArg``), records in a call tried again after
a delay, and a downstream report of the per-phone outcomes that runs even when the delete fails:
a readable table in the log (numbers masked) and a CSV file with the full results.
"""

from __future__ import annotations

import csv
import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_thulium.operators.thulium import ThuliumDeleteRecordsOperator
from airflow_provider_thulium.privacy import mask_phone

DO_NOT_CALL_CSV = Path(__file__).parent / "data" / "do_not_call.csv"
CAMPAIGN_ID = "00001"

with DAG(
    dag_id="thulium_opt_out_sync",
    schedule="@daily",
    start_date=datetime(2024, 6, 1),
    catchup=False,
    tags=["thulium", "example"],
):
    # Not shown in the log: Airflow would print the phone numbers in "Done. Returned value was: ...".
    @task(show_return_value_in_logs=False)
    def read_opt_outs() -> list[str]:
        """The day's opt-outs; in production this reads the CRM or a file drop."""
        with DO_NOT_CALL_CSV.open(newline="") as file:
            return [row["phone_number"].replace(" ", "") for row in csv.DictReader(file)]

    delete = ThuliumDeleteRecordsOperator(
        task_id="remove_opt_outs",
        campaign_id=CAMPAIGN_ID,
        phone_numbers=read_opt_outs(),
        search_in_additional_numbers=True,
        call_in_progress_retries=1,
        call_in_progress_retry_delay=timedelta(seconds=2),
    )

    @task(trigger_rule="all_done")
    def report_outcomes(ti: Any = None) -> str:
        """Log a table of outcomes (numbers masked) and write the full results to a CSV file."""
        # Pulled here rather than taken as arguments: Airflow keeps a task's arguments among its
        # rendered fields (the UI's "Rendered Template"), and the results hold full phone numbers.
        results: dict[str, list[dict[str, Any]]] = ti.xcom_pull(task_ids="remove_opt_outs")
        summary: dict[str, Any] = ti.xcom_pull(task_ids="remove_opt_outs", key="summary")
        lines = [f"{'phone':<8} {'outcome':<18} records", "-" * 36]
        for phone, entries in results.items():
            statuses = ", ".join(str(entry.get("status")) for entry in entries)
            lines.append(f"{mask_phone(phone):<8} {statuses:<18} {len(entries)}")
        print("Opt-out sync, campaign " + CAMPAIGN_ID + "\n" + "\n".join(lines))
        print(f"Outcomes: {summary['outcomes']}; requests {summary['requests']}, retries {summary['retries']}")

        report_dir = Path(os.environ.get("THULIUM_REPORT_DIR", tempfile.gettempdir()))
        report_dir.mkdir(parents=True, exist_ok=True)
        report = report_dir / "thulium_opt_out_report.csv"
        with report.open("w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["phone_number", "status", "http_status", "record_id"])
            for phone, entries in results.items():
                for entry in entries:
                    writer.writerow([phone, entry.get("status"), entry.get("http_status"), entry.get("record_id")])
        return str(report)

    delete >> report_outcomes()
