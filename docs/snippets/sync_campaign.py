"""Snippets of the sync guide (docs/guides/sync.md): a sync keeping a state file, and a plan read through the hook.

Run by tests/integration/test_docs_sync.py against the sandbox.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_thulium.hooks.thulium import ThuliumHook
from airflow_provider_thulium.operators.thulium import ThuliumSyncCampaignOperator

STATE_DIR = os.environ.get("THULIUM_STATE_DIR", tempfile.gettempdir())
LEADS = [
    {"phone_number": "48500100202", "status": "New", "record_fields": {"crm_id": "C-202"}},
    {"phone_number": "48500100204", "status": "New", "record_fields": {"crm_id": "C-204"}},
    {"phone_number": "48500100300", "status": "New", "record_fields": {"crm_id": "C-300"}},
]

with DAG("docs_sync_campaign", schedule=None, start_date=datetime(2024, 6, 1), catchup=False) as dag:
    # [START sync_plan_with_hook]
    @task
    def plan_tonight(leads: list[dict[str, Any]]) -> dict[str, int]:
        """The plan's counts, read before deciding to sync; nothing is written."""
        plan = ThuliumHook().plan_sync("00001", leads, update_fields=["record_fields"], remove_missing=True)
        counts = dict(plan.counts())
        print(f"tonight: add {counts['add']}, update {counts['update']}, remove {counts['remove']}")
        return counts

    # [END sync_plan_with_hook]

    # [START sync_state_path]
    sync = ThuliumSyncCampaignOperator(
        task_id="sync_leads",
        campaign_id="00001",
        records=LEADS,
        update_fields=["record_fields"],
        # What was last applied per phone: record_fields are sent again only when they changed.
        # An ObjectStoragePath ("s3://bucket/thulium/00001.state" with a conn_id) works the same.
        state_path=f"{STATE_DIR}/thulium-sync-00001.state",
    )
    # [END sync_state_path]

    plan_tonight(LEADS) >> sync
