"""CRM sync: make the campaign match the CRM in one task, after a dry run shows the plan; then read it back.

Shows: one CRM export (a CSV shipped beside this file) turned into the desired records; a dry run of
``ThuliumSyncCampaignOperator`` (the plan in XCom, only reads sent); the sync itself, which adds the
new leads, edits only the field the CRM owns (``record_fields``) on leads already there, so the
statuses agents set are kept, and removes the records the CRM no longer has (opt-outs included),
under a guard on how many may go; and a report that reads the whole campaign back with
``ThuliumHook.iter_records`` into a CSV file. Full numbers go to XCom and the CSV only: the tasks'
logs show counts and masked numbers.
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
from airflow_provider_thulium.operators.thulium import ThuliumSyncCampaignOperator

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

    @task(show_return_value_in_logs=False)
    def read_crm_export() -> list[dict[str, Any]]:
        """The leads the campaign should hold: every CRM row but the opt-outs."""
        leads: list[dict[str, Any]] = []
        with CRM_LEADS_CSV.open(newline="") as file:
            for row in csv.DictReader(file):
                if row["opted_out"] == "yes":
                    continue  # not desired: the sync removes it from the campaign
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
        print(f"CRM export: {len(leads)} lead(s)")
        return leads

    leads = read_crm_export()

    # [START howto_sync_dry_run]
    preview = ThuliumSyncCampaignOperator(
        task_id="preview_sync",
        campaign_id=CAMPAIGN_ID,
        records=leads,
        remove_missing=True,
        max_removals=5,
        dry_run=True,  # the plan in XCom ("summary" → "plan"); only reads are sent
    )
    # [END howto_sync_dry_run]

    # [START howto_sync_campaign]
    sync = ThuliumSyncCampaignOperator(
        task_id="sync_campaign",
        campaign_id=CAMPAIGN_ID,
        records=leads,
        # What the CRM owns on leads already in the campaign; status, agent and next call date are
        # used only when a lead is added, so what agents set in Thulium is kept.
        update_fields=["record_fields"],
        remove_missing=True,  # records the CRM no longer has (opt-outs included) are removed...
        max_removals=5,  # ...but a plan removing more than 5 fails before any write
    )
    # [END howto_sync_campaign]

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

    preview >> sync >> report_campaign()
