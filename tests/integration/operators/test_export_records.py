"""ThuliumExportRecordsOperator in real task runs against the sandbox: files, a day window into SQLite, refusals."""

from __future__ import annotations

import csv
import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from airflow_provider_thulium.destinations import FileDestination, SqlDestination
from airflow_provider_thulium.exceptions import ThuliumValidationError
from airflow_provider_thulium.operators.thulium import ThuliumExportRecordsOperator
from airflow_provider_thulium.testing import run_dag, task_states, xcom
from tests.helpers import new_dag, tries, xcom_rows

pytestmark = pytest.mark.usefixtures("airflow_db")

CAMPAIGN = "00001"


def test_every_record_of_a_campaign_to_csv_json_lines_and_parquet(thulium_sandbox, tmp_path):
    thulium_sandbox.state.bulk_add(CAMPAIGN, (f"4870{n:07d}" for n in range(250)), call_date="2025-03-08 12:00")
    formats = ["csv", "jsonl"]
    try:
        import pyarrow.parquet as parquet
    except ImportError:  # Airflow 2.11's test environment has no pyarrow
        parquet = None
    else:
        formats.append("parquet")
    with new_dag(params={"folder": str(tmp_path)}) as dag:
        for file_format in formats:
            ThuliumExportRecordsOperator(
                task_id=f"to_{file_format}",
                campaign_id=1,
                destination=FileDestination(f"{{{{ params.folder }}}}/{{{{ ds }}}}/records.{file_format}"),
                hook_params={"max_concurrent_requests": 3},
            )
    run = run_dag(dag, logical_date=datetime(2025, 3, 9, 6, tzinfo=timezone.utc))

    assert task_states(run) == {f"to_{file_format}": "success" for file_format in formats}
    records = thulium_sandbox.state.records(CAMPAIGN)
    ids = [record["record_id"] for record in records]
    folder = tmp_path / "2025-03-09"
    with (folder / "records.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert [int(row["record_id"]) for row in rows] == ids
    assert rows[-1]["call_date"] == "2025-03-08T12:00:00+01:00" and rows[0]["next_call_date"] == ""
    lines = [json.loads(line) for line in (folder / "records.jsonl").read_text().splitlines()]
    assert [line["record_id"] for line in lines] == ids and lines[0]["agent_login"] is None
    if parquet is not None:
        table = parquet.read_table(folder / "records.parquet")
        assert table.column("record_id").to_pylist() == ids
        assert table.column("phone_number").to_pylist() == [record["phone_number"] for record in records]
    # The records never pass through XCom: each task returns where they went and how many.
    assert xcom_rows(run) == [(f"to_{file_format}", -1, "return_value") for file_format in sorted(formats)]
    summary = xcom(run, "to_csv")
    assert (summary["campaign_id"], summary["rows"], summary["path"]) == (CAMPAIGN, 262, str(folder / "records.csv"))
    assert summary["requests"] == 3 and summary["destination"] == f"file {folder / 'records.csv'}"


# The day window a daily DAG renders: the interval's first day, on 2.11 and 3.x alike
DAY = {"called_from": "{{ data_interval_start | ds }}", "called_to": "{{ data_interval_start | ds }}"}


def outcomes_dag():
    with new_dag() as dag:
        ThuliumExportRecordsOperator(
            task_id="export_outcomes",
            campaign_id=CAMPAIGN,
            filters=DAY,
            columns={"record_id": "record_id", "status": "outcome", "call_date": "called_at"},
            destination=SqlDestination("warehouse", "call_outcomes", key="record_id"),
        )
    return dag


def test_a_day_window_into_sqlite_twice_gives_the_same_rows_and_a_changed_outcome_replaces_its_row(
    thulium_sandbox, tmp_path, monkeypatch
):
    database = tmp_path / "warehouse.db"
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(database)}))

    def table() -> list[tuple]:
        with sqlite3.connect(database) as db:
            return db.execute("SELECT * FROM call_outcomes ORDER BY record_id").fetchall()

    dag = outcomes_dag()
    run = run_dag(dag, logical_date=datetime(2025, 3, 8, 6, tzinfo=timezone.utc))
    assert task_states(run) == {"export_outcomes": "success"}
    summary = xcom(run, "export_outcomes")
    assert summary["filters"] == {"called_from": "2025-03-08", "called_to": "2025-03-08"} and summary["rows"] == 2
    first = table()
    assert first == [
        (1010, "Not interested", "2025-03-08T09:30:00+01:00"),
        (1011, "Call back later", "2025-03-08T09:40:00+01:00"),
    ]

    run = run_dag(dag, logical_date=datetime(2025, 3, 8, 7, tzinfo=timezone.utc))  # the same day, again
    assert task_states(run) == {"export_outcomes": "success"}
    assert table() == first

    thulium_sandbox.state.update_record(CAMPAIGN, 1011, status_id=2, call_date="2025-03-08 19:10")
    run = run_dag(dag, logical_date=datetime(2025, 3, 8, 8, tzinfo=timezone.utc))
    assert task_states(run) == {"export_outcomes": "success"}
    assert table() == [first[0], (1011, "Contact needed", "2025-03-08T19:10:00+01:00")]


def test_a_filter_rendered_wrong_fails_the_task_at_once_without_retries_and_sends_nothing(thulium_sandbox, tmp_path):
    with new_dag() as dag:
        ThuliumExportRecordsOperator(
            task_id="export",
            campaign_id=CAMPAIGN,
            filters={"called_from": "{{ ts }}"},  # a time, not a day
            destination=FileDestination(str(tmp_path / "x.csv")),
            retries=2,
        )
    run = run_dag(dag, logical_date=datetime(2025, 3, 8, tzinfo=timezone.utc))
    assert task_states(run) == {"export": "failed"}
    assert tries(run) == {"export": 1}
    assert thulium_sandbox.request_count == 0 and not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"filters": {"day": "2025-03-08"}}, "filters: 'day' is not a filter"),
        ({"filters": {"called_from": "yesterday"}}, "called_from: expected a date"),
        ({"columns": {"outcome": "status"}}, "columns: 'outcome' is no record key"),
        ({"destination": "/data/x.csv"}, "destination: expected a FileDestination or a SqlDestination, got str"),
        ({"destination": FileDestination("/data/x.xlsx")}, "FileDestination path: the extension '.xlsx'"),
        ({"destination": SqlDestination("dwh", "outcomes", key="id")}, "SqlDestination key: 'id' is not among"),
        ({"destination": SqlDestination("dwh", "call outcomes")}, "SqlDestination table: 'call outcomes' is not"),
    ],
)
def test_bad_arguments_fail_when_the_dag_is_parsed(arguments, message):
    with pytest.raises(ThuliumValidationError, match=message):
        ThuliumExportRecordsOperator(
            task_id="export", campaign_id=CAMPAIGN, **{"destination": FileDestination("x.csv"), **arguments}
        )


def test_templated_arguments_are_checked_when_rendered_not_parsed():
    operator = ThuliumExportRecordsOperator(
        task_id="export",
        campaign_id="{{ params.campaign }}",
        filters={"called_from": "{{ ds }}"},
        columns="{{ params.columns }}",
        destination=SqlDestination("warehouse", "{{ params.table }}"),
    )
    assert operator.template_fields == ("campaign_id", "destination", "filters", "columns")
    assert SqlDestination.template_fields == ("table",) and FileDestination.template_fields == ("path",)
    assert Path(str(operator.destination.table)) == Path("{{ params.table }}")
