"""CRM sync: the campaign made to match the CRM's leads table, the opt-outs in a CSV file excluded.

Shows: ``SqlSource`` reading the leads straight from the CRM's database (the Airflow SQL connection
``crm_db``) with a ``columns`` mapping into ``record_fields`` and statuses given by their names as
shown in Thulium; ``ThuliumSyncCampaignOperator``, which adds the new leads, edits only the field
the CRM owns (``record_fields``) on leads already there, so the statuses agents set are kept, and
removes the records the CRM no longer has, under a guard on how many may go; ``exclude`` with a
``FileSource`` of opt-outs, which are never added or updated and are removed in the same run (not
counted against the guard); ``params`` for the review workflow (a dry run, or one approved run
with more removals, when triggered by hand); ``results_path``, so the leads and the per-phone
results never travel through XCom (``return_value`` is the file's path); and a report that writes
the whole campaign, as the sync left it, to a CSV file with ``ThuliumExportRecordsOperator``. Full
numbers go to the files only: the logs show counts and masked numbers.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_thulium.destinations import FileDestination
from airflow_provider_thulium.operators.thulium import ThuliumExportRecordsOperator, ThuliumSyncCampaignOperator
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

    @task(multiple_outputs=True)
    def results_files() -> dict[str, str]:
        """Where this run's per-phone results and report go (a local folder here; an ``s3://`` URL works the same)."""
        folder = Path(os.environ.get("THULIUM_REPORT_DIR", tempfile.gettempdir()))
        return {
            "sync": str(folder / "crm_sync_leads.csv"),
            "report": str(folder / f"thulium_campaign_{CAMPAIGN_ID}.csv"),
        }

    files = results_files()

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
        results_path=files["sync"],  # CSV: phone_number, outcome, succeeded, http_status, record_id, message
    )
    # [END howto_sync_campaign]

    # The campaign as the sync left it, every record, to a CSV file (whether the sync succeeded or not).
    report_campaign = ThuliumExportRecordsOperator(
        task_id="report_campaign",
        campaign_id=CAMPAIGN_ID,
        columns=["record_id", "phone_number", "status_id", "status", "system_status", "agent_login", "next_call_date"],
        destination=FileDestination(files["report"]),
        trigger_rule="all_done",
    )

    sync >> report_campaign
