"""What a new user runs into first: one number written with spaces, the number-format warning on
evidence only, agents checked before sending, and run_dag refusing a run that runs nothing."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone

import pytest
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_thulium.exceptions import ThuliumValidationError
from airflow_provider_thulium.hooks.thulium import ThuliumHook
from airflow_provider_thulium.operators.thulium import (
    ThuliumDeleteRecordsOperator,
    ThuliumUpdateRecordsOperator,
)
from airflow_provider_thulium.testing import run_dag, task_states, xcom
from tests.helpers import FAST_RETRIES, all_logs, new_dag, set_connection, tries

LIMITED = {"login": "limited_user", "password": "limited_pass"}  # may delete and update, not list or read


# -- One number written with spaces is one number, not four. --


@pytest.mark.usefixtures("airflow_db")
def test_a_templated_number_with_spaces_fails_its_task_on_try_1_with_nothing_sent(thulium_sandbox):
    with new_dag(params={"one": "+48 500 100 201"}) as dag:
        ThuliumDeleteRecordsOperator(
            task_id="remove", campaign_id="00001", phone_numbers="{{ params.one }}", retries=2, hook_params=FAST_RETRIES
        )
    run = run_dag(dag)
    assert task_states(run) == {"remove": "failed"}
    assert tries(run) == {"remove": 1}  # bad input is not retried
    assert thulium_sandbox.requests == []
    assert len(thulium_sandbox.state.find("00001", "48500100201")) == 2


def test_the_hook_refuses_a_number_with_spaces_and_takes_whole_numbers_separated_by_spaces(thulium_sandbox):
    hook = ThuliumHook(**FAST_RETRIES)
    with pytest.raises(ThuliumValidationError, match=r"one number written with spaces \(phone …201\)"):
        hook.delete_records("00001", "+48 500 100 201")
    assert thulium_sandbox.requests == []
    removed = hook.delete_records("00001", "48500100206 48500100207")
    assert {phone: entries[0]["status"] for phone, entries in removed.items()} == {
        "48500100206": "REMOVED",
        "48500100207": "REMOVED",
    }


# -- The number-format warning fires on evidence: the campaign's own spelling. --


@pytest.mark.usefixtures("airflow_db")
def test_a_cumulative_opt_out_list_in_the_campaigns_spelling_gets_no_warning(thulium_sandbox):
    earlier_nights = ["48500100206", "48500100207", "48500100208", "48500100210"]
    ThuliumHook().delete_records("00001", earlier_nights)
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(
            task_id="tonight", campaign_id="00001", phone_numbers=[*earlier_nights, "48500100200"]
        )
        ThuliumDeleteRecordsOperator(
            task_id="with_plus",
            campaign_id="00001",
            phone_numbers=["+48500100204", "+48500100205", "+48500100209"],
            fail_on_failed_phones=False,
        )
    run = run_dag(dag)
    assert task_states(run) == {"tonight": "success", "with_plus": "success"}
    summary = xcom(run, "tonight", "summary")
    assert summary["outcomes"] == {"NOT_EXIST": 4, "REMOVED": 1}
    assert summary["warnings"] == []
    (warning,) = xcom(run, "with_plus", "summary")["warnings"]
    assert warning.startswith("delete in campaign 00001: 3 of 3 phone(s) answered NOT_EXIST (e.g. …204")
    # The tasks run in either order, so the campaign's first record (the example) is …200 or …201.
    assert re.search(
        r"the campaign spells its numbers otherwise: 3 of them were sent with a leading \+ and 11 digits "
        r"\(e\.g\. …204\), "
        r"while the campaign's numbers are without a leading \+ and 11 digits \(e\.g\. …20[01]\); set phone_format",
        warning,
    )
    assert "48500100" not in warning
    pages = [r for r in thulium_sandbox.requests if r.method == "GET"]
    assert [(r.path, r.query["offset"]) for r in pages] == [("/api/outbounds/00001/records", ["0"])] * 2


def test_numbers_sent_in_the_campaigns_form_through_phone_format_get_no_warning(thulium_sandbox, caplog, capfd):
    thulium_sandbox.state.add_campaign("00011", "Plus")
    thulium_sandbox.state.bulk_add("00011", ["+48711000001", "+48711000002", "+48711000003"])
    hook = ThuliumHook(phone_format="plus")
    hook.delete_records("00011", ["48711000001", "48711000002"])
    caplog.set_level(logging.INFO)
    all_logs(caplog, capfd)  # the first night's lines, read and set aside
    # The next night the same list again: as sent ("+48…") it is how the campaign spells its numbers.
    assert {
        entries[0]["status"] for entries in hook.delete_records("00011", ["48711000001", "48711000002"]).values()
    } == {"NOT_EXIST"}
    assert [r.method for r in thulium_sandbox.requests] == ["DELETE", "DELETE", "GET"]  # one page, for evidence
    logs = all_logs(caplog, capfd)
    assert "NOT_EXIST 2" in logs and "answered NOT_EXIST" not in logs


def test_a_permission_error_on_the_page_drops_the_warning_with_one_log_line(
    thulium_sandbox, monkeypatch, caplog, capfd
):
    set_connection(monkeypatch, "thulium_limited", host=thulium_sandbox.url, **LIMITED)
    caplog.set_level(logging.INFO)
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(
            task_id="plus", campaign_id="00001", phone_numbers=["+48500100207"], thulium_conn_id="thulium_limited"
        )
    run = run_dag(dag)
    assert task_states(run) == {"plus": "success"}
    assert xcom(run, "plus", "summary")["warnings"] == []
    logs = all_logs(caplog, capfd)
    assert "campaign 00001's records could not be read to compare how they spell numbers" in logs
    assert "ThuliumPermissionError, HTTP 403" in logs


# -- Agents are checked before sending, like status names. --


@pytest.mark.usefixtures("airflow_db")
def test_an_unknown_agent_is_refused_before_sending_and_a_known_one_goes_through(thulium_sandbox):
    with new_dag() as dag:
        ThuliumUpdateRecordsOperator(
            task_id="unknown",
            campaign_id="00001",
            records=[
                {
                    "phone_number": "48500100207",
                    "status": "My record",
                    "agent_login": "j.doe",
                    "next_call_date": "2030-07-02 14:00:00",
                },
                {"phone_number": "48500100209", "agent_login": "k.nowak"},
            ],
            retries=2,
        )
    run = run_dag(dag)
    assert task_states(run) == {"unknown": "failed"}
    assert tries(run) == {"unknown": 1}
    assert [r.method for r in thulium_sandbox.requests] == ["GET", "GET"]  # statuses, agents; nothing sent
    assert thulium_sandbox.state.find("00001", "48500100207")[0]["status_id"] == 1

    hook = ThuliumHook()
    with pytest.raises(ThuliumValidationError) as refused:
        hook.update_records("00001", [{"phone_number": "48500100209", "agent_login": "k.nowak"}])
    assert str(refused.value) == (
        "records[0] (phone …209).agent_login: campaign 00001 has no agent 'k.nowak'; its agents: j.doe, a.smith, "
        "m.nowak (inactive)"
    )
    thulium_sandbox.clear_requests()
    result = hook.update_records(
        "00001",
        [
            {
                "phone_number": "48500100207",
                "status": "My record",
                "agent_login": "j.doe",
                "next_call_date": "2030-07-02 14:00:00",
            },
            {
                "phone_number": "48500100206",
                "status": "My record",
                "agent_login": "m.nowak",
                "next_call_date": "2030-07-03 09:00",
            },
        ],
    )
    assert result == {"48500100207": {"http_status": 204}, "48500100206": {"http_status": 204}}
    assert [(r.method, r.path) for r in thulium_sandbox.requests] == [
        ("GET", "/api/outbounds/00001/statuses"),
        ("GET", "/api/outbounds/00001/agents"),  # once per call
        ("PUT", "/api/batch/outbounds/00001/records"),
    ]
    (record,) = thulium_sandbox.state.find("00001", "48500100206")
    assert (record["agent_login"], record["next_call_date"]) == ("m.nowak", "2030-07-03 09:00")  # inactive: accepted
    assert thulium_sandbox.state.find("00001", "48500100207")[0]["next_call_date"] == "2030-07-02 14:00"


def test_agents_are_checked_for_an_add_and_only_when_records_name_them(thulium_sandbox):
    hook = ThuliumHook()
    with pytest.raises(ThuliumValidationError, match=r"campaign 00002 has no agent 'a.smith'; its agents: j.doe"):
        hook.add_records("00002", [{"phone_number": "48600100900", "agent_login": "a.smith"}])
    thulium_sandbox.clear_requests()
    hook.add_records("00002", [{"phone_number": "48600100901", "status_id": 21}])
    hook.update_records("00002", [{"phone_number": "48600100901", "status_id": 22}])
    assert [r.method for r in thulium_sandbox.requests] == ["POST", "PUT"]  # no extra request


def test_an_api_user_that_may_not_list_agents_skips_the_check_and_the_server_decides(
    thulium_sandbox, monkeypatch, caplog, capfd
):
    set_connection(monkeypatch, "thulium_limited", host=thulium_sandbox.url, **LIMITED)
    caplog.set_level(logging.INFO)
    result = ThuliumHook("thulium_limited").update_records(
        "00001", [{"phone_number": "48500100209", "agent_login": "k.nowak"}]
    )
    assert result == {"48500100209": {"http_status": 400, "message": "Agent not found."}}
    assert [r.method for r in thulium_sandbox.requests] == ["GET", "PUT"]
    lines = [line for line in all_logs(caplog, capfd).splitlines() if "may not list campaign 00001's agents" in line]
    assert len(lines) == 1 and "answered 403" in lines[0]


# -- run_dag refuses a run that would run nothing. --


@pytest.mark.usefixtures("airflow_db")
def test_run_dag_of_a_future_dated_dag_raises_and_runs_with_a_logical_date(thulium_sandbox):
    start = datetime.now(timezone.utc) + timedelta(days=30)
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(
            task_id="remove", campaign_id="00001", phone_numbers=["48500100206"], start_date=start
        )
    with pytest.raises(
        ValueError, match=r"no task of DAG 'thulium_test_\d+' would run at the logical date .*start_date"
    ):
        run_dag(dag)
    assert thulium_sandbox.requests == []
    run = run_dag(dag, logical_date=start + timedelta(hours=1))
    assert task_states(run) == {"remove": "success"}
    assert thulium_sandbox.state.find("00001", "48500100206") == []

    with DAG("thulium_test_future_dag", schedule=None, start_date=start) as future:  # the DAG's own start_date
        ThuliumDeleteRecordsOperator(task_id="remove", campaign_id="00001", phone_numbers=["48500100207"])
    with pytest.raises(
        ValueError, match=r"its tasks start on .* \(start_date\)\. The run would succeed having run nothing"
    ):
        run_dag(future)
    assert len(thulium_sandbox.requests) == 1  # the first run's delete only


@pytest.mark.usefixtures("airflow_db")
def test_run_dag_logs_no_missing_bundle_folder(thulium_sandbox, monkeypatch, tmp_path, caplog, capfd):
    from airflow import settings

    # A user's conftest sets a throwaway AIRFLOW_HOME, which has no DAG folder.
    monkeypatch.setattr(settings, "DAGS_FOLDER", str(tmp_path / "dags"))
    caplog.set_level(logging.INFO)
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(task_id="remove", campaign_id="00001", phone_numbers=["48500100206"])
    assert task_states(run_dag(dag)) == {"remove": "success"}
    logs = all_logs(caplog, capfd)
    assert "REMOVED 1" in logs  # the run's own lines are captured here
    assert "path does not exist" not in logs
