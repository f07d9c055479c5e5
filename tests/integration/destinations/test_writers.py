"""Exports through the hook over real HTTP to the sandbox: every record into CSV, JSON Lines, Parquet and SQLite."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
from pathlib import Path

import pytest

from airflow_provider_thulium.destinations import FileDestination, SqlDestination
from airflow_provider_thulium.exceptions import ThuliumUnavailableError, ThuliumValidationError
from airflow_provider_thulium.hooks.thulium import ThuliumHook
from airflow_provider_thulium.sandbox import Fault
from tests.helpers import FAST_RETRIES

CAMPAIGN = "00001"
#: Records added to the demo campaign: 1,062 in all, eleven pages, read four at a time.
ADDED = 1050


@pytest.fixture
def big_campaign(thulium_sandbox):
    """The demo campaign and 1,050 more records called on 2025-03-08 at 17:45, "Contact needed"."""
    thulium_sandbox.state.bulk_add(
        CAMPAIGN,
        (f"4870{n:07d}" for n in range(ADDED)),
        status_id=2,
        create_date="2025-03-01 08:00",
        call_date="2025-03-08 17:45",
    )
    return thulium_sandbox


def expected_rows(sandbox) -> list[dict]:
    """The campaign's records as the export should type them, from the sandbox's own state."""
    statuses = {int(s["status_id"]): s for s in sandbox.state.statuses(CAMPAIGN)}
    rows = []
    for record in sandbox.state.records(CAMPAIGN):
        status = statuses[record["status_id"]]
        rows.append(
            {
                "record_id": record["record_id"],
                "phone_number": record["phone_number"],
                "status": status["name"],
                "status_id": record["status_id"],
                "call_date": _iso(record["call_date"]),
                "identifier": record["identifier"],
                "order": record["order"],
            }
        )
    return rows


def _iso(value: str | None) -> str | None:
    # Warsaw is on +01:00 in the seeds' months (January to March 2025).
    return None if not value else value.replace(" ", "T") + ":00+01:00"


COLUMNS = ["record_id", "phone_number", "status", "status_id", "call_date", "identifier", "order"]


def read_back(path: Path, file_format: str) -> list[dict]:
    if file_format == "csv":
        with path.open(newline="") as file:
            rows = list(csv.DictReader(file))
        assert list(rows[0]) == COLUMNS
        # CSV cells are text: the typed values as written, an empty cell for no value.
        return [
            {
                key: (int(value) if key in ("record_id", "status_id", "order") and value else value or None)
                for key, value in row.items()
            }
            for row in rows
        ]
    if file_format == "jsonl":
        return [json.loads(line) for line in path.read_text().splitlines()]
    parquet = pytest.importorskip("pyarrow.parquet")
    table = parquet.read_table(path)
    assert [str(kind) for kind in table.schema.types] == [
        "int64",
        "string",
        "string",
        "int64",
        "timestamp[ms, tz=Europe/Warsaw]",
        "string",
        "int64",
    ]
    rows = table.to_pylist()
    for row in rows:
        row["call_date"] = row["call_date"].isoformat() if row["call_date"] else None
    return rows


@pytest.mark.parametrize("file_format", ["csv", "jsonl", "parquet"])
def test_every_record_to_a_file_typed_in_order_pages_read_four_at_a_time(big_campaign, tmp_path, file_format):
    if file_format == "parquet":
        pytest.importorskip("pyarrow")
    path = tmp_path / "out" / f"outcomes.{file_format}"
    hook = ThuliumHook(max_concurrent_requests=4)
    summary = hook.export_records(CAMPAIGN, FileDestination(str(path)), columns=COLUMNS)

    assert read_back(path, file_format) == expected_rows(big_campaign)
    assert summary["rows"] == ADDED + 12 and summary["format"] == file_format
    assert summary["path"] == str(path) and summary["columns"] == COLUMNS and summary["filters"] == {}
    pages = [r for r in big_campaign.requests if r.path.endswith("/records")]
    assert summary["requests"] == len(pages) == 11
    assert sorted(int(r.query["offset"][0]) for r in pages) == list(range(0, 1100, 100))
    assert os.listdir(path.parent) == [path.name]  # no scratch file left beside it


def test_a_rerun_replaces_the_file_and_a_failed_run_leaves_it_as_it_was(big_campaign, tmp_path):
    path = tmp_path / "outcomes.csv"
    path.write_text("an older export\n")
    hook = ThuliumHook(**FAST_RETRIES, max_retries=1)
    hook.export_records(CAMPAIGN, FileDestination(str(path)), columns=["record_id"], system_statuses="NO_CALL")
    assert path.read_text() == "record_id\n1010\n"

    big_campaign.add_fault(Fault(status=503, method="GET", path="records", after=3, times=100))
    with pytest.raises(ThuliumUnavailableError):
        hook.export_records(CAMPAIGN, FileDestination(str(path)), columns=["record_id"])
    assert path.read_text() == "record_id\n1010\n"
    assert os.listdir(tmp_path) == ["outcomes.csv"]


def object_storage_takes_file_urls() -> bool:
    """Whether this Airflow's ObjectStoragePath takes a ``file://`` URL (Airflow 2.11.0 with
    universal-pathlib 0.3, the floors, refuses the ``file`` protocol)."""
    from airflow_provider_thulium.version_compat import ObjectStoragePath

    try:
        ObjectStoragePath("file:///tmp/probe")
    except TypeError:
        return False
    return True


def test_object_storage_paths_go_through_object_storage_path(thulium_sandbox, tmp_path, monkeypatch):
    # A file:// URL with a connection is written through ObjectStoragePath, as s3:// or gs:// would be.
    if not object_storage_takes_file_urls():
        pytest.skip("this Airflow's ObjectStoragePath refuses file:// URLs (Airflow 2.11.0, universal-pathlib 0.3)")
    monkeypatch.setenv("AIRFLOW_CONN_FILES", json.dumps({"conn_type": "fs"}))
    path = tmp_path / "outcomes.jsonl"
    summary = ThuliumHook().export_records(
        CAMPAIGN, FileDestination(f"file://{path}", conn_id="files"), columns={"record_id": "id"}, status_ids=[2, 5]
    )
    assert [json.loads(line) for line in path.read_text().splitlines()] == [{"id": 1006}, {"id": 1011}]
    assert (summary["path"], summary["conn_id"]) == (f"file://{path}", "files")
    assert summary["filters"] == {"status_ids": [2, 5]}


@pytest.fixture
def warehouse(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "warehouse.db"
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    return path


def table_rows(path: Path, sql: str = "SELECT * FROM call_outcomes ORDER BY record_id") -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


def test_a_day_into_sqlite_twice_gives_the_same_rows_and_a_changed_outcome_replaces_its_row(thulium_sandbox, warehouse):
    destination = SqlDestination("warehouse", "call_outcomes", key="record_id")
    columns = {"record_id": "record_id", "status": "outcome", "call_date": "called_at", "last_note": "note"}
    day = {"called_from": "2025-03-08", "called_to": "2025-03-08"}
    hook = ThuliumHook()

    first = hook.export_records(CAMPAIGN, destination, columns=columns, **day)
    assert first["rows"] == 2 and first["key"] == ["record_id"]
    assert (first["table"], first["conn_id"]) == ("call_outcomes", "warehouse")
    rows = table_rows(warehouse)
    assert rows == [
        (1010, "Not interested", "2025-03-08T09:30:00+01:00", "Has a contract elsewhere."),
        (1011, "Call back later", "2025-03-08T09:40:00+01:00", "Call after payday."),
    ]
    hook.export_records(CAMPAIGN, destination, columns=columns, **day)
    assert table_rows(warehouse) == rows  # a re-run: the same rows, not twice as many

    # An agent calls 1011 again the same day: now "Not interested".
    thulium_sandbox.state.update_record(CAMPAIGN, 1011, status_id=9, call_date="2025-03-08 18:05", last_note="No.")
    hook.export_records(CAMPAIGN, destination, columns=columns, **day)
    assert table_rows(warehouse) == [rows[0], (1011, "Not interested", "2025-03-08T18:05:00+01:00", "No.")]
    # SQLite reads the offsets: the instant is right.
    assert table_rows(warehouse, "SELECT datetime(called_at) FROM call_outcomes WHERE record_id = 1011") == [
        ("2025-03-08 17:05:00",)
    ]


def test_the_created_table_is_typed_and_keyed_and_without_a_key_every_run_adds(thulium_sandbox, warehouse):
    hook = ThuliumHook()
    hook.export_records(CAMPAIGN, SqlDestination("warehouse", "call_outcomes", key="record_id"))
    with sqlite3.connect(warehouse) as db:
        info = db.execute("PRAGMA table_info(call_outcomes)").fetchall()
    assert [(name, kind, primary) for _, name, kind, _, _, primary in info] == [
        ("record_id", "BIGINT", 1),
        ("phone_number", "TEXT", 0),
        ("system_status", "TEXT", 0),
        ("status", "TEXT", 0),
        ("status_id", "BIGINT", 0),
        ("call_date", "TIMESTAMP", 0),
        ("create_date", "TIMESTAMP", 0),
        ("next_call_date", "TIMESTAMP", 0),
        ("agent_name", "TEXT", 0),
        ("agent_login", "TEXT", 0),
        ("last_note", "TEXT", 0),
        ("identifier", "TEXT", 0),
        ("order", "BIGINT", 0),  # a reserved word, quoted
    ]
    assert table_rows(warehouse, "SELECT COUNT(*), COUNT(DISTINCT record_id) FROM call_outcomes") == [(12, 12)]

    appended = SqlDestination("warehouse", "log_of_calls")
    for _ in range(2):
        hook.export_records(CAMPAIGN, appended, columns=["record_id"], called_from="2025-03-01")
    assert table_rows(warehouse, "SELECT record_id FROM log_of_calls ORDER BY record_id") == [
        (1005,),
        (1005,),
        (1006,),
        (1006,),
        (1007,),
        (1007,),
        (1010,),
        (1010,),
        (1011,),
        (1011,),
    ]


def test_a_failed_load_changes_nothing_in_the_table(big_campaign, warehouse):
    hook = ThuliumHook(**FAST_RETRIES, max_retries=1)
    destination = SqlDestination("warehouse", "call_outcomes", key="record_id")
    hook.export_records(CAMPAIGN, destination, columns=["record_id", "status"], system_statuses="NO_CALL")
    big_campaign.add_fault(Fault(status=503, method="GET", path="records", after=3, times=100))
    with pytest.raises(ThuliumUnavailableError):
        hook.export_records(CAMPAIGN, destination, columns=["record_id", "status"])  # 1,000 rows written, then 503s
    assert table_rows(warehouse) == [(1010, "Not interested")]  # one transaction, rolled back


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ({"called_at": "2025-03-08"}, "filters: 'called_at' is not a filter; known: status_ids, system_statuses"),
        ({"called_from": "08.03.2025"}, "called_from: expected a date"),
        ({"system_statuses": "DONE"}, "system_statuses: 'DONE' is not a system status"),
        ({"columns": {"called": "x"}}, "columns: 'called' is no record key"),
        ({"destination": SqlDestination("warehouse", "x; DROP TABLE x")}, "SqlDestination table: 'x; DROP"),
        ({"columns": {"status": "the outcome"}}, "columns: 'the outcome' is not a column name a SQL destination"),
        ({"destination": SqlDestination("warehouse", "t", key="id")}, "SqlDestination key: 'id' is not among"),
        ({"destination": FileDestination("/tmp/outcomes.xlsx")}, "FileDestination path: the extension '.xlsx'"),
        ({"campaign_id": "1 OR 1"}, "campaign_id"),
    ],
)
def test_bad_input_is_refused_naming_the_field_before_anything_is_sent(thulium_sandbox, warehouse, call, message):
    arguments = {"campaign_id": CAMPAIGN, "destination": SqlDestination("warehouse", "outcomes"), **call}
    campaign_id, destination = arguments.pop("campaign_id"), arguments.pop("destination")
    with pytest.raises(ThuliumValidationError, match=message.replace("(", r"\(")):
        ThuliumHook().export_records(campaign_id, destination, **arguments)
    assert thulium_sandbox.request_count == 0
    assert not warehouse.exists()
