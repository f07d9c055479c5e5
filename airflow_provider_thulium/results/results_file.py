"""Every phone's result written to a file as a run goes, instead of an XCom holding them all.

JSON Lines (one object per phone: ``phone_number``, ``outcome``, ``succeeded``, ``result``, the
entry a ``return_value`` XCom would hold) or CSV (``phone_number, outcome, succeeded, http_status,
record_id, message``), chosen by the path's extension. Lines go to a local scratch file as batches
are answered, in input order; the file at ``path`` is written from it when the run ends (or
waits), with the final entries of the few phones tried again since, whole or not at all (see
:func:`~airflow_provider_thulium.files.writing.write_atomically`). A retried task overwrites it.
Where it will be written is checked before the run (:func:`check_results_path`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from airflow_provider_thulium.calls.batching import encode_lines
from airflow_provider_thulium.exceptions import ThuliumValidationError
from airflow_provider_thulium.files.paths import open_path
from airflow_provider_thulium.files.writing import check_writable, write_atomically
from airflow_provider_thulium.sources.spool import remove_file

#: Formats by extension.
RESULTS_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
#: The CSV file's columns.
CSV_COLUMNS = ("phone_number", "outcome", "succeeded", "http_status", "record_id", "message")

_JSON_PREFIX = '{"phone_number":"'
#: Bytes a phone's line takes at least (a JSON line of a delete's NOT_EXIST is some 110): how much
#: room a results file needs is judged from this, low, so that a disk is refused only when it is full.
LINE_BYTES = 64


def results_format(path: str) -> str:
    """The format a results file at ``path`` is written in, from its extension.

    :param path: the ``results_path`` as given (a local path or an object-storage URL).
    :raises ThuliumValidationError: the extension names no format this provider writes.
    """
    extension = os.path.splitext(str(path))[1].lower()
    if extension not in RESULTS_FORMATS:
        raise ThuliumValidationError(
            f"results_path: {str(path)!r} should end in .jsonl (JSON Lines) or .csv, the format it is written in"
        )
    return RESULTS_FORMATS[extension]


def check_results_path(path: str, conn_id: str | None = None, reads: Iterable[Any] = (), phones: int = 0) -> None:
    """Check before any request that a run's results can be written to ``path`` when it ends.

    :param path: the ``results_path``.
    :param conn_id: the connection for an object store.
    :param reads: the files the input is read from (writing one of them is refused).
    :param phones: the phones whose lines it will hold (0: not known yet), for the room it needs.
    :raises ThuliumValidationError: no known format, or the input's own file.
    :raises ThuliumConfigurationError: it cannot be written
        (see :func:`~airflow_provider_thulium.files.writing.check_writable`).
    """
    results_format(path)
    check_writable(path, conn_id, "results_path", reads=reads, size=phones * LINE_BYTES)


class ResultsFile:
    """Where a run writes every phone's result.

    :param path: a local path or an object-storage URL (``file://``, ``s3://``...), ending in
        ``.jsonl`` / ``.ndjson`` (JSON Lines) or ``.csv``.
    :param conn_id: the connection for an object store.
    """

    def __init__(self, path: str, conn_id: str | None = None) -> None:
        self.path = str(path)
        self.conn_id = conn_id
        self.format = results_format(self.path)
        handle, self._scratch = tempfile.mkstemp(prefix="thulium-results-")
        self._file = open(handle, "w", encoding="utf-8", newline="")  # noqa: SIM115  # closed by close()
        self._lines = _Lines(self.format, self._file)
        self._cleanup = weakref.finalize(self, remove_file, self._file, self._scratch)

    def add(self, results: Iterable[tuple[str, Any, str, bool]]) -> None:
        """Write phones' results, after those written before.

        :param results: ``(phone, entry, outcome, succeeded)`` per phone, in input order.
        """
        self._lines.add(results)

    def write(self, changed: Mapping[str, tuple[Any, str, bool]]) -> None:
        """Write the file at ``path``: every line so far, with ``changed`` phones' lines replaced.

        :param changed: phone → ``(entry, outcome, succeeded)`` for phones whose result changed
            after its line was written (a phone tried again).
        """
        self._file.flush()

        def fill(target: Any) -> None:
            with open(self._scratch, "rb") as scratch:
                if not changed:
                    shutil.copyfileobj(scratch, target, 1 << 20)
                    return
                buffer = io.StringIO()
                lines = _Lines(self.format, buffer)
                for line in scratch:
                    phone = self._phone_of(line)
                    if phone is not None and phone in changed:
                        buffer.seek(0)
                        buffer.truncate()
                        lines.add([(phone, *changed[phone])])
                        line = buffer.getvalue().encode()
                    target.write(line)

        write_atomically(self.path, self.conn_id, "results_path", fill)

    def entries(self) -> dict[str, Any]:
        """Every phone's result written so far, read back from the scratch file (for XCom, when ``path``
        could not be written): a JSON line's entry as it is, a CSV row as its columns."""
        self._file.flush()
        entries: dict[str, Any] = {}
        with open(self._scratch, encoding="utf-8", newline="") as scratch:
            if self.format == "csv":
                for row in csv.DictReader(scratch):
                    phone = row.pop("phone_number")
                    entries[phone] = {key: value for key, value in row.items() if key != "succeeded"}
                return entries
            for line in scratch:
                value = json.loads(line)
                entries[value["phone_number"]] = value["result"]
        return entries

    def resume(self) -> Iterator[tuple[str, str, bool]]:
        """Take up the file at ``path`` written before a deferral: ``(phone, outcome, succeeded)`` of each line,
        the lines copied to this run's scratch file."""
        self._file.seek(0)
        self._file.truncate()
        with open_path(self.path, self.conn_id, "rb") as source:
            text = io.TextIOWrapper(source, encoding="utf-8", newline="")
            if self.format == "csv":
                for row in csv.reader(text):
                    self._lines.csv.writerow(row)
                    if row and row[0] != CSV_COLUMNS[0]:
                        yield row[0], row[1], row[2] == "true"
                return
            for line in text:
                self._file.write(line)
                value = json.loads(line)
                yield value["phone_number"], value["outcome"], value["succeeded"]

    def close(self) -> None:
        """Delete the scratch file."""
        self._cleanup()

    def _phone_of(self, line: bytes) -> str | None:
        # Phones are digits with an optional "+": never quoted or escaped, so the line's start names it.
        if self.format == "csv":
            return line.split(b",", 1)[0].decode()
        if line.startswith(_JSON_PREFIX.encode()):
            end = line.index(b'"', len(_JSON_PREFIX))
            return line[len(_JSON_PREFIX) : end].decode()
        return None


class _Lines:
    """Writes results as lines of one format to a text file."""

    def __init__(self, format: str, file: Any) -> None:
        self.file = file
        self.csv = csv.writer(file, lineterminator="\n")
        self.is_csv = format == "csv"
        if self.is_csv and file.tell() == 0:
            self.csv.writerow(CSV_COLUMNS)

    def add(self, results: Iterable[tuple[str, Any, str, bool]]) -> None:
        if self.is_csv:
            self.csv.writerows(csv_row(*result) for result in results)
            return
        self.file.write(
            encode_lines(
                [
                    {"phone_number": phone, "outcome": outcome, "succeeded": succeeded, "result": entry}
                    for phone, entry, outcome, succeeded in results
                ]
            )
        )


def csv_row(phone: str, entry: Any, outcome: str, succeeded: bool) -> list[Any]:
    """One phone's CSV row: a delete's list of results is read as the item that decided the outcome."""
    items = entry if isinstance(entry, list) else [entry]
    items = [item for item in items if isinstance(item, dict)]
    deciding = next((item for item in items if item.get("status") not in (None, "REMOVED")), items[0] if items else {})
    record_ids = [str(item["record_id"]) for item in items if item.get("record_id") is not None]
    message = next((item.get("message") for item in items if item.get("message")), "")
    # One physical line per phone: the file is rewritten line by line when a phone is tried again.
    message = " ".join(str(message).split()) if message else ""
    http_status = deciding.get("http_status")
    return [
        phone,
        outcome,
        "true" if succeeded else "false",
        "" if http_status is None else http_status,
        ";".join(record_ids),
        message,
    ]


__all__ = ["CSV_COLUMNS", "LINE_BYTES", "ResultsFile", "check_results_path"]
