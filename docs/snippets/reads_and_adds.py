"""The reliability guide for reads and adds (run by tests/integration/test_docs_reads_and_adds.py)."""

from airflow.providers.common.compat.sdk import task

from airflow_provider_thulium.hooks.thulium import ThuliumHook


# [START lost_answer_mark]
@task
def maybe_own_adds(results: dict) -> list[str]:
    """Phones whose ALREADY_EXISTS may be this run's own add: an earlier answer was lost."""
    return [phone for phone, entry in results.items() if entry.get("after_lost_answer")]


# [END lost_answer_mark]


# [START paged_read]
@task(retries=2)
def count_to_call(campaign_id: str) -> int:
    hook = ThuliumHook()
    # One status id or a list; a server that pages oddly ends the read with a
    # ThuliumResponseError, which fails this try and leaves the task to its retries.
    return sum(1 for _ in hook.iter_records(campaign_id, status_ids=1))


# [END paged_read]
