"""The delete operator's guide: removing opt-outs (run by tests/integration/test_docs.py)."""

# [START delete_operator]
from datetime import timedelta

from airflow_provider_thulium.operators.thulium import ThuliumDeleteRecordsOperator

remove_opt_outs = ThuliumDeleteRecordsOperator(
    task_id="remove_opt_outs",
    campaign_id="00001",
    phone_numbers=["48500100201", "48999000111"],  # a list, an XComArg, or a templated string
    search_in_additional_numbers=True,
    call_in_progress_retries=2,
    call_in_progress_retry_delay=timedelta(minutes=5),
)
# [END delete_operator]
