"""Where an export writes a campaign's records: a file (CSV, JSON Lines, Parquet) or a SQL table.

The mirror of :mod:`~airflow_provider_thulium.sources.readers`: a destination is given to
``ThuliumExportRecordsOperator`` (or ``ThuliumHook.export_records``) and takes the records in
batches as their pages are read, so memory holds a batch and the pages in flight whatever the
campaign's size. A re-run writes the same place again: a file is replaced whole, a table with a
``key`` has its rows of the same key replaced.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any

from airflow_provider_thulium.destinations.file_formats import BATCH_ROWS, WRITERS, pyarrow_modules
from airflow_provider_thulium.destinations.record_columns import (
    DATETIMES,
    INT,
    TEXT_TIMESTAMPS,
    TIMESTAMP,
    ExportColumns,
)
from airflow_provider_thulium.exceptions import ThuliumDestinationError, ThuliumValidationError
from airflow_provider_thulium.privacy import safe_server_text
from airflow_provider_thulium.sources.readers import FORMATS, dbapi_hook, local_path, open_path

#: A table or column name a SQL destination takes: letters, digits and ``_``, not starting with a
#: digit; a table may carry its schema (``analytics.call_outcomes``). Names are quoted as given.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def batches(records: Iterable[Mapping[str, Any]], size: int) -> Iterator[list[Mapping[str, Any]]]:
    """``records`` in lists of ``size`` (the last one shorter).

    :param records: the records, read as the batches are taken.
    :param size: records per batch.
    """
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


class Destination:
    """Where exported records go: the part :class:`FileDestination` and :class:`SqlDestination` share."""

    template_fields: Sequence[str] = ()

    @property
    def format(self) -> str:
        """What is written: ``"csv"``, ``"jsonl"``, ``"parquet"`` or ``"sql"``."""
        raise NotImplementedError

    @property
    def batch_rows(self) -> int:
        """Records written at a time."""
        return 1_000

    def describe(self) -> str:
        """Names the destination in messages, logs and the export's summary (a connection by its id)."""
        raise NotImplementedError

    def check(self, columns: ExportColumns) -> None:
        """Check everything the destination can check before any record is read.

        :param columns: the columns to write.
        """

    def write(self, records: Iterable[Mapping[str, Any]], columns: ExportColumns) -> int:
        """Write the records, a batch at a time as they come; return how many were written.

        :param records: the records, as ``iter_records`` yields them.
        :param columns: what is written of them.
        """
        raise NotImplementedError

    def location(self) -> dict[str, Any]:
        """Where the rows went, as the export's summary names it (``path``, or ``table`` and ``conn_id``)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


class FileDestination(Destination):
    """A CSV, JSON Lines or Parquet file, local or in object storage; a re-run replaces it.

    The file is written to a local scratch file first and put in place when every record was
    written: a local file by renaming it (a failed run leaves the file before it), an object-store
    URL through Airflow's ``ObjectStoragePath`` (``s3://``, ``gs://``... with the connection for
    it). CSV has a header row and an empty cell for no value; JSON Lines one object per record
    with ``null`` for no value; Parquet (needs ``pip install 'airflow-provider-thulium[parquet]'``)
    typed columns. Dates are timestamps in the account's time zone (see
    :mod:`~airflow_provider_thulium.destinations.record_columns`).

    :param path: where the file goes. Templated: ``"/data/outcomes/{{ ds }}.csv"``.
    :param conn_id: the connection for an object store (e.g. ``aws_default`` for ``s3://``).
    :param format: ``"csv"``, ``"jsonl"`` or ``"parquet"``; by default from the extension
        (``.csv``, ``.jsonl`` / ``.ndjson``, ``.parquet`` / ``.pq``).
    """

    template_fields: Sequence[str] = ("path",)

    def __init__(self, path: str, conn_id: str | None = None, format: str | None = None) -> None:
        self.path = path
        self.conn_id = conn_id
        self.file_format_given = format

    @property
    def format(self) -> str:
        """The format written: ``format``, or the one of the path's extension."""
        if self.file_format_given is not None:
            if self.file_format_given not in WRITERS:
                raise ThuliumValidationError(
                    f"FileDestination format: expected csv, jsonl or parquet, got {self.file_format_given!r}"
                )
            return self.file_format_given
        extension = os.path.splitext(str(self.path))[1].lower()
        if extension not in FORMATS:
            raise ThuliumValidationError(
                f"FileDestination path: the extension {extension!r} of {str(self.path)!r} names no format; end it "
                "in .csv, .jsonl or .parquet, or give format='csv', 'jsonl' or 'parquet'"
            )
        return FORMATS[extension]

    @property
    def batch_rows(self) -> int:
        return BATCH_ROWS[self.format]

    def describe(self) -> str:
        return f"file {self.path}"

    def check(self, columns: ExportColumns) -> None:
        if not isinstance(self.path, str) or not self.path.strip():
            raise ThuliumValidationError(f"FileDestination path: expected a path or URL, got {self.path!r}")
        if self.format == "parquet":
            pyarrow_modules()

    def write(self, records: Iterable[Mapping[str, Any]], columns: ExportColumns) -> int:
        self.check(columns)
        writer = WRITERS[self.format]
        local = local_path(self.path, self.conn_id)
        folder = os.path.dirname(os.path.abspath(local)) if local is not None else None
        if folder is not None:
            os.makedirs(folder, exist_ok=True)
        # Beside the file when it is local, so that putting it in place is a rename.
        handle, scratch = tempfile.mkstemp(prefix=".thulium-export-", dir=folder)
        try:
            with open(handle, "wb") as file:
                rows = writer(file, batches(records, self.batch_rows), columns)
            if local is not None:
                os.replace(scratch, local)
            else:
                with open(scratch, "rb") as source, open_path(self.path, self.conn_id, "wb") as target:
                    shutil.copyfileobj(source, target, 1 << 20)
        finally:
            if os.path.exists(scratch):
                os.unlink(scratch)
        return rows

    def location(self) -> dict[str, Any]:
        return {"path": str(self.path), **({"conn_id": self.conn_id} if self.conn_id else {})}


class SqlDestination(Destination):
    """A table through an Airflow SQL connection (its ``DbApiHook``), written in batches in one transaction.

    The table is created when it does not exist: ids ``BIGINT``, dates ``TIMESTAMP WITH TIME
    ZONE`` on PostgreSQL (``TIMESTAMP`` holding ISO 8601 text with the offset on SQLite and
    others), the rest ``TEXT``, and ``key`` as its primary key. Names are quoted as given (on
    PostgreSQL, lower case matches unquoted names). Every batch is written in one transaction,
    committed when all records are in: a failed run changes nothing. Needs
    ``apache-airflow-providers-common-sql`` and the provider of the database. Tested on SQLite and
    PostgreSQL.

    :param conn_id: the SQL connection (e.g. a ``postgres`` or ``sqlite`` connection); its hook must
        be a ``DbApiHook``.
    :param table: the table, optionally with its schema (``analytics.call_outcomes``). Templated.
    :param key: a column (or a list of columns) that tells rows apart, e.g. ``"record_id"``: a row
        whose key is written again is replaced (deleted, then inserted), so a re-run of a day's
        export leaves the table as one run would, and a record whose outcome changed has its one
        row updated. Without it, every run adds its rows. With an existing table, an index on the
        key keeps this fast.
    """

    template_fields: Sequence[str] = ("table",)

    def __init__(self, conn_id: str, table: str, key: str | Sequence[str] | None = None) -> None:
        self.conn_id = conn_id
        self.table = table
        self.key = key

    @property
    def format(self) -> str:
        return "sql"

    def describe(self) -> str:
        return f"table {self.table} on connection {self.conn_id!r}"

    def key_columns(self) -> list[str]:
        """The key as a list of column names (empty without a key)."""
        if self.key is None:
            return []
        keys = [self.key] if isinstance(self.key, str) else list(self.key)
        if not keys or not all(isinstance(name, str) and name for name in keys):
            raise ThuliumValidationError(
                f"SqlDestination key: expected a column name or a list of them, got {self.key!r}"
            )
        return keys

    def check(self, columns: ExportColumns) -> None:
        if not isinstance(self.conn_id, str) or not self.conn_id:
            raise ThuliumValidationError(f"SqlDestination conn_id: expected a connection id, got {self.conn_id!r}")
        if not isinstance(self.table, str) or not all(_IDENTIFIER.fullmatch(part) for part in self.table.split(".")):
            raise ThuliumValidationError(
                f"SqlDestination table: {self.table!r} is not a table name (letters, digits and _, optionally "
                "schema.table)"
            )
        for name in columns.names:
            if not _IDENTIFIER.fullmatch(name):
                raise ThuliumValidationError(
                    f"columns: {name!r} is not a column name a SQL destination writes (letters, digits and _, not "
                    "starting with a digit)"
                )
        missing = [name for name in self.key_columns() if name not in columns.names]
        if missing:
            raise ThuliumValidationError(
                f"SqlDestination key: {', '.join(map(repr, missing))} is not among the columns written "
                f"({', '.join(columns.names)})"
            )

    def write(self, records: Iterable[Mapping[str, Any]], columns: ExportColumns) -> int:
        self.check(columns)
        hook = dbapi_hook(self.conn_id, "SqlDestination", "writes")
        connection = hook.get_conn()
        driver = type(connection).__module__.split(".")[0]
        postgres = driver in ("psycopg2", "psycopg")
        placeholder = getattr(hook, "placeholder", None) or "%s"
        table = ".".join(f'"{part}"' for part in self.table.split("."))
        quoted = [f'"{name}"' for name in columns.names]
        keys = self.key_columns()
        at = [columns.names.index(name) for name in keys]
        # Names were checked as identifiers (check()) and are quoted; values go as parameters.
        values_list = ", ".join([placeholder] * len(quoted))
        insert = f"INSERT INTO {table} ({', '.join(quoted)}) VALUES ({values_list})"  # noqa: S608
        delete = f"DELETE FROM {table} WHERE " + " AND ".join(f'"{name}" = {placeholder}' for name in keys)  # noqa: S608
        rows = 0
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(self._create_table(table, quoted, columns, keys, postgres))
                execute_many = _execute_many(driver)
                for batch in batches(records, self.batch_rows):
                    timestamps = DATETIMES if postgres else TEXT_TIMESTAMPS
                    values = list(zip(*columns.convert(batch, timestamps=timestamps), strict=True))
                    if keys:
                        execute_many(cursor, delete, [tuple(row[index] for index in at) for row in values])
                    execute_many(cursor, insert, values)
                    rows += len(values)
            finally:
                cursor.close()
            connection.commit()
        except Exception as exc:
            _rollback(connection)
            if type(exc).__module__.startswith("airflow_provider_thulium"):
                raise  # the read's or the records' own error
            # The driver's text may quote a value (a phone number): numbers are masked.
            raise ThuliumDestinationError(
                f"SqlDestination: writing to {self.describe()} failed: {type(exc).__name__}: "
                f"{safe_server_text(str(exc), 300)}"
            ) from None
        finally:
            connection.close()
        return rows

    @staticmethod
    def _create_table(table: str, quoted: list[str], columns: ExportColumns, keys: list[str], postgres: bool) -> str:
        types = {INT: "BIGINT", TIMESTAMP: "TIMESTAMP WITH TIME ZONE" if postgres else "TIMESTAMP"}
        definitions = [f"{name} {types.get(kind, 'TEXT')}" for name, kind in zip(quoted, columns.kinds, strict=True)]
        if keys:
            definitions.append("PRIMARY KEY (" + ", ".join(f'"{name}"' for name in keys) + ")")
        return f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(definitions)})"

    def location(self) -> dict[str, Any]:
        return {"table": self.table, "conn_id": self.conn_id, **({"key": self.key_columns()} if self.key else {})}


def _execute_many(driver: str) -> Any:
    """``cursor.executemany``, or psycopg2's batched form (its ``executemany`` sends one statement per row)."""
    if driver == "psycopg2":
        from psycopg2.extras import execute_batch

        return lambda cursor, sql, rows: execute_batch(cursor, sql, rows, page_size=len(rows) or 1)
    return lambda cursor, sql, rows: cursor.executemany(sql, rows)


def _rollback(connection: Any) -> None:
    with contextlib.suppress(Exception):  # the write's own error is the one to report
        connection.rollback()


__all__ = ["Destination", "FileDestination", "SqlDestination", "batches"]
