"""Records and phones from SQL and files, results to files: real task runs against the sandbox."""

from __future__ import annotations

import csv
import json
import sqlite3
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_thulium.calls.operations import DELETE
from airflow_provider_thulium.exceptions import ThuliumConfigurationError, ThuliumValidationError
from airflow_provider_thulium.hooks.thulium import ThuliumHook
from airflow_provider_thulium.operators.thulium import (
    ThuliumAddRecordsOperator,
    ThuliumDeleteRecordsOperator,
    ThuliumUpdateRecordsOperator,
)
from airflow_provider_thulium.results.results_file import CSV_COLUMNS, ResultsFile
from airflow_provider_thulium.runs.records_run import OutcomePolicy
from airflow_provider_thulium.sandbox import Fault
from airflow_provider_thulium.sources import FileSource, SqlSource
from airflow_provider_thulium.testing import run_dag, task_states, xcom
from tests.helpers import all_logs, new_dag, run_timed_out, tries

pytestmark = pytest.mark.usefixtures("airflow_db")


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


@pytest.fixture
def crm_db(tmp_path, monkeypatch) -> Path:
    """A SQLite CRM table, as the Airflow SQL connection ``crm_db``."""
    path = tmp_path / "crm.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE leads (msisdn INTEGER, stage TEXT, crm_id TEXT, segment TEXT, next_contact TEXT)")
        db.executemany(
            "INSERT INTO leads VALUES (?, ?, ?, ?, ?)",
            [
                (48600100001, "New", "C-1", "retail", None),
                (48600100002, "Contact needed", "C-2", None, None),
                (48600100003, "Call back later", "C-3", "vip", "2030-01-02 10:30:45"),
                (48500100204, "New", "C-4", None, None),  # already in campaign 00001
                (48600100004, "New", "C-5", "retail", None),  # not in the query (WHERE below)
            ],
        )
    monkeypatch.setenv("AIRFLOW_CONN_CRM_DB", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    return path


LEAD_COLUMNS = {
    "msisdn": "phone_number",
    "stage": "status",
    "crm_id": "record_fields.crm_id",
    "segment": "record_fields.segment",
    "next_contact": "next_call_date",
}


def test_add_from_a_sqlite_table_with_a_column_mapping_and_results_as_csv(thulium_sandbox, crm_db, tmp_path):
    results_path = tmp_path / "out" / "added.csv"
    with new_dag() as dag:
        ThuliumAddRecordsOperator(
            task_id="add",
            campaign_id="00001",
            records=SqlSource(
                "crm_db",
                sql="SELECT * FROM leads WHERE crm_id != '{{ params.skip }}' ORDER BY rowid",
                columns=LEAD_COLUMNS,
            ),
            params={"skip": "C-5"},
            results_path=str(results_path),
        )
    run = run_dag(dag)

    assert task_states(run) == {"add": "success"}
    assert xcom(run, "add") == str(results_path)
    summary = xcom(run, "add", "summary")
    assert summary["results_path"] == str(results_path)
    assert summary["outcomes"] == {"ADDED": 3, "ALREADY_EXISTS": 1}
    rows = read_csv(results_path)
    assert [row["phone_number"] for row in rows] == ["48600100001", "48600100002", "48600100003", "48500100204"]
    assert [row["outcome"] for row in rows] == ["ADDED", "ADDED", "ADDED", "ALREADY_EXISTS"]
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert rows[3]["record_id"] == "1006" and rows[3]["succeeded"] == "true"
    state = thulium_sandbox.state
    first, second, third = (state.find("00001", f"4860010000{n}")[0] for n in (1, 2, 3))
    assert (first["status_id"], first["record_fields"]) == (1, {"crm_id": "C-1", "segment": "retail"})
    assert (second["status_id"], second["record_fields"]) == (2, {"crm_id": "C-2"})  # NULL: no value
    assert (third["status_id"], third["next_call_date"]) == (5, "2030-01-02 10:30")  # seconds dropped
    assert state.find("00001", "48600100004") == []
    assert [r.method for r in thulium_sandbox.requests] == ["GET", "POST"]  # statuses read once, one batch


@pytest.mark.parametrize("as_url", [False, True], ids=["local path", "file://"])
def test_delete_from_a_csv_file_with_results_as_json_lines(thulium_sandbox, tmp_path, as_url):
    source = write_csv(
        tmp_path / "opt_outs.csv",
        ["phone", "reason"],
        [["48500100201", "web"], ["48999999999", "call"], ["48500100200", ""], ["48500100201", "again"]],
    )
    path = f"file://{source}" if as_url else str(tmp_path / "{{ params.name }}")
    results_path = tmp_path / "removed.jsonl"
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(
            task_id="delete",
            campaign_id="00001",
            phone_numbers=FileSource(path, columns={"phone": "phone_number"}),
            params={"name": "opt_outs.csv"},
            results_path=f"file://{results_path}" if as_url else str(results_path),
        )
    run = run_dag(dag)

    assert task_states(run) == {"delete": "success"}
    lines = read_jsonl(results_path)
    assert [line["phone_number"] for line in lines] == ["48500100201", "48999999999", "48500100200"]
    assert [line["outcome"] for line in lines] == ["REMOVED", "NOT_EXIST", "REMOVED"]
    assert all(line["succeeded"] for line in lines)
    assert [item["status"] for item in lines[0]["result"]] == ["REMOVED", "REMOVED"]  # the API's entry
    assert lines[1]["result"] == [{"http_status": 404, "status": "NOT_EXIST"}]
    assert xcom(run, "delete").endswith("removed.jsonl")
    assert thulium_sandbox.state.find("00001", "48500100201") == []


def test_update_from_json_lines(thulium_sandbox, tmp_path):
    source = tmp_path / "changes.jsonl"
    source.write_text(
        "\n".join(
            json.dumps(line)
            for line in [
                {"phone_number": "48500100200", "status_id": 9, "crm": {"nested": "no"}},
                {"phone_number": 48500100204, "agent": "j.doe", "next_call_date": "2030-03-04 08:15:59"},
            ]
        )
        + "\n"
    )
    results_path = tmp_path / "updated.csv"
    with new_dag() as dag:
        ThuliumUpdateRecordsOperator(
            task_id="update",
            campaign_id="00001",
            records=FileSource(str(source), columns={"crm": None, "agent": "agent_login"}),
            results_path=str(results_path),
        )
    run = run_dag(dag)

    assert task_states(run) == {"update": "success"}
    rows = read_csv(results_path)
    assert [(row["phone_number"], row["outcome"], row["http_status"]) for row in rows] == [
        ("48500100200", "UPDATED", "204"),
        ("48500100204", "UPDATED", "204"),
    ]
    updated = thulium_sandbox.state.find("00001", "48500100204")[0]
    assert (updated["agent_login"], updated["next_call_date"]) == ("j.doe", "2030-03-04 08:15")
    assert thulium_sandbox.state.find("00001", "48500100200")[0]["status_id"] == 9


def test_a_bad_row_deep_in_a_file_fails_the_first_try_with_nothing_sent(thulium_sandbox, tmp_path, caplog, capfd):
    rows = [[f"4870{n:07d}", "New", f"C-{n}"] for n in range(10_000)]
    rows[9_876][1] = ""  # fine: no status
    rows[9_877][0] = "48-70-123"
    source = write_csv(tmp_path / "leads.csv", ["msisdn", "stage", "crm_id"], rows)
    with new_dag() as dag:
        ThuliumAddRecordsOperator(
            task_id="add",
            campaign_id="00001",
            records=FileSource(str(source), columns={"msisdn": "phone_number", "stage": "status", "crm_id": None}),
            retries=3,
        )
    run = run_dag(dag)

    assert task_states(run) == {"add": "failed"}
    assert tries(run) == {"add": 1}
    assert thulium_sandbox.requests == []
    logs = all_logs(caplog, capfd)
    assert f"file {source}, row 9878.phone_number (column 'msisdn')" in logs
    assert "holds a dash" in logs and "48-70-123" not in logs


def test_a_bad_number_in_a_deletes_file_names_the_row_and_the_column_read(thulium_sandbox, tmp_path):
    source = write_csv(
        tmp_path / "opt_outs.csv",
        ["msisdn", "opted_out_at"],
        [["48500100206", "2025-03-01"], ["48500-100207", "2025-03-02"]],
    )
    with pytest.raises(ThuliumValidationError) as refused:
        ThuliumHook().delete_records("00001", FileSource(str(source), columns={"opted_out_at": None}))
    assert str(refused.value) == (
        f"file {source}, row 2.phone_number (column 'msisdn'): phone …207 is not a phone number "
        "(1-20 digits, optionally after a leading +): it holds a dash"
    )
    assert thulium_sandbox.requests == []


def test_a_duplicate_across_chunks_is_named_by_both_rows_before_anything_is_sent(thulium_sandbox, tmp_path):
    rows = [[f"4870{n:07d}"] for n in range(12_000)]
    rows[11_500] = ["+" + rows[3][0]]
    source = write_csv(tmp_path / "phones.csv", ["phone_number"], rows)
    with pytest.raises(ThuliumValidationError, match=r"row 11501 \(phone …\d{3}\): the same number as row 4"):
        ThuliumHook().delete_records("00001", FileSource(str(source)))
    assert thulium_sandbox.requests == []


def test_a_failed_task_writes_every_phone_and_pushes_the_path(thulium_sandbox, tmp_path):
    source = tmp_path / "leads.jsonl"
    source.write_text(
        '{"phone_number": "48600100001", "status": "New"}\n{"phone_number": "48600100002", "status_id": 99}\n'
    )
    results_path = tmp_path / "added.jsonl"
    with new_dag() as dag:
        ThuliumAddRecordsOperator(
            task_id="add", campaign_id="00001", records=FileSource(str(source)), results_path=str(results_path)
        )
    run = run_dag(dag)

    assert task_states(run) == {"add": "failed"}
    assert xcom(run, "add") == str(results_path)
    assert xcom(run, "add", "summary")["failed_phones"] == ["48600100002"]
    lines = read_jsonl(results_path)
    assert [(line["phone_number"], line["outcome"], line["succeeded"]) for line in lines] == [
        ("48600100001", "ADDED", True),
        ("48600100002", "FAILED", False),
    ]


def test_deferred_with_a_source_and_a_results_file(thulium_sandbox, tmp_path):
    # Record 48500100203 is in a call at the first DELETE; the sandbox frees it when the next one arrives.
    thulium_sandbox.add_fault(
        Fault(method="DELETE", after=1, action=lambda s: s.state.set_in_call("00001", "48500100203", False))
    )
    source = write_csv(tmp_path / "phones.csv", ["phone_number"], [["48500100203"], ["48500100201"], ["48999"]])
    results_path = tmp_path / "removed.csv"
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(
            task_id="delete",
            campaign_id="00001",
            phone_numbers=FileSource(str(source)),
            call_in_progress_retries=1,
            call_in_progress_retry_delay=0.5,
            deferrable=True,
            results_path=str(results_path),
        )
    run = run_dag(dag)

    assert task_states(run) == {"delete": "success"}
    assert [(row["phone_number"], row["outcome"]) for row in read_csv(results_path)] == [
        ("48500100203", "REMOVED"),
        ("48500100201", "REMOVED"),
        ("48999", "NOT_EXIST"),
    ]
    # The state carried across the wait holds the phone still in a call, not every phone.
    assert list(xcom(run, "delete", "deferred_results")["results"]) == ["48500100203"]
    summary = xcom(run, "delete", "summary")
    assert (summary["phones"], summary["succeeded"], summary["requests"]) == (3, 3, 2)
    assert [r.query["phone_number[]"] for r in thulium_sandbox.requests][1] == ["48500100203"]


def test_with_a_results_file_a_run_keeps_no_result_it_has_written(thulium_sandbox, tmp_path):
    phones = [f"4871{n:07d}" for n in range(2_500)]
    thulium_sandbox.state.add_campaign("00004", "Big")
    thulium_sandbox.state.bulk_add("00004", phones)
    source = write_csv(tmp_path / "phones.csv", ["phone_number"], [[phone] for phone in phones])
    client = ThuliumHook().client
    call = client.check(DELETE, "00004", FileSource(str(source)), False)
    run = client.start_run(call, OutcomePolicy(), ResultsFile(str(tmp_path / "out.jsonl")))
    run.send_all(call.items)

    assert run.results.results == {} and run.results.outcomes == {}
    entries, summary, error = run.conclude()
    assert entries == {}
    assert error is None and summary["outcomes"] == {"REMOVED": 2_500}
    assert [line["phone_number"] for line in read_jsonl(tmp_path / "out.jsonl")] == phones


def test_a_column_that_is_no_record_key_is_named(thulium_sandbox, tmp_path):
    source = write_csv(tmp_path / "leads.csv", ["phone_number", "stage"], [["48600100001", "New"]])
    with pytest.raises(ThuliumValidationError, match="column 'stage' keeps its name, which is no record key"):
        ThuliumHook().add_records("00001", FileSource(str(source)))
    with pytest.raises(ThuliumValidationError, match="column 'stage' is mapped to 'state', which is no record key"):
        ThuliumHook().add_records("00001", FileSource(str(source), columns={"stage": "state"}))


def test_a_columns_key_the_source_lacks_is_named_as_typed_in_a_task_run(thulium_sandbox, crm_db, tmp_path):
    mistyped = {**LEAD_COLUMNS, "firstname": "record_fields.first_name", "Segment": "record_fields.segment"}
    del mistyped["segment"]
    with new_dag() as dag:
        ThuliumAddRecordsOperator(
            task_id="add", campaign_id="00001", records=SqlSource("crm_db", sql="SELECT * FROM leads", columns=mistyped)
        )
    run = run_dag(dag)
    assert task_states(run) == {"add": "failed"}
    assert tries(run) == {"add": 1}
    assert [r.method for r in thulium_sandbox.requests] == []
    source = write_csv(tmp_path / "leads.csv", ["phone", "first_name"], [["48600100001", "Ann"]])
    with pytest.raises(ThuliumValidationError) as raised:
        ThuliumHook().update_records(
            "00001", FileSource(str(source), columns={"phone": "phone_number", "firstname": "record_fields.first_name"})
        )
    assert "columns= names 'firstname', but the source has no such column" in str(raised.value)
    assert "did you mean 'first_name'?" in str(raised.value)
    with pytest.raises(ThuliumValidationError, match="columns= names 'msisdn', but the source has no such column"):
        ThuliumHook().delete_records("00001", FileSource(str(source), columns={"msisdn": "phone_number"}))
    assert thulium_sandbox.requests == []


def test_two_columns_read_as_one_key_are_refused_by_name(thulium_sandbox, tmp_path):
    # Which of the two a record would hold is a guess: the phones checked could differ from those sent.
    source = write_csv(
        tmp_path / "leads.csv", ["phone_number", "phone_number", "status_id"], [["48600100001", "48600100999", "1"]]
    )
    with pytest.raises(ThuliumValidationError, match="columns 'phone_number' and 'phone_number' are both read as"):
        ThuliumHook().update_records("00001", FileSource(str(source)))
    source = write_csv(tmp_path / "crm.csv", ["msisdn", "crm", "crm_id"], [["48600100001", "C-1", "C-2"]])
    mapping = {"msisdn": "phone_number", "crm": "record_fields.crm_id", "crm_id": "record_fields.crm_id"}
    both = r"columns 'crm' and 'crm_id' are both read as 'record_fields\.crm_id'"
    with pytest.raises(ThuliumValidationError, match=both):
        ThuliumHook().add_records("00001", FileSource(str(source), columns=mapping))
    assert thulium_sandbox.requests == []


def test_a_column_read_as_record_fields_must_hold_objects(thulium_sandbox, tmp_path):
    source = write_csv(tmp_path / "leads.csv", ["phone_number", "record_fields"], [["48600100001", "hello"]])
    with pytest.raises(ThuliumValidationError, match=r"row 1 \(phone …001\)\.record_fields: expected an object"):
        ThuliumHook().update_records("00001", FileSource(str(source)))
    assert thulium_sandbox.requests == []


def test_a_date_not_in_the_api_form_is_quoted_as_the_source_holds_it(thulium_sandbox, tmp_path):
    # An ISO timestamp ("T" between date and time) is refused; the message must show it unaltered.
    source = write_csv(
        tmp_path / "leads.csv", ["phone_number", "next_call_date"], [["48600100001", "2030-03-01T09:00:00"]]
    )
    with pytest.raises(ThuliumValidationError) as refused:
        ThuliumHook().add_records("00001", FileSource(str(source)))
    assert str(refused.value) == (
        f"file {source}, row 1 (phone …001).next_call_date: '2030-03-01T09:00:00' is not a date in the form "
        "'YYYY-MM-DD hh:mm' (or hh:mm:ss)"
    )
    assert thulium_sandbox.requests == []


def test_missing_extras_are_named(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "airflow.providers.common.sql.hooks.sql", None)
    with pytest.raises(ThuliumConfigurationError, match=r"airflow-provider-thulium\[sql\]"):
        list(SqlSource("crm_db", "SELECT 1").chunks())
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    (tmp_path / "x.parquet").write_bytes(b"PAR1")
    with pytest.raises(ThuliumConfigurationError, match=r"airflow-provider-thulium\[parquet\]"):
        list(FileSource(str(tmp_path / "x.parquet")).chunks())


def test_add_from_parquet_with_ints_nulls_and_datetimes(thulium_sandbox, tmp_path):
    parquet = pytest.importorskip("pyarrow.parquet")
    from datetime import datetime

    import pyarrow

    table = pyarrow.table(
        {
            "phone_number": [48600100001, 48600100002],
            "status_id": [1, None],
            "next_call_date": [None, datetime(2030, 5, 6, 7, 8, 9)],
            "crm_id": ["C-1", None],
        }
    )
    parquet.write_table(table, tmp_path / "leads.parquet")
    results_path = tmp_path / "added.jsonl"
    with new_dag() as dag:
        ThuliumAddRecordsOperator(
            task_id="add",
            campaign_id="00001",
            records=FileSource(str(tmp_path / "leads.parquet"), columns={"crm_id": "record_fields.crm_id"}),
            results_path=str(results_path),
        )
    run = run_dag(dag)

    assert task_states(run) == {"add": "success"}
    assert [line["outcome"] for line in read_jsonl(results_path)] == ["ADDED", "ADDED"]
    first, second = (thulium_sandbox.state.find("00001", f"4860010000{n}")[0] for n in (1, 2))
    assert (first["status_id"], first["record_fields"]) == (1, {"crm_id": "C-1"})
    assert second["next_call_date"] == "2030-05-06 07:08"


def test_a_task_stopped_mid_run_still_writes_every_phone(thulium_sandbox, tmp_path):
    phones = [f"4875{n:07d}" for n in range(30)]
    thulium_sandbox.state.add_campaign("00004", "Timeout")
    thulium_sandbox.state.bulk_add("00004", phones)
    thulium_sandbox.add_fault(Fault(delay=4.0, after=1))  # the second batch is slow to answer
    source = write_csv(tmp_path / "phones.csv", ["phone_number"], [[phone] for phone in phones])
    results_path = tmp_path / "removed.jsonl"
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(
            task_id="delete",
            campaign_id="00004",
            phone_numbers=FileSource(str(source)),
            execution_timeout=timedelta(seconds=2),
            hook_params={"max_batch_size": 10, "timeout": 30},
            results_path=str(results_path),
        )
    run = run_timed_out(dag)
    assert task_states(run) == {"delete": "failed"}

    assert xcom(run, "delete") == str(results_path)
    lines = read_jsonl(results_path)
    assert [line["phone_number"] for line in lines] == phones
    assert [line["outcome"] for line in lines] == ["REMOVED"] * 10 + ["INTERRUPTED"] * 10 + ["NOT_SENT"] * 10
    assert xcom(run, "delete", "summary")["outcomes"] == {"INTERRUPTED": 10, "NOT_SENT": 10, "REMOVED": 10}


def test_a_run_stopped_by_an_error_still_writes_every_phone(thulium_sandbox, tmp_path):
    # The password stops working after the first batch: the later batches are never sent.
    thulium_sandbox.add_fault(Fault(status=401, method="DELETE", after=1))
    phones = [f"48999{index:06d}" for index in range(50)]
    results_path = tmp_path / "removed.jsonl"
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(
            task_id="delete",
            campaign_id="00001",
            phone_numbers=phones,
            results_path=str(results_path),
            hook_params={"max_batch_size": 10},
        )
    run = run_dag(dag)
    assert task_states(run) == {"delete": "failed"}
    lines = read_jsonl(results_path)
    assert [line["phone_number"] for line in lines] == phones
    summary = xcom(run, "delete", "summary")
    assert summary["phones"] == 50 and summary["outcomes"]["NOT_SENT"] == 30
    assert sum(line["outcome"] == "NOT_SENT" for line in lines) == 30


def test_a_csv_results_file_keeps_one_line_per_phone_when_a_message_spans_lines(thulium_sandbox, tmp_path):
    # The first answer's message holds a newline; the phone is tried again and its line rewritten.
    in_call = {
        "48500100206": [{"http_status": 409, "status": "CALL_IN_PROGRESS", "message": "in a call,\nlater"}],
        "48500100207": [{"http_status": 200, "status": "REMOVED"}],
    }
    thulium_sandbox.add_fault(Fault(method="DELETE", times=1, body=json.dumps(in_call)))
    results_path = tmp_path / "removed.csv"
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(
            task_id="delete",
            campaign_id="00001",
            phone_numbers=["48500100206", "48500100207"],
            call_in_progress_retries=1,
            call_in_progress_retry_delay=0,
            results_path=str(results_path),
        )
    run = run_dag(dag)
    assert task_states(run) == {"delete": "success"}
    rows = read_csv(results_path)
    assert [(row["phone_number"], row["outcome"]) for row in rows] == [
        ("48500100206", "NOT_EXIST"),  # the fault's request applied the removal: the retry finds nothing
        ("48500100207", "REMOVED"),
    ]
