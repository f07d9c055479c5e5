"""Scale-out: spread record clean-ups across Airflow workers with dynamic task mapping.

Shows: one delete task per campaign (``.partial(...).expand(campaign_id=...)``), a large list
split into chunks that each become a mapped task (``.expand(phone_numbers=...)``), so a Celery or
Kubernetes executor runs them on several workers at once, and a final task adding up the mapped
tasks' summaries.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from airflow.providers.common.compat.sdk import DAG, XComArg, task

from airflow_provider_thulium.operators.thulium import ThuliumDeleteRecordsOperator

CAMPAIGNS = ["00001", "00002"]
CHUNK_SIZE = 4  # small for the example; tens of thousands per chunk in production

with DAG(
    dag_id="thulium_scale_out",
    schedule=None,
    start_date=datetime(2024, 6, 1),
    catchup=False,
    tags=["thulium", "example"],
):
    # The same number may be in every campaign: remove it from each, one mapped task per campaign.
    per_campaign = ThuliumDeleteRecordsOperator.partial(
        task_id="remove_everywhere", phone_numbers=["48500100200"]
    ).expand(campaign_id=CAMPAIGNS)

    # Not shown in the log: Airflow would print the phone numbers in "Done. Returned value was: ...".
    @task(show_return_value_in_logs=False)
    def chunks() -> list[list[str]]:
        """A large clean-up list split into chunks (here generated; usually read from storage)."""
        phones = [f"4850010020{n}" for n in range(6, 10)] + ["48500100210", "48700000001", "48700000002"]
        return [phones[i : i + CHUNK_SIZE] for i in range(0, len(phones), CHUNK_SIZE)]

    per_chunk = ThuliumDeleteRecordsOperator.partial(
        task_id="remove_chunk", campaign_id="00001", hook_params={"max_concurrent_requests": 2}
    ).expand(phone_numbers=chunks())

    @task
    def total(
        campaign_summaries: Sequence[dict[str, Any]], chunk_summaries: Sequence[dict[str, Any]]
    ) -> dict[str, int]:
        """Add up the outcomes of every mapped task of both kinds."""
        totals: dict[str, int] = {}
        for summaries in (campaign_summaries, chunk_summaries):
            # Read whole with [:] (one query): iterating asks for the item after the last, which
            # Airflow 3 logs as an "XCom not found" error.
            for summary in summaries[:]:
                for outcome, count in summary["outcomes"].items():
                    totals[outcome] = totals.get(outcome, 0) + count
        print(f"All chunks and campaigns: {totals}")
        return totals

    total(XComArg(per_campaign, key="summary"), XComArg(per_chunk, key="summary"))
    per_campaign >> per_chunk
