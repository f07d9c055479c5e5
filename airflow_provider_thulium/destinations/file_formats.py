"""Exported records written as CSV, JSON Lines or Parquet, a batch at a time, to a file open in binary mode.

Each writer takes the batches of records as they are read and returns how many rows it wrote;
memory holds one batch. Values are typed by :class:`~.record_columns.ExportColumns`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import Any

from airflow_provider_thulium.destinations.record_columns import (
    EPOCH_MILLISECONDS,
    INT,
    TEXT,
    TIMESTAMP,
    ExportColumns,
    text_of,
)
from airflow_provider_thulium.exceptions import ThuliumConfigurationError

#: Rows per batch: every file is written 1,000 records at a time. A batch is typed while its records
#: are fresh from their pages, still in the processor's cache: typing Parquet's columns 1,000 rows at
#: a time costs a quarter less than 10,000.
BATCH_ROWS = {"csv": 1_000, "jsonl": 1_000, "parquet": 1_000}
#: Rows per row group of an exported Parquet file, gathered from its batches (smaller row groups make
#: a file slower to read).
PARQUET_ROW_GROUP_ROWS = 10_000

Batches = Iterable[Sequence[Mapping[str, Any]]]


def write_csv(file: Any, batches: Batches, columns: ExportColumns) -> int:
    """A header row of the column names, then one row per record; no value is an empty cell.

    RFC 4180 as the ``csv`` module writes it (a cell is quoted when it holds a comma, a quote or a
    line break, quotes doubled), but a batch at a time, a column at a time: a column of ids or dates,
    which never needs quotes, is joined as it is, and the ``csv`` module's call per row was half of
    an export's CPU. A carriage return is quoted too (the ``csv`` module leaves it bare).

    :param file: the file, open for writing in binary mode.
    :param batches: the records, a batch at a time.
    :param columns: what is written of them.
    """
    one_column = len(columns.names) == 1
    file.write((",".join(_csv_cells(list(columns.names), one_column=False)) + "\n").encode())  # names: never empty
    rows = 0
    for batch in batches:
        values = columns.convert(batch, empty_text=True)
        file.write(_csv_lines([_csv_cells(column, one_column) for column in values]))
        rows += len(batch)
    return rows


def _csv_lines(cells: list[Sequence[str]]) -> bytes:
    """Columns of cells as CSV lines, each ending in a newline."""
    return ("\n".join(map(",".join, zip(*cells, strict=True))) + "\n").encode() if cells and cells[0] else b""


def _csv_cells(values: Sequence[Any], one_column: bool) -> Sequence[str]:
    """A column's values as CSV cells: no value is an empty cell, a cell that needs quotes is quoted."""
    kinds = set(map(type, values))
    if kinds <= {int}:
        return list(map(str, values))  # digits: never quoted
    cells: Sequence[str]
    if kinds <= {str}:
        cells = values
    elif kinds <= {str, type(None)}:  # dates and ids of no value
        cells = [value or "" for value in values]
    else:
        cells = [text_of(value) or "" for value in values]
    text = "".join(cells)
    if "," in text or '"' in text or "\n" in text or "\r" in text:
        cells = [_quoted(cell) for cell in cells]
    if one_column and "" in cells:
        # A row of one empty cell would be a blank line, which readers skip: written "" (as the csv module does).
        return [cell or '""' for cell in cells]
    return cells


def _quoted(cell: str) -> str:
    if "," in cell or '"' in cell or "\n" in cell or "\r" in cell:
        return '"' + cell.replace('"', '""') + '"'
    return cell


def write_jsonl(file: Any, batches: Batches, columns: ExportColumns) -> int:
    """One JSON object per record and line, keyed by the column names; no value is ``null``.

    :param file: the file, open for writing in binary mode.
    :param batches: the records, a batch at a time.
    :param columns: what is written of them.
    """
    import msgspec

    encoder = msgspec.json.Encoder()
    names = columns.names
    rows = 0
    for batch in batches:
        rows_of_batch = zip(*columns.convert(batch), strict=True)
        file.write(encoder.encode_lines([dict(zip(names, row, strict=True)) for row in rows_of_batch]))
        rows += len(batch)
    return rows


def write_parquet(file: Any, batches: Batches, columns: ExportColumns, row_group_rows: int | None = None) -> int:
    """A Parquet file: ids as ``int64``, dates as ``timestamp[ms]`` in the account's time zone, the rest as
    ``string`` (needs pyarrow).

    :param file: the file, open for writing in binary mode.
    :param batches: the records, a batch at a time.
    :param columns: what is written of them.
    :param row_group_rows: the rows of a row group, gathered from the batches (each batch typed as it
        comes); ``None``: a row group per batch.
    """
    arrow, parquet = pyarrow_modules()
    types = {INT: arrow.int64(), TIMESTAMP: arrow.timestamp("ms", tz=columns.timezone.key)}
    pairs = zip(columns.names, columns.kinds, strict=True)
    schema = arrow.schema([(name, types.get(kind, arrow.string())) for name, kind in pairs])
    to_arrays = _ArrowColumns(arrow, columns, schema)
    rows = 0
    group: list[Any] = []
    group_rows = 0
    with parquet.ParquetWriter(file, schema) as writer:
        for batch in batches:
            group.append(arrow.RecordBatch.from_arrays(to_arrays(batch), schema=schema))
            group_rows += len(batch)
            rows += len(batch)
            if row_group_rows is None or group_rows >= row_group_rows:
                writer.write_table(arrow.Table.from_batches(group, schema=schema))
                group, group_rows = [], 0
        if group:
            writer.write_table(arrow.Table.from_batches(group, schema=schema))
    return rows


class _ArrowColumns:
    """A batch of records as Arrow arrays, typed as :meth:`ExportColumns.convert` types them.

    Two shapes of column skip the typing value by value, the export's largest cost after reading:
    a column with no value in the batch (every value ``""``) is a null array, and a text column of
    strings goes to Arrow as it is (its ``""`` as ``None``). Any other column (a number in a text
    column, ids, dates) is typed by :meth:`ExportColumns.typed`, which also names a bad value.
    """

    def __init__(self, arrow: Any, columns: ExportColumns, schema: Any) -> None:
        self._arrow, self._columns = arrow, columns
        self._types = list(schema.types)

    def __call__(self, batch: Sequence[Mapping[str, Any]]) -> list[Any]:
        arrow, columns = self._arrow, self._columns
        arrays = []
        for position, values in enumerate(columns.values_of(batch)):
            kind, arrow_type = columns.kinds[position], self._types[position]
            if values and values[0] == "" and values.count("") == len(values):
                arrays.append(arrow.nulls(len(values), arrow_type))
                continue
            if kind == TEXT:
                try:
                    # Arrow refuses anything but strings and None here: 0 or False stays a value.
                    text = [None if value == "" else value for value in values] if "" in values else values
                    arrays.append(arrow.array(text, type=arrow_type))
                    continue
                except (arrow.ArrowTypeError, arrow.ArrowInvalid):
                    pass  # a number or an object among the strings: written as its text, below
            typed = columns.typed(position, values, batch, timestamps=EPOCH_MILLISECONDS)
            arrays.append(arrow.array(typed, type=arrow_type))
        return arrays


def pyarrow_modules() -> tuple[Any, Any]:
    """``pyarrow`` and ``pyarrow.parquet``, or a configuration error saying how to install them."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ThuliumConfigurationError(
            "writing Parquet needs pyarrow: pip install 'airflow-provider-thulium[parquet]'"
        ) from None
    return pyarrow, pyarrow.parquet


#: The writer of each format, as a file destination calls it.
WRITERS: dict[str, Callable[[Any, Batches, ExportColumns], int]] = {
    "csv": write_csv,
    "jsonl": write_jsonl,
    "parquet": partial(write_parquet, row_group_rows=PARQUET_ROW_GROUP_ROWS),
}

__all__ = [
    "BATCH_ROWS",
    "PARQUET_ROW_GROUP_ROWS",
    "WRITERS",
    "pyarrow_modules",
    "write_csv",
    "write_jsonl",
    "write_parquet",
]
