"""CRM sync: new leads into the campaign, changed ones edited, opt-outs removed, the campaign read back.

Shows: one CRM export (a CSV shipped beside this file) split into leads and opt-outs by a task with
two outputs; ``ThuliumAddRecordsOperator`` with ``on_existing="update"`` (an upsert: a lead already
in the campaign is edited instead) and statuses given by their names as shown in Thulium, resolved
per campaign; ``ThuliumDeleteRecordsOperator`` for the opt-outs; and a report that reads the whole
campaign back with ``ThuliumHook.iter_records`` into a CSV file. Full numbers go to XCom and the CSV
only: the tasks' logs show counts and masked numbers.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_thulium.hooks.thulium import ThuliumHook
from airflow_provider_thulium.operators.thulium import ThuliumAddRecordsOperator, ThuliumDeleteRecordsOperator

CRM_LEADS_CSV = Path(__file__).parent / "data" / "crm_leads.csv"
CAMPAIGN_ID = "00002"

# CRM stage → the name of a status of the campaign, as shown in Thulium. Names are resolved to
# the campaign's own status ids before anything is sent; a name the campaign lacks fails the task.
STATUS_BY_CRM_STAGE = {
    "new": "New lead",
    "interested": "Interested",
    "callback": "Call back later",  # CALL_NO_SOONER_THAN: needs next_call_date
    "assigned": "My record",  # MY_RECORD: needs agent_login and next_call_date
    "lost": "Not interested",
}

with DAG(
    dag_id="thulium_crm_sync",
    schedule="0 5 * * *",
    start_date=datetime(2024, 6, 1),
    catchup=False,
    tags=["thulium", "example"],
):

    @task(multiple_outputs=True, show_return_value_in_logs=False)
    def read_crm_export() -> dict[str, list[Any]]:
        """Split the CRM export into leads to add or edit and numbers that opted out."""
        leads: list[dict[str, Any]] = []
        opt_outs: list[str] = []
        with CRM_LEADS_CSV.open(newline="") as file:
            for row in csv.DictReader(file):
                if row["opted_out"] == "yes":
                    opt_outs.append(row["phone_number"])
                    continue
                lead: dict[str, Any] = {
                    "phone_number": row["phone_number"],
                    "status": STATUS_BY_CRM_STAGE[row["stage"]],
                    "identifier": row["crm_id"],
                    "record_fields": {"crm_id": row["crm_id"]},
                }
                if row["owner"]:
                    lead["agent_login"] = row["owner"]
                if row["next_contact"]:
                    lead["next_call_date"] = row["next_contact"]
                leads.append(lead)
        print(f"CRM export: {len(leads)} lead(s), {len(opt_outs)} opt-out(s)")
        return {"leads": leads, "opt_outs": opt_outs}

    export = read_crm_export()

    add_leads = ThuliumAddRecordsOperator(
        task_id="add_leads",
        campaign_id=CAMPAIGN_ID,
        records=export["leads"],
        on_existing="update",
    )

    remove_opt_outs = ThuliumDeleteRecordsOperator(
        task_id="remove_opt_outs",
        campaign_id=CAMPAIGN_ID,
        phone_numbers=export["opt_outs"],
    )

    @task(trigger_rule="all_done")
    def report_campaign() -> str:
        """Read the campaign back, page by page, into a CSV file; log the count per status."""
        report_dir = Path(os.environ.get("THULIUM_REPORT_DIR", tempfile.gettempdir()))
        report_dir.mkdir(parents=True, exist_ok=True)
        report = report_dir / f"thulium_campaign_{CAMPAIGN_ID}.csv"
        columns = ["record_id", "phone_number", "status_id", "status", "system_status", "agent_login", "next_call_date"]
        by_status: Counter[str] = Counter()
        with report.open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            for record in ThuliumHook().iter_records(CAMPAIGN_ID):
                writer.writerow(record)
                by_status[str(record.get("status"))] += 1
        print(f"Campaign {CAMPAIGN_ID}: {sum(by_status.values())} record(s) by status: {dict(by_status)}")
        return str(report)

    [add_leads, remove_opt_outs] >> report_campaign()
