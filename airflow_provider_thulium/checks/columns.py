"""A source's rows kept column by column, and built into records only when sent.

A chunk of a source arrives as columns (a CSV's cells, a query's rows). Building a million dicts
first, to check them one by one, costs more than the rest of the read. So a chunk whose every
column is already in the form the record-by-record check returns
(:func:`~airflow_provider_thulium.checks.normal_form.columns_in_normal_form`) is spooled as columns
(:data:`Columns`), and its batches are encoded from them while the run sends (:class:`ColumnRows`).
Anything else is built into records here (:func:`records_from_columns`) and goes through
:func:`~airflow_provider_thulium.checks.records.parse_records`, which returns the same records or
names the row and the column in its error.
"""

from __future__ import annotations

import functools
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import compress, repeat
from operator import is_not, setitem
from typing import Any, overload

import msgspec

from airflow_provider_thulium.checks.rules import joined_if_all_match, lines_of

#: A chunk as columns: the record keys, one list of values per key (``None``: the row has no
#: value), then the ``record_fields`` names and one list of values per name. The phone column is
#: among the first.
Columns = tuple[list[str], list[list[Any]], list[str], list[list[Any]]]

_PHONE = "phone_number"
#: What ``int()`` of a CSV cell turns into an id the API takes: ASCII digits, fewer than 19.
_ID_LINES = lines_of(re.compile(r"[0-9]{1,18}"))
#: What a struct's field may not be renamed to (the JSON key it writes).
_STRUCT_UNNAMEABLE = re.compile(r'[\\"\x00-\x1f]')


def ids_from_digits(column: list[Any]) -> list[Any] | None:
    """``column`` as ints when every value is a string of ASCII digits (fewer than 19), else ``None``.

    :param column: a column of cells.
    """
    if joined_if_all_match(column, _ID_LINES) is None:
        return None
    return list(map(int, column))


class ColumnRows(Sequence[dict[str, Any]]):
    """Rows ``start`` to ``stop`` of a chunk in which every row has a value in every column, as records.

    A batch of a spooled chunk: its body is written from the columns (:meth:`encodable`) and its
    records are made only if something asks for them (a batch halved, phones written another way).

    :param chunk: the columns (no ``None`` in any of them, no key twice).
    :param start: the first row.
    :param stop: the row after the last.
    """

    def __init__(self, chunk: Columns, start: int, stop: int) -> None:
        self.chunk, self.start, self.stop = chunk, start, stop

    @staticmethod
    def fits(chunk: Columns) -> bool:
        """Whether the chunk's records are written from its columns as a dict's encoding writes them:
        each key and name once (the caller knows that every cell has a value).

        :param chunk: the columns.
        """
        keys, _, names, _ = chunk
        if len(set(keys)) != len(keys) or len(set(names)) != len(names) or "record_fields" in keys:
            return False
        return _STRUCT_UNNAMEABLE.search("".join(names)) is None

    def phones(self) -> list[str]:
        """The rows' phone numbers."""
        keys, columns, _, _ = self.chunk
        phones: list[str] = columns[keys.index(_PHONE)][self.start : self.stop]
        return phones

    def encodable(self, send_as: Callable[[str], str] | None = None) -> list[Any]:
        """The records as objects the JSON encoder writes as their dicts (each key in order), made in C.

        A ``msgspec`` struct per row (untracked by the cycle collector: it holds only plain values),
        its type made once per layout: several times cheaper than a dict per row.

        :param send_as: writes a phone as the campaign stores it (``phone_format``); the chunk keeps
            the phones as given.
        """
        keys, columns, names, fields = self.chunk
        record, record_fields = _struct_types(tuple(keys), tuple(names))
        values: list[Any] = [column[self.start : self.stop] for column in columns]
        if send_as is not None:
            phone = keys.index(_PHONE)
            values[phone] = list(map(send_as, values[phone]))
        if record_fields is not None:
            values.append(map(record_fields, *(column[self.start : self.stop] for column in fields)))
        return list(map(record, *values))

    def __len__(self) -> int:
        return self.stop - self.start

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> ColumnRows: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | ColumnRows:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                raise ValueError("ColumnRows slices are contiguous")
            return ColumnRows(self.chunk, self.start + start, self.start + max(start, stop))
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        return self._records(self.start + index % len(self), self.start + index % len(self) + 1)[0]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._records(self.start, self.stop))

    def _records(self, start: int, stop: int) -> list[dict[str, Any]]:
        keys, columns, names, fields = self.chunk
        return records_from_columns(
            (keys, [column[start:stop] for column in columns], names, [column[start:stop] for column in fields])
        )

    def __repr__(self) -> str:
        return f"<{len(self)} record(s) as columns>"


@functools.cache
def _struct_types(keys: tuple[str, ...], names: tuple[str, ...]) -> tuple[Any, Any]:
    """The struct types of records with ``keys`` (in order) and ``record_fields`` of ``names``."""
    record_fields = None
    if names:
        attributes = [f"f{index}" for index in range(len(names))]
        rename = dict(zip(attributes, names, strict=True))
        record_fields = msgspec.defstruct("RecordFields", [(name, Any) for name in attributes], rename=rename, gc=False)
    attributes = [f"k{index}" for index in range(len(keys))]
    rename = dict(zip(attributes, keys, strict=True))
    if record_fields is not None:
        attributes.append("fields")
        rename["fields"] = "record_fields"
    record = msgspec.defstruct("Record", [(name, Any) for name in attributes], rename=rename, gc=False)
    return record, record_fields


def records_from_columns(chunk: Columns) -> list[dict[str, Any]]:
    """The chunk's records, in row order: a ``None`` value, or a ``record_fields`` with none, leaves its key out.

    :param chunk: the columns.
    """
    keys, columns, names, fields = chunk
    count = len((columns or fields)[0]) if columns or fields else 0
    records = rows_as_dicts(keys, columns, count)
    if names:
        objects = rows_as_dicts(names, fields, count)
        if "record_fields" in keys:  # a column of whole objects gives way to the fields read one by one
            _run(map(dict.pop, records, repeat("record_fields"), repeat(None)))
        # An empty object is no value either: only the rows with a field value get record_fields.
        _run(map(setitem, compress(records, objects), repeat("record_fields"), filter(None, objects)))
    return records


def rows_as_dicts(keys: Sequence[str], columns: Sequence[Sequence[Any]], count: int) -> list[dict[str, Any]]:
    """One dict per row of ``columns`` (one list of values per key), keys in order; a ``None`` value leaves its key out.

    Made a column at a time, in C (``map`` over ``setitem``): a ``dict(zip(keys, row))`` per row costs
    twice as much, and its ``None`` values would then be deleted one by one.

    :param keys: the dicts' keys.
    :param columns: the values, a list per key.
    :param count: the rows (for dicts of no key).
    """
    if keys and None not in columns[0]:
        # A display makes a dict with room for its first key, cheaper than an empty one grown.
        first = keys[0]
        rows = [{first: value} for value in columns[0]]
        keys, columns = keys[1:], columns[1:]
    else:
        rows = [{} for _ in range(count)]
    for key, column in zip(keys, columns, strict=True):
        if None in column:
            has_value = list(map(is_not, column, repeat(None)))
            _run(map(setitem, compress(rows, has_value), repeat(key), compress(column, has_value)))
        else:
            _run(map(setitem, rows, repeat(key), column))
    return rows


def _run(calls: Iterable[object]) -> None:
    """Make the calls of a lazy ``map``, in C, keeping none of their results."""
    deque(calls, maxlen=0)
