"""OpenLineage events of real task runs: the campaign a task wrote is its output, a file source its input.

Runs with the OpenLineage provider and its file transport (``make test-openlineage``), on Airflow 3
and 2.11; skipped where the provider is not installed.
"""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("airflow.providers.openlineage", reason="the OpenLineage provider is not installed")

from airflow.providers.common.compat.sdk import task

from airflow_provider_thulium.destinations import FileDestination, SqlDestination
from airflow_provider_thulium.hooks.thulium import ThuliumHook
from airflow_provider_thulium.operators.thulium import (
    ThuliumAddRecordsOperator,
    ThuliumDeleteRecordsOperator,
    ThuliumExportRecordsOperator,
    ThuliumSyncCampaignOperator,
    ThuliumUpdateRecordsOperator,
)
from airflow_provider_thulium.sources import FileSource
from airflow_provider_thulium.testing import run_dag, task_states
from tests.helpers import new_dag, set_connection

pytestmark = pytest.mark.usefixtures("airflow_db")

SNIPPETS = Path(__file__).parents[2] / "docs" / "snippets"


def _datasets(datasets: list[dict[str, Any]]) -> list[tuple[str, str, Any]]:
    """(namespace, name, rowCount of its output statistics or None) of each dataset of an event."""
    return [
        (d["namespace"], d["name"], d.get("outputFacets", {}).get("outputStatistics", {}).get("rowCount"))
        for d in datasets
    ]


def test_each_records_operator_reports_the_campaign_it_wrote(thulium_sandbox, openlineage_event):
    namespace = f"thulium://127.0.0.1:{thulium_sandbox.port}"
    phones = ["48500100201", "48999000111", "48500100206", "48500100207", "48600100399", "48500100200"]
    with new_dag() as dag:
        # Two records removed for one phone, and a phone with nothing to remove: one phone applied.
        ThuliumDeleteRecordsOperator(task_id="delete", campaign_id="00001", phone_numbers=phones[:2])
        ThuliumUpdateRecordsOperator(
            task_id="update",
            campaign_id=1,
            records=[{"phone_number": phone, "status": "Contact needed"} for phone in phones[2:4]],
        )
        # One record added, one already in the campaign (skipped, not applied).
        ThuliumAddRecordsOperator(
            task_id="add", campaign_id="00002", records=[{"phone_number": phone} for phone in phones[4:]]
        )
    run = run_dag(dag)
    assert set(task_states(run).values()) == {"success"}

    for task_id, campaign, applied in [("delete", "00001", 1), ("update", "00001", 2), ("add", "00002", 1)]:
        event = openlineage_event(dag.dag_id, task_id, "COMPLETE")
        assert _datasets(event["outputs"]) == [(namespace, f"outbounds/{campaign}", applied)], task_id
        assert event["inputs"] == [], task_id
        # Personal data stays out of the lineage: no phone number in any event of these tasks.
        for event_type in ("START", "COMPLETE"):
            text = json.dumps(openlineage_event(dag.dag_id, task_id, event_type))
            assert not [phone for phone in phones if phone in text], (task_id, event_type)


def test_an_export_reports_the_campaign_it_read_and_the_file_it_wrote(thulium_sandbox, openlineage_event, tmp_path):
    path = tmp_path / "outcomes.csv"
    with new_dag() as dag:
        ThuliumExportRecordsOperator(
            task_id="export", campaign_id=1, destination=FileDestination(str(path)), filters={"status_ids": [2, 5]}
        )
    run = run_dag(dag)
    assert task_states(run) == {"export": "success"}
    event = openlineage_event(dag.dag_id, "export", "COMPLETE")
    assert _datasets(event["inputs"]) == [(f"thulium://127.0.0.1:{thulium_sandbox.port}", "outbounds/00001", None)]
    assert _datasets(event["outputs"]) == [("file", str(path), 2)]
    assert "48500100" not in json.dumps(event)  # the records' numbers went to the file, not the lineage


def test_an_export_into_a_table_reports_the_table_it_wrote(thulium_sandbox, openlineage_event, tmp_path, monkeypatch):
    database = tmp_path / "warehouse.db"
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(database)}))
    with new_dag() as dag:
        ThuliumExportRecordsOperator(
            task_id="export",
            campaign_id=1,
            destination=SqlDestination("warehouse", "call_outcomes", key="record_id"),
            filters={"status_ids": [2, 5]},
        )
    run = run_dag(dag)
    assert task_states(run) == {"export": "success"}
    event = openlineage_event(dag.dag_id, "export", "COMPLETE")
    # SQLite's hook gives common-sql no database info: the connection names the table's namespace.
    assert _datasets(event["outputs"]) == [(f"sqlite://{database}", "call_outcomes", 2)]
    assert "48500100" not in json.dumps(event)


def test_a_failed_task_reports_the_phones_applied_before_it_failed(thulium_sandbox, openlineage_event):
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(
            task_id="delete",
            campaign_id="00001",
            phone_numbers=["48500100206", "48500100208", "48999000111"],
            not_exist_is_success=False,  # the unknown phone fails the task, after the other two are removed
        )
    run = run_dag(dag)
    assert task_states(run) == {"delete": "failed"}
    event = openlineage_event(dag.dag_id, "delete", "FAIL")
    assert _datasets(event["outputs"]) == [(f"thulium://127.0.0.1:{thulium_sandbox.port}", "outbounds/00001", 2)]


def test_the_hook_in_a_task_reports_the_campaign_it_read_and_the_one_it_wrote(thulium_sandbox, openlineage_event):
    dag = runpy.run_path(str(SNIPPETS / "lineage_hook_task.py"))["dag"]  # the docs' example
    run = run_dag(dag)
    assert task_states(run) == {"remove_refusals": "success"}
    event = openlineage_event(dag.dag_id, "remove_refusals", "COMPLETE")
    namespace = f"thulium://127.0.0.1:{thulium_sandbox.port}"
    assert _datasets(event["inputs"]) == [(namespace, "outbounds/00001", None)]
    assert _datasets(event["outputs"]) == [(namespace, "outbounds/00002", None)]


def test_the_hooks_stream_calls_report_the_campaign_they_write(thulium_sandbox, openlineage_event):
    with new_dag() as dag:

        @task
        def stream() -> int:
            with closing(ThuliumHook().stream_delete_records("00002", ["48600100200"])) as batches:
                return sum(len(batch.phones) for batch in batches)

        stream()
    run = run_dag(dag)
    assert task_states(run) == {"stream": "success"}
    event = openlineage_event(dag.dag_id, "stream", "COMPLETE")
    assert _datasets(event["outputs"]) == [(f"thulium://127.0.0.1:{thulium_sandbox.port}", "outbounds/00002", None)]


def test_a_call_refused_before_sending_reports_no_output(thulium_sandbox, openlineage_event):
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(task_id="operator", campaign_id="00001", phone_numbers=["not a phone"])

        @task
        def hook() -> None:
            ThuliumHook().delete_records("00001", ["not a phone"])

        hook()
    run = run_dag(dag)
    assert task_states(run) == {"operator": "failed", "hook": "failed"}
    for task_id in ("operator", "hook"):
        assert openlineage_event(dag.dag_id, task_id, "FAIL")["outputs"] == [], task_id


# -- sources and results files


def test_a_real_file_source_and_results_file_in_a_task_run(thulium_sandbox, openlineage_event, tmp_path):
    opt_outs = tmp_path / "opt_outs.csv"
    opt_outs.write_text("phone_number\n48500100206\n48999000111\n")
    results = tmp_path / "removed.jsonl"
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(
            task_id="delete",
            campaign_id="00001",
            phone_numbers=FileSource(f"file://{opt_outs}"),
            results_path=str(results),
        )
    run = run_dag(dag)
    assert task_states(run) == {"delete": "success"}
    event = openlineage_event(dag.dag_id, "delete", "COMPLETE")
    assert _datasets(event["inputs"]) == [("file", str(opt_outs), None)]
    assert _datasets(event["outputs"]) == [
        (f"thulium://127.0.0.1:{thulium_sandbox.port}", "outbounds/00001", 1),
        ("file", str(results), None),
    ]
    assert "48500100206" not in json.dumps(event)


def test_the_sync_reports_every_record_it_applied(thulium_sandbox, openlineage_event):
    leads = [{"phone_number": "48600100390"}, {"phone_number": "48600100201", "record_fields": {"crm_id": "C-9"}}]
    with new_dag() as dag:
        ThuliumSyncCampaignOperator(task_id="sync", campaign_id="00002", records=leads)
    run = run_dag(dag)
    assert task_states(run) == {"sync": "success"}
    event = openlineage_event(dag.dag_id, "sync", "COMPLETE")
    # One record added and one edited; the campaign's other records are left (no remove_missing).
    assert _datasets(event["outputs"]) == [(f"thulium://127.0.0.1:{thulium_sandbox.port}", "outbounds/00002", 2)]


# -- stand-ins: any object with the sources' public attributes


class FileSourceStandIn:
    """The public attributes of ``FileSource(path, conn_id=None, …)``."""

    def __init__(self, path: str, conn_id: str | None = None) -> None:
        self.path, self.conn_id = path, conn_id


class SqlSourceStandIn:
    """The public attributes of ``SqlSource(conn_id, sql, …)``."""

    def __init__(self, conn_id: str, sql: str) -> None:
        self.conn_id, self.sql = conn_id, sql


@pytest.fixture
def account(monkeypatch):
    set_connection(monkeypatch, "thulium_default", host="acme.thulium.com", login="api_user", password="secret")


@pytest.mark.usefixtures("account")
@pytest.mark.parametrize(
    ("path", "conn_id", "dataset"),
    [
        ("/data/opt_outs.csv", None, ("file", "/data/opt_outs.csv")),
        ("s3://crm-exports/daily/opt_outs.csv", "aws_crm", ("s3://crm-exports", "daily/opt_outs.csv")),
    ],
)
def test_a_file_source_is_the_input_before_any_run(path, conn_id, dataset):
    operator = ThuliumDeleteRecordsOperator(
        task_id="delete", campaign_id="00001", phone_numbers=FileSourceStandIn(path, conn_id)
    )
    operator.results_path = "/reports/00001.jsonl"
    lineage = operator.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [dataset]
    # Not run: no campaign and no results file among the outputs (a run adds both: see the tests above).
    assert lineage.outputs == []


@pytest.mark.usefixtures("account")
def test_a_query_without_lineage_support_in_its_hook_reports_no_input(monkeypatch, tmp_path):
    # SQLite's hook does not tell OpenLineage its database: the tables cannot be named, and that is no error.
    monkeypatch.setenv("AIRFLOW_CONN_CRM_DB", f"sqlite:///{tmp_path / 'crm.db'}")
    operator = ThuliumAddRecordsOperator(
        task_id="add", campaign_id="00002", records=SqlSourceStandIn("crm_db", "SELECT phone_number FROM leads")
    )
    lineage = operator.get_openlineage_facets_on_complete(None)
    assert lineage.inputs == []


def test_the_provider_imports_nothing_of_openlineage_until_asked():
    # In a fresh interpreter, as a worker parsing a DAG file: OpenLineage is installed here, yet unused.
    # (Airflow's providers manager reads every provider's metadata, the OpenLineage provider's too.)
    code = (
        "import json, sys\n"
        "import airflow_provider_thulium.hooks.thulium, airflow_provider_thulium.operators.thulium\n"
        "import airflow_provider_thulium.lineage, airflow_provider_thulium.get_provider_info\n"
        "print(json.dumps([name for name in sys.modules if 'openlineage' in name]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    imported = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert imported <= {"airflow.providers.openlineage", "airflow.providers.openlineage.get_provider_info"}
