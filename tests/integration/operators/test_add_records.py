"""Adding records, upserts, status names and paged reads: hook calls over HTTP and real task runs."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest

from airflow_provider_thulium.exceptions import ThuliumPermissionError, ThuliumValidationError
from airflow_provider_thulium.hooks.thulium import ThuliumHook
from airflow_provider_thulium.operators.thulium import ThuliumAddRecordsOperator
from airflow_provider_thulium.sandbox import Fault
from airflow_provider_thulium.testing import latest_run, run_dag, task_states, xcom
from tests.helpers import FAST_RETRIES, all_logs, new_dag, set_connection, tries

NEW = ["48600100001", "48600100002"]
EXISTING = "48500100204"  # record 1006 of the demo campaign 00001, single


def records_of(sandbox, phone: str) -> list[dict]:
    return sandbox.state.find("00001", phone)


@pytest.mark.usefixtures("airflow_db")
def test_add_new_existing_and_failing_records_in_a_dag_run(thulium_sandbox):
    records = [
        {"phone_number": NEW[0], "status": "Contact needed", "identifier": "C-1", "record_fields": {"crm_id": "C-1"}},
        {"phone_number": NEW[1], "status_id": 1, "order": 50},
        {"phone_number": EXISTING, "status_id": 2},
        {"phone_number": "48600100003", "status_id": 99},
        {"phone_number": "48600100004", "record_fields": {"no_such_field": "x"}},
    ]
    with new_dag() as dag:
        ThuliumAddRecordsOperator(task_id="add", campaign_id=1, records=records, hook_params=FAST_RETRIES)
    run = run_dag(dag)

    assert task_states(run) == {"add": "failed"}  # two phones FAILED
    results = xcom(run, "add")
    assert list(results) == [r["phone_number"] for r in records]
    assert results[NEW[0]]["status"] == "ADDED" and results[NEW[0]]["http_status"] == 201
    assert results[EXISTING] == {"http_status": 400, "record_id": 1006, "status": "ALREADY_EXISTS"}
    assert results["48600100003"]["status"] == "FAILED" and "Status" in results["48600100003"]["message"]
    assert results["48600100004"]["status"] == "FAILED" and "no_such_field" in results["48600100004"]["message"]
    summary = xcom(run, "add", "summary")
    assert summary["operation"] == "add"
    assert summary["outcomes"] == {"ADDED": 2, "ALREADY_EXISTS": 1, "FAILED": 2}
    assert summary["failed_phones"] == ["48600100003", "48600100004"]
    added = records_of(thulium_sandbox, NEW[0])
    assert len(added) == 1 and added[0]["status_id"] == 2 and added[0]["identifier"] == "C-1"
    assert len(records_of(thulium_sandbox, EXISTING)) == 1


@pytest.mark.usefixtures("airflow_db")
@pytest.mark.parametrize(
    ("on_existing", "state", "outcome"),
    [("skip", "success", "ALREADY_EXISTS"), ("update", "success", "UPDATED"), ("fail", "failed", "ALREADY_EXISTS")],
)
def test_each_on_existing_mode(thulium_sandbox, on_existing, state, outcome):
    records = [
        {"phone_number": NEW[0], "status": "New"},
        {"phone_number": EXISTING, "status": "Not interested", "identifier": "X-9", "record_fields": {"segment": "b"}},
    ]
    with new_dag() as dag:
        ThuliumAddRecordsOperator(task_id="add", campaign_id="00001", records=records, on_existing=on_existing)
    run = run_dag(dag)

    assert task_states(run) == {"add": state}
    entry = xcom(run, "add")[EXISTING]
    assert entry["status"] == outcome and entry["record_id"] == 1006
    existing = records_of(thulium_sandbox, EXISTING)[0]
    if on_existing == "update":
        assert entry["http_status"] == 204
        assert existing["status_id"] == 9 and existing["record_fields"]["segment"] == "b"
        assert existing.get("identifier") != "X-9"  # add-only: not editable, and the summary says so
        assert "which an edit cannot change" in xcom(run, "add", "summary")["warnings"][0]
        assert [r.method for r in thulium_sandbox.requests] == ["GET", "POST", "PUT"]
    else:
        assert existing["status_id"] != 9
        assert xcom(run, "add", "summary")["warnings"] == []  # records already there: a normal re-run
        assert [r.method for r in thulium_sandbox.requests] == ["GET", "POST"]


def test_upsert_warns_about_add_only_fields(thulium_sandbox, caplog, capfd):
    hook = ThuliumHook()
    result = hook.add_records(1, [{"phone_number": EXISTING, "order": 5, "status_id": 3}], on_existing="update")
    assert result[EXISTING]["status"] == "UPDATED"
    assert "identifier or order, which an edit cannot change" in all_logs(caplog, capfd)


def test_a_phone_twice_is_refused_before_sending(thulium_sandbox):
    with pytest.raises(ThuliumValidationError, match=r"records\[1\].*already in records\[0\].*cannot add"):
        ThuliumHook().add_records(1, [{"phone_number": NEW[0]}, {"phone_number": NEW[0], "status_id": 1}])
    assert thulium_sandbox.requests == []


def test_unknown_or_ambiguous_status_names_fail_before_anything_is_sent(thulium_sandbox):
    hook = ThuliumHook()
    with pytest.raises(ThuliumValidationError, match=r"no status 'Maybe later'.*9 'Not interested' \(NO_CALL\)"):
        hook.add_records(1, [{"phone_number": NEW[0], "status": "Maybe later"}])
    with pytest.raises(ThuliumValidationError, match="'NO_CALL' names several statuses"):
        hook.update_records(1, [{"phone_number": EXISTING, "status": "NO_CALL"}])
    with pytest.raises(ThuliumValidationError, match=r"either status .* or status_id"):
        hook.update_records(1, [{"phone_number": EXISTING, "status": "New", "status_id": 1}])
    with pytest.raises(ThuliumValidationError, match="MY_RECORD, which needs agent_login and next_call_date"):
        hook.update_records(1, [{"phone_number": EXISTING, "status": "My record"}])
    with pytest.raises(ThuliumValidationError, match=r"records\[1\].*CALL_NO_SOONER_THAN, which needs next_call_date$"):
        hook.update_records(1, [{"phone_number": NEW[0], "status": "New"}, {"phone_number": EXISTING, "status_id": 5}])
    assert [r.method for r in thulium_sandbox.requests] == [
        "GET"
    ] * 4  # only statuses were read (not for the both-given case)


def test_names_and_system_statuses_resolve_per_campaign(thulium_sandbox):
    hook = ThuliumHook()
    result = hook.update_records(
        1,
        [
            {"phone_number": EXISTING, "status": " not interested "},
            {"phone_number": "48500100205", "status": "CALL_NO_SOONER_THAN", "next_call_date": "2030-02-01 09:00"},
        ],
    )
    assert {phone: entry["http_status"] for phone, entry in result.items()} == {EXISTING: 204, "48500100205": 204}
    assert records_of(thulium_sandbox, EXISTING)[0]["status_id"] == 9
    assert records_of(thulium_sandbox, "48500100205")[0]["status_id"] == 5


def test_numeric_ids_make_no_extra_request_and_names_need_the_permission(thulium_sandbox, monkeypatch):
    set_connection(
        monkeypatch, "thulium_limited", host=thulium_sandbox.url, login="limited_user", password="limited_pass"
    )
    hook = ThuliumHook("thulium_limited")
    assert hook.update_records(1, [{"phone_number": EXISTING, "status_id": 3}])[EXISTING]["http_status"] == 204
    assert [r.method for r in thulium_sandbox.requests] == ["PUT"]
    with pytest.raises(ThuliumPermissionError, match=r"statuses must be read.*grant it that permission"):
        hook.update_records(1, [{"phone_number": EXISTING, "status": "New"}])


def test_get_statuses_as_documented_with_int_ids(thulium_sandbox):
    statuses = ThuliumHook().get_statuses("00001")
    assert statuses[1] == {"status_id": 2, "name": "Contact needed", "system_status": "CALL", "dictionary_status_id": 2}
    assert all(type(status["status_id"]) is int for status in statuses)


def test_iter_records_pages_with_filters_and_counts(thulium_sandbox):
    phones = [f"4861{n:07d}" for n in range(250)]
    thulium_sandbox.state.add_campaign("00031", "Paging")
    thulium_sandbox.state.bulk_add("00031", phones[:130], create_date="2030-01-01 10:00")
    thulium_sandbox.state.bulk_add("00031", phones[130:], create_date="2030-01-03 10:00")
    hook = ThuliumHook()

    read = list(hook.iter_records("00031"))
    assert [record["phone_number"] for record in read] == phones
    pages = [r for r in thulium_sandbox.requests if r.path.endswith("/records")]
    assert [r.query["offset"] for r in pages] == [["0"], ["100"], ["200"]]
    assert all(r.query["limit"] == ["100"] for r in pages)
    assert hook.count_records("00031") == 250
    assert hook.count_records("00031", created_from=date(2030, 1, 2)) == 120
    later = list(hook.iter_records("00031", created_from="2030-01-02", created_to="2030-01-03"))
    assert [record["phone_number"] for record in later] == phones[130:]
    assert list(hook.iter_records("00031", system_statuses=["NO_CALL"])) == []
    with pytest.raises(ThuliumValidationError, match="system_statuses: 'NOPE'"):
        hook.iter_records("00031", system_statuses=["NOPE"])
    with pytest.raises(ThuliumValidationError, match="created_from"):
        hook.iter_records("00031", created_from="yesterday")


def test_records_removed_while_paging_are_not_repeated_and_a_warning_says_so(thulium_sandbox, caplog, capfd):
    phones = [f"4862{n:07d}" for n in range(150)]
    thulium_sandbox.state.add_campaign("00032", "Changing")
    thulium_sandbox.state.bulk_add("00032", phones)

    def remove_ten_of_the_first_page(sandbox) -> None:
        campaign = sandbox.state.campaigns["00032"]
        for record_id in list(campaign.records)[:10]:
            campaign.remove(record_id)

    # Before the second page is served, ten records of the first are removed: offset 100 then
    # starts ten records further on, so ten are skipped.
    thulium_sandbox.add_fault(Fault(method="GET", after=1, action=remove_ten_of_the_first_page))
    read = [record["phone_number"] for record in ThuliumHook().iter_records("00032")]
    assert len(read) == len(set(read)) == 140
    assert read == phones[:100] + phones[110:]
    logs = all_logs(caplog, capfd)
    assert "changed while its records were read (150 matching records at the first page, 140 at the last)" in logs


@pytest.mark.usefixtures("airflow_db")
def test_a_task_retried_after_it_was_stopped_mid_add_finishes_green_without_doubles(thulium_sandbox):
    phones = [f"4863{n:07d}" for n in range(30)]
    thulium_sandbox.state.add_campaign("00033", "Retried")
    thulium_sandbox.add_fault(Fault(method="POST", delay=4.0, after=1))  # the second batch answers late
    with new_dag() as dag:
        ThuliumAddRecordsOperator(
            task_id="add",
            campaign_id="00033",
            records=[{"phone_number": phone, "status_id": 1} for phone in phones],
            execution_timeout=timedelta(seconds=2),
            retries=1,
            retry_delay=timedelta(seconds=0),
            hook_params={"max_batch_size": 10},
        )
    started = time.monotonic()
    try:
        run = run_dag(dag)
    except BaseException as exc:  # Airflow 2.11's dag.test() lets the timeout escape: run it again, as a retry would
        assert type(exc).__name__ == "AirflowTaskTimeout"
        assert xcom(latest_run(dag.dag_id), "add")[phones[29]]["status"] in ("INTERRUPTED", "NOT_SENT")
        time.sleep(max(0.0, started + 5.0 - time.monotonic()))  # the late batch is in
        run = run_dag(dag)
    assert task_states(run) == {"add": "success"}
    statuses = {entry["status"] for entry in xcom(run, "add").values()}
    assert statuses <= {"ADDED", "ALREADY_EXISTS"} and "ALREADY_EXISTS" in statuses
    stored = [record["phone_number"] for record in thulium_sandbox.state.records("00033")]
    assert sorted(stored) == phones  # each once


@pytest.mark.usefixtures("airflow_db")
@pytest.mark.parametrize(
    ("records", "why"),
    [
        ([{"phone_number": NEW[0]}, {"phone_number": NEW[0], "status_id": 2}], "already in records[0]"),
        ([{"phone_number": NEW[0], "status": "Maybe later"}], "no status 'Maybe later'"),
    ],
    ids=["duplicated phone", "unknown status name"],
)
def test_bad_add_input_fails_the_task_once_before_anything_is_sent(thulium_sandbox, records, why):
    with new_dag() as dag:
        ThuliumAddRecordsOperator(
            task_id="add", campaign_id=1, records=records, retries=2, retry_delay=timedelta(seconds=0)
        )
    try:
        run = run_dag(dag)
    except BaseException as exc:
        assert why in str(exc)
        run = latest_run(dag.dag_id)
    assert task_states(run) == {"add": "failed"}
    assert tries(run) == {"add": 1}  # fail-fast: Airflow's retries are not spent on bad input
    assert [r.method for r in thulium_sandbox.requests if r.method != "GET"] == []  # no add was sent
    assert thulium_sandbox.state.find("00001", NEW[0]) == []


@pytest.mark.usefixtures("airflow_db")
def test_iter_records_in_a_task_pages_through_filters(thulium_sandbox):
    from airflow.providers.common.compat.sdk import task

    phones = [f"4864{n:07d}" for n in range(250)]
    thulium_sandbox.state.add_campaign("00034", "Report")
    thulium_sandbox.state.bulk_add("00034", phones[:40], create_date="2030-01-01 10:00")
    thulium_sandbox.state.bulk_add("00034", phones[40:], create_date="2030-01-05 10:00")

    @task(show_return_value_in_logs=False)
    def report() -> dict[str, int]:
        hook = ThuliumHook()
        recent = sum(1 for _ in hook.iter_records("00034", created_from="2030-01-02"))
        return {"all": sum(1 for _ in hook.iter_records("00034")), "recent": recent}

    with new_dag() as dag:
        report()
    run = run_dag(dag)
    assert task_states(run) == {"report": "success"}
    assert xcom(run, "report") == {"all": 250, "recent": 210}
    offsets = [r.query["offset"][0] for r in thulium_sandbox.requests if r.path.endswith("/00034/records")]
    assert offsets == ["0", "100", "200", "0", "100", "200"]


def test_the_add_operator_refuses_a_flag_the_call_does_not_take():
    with pytest.raises(ValueError, match="search_in_additional_numbers does not apply"):
        ThuliumAddRecordsOperator(task_id="add", campaign_id=1, records=[], search_in_additional_numbers=True)
    with pytest.raises(ThuliumValidationError, match="on_existing"):
        ThuliumAddRecordsOperator(task_id="add", campaign_id=1, records=[], on_existing="merge")
    with pytest.raises(ThuliumValidationError, match="update_fields: 'stauts' is not a field an edit can change"):
        ThuliumAddRecordsOperator(
            task_id="add", campaign_id=1, records=[], on_existing="update", update_fields=["stauts"]
        )


@pytest.mark.usefixtures("airflow_db")
def test_an_upsert_with_update_fields_edits_only_those_and_keeps_the_agents_status(thulium_sandbox):
    records = [
        {"phone_number": NEW[0], "status": "New", "record_fields": {"crm_id": "C-1"}},
        {"phone_number": "48500100208", "status": "New", "record_fields": {"crm_id": "C-208"}},  # "Not interested"
    ]
    with new_dag() as dag:
        ThuliumAddRecordsOperator(
            task_id="add", campaign_id=1, records=records, on_existing="update", update_fields=["record_fields"]
        )
    run = run_dag(dag)

    assert task_states(run) == {"add": "success"}
    assert xcom(run, "add", "summary")["outcomes"] == {"ADDED": 1, "UPDATED": 1}
    (put,) = [request for request in thulium_sandbox.requests if request.method == "PUT"]
    assert put.body["records"] == [{"phone_number": "48500100208", "record_fields": {"crm_id": "C-208"}}]
    (kept,) = records_of(thulium_sandbox, "48500100208")
    assert (kept["status_id"], kept["record_fields"]) == (9, {"crm_id": "C-208"})
