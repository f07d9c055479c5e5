"""The operators behave as Airflow users expect, in real task runs on Airflow 3 and 2.11.

Retries only for errors that may heal, the run-ending error's own class, ``do_xcom_push``
honoured, and no phone number in Airflow's rendered-fields table. What is checked is read back
from the metadata database: try numbers, XCom rows, rendered fields.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_thulium.exceptions import (
    ThuliumAuthenticationError,
    ThuliumConfigurationError,
    ThuliumError,
    ThuliumNotFoundError,
    ThuliumPhoneFailuresError,
    ThuliumUnavailableError,
    ThuliumValidationError,
)
from airflow_provider_thulium.operators.thulium import ThuliumDeleteRecordsOperator, ThuliumUpdateRecordsOperator
from airflow_provider_thulium.sandbox import Fault
from airflow_provider_thulium.testing import MISSING, run_dag, task_states, xcom
from airflow_provider_thulium.version_compat import AirflowFailException
from tests.helpers import FAST_RETRIES, all_logs, crm_database, new_dag, set_connection, tries, xcom_rows

pytestmark = pytest.mark.usefixtures("airflow_db")

RETRIES = {"retries": 2, "retry_delay": timedelta(0)}


class FailureCallback:
    """An ``on_failure_callback`` keeping the exception each failed try ended with."""

    def __init__(self) -> None:
        self.errors: list[BaseException] = []

    def __call__(self, context: Any) -> None:
        self.errors.append(context["exception"])


# -- 1. Errors a retry cannot fix end the task at once; others keep Airflow's retries. --


@pytest.mark.parametrize(
    "error", [ThuliumValidationError, ThuliumConfigurationError, ThuliumAuthenticationError, ThuliumNotFoundError]
)
def test_errors_that_cannot_heal_are_airflow_fail_exceptions_and_still_thulium_errors(error):
    assert issubclass(error, AirflowFailException) and issubclass(error, ThuliumError)
    assert not issubclass(ThuliumUnavailableError, AirflowFailException)
    assert not issubclass(ThuliumPhoneFailuresError, AirflowFailException)
    assert issubclass(ThuliumValidationError, ValueError)


def test_errors_that_cannot_heal_end_the_task_without_retries(thulium_sandbox, monkeypatch):
    set_connection(monkeypatch, "no_login", host=thulium_sandbox.url, password="a-password-without-login")
    set_connection(
        monkeypatch, "plain_http", host="http://thulium.example.com", login="user", password="pass-over-http"
    )
    set_connection(
        monkeypatch, "wrong_password", host=thulium_sandbox.url, login="api_user", password="not-the-password"
    )
    with new_dag(default_args=RETRIES) as dag:
        ThuliumUpdateRecordsOperator(
            task_id="typo_in_a_key",
            campaign_id="00001",
            records=[{"phone_number": "48500100200", "stauts_id": 2}],
        )
        ThuliumUpdateRecordsOperator(
            task_id="bad_date",
            campaign_id="00001",
            records=[{"phone_number": "48500100200", "next_call_date": "2030-13-01 10:00"}],
        )
        ThuliumDeleteRecordsOperator(
            task_id="plain_http", campaign_id="00001", phone_numbers=["48500100200"], thulium_conn_id="plain_http"
        )
        ThuliumDeleteRecordsOperator(
            task_id="no_login", campaign_id="00001", phone_numbers=["48500100200"], thulium_conn_id="no_login"
        )
        ThuliumDeleteRecordsOperator(
            task_id="wrong_password",
            campaign_id="00001",
            phone_numbers=["48500100200"],
            thulium_conn_id="wrong_password",
        )
        ThuliumDeleteRecordsOperator(task_id="unknown_campaign", campaign_id="00009", phone_numbers=["48500100200"])
    run = run_dag(dag)

    assert set(task_states(run).values()) == {"failed"}
    assert tries(run) == dict.fromkeys(
        ["typo_in_a_key", "bad_date", "plain_http", "no_login", "wrong_password", "unknown_campaign"], 1
    )
    # A connection without a login is refused while the input is checked, before any run: like bad
    # input, it leaves no results behind (nothing was sent, nothing to report per phone).
    assert xcom(run, "no_login") is MISSING
    # One request each for the wrong password and the unknown campaign; the others sent none.
    assert sorted(request.path for request in thulium_sandbox.requests) == [
        "/api/batch/outbounds/00001/records",
        "/api/batch/outbounds/00009/records",
    ]


def test_errors_that_may_heal_use_airflows_retries(thulium_sandbox):
    thulium_sandbox.add_fault(Fault(status=503, times=100))
    with new_dag(default_args=RETRIES) as dag:
        ThuliumDeleteRecordsOperator(
            task_id="unavailable",
            campaign_id="00001",
            phone_numbers=["48500100200"],
            hook_params={**FAST_RETRIES, "max_retries": 1},
        )
    run = run_dag(dag)
    assert task_states(run) == {"unavailable": "failed"}
    assert tries(run) == {"unavailable": 3}
    assert len(thulium_sandbox.requests) == 6  # 3 tries of the task, 2 attempts of the request each


def test_phone_failures_use_airflows_retries_and_a_retry_can_heal_them(thulium_sandbox):
    # The call ends after the first try: the second try of the task removes the record.
    thulium_sandbox.add_fault(
        Fault(method="DELETE", after=1, action=lambda s: s.state.set_in_call("00001", "48500100203", False))
    )
    with new_dag(default_args=RETRIES) as dag:
        ThuliumDeleteRecordsOperator(task_id="delete", campaign_id="00001", phone_numbers=["48500100203"])
    run = run_dag(dag)
    assert task_states(run) == {"delete": "success"}
    assert tries(run) == {"delete": 2}
    assert xcom(run, "delete")["48500100203"][0]["status"] == "REMOVED"


# -- 2. The operator raises the error that ended the run, with its own class. --


def test_wrong_password_raises_the_authentication_error_through_the_operator(thulium_sandbox, monkeypatch):
    set_connection(
        monkeypatch, "wrong_password", host=thulium_sandbox.url, login="api_user", password="not-the-password"
    )
    failed = FailureCallback()
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(
            task_id="delete",
            campaign_id="00001",
            phone_numbers=["48500100200", "48500100201"],
            thulium_conn_id="wrong_password",
            on_failure_callback=failed,
        )
    run = run_dag(dag)
    assert task_states(run) == {"delete": "failed"}
    (error,) = failed.errors
    assert type(error) is ThuliumAuthenticationError
    assert str(error).count("Invalid credentials") == 1 and str(error).count("HTTP 401") == 1
    # The XComs are pushed before the task fails: every phone, and the summary saying why.
    assert [entry[0]["status"] for entry in xcom(run, "delete").values()] == ["REQUEST_FAILED"] * 2
    assert "HTTP 401" in xcom(run, "delete", "summary")["stopped_by"]


def test_unknown_campaign_raises_not_found_and_single_phones_raise_phone_failures(thulium_sandbox):
    failed = FailureCallback()
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(
            task_id="unknown", campaign_id="00009", phone_numbers=["48500100200"], on_failure_callback=failed
        )
    run_dag(dag)
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(
            task_id="in_a_call", campaign_id="00001", phone_numbers=["48500100203"], on_failure_callback=failed
        )
    run_dag(dag)
    assert [type(error) for error in failed.errors] == [ThuliumNotFoundError, ThuliumPhoneFailuresError]
    assert "…203: CALL_IN_PROGRESS" in str(failed.errors[1])


# -- 3. do_xcom_push is honoured; on success the return value is Airflow's one push. --


def test_do_xcom_push_false_leaves_no_xcom_rows(thulium_sandbox):
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(
            task_id="success", campaign_id="00001", phone_numbers=["48500100200"], do_xcom_push=False
        )
        ThuliumDeleteRecordsOperator(
            task_id="failure", campaign_id="00001", phone_numbers=["48500100203"], do_xcom_push=False
        )
        ThuliumDeleteRecordsOperator(
            task_id="stopped", campaign_id="00009", phone_numbers=["48500100200"], do_xcom_push=False
        )
    run = run_dag(dag)
    assert task_states(run) == {"success": "success", "failure": "failed", "stopped": "failed"}
    assert xcom_rows(run) == []


def test_on_success_the_return_value_is_pushed_once_by_airflow(thulium_sandbox):
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(task_id="delete", campaign_id="00001", phone_numbers=["48500100200"])
        ThuliumDeleteRecordsOperator(task_id="fails", campaign_id="00001", phone_numbers=["48500100203"])
    run = run_dag(dag)
    assert xcom_rows(run) == [
        ("delete", -1, "return_value"),
        ("delete", -1, "summary"),
        ("fails", -1, "return_value"),
        ("fails", -1, "summary"),
    ]


def test_the_operator_pushes_only_the_summary_itself_on_success(thulium_sandbox):
    pushed: list[str] = []

    class TaskInstance:
        def xcom_push(self, key: str, value: object) -> None:
            json.dumps(value)
            pushed.append(key)

    operator = ThuliumDeleteRecordsOperator(task_id="delete", campaign_id="00001", phone_numbers=["48500100200"])
    value = operator.execute({"ti": TaskInstance()})  # type: ignore[arg-type]
    assert pushed == ["summary"]  # Airflow pushes the returned value
    assert value["48500100200"][0]["status"] == "REMOVED"

    pushed.clear()
    operator = ThuliumDeleteRecordsOperator(task_id="fails", campaign_id="00001", phone_numbers=["48500100203"])
    with pytest.raises(ThuliumPhoneFailuresError):
        operator.execute({"ti": TaskInstance()})  # type: ignore[arg-type]
    assert pushed == ["summary", "return_value"]  # a failing task returns nothing: the operator pushes it


# -- 4. Phone numbers stay out of Airflow's rendered-fields table. --


def rendered_fields(dag_run: Any) -> dict[str, dict[str, Any]]:
    """task_id (``task_id[i]`` for mapped tasks) → the rendered fields Airflow stored for it."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(RenderedTaskInstanceFields).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id).all()
        return {
            (row.task_id if row.map_index < 0 else f"{row.task_id}[{row.map_index}]"): row.rendered_fields
            for row in rows
        }


def test_rendered_fields_hold_a_count_not_the_phone_numbers(thulium_sandbox):
    from airflow.providers.common.compat.sdk import task

    with new_dag(params={"phones": "48500100204, 48500100205"}) as dag:

        @task(show_return_value_in_logs=False)
        def opt_outs() -> list[str]:
            return ["48500100206"]

        ThuliumDeleteRecordsOperator(task_id="literal", campaign_id="00001", phone_numbers=["48500100200"] * 2)
        ThuliumDeleteRecordsOperator(task_id="template", campaign_id="00001", phone_numbers="{{ params.phones }}")
        ThuliumDeleteRecordsOperator(task_id="from_xcom", campaign_id="00001", phone_numbers=opt_outs())
        ThuliumDeleteRecordsOperator.partial(task_id="mapped", campaign_id="00002").expand(
            phone_numbers=[["48600100200"], ["48600100201", "48999999999"]]
        )
        ThuliumUpdateRecordsOperator(
            task_id="update",
            campaign_id="{{ '00001' }}",
            records=[{"phone_number": "48500100207", "status_id": 2}, {"phone_number": "48500100208", "status_id": 2}],
        )
    run = run_dag(dag)

    assert set(task_states(run).values()) == {"success"}
    # The tasks used the full numbers...
    assert list(xcom(run, "template")) == ["48500100204", "48500100205"]
    assert list(xcom(run, "from_xcom")) == ["48500100206"]
    assert thulium_sandbox.state.find("00002", "48600100201") == []
    # ...while Airflow stored counts.
    stored = rendered_fields(run)
    assert stored["literal"] == {
        "campaign_id": "00001",
        "search_in_additional_numbers": False,
        "results_path": None,
        "phone_numbers": "<2 phone numbers>",
    }
    assert stored["template"]["phone_numbers"] == "<phone numbers as text, 24 characters>"
    assert stored["from_xcom"]["phone_numbers"] == "<1 phone number>"
    assert stored["mapped[0]"]["phone_numbers"] == "<1 phone number>"
    assert stored["mapped[1]"]["phone_numbers"] == "<2 phone numbers>"
    assert stored["update"]["records"] == "<2 records>" and stored["update"]["campaign_id"] == "00001"
    text = json.dumps(stored)
    assert "4850010020" not in text and "4860010020" not in text and "48999999999" not in text


def test_example_dags_keep_phone_numbers_out_of_logs_and_rendered_fields(thulium_sandbox, caplog, capfd, tmp_path):
    import logging
    import os
    import re
    from pathlib import Path

    try:  # Airflow 3
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2.11
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

    caplog.set_level(logging.DEBUG)
    os.environ["THULIUM_REPORT_DIR"] = str(tmp_path)
    os.environ["AIRFLOW_CONN_CRM_DB"] = crm_database(tmp_path)  # thulium_crm_sync reads its leads there
    # thulium_call_outcomes loads outcomes there (a run of today loads yesterday's: none in the demo data).
    os.environ["AIRFLOW_CONN_WAREHOUSE"] = json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "dwh.db")})
    try:
        examples = DagBag(str(Path(__file__).parents[2] / "dags_examples"))
        runs = [run_dag(examples.get_dag(dag_id)) for dag_id in sorted(examples.dag_ids)]
    finally:
        del os.environ["THULIUM_REPORT_DIR"], os.environ["AIRFLOW_CONN_CRM_DB"], os.environ["AIRFLOW_CONN_WAREHOUSE"]
    logs = all_logs(caplog, capfd)

    assert all(set(task_states(run).values()) <= {"success", "skipped"} for run in runs)
    assert "Returned value was" in logs  # the tasks that return no phone numbers still show theirs
    # Not after a point: a duration Airflow logs ("0.48538744334") is no phone number; nor amid hex
    # digits: a task instance's id ("…-48926893426b") is none either.
    phone = re.compile(r"(?<![\da-fA-F.])48[5-9]\d{8}(?![\da-fA-F.])")
    assert phone.findall(logs) == []
    assert "XCom not found" not in logs
    stored = json.dumps([rendered_fields(run) for run in runs])
    assert "phone numbers" in stored and "records" in stored
    assert phone.findall(stored) == []


# -- 5. A list rendered as text by a template is read as a list. --


def test_templated_lists_are_read_as_lists(thulium_sandbox):
    from airflow.providers.common.compat.sdk import task

    with new_dag(params={"phones": ["48500100204", "48500100205"]}) as dag:

        @task(show_return_value_in_logs=False)
        def opt_outs() -> list[str]:
            return ["48500100206", "48500100207"]

        @task(show_return_value_in_logs=False)
        def crm_records() -> list[dict[str, Any]]:
            return [{"phone_number": "48500100208", "status_id": 2}]

        upstream = [opt_outs(), crm_records()]
        delete_params = ThuliumDeleteRecordsOperator(
            task_id="params", campaign_id="00001", phone_numbers="{{ params.phones }}"
        )
        delete_xcom = ThuliumDeleteRecordsOperator(
            task_id="xcom_pull", campaign_id="00001", phone_numbers="{{ ti.xcom_pull(task_ids='opt_outs') }}"
        )
        update_xcom = ThuliumUpdateRecordsOperator(
            task_id="records_pull", campaign_id="00001", records="{{ ti.xcom_pull(task_ids='crm_records') }}"
        )
        upstream >> delete_params >> delete_xcom >> update_xcom
    run = run_dag(dag)
    assert set(task_states(run).values()) == {"success"}
    assert list(xcom(run, "params")) == ["48500100204", "48500100205"]
    assert list(xcom(run, "xcom_pull")) == ["48500100206", "48500100207"]
    assert xcom(run, "records_pull") == {"48500100208": {"http_status": 204}}


def test_native_rendering_passes_the_list_itself(thulium_sandbox):
    with new_dag(params={"phones": ["48500100204", 48500100205]}, render_template_as_native_obj=True) as dag:
        ThuliumDeleteRecordsOperator(task_id="native", campaign_id="00001", phone_numbers="{{ params.phones }}")
    run = run_dag(dag)
    assert task_states(run) == {"native": "success"}
    assert list(xcom(run, "native")) == ["48500100204", "48500100205"]


# -- 8. Numbers in the form the campaign stores them; a delete that finds mostly nothing warns. --


def test_phone_format_sends_the_campaigns_form_and_keys_results_as_given(thulium_sandbox):
    from airflow_provider_thulium.hooks.thulium import ThuliumHook

    thulium_sandbox.state.add_campaign("00007", "Plus")
    thulium_sandbox.state.add_records("00007", [{"phone_number": "+48711000001"}, {"phone_number": "+48711000002"}])
    digits = ThuliumHook(phone_format="digits", **FAST_RETRIES)
    plus = ThuliumHook(phone_format="plus", **FAST_RETRIES)

    removed = digits.delete_records("00001", ["+48500100207", "48500100206"])
    assert {phone: [entry["status"] for entry in entries] for phone, entries in removed.items()} == {
        "+48500100207": ["REMOVED"],
        "48500100206": ["REMOVED"],
    }
    assert list(removed) == ["+48500100207", "48500100206"]
    assert thulium_sandbox.requests[-1].query["phone_number[]"] == ["48500100207", "48500100206"]
    assert plus.delete_records("00007", ["48711000001"])["48711000001"][0]["status"] == "REMOVED"
    assert thulium_sandbox.requests[-1].query["phone_number[]"] == ["+48711000001"]
    assert digits.update_records("00001", [{"phone_number": "+48500100208", "status_id": 2}]) == {
        "+48500100208": {"http_status": 204}
    }
    assert thulium_sandbox.requests[-1].body["records"][0]["phone_number"] == "48500100208"
    assert thulium_sandbox.state.find("00001", "48500100208")[0]["status_id"] == 2

    with pytest.raises(
        ThuliumValidationError, match=r"phone_numbers\[1\]: phone …207 is the same number as phone_numbers\[0\]"
    ):
        digits.delete_records("00001", ["+48500100207", "48500100207"])
    with pytest.raises(ThuliumConfigurationError, match="phone_format"):
        ThuliumHook(phone_format="e164").delete_records("00001", ["48500100207"])


def test_a_delete_that_finds_mostly_nothing_warns_in_the_log_and_the_summary(thulium_sandbox, caplog, capfd):
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(task_id="plus", campaign_id="00001", phone_numbers=["+48500100207"])
        ThuliumDeleteRecordsOperator(
            task_id="fixed",
            campaign_id="00001",
            phone_numbers=["+48500100206"],
            hook_params={"phone_format": "digits"},
        )
        ThuliumDeleteRecordsOperator(
            task_id="normal_day", campaign_id="00001", phone_numbers=["48500100208", "48999999998", "48999999999"]
        )
    run = run_dag(dag)
    assert set(task_states(run).values()) == {"success"}
    (warning,) = xcom(run, "plus", "summary")["warnings"]
    assert warning.startswith("delete in campaign 00001: 1 of 1 phone(s) answered NOT_EXIST (e.g. …207; all given")
    assert "phone_format" in warning and "48500100207" not in warning
    assert thulium_sandbox.state.find("00001", "48500100207")  # still there: hence the warning
    assert xcom(run, "fixed", "summary")["warnings"] == []
    assert [entry["status"] for entry in xcom(run, "fixed")["+48500100206"]] == ["REMOVED"]
    assert xcom(run, "normal_day", "summary")["warnings"] == []  # 2 of 3: a normal day
    assert "1 of 1 phone(s) answered NOT_EXIST" in all_logs(caplog, capfd)


# -- 9. First setup: a URI connection to the sandbox, TLS against plain http, the retry warning. --


def test_a_uri_connection_to_loopback_without_a_scheme_is_plain_http(thulium_sandbox, monkeypatch):
    from airflow_provider_thulium.hooks.thulium import ThuliumHook

    monkeypatch.setenv("AIRFLOW_CONN_SANDBOX_URI", f"thulium://api_user:api_pass@127.0.0.1:{thulium_sandbox.port}")
    hook = ThuliumHook("sandbox_uri")
    assert hook.base_url == f"http://127.0.0.1:{thulium_sandbox.port}/api/"
    assert hook.test_connection() == (True, "Connected to Thulium: the API user can list campaigns.")


def test_tls_against_a_plain_http_server_says_so(thulium_sandbox, monkeypatch):
    from airflow_provider_thulium.hooks.thulium import ThuliumHook

    set_connection(
        monkeypatch,
        "tls_to_http",
        host=f"https://127.0.0.1:{thulium_sandbox.port}",
        login="a",
        password="not-a-real-password",
    )
    ok, message = ThuliumHook("tls_to_http").test_connection()
    assert not ok and "TLS failed" in message
    assert "plain http, not TLS: write http://... in the connection's host" in message
    assert "verify" not in message.split("TLS failed")[1].split(")")[-1]


def test_a_retry_warning_names_the_request_once(thulium_sandbox, caplog, capfd):
    import logging

    from airflow_provider_thulium.hooks.thulium import ThuliumHook

    thulium_sandbox.add_fault(Fault(status=503, times=1))
    caplog.set_level(logging.WARNING)
    ThuliumHook(**FAST_RETRIES).delete_records("00001", ["48500100206"])
    (warning, *_) = [line for line in all_logs(caplog, capfd).splitlines() if "retrying" in line]
    assert "DELETE batch/outbounds/00001/records (1 phone number): Thulium or a proxy" in warning
    assert warning.count("DELETE batch/outbounds") == 1 and "(attempt 1 of 6); retrying in" in warning
