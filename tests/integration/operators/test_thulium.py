"""The record operators inside real Airflow task runs (dag.test() with SQLite) against the sandbox."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import task

from airflow_provider_thulium.calls.operations import DELETE
from airflow_provider_thulium.operators.thulium import (
    ThuliumAddRecordsOperator,
    ThuliumDeleteRecordsOperator,
    ThuliumUpdateRecordsOperator,
)
from airflow_provider_thulium.sandbox import Fault
from airflow_provider_thulium.testing import MISSING, run_dag, task_states, xcom
from tests.helpers import FAST_RETRIES, new_dag, run_timed_out, tries

pytestmark = pytest.mark.usefixtures("airflow_db")


def end_the_call_when_the_retry_arrives(sandbox: Any) -> None:
    """Record 48500100203 is in a call at the first DELETE; the sandbox frees it when the next one arrives."""
    sandbox.add_fault(
        Fault(method="DELETE", after=1, action=lambda s: s.state.set_in_call("00001", "48500100203", False))
    )


def test_delete_in_a_dag_run(thulium_sandbox):
    phones = ["48500100201", "48500100299", "48999999999", "48500100203", "48500100200", "48500100200"]
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(
            task_id="delete",
            campaign_id=1,
            phone_numbers=phones,
            search_in_additional_numbers=True,
            fail_on_failed_phones=False,
            hook_params=FAST_RETRIES,
        )
    run = run_dag(dag)

    assert task_states(run) == {"delete": "success"}
    results = xcom(run, "delete")
    assert list(results) == ["48500100201", "48500100299", "48999999999", "48500100203", "48500100200"]
    assert [e["status"] for e in results["48500100201"]] == ["REMOVED", "REMOVED"]
    assert results["48500100299"][0]["status"] == "REMOVED"
    assert results["48999999999"] == [{"http_status": 404, "status": "NOT_EXIST"}]
    assert results["48500100203"][0]["status"] == "CALL_IN_PROGRESS"
    summary = xcom(run, "delete", "summary")
    assert summary["outcomes"] == {"CALL_IN_PROGRESS": 1, "NOT_EXIST": 1, "REMOVED": 3}
    assert summary["failed_phones"] == ["48500100203"]
    assert (summary["phones"], summary["succeeded"], summary["failed"], summary["requests"]) == (5, 4, 1, 1)
    state = thulium_sandbox.state
    assert state.find("00001", "48500100201") == [] and state.find("00001", "48500100202") == []
    assert len(state.find("00001", "48500100203")) == 1


def test_update_in_a_dag_run_fails_on_a_failed_phone_with_every_phone_in_xcom(thulium_sandbox):
    records = [
        {"phone_number": "48500100200", "status_id": 4, "agent_login": "j.doe", "next_call_date": "2030-01-02 10:30"},
        {"phone_number": "48500100204", "status_id": 99},
        {"phone_number": "48999999999", "status_id": 2},
        {"phone_number": "48500100201", "status_id": 2},
    ]
    with new_dag() as dag:
        ThuliumUpdateRecordsOperator(task_id="update", campaign_id="00001", records=records, hook_params=FAST_RETRIES)
    run = run_dag(dag)

    assert task_states(run) == {"update": "failed"}
    results = xcom(run, "update")
    assert results["48500100200"] == {"http_status": 204}
    assert results["48500100204"] == {"http_status": 400, "message": "Status not found."}
    assert results["48999999999"]["http_status"] == 404
    assert results["48500100201"]["http_status"] == 400
    summary = xcom(run, "update", "summary")
    assert summary["outcomes"] == {"HTTP_400": 2, "HTTP_404": 1, "UPDATED": 1}
    assert summary["failed_phones"] == ["48500100204", "48999999999", "48500100201"]
    (record,) = thulium_sandbox.state.find("00001", "48500100200")
    assert (record["status_id"], record["agent_login"], record["next_call_date"]) == (4, "j.doe", "2030-01-02 10:30")


def test_invalid_input_fails_the_task_before_any_request(thulium_sandbox):
    with new_dag() as dag:
        ThuliumUpdateRecordsOperator(
            task_id="update",
            campaign_id="00001",
            records=[{"phone_number": "48500100200", "status_id": 2}, {"phone_number": "4850O100201", "status_id": 2}],
        )
        ThuliumDeleteRecordsOperator(task_id="delete", campaign_id="00001", phone_numbers=["48500100200", None])
    run = run_dag(dag)
    assert task_states(run) == {"update": "failed", "delete": "failed"}
    assert thulium_sandbox.requests == []
    assert xcom(run, "update") is MISSING


def test_xcomarg_and_templated_string_as_phone_numbers(thulium_sandbox):
    with new_dag(params={"opt_outs": "48500100200, 48500100204\n48500100205"}) as dag:

        @task
        def opt_outs() -> list[int]:
            return [48500100206, 48500100207]

        ThuliumDeleteRecordsOperator(
            task_id="from_xcom", campaign_id="00001", phone_numbers=opt_outs(), hook_params=FAST_RETRIES
        )
        ThuliumDeleteRecordsOperator(
            task_id="from_template",
            campaign_id="{{ '00001' }}",
            phone_numbers="{{ params.opt_outs }}",
            hook_params=FAST_RETRIES,
        )
    run = run_dag(dag)
    assert task_states(run) == {"opt_outs": "success", "from_xcom": "success", "from_template": "success"}
    assert list(xcom(run, "from_xcom")) == ["48500100206", "48500100207"]
    assert list(xcom(run, "from_template")) == ["48500100200", "48500100204", "48500100205"]
    for phone in ("48500100200", "48500100204", "48500100205", "48500100206", "48500100207"):
        assert thulium_sandbox.state.find("00001", phone) == []


def test_records_as_json_string_and_aware_datetime(thulium_sandbox):
    with new_dag() as dag:

        @task
        def crm_records() -> list[dict[str, Any]]:
            return [{"phone_number": "48500100205", "status_id": 5, "next_call_date": "2030-06-01 08:00"}]

        ThuliumUpdateRecordsOperator(
            task_id="from_xcom", campaign_id=1, records=crm_records(), hook_params=FAST_RETRIES
        )
        ThuliumUpdateRecordsOperator(
            task_id="aware",
            campaign_id=1,
            records=[
                {
                    "phone_number": "48500100206",
                    "status_id": 5,
                    "next_call_date": datetime(2030, 6, 1, 6, 0, tzinfo=timezone.utc),
                }
            ],
            hook_params=FAST_RETRIES,
        )
        ThuliumUpdateRecordsOperator(
            task_id="json",
            campaign_id=1,
            records='[{"phone_number": "48500100207", "record_fields": {"note": "call after 5pm"}}]',
            hook_params=FAST_RETRIES,
        )
    run = run_dag(dag)
    assert set(task_states(run).values()) == {"success"}
    # 06:00 UTC in June is 08:00 in Warsaw, the default account time zone.
    assert thulium_sandbox.state.find("00001", "48500100206")[0]["next_call_date"] == "2030-06-01 08:00"
    assert thulium_sandbox.state.find("00001", "48500100207")[0]["record_fields"]["note"] == "call after 5pm"


def test_empty_input_is_a_normal_day(thulium_sandbox):
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(task_id="delete", campaign_id="00001", phone_numbers="")
        ThuliumUpdateRecordsOperator(task_id="update", campaign_id="00001", records=[])
    run = run_dag(dag)
    assert task_states(run) == {"delete": "success", "update": "success"}
    assert xcom(run, "delete") == {} and xcom(run, "update") == {}
    assert xcom(run, "delete", "summary")["phones"] == 0
    assert thulium_sandbox.requests == []


def test_not_exist_can_count_as_a_failure(thulium_sandbox):
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(
            task_id="strict", campaign_id="00001", phone_numbers=["48999999999"], not_exist_is_success=False
        )
        ThuliumDeleteRecordsOperator(task_id="lenient", campaign_id="00001", phone_numbers=["48999999998"])
    run = run_dag(dag)
    assert task_states(run) == {"strict": "failed", "lenient": "success"}
    assert xcom(run, "strict", "summary")["failed_phones"] == ["48999999999"]


def test_call_in_progress_is_tried_again_after_a_delay(thulium_sandbox):
    end_the_call_when_the_retry_arrives(thulium_sandbox)
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(
            task_id="delete",
            campaign_id="00001",
            phone_numbers=["48500100203", "48500100200"],
            call_in_progress_retries=2,
            call_in_progress_retry_delay=0.1,
        )
    run = run_dag(dag)
    assert task_states(run) == {"delete": "success"}
    results = xcom(run, "delete")
    assert results["48500100203"][0]["status"] == "REMOVED"
    assert results["48500100200"][0]["status"] == "REMOVED"
    assert xcom(run, "delete", "summary")["requests"] == 2
    assert thulium_sandbox.state.find("00001", "48500100203") == []


def test_failures_only_xcom(thulium_sandbox):
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(
            task_id="delete",
            campaign_id="00001",
            phone_numbers=["48500100200", "48500100203"],
            xcom_results="failures",
            fail_on_failed_phones=False,
        )
    run = run_dag(dag)
    assert list(xcom(run, "delete")) == ["48500100203"]
    assert xcom(run, "delete", "summary")["outcomes"] == {"CALL_IN_PROGRESS": 1, "REMOVED": 1}


def test_a_run_stopped_by_an_error_marks_the_rest_not_sent(thulium_sandbox):
    phones = [f"4872{n:07d}" for n in range(30)]
    thulium_sandbox.state.add_campaign("00006", "Stop")
    thulium_sandbox.state.bulk_add("00006", phones)
    thulium_sandbox.add_fault(Fault(after=1, action=lambda sandbox: sandbox.state.delete_campaign("00006")))
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(
            task_id="delete",
            campaign_id="00006",
            phone_numbers=phones,
            fail_on_failed_phones=False,
            hook_params={"max_batch_size": 10, **FAST_RETRIES},
        )
    run = run_dag(dag)
    assert task_states(run) == {"delete": "failed"}
    results = xcom(run, "delete")
    assert list(results) == phones
    assert [results[p][0]["status"] for p in phones] == ["REMOVED"] * 10 + ["REQUEST_FAILED"] * 10 + ["NOT_SENT"] * 10
    assert all(results[p][0]["http_status"] is None for p in phones[10:])
    summary = xcom(run, "delete", "summary")
    assert "404" in summary["stopped_by"]


def test_deferrable_waits_in_a_trigger_and_sends_from_the_worker(thulium_sandbox):
    end_the_call_when_the_retry_arrives(thulium_sandbox)
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(
            task_id="delete",
            campaign_id="00001",
            phone_numbers=["48500100203", "48500100201"],
            call_in_progress_retries=1,
            call_in_progress_retry_delay=0.5,
            deferrable=True,
        )
    run = run_dag(dag)
    assert task_states(run) == {"delete": "success"}
    results = xcom(run, "delete")
    assert [entry["status"] for entry in results["48500100201"]] == ["REMOVED", "REMOVED"]
    assert results["48500100203"][0]["status"] == "REMOVED"
    summary = xcom(run, "delete", "summary")
    assert (summary["requests"], summary["batches"]) == (2, 2)
    assert [r.method for r in thulium_sandbox.requests] == ["DELETE", "DELETE"]
    assert thulium_sandbox.requests[1].query["phone_number[]"] == ["48500100203"]


def test_the_wait_trigger_carries_no_phone_numbers():
    from airflow_provider_thulium.runs.records_run import RecordsRun

    operator = ThuliumDeleteRecordsOperator(
        task_id="delete", campaign_id="00001", phone_numbers=["48500100201"], deferrable=True
    )
    pushed: dict[str, object] = {}

    class TaskInstance:
        def xcom_push(self, key: str, value: object) -> None:
            pushed[key] = value

    run = RecordsRun(DELETE, "00001", ["48500100201"], lambda items: iter(()), operator.outcome_policy(), operator.log)
    waiter = operator._waiter({"ti": TaskInstance()}, run)
    with pytest.raises(BaseException) as deferred:
        waiter(timedelta(seconds=5), 1)
    assert type(deferred.value).__name__ == "TaskDeferred"
    classpath, kwargs = deferred.value.trigger.serialize()
    assert classpath.endswith("temporal.DateTimeTrigger")
    assert "48500100201" not in repr(kwargs)
    assert "48500100201" in repr(pushed["deferred_results"])  # the state waits in XCom instead


def test_a_task_stopped_mid_run_still_pushes_every_phone_and_sends_no_more(thulium_sandbox):
    phones = [f"4875{n:07d}" for n in range(30)]
    thulium_sandbox.state.add_campaign("00004", "Timeout")
    thulium_sandbox.state.bulk_add("00004", phones)
    thulium_sandbox.add_fault(Fault(delay=4.0, after=1))  # the second batch is slow to answer
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(
            task_id="delete",
            campaign_id="00004",
            phone_numbers=phones,
            execution_timeout=timedelta(seconds=2),
            hook_params={"max_batch_size": 10, "timeout": 30},
        )
    started = time.monotonic()
    run = run_timed_out(dag)
    assert task_states(run) == {"delete": "failed"}
    assert time.monotonic() - started < 30
    results = xcom(run, "delete")
    assert list(results) == phones
    # The second batch was on the wire (it may have been applied); the third was only queued when
    # the task was stopped: it is never sent, even after the slow second answer comes in.
    assert [results[p][0]["status"] for p in phones] == ["REMOVED"] * 10 + ["INTERRUPTED"] * 10 + ["NOT_SENT"] * 10
    time.sleep(max(0.0, started + 7.0 - time.monotonic()))
    sent = {phone for request in thulium_sandbox.requests for phone in request.query["phone_number[]"]}
    assert sent.isdisjoint(phones[20:])
    assert all(thulium_sandbox.state.find("00004", phone) for phone in phones[20:])


@pytest.mark.parametrize(("setting", "expected"), [(None, "False"), ("True", "True"), ("False", "False")])
def test_deferrable_defaults_to_airflows_default_deferrable(setting, expected):
    import os
    import subprocess
    import sys

    env = {key: value for key, value in os.environ.items() if key != "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE"}
    if setting is not None:
        env["AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE"] = setting
    probe = (
        "from airflow_provider_thulium.operators.thulium import ThuliumDeleteRecordsOperator as Delete; "
        "print(Delete(task_id='t', campaign_id='00001', phone_numbers=['48500100201']).deferrable, "
        "Delete(task_id='u', campaign_id='00001', phone_numbers=['48500100201'], deferrable=False).deferrable)"
    )
    shown = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert shown.stdout.split()[-2:] == [expected, "False"]


@pytest.mark.parametrize("operator_class", [ThuliumUpdateRecordsOperator, ThuliumAddRecordsOperator])
def test_a_batch_refused_whole_for_an_unknown_field_stops_the_run_on_try_1(thulium_sandbox, operator_class):
    phones = [f"4873{n:07d}" for n in range(5000)]
    thulium_sandbox.state.add_campaign("00007", "Fields", fields=["crm_id"])
    if operator_class is ThuliumUpdateRecordsOperator:
        thulium_sandbox.state.bulk_add("00007", phones)
    thulium_sandbox.clear_requests()
    records = [{"phone_number": phone, "record_fields": {"firstname": "Ann"}} for phone in phones]
    with new_dag() as dag:
        operator_class(
            task_id="send",
            campaign_id="00007",
            records=records,
            retries=2,
            retry_delay=timedelta(seconds=0),
            hook_params=FAST_RETRIES,
        )
    run = run_dag(dag)

    assert (task_states(run), tries(run)) == ({"send": "failed"}, {"send": 1})
    writes = [r for r in thulium_sandbox.requests if r.method in ("PUT", "POST")]
    assert len(writes) == 1  # the batch queued behind the refused one is not sent
    results = xcom(run, "send")
    assert list(results) == phones
    summary = xcom(run, "send", "summary")
    refused = "HTTP_400" if operator_class is ThuliumUpdateRecordsOperator else "FAILED"
    assert summary["outcomes"] == {refused: 1000, "NOT_SENT": 4000}
    assert results[phones[0]]["message"] == "Unknown record field: firstname."
    assert results[phones[-1]]["status"] == "NOT_SENT"
    assert "Unknown record field: firstname." in summary["stopped_by"]
    assert "Hint:" in summary["stopped_by"]
    if operator_class is ThuliumUpdateRecordsOperator:
        assert thulium_sandbox.state.find("00007", phones[0])[0]["record_fields"] == {}
    else:
        assert thulium_sandbox.state.records("00007") == []


def test_single_phones_refused_alike_by_a_404_do_not_stop_the_run(thulium_sandbox):
    phones = [f"4874{n:07d}" for n in range(30)]
    with new_dag() as dag:
        ThuliumUpdateRecordsOperator(
            task_id="update",
            campaign_id="00001",
            records=[{"phone_number": phone, "status_id": 2} for phone in phones],
            fail_on_failed_phones=False,
            hook_params={"max_batch_size": 10, **FAST_RETRIES},
        )
    run = run_dag(dag)
    assert task_states(run) == {"update": "success"}
    summary = xcom(run, "update", "summary")
    assert (summary["outcomes"], summary["requests"], summary["stopped_by"]) == ({"HTTP_404": 30}, 3, None)
