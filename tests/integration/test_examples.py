"""The example DAGs import cleanly and run to success against the sandbox in real DAG runs."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from airflow_provider_thulium.testing import run_dag, task_states, xcom

try:  # Airflow 3
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # Airflow 2.11
    from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

EXAMPLES = Path(__file__).parents[2] / "dags_examples"

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.fixture(scope="module")
def examples() -> DagBag:
    return DagBag(dag_folder=str(EXAMPLES), include_examples=False) if _has_examples_arg() else DagBag(str(EXAMPLES))


def _has_examples_arg() -> bool:
    import inspect

    return "include_examples" in inspect.signature(DagBag.__init__).parameters


def test_examples_import_without_errors(examples):
    assert examples.import_errors == {}
    assert set(examples.dag_ids) == {
        "thulium_opt_out_sync",
        "thulium_crm_status_sync",
        "thulium_crm_sync",
        "thulium_scale_out",
    }
    for dag in examples.dags.values():
        assert dag.doc_md or dag.description or examples.dags[dag.dag_id].fileloc


def test_opt_out_sync(examples, thulium_sandbox, monkeypatch, tmp_path):
    monkeypatch.setenv("THULIUM_REPORT_DIR", str(tmp_path))
    run = run_dag(examples.get_dag("thulium_opt_out_sync"))
    assert task_states(run) == {"read_opt_outs": "success", "remove_opt_outs": "success", "report_outcomes": "success"}
    results = xcom(run, "remove_opt_outs")
    assert [entry["status"] for entry in results["48500100201"]] == ["REMOVED", "REMOVED"]
    assert results["48500100299"][0]["status"] == "REMOVED"  # found by its additional number
    assert results["48999000111"][0]["status"] == "NOT_EXIST"
    assert thulium_sandbox.state.find("00001", "48500100206") == []
    assert len(thulium_sandbox.state.find("00002", "48500100200")) == 1  # the other campaign is untouched
    with (tmp_path / "thulium_opt_out_report.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 6 and {row["status"] for row in rows} == {"REMOVED", "NOT_EXIST"}


def test_crm_status_sync_branches_on_failures(examples, thulium_sandbox):
    run = run_dag(examples.get_dag("thulium_crm_status_sync"))
    assert task_states(run) == {
        "build_records": "success",
        "apply_crm_statuses": "success",
        "any_failures": "success",
        "follow_up_failures": "success",
        "all_synced": "skipped",
    }
    summary = xcom(run, "apply_crm_statuses", "summary")
    assert summary["failed_phones"] == ["48500100209"]  # its owner is not an agent on the account
    assert xcom(run, "follow_up_failures")[0]["message"] == "Agent not found."
    (record,) = thulium_sandbox.state.find("00001", "48500100207")
    assert (record["status_id"], record["agent_login"], record["next_call_date"]) == (4, "j.doe", "2030-07-02 14:00")
    assert record["record_fields"] == {"crm_id": "C-2007", "segment": "vip"}


def test_scale_out_maps_over_campaigns_and_chunks(examples, thulium_sandbox):
    run = run_dag(examples.get_dag("thulium_scale_out"))
    states = task_states(run)
    assert states == {
        "remove_everywhere[0]": "success",
        "remove_everywhere[1]": "success",
        "chunks": "success",
        "remove_chunk[0]": "success",
        "remove_chunk[1]": "success",
        "total": "success",
    }
    # Both mapped tasks are added up: one REMOVED per campaign, and the chunks.
    assert xcom(run, "total") == {"NOT_EXIST": 2, "REMOVED": 7}
    assert thulium_sandbox.state.find("00001", "48500100200") == []
    assert thulium_sandbox.state.find("00002", "48500100200") == []


def test_crm_sync_previews_then_adds_edits_what_the_crm_owns_removes_and_reports(
    examples, thulium_sandbox, monkeypatch, tmp_path
):
    monkeypatch.setenv("THULIUM_REPORT_DIR", str(tmp_path))
    run = run_dag(examples.get_dag("thulium_crm_sync"))
    assert task_states(run) == {
        "read_crm_export": "success",
        "preview_sync": "success",
        "sync_campaign": "success",
        "report_campaign": "success",
    }
    preview = xcom(run, "preview_sync", "summary")
    assert preview["dry_run"] is True and preview["requests"] == 1  # the one page of the campaign
    plan = {"add": 4, "update": 1, "remove": 2, "unchanged": 0}
    assert {key: preview["plan"][key] for key in plan} == plan
    synced = xcom(run, "sync_campaign")
    assert {phone: (entry["action"], entry["result"]) for phone, entry in synced.items()} == {
        "48600100300": ("ADD", synced["48600100300"]["result"]),
        "48600100301": ("ADD", synced["48600100301"]["result"]),
        "48600100302": ("ADD", synced["48600100302"]["result"]),
        "48600100303": ("ADD", synced["48600100303"]["result"]),
        "48600100201": ("UPDATE", {"http_status": 204}),  # already in the campaign: its CRM id only
        "48600100200": ("REMOVE", [{"http_status": 200, "record_id": 1013, "status": "REMOVED"}]),  # opted out
        "48500100200": ("REMOVE", [{"http_status": 200, "record_id": 1015, "status": "REMOVED"}]),  # not in the CRM
    }
    summary = xcom(run, "sync_campaign", "summary")
    assert summary["outcomes"] == {"ADDED": 4, "REMOVED": 2, "UPDATED": 1} and summary["plan"] == preview["plan"]
    state = thulium_sandbox.state
    (edited,) = state.find("00002", "48600100201")
    # The agent's status ("Interested") is kept; the CRM's "My record" is used only for new leads.
    assert (edited["status_id"], edited["agent_login"], edited["record_fields"]) == (22, None, {"crm_id": "C-1014"})
    (called_back,) = state.find("00002", "48600100302")
    assert called_back["status_id"] == 23  # "Call back later" is 23 in this campaign, 5 in the other
    (assigned,) = state.find("00002", "48600100303")
    assert (assigned["status_id"], assigned["agent_login"]) == (24, "j.doe")
    assert state.find("00002", "48600100200") == [] and state.find("00002", "48500100200") == []
    with (tmp_path / "thulium_campaign_00002.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert sorted(row["phone_number"] for row in rows) == sorted(r["phone_number"] for r in state.records("00002"))
    assert len(rows) == 5
