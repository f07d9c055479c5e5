"""The hook's guide: a ``@task`` that removes numbers (run by tests/integration/test_docs.py)."""

# [START hook_task]
from airflow.providers.common.compat.sdk import task  # Airflow 2.11 and 3 (on 3 alone: airflow.sdk)

from airflow_provider_thulium.hooks.thulium import ThuliumHook


# multiple_outputs=False: from "-> dict" Airflow would infer one XCom per phone;
# show_return_value_in_logs=False: the results hold full numbers, which stay out of the log.
@task(multiple_outputs=False, show_return_value_in_logs=False)
def clean_up(phones: list[str]) -> dict:
    hook = ThuliumHook("thulium_default", max_concurrent_requests=4)
    return hook.delete_records("00001", phones, search_in_additional_numbers=True)


# [END hook_task]
