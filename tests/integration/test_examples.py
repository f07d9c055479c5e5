"""The example DAGs import cleanly and run to success against the sandbox in real DAG runs."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from airflow_provider_thulium.testing import run_dag, task_states, xcom
from airflow_provider_thulium.version_compat import AIRFLOW_V_3_0_PLUS
from tests.helpers import crm_database

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
        "thulium_campaign_producer",
        "thulium_campaign_report",
        "thulium_deferrable_delete",
        "thulium_call_outcomes",
        # An asset watcher: Airflow 3 only (on 2.11 the file defines no DAG).
        *(["thulium_campaign_called_through"] if AIRFLOW_V_3_0_PLUS else []),
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
    assert summary["failed_phones"] == ["48500100219"]  # a lead the campaign no longer has
    assert xcom(run, "follow_up_failures")[0]["message"] == "Record not found."
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


@pytest.fixture
def crm_db(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_CRM_DB", crm_database(tmp_path))


def test_crm_sync_excludes_opt_outs_syncs_what_the_crm_owns_reading_the_campaign_once_and_reports(
    examples, thulium_sandbox, crm_db, monkeypatch, tmp_path
):
    monkeypatch.setenv("THULIUM_REPORT_DIR", str(tmp_path))
    run = run_dag(examples.get_dag("thulium_crm_sync"))
    assert task_states(run) == {"results_files": "success", "sync_campaign": "success", "report_campaign": "success"}
    # The leads came from the SQL table and the results went to a file: XCom holds its path.
    assert xcom(run, "sync_campaign") == str(tmp_path / "crm_sync_leads.csv")
    with (tmp_path / "crm_sync_leads.csv").open() as file:
        synced = {row["phone_number"]: (row["outcome"], row["succeeded"]) for row in csv.DictReader(file)}
    assert synced == {
        "48600100300": ("ADDED", "true"),
        "48600100301": ("ADDED", "true"),
        "48600100302": ("ADDED", "true"),
        "48600100303": ("ADDED", "true"),
        "48600100201": ("UPDATED", "true"),  # already in the campaign: its CRM id only
        "48500100200": ("REMOVED", "true"),  # not in the CRM
        "48600100200": ("REMOVED", "true"),  # an opt-out (exclude), removed by the sync itself
    }
    summary = xcom(run, "sync_campaign", "summary")
    assert summary["dry_run"] is False and summary["outcomes"] == {"ADDED": 4, "REMOVED": 2, "UPDATED": 1}
    plan = {"add": 4, "update": 1, "remove": 2, "unchanged": 0, "excluded": 1}
    assert {key: summary["plan"][key] for key in plan} == plan
    # The campaign is read once a night (its one page, before the report's own read); one request per call.
    gets = [r for r in thulium_sandbox.requests if r.method == "GET" and r.path.endswith("/records")]
    assert len(gets) == 2
    assert sorted(r.method for r in thulium_sandbox.requests if r.method != "GET") == ["DELETE", "POST", "PUT"]
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


def test_crm_sync_reviewed_by_hand_with_a_dry_run_from_its_params(
    examples, thulium_sandbox, crm_db, monkeypatch, tmp_path
):
    monkeypatch.setenv("THULIUM_REPORT_DIR", str(tmp_path))
    before = thulium_sandbox.state.records("00002")
    run = run_dag(examples.get_dag("thulium_crm_sync"), conf={"dry_run": True})
    assert task_states(run)["sync_campaign"] == "success"
    summary = xcom(run, "sync_campaign", "summary")
    assert summary["dry_run"] is True and summary["guard"] == "passed"
    assert {key: summary["plan"][key] for key in ("add", "update", "remove", "excluded")} == {
        "add": 4,
        "update": 1,
        "remove": 2,
        "excluded": 1,
    }
    assert {r.method for r in thulium_sandbox.requests} == {"GET"}  # only reads
    assert thulium_sandbox.state.records("00002") == before
    with (tmp_path / "crm_sync_leads.csv").open() as file:
        assert len(list(csv.DictReader(file))) == 7  # the whole plan, for the reviewer


def test_campaign_asset_pair(examples, thulium_sandbox):
    """The producer records an asset event for the campaign it wrote; the report DAG is scheduled on that asset."""
    producer, report = examples.get_dag("thulium_campaign_producer"), examples.get_dag("thulium_campaign_report")
    (campaign,) = producer.get_task("add_leads").outlets
    assert campaign.uri == "thulium://acme.thulium.com/outbounds/00001"
    assert [asset.uri for asset in _schedule_assets(report)] == [campaign.uri]

    if not AIRFLOW_V_3_0_PLUS:
        producer.sync_to_db()  # Airflow 2.11 records events only of datasets a stored DAG declares
    run = run_dag(producer)
    assert task_states(run) == {"add_leads": "success"}
    assert xcom(run, "add_leads", "summary")["outcomes"] == {"ADDED": 2}
    assert _asset_events(campaign.uri, run) == 1

    run = run_dag(report)
    assert task_states(run) == {"report_statuses": "success"}
    # The demo campaign's 12 records and the 2 leads the producer added, one of them "Contact needed".
    assert xcom(run, "report_statuses") == {
        "Call back later": 1,
        "Contact needed": 2,
        "In progress": 1,
        "My record": 1,
        "New": 8,
        "Not interested": 1,
    }


def _schedule_assets(dag) -> list:
    """The assets a DAG is scheduled on (Airflow 3: ``timetable.asset_condition``; 2.11: ``dataset_triggers``)."""
    condition = getattr(dag.timetable, "asset_condition", None) or dag.timetable.dataset_condition
    return list(condition.objects)


def _asset_events(uri: str, run) -> int:
    """How many asset events the run recorded for ``uri``, read from the metadata database."""
    from airflow.utils.session import create_session

    try:  # Airflow 3
        from airflow.models.asset import AssetEvent as Event
        from airflow.models.asset import AssetModel as Model

        key = "asset_id"
    except ImportError:  # Airflow 2.11
        from airflow.models.dataset import DatasetEvent as Event  # type: ignore[no-redef]
        from airflow.models.dataset import DatasetModel as Model

        key = "dataset_id"
    with create_session() as session:
        (model,) = session.query(Model).filter_by(uri=uri).all()
        return session.query(Event).filter_by(**{key: model.id, "source_run_id": run.run_id}).count()


def test_deferrable_delete_waits_for_the_call_and_then_removes_the_record(examples, thulium_sandbox):
    from airflow_provider_thulium.sandbox import Fault

    # The call ends when the retry arrives, as the system test has it.
    thulium_sandbox.add_fault(
        Fault(method="DELETE", after=1, action=lambda s: s.state.set_in_call("00001", "48500100203", False))
    )
    run = run_dag(examples.get_dag("thulium_deferrable_delete"))
    assert task_states(run) == {"delete_in_call": "success"}
    results = xcom(run, "delete_in_call")
    assert results["48500100203"][0]["status"] == "REMOVED"
    assert thulium_sandbox.state.find("00001", "48500100203") == []
    deletes = [request for request in thulium_sandbox.requests if request.method == "DELETE"]
    assert [request.query["phone_number[]"] for request in deletes] == [["48500100203", "48500100204"], ["48500100203"]]


def test_deferrable_delete_reports_a_phone_still_in_a_call_and_succeeds(examples, thulium_sandbox):
    run = run_dag(examples.get_dag("thulium_deferrable_delete"))
    assert task_states(run) == {"delete_in_call": "success"}
    assert xcom(run, "delete_in_call")["48500100203"][0]["status"] == "CALL_IN_PROGRESS"
    assert xcom(run, "delete_in_call", "summary")["outcomes"].get("CALL_IN_PROGRESS") == 1


@pytest.fixture
def warehouse(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "warehouse.db"
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    return path


def test_call_outcomes_exports_yesterday_into_the_warehouse_and_reports_when_called_through(
    examples, thulium_sandbox, warehouse
):
    import sqlite3

    dag = examples.get_dag("thulium_call_outcomes")
    # The run of the morning of 2025-03-09: its interval starts on 2025-03-08, the day it exports.
    run = run_dag(dag, logical_date=datetime(2025, 3, 9, 6, tzinfo=timezone.utc))
    assert task_states(run) == {
        "export_outcomes": "success",
        "wait_until_called_through": "success",  # 11 records still to call: at most 20
        "report_outcomes": "success",
    }
    summary = xcom(run, "export_outcomes")
    assert summary["filters"] == {"called_from": "2025-03-08", "called_to": "2025-03-08"}
    assert (summary["rows"], summary["table"], summary["key"]) == (2, "call_outcomes", ["record_id"])
    assert xcom(run, "report_outcomes") == {"Call back later": 1, "Not interested": 1}
    with sqlite3.connect(warehouse) as db:
        rows = db.execute("SELECT record_id, outcome, called_at, note FROM call_outcomes ORDER BY record_id").fetchall()
    assert rows == [
        (1010, "Not interested", "2025-03-08T09:30:00+01:00", "Has a contract elsewhere."),
        (1011, "Call back later", "2025-03-08T09:40:00+01:00", "Call after payday."),
    ]


def test_call_outcomes_loads_the_day_its_conf_names(examples, thulium_sandbox, warehouse):
    # A run triggered by hand today: its interval is around now, the conf names the day to load.
    run = run_dag(examples.get_dag("thulium_call_outcomes"), conf={"day": "2025-03-07"})
    assert set(task_states(run).values()) == {"success"}
    summary = xcom(run, "export_outcomes")
    assert summary["filters"] == {"called_from": "2025-03-07", "called_to": "2025-03-07"} and summary["rows"] == 1
    assert xcom(run, "report_outcomes") == {"Contact needed": 1}  # record 1006, called on 2025-03-07


@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="asset watchers are Airflow 3's")
def test_campaign_called_through_is_scheduled_by_an_asset_watcher_and_exports_the_campaign(
    examples, thulium_sandbox, tmp_path
):
    dag = examples.get_dag("thulium_campaign_called_through")
    (asset,) = _schedule_assets(dag)
    (watcher,) = asset.watchers
    classpath, kwargs = watcher.trigger.serialize()
    assert classpath == "airflow_provider_thulium.triggers.thulium.ThuliumCampaignTrigger"
    assert (kwargs["campaign_id"], kwargs["max_records"], kwargs["watch"]) == ("00002", 0, True)

    run = run_dag(dag, conf={"report_dir": str(tmp_path)})
    assert task_states(run) == {"export_final_outcomes": "success"}
    with (tmp_path / "campaign_00002_final_outcomes.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert [row["phone_number"] for row in rows] == [r["phone_number"] for r in thulium_sandbox.state.records("00002")]
    assert rows[1]["status"] == "Interested" and rows[1]["call_date"] == "2025-03-11T15:20:00+01:00"
