"""What a library's error while reading a source becomes: the class a retry decision rests on, and the message."""

from __future__ import annotations

import csv
import sqlite3

import pytest

from airflow_provider_thulium.exceptions import ThuliumError, ThuliumValidationError
from airflow_provider_thulium.sources.failures import csv_refused, sql_failed

SOURCE = "query on connection 'crm_db'"


class _PgError(Exception):
    """A driver error carrying PostgreSQL's SQLSTATE, as psycopg2 (``pgcode``) and psycopg 3 (``sqlstate``) do."""

    def __init__(self, message: str, code: str, attribute: str = "pgcode") -> None:
        super().__init__(message)
        setattr(self, attribute, code)


class DataError(Exception):
    """Named as DB-API names it, without a code (a driver of another database)."""


class OperationalError(Exception):
    pass


@pytest.mark.parametrize(
    ("error", "fail_fast"),
    [
        (_PgError("division by zero", "22012"), True),
        (_PgError('invalid input syntax for type integer: "48500100299"', "22P02", "sqlstate"), True),
        (_PgError('relation "leads" does not exist', "42P01"), True),
        (_PgError("server closed the connection unexpectedly", "08006"), False),
        (_PgError("canceling statement due to statement timeout", "57014"), False),
        (_PgError("deadlock detected", "40P01"), False),
        (DataError("value out of range"), True),
        (OperationalError("lost connection to MySQL server during query"), False),
    ],
)
def test_10_a_sql_error_is_fail_fast_only_when_it_is_the_querys_or_its_datas(error, fail_fast):
    refused = sql_failed(SOURCE, 15_000, error)
    assert isinstance(refused, ThuliumError)
    assert isinstance(refused, ThuliumValidationError) is fail_fast
    assert str(refused).startswith(f"{SOURCE} failed after row 15000: ")
    assert "48500100299" not in str(refused)


def test_10_sqlite_errors_are_told_apart_by_their_result_code(tmp_path):
    db = sqlite3.connect(tmp_path / "crm.db")
    db.execute("CREATE TABLE t (x)")
    db.execute("INSERT INTO t VALUES ('{not json')")
    with pytest.raises(sqlite3.OperationalError) as malformed:
        db.execute("SELECT json_extract(x, '$.a') FROM t").fetchall()
    assert isinstance(sql_failed(SOURCE, 0, malformed.value), ThuliumValidationError)
    locked = sqlite3.OperationalError("database is locked")
    locked.sqlite_errorname = "SQLITE_BUSY"  # type: ignore[attr-defined]
    assert not isinstance(sql_failed(SOURCE, 0, locked), ThuliumValidationError)
    assert "before its first row" in str(sql_failed(SOURCE, 0, locked))


@pytest.mark.parametrize(
    ("message", "fail_fast"),
    [
        ("malformed JSON", True),
        ("no such table: leads", True),
        ("database is locked", False),
        ("disk I/O error", False),
    ],
)
def test_10_sqlite_errors_without_a_code_name_are_told_apart_by_their_message(message, fail_fast):
    # Python before 3.11 gives sqlite3 errors no result code: the floors run on 3.10.
    error = sqlite3.OperationalError(message)
    assert isinstance(sql_failed(SOURCE, 0, error), ThuliumValidationError) is fail_fast


def test_csv_errors_say_what_to_do():
    assert "never closed" in str(csv_refused("file a.csv", 3, csv.Error("unexpected end of data")))
    assert 'two ("")' in str(csv_refused("file a.csv", 3, csv.Error("',' expected after '\"'")))
    limit = str(csv_refused("file a.csv", 3, csv.Error("field larger than field limit (131072)"), "note"))
    assert limit.startswith("file a.csv, row 3, column 'note': a cell longer than 128 KiB")
    assert str(csv_refused("file a.csv", 0, csv.Error("x"))).startswith("file a.csv, the header row: not CSV")
