"""A campaign as an Airflow asset: a report DAG scheduled on the DAG that writes the campaign.

Shows: the ``thulium://<account host>/outbounds/<campaign_id>`` asset URI scheme, registered by the
provider (Airflow checks and normalises it when the DAG is parsed); a records operator that lists
the campaign among its ``outlets``, so each successful run records an asset event; and a DAG
scheduled on that asset, which Airflow runs after each such event. The report reads the campaign
back with ``ThuliumHook.iter_records`` and prints counts per status, never the numbers.

Name the account host as the connection does (``acme.thulium.com``), so that with the OpenLineage
provider installed the asset and the dataset the tasks report are the same node of the lineage
graph. Both DAGs are in one file here to share the asset; in practice they often live apart, and
the URI is what they agree on.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from airflow.providers.common.compat.assets import Asset  # Airflow 3; a Dataset on Airflow 2.11
from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_thulium.hooks.thulium import ThuliumHook
from airflow_provider_thulium.operators.thulium import ThuliumAddRecordsOperator

CAMPAIGN_ID = "00001"

# [START campaign_asset]
CAMPAIGN = Asset("thulium://acme.thulium.com/outbounds/00001")
# [END campaign_asset]

# [START producer]
with DAG(
    dag_id="thulium_campaign_producer",
    schedule="0 6 * * *",
    start_date=datetime(2024, 6, 1),
    catchup=False,
    tags=["thulium", "example", "assets"],
):
    ThuliumAddRecordsOperator(
        task_id="add_leads",
        campaign_id=CAMPAIGN_ID,
        records=[
            {"phone_number": "48500100300", "status": "New", "record_fields": {"crm_id": "C-3000"}},
            {"phone_number": "48500100301", "status": "Contact needed", "record_fields": {"crm_id": "C-3001"}},
        ],
        outlets=[CAMPAIGN],  # a successful run records an asset event for the campaign
    )
# [END producer]

# [START consumer]
with DAG(
    dag_id="thulium_campaign_report",
    schedule=[CAMPAIGN],  # runs after each asset event of the campaign
    start_date=datetime(2024, 6, 1),
    catchup=False,
    tags=["thulium", "example", "assets"],
):

    @task
    def report_statuses() -> dict[str, int]:
        """Count the campaign's records per status; the counts go to XCom, the numbers nowhere."""
        hook = ThuliumHook()
        names = {status["status_id"]: status["name"] for status in hook.get_statuses(CAMPAIGN_ID)}
        counts = Counter(names.get(record.get("status_id"), "?") for record in hook.iter_records(CAMPAIGN_ID))
        print(f"campaign {CAMPAIGN_ID}: {sum(counts.values())} record(s): {dict(sorted(counts.items()))}")
        return dict(sorted(counts.items()))

    report_statuses()
# [END consumer]
