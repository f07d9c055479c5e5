"""A source's rows kept column by column, checked whole, and built into records only when sent.

A chunk of a source arrives as columns (a CSV's cells, a query's rows). Checking it column by
column is a few passes in C per column; building a million dicts first, to check them one by one,
costs more than the rest of the read. So a chunk whose every column is already in the form the
record-by-record check returns is spooled as columns (:data:`Columns`), and its records are made
a chunk at a time while the run sends. Anything else is built into records here and goes through
:func:`~airflow_provider_thulium.checks.records.parse_records`, which returns the same records or
names the row and the column in its error.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload

import msgspec

from airflow_provider_thulium.checks.fast_path import (
    _MAX_INT,
    _PHONE_LINES,
    _dates_in_normal_form,
    _field_values_fit,
    _is_utf8,
    _joined_if_all_match,
    _lines_of,
    _spelled_twice,
    _texts_fit,
)
from airflow_provider_thulium.checks.records import STATUS_NAME_FIELD, RecordSpec

#: A chunk as columns: the record keys, one list of values per key (``None``: the row has no
#: value), then the ``record_fields`` names and one list of values per name. The phone column is
#: among the first.
Columns = tuple[list[str], list[list[Any]], list[str], list[list[Any]]]

_PHONE = "phone_number"
#: What ``int()`` of a CSV cell turns into an id the API takes: ASCII digits, fewer than 19.
_ID_LINES = _lines_of(re.compile(r"[0-9]{1,18}"))
#: What a struct's field may not be renamed to (the JSON key it writes).
_STRUCT_UNNAMEABLE = re.compile(r'[\\"\x00-\x1f]')


def ids_from_digits(column: list[Any]) -> list[Any] | None:
    """``column`` as ints when every value is a string of ASCII digits (fewer than 19), else ``None``.

    :param column: a column of cells.
    """
    if _joined_if_all_match(column, _ID_LINES) is None:
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

    def encodable(self) -> list[Any]:
        """The records as objects the JSON encoder writes as their dicts (each key in order), made in C.

        A ``msgspec`` struct per row (untracked by the cycle collector: it holds only plain values),
        its type made once per layout: several times cheaper than a dict per row.
        """
        keys, columns, names, fields = self.chunk
        record, record_fields = _struct_types(tuple(keys), tuple(names))
        values: list[Any] = [column[self.start : self.stop] for column in columns]
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
    count = len(columns[0]) if columns else 0
    if names:
        keys = [*keys, "record_fields"]
        columns = [*columns, rows_as_dicts(names, fields, count)]
    return rows_as_dicts(keys, columns, count)


def rows_as_dicts(keys: list[str], columns: Sequence[Sequence[Any]], count: int) -> list[dict[str, Any]]:
    """One dict per row of ``columns`` (one list of values per key); a ``None`` value leaves its key out.

    :param keys: the dicts' keys.
    :param columns: the values, a list per key.
    :param count: the rows (for dicts of no key).
    """
    if not keys:
        return [{} for _ in range(count)]
    dicts = _dict_builder(len(keys))(keys, columns)
    if any(None in column for column in columns):
        for row in dicts:
            for key in [key for key, value in row.items() if value is None]:
                del row[key]
    # An empty record_fields object is no value either.
    if keys[-1] == "record_fields" and {} in columns[-1]:
        for row in dicts:
            if row.get("record_fields") == {}:
                del row["record_fields"]
    return dicts


@functools.cache
def _dict_builder(width: int) -> Callable[[list[str], Sequence[Sequence[Any]]], list[dict[str, Any]]]:
    """A function making one dict per row of ``width`` columns, keyed by ``width`` keys.

    Its body is a dict display in a comprehension, ``[{k0: v0, k1: v1} for v0, v1 in zip(*columns)]``,
    written for the width (as :func:`collections.namedtuple` writes its class): twice as fast as
    ``dict(zip(keys, row))`` per row, a second on a million rows. Only generated names go into the
    code; the keys are passed in as values.
    """
    keys = [f"k{i}" for i in range(width)]
    values = [f"v{i}" for i in range(width)]
    display = ", ".join(f"{key}: {value}" for key, value in zip(keys, values, strict=True))
    code = (
        f"def build(keys, columns):\n"
        f"    {', '.join(keys)}, = keys\n"
        f"    return [{{{display}}} for {', '.join(values)}, in zip(*columns, strict=True)]\n"
    )
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102  # generated from the width alone
    build: Callable[[list[str], Sequence[Sequence[Any]]], list[dict[str, Any]]] = namespace["build"]
    return build


def columns_in_normal_form(chunk: Columns, spec: RecordSpec) -> bool:
    """Whether ``parse_records`` would return the chunk's records unchanged, field for field.

    The conditions of the record-by-record check's fast path, stated per column; a ``None`` is no
    value. Stricter where that is simpler (a column read as both a status name and a status id, an
    edit whose rows may hold nothing to change): the chunk then takes the record-by-record path.

    :param chunk: the columns, as :func:`records_from_columns` builds them.
    :param spec: what the call's records may hold.
    """
    keys, columns, names, fields = chunk
    if not spec.accepted.issuperset(keys) or (STATUS_NAME_FIELD in keys and "status_id" in keys):
        return False
    # A key twice (the last one is the record's), or record_fields as one value (an object to check).
    if len(set(keys)) != len(keys) or "record_fields" in keys:
        return False
    by_key = dict(zip(keys, columns, strict=True))
    phones = by_key.get(_PHONE)
    joined = None if phones is None else _joined_if_all_match(phones, _PHONE_LINES)
    if joined is None or len(set(phones)) != len(phones) or _spelled_twice(phones, joined, len(phones)):  # type: ignore[arg-type]
        return False
    if spec.needs_change and not any(key != _PHONE and None not in column for key, column in by_key.items()):
        return False
    for key, column in by_key.items():
        values = [value for value in column if value is not None] if None in column else column
        if not values or key == _PHONE:
            continue
        if key in ("status_id", "dictionary_status_id", "order"):
            if set(map(type, values)) != {int} or min(values) < 0 or max(values) > _MAX_INT:
                return False
        elif key == "next_call_date":
            if not _dates_in_normal_form(values):
                return False
        elif not _texts_fit(values):  # agent_login, identifier, status (a name)
            return False
    if names and ("" in names or not _is_utf8("".join(names))):
        return False
    return all(map(_field_values_fit, fields))
