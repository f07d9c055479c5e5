"""Getting started: a first DAG, the same as the README's (test_readme.py runs that one, test_docs.py compares them)."""

# [START first_dag]
from datetime import datetime

from airflow.providers.common.compat.sdk import DAG  # Airflow 2.11 and 3 (on 3 alone: airflow.sdk)

from airflow_provider_thulium.operators.thulium import ThuliumDeleteRecordsOperator

with DAG("thulium_opt_outs", schedule="@daily", start_date=datetime(2025, 1, 1), catchup=False) as dag:
    ThuliumDeleteRecordsOperator(
        task_id="remove_opt_outs",
        campaign_id="00001",
        phone_numbers=["48500100201", "48999000111"],  # or an XComArg from the task that reads your CRM
    )
# [END first_dag]
