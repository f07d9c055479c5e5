"""CRM sync: the campaign made to match the CRM's leads table, the opt-outs in a CSV file excluded.

Shows: ``SqlSource`` reading the leads straight from the CRM's database (the Airflow SQL connection
``crm_db``) with a ``columns`` mapping into ``record_fields`` and statuses given by their names as
shown in Thulium; ``ThuliumSyncCampaignOperator``, which adds the new leads, edits only the field
the CRM owns (``record_fields``) on leads already there, so the statuses agents set are kept, and
removes the records the CRM no longer has, under a guard on how many may go; ``exclude`` with a
``FileSource`` of opt-outs, which are never added or updated and are removed in the same run (not
counted against the guard); ``params`` for the review workflow (a dry run, or one approved run
with more removals, when triggered by hand); ``results_path``, so the leads and the per-phone
results never travel through XCom (``return_value`` is the file's path); and a report that reads
the whole campaign back with ``ThuliumHook.iter_records``. Full numbers go to the files only: the
logs show counts and masked numbers.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections import Counter
from datetime import datetime
from pathlib import Path

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_thulium.hooks.thulium import ThuliumHook
from airflow_provider_thulium.operators.thulium import ThuliumSyncCampaignOperator
from airflow_provider_thulium.sources import FileSource, SqlSource

OPT_OUTS_CSV = Path(__file__).parent / "data" / "crm_opt_outs.csv"
CAMPAIGN_ID = "00002"

# [START crm_sync_leads_source]
# CRM stage → the name of a status of the campaign, as shown in Thulium, in the query itself. Names
# are resolved to the campaign's own status ids before anything is sent; a name the campaign lacks
# fails the task on its first try.
LEADS_SQL = """
SELECT phone_number,
       CASE stage WHEN 'new' THEN 'New lead'
                  WHEN 'interested' THEN 'Interested'
                  WHEN 'callback' THEN 'Call back later'
                  WHEN 'assigned' THEN 'My record'
                  WHEN 'lost' THEN 'Not interested' END AS status,
       crm_id AS identifier,
       crm_id,
       owner,
       next_contact
FROM crm_leads
ORDER BY crm_id
"""

leads = SqlSource(
    conn_id="crm_db",
    sql=LEADS_SQL,
    # Columns named as the API's keys (phone_number, status, identifier) need no mapping; NULLs are no value.
    columns={"crm_id": "record_fields.crm_id", "owner": "agent_login", "next_contact": "next_call_date"},
)
# [END crm_sync_leads_source]

# [START crm_sync_opt_outs]
# The do-not-call list: one phone per row (its date column left out). Opt-outs are never added or
# updated and are removed by the sync itself; those removals do not count against max_removals.
opt_outs = FileSource(str(OPT_OUTS_CSV), columns={"opted_out_at": None})
# [END crm_sync_opt_outs]

# [START howto_sync_review_params]
# Nightly, as scheduled: the sync applies its plan. To review one, trigger the DAG by hand with
# {"dry_run": true} (the plan in XCom and the results file, only reads sent); to approve a plan the
# guard refused, trigger it once with {"max_removals": <the plan's removals>}.
REVIEW_PARAMS = {"dry_run": False, "max_removals": 5}
# [END howto_sync_review_params]

with DAG(
    dag_id="thulium_crm_sync",
    schedule="0 5 * * *",
    start_date=datetime(2024, 6, 1),
    catchup=False,
    params=REVIEW_PARAMS,
    tags=["thulium", "example"],
):

    @task
    def results_file() -> str:
        """Where this run's per-phone results go (a local folder here; an ``s3://`` URL works the same)."""
        folder = Path(os.environ.get("THULIUM_REPORT_DIR", tempfile.gettempdir()))
        return str(folder / "crm_sync_leads.csv")

    # [START howto_sync_campaign]
    sync = ThuliumSyncCampaignOperator(
        task_id="sync_campaign",
        campaign_id=CAMPAIGN_ID,
        records=leads,
        # What the CRM owns on leads already in the campaign; status, agent and next call date are
        # used only when a lead is added, so what agents set in Thulium is kept.
        update_fields=["record_fields"],
        remove_missing=True,  # records the CRM no longer has are removed...
        max_removals="{{ params.max_removals }}",  # ...but a plan removing more than 5 fails before any write
        exclude=opt_outs,  # opt-outs: never added or updated, removed whatever the CRM says
        dry_run="{{ params.dry_run }}",  # false unless triggered for a review
        results_path=results_file(),  # CSV: phone_number, outcome, succeeded, http_status, record_id, message
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

    sync >> report_campaign()
