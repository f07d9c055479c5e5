"""A DAG scheduled when a campaign has been called through (Airflow 3: an asset watcher).

Shows: an ``Asset`` with an ``AssetWatcher`` whose trigger is ``ThuliumCampaignTrigger(watch=True)``:
the triggerer counts the campaign's records still to be called every 30 seconds, without a worker
slot, and records an asset event each time the campaign becomes called through (none left); the DAG
is scheduled on that asset and exports the campaign's final outcomes to a CSV file. The event's
payload holds the campaign id and counts, never a phone number.

Airflow 2.11 has no asset watchers: there this file defines no DAG (use ``ThuliumCampaignSensor``,
as ``thulium_call_outcomes`` does).
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime

from airflow_provider_thulium.version_compat import AIRFLOW_V_3_0_PLUS

if AIRFLOW_V_3_0_PLUS:
    from airflow.sdk import DAG, Asset, AssetWatcher

    from airflow_provider_thulium.destinations import FileDestination
    from airflow_provider_thulium.operators.thulium import ThuliumExportRecordsOperator
    from airflow_provider_thulium.triggers.thulium import ThuliumCampaignTrigger

    # [START howto_asset_watcher]
    CAMPAIGN_CALLED_THROUGH = Asset(
        name="thulium_campaign_00002_called_through",
        watchers=[
            AssetWatcher(
                name="thulium_campaign_00002_called_through",
                # Fires each time campaign 00002 goes from records left to call to none.
                trigger=ThuliumCampaignTrigger(campaign_id="00002", max_records=0, poll_interval=30, watch=True),
            )
        ],
    )

    with DAG(
        dag_id="thulium_campaign_called_through",
        schedule=[CAMPAIGN_CALLED_THROUGH],
        start_date=datetime(2025, 3, 1),
        catchup=False,
        tags=["thulium", "example", "assets"],
        params={"report_dir": os.environ.get("THULIUM_REPORT_DIR", tempfile.gettempdir())},
    ):
        ThuliumExportRecordsOperator(
            task_id="export_final_outcomes",
            campaign_id="00002",
            columns=["record_id", "phone_number", "status", "call_date", "last_note"],
            destination=FileDestination("{{ params.report_dir }}/campaign_00002_final_outcomes.csv"),
        )
    # [END howto_asset_watcher]
