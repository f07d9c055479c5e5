"""The hook's guide: reading a campaign back (run by tests/integration/test_docs.py)."""

# [START hook_read_back]
from collections import Counter

from airflow.providers.common.compat.sdk import task

from airflow_provider_thulium.hooks.thulium import ThuliumHook


@task
def report(campaign_id: str) -> dict:
    hook = ThuliumHook()
    not_interested = hook.count_records(campaign_id, system_statuses=["NO_CALL"])
    records = hook.iter_records(campaign_id, created_from="2025-03-05")  # 100 a page, as you read
    per_agent = Counter(record["agent_login"] or "unassigned" for record in records)
    return {"not_interested": not_interested, "per_agent": dict(per_agent)}


# [END hook_read_back]
