"""CSV, JSON Lines and Parquet files (and query rows) read a chunk of columns at a time.

A chunk is the column names and one list of values per column (``None``: no value), about
:data:`CHUNK_ROWS` rows. Columns rather than rows: a source's chunk is checked and spooled column
by column (see :mod:`~airflow_provider_thulium.checks.columns`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from operator import itemgetter
from typing import Any

from airflow_provider_thulium.exceptions import ThuliumConfigurationError, ThuliumValidationError

#: Rows read, checked and spooled at a time.
CHUNK_ROWS = 10_000

#: A chunk: the column names, and one list of values per column, in row order.
Chunk = tuple[Sequence[str], list[list[Any]]]


def columns_of_rows(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Rows (of equal length) as columns.

    :param rows: the rows.
    """
    # One column at a time: zip(*rows) over thousands of rows costs more than the rest of the chunk.
    return [list(map(itemgetter(index), rows)) for index in range(len(rows[0]))] if rows else []


def _text(file: Any) -> io.TextIOWrapper:
    # utf-8-sig: a byte-order mark (spreadsheets write one) is not part of the first column's name.
    return io.TextIOWrapper(file, encoding="utf-8-sig", newline="")


def csv_chunks(open_file: Callable[[], Any], name: str) -> Iterator[Chunk]:
    """A CSV file's rows under its header row (the first line that is not blank); blank lines are no rows.

    Parsed by pyarrow where it is installed (in C++, on another core while this thread checks
    the chunk before), else by the ``csv`` module; both give the same cells. A file pyarrow
    cannot read is read again by the ``csv`` module from the first row pyarrow did not give,
    which finds the fault and names its row.

    :param open_file: opens the file, in binary mode (called again for the ``csv`` module's read).
    :param name: names the file in messages.
    """
    given = 0
    try:
        import pyarrow.csv as arrow_csv
    except ImportError:
        arrow_csv = None
    if arrow_csv is not None:
        with open_file() as file:
            try:
                for chunk in arrow_csv_chunks(arrow_csv, file):
                    yield chunk
                    given += len(chunk[1][0]) if chunk[1] else 0
                return
            except Exception:  # noqa: S110  # anything pyarrow refuses is read by the csv module, which names the fault
                pass
    with open_file() as file:
        yield from python_csv_chunks(file, name, skip=given)


def arrow_csv_chunks(arrow_csv: Any, file: Any) -> Iterator[Chunk]:
    """A CSV file's chunks parsed by pyarrow, as the csv module's reading gives them; an exception
    for anything it would read otherwise (the caller then reads the file with the csv module).

    :param arrow_csv: the ``pyarrow.csv`` module.
    :param file: the file, open in binary mode and seekable.
    """
    import pyarrow as arrow
    import pyarrow.compute as compute

    header = _header(file)
    if header is None:
        return
    if len(set(header)) != len(header):
        raise ValueError("repeated column names")  # the csv module's reading keeps each column apart
    # The csv module's reading: cells are text ("" for an empty one), quotes doubled inside quoted
    # cells, newlines allowed in them, no escape character, blank lines skipped.
    reader = arrow_csv.open_csv(
        file,
        read_options=arrow_csv.ReadOptions(block_size=1 << 20),
        parse_options=arrow_csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=True),
        convert_options=arrow_csv.ConvertOptions(
            column_types=dict.fromkeys(header, arrow.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    if reader.schema.names != header or any(kind != arrow.string() for kind in reader.schema.types):
        raise ValueError("pyarrow read another header")
    # Re-cut into chunks of CHUNK_ROWS rows, as the csv module's reading gives them: a run is then
    # sent in whole batches of a chunk (the reader's record batches hold a block's rows).
    pending: list[Any] = []
    rows = 0
    for batch in reader:
        longest = max((compute.max(compute.binary_length(column)).as_py() or 0 for column in batch.columns), default=0)
        if longest > csv.field_size_limit():
            raise ValueError("a cell larger than the csv module takes")
        pending.append(batch)
        rows += batch.num_rows
        while rows >= CHUNK_ROWS:
            table = arrow.Table.from_batches(pending)
            yield header, [column.to_pylist() for column in table.slice(0, CHUNK_ROWS).columns]
            pending, rows = table.slice(CHUNK_ROWS).to_batches(), max(rows - CHUNK_ROWS, 0)
    if rows:
        yield header, [column.to_pylist() for column in arrow.Table.from_batches(pending).columns]


def _header(file: Any) -> list[str] | None:
    """The header row as the csv module reads it, or ``None`` for a file of no rows; ``file`` is rewound."""
    start = file.read(1 << 16)
    file.seek(0)
    return next((row for row in csv.reader(_text(io.BytesIO(start))) if row), None)


def python_csv_chunks(file: Any, name: str, skip: int = 0) -> Iterator[Chunk]:
    """A CSV file's chunks read by the csv module; a row of another width than the header is an error naming it.

    :param file: the file, open in binary mode.
    :param name: names the file in messages.
    :param skip: rows to pass over first (those pyarrow gave before it gave up).
    """
    reader = csv.reader(_text(file))
    header = next((row for row in reader if row), None)
    if header is None:
        return
    first = 1
    while first <= skip and (row := next(reader, None)) is not None:
        first += bool(row)  # the rows given already
    while rows := list(islice(reader, CHUNK_ROWS)):
        if set(map(len, rows)) != {len(header)}:
            rows = [row for row in rows if row]  # blank lines are no rows
            for index, row in enumerate(rows):
                if len(row) != len(header):
                    raise ThuliumValidationError(
                        f"{name}, row {first + index}: {len(row)} cells, but the header has {len(header)}"
                    )
        first += len(rows)
        if rows:
            yield header, columns_of_rows(rows)


def jsonl_chunks(file: Any, name: str) -> Iterator[Chunk]:
    """A JSON Lines file's objects; every key any object of a chunk has is a column, blank lines are no rows.

    :param file: the file, open in binary mode.
    :param name: names the file in messages.
    """
    objects: list[dict[str, Any]] = []
    number = 0
    for line in _text(file):
        if not line.strip():
            continue
        number += 1
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise ThuliumValidationError(f"{name}, row {number}: not a JSON object ({exc})") from None
        if not isinstance(value, dict):
            raise ThuliumValidationError(f"{name}, row {number}: expected a JSON object, got {type(value).__name__}")
        objects.append(value)
        if len(objects) == CHUNK_ROWS:
            yield _columns_of_objects(objects)
            objects = []
    if objects:
        yield _columns_of_objects(objects)


def _columns_of_objects(objects: list[dict[str, Any]]) -> Chunk:
    """JSON objects as columns: every key any of them has is a column; a key an object lacks is no value."""
    header = list(dict.fromkeys(key for value in objects for key in value))
    return header, [[value.get(key) for value in objects] for key in header]


def parquet_chunks(file: Any, name: str) -> Iterator[Chunk]:
    """A Parquet file's rows (needs pyarrow).

    :param file: the file, open in binary mode.
    :param name: names the file in messages.
    """
    try:
        import pyarrow.parquet as parquet
    except ImportError:
        raise ThuliumConfigurationError(
            f"{name}: reading Parquet needs pyarrow: pip install 'airflow-provider-thulium[parquet]'"
        ) from None
    for batch in parquet.ParquetFile(file).iter_batches(batch_size=CHUNK_ROWS):
        yield batch.schema.names, [column.to_pylist() for column in batch.columns]
