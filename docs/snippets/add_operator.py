"""The add operator's guide: adding leads, an upsert (run by tests/integration/test_docs.py)."""

# [START add_operator]
from airflow_provider_thulium.operators.thulium import ThuliumAddRecordsOperator

add_leads = ThuliumAddRecordsOperator(
    task_id="add_leads",
    campaign_id="00002",
    records=[
        {
            "phone_number": "48600100300",
            "status": "New lead",
            "identifier": "C-3000",
            "record_fields": {"crm_id": "C-3000"},
        },
        {
            "phone_number": "48600100303",
            "status": "My record",
            "agent_login": "j.doe",
            "next_call_date": "2030-08-02 10:00",
            "order": 10,
        },
    ],
    on_existing="update",
)
# [END add_operator]
