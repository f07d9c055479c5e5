"""A campaign's records as typed columns: which keys an export writes, under which names, as which types.

The keys and their meaning are :class:`~airflow_provider_thulium.outcomes.CampaignRecord`'s; here
is what each becomes in a file or a table. A value the record does not have (Thulium writes ``""``)
is no value (``None``, an empty CSV cell, SQL ``NULL``). Ids are integers. Dates, which Thulium
writes ``"YYYY-MM-DD hh:mm"`` in the account's local time without saying which, become timestamps
in the account's time zone (the connection's ``timezone``): ISO 8601 text with the offset in CSV
and JSON Lines (``2025-03-08T09:30:00+01:00``), a time-zone-aware timestamp in Parquet and
PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from airflow_provider_thulium.exceptions import ThuliumResponseError, ThuliumValidationError
from airflow_provider_thulium.privacy import safe_server_text

INT = "int"
TEXT = "text"
TIMESTAMP = "timestamp"

#: The record keys an export writes, in the order a destination without ``columns`` gets them, and
#: their types. The same keys as :class:`~airflow_provider_thulium.outcomes.CampaignRecord` (a test
#: holds the two together), ``record_fields`` aside: it is written only as ``record_fields.<name>``.
RECORD_KINDS: dict[str, str] = {
    "record_id": INT,
    "phone_number": TEXT,
    "system_status": TEXT,
    "status": TEXT,
    "status_id": INT,
    "call_date": TIMESTAMP,
    "create_date": TIMESTAMP,
    "next_call_date": TIMESTAMP,
    "agent_name": TEXT,
    "agent_login": TEXT,
    "last_note": TEXT,
    "identifier": TEXT,
    "order": INT,
}
#: ``columns`` keys that read one of the record's fields: ``"record_fields.crm_id"`` (written as text).
RECORD_FIELDS_PREFIX = "record_fields."
#: The API's date format (docs/thulium-api.md, "Paged records"); seconds are accepted too.
_DATE_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")
#: Distinct dates remembered per export: dates repeat (a day holds 1,440 minutes), so most are looked up.
_MEMO_LIMIT = 100_000
_NONE_TYPE = type(None)


def _kind_of(key: object) -> str | None:
    if not isinstance(key, str):
        return None
    if key.startswith(RECORD_FIELDS_PREFIX) and len(key) > len(RECORD_FIELDS_PREFIX):
        return TEXT
    return RECORD_KINDS.get(key)


def check_column_keys(columns: object) -> dict[str, str]:
    """``columns`` as given to an export, checked: record key → destination column, in order.

    A mapping renames (``{"record_id": "thulium_id", "status": "outcome"}``); a list of keys keeps
    their names; ``None`` writes every key of :data:`RECORD_KINDS`. Raises
    :class:`~airflow_provider_thulium.exceptions.ThuliumValidationError` naming the key or column at fault.

    :param columns: the ``columns`` argument.
    """
    if columns is None:
        return {key: key for key in RECORD_KINDS}
    if isinstance(columns, Mapping):
        pairs = list(columns.items())
    elif isinstance(columns, Sequence) and not isinstance(columns, (str, bytes)):
        pairs = [(key, key) for key in columns]
    else:
        raise ThuliumValidationError(
            f"columns: expected a mapping of record key → column name (or a list of record keys), "
            f"got {type(columns).__name__}"
        )
    if not pairs:
        raise ThuliumValidationError("columns: no column to write; leave columns out to write every record key")
    checked: dict[str, str] = {}
    used: dict[str, str] = {}
    for key, name in pairs:
        if _kind_of(key) is None:
            raise ThuliumValidationError(
                f"columns: {safe_server_text(repr(key), 60)} is no record key; known: {', '.join(RECORD_KINDS)}, "
                f"or {RECORD_FIELDS_PREFIX}<name> for a record field"
            )
        if not isinstance(name, str) or not name.strip():
            raise ThuliumValidationError(f"columns: the column for {key!r} must be a non-empty name, got {name!r}")
        if name in used:
            raise ThuliumValidationError(
                f"columns: {used[name]!r} and {key!r} are both written as column {name!r}; a column holds one key"
            )
        used[name] = key
        checked[key] = name
    return checked


#: How timestamps are given to a destination: ISO 8601 text with the offset (CSV, JSON Lines, SQLite),
#: aware ``datetime`` objects (database drivers), or milliseconds since the epoch (Arrow, for Parquet).
TEXT_TIMESTAMPS, DATETIMES, EPOCH_MILLISECONDS = "text", "datetime", "epoch_ms"


class _Dates(dict[Any, Any]):
    """Dates as Thulium writes them → as a destination takes them, each converted once."""

    def __init__(self, timezone: ZoneInfo, form: str) -> None:
        super().__init__({"": None, None: None})
        self.timezone = timezone
        self.form = form

    def __missing__(self, value: Any) -> Any:
        if len(self) > _MEMO_LIMIT:
            self.clear()
            self.update({"": None, None: None})
        parsed = None
        if isinstance(value, str):
            for form in _DATE_FORMATS:
                try:
                    parsed = datetime.strptime(value.strip(), form)
                    break
                except ValueError:
                    continue
        if parsed is None:
            raise ValueError(value)
        aware = parsed.replace(tzinfo=self.timezone)
        if self.form == DATETIMES:
            converted: Any = aware
        elif self.form == EPOCH_MILLISECONDS:
            converted = round(aware.timestamp() * 1000)
        else:
            converted = aware.isoformat()
        self[value] = converted
        return converted


@dataclass
class ExportColumns:
    """The columns an export writes: record keys, their destination names and types, and the time zone.

    :param keys: the record keys, in column order.
    :param names: the destination's column names, in the same order.
    :param timezone: the account's time zone, which Thulium's dates are local time of.
    """

    keys: tuple[str, ...]
    names: tuple[str, ...]
    timezone: ZoneInfo
    kinds: tuple[str, ...] = field(init=False)
    _dates: dict[str, _Dates] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.kinds = tuple(_kind_of(key) or TEXT for key in self.keys)

    @classmethod
    def from_argument(cls, columns: object, timezone: ZoneInfo) -> ExportColumns:
        """The columns of an export's ``columns`` argument (see :func:`check_column_keys`).

        :param columns: the ``columns`` argument.
        :param timezone: the account's time zone.
        """
        checked = check_column_keys(columns)
        return cls(tuple(checked), tuple(checked.values()), timezone)

    def convert(
        self, records: Sequence[Mapping[str, Any]], timestamps: str = TEXT_TIMESTAMPS, empty_text: bool = False
    ) -> list[Sequence[Any]]:
        """The records' values as one sequence per column, typed (see the module's text).

        :param records: records as ``iter_records`` yields them.
        :param timestamps: how timestamps are given: ``"text"`` (ISO 8601 with the offset),
            ``"datetime"`` (aware ``datetime`` objects) or ``"epoch_ms"`` (milliseconds since the epoch).
        :param empty_text: for a CSV writer, which makes every value a cell: text columns as the
            records hold them, and ``""`` left in id columns and in a column of no value at all (a CSV
            cell is empty either way).
        """
        raw = self.values_of(records)
        return [self.typed(position, values, records, timestamps, empty_text) for position, values in enumerate(raw)]

    def values_of(self, records: Sequence[Mapping[str, Any]]) -> list[Sequence[Any]]:
        """Each column's values as the records hold them, untyped (``None`` where a record lacks the key).

        :param records: records as ``iter_records`` yields them.
        """
        plain = [key for key in self.keys if not key.startswith(RECORD_FIELDS_PREFIX)]
        taken: dict[str, Sequence[Any]] = {}
        if records and plain:
            try:
                # One C-level pass per record for every key, then columns: the common case.
                rows = list(map(itemgetter(*plain), records))
                taken = dict(zip(plain, zip(*rows, strict=True) if len(plain) > 1 else [rows], strict=True))
            except KeyError:  # a record without a key: no value there
                taken = {key: [record.get(key) for record in records] for key in plain}
        columns: list[Sequence[Any]] = []
        for key in self.keys:
            if key in taken:
                columns.append(taken[key])
            elif key.startswith(RECORD_FIELDS_PREFIX):
                name = key[len(RECORD_FIELDS_PREFIX) :]
                columns.append([_field(record, name) for record in records])
            else:
                columns.append([])  # no records
        return columns

    def typed(
        self,
        position: int,
        values: Sequence[Any],
        records: Sequence[Mapping[str, Any]],
        timestamps: str = TEXT_TIMESTAMPS,
        empty_text: bool = False,
    ) -> Sequence[Any]:
        """One column's values (of :meth:`values_of`) typed, as :meth:`convert` types them.

        :param position: the column's position.
        :param values: its values as the records hold them.
        :param records: the records they are of, named in an error.
        :param timestamps: how timestamps are given (see :meth:`convert`).
        :param empty_text: see :meth:`convert`.
        """
        dates = self._dates.get(timestamps)
        if dates is None:
            dates = self._dates[timestamps] = _Dates(self.timezone, timestamps)
        return self._column(self.keys[position], self.kinds[position], values, records, dates, empty_text)

    def _column(
        self,
        key: str,
        kind: str,
        values: Sequence[Any],
        records: Sequence[Mapping[str, Any]],
        dates: _Dates,
        empty_text: bool,
    ) -> Sequence[Any]:
        if kind == TEXT and empty_text:
            return values  # the CSV writer reads each value's type as it makes its cell
        if values and values[0] == "" and values.count("") == len(values):  # a column seldom used: no value at all
            return values if empty_text else [None] * len(values)
        if kind == TIMESTAMP:
            try:
                return list(map(dates.__getitem__, values))
            except (ValueError, TypeError):
                return [self._date(dates, record, key, value) for record, value in zip(records, values, strict=True)]
        kinds = set(map(type, values))
        if kind == INT:
            if kinds <= {int, _NONE_TYPE}:
                return values
            if kinds <= {int, str, _NONE_TYPE}:  # Thulium writes no value as "": the common other case
                cleaned = [None if value == "" else value for value in values]
                if set(map(type, cleaned)) <= {int, _NONE_TYPE}:
                    return values if empty_text else cleaned
            return [_int(record, key, value) for record, value in zip(records, values, strict=True)]
        if kinds <= {str, _NONE_TYPE}:
            return [value or None for value in values] if "" in values else values
        return [text_of(value) for value in values]

    @staticmethod
    def _date(dates: _Dates, record: Mapping[str, Any], key: str, value: Any) -> Any:
        try:
            return dates[value]
        except (ValueError, TypeError):
            raise _unreadable(record, key, value, "a date 'YYYY-MM-DD hh:mm'") from None


def _field(record: Mapping[str, Any], name: str) -> Any:
    fields = record.get("record_fields")
    return fields.get(name) if isinstance(fields, Mapping) else None


def _int(record: Mapping[str, Any], key: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value)
    raise _unreadable(record, key, value, "a whole number")


def text_of(value: Any) -> str | None:
    """A value of a text column as text, or ``None`` for no value (``""`` included); a number or an
    object Thulium should not send there is written as its text (an object as JSON).

    :param value: the value as the record holds it.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _unreadable(record: Mapping[str, Any], key: str, value: Any, expected: str) -> ThuliumResponseError:
    return ThuliumResponseError(
        f"GET outbounds/:id/records answered {key} {safe_server_text(repr(value), 40)} for record "
        f"{str(record.get('record_id'))[:20]}, not {expected}: it cannot be written "
        "as a typed column"
    )


__all__ = [
    "DATETIMES",
    "EPOCH_MILLISECONDS",
    "INT",
    "RECORD_KINDS",
    "TEXT",
    "TEXT_TIMESTAMPS",
    "TIMESTAMP",
    "ExportColumns",
    "check_column_keys",
    "text_of",
]
