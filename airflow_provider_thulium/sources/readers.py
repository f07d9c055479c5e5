"""Records and phone numbers read from a SQL query or a file, instead of a list passed through XCom.

A source is given wherever a records call takes its input (an operator's ``records`` or
``phone_numbers``, a hook or client call). It is read once, a chunk at a time, each chunk checked
like a list would be and written to a local :class:`~airflow_provider_thulium.sources.spool.Spool`; the
run sends from the spool. So the whole input is checked before the first request, a query runs
once, and memory holds a chunk, a set of the phones seen (duplicates are found across the whole
source) and the batches in flight.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from operator import neg
from typing import Any
from zoneinfo import ZoneInfo

from airflow_provider_thulium.checks.columns import Columns, ids_from_digits, records_from_columns
from airflow_provider_thulium.checks.normal_form import columns_in_normal_form
from airflow_provider_thulium.checks.numbering import PhoneNumbering
from airflow_provider_thulium.checks.records import (
    RowNames,
    item_name,
    parse_phone_numbers,
    parse_records,
    row_where,
    spelled_phones,
)
from airflow_provider_thulium.checks.rules import ID_KEYS
from airflow_provider_thulium.checks.spec import RecordSpec
from airflow_provider_thulium.exceptions import ThuliumConfigurationError, ThuliumValidationError
from airflow_provider_thulium.files.paths import local_path, open_path  # noqa: F401  # local_path: importable here as before
from airflow_provider_thulium.privacy import hide_url_credentials, mask_phone
from airflow_provider_thulium.sources.failures import sql_failed
from airflow_provider_thulium.sources.file_formats import (
    CHUNK_ROWS,
    Chunk,
    columns_of_rows,
    csv_chunks,
    jsonl_chunks,
    parquet_chunks,
)
from airflow_provider_thulium.sources.gc_pause import gc_paused
from airflow_provider_thulium.sources.spool import Spool, SpooledPhones

#: ``columns`` values that send a column into ``record_fields``: ``"record_fields.crm_id"``.
RECORD_FIELDS_PREFIX = "record_fields."
#: File formats by extension; ``format=`` names one of the values.
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}

_PHONE = "phone_number"
_NEXT_CALL_DATE = "next_call_date"
_PLAIN = frozenset({str, int, float, bool, type(None)})


class Source:
    """Rows to read into records: the part :class:`SqlSource` and :class:`FileSource` share.

    :param columns: source column → record key: ``{"msisdn": "phone_number", "stage": "status",
        "crm_id": "record_fields.crm_id"}``. ``"record_fields.<name>"`` goes into ``record_fields``;
        ``None`` drops the column; a column not named keeps its name. A column that ends up as no
        record key the call takes is an error naming it.
    """

    template_fields: Sequence[str] = ()

    def __init__(self, columns: Mapping[str, str | None] | None = None) -> None:
        self.columns = dict(columns or {})

    def describe(self) -> str:
        """Names the source in messages and logs (no credentials: a connection by its id)."""
        raise NotImplementedError

    def chunks(self) -> Iterator[Chunk]:
        """The rows in the source's order, about :data:`CHUNK_ROWS` at a time, as columns."""
        raise NotImplementedError

    # -- reading into a call's input --

    def read_phones(self, numbering: PhoneNumbering | None = None) -> tuple[SpooledPhones, Spool]:
        """Read and check the phone numbers (a delete's input): one column, or the one read as ``phone_number``.

        :param numbering: the region's numbering plan (``phone_region``): each phone read by it, as sent.

        A number given twice is sent once, as a list's would be; given as both ``+48…`` and ``48…``
        it is an error naming both rows.
        """
        spool, seen, first = Spool(), _SeenPhones(), 1
        columns_seen: set[str] = set()
        try:
            with gc_paused():
                for header, columns in self.chunks():
                    columns_seen.update(header)
                    index = self._phone_column(header)
                    values = columns[index]
                    # The column read may be the only one, under any name: messages name it.
                    names = RowNames(self.describe(), first, {} if header[index] == _PHONE else {_PHONE: header[index]})
                    phones = parse_phone_numbers(values, field=names, numbering=numbering)
                    keys = seen.keys(phones)
                    self._check_across(keys, values, seen, names, spool, repeats_allowed=True)
                    spool.append([phone for phone, key in zip(phones, keys, strict=True) if key not in seen])
                    seen.add(keys)
                    first += len(values)
            self._check_mapped(columns_seen)
        except BaseException:
            spool.close()
            raise
        return SpooledPhones(spool), spool

    def read_records(
        self, spec: RecordSpec, account_tz: ZoneInfo, numbering: PhoneNumbering | None = None
    ) -> tuple[SpooledPhones, Spool]:
        """Read and check the records (an update's or an add's input) as ``spec`` wants them.

        :param spec: what the call's records may hold.
        :param account_tz: the account's time zone, for ``next_call_date`` given as a datetime.
        :param numbering: the region's numbering plan (``phone_region``): each phone read by it, as sent.
        """
        spool, seen, first = Spool(), _SeenPhones(), 1
        columns_seen: set[str] = set()
        try:
            with gc_paused():
                for header, chunk_columns in self.chunks():
                    columns_seen.update(header)
                    plan = self._plan(header, spec.accepted)
                    names = self.row_names(first)
                    columns, full = _columns(plan, chunk_columns)
                    if numbering is not None:
                        _spell_phones(columns, numbering, names)
                    checked: list[Any] | Columns = columns
                    if columns_in_normal_form(columns, spec):
                        # Kept as columns: its records are made as the run sends them, if at all.
                        phones: list[str] = columns[1][columns[0].index(_PHONE)]
                    else:
                        checked = parse_records(
                            records_from_columns(columns), account_tz, field=names, spec=spec, numbering=numbering
                        )
                        phones = [record[_PHONE] for record in checked]
                    keys = seen.keys(phones)
                    hint = spec.duplicate_hint
                    self._check_across(keys, phones, seen, names, spool, repeats_allowed=False, hint=hint)
                    seen.add(keys)
                    for _, key, _ in plan:
                        spool.keys.add(key)
                    spool.append(checked, full=full)
                    first += len(phones)
            self._check_mapped(columns_seen)
        except BaseException:
            spool.close()
            raise
        return SpooledPhones(spool), spool

    def row_names(self, first: int) -> RowNames:
        """How messages name the source's rows from row ``first`` on (1 is the first row of data).

        :param first: the row number of the first row named.
        """
        renamed = {key.split(".", 1)[0]: column for column, key in self.columns.items() if key and key != column}
        return RowNames(self.describe(), first, renamed)

    def _check_mapped(self, columns_seen: Collection[str]) -> None:
        """A ``columns`` key the source has no column of is an error naming it as the user typed it: its
        field would never be synced.

        Checked once the whole source was read (a JSON Lines key may appear on any line), before
        anything is sent; a source of no rows shows no columns and is not checked.
        """
        missing = [column for column in self.columns if column not in columns_seen]
        if not missing or not columns_seen:
            return
        column = missing[0]
        names = sorted(map(str, columns_seen)) if isinstance(columns_seen, (set, frozenset)) else list(columns_seen)
        close = difflib.get_close_matches(column, names, n=1, cutoff=0.6)
        close += [name for name in names if name.casefold() == str(column).casefold() and name not in close]
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ThuliumValidationError(
            f"{self.describe()}: columns= names {column!r}, but the source has no such column "
            f"(its columns: {', '.join(map(repr, names))}){hint}"
        )

    def _phone_column(self, header: Sequence[str]) -> int:
        kept = [(index, self.columns.get(column, column)) for index, column in enumerate(header)]
        kept = [(index, key) for index, key in kept if key is not None]
        for index, key in kept:
            if key == _PHONE:
                return index
        if len(kept) == 1:
            return kept[0][0]
        self._check_mapped(header)  # a mistyped phone column says so, rather than that none was named
        raise ThuliumValidationError(
            f"{self.describe()}: phone numbers are read from one column, or from the one named (or mapped to) "
            f"'phone_number'; the source has {len(kept)} columns ({', '.join(map(repr, header))}): name the "
            "phone column in columns={'<column>': 'phone_number'}"
        )

    def _plan(self, header: Sequence[str], accepted: frozenset[str]) -> list[tuple[int, str, str | None]]:
        """``(index, record key, record_fields name or None)`` for each column kept."""
        plan: list[tuple[int, str, str | None]] = []
        for index, column in enumerate(header):
            key = self.columns.get(column, column)
            if key is None:
                continue
            if key.startswith(RECORD_FIELDS_PREFIX) and len(key) > len(RECORD_FIELDS_PREFIX):
                plan.append((index, "record_fields", key[len(RECORD_FIELDS_PREFIX) :]))
            elif key in accepted:
                plan.append((index, key, None))
            else:
                # A mistyped columns= key is why a column kept its name more often than not: say that first.
                self._check_mapped(header)
                how = f"is mapped to {key!r}, which" if column in self.columns else "keeps its name, which"
                raise ThuliumValidationError(
                    f"{self.describe()}: column {column!r} {how} is no record key. Map it in columns= to one of "
                    f"{', '.join(sorted(accepted))}, to 'record_fields.<name>', or to None to leave it out"
                )
        if not any(key == _PHONE for _, key, _ in plan):
            self._check_mapped(header)
            raise ThuliumValidationError(
                f"{self.describe()}: no column is read as 'phone_number' (columns: {', '.join(map(repr, header))}); "
                "name it in columns={'<column>': 'phone_number'}"
            )
        read_as: dict[str, str] = {}
        for index, key, name in plan:
            target = key if name is None else RECORD_FIELDS_PREFIX + name
            if target in read_as:
                raise ThuliumValidationError(
                    f"{self.describe()}: columns {read_as[target]!r} and {header[index]!r} are both read as "
                    f"{target!r}, and a record holds one; map one of them elsewhere in columns=, or to None"
                )
            read_as[target] = header[index]
        return plan

    def _check_across(
        self,
        keys: list[int],
        values: Sequence[Any],
        seen: _SeenPhones,
        names: RowNames,
        spool: Spool,
        *,
        repeats_allowed: bool,
        hint: str = "",
    ) -> None:
        """Duplicates of earlier chunks' phones: a repeat (refused unless allowed), or another spelling (refused)."""
        clashes = seen.clashes(keys, repeats_allowed)
        if not clashes:
            return
        for index, value in enumerate(values):
            phone = str(value).strip()
            other = phone[1:] if phone.startswith("+") else "+" + phone
            clash = phone if phone in clashes else other if other in clashes else None
            if clash is None:
                continue
            earlier = self._row_of(spool, clash)
            where = f"{item_name(names, index)} (phone {mask_phone(phone)})"
            if clash == phone:
                raise ThuliumValidationError(f"{where}: the same phone is already in row {earlier}; {hint}")
            raise ThuliumValidationError(
                f"{where}: the same number as row {earlier}, written {'with' if clash.startswith('+') else 'without'} "
                "'+'. Thulium may hold the two spellings as one number or two: give each number once, as the "
                "campaign spells it"
            )

    @staticmethod
    def _row_of(spool: Spool, phone: str) -> str:
        for index, item in enumerate(SpooledPhones(spool), start=1):
            if item == phone:
                # A delete's repeated numbers are spooled once, so its row is the number's place among them.
                return str(index) if spool.keys else f"{index} (counting each number once)"
        return "?"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


class _SeenPhones:
    """The phones of the chunks read so far, each kept as an int: ``48…`` as ``148…``, ``+48…`` as
    ``-148…``. Half the memory of their text: a million phones are the most a source's read holds."""

    def __init__(self) -> None:
        self._keys: set[int] = set()

    @staticmethod
    def keys(phones: Sequence[str]) -> list[int]:
        """The phones' keys (checked phones: ``+?[0-9]+``, a leading plus optional).

        :param phones: a chunk's phones.
        """
        if "+" not in "".join(phones):
            return list(map(int, map("1".__add__, phones)))
        return [-int("1" + phone[1:]) if phone[0] == "+" else int("1" + phone) for phone in phones]

    def add(self, keys: Iterable[int]) -> None:
        """Add a chunk's phones, as :meth:`keys` gives them."""
        self._keys.update(keys)

    def clashes(self, keys: list[int], repeats_allowed: bool) -> set[str]:
        """The phones seen before that ``keys`` give again (unless allowed) or spell the other way."""
        found = set() if self._keys.isdisjoint(map(neg, keys)) else self._keys.intersection(map(neg, keys))
        if not repeats_allowed and not self._keys.isdisjoint(keys):
            found |= self._keys.intersection(keys)
        return {"+" + str(-key)[1:] if key < 0 else str(key)[1:] for key in found}

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __bool__(self) -> bool:
        return bool(self._keys)


def _spell_phones(columns: Columns, numbering: PhoneNumbering, names: RowNames) -> None:
    """The chunk's phone column, in place, as sent under ``numbering``; an empty cell is left for the checks."""
    keys, values = columns[0], columns[1]
    index = keys.index(_PHONE)
    column = values[index]
    at = [row for row, value in enumerate(column) if value is not None] if None in column else range(len(column))
    given = [column[row] for row in at] if None in column else column
    spelled = spelled_phones(given, numbering, lambda row: row_where(names, at[row]))
    if None in column:
        column = list(column)
        for row, phone in zip(at, spelled, strict=True):
            column[row] = phone
        values[index] = column
    else:
        values[index] = spelled


def _columns(plan: list[tuple[int, str, str | None]], columns: list[list[Any]]) -> tuple[Columns, bool]:
    """A chunk's columns as record keys and ``record_fields`` names, values converted (see :func:`_column`);
    and whether every cell has a value."""
    keys = [key for _, key, field in plan if field is None]
    values = [_column(key, columns[index]) for index, key, field in plan if field is None]
    names = [field for _, _, field in plan if field is not None]
    fields = [_column(name, columns[index]) for index, _, name in plan if name is not None]
    full = all(full for _, full in values) and all(full for _, full in fields)
    return (keys, [column for column, _ in values], names, [column for column, _ in fields]), full


def _column(key: str, column: list[Any]) -> tuple[list[Any], bool]:
    """A column's values as the checks take them: an empty cell is ``None``, digits are an int for an
    id, ``Decimal`` a number, a timestamp with seconds loses them (the API takes minutes); and
    whether every cell has a value."""
    if "" in column:
        column = [None if value == "" else value for value in column]
    kinds = set(map(type, column))
    if key in ID_KEYS and str in kinds:
        # CSV cells are text: "2" for a status id, turned into the int the API takes.
        ids = ids_from_digits(column) if kinds == {str} else None
        if ids is None:
            ids = [int(v) if type(v) is str and v.isascii() and v.isdigit() and len(v) < 19 else v for v in column]
        column = ids
    elif key == _NEXT_CALL_DATE and str in kinds:
        # Only "YYYY-MM-DD hh:mm:ss" loses its seconds here: anything else reaches the checks as written,
        # so that a message quotes the value the source holds.
        column = [v[:16] if type(v) is str and len(v) == 19 and v[10] == " " and v[16] == ":" else v for v in column]
    if not kinds <= _PLAIN:
        column = [_value(key, value) for value in column]
    return column, type(None) not in kinds


def _value(key: str, value: Any) -> Any:
    """A value of a type a database or Parquet gives, in the form the checks take."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (datetime, date)) and key != _NEXT_CALL_DATE:
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return value


class SqlSource(Source):
    """The rows of a query through an Airflow SQL connection (its ``DbApiHook``), read in chunks.

    Needs ``apache-airflow-providers-common-sql`` and the provider of the connection's database
    (``pip install 'airflow-provider-thulium[sql]'``). PostgreSQL rows come through a server-side
    cursor; other databases through ``fetchmany``. The query runs once per task try.

    :param conn_id: the SQL connection (e.g. a ``postgres`` or ``sqlite`` connection). Its hook
        must be a ``DbApiHook``.
    :param sql: the query; its rows' order is the input's order (an ``ORDER BY`` keeps it stable). Templated.
    :param parameters: the query's parameters, as the database's driver takes them. Templated.
    :param columns: source column → record key (see :class:`Source`).
    """

    template_fields: Sequence[str] = ("sql", "parameters")

    def __init__(
        self,
        conn_id: str,
        sql: str,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        columns: Mapping[str, str | None] | None = None,
    ) -> None:
        super().__init__(columns)
        self.conn_id = conn_id
        self.sql = sql
        self.parameters = parameters

    def describe(self) -> str:
        return f"query on connection {self.conn_id!r}"

    def chunks(self) -> Iterator[Chunk]:
        hook = self._hook()
        read = 0
        try:
            connection = hook.get_conn()
        except Exception as exc:
            raise sql_failed(self.describe(), read, exc) from None
        try:
            cursor = _cursor(connection)
            try:
                # The driver's own errors (a syntax error, a value that cannot be cast in row 15,001,
                # a lost connection) name the query and the rows read, fail-fast or not.
                try:
                    if self.parameters is None:
                        cursor.execute(self.sql)
                    else:
                        cursor.execute(self.sql, self.parameters)
                except Exception as exc:
                    raise sql_failed(self.describe(), read, exc) from None
                while True:
                    try:
                        rows = cursor.fetchmany(CHUNK_ROWS)
                        # A server-side cursor describes its columns only once rows were fetched.
                        names = [column[0] for column in cursor.description] if rows else []
                    except Exception as exc:
                        raise sql_failed(self.describe(), read, exc) from None
                    if not rows:
                        return
                    read += len(rows)
                    yield names, columns_of_rows(rows)
            finally:
                cursor.close()
        finally:
            connection.close()

    def _hook(self) -> Any:
        return dbapi_hook(self.conn_id, "SqlSource", "reads")


def dbapi_hook(conn_id: str, user: str, verb: str) -> Any:
    """The ``DbApiHook`` of an Airflow SQL connection (Airflow imported here, not with the module).

    :param conn_id: the SQL connection.
    :param user: who asks, as messages name it (``"SqlSource"``).
    :param verb: what it does through the hook, as messages say it (``"reads"``, ``"writes"``).
    """
    try:
        from airflow.providers.common.sql.hooks.sql import DbApiHook
    except ImportError:
        raise ThuliumConfigurationError(
            f"{user} {verb} through apache-airflow-providers-common-sql, which is not installed: "
            "pip install 'airflow-provider-thulium[sql]'"
        ) from None
    from airflow_provider_thulium.version_compat import BaseHook

    hook = BaseHook.get_connection(conn_id).get_hook()
    if not isinstance(hook, DbApiHook):
        raise ThuliumConfigurationError(
            f"{user}: connection {conn_id!r} gives a {type(hook).__name__}, not a SQL hook (DbApiHook); "
            "use a database connection (postgres, mysql, sqlite...)"
        )
    return hook


def _cursor(connection: Any) -> Any:
    """A server-side cursor where the driver has one (psycopg2, psycopg 3), else a plain one."""
    if type(connection).__module__.split(".")[0] in ("psycopg2", "psycopg"):
        cursor = connection.cursor(name="thulium_source")
        cursor.itersize = CHUNK_ROWS
        return cursor
    return connection.cursor()


class FileSource(Source):
    """A CSV (with a header row), JSON Lines or Parquet file, local or in object storage.

    Read through Airflow's ``ObjectStoragePath``: a local path, ``file://``, ``s3://``, ``gs://``...
    with the connection for it. Parquet needs ``pyarrow`` (``pip install 'airflow-provider-thulium[parquet]'``).
    CSV cells are text; an empty cell is no value. Row 1 is the first row of data.

    :param path: where the file is. Templated.
    :param conn_id: the connection for an object store (e.g. ``aws_default`` for ``s3://``).
    :param format: ``"csv"``, ``"jsonl"`` or ``"parquet"``; by default from the extension
        (``.csv``, ``.jsonl`` / ``.ndjson``, ``.parquet`` / ``.pq``).
    :param columns: source column → record key (see :class:`Source`).
    """

    template_fields: Sequence[str] = ("path",)

    def __init__(
        self,
        path: str,
        conn_id: str | None = None,
        format: str | None = None,
        columns: Mapping[str, str | None] | None = None,
    ) -> None:
        super().__init__(columns)
        self.path = path
        self.conn_id = conn_id
        self.format = format

    def describe(self) -> str:
        return f"file {hide_url_credentials(str(self.path))}"

    def file_format(self) -> str:
        """The format to read: ``format``, or the one of the path's extension."""
        if self.format is not None:
            if self.format not in set(FORMATS.values()):
                raise ThuliumValidationError(f"FileSource format: expected csv, jsonl or parquet, got {self.format!r}")
            return self.format
        extension = os.path.splitext(str(self.path))[1].lower()
        if extension not in FORMATS:
            raise ThuliumValidationError(
                f"{self.describe()}: the extension {extension!r} names no format; give format='csv', 'jsonl' or "
                "'parquet'"
            )
        return FORMATS[extension]

    def chunks(self) -> Iterator[Chunk]:
        file_format = self.file_format()
        if file_format == "csv":
            yield from csv_chunks(lambda: open_path(self.path, self.conn_id, "rb"), self.describe())
            return
        reader = jsonl_chunks if file_format == "jsonl" else parquet_chunks
        with open_path(self.path, self.conn_id, "rb") as file:
            yield from reader(file, self.describe())


__all__ = ["FileSource", "Source", "SqlSource"]
