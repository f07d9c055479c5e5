"""ThuliumSyncCampaignOperator in real task runs against the sandbox: the plan, the guard, dry runs, state files."""

from __future__ import annotations

import csv
import json
import os
import runpy
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import task

from airflow_provider_thulium.exceptions import ThuliumValidationError
from airflow_provider_thulium.hooks.thulium import ThuliumHook
from airflow_provider_thulium.operators.thulium import ThuliumAddRecordsOperator, ThuliumSyncCampaignOperator
from airflow_provider_thulium.sandbox import Fault
from airflow_provider_thulium.testing import run_dag, task_states, xcom
from tests.helpers import FAST_RETRIES, new_dag, tries

pytestmark = pytest.mark.usefixtures("airflow_db")

CAMPAIGN = "00001"
NEW_LEADS = ["48500100300", "48500100301"]
# Demo campaign 00001: agents set 48500100205 to "My record", 48500100208 to "Not interested" and
# 48500100209 to "Call back later"; 48500100201 is held by two records.
AGENTS_STATUSES = {"48500100205": 4, "48500100208": 9, "48500100209": 5}


def crm_leads(phones: list[str], **fields: Any) -> list[dict[str, Any]]:
    """The CRM's leads: status "New" as a new lead gets, and a CRM id per phone."""
    return [{"phone_number": p, "status": "New", "record_fields": {"crm_id": f"C-{p[-3:]}"}, **fields} for p in phones]


def writes(sandbox: Any) -> list[Any]:
    """The requests of the run that were not reads."""
    return [request for request in sandbox.requests if request.method != "GET"]


def sync_task(**kwargs: Any) -> Any:
    with new_dag() as dag:
        ThuliumSyncCampaignOperator(task_id="sync", campaign_id=CAMPAIGN, hook_params=FAST_RETRIES, **kwargs)
    return dag


def test_a_default_sync_adds_only_the_new_leads_and_keeps_the_agents_statuses(thulium_sandbox):
    in_campaign = ["48500100200", "48500100201", "48500100202", "48500100204", "48500100205", "48500100208"]
    leads = crm_leads([*in_campaign, "48500100209", *NEW_LEADS])
    leads[0]["record_fields"] = {"crm_id": "C-1000"}  # as the campaign holds it already
    thulium_sandbox.clear_requests()

    run = run_dag(sync_task(records=leads))

    assert task_states(run) == {"sync": "success"}
    summary = xcom(run, "sync", "summary")
    assert summary["plan"] == {
        "add": 2,
        "update": 5,
        "update_unreadable": 0,
        "remove": 0,
        "unchanged": 2,
        "duplicates": 1,
        "desired": 9,
        "campaign_records": 12,
        "excluded": 0,
    }
    (post,) = [r for r in writes(thulium_sandbox) if r.method == "POST"]
    assert [record["phone_number"] for record in post.body["records"]] == NEW_LEADS
    (put,) = [r for r in writes(thulium_sandbox) if r.method == "PUT"]
    assert {record["phone_number"] for record in put.body["records"]} == {
        "48500100202",
        "48500100204",
        "48500100205",
        "48500100208",
        "48500100209",
    }
    assert all(set(record) == {"phone_number", "record_fields"} for record in put.body["records"])
    state = thulium_sandbox.state
    for phone, status_id in AGENTS_STATUSES.items():
        (record,) = state.find(CAMPAIGN, phone)
        assert record["status_id"] == status_id and record["record_fields"]["crm_id"] == f"C-{phone[-3:]}"
    assert [r["status_id"] for p in NEW_LEADS for r in state.find(CAMPAIGN, p)] == [1, 1]
    results = xcom(run, "sync")
    assert results["48500100300"]["action"] == "ADD" and results["48500100300"]["result"]["status"] == "ADDED"
    # The record holds none of the record_fields sent: current shows so.
    assert results["48500100208"] == {
        "action": "UPDATE",
        "fields": ["record_fields"],
        "current": {"record_fields": {}},
        "result": {"http_status": 204},
    }
    assert results["48500100200"] == {"action": "UNCHANGED"}
    assert results["48500100201"]["action"] == "UNCHANGED" and "several records" in results["48500100201"]["reason"]
    assert summary["outcomes"] == {"ADDED": 2, "UNCHANGED": 2, "UPDATED": 5}
    assert any("held by several records" in warning for warning in summary["warnings"])


def test_update_fields_status_sends_exactly_the_records_whose_status_differs(thulium_sandbox):
    phones = [f"4850010020{i}" for i in (0, 2, 4, 5, 6, 7, 8, 9)] + ["48500100210"]
    leads = crm_leads(phones, agent_login="j.doe", next_call_date="2031-01-01 10:00")
    thulium_sandbox.clear_requests()

    run = run_dag(sync_task(records=leads, update_fields=["status"]))

    assert task_states(run) == {"sync": "success"}
    (put,) = writes(thulium_sandbox)
    assert put.method == "PUT"
    assert put.body["records"] == [
        {"phone_number": phone, "status_id": 1} for phone in ("48500100204", *AGENTS_STATUSES)
    ]
    assert xcom(run, "sync", "summary")["plan"]["update"] == 4
    assert all(thulium_sandbox.state.find(CAMPAIGN, phone)[0]["status_id"] == 1 for phone in phones)
    assert thulium_sandbox.state.find(CAMPAIGN, "48500100200")[0]["record_fields"]["crm_id"] == "C-1000"


def test_an_update_entry_shows_the_value_it_changes_and_the_file_can_leave_unchanged_phones_out(
    thulium_sandbox, tmp_path
):
    phones = ["48500100200", "48500100201", "48500100204", *AGENTS_STATUSES]
    results_path = tmp_path / "night.jsonl"
    thulium_sandbox.clear_requests()

    run = run_dag(
        sync_task(
            records=crm_leads(phones),
            update_fields=["status"],
            results_path=str(results_path),
            results_include_unchanged=False,
        )
    )

    assert task_states(run) == {"sync": "success"}
    lines = {line["phone_number"]: line for line in map(json.loads, results_path.read_text().splitlines())}
    # 48500100200 is unchanged and left out; the duplicate stays, with its reason.
    assert set(lines) == {"48500100201", "48500100204", *AGENTS_STATUSES}
    assert lines["48500100201"]["result"]["action"] == "UNCHANGED" and lines["48500100201"]["result"]["reason"]
    for phone, status_id in AGENTS_STATUSES.items():
        entry = lines[phone]["result"]
        assert entry["fields"] == ["status_id"] and entry["current"] == {"status_id": status_id}
        assert lines[phone]["outcome"] == "UPDATED"
    summary = xcom(run, "sync", "summary")
    assert summary["plan"]["unchanged"] == 2 and summary["outcomes"]["UNCHANGED"] == 2


def test_remove_missing_removes_exactly_the_others(thulium_sandbox):
    thulium_sandbox.state.set_in_call(CAMPAIGN, "48500100203", False)
    keep = [f"4850010020{i}" for i in (0, 2, 4, 5, 6, 7, 8, 9)] + ["48500100210"]
    thulium_sandbox.clear_requests()

    run = run_dag(sync_task(records=crm_leads(keep), update_fields=[], remove_missing=True, max_removals=2))

    assert task_states(run) == {"sync": "success"}
    (delete,) = writes(thulium_sandbox)
    assert delete.method == "DELETE" and sorted(delete.query["phone_number[]"]) == ["48500100201", "48500100203"]
    assert sorted({r["phone_number"] for r in thulium_sandbox.state.records(CAMPAIGN)}) == sorted(keep)
    results = xcom(run, "sync")
    assert [entry["status"] for entry in results["48500100201"]["result"]] == ["REMOVED", "REMOVED"]
    assert results["48500100201"]["action"] == "REMOVE"
    assert xcom(run, "sync", "summary")["plan"]["remove"] == 2


@pytest.mark.parametrize(
    ("records", "max_removals", "says"),
    [
        (
            crm_leads(["48500100200"]),
            0.1,
            "removes 10 phone(s) of the campaign's 12 record(s), more than max_removals allows (0.1",
        ),
        (
            crm_leads(["48500100200"]),
            9,
            "removes 10 phone(s) of the campaign's 12 record(s), more than max_removals allows (9)",
        ),
        ([], 100, "no desired records, while the campaign holds 12"),
    ],
)
def test_the_guard_fails_on_try_one_with_no_write(thulium_sandbox, records, max_removals, says):
    thulium_sandbox.clear_requests()
    with new_dag(default_args={"retries": 2, "retry_delay": timedelta(0)}) as dag:
        ThuliumSyncCampaignOperator(
            task_id="sync", campaign_id=CAMPAIGN, records=records, remove_missing=True, max_removals=max_removals
        )
    run = run_dag(dag)

    assert task_states(run) == {"sync": "failed"}
    assert tries(run) == {"sync": 1}
    assert writes(thulium_sandbox) == []
    assert len(thulium_sandbox.state.records(CAMPAIGN)) == 12
    summary = xcom(run, "sync", "summary")
    assert summary["plan"]["remove"] == (10 if records else 11) and summary["requests"] == 1
    assert says in summary["stopped_by"] and summary["dry_run"] is False


def test_max_removals_counts_phones_and_a_removed_phone_takes_all_its_records(thulium_sandbox):
    # 48500100201 is held by two records: one phone, as the guard counts, and both records go.
    keep = sorted({record["phone_number"] for record in thulium_sandbox.state.records(CAMPAIGN)} - {"48500100201"})
    run = run_dag(sync_task(records=crm_leads(keep), remove_missing=True, max_removals=1))

    assert task_states(run) == {"sync": "success"}
    assert xcom(run, "sync", "summary")["plan"]["remove"] == 1
    assert [entry["status"] for entry in xcom(run, "sync")["48500100201"]["result"]] == ["REMOVED", "REMOVED"]
    assert thulium_sandbox.state.find(CAMPAIGN, "48500100201") == []


def test_a_results_path_of_no_known_format_fails_before_any_request(thulium_sandbox, tmp_path):
    # Rendered at run time, so only the task can see it: it must refuse before the changes are sent,
    # or the results of a sync already applied would have nowhere to go.
    thulium_sandbox.clear_requests()
    with new_dag(params={"results": str(tmp_path / "sync.json")}) as dag:
        ThuliumSyncCampaignOperator(
            task_id="sync",
            campaign_id=CAMPAIGN,
            records=crm_leads(NEW_LEADS),
            results_path="{{ params.results }}",
        )
    run = run_dag(dag)

    assert task_states(run) == {"sync": "failed"}
    assert thulium_sandbox.requests == []
    assert len(thulium_sandbox.state.records(CAMPAIGN)) == 12
    assert not (tmp_path / "sync.json").exists()


@pytest.mark.parametrize("operator", [ThuliumSyncCampaignOperator, ThuliumAddRecordsOperator])
def test_a_plain_results_path_of_no_known_format_fails_when_the_dag_is_parsed(operator):
    with pytest.raises(ThuliumValidationError, match=r"results_path: 'out/sync\.json' should end in \.jsonl"):
        operator(task_id="sync", campaign_id=CAMPAIGN, records=[], results_path="out/sync.json")
    operator(task_id="no_file", campaign_id=CAMPAIGN, records=[], results_path="")  # no file, as None


def test_a_dry_run_makes_only_get_requests_and_reports_the_plan(thulium_sandbox):
    thulium_sandbox.clear_requests()

    run = run_dag(
        sync_task(
            records=crm_leads(["48500100200", "48500100202", *NEW_LEADS]),
            update_fields=["status", "record_fields"],
            remove_missing=True,
            max_removals=10,
            dry_run=True,
        )
    )

    assert task_states(run) == {"sync": "success"}
    assert {request.method for request in thulium_sandbox.requests} == {"GET"}
    assert len(thulium_sandbox.state.records(CAMPAIGN)) == 12
    summary = xcom(run, "sync", "summary")
    assert summary["dry_run"] is True and summary["requests"] == 1  # the one page of the campaign
    assert (summary["succeeded"], summary["failed"]) == (0, 0)  # nothing was applied
    assert (summary["plan"]["add"], summary["plan"]["update"], summary["plan"]["remove"]) == (2, 2, 9)
    results = xcom(run, "sync")
    assert results["48500100300"] == {"action": "ADD", "result": None}
    assert results["48500100206"] == {"action": "REMOVE", "result": None}


def test_with_state_path_unreadable_fields_are_sent_only_when_they_changed(
    thulium_sandbox_factory, monkeypatch, tmp_path
):
    sandbox = thulium_sandbox_factory(show_record_fields=False)
    monkeypatch.setenv("AIRFLOW_CONN_THULIUM_DEFAULT", sandbox.connection_json())
    phones = ["48500100202", "48500100204", "48500100206"]
    state_path = str(tmp_path / "sync-state.txt")

    def sync(leads: list[dict[str, Any]], **kwargs: Any) -> tuple[Any, list[list[str]]]:
        sandbox.clear_requests()
        run = run_dag(sync_task(records=leads, **kwargs))
        assert task_states(run) == {"sync": "success"}
        return run, [[r["phone_number"] for r in request.body["records"]] for request in writes(sandbox)]

    # Without a state file, record_fields cannot be compared: every such record is sent, and says why.
    run, sent = sync(crm_leads(phones))
    assert sent == [phones]
    assert "does not show" in xcom(run, "sync")["48500100202"]["reason"]
    _, sent = sync(crm_leads(phones), state_path=state_path)
    assert sent == [phones]
    _, sent = sync(crm_leads(phones), state_path=state_path)
    assert sent == []
    changed = crm_leads(phones)
    changed[1]["record_fields"] = {"crm_id": "C-NEW"}
    run, sent = sync(changed, state_path=state_path)
    assert sent == [["48500100204"]]
    assert xcom(run, "sync", "summary")["plan"]["update_unreadable"] == 1
    assert sandbox.state.find(CAMPAIGN, "48500100204")[0]["record_fields"] == {"crm_id": "C-NEW"}
    _, sent = sync(changed, state_path=state_path)
    assert sent == []


def test_a_failed_update_is_not_recorded_in_the_state_file(thulium_sandbox_factory, monkeypatch, tmp_path):
    sandbox = thulium_sandbox_factory(show_record_fields=False)
    monkeypatch.setenv("AIRFLOW_CONN_THULIUM_DEFAULT", sandbox.connection_json())
    state_path = str(tmp_path / "sync-state.txt")
    leads = crm_leads(["48500100202", "48500100204"])
    sandbox.add_fault(Fault(method="PUT", status=400))

    run = run_dag(sync_task(records=leads, state_path=state_path, fail_on_failed_phones=False))
    assert xcom(run, "sync", "summary")["failed"] == 2
    sandbox.clear_requests()
    run = run_dag(sync_task(records=leads, state_path=state_path))

    assert task_states(run) == {"sync": "success"}
    (put,) = writes(sandbox)
    assert [r["phone_number"] for r in put.body["records"]] == ["48500100202", "48500100204"]


def test_a_20000_record_sync_with_200_changes_sends_200_phones_in_a_handful_of_requests(thulium_sandbox):
    state = thulium_sandbox.state
    state.add_campaign("00020", "Big campaign")
    phones = [f"4870{i:07d}" for i in range(20_000)]
    state.bulk_add("00020", phones)
    thulium_sandbox.clear_requests()

    @task(show_return_value_in_logs=False)
    def crm() -> list[dict[str, Any]]:
        return [{"phone_number": p, "status_id": 2 if i % 100 == 0 else 1} for i, p in enumerate(phones)]

    with new_dag() as dag:
        ThuliumSyncCampaignOperator(
            task_id="sync",
            campaign_id="00020",
            records=crm(),
            update_fields=["status"],
            xcom_results="failures",
            hook_params={"max_concurrent_requests": 4},
        )
    run = run_dag(dag)

    assert task_states(run) == {"crm": "success", "sync": "success"}
    sent = writes(thulium_sandbox)
    assert len(sent) <= 3 and {r.method for r in sent} == {"PUT"}
    assert sorted(r["phone_number"] for request in sent for r in request.body["records"]) == phones[::100]
    # Its pages, each once, and the empty one past the count that ends the read (a count may lie low).
    assert sum(r.method == "GET" for r in thulium_sandbox.requests) == 20_000 // 100 + 1
    summary = xcom(run, "sync", "summary")
    assert summary["plan"]["update"] == 200 and summary["plan"]["unchanged"] == 19_800
    assert summary["outcomes"] == {"UNCHANGED": 19_800, "UPDATED": 200}


def test_the_hook_plans_without_writing_and_syncs(thulium_sandbox):
    hook = ThuliumHook()
    plan = hook.plan_sync(CAMPAIGN, crm_leads(["48500100200", *NEW_LEADS]), remove_missing=True)
    assert plan.counts()["add"] == 2 and plan.counts()["remove"] == 10
    assert writes(thulium_sandbox) == []
    results = hook.sync_campaign(CAMPAIGN, crm_leads(NEW_LEADS), update_fields=("status",))
    assert [entry["action"] for entry in results.values()] == ["ADD", "ADD"]


_KILLED_DAG = """
from datetime import datetime, timezone
from airflow.providers.common.compat.sdk import DAG
from airflow_provider_thulium.operators.thulium import ThuliumSyncCampaignOperator

with DAG("thulium_sync_killed", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)) as dag:
    ThuliumSyncCampaignOperator(
        task_id="sync",
        campaign_id="00001",
        records={records!r},
        update_fields=["status", "record_fields"],
        remove_missing=True,
        max_removals=12,
        state_path={state_path!r},
        hook_params={{"max_batch_size": 2, "backoff": 0.01}},
    )
"""


def test_a_sync_killed_mid_apply_and_run_again_ends_with_the_desired_campaign(
    thulium_sandbox_factory, monkeypatch, tmp_path
):
    sandbox = thulium_sandbox_factory(show_record_fields=False)
    sandbox.state.set_in_call(CAMPAIGN, "48500100203", False)
    leads = crm_leads(["48500100200", "48500100202", "48500100204", "48500100205", "48500100208", *NEW_LEADS])
    dag_file = tmp_path / "thulium_sync_killed.py"
    dag_file.write_text(textwrap.dedent(_KILLED_DAG.format(records=leads, state_path=str(tmp_path / "state.txt"))))
    env = {**os.environ, "AIRFLOW_CONN_THULIUM_DEFAULT": sandbox.connection_json(), "PYTHONPATH": str(Path.cwd())}
    script = (
        "import runpy, sys; from airflow_provider_thulium.testing import run_dag; "
        "run_dag(runpy.run_path(sys.argv[1])['dag'])"
    )
    worker = subprocess.Popen([sys.executable, "-c", script, str(dag_file)], env=env)
    # The worker dies as its second edit batch arrives: the removals (sent first) and the adds are
    # applied, some edits too.
    sandbox.add_fault(Fault(method="PUT", after=1, action=lambda _: os.kill(worker.pid, signal.SIGKILL)))
    assert worker.wait(timeout=120) == -signal.SIGKILL
    methods = [r.method for r in sandbox.requests if r.method != "GET"]
    assert methods[0] == "DELETE" and {"POST", "PUT"} <= set(methods)
    sandbox.clear_faults()

    monkeypatch.setenv("AIRFLOW_CONN_THULIUM_DEFAULT", sandbox.connection_json())
    run = run_dag(runpy.run_path(str(dag_file))["dag"])

    assert task_states(run) == {"sync": "success"}
    records = {r["phone_number"]: r for r in sandbox.state.records(CAMPAIGN)}
    assert sorted(records) == sorted(lead["phone_number"] for lead in leads)
    assert all(r["status_id"] == 1 and r["record_fields"]["crm_id"] == f"C-{p[-3:]}" for p, r in records.items())
    results = xcom(run, "sync")
    assert set(results) == set(records)  # the killed run had removed the others already
    assert xcom(run, "sync", "summary")["failed"] == 0


def test_a_record_moved_onto_the_next_page_while_the_plan_reads_is_read_once(thulium_sandbox):
    phones = [f"4864{n:07d}" for n in range(150)]
    thulium_sandbox.state.add_campaign("00033", "Changing")
    thulium_sandbox.state.bulk_add("00033", phones)

    def add_one_in_front(sandbox: Any) -> None:
        (record_id,) = sandbox.state.add_records("00033", [{"phone_number": "48649999999"}])
        campaign = sandbox.state.campaigns["00033"]
        campaign.records = {record_id: campaign.records.pop(record_id), **campaign.records}
        campaign.version += 1

    # Before the second page is served a record is put first: offset 100 then starts one record
    # earlier, and the last record of the first page comes again.
    thulium_sandbox.add_fault(Fault(method="GET", after=1, action=add_one_in_front))
    plan = ThuliumHook().plan_sync("00033", [{"phone_number": phone} for phone in phones])

    counts = plan.counts()
    assert (counts["unchanged"], counts["duplicates"], plan.records_read) == (150, 0, 150)
    assert not any("changed while it was read" in note for note in plan.notes)  # 150 counted, 150 read


def test_a_dry_runs_results_file_marks_no_phone_as_succeeded(thulium_sandbox, tmp_path):
    results_path = tmp_path / "plan.csv"
    with new_dag() as dag:
        ThuliumSyncCampaignOperator(
            task_id="sync",
            campaign_id="00002",
            records=[{"phone_number": "48600100390"}],
            dry_run=True,
            results_path=str(results_path),
        )
    run = run_dag(dag)
    assert task_states(run) == {"sync": "success"}
    with results_path.open() as file:
        rows = list(csv.DictReader(file))
    assert [(row["phone_number"], row["outcome"], row["succeeded"]) for row in rows] == [
        ("48600100390", "ADD", "false")
    ]
    assert thulium_sandbox.state.find("00002", "48600100390") == []


def test_a_sync_whose_updates_thulium_refuses_whole_stops_on_try_1_with_the_rest_not_sent(thulium_sandbox):
    phones = [f"4875{n:07d}" for n in range(3000)]
    thulium_sandbox.state.add_campaign("00008", "Fields", fields=["crm_id"])
    thulium_sandbox.state.bulk_add("00008", phones)
    records = [{"phone_number": phone, "record_fields": {"firstname": "Ann"}} for phone in phones]
    with new_dag() as dag:
        ThuliumSyncCampaignOperator(
            task_id="sync", campaign_id="00008", records=records, retries=2, hook_params=FAST_RETRIES
        )
    run = run_dag(dag)

    assert (task_states(run), tries(run)) == ({"sync": "failed"}, {"sync": 1})
    assert [r.method for r in writes(thulium_sandbox)] == ["PUT"]
    summary = xcom(run, "sync", "summary")
    assert "Unknown record field: firstname." in summary["stopped_by"]
    assert summary["outcomes"] == {"HTTP_400": 1000, "NOT_SENT": 2000}
    entries = xcom(run, "sync")
    assert list(entries) == phones
    assert entries[phones[-1]]["result"]["status"] == "NOT_SENT"
