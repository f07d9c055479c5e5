"""Sources that are torn, mis-encoded, cut short or mapped wrong: a clear error on try 1, nothing sent.

One test per finding of the probe of the sources: a CSV file with an unterminated quote (read as a
shorter file, whose missing leads a sync then removed), a ``columns`` entry naming a column the
source lacks (ignored), and raw library errors that Airflow retried to no purpose (Latin-1 text, a
cell over 128 KiB, a Parquet file cut short, a SQL error in mid-query). Real task runs against
the sandbox: the task fails on its first try with a ``ThuliumValidationError`` naming the file, the
row and the column, and the sandbox received nothing that writes.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest

from airflow_provider_thulium.operators.thulium import ThuliumAddRecordsOperator, ThuliumSyncCampaignOperator
from airflow_provider_thulium.sources import FileSource, SqlSource
from airflow_provider_thulium.testing import run_dag, task_states
from tests.helpers import all_logs, new_dag, tries

pytestmark = pytest.mark.usefixtures("airflow_db")


def writes(sandbox: Any) -> list[Any]:
    return [request for request in sandbox.requests if request.method != "GET"]


def failed_on_try_one(run: Any, task_id: str = "task") -> None:
    assert task_states(run) == {task_id: "failed"}
    assert tries(run) == {task_id: 1}


def add_task(records: Any, **kwargs: Any) -> Any:
    with new_dag() as dag:
        ThuliumAddRecordsOperator(task_id="task", campaign_id="00001", records=records, retries=3, **kwargs)
    return dag


# ----------------------------------------------------------------------------- 1. a torn CSV file


def test_1_a_torn_csv_fails_the_sync_on_try_one_and_removes_nothing(thulium_sandbox, tmp_path, caplog, capfd):
    # The finding: one unterminated quote at row 28,001 of 30,000 folded the last 1,999 rows into a
    # cell; the sync removed those 1,999 leads (under the default 10 % guard) and succeeded.
    phones = [f"4872{n:07d}" for n in range(30_000)]
    thulium_sandbox.state.add_campaign("00029", "Torn")
    thulium_sandbox.state.bulk_add("00029", phones)
    lines = ["phone_number,record_fields.note"] + [f"{phone},n{n}" for n, phone in enumerate(phones)]
    lines[28_001] = f'{phones[28_000]},"torn'
    source = tmp_path / "leads.csv"
    source.write_text("\n".join(lines) + "\n")
    thulium_sandbox.clear_requests()
    with new_dag() as dag:
        ThuliumSyncCampaignOperator(
            task_id="task", campaign_id="00029", records=FileSource(str(source)), remove_missing=True, retries=3
        )
    run = run_dag(dag)

    failed_on_try_one(run)
    assert writes(thulium_sandbox) == []
    assert len(thulium_sandbox.state.campaigns["00029"].records) == 30_000
    logs = all_logs(caplog, capfd)
    assert f"file {source}, row 28001" in logs and "never closed" in logs


# ----------------------------------------------------------------------------- 9. a column mapped that is not there


@pytest.mark.parametrize("kind", ["csv", "jsonl", "sql"])
def test_9_a_columns_entry_naming_a_column_the_source_lacks_is_an_error(
    thulium_sandbox, tmp_path, monkeypatch, caplog, capfd, kind
):
    # The finding: an entry for a column the source lacks ("stage", renamed in the CRM) was ignored:
    # its field was never synced, and the plan said UNCHANGED.
    columns = {"phone": "phone_number", "segment": "record_fields.segment", "stage": "status"}
    if kind == "sql":
        database = tmp_path / "crm.db"
        with sqlite3.connect(database) as db:
            db.execute("CREATE TABLE leads (phone TEXT, segment TEXT)")
            db.execute("INSERT INTO leads VALUES ('48600100001', 'vip')")
        monkeypatch.setenv("AIRFLOW_CONN_CRM_DB", json.dumps({"conn_type": "sqlite", "host": str(database)}))
        records: Any = SqlSource("crm_db", "SELECT * FROM leads", columns=columns)
    elif kind == "csv":
        (tmp_path / "leads.csv").write_text("phone,segment\n48600100001,vip\n")
        records = FileSource(str(tmp_path / "leads.csv"), columns=columns)
    else:
        (tmp_path / "leads.jsonl").write_text('{"phone": "48600100001", "segment": "vip"}\n')
        records = FileSource(str(tmp_path / "leads.jsonl"), columns=columns)
    run = run_dag(add_task(records))

    failed_on_try_one(run)
    assert thulium_sandbox.requests == [] or writes(thulium_sandbox) == []
    logs = all_logs(caplog, capfd)
    assert "columns= names 'stage', but the source has no such column (its columns: 'phone', 'segment')" in logs


# ----------------------------------------------------------------------------- 10. library errors


def test_10_a_latin1_csv_names_the_row_and_column(thulium_sandbox, tmp_path, caplog, capfd):
    source = tmp_path / "leads.csv"
    rows = ["phone_number,record_fields.city"] + [f"4860{n:07d},Gdansk" for n in range(20_000)]
    rows[12_345] = "48600012344,Gda\u0144sk Wrzeszcz \u00e9"
    source.write_bytes(("\n".join(rows) + "\n").encode("latin-1", errors="replace"))
    run = run_dag(add_task(FileSource(str(source))))

    failed_on_try_one(run)
    assert thulium_sandbox.requests == []
    logs = all_logs(caplog, capfd)
    assert f"file {source}, row 12345, column 'record_fields.city'" in logs
    assert "not UTF-8" in logs


def test_10_a_csv_cell_over_128_kib_names_the_row(thulium_sandbox, tmp_path, caplog, capfd):
    source = tmp_path / "leads.csv"
    rows = ["phone_number,record_fields.note"] + [f"4860{n:07d},short" for n in range(100)]
    rows[42] = "48600000041," + "x" * 200_000
    source.write_text("\n".join(rows) + "\n")
    run = run_dag(add_task(FileSource(str(source))))

    failed_on_try_one(run)
    assert thulium_sandbox.requests == []
    logs = all_logs(caplog, capfd)
    assert f"file {source}, row 42" in logs and "128 KiB" in logs


def test_10_a_parquet_file_cut_short_is_named(thulium_sandbox, tmp_path, caplog, capfd):
    parquet = pytest.importorskip("pyarrow.parquet")
    import pyarrow as arrow

    whole = tmp_path / "whole.parquet"
    parquet.write_table(arrow.table({"phone_number": [f"4860{n:07d}" for n in range(5000)]}), whole)
    source = tmp_path / "leads.parquet"
    source.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    run = run_dag(add_task(FileSource(str(source))))

    failed_on_try_one(run)
    assert thulium_sandbox.requests == []
    logs = all_logs(caplog, capfd)
    assert f"file {source} is not a readable Parquet file" in logs


def test_10_a_sql_error_in_mid_query_names_the_query_and_the_row_reached(
    thulium_sandbox, tmp_path, monkeypatch, caplog, capfd
):
    # SQLite evaluates json_extract row by row: the 15,001st row's malformed JSON fails the query
    # after 15,000 rows were fetched.
    database = tmp_path / "crm.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE leads (phone TEXT, extra TEXT)")
        db.executemany(
            "INSERT INTO leads VALUES (?, ?)",
            [(f"4860{n:07d}", '{"segment": "retail"}' if n != 15_000 else "{not json") for n in range(20_000)],
        )
    monkeypatch.setenv("AIRFLOW_CONN_CRM_DB", json.dumps({"conn_type": "sqlite", "host": str(database)}))
    sql = "SELECT phone AS phone_number, json_extract(extra, '$.segment') AS segment FROM leads ORDER BY rowid"
    run = run_dag(add_task(SqlSource("crm_db", sql, columns={"segment": "record_fields.segment"})))

    failed_on_try_one(run)
    assert thulium_sandbox.requests == []
    logs = all_logs(caplog, capfd)
    assert "query on connection 'crm_db' failed after row 10000" in logs and "malformed JSON" in logs


@pytest.mark.parametrize("kind", ["not hex", "a directory"])
def test_10_a_state_line_that_is_not_hex_or_a_state_path_that_is_a_directory(
    thulium_sandbox, tmp_path, caplog, capfd, kind
):
    state_path = tmp_path / "state.tsv"
    if kind == "not hex":
        state_path.write_text('{"format": "thulium-sync-state/1", "campaign_id": "00001"}\n48500100200\tnot-hex\n')
        says = f"state_path: {state_path}, line 2"
    else:
        state_path.mkdir()
        says = f"state_path: {state_path} is a folder; name a file in it"
    with new_dag() as dag:
        ThuliumSyncCampaignOperator(
            task_id="task",
            campaign_id="00001",
            records=[{"phone_number": "48500100200"}],
            state_path=str(state_path),
            retries=3,
        )
    run = run_dag(dag)

    failed_on_try_one(run)
    assert writes(thulium_sandbox) == []
    assert says in all_logs(caplog, capfd)
