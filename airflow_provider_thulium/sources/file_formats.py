"""CSV, JSON Lines and Parquet files (and query rows) read a chunk of columns at a time.

A chunk is the column names and one list of values per column (``None``: no value), about
:data:`CHUNK_ROWS` rows. Columns rather than rows: a source's chunk is checked and spooled column
by column (see :mod:`~airflow_provider_thulium.checks.columns`).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from operator import itemgetter
from typing import Any

from airflow_provider_thulium.exceptions import ThuliumConfigurationError, ThuliumValidationError
from airflow_provider_thulium.sources.failures import csv_refused, not_utf8, unreadable_parquet

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
    # surrogateescape: a byte that is not UTF-8 becomes a lone surrogate, found where it stands
    # (its row and column), instead of failing the read somewhere in a block of text.
    return io.TextIOWrapper(file, encoding="utf-8-sig", errors="surrogateescape", newline="")


#: A lone surrogate: a byte of the file that is not UTF-8 (see ``_text``).
_UNDECODED = re.compile("[\udc80-\udcff]")


def csv_chunks(open_file: Callable[[], Any], name: str) -> Iterator[Chunk]:
    """A CSV file's rows under its header row (the first line that is not blank); blank lines are no rows.

    Read strictly: a quote opened and never closed (a file cut short or torn), or text after the
    quote that closes a cell, is an error naming the row, never a shorter file. Parsed by pyarrow
    where it is installed (in C++, on another core while this thread checks the chunk before) when
    every line of the file is a plain one (no quote inside a cell, no line break in one: see
    ``_PlainLines``); otherwise, or when pyarrow refuses the file, by the ``csv`` module from the
    first row pyarrow did not give, which gives the same cells and names any fault's row.

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


#: A line of a CSV file whose cells hold no quote and no line break: quoted or not, each is whole
#: (RE2 syntax, run by pyarrow over a block's lines at once).
_PLAIN_CELL = r'(?:[^",\r\n]*|"[^"\r\n]*")'
_PLAIN_LINE = rf"^{_PLAIN_CELL}(?:,{_PLAIN_CELL})*\r?$"


class _PlainLines:
    """The file as pyarrow reads it, each block's lines checked to be plain (see ``_PLAIN_LINE``) on the way.

    Such a file reads the same with any CSV parser, so pyarrow's reading of it is the csv module's.
    A line that is not plain (a quote inside a cell, a line break in one, a quote never closed,
    text after a closing quote) sends the file to the csv module, which reads it strictly. Blocks
    without a quote, whose carriage returns all end lines, hold plain lines only and cost no check.
    """

    def __init__(self, file: Any) -> None:
        self._file = file
        self._rest = b""  # the start of a line the last block cut
        self.plain = True
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        block = self._file.read(size)
        if not block:
            self._check(self._rest)  # the last line, without a line end
            self._rest = b""
            return block
        end = block.rfind(b"\n") + 1
        if not end:
            self._rest += block
        else:
            self._check(self._rest + block[:end] if self._rest else block[:end])  # whole lines, their ends too
            self._rest = block[end:]
        return block

    def _check(self, lines: bytes) -> None:
        if not self.plain or not lines or (b'"' not in lines and lines.count(b"\r") == lines.count(b"\r\n")):
            return  # no quote, and carriage returns only in line ends: plain lines, told in C
        import pyarrow as arrow
        import pyarrow.compute as compute

        split = compute.split_pattern(arrow.array([lines], arrow.binary()), b"\n").flatten()
        self.plain = bool(compute.all(compute.match_substring_regex(split, _PLAIN_LINE)).as_py())

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True


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
    lines = _PlainLines(file)
    # The csv module's reading: cells are text ("" for an empty one), quotes doubled inside quoted
    # cells, newlines allowed in them, no escape character, blank lines skipped.
    reader = arrow_csv.open_csv(
        lines,
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
        if not lines.plain:
            raise ValueError("a line that is not plain")  # read by the csv module, strictly
        longest = max((compute.max(compute.binary_length(column)).as_py() or 0 for column in batch.columns), default=0)
        if longest > csv.field_size_limit():
            raise ValueError("a cell larger than the csv module takes")
        pending.append(batch)
        rows += batch.num_rows
        while rows >= CHUNK_ROWS:
            table = arrow.Table.from_batches(pending)
            yield header, [column.to_pylist() for column in table.slice(0, CHUNK_ROWS).columns]
            pending, rows = table.slice(CHUNK_ROWS).to_batches(), max(rows - CHUNK_ROWS, 0)
    lines.read()  # at the end already: the last line is checked
    if not lines.plain:
        raise ValueError("a line that is not plain")
    if rows:
        yield header, [column.to_pylist() for column in arrow.Table.from_batches(pending).columns]


def _header(file: Any) -> list[str] | None:
    """The header row as the csv module reads it, or ``None`` for a file of no rows; ``file`` is rewound."""
    start = file.read(1 << 16)
    file.seek(0)
    return next((row for row in csv.reader(io.TextIOWrapper(io.BytesIO(start), "utf-8-sig", newline="")) if row), None)


def python_csv_chunks(file: Any, name: str, skip: int = 0) -> Iterator[Chunk]:
    """A CSV file's chunks read by the csv module, strictly: a row of another width than the header,
    a quote never closed, text after a closing quote, a cell over the limit or text that is not
    UTF-8 is an error naming its row (and column, where it is known).

    :param file: the file, open in binary mode.
    :param name: names the file in messages.
    :param skip: rows to pass over first (those pyarrow gave before it gave up).
    """
    text = _text(file)
    reader = csv.reader(text, strict=True)
    try:
        header = next((row for row in reader if row), None)
    except csv.Error as exc:
        raise csv_refused(name, 0, exc) from None
    if header is None:
        return
    if _UNDECODED.search("\x00".join(header)):
        raise not_utf8(name, 0, "\x00".join(header))
    first = 1  # the number of the next row (1 is the first row of data)
    while True:
        rows: list[list[str]] = []
        append = rows.append
        try:
            for row in islice(reader, CHUNK_ROWS):
                append(row)
        except csv.Error as exc:
            row_number = first + sum(1 for row in rows if row)
            column = None
            if "field larger than field limit" in str(exc):
                column = _long_cell_column(text, reader.line_num - 1, header)
            raise csv_refused(name, row_number, exc, column) from None
        if not rows:
            return
        if set(map(len, rows)) != {len(header)}:
            rows = [row for row in rows if row]  # blank lines are no rows
            for index, row in enumerate(rows):
                if len(row) != len(header):
                    raise ThuliumValidationError(
                        f"{name}, row {first + index}: {len(row)} cells, but the header has {len(header)}"
                    )
        _check_decoded(rows, header, name, first)
        if first + len(rows) <= skip + 1:
            first += len(rows)  # rows pyarrow gave already
            continue
        if first <= skip:
            rows, first = rows[skip + 1 - first :], skip + 1
        first += len(rows)
        if rows:
            yield header, columns_of_rows(rows)


def _check_decoded(rows: list[list[str]], header: list[str], name: str, first: int) -> None:
    """Refuse a chunk holding a byte that is not UTF-8, naming its row and column."""
    cells = "\x00".join(map("\x00".join, rows))
    if cells.isascii() or not _UNDECODED.search(cells):
        return
    for index, row in enumerate(rows):
        for column, cell in zip(header, row, strict=True):
            if _UNDECODED.search(cell):
                raise not_utf8(name, first + index, cell, column)


def _long_cell_column(text: io.TextIOWrapper, lines_before: int, header: list[str]) -> str | None:
    """The column of the cell over the csv module's limit in the record after ``lines_before`` lines, or ``None``.

    Read again from the file's start by a small scanner that stops once the cell passes the limit.
    """
    limit = csv.field_size_limit()
    try:
        text.seek(0)
    except (OSError, ValueError):
        return None  # a file that cannot be read again: the row is named, the column not
    lines = islice(text, lines_before, None)
    column, length, quoted, at_start, after_quote = 0, 0, False, True, False
    for line in lines:
        for char in line:
            if quoted:
                if after_quote:
                    after_quote = False
                    if char == '"':
                        length += 1
                        continue
                    quoted = False  # the quote before closed the cell
                elif char == '"':
                    after_quote = True
                    continue
                else:
                    length += 1
            if not quoted:
                if char == ",":
                    column, length, at_start = column + 1, 0, True
                    continue
                if char in "\r\n":
                    return None  # the record ended without a long cell: the scanner lost its place
                if at_start and char == '"':
                    quoted, at_start = True, False
                    continue
                at_start = False
                length += 1
            if length > limit:
                return header[column] if column < len(header) else None
    return None


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
        if not line.isascii() and _UNDECODED.search(line):
            raise not_utf8(name, number, line)
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
    import pyarrow as arrow

    unreadable = (arrow.ArrowException, OSError, ValueError)
    try:
        batches = parquet.ParquetFile(file).iter_batches(batch_size=CHUNK_ROWS)
    except unreadable as exc:
        raise unreadable_parquet(name, exc) from None
    while True:
        try:
            batch = next(batches, None)
        except unreadable as exc:
            raise unreadable_parquet(name, exc) from None
        if batch is None:
            return
        try:
            columns = [column.to_pylist() for column in batch.columns]
        except UnicodeDecodeError as exc:  # a text column whose bytes are not UTF-8: a damaged page
            raise unreadable_parquet(name, exc) from None
        yield batch.schema.names, columns
