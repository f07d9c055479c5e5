"""The update operator's guide: applying a CRM's statuses (run by tests/integration/test_docs.py)."""

# [START update_operator]
from airflow_provider_thulium.operators.thulium import ThuliumUpdateRecordsOperator

apply_crm = ThuliumUpdateRecordsOperator(
    task_id="apply_crm_statuses",
    campaign_id="00001",
    records=[
        {
            "phone_number": "48500100207",
            "status_id": 4,
            "agent_login": "j.doe",
            "next_call_date": "2030-07-02 14:00",
            "record_fields": {"crm_id": "C-2007"},
        },
        {"phone_number": "48500100208", "status_id": 3},
    ],
)
# [END update_operator]
