# [START test_opt_out]
# test_opt_out.py
from datetime import datetime

from airflow.providers.common.compat.sdk import DAG  # Airflow 2.11 and 3 (on 3 alone: airflow.sdk)

from airflow_provider_thulium.operators.thulium import ThuliumDeleteRecordsOperator
from airflow_provider_thulium.sandbox import Fault
from airflow_provider_thulium.testing import run_dag, task_states, xcom


def test_opt_out_dag(thulium_airflow_db, thulium_sandbox):
    thulium_sandbox.add_fault(Fault(status=503, times=2))  # a burst of 503, retried
    with DAG("opt_out", schedule=None, start_date=datetime(2024, 1, 1)) as dag:  # or import your DAG
        ThuliumDeleteRecordsOperator(
            task_id="remove_opt_outs",
            campaign_id="00001",
            phone_numbers=["48500100201", "48999000111"],
            hook_params={"backoff": 0.01},
        )
    run = run_dag(dag)
    assert task_states(run) == {"remove_opt_outs": "success"}
    results = xcom(run, "remove_opt_outs")
    assert [entry["status"] for entry in results["48500100201"]] == ["REMOVED", "REMOVED"]
    assert results["48999000111"] == [{"http_status": 404, "status": "NOT_EXIST"}]
    assert thulium_sandbox.state.find("00001", "48500100201") == []  # the records are gone
    assert [r.method for r in thulium_sandbox.requests] == ["DELETE"] * 3


# [END test_opt_out]
