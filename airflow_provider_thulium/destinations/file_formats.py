"""Exported records written as CSV, JSON Lines or Parquet, a batch at a time, to a file open in binary mode.

Each writer takes the batches of records as they are read and returns how many rows it wrote;
memory holds one batch. Values are typed by :class:`~.record_columns.ExportColumns`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow_provider_thulium.destinations.record_columns import INT, TIMESTAMP, ExportColumns
from airflow_provider_thulium.exceptions import ThuliumConfigurationError

#: Rows per batch: a CSV or JSON Lines file is written every 1,000 records, a Parquet row group
#: holds 10,000 (smaller row groups make a file slower to read).
BATCH_ROWS = {"csv": 1_000, "jsonl": 1_000, "parquet": 10_000}

Batches = Iterable[Sequence[Mapping[str, Any]]]


def write_csv(file: Any, batches: Batches, columns: ExportColumns) -> int:
    """A header row of the column names, then one row per record; no value is an empty cell.

    :param file: the file, open for writing in binary mode.
    :param batches: the records, a batch at a time.
    :param columns: what is written of them.
    """
    text = io.TextIOWrapper(file, encoding="utf-8", newline="", write_through=False)
    try:
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(columns.names)
        rows = 0
        for batch in batches:
            writer.writerows(zip(*columns.convert(batch, empty_text=True), strict=True))
            rows += len(batch)
        text.flush()
        return rows
    finally:
        text.detach()  # the caller closes the file


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


def write_parquet(file: Any, batches: Batches, columns: ExportColumns) -> int:
    """A Parquet file, one row group per batch: ids as ``int64``, dates as ``timestamp[ms]`` in the account's
    time zone, the rest as ``string`` (needs pyarrow).

    :param file: the file, open for writing in binary mode.
    :param batches: the records, a batch at a time.
    :param columns: what is written of them.
    """
    arrow, parquet = pyarrow_modules()
    types = {INT: arrow.int64(), TIMESTAMP: arrow.timestamp("ms", tz=columns.timezone.key)}
    pairs = zip(columns.names, columns.kinds, strict=True)
    schema = arrow.schema([(name, types.get(kind, arrow.string())) for name, kind in pairs])
    rows = 0
    with parquet.ParquetWriter(file, schema) as writer:
        for batch in batches:
            values = columns.convert(batch, as_datetimes=True)
            arrays = [arrow.array(column, type=kind) for column, kind in zip(values, schema.types, strict=True)]
            writer.write_table(arrow.Table.from_arrays(arrays, schema=schema))
            rows += len(batch)
    return rows


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


#: The writer of each format.
WRITERS = {"csv": write_csv, "jsonl": write_jsonl, "parquet": write_parquet}

__all__ = ["BATCH_ROWS", "WRITERS", "pyarrow_modules", "write_csv", "write_jsonl", "write_parquet"]
