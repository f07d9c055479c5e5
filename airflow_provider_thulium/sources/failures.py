"""What a failure to read a source means: a library's error turned into one a user can act on.

The csv module, UTF-8 decoding, pyarrow and database drivers raise their own errors; a task would
fail with them and Airflow would retry a file that will be as torn next time. Here each becomes a
:class:`~airflow_provider_thulium.exceptions.ThuliumValidationError` naming the file (or query),
the row and, where it is known, the column, with what to do about it: fail-fast, nothing sent.
A database error a retry may cure (a lost connection, a lock) stays retryable. Messages quote no
value of the source; the driver's own text is shown with its numbers masked.
"""

from __future__ import annotations

import csv
from typing import Any

from airflow_provider_thulium.exceptions import ThuliumError, ThuliumValidationError
from airflow_provider_thulium.privacy import safe_server_text

#: SQLSTATE classes (PostgreSQL's ``pgcode``, MySQL's) of errors in the query or its data, which
#: running it again does not cure: data exception, integrity, syntax or access rule, feature not
#: supported, invalid cursor or transaction state caused by the query.
_QUERY_FAULT_CLASSES = frozenset({"22", "23", "42", "0A", "21", "2F", "38", "39", "44"})
#: DB-API error classes that are about the query or its data, whatever the driver.
_QUERY_FAULT_ERRORS = frozenset({"DataError", "IntegrityError", "ProgrammingError", "NotSupportedError"})
#: SQLite result codes a retry may cure; any other (SQLITE_ERROR: syntax, no such table, malformed
#: JSON in a row...) is about the query or the data.
_SQLITE_TRANSIENT = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_FULL", "SQLITE_CANTOPEN"})
#: The messages SQLite gives those codes, for Python before 3.11, whose errors carry no code name.
_SQLITE_TRANSIENT_TEXTS = (
    "database is locked",
    "database table is locked",
    "disk i/o error",
    "database or disk is full",
    "unable to open database",
)


def cell_limit_text() -> str:
    """The csv module's cell limit in words (128 KiB unless a program changed it)."""
    limit = csv.field_size_limit()
    return f"{limit // 1024} KiB" if limit % 1024 == 0 else f"{limit} characters"


def csv_refused(name: str, row: int, error: csv.Error, column: str | None = None) -> ThuliumValidationError:
    """The error for a CSV file the csv module (read strictly) refused at ``row``.

    :param name: names the file.
    :param row: the row the refused record starts on (1 is the first row of data; 0 the header).
    :param error: the csv module's error.
    :param column: the column of the refused cell, when known.
    """
    text = str(error)
    if "field larger than field limit" in text:
        why = (
            f"a cell longer than {cell_limit_text()}, the most a CSV cell may hold; a quote opened and never "
            "closed makes one cell of the rest of the file"
        )
    elif "unexpected end of data" in text:
        why = (
            'a quoted cell opened on this row is never closed (a " without its closing "): the file is cut '
            "short or torn, and reading on would fold the rows after it into one cell"
        )
    elif "expected after" in text:
        why = 'a character follows the quote that closes a cell; write a quote inside a quoted cell as two ("")'
    else:
        why = f"not CSV ({safe_server_text(text, 80)})"
    where = "the header row" if row == 0 else f"row {row}"
    return ThuliumValidationError(f"{name}, {where}{'' if column is None else f', column {column!r}'}: {why}")


def not_utf8(name: str, row: int, text: str, column: str | None = None) -> ThuliumValidationError:
    """The error for text that is not UTF-8 (decoded with ``surrogateescape``: each bad byte is a lone surrogate).

    :param name: names the file.
    :param row: the row holding it (1 is the first row of data; 0 the header).
    :param text: the text holding the bad byte.
    :param column: the column holding it, when known.
    """
    byte = next((ord(char) - 0xDC00 for char in text if "\udc80" <= char <= "\udcff"), None)
    where = "the header row" if row == 0 else f"row {row}"
    shown = "" if byte is None else f" (byte 0x{byte:02x})"
    return ThuliumValidationError(
        f"{name}, {where}{'' if column is None else f', column {column!r}'}: the text is not UTF-8{shown}; "
        "save the file as UTF-8"
    )


def unreadable_parquet(name: str, error: BaseException) -> ThuliumValidationError:
    """The error for a file pyarrow cannot read as Parquet (cut short, damaged, another format).

    :param name: names the file.
    :param error: pyarrow's error.
    """
    return ThuliumValidationError(
        f"{name} is not a readable Parquet file ({safe_server_text(str(error), 120)}): it is cut short, damaged "
        "or in another format"
    )


def sql_failed(source: str, rows: int, error: BaseException) -> ThuliumError:
    """The error for a query that failed after ``rows`` rows were read.

    A fault of the query or its data (a syntax error, a value that cannot be cast, malformed JSON
    in a row) is a :class:`ThuliumValidationError`: running the task again meets it again. A
    lost connection, a lock or a timeout is a plain :class:`ThuliumError`, which Airflow retries.

    :param source: names the query (its connection).
    :param rows: the rows read before the error.
    :param error: the driver's error.
    """
    driver = f"{type(error).__module__.split('.')[0]}.{type(error).__name__}"
    reached = f"after row {rows}" if rows else "before its first row"
    text = f"{source} failed {reached}: {driver}: {safe_server_text(str(error), 200)}"
    if _query_fault(error):
        return ThuliumValidationError(f"{text}; fix the query or the rows it reads")
    return ThuliumError(f"{text}; a retry may succeed")


def _query_fault(error: BaseException) -> bool:
    """Whether a driver's error is about the query or its data rather than the database's state."""
    code: Any = getattr(error, "pgcode", None) or getattr(error, "sqlstate", None)
    if isinstance(code, str) and len(code) == 5:
        return code[:2] in _QUERY_FAULT_CLASSES
    name = getattr(error, "sqlite_errorname", None)
    if isinstance(name, str):
        return name not in _SQLITE_TRANSIENT
    if type(error).__module__ == "sqlite3" and type(error).__name__ == "OperationalError":
        text = str(error).lower()
        return not any(transient in text for transient in _SQLITE_TRANSIENT_TEXTS)
    return any(kind.__name__ in _QUERY_FAULT_ERRORS for kind in type(error).__mro__)


__all__ = ["cell_limit_text", "csv_refused", "not_utf8", "sql_failed", "unreadable_parquet"]
