"""Checks and normalisation of user input, done in full before any request is sent.

Every error is a :class:`ThuliumValidationError` naming the field, the item's index and a masked
form of the phone number (phone numbers are personal data and error messages end up in logs).
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from airflow_provider_thulium.checks.fast_path import (
    _MAX_INT,
    _NEXT_CALL_DATE,
    _PHONE_LINES,
    NEXT_CALL_DATE_FORMAT,
    _is_utf8,
    _joined_if_all_match,
    _records_in_normal_form,
    _spelled_twice,
)
from airflow_provider_thulium.checks.phones import PHONE as _PHONE
from airflow_provider_thulium.checks.phones import why_not_a_phone
from airflow_provider_thulium.exceptions import ThuliumValidationError
from airflow_provider_thulium.privacy import mask_phone, shown_value
from airflow_provider_thulium.settings import parse_bool

_LIST_SEPARATORS = re.compile(r"[,;\r\n]+")
_CAMPAIGN_ID = re.compile(r"[A-Za-z0-9]{5}")
# The form SQL databases and CRM exports write; the API takes minutes, so the seconds are dropped.
_NEXT_CALL_DATE_SECONDS = re.compile(r"(?P<minutes>[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}):[0-9]{2}")
_DIGITS = re.compile(r"[0-9]+")


_MAX_PHONE = 10**20  # 20 digits at most
#: The fewest digits of a whole dialable number (country code included; the shortest national
#: numbers have 4 digits after a 3-digit country code): a whitespace-separated part with fewer is
#: a piece of one number written with spaces, not a number.
MIN_WHOLE_NUMBER_DIGITS = 7

#: The fields a record of ``PUT batch/outbounds/:id/records`` may hold (docs/thulium-api.md, "PUT").
EDITABLE_FIELDS = frozenset(
    {"phone_number", "status_id", "dictionary_status_id", "agent_login", "next_call_date", "record_fields"}
)
#: Fields only ``POST batch/outbounds/:id/records`` takes (docs/thulium-api.md, "POST").
ADD_ONLY_FIELDS = frozenset({"identifier", "order"})
#: A status by its name instead of ``status_id``; resolved through the campaign's statuses before sending.
STATUS_NAME_FIELD = "status"


@dataclass(frozen=True)
class RecordSpec:
    """What a call's records may hold.

    :param fields: the keys the API takes.
    :param needs_change: a record must hold something besides ``phone_number`` (an edit does; an add does not).
    :param duplicate_hint: what to do about a phone given twice, for the error message.
    """

    fields: frozenset[str]
    needs_change: bool
    duplicate_hint: str

    @property
    def accepted(self) -> frozenset[str]:
        """The keys a caller may give: the API's, and a status name."""
        return self.fields | {STATUS_NAME_FIELD}


UPDATE_RECORDS = RecordSpec(EDITABLE_FIELDS, True, "merge the two edits into one record")
ADD_RECORDS = RecordSpec(
    EDITABLE_FIELDS | ADD_ONLY_FIELDS, False, "the API cannot add one number twice; keep one of the two records"
)


class RowNames(str):
    """The name of a source's rows in messages: item ``i`` of a chunk is ``<source>, row <first + i>``.

    :param text: names the source (``file crm.csv``).
    :param first: the row number of the chunk's first item (1 is the first row of data).
    :param columns: record key → the source column it was read from, where the two differ.
    """

    first: int
    columns: Mapping[str, str]

    def __new__(cls, text: str, first: int, columns: Mapping[str, str] | None = None) -> RowNames:
        names = super().__new__(cls, text)
        names.first = first
        names.columns = columns or {}
        return names


def item_name(field: str, index: int) -> str:
    """How an input item is named in messages: ``records[3]``, or ``file crm.csv, row 4`` for a source's row."""
    if isinstance(field, RowNames):
        return f"{field}, row {field.first + index}"
    return f"{field}[{index}]"


class _Where:
    """Names an input item in an error message, e.g. ``records[3] (phone …207).status_id``.

    The text is built only when an error is raised: validating 100,000 records must not format
    100,000 messages nobody reads.
    """

    __slots__ = ("field", "index", "key", "phone")

    def __init__(self, field: str, index: int | None = None, phone: str | None = None, key: str | None = None):
        self.field, self.index, self.phone, self.key = field, index, phone, key

    def at(self, key: str | None) -> _Where:
        """Point at one key of the item. Mutates and returns ``self``: one object serves a whole
        record, since validation of a record is sequential and a message is formatted at once."""
        self.key = key
        return self

    def __str__(self) -> str:
        text = self.field if self.index is None else item_name(self.field, self.index)
        if self.phone is not None:
            text += f" (phone {mask_phone(self.phone)})"
        if self.key is None:
            return text
        column = self.field.columns.get(self.key) if isinstance(self.field, RowNames) else None
        return f"{text}.{self.key}" + (f" (column {column!r})" if column else "")


def normalize_campaign_id(campaign_id: object) -> str:
    """Return the five-character campaign id; an int or a short digit string is zero-padded."""
    if isinstance(campaign_id, bool):
        raise ThuliumValidationError(f"campaign_id: expected a five-character id, got {campaign_id!r}")
    if isinstance(campaign_id, int):
        if not 0 <= campaign_id <= 99999:
            raise ThuliumValidationError("campaign_id: the number does not fit five digits")
        return f"{campaign_id:05d}"
    if isinstance(campaign_id, str):
        text = campaign_id.strip()
        if text.isdigit() and len(text) < 5:
            text = text.zfill(5)
        if _CAMPAIGN_ID.fullmatch(text):
            return text
        raise ThuliumValidationError(
            f"campaign_id: {campaign_id!r} is not a campaign id (five letters or digits, e.g. '00001')"
        )
    raise ThuliumValidationError(
        f"campaign_id: expected a five-character id or an int, got {type(campaign_id).__name__}"
    )


def as_sequence(value: Any) -> Any:
    """A list from any iterable of items that is not already a str, list or tuple (a set, a generator,
    the lazy sequence Airflow 3 passes for a mapped upstream's XCom).

    Anything else is left for validation to refuse with a clear message: not ``list(value)``, which
    raises ``TypeError`` for a non-iterable and turns bytes into ints and a dict into its keys.
    """
    if isinstance(value, (str, list, tuple, bytes, bytearray, Mapping)) or not isinstance(value, Iterable):
        return value
    return list(value)


def parse_flag(value: object, field: str) -> bool:
    """Return a boolean from a bool or the string a template renders (``"True"``, ``"false"``, ``""``...)."""
    if isinstance(value, str) and not value.strip():
        return False  # an empty template result: the flag was not set
    try:
        return parse_bool(value)
    except ValueError as exc:
        raise ThuliumValidationError(f"{field}: {exc}") from None


def _phone(value: object, where: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ThuliumValidationError(f"{where}: expected a phone number as str or int, got {type(value).__name__}")
    if isinstance(value, int) and not 0 <= value < _MAX_PHONE:
        # Checked before str(): an int of more than 4300 digits cannot be turned into text.
        raise ThuliumValidationError(f"{where}: the number is negative or longer than 20 digits")
    text = str(value).strip()
    if not _PHONE.fullmatch(text):
        shown = mask_phone(text) if text else "''"
        raise ThuliumValidationError(
            f"{where}: phone {shown} is not a phone number (1-20 digits, optionally after a leading +): "
            f"it {why_not_a_phone(text)}"
        )
    return text


def _list_literal(text: str, field: str, hint: str = "") -> list[Any]:
    """A list written as text (a template rendering a list: ``['485…', '486…']``, or JSON), as a list."""
    try:
        value = json.loads(text)
    except ValueError:
        try:
            value = ast.literal_eval(text)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            value = None
    except RecursionError:
        value = None
    if not isinstance(value, list):
        raise ThuliumValidationError(
            f"{field}: the text looks like a list ('[...]') but is not a JSON or Python list literal; pass a list, "
            f"{hint}or set render_template_as_native_obj=True on the DAG"
        )
    return value


def _same_number_error(where: object, earlier: str, phone: str, earlier_phone: str) -> ThuliumValidationError:
    """The error for one number given in two spellings, ``+48…`` and ``48…``."""
    return ThuliumValidationError(
        f"{where}: phone {mask_phone(phone)} is the same number as {earlier}, written "
        f"{'with' if earlier_phone.startswith('+') else 'without'} '+'. Thulium may hold the two spellings as "
        "one number or two: give each number once, as the campaign spells it"
    )


def parse_phone_numbers(phone_numbers: object, field: str = "phone_numbers") -> list[str]:
    """Return the phone numbers as stripped strings, each once, in input order.

    Accepts a list or tuple of str/int, or one string of numbers separated by commas, semicolons,
    whitespace or newlines (what a Jinja template renders), or a string holding a list literal
    (what a template renders from a list: ``['48500100201', '48500100202']``, or JSON). A number
    given twice with the same spelling is kept once; given as both ``+48…`` and ``48…`` it is
    refused, naming both items.
    """
    phone_numbers = as_sequence(phone_numbers)
    if isinstance(phone_numbers, str):
        stripped = phone_numbers.strip()
        if stripped[:1] == "[" and stripped[-1:] == "]":
            phone_numbers = _list_literal(stripped, field, "join it in the template (`{{ phones | join(',') }}`), ")
    if isinstance(phone_numbers, str):
        # Commas, semicolons or newlines separate numbers when there are any: then a space is part
        # of an item, and "+48 500 100 201" is refused rather than read as four short numbers.
        # Without them, whitespace separates (`{{ phones | join(' ') }}`).
        separator = _LIST_SEPARATORS if _LIST_SEPARATORS.search(phone_numbers) else None
        parts = separator.split(phone_numbers) if separator else phone_numbers.split()
        items: Sequence[object] = [part.strip() for part in parts if part.strip()]
        if separator is None and len(items) > 1:
            _refuse_one_number_with_spaces(items, field)  # type: ignore[arg-type]  # parts of a str
    elif isinstance(phone_numbers, (list, tuple)):
        items = phone_numbers
    else:
        raise ThuliumValidationError(
            f"{field}: expected a list of phone numbers or a string of them, got {type(phone_numbers).__name__}"
        )
    joined = _joined_if_all_match(items, _PHONE_LINES)
    if joined is not None:
        unique: dict[str, None] = dict.fromkeys(items)  # type: ignore[arg-type]  # all str, checked whole
        if not _spelled_twice(unique, joined, len(items)):
            return list(unique)
    first_index: dict[str, tuple[int, str]] = {}  # digits → (index, spelling) of the first item with them
    key = "phone_number" if isinstance(field, RowNames) else None  # a source's row: name its column too
    for index, value in enumerate(items):
        where = _Where(field, index, key=key)
        phone = _phone(value, where)
        earlier = first_index.setdefault(phone.lstrip("+"), (index, phone))
        if earlier[1] != phone:
            raise _same_number_error(where, item_name(field, earlier[0]), phone, earlier[1])
    return list(dict.fromkeys(spelling for _, spelling in first_index.values()))


def _refuse_one_number_with_spaces(parts: Sequence[str], field: str) -> None:
    """Refuse whitespace-separated parts that are not each a whole number: ``+48 500 100 201`` is one
    number written with spaces, and deleting ``+48``, ``500``, ``100`` and ``201`` would remove nothing
    and leave the task green. Parts that are not digits at all are left to the check of each item."""
    lengths = [len(part) - part.startswith("+") for part in parts]
    if min(lengths) >= MIN_WHOLE_NUMBER_DIGITS or not all(map(_PHONE.fullmatch, parts)):
        return
    joined = "".join(parts)
    what = (
        f"one number written with spaces (phone {mask_phone(joined)})"
        if _PHONE.fullmatch(joined)
        else ("numbers written with spaces")
    )
    raise ThuliumValidationError(
        f"{field}: the text looks like {what}: split on whitespace it gives parts of "
        f"{', '.join(map(str, lengths))} digits, and a whole number has at least {MIN_WHOLE_NUMBER_DIGITS}. Write "
        "each number without spaces; to pass several numbers, give a list or separate them with commas or newlines "
        "(`{{ phones | join(',') }}`)"
    )


def _status_id(value: object, where: object) -> int:
    if type(value) is int and 0 <= value <= _MAX_INT:  # the common case, first
        return value
    if isinstance(value, bool):
        raise ThuliumValidationError(f"{where}: expected an integer id, got {value!r}")
    if isinstance(value, int) and 0 <= value <= _MAX_INT:
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()) and len(value.strip()) <= 19:
        number = int(value.strip())
        if number <= _MAX_INT:
            return number
    shown = "a number too large" if isinstance(value, int) else shown_value(value, 40)
    raise ThuliumValidationError(f"{where}: expected a non-negative integer id (64-bit), got {shown}")


def _next_call_date(value: object, where: object, account_tz: ZoneInfo) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is not None and value.utcoffset() is not None:
            try:
                value = value.astimezone(account_tz)
            except (OverflowError, ValueError):
                raise ThuliumValidationError(
                    f"{where}: {value.isoformat()} is out of range in the account's time zone"
                ) from None
        # Not strftime: it does not zero-pad years before 1000 on every platform.
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value.hour:02d}:{value.minute:02d}"
    if isinstance(value, date):
        raise ThuliumValidationError(f"{where}: a date needs a time of day; pass a datetime or 'YYYY-MM-DD hh:mm'")
    if isinstance(value, str):
        text = value.strip()
        with_seconds = _NEXT_CALL_DATE_SECONDS.fullmatch(text)
        if with_seconds or _NEXT_CALL_DATE.fullmatch(text):
            try:
                datetime.strptime(text, NEXT_CALL_DATE_FORMAT + (":%S" if with_seconds else ""))
            except ValueError:
                pass
            else:
                return with_seconds.group("minutes") if with_seconds else text
        raise ThuliumValidationError(
            f"{where}: {shown_value(value)} is not a date in the form 'YYYY-MM-DD hh:mm' (or hh:mm:ss)"
        )
    raise ThuliumValidationError(f"{where}: expected 'YYYY-MM-DD hh:mm' or a datetime, got {type(value).__name__}")


def _check_text(value: str, where: object) -> str:
    if not _is_utf8(value):
        raise ThuliumValidationError(f"{where}: the text holds a character that is not valid Unicode")
    return value


def _record_fields(value: object, where: _Where) -> dict[str, Any]:
    if not isinstance(value, dict) and not isinstance(value, Mapping):
        raise ThuliumValidationError(f"{where}: expected an object of field values, got {type(value).__name__}")
    fields: dict[str, Any] = {}
    for key, field_value in value.items():
        if not isinstance(key, str) or not key:
            raise ThuliumValidationError(f"{where}: field names must be non-empty strings, got {key!r}")
        if not key.isascii():
            _check_text(key, where)
        if type(field_value) is str:  # the common case: only non-ASCII text needs the Unicode check
            if not field_value.isascii():
                _check_text(field_value, f"{where}.{key}")
            fields[key] = field_value
            continue
        if field_value is not None and not isinstance(field_value, (str, int, float, bool)):
            raise ThuliumValidationError(
                f"{where}.{key}: expected a string, number, boolean or null, got {type(field_value).__name__}"
            )
        if isinstance(field_value, float) and not math.isfinite(field_value):
            raise ThuliumValidationError(f"{where}.{key}: {field_value} has no JSON form; send a finite number")
        if isinstance(field_value, int) and not isinstance(field_value, bool) and abs(field_value) > _MAX_INT:
            raise ThuliumValidationError(f"{where}.{key}: the number does not fit 64 bits; send it as a string")
        if isinstance(field_value, str):
            _check_text(field_value, f"{where}.{key}")
        fields[key] = field_value
    return fields


def resolve_timezone(name: str) -> ZoneInfo:
    """Return the account's time zone, or a validation error naming the bad value."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ThuliumValidationError(f"timezone: {name!r} is not a known time zone (e.g. 'Europe/Warsaw')") from None


def parse_records(
    records: object, account_tz: ZoneInfo, field: str = "records", spec: RecordSpec = UPDATE_RECORDS
) -> list[dict[str, Any]]:
    """Return the records for a records call, checked and normalised.

    Accepts a list of dicts or a JSON string of one. A phone number may appear once: the API
    cannot edit or add duplicated numbers, and of two records for one number neither is clearly
    the one meant. A ``status`` (a status's name) is kept for the caller to resolve.
    """
    records = as_sequence(records)
    if isinstance(records, str):
        text = records
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            if not text.strip().startswith("["):
                raise ThuliumValidationError(f"{field}: not valid JSON ({exc.msg} at position {exc.pos})") from None
            # A template rendering a list of dicts writes Python's form ({'phone_number': ...}), not JSON.
            records = _list_literal(text.strip(), field)
        except RecursionError:
            raise ThuliumValidationError(f"{field}: the JSON is nested too deeply") from None
    if not isinstance(records, (list, tuple)):
        raise ThuliumValidationError(f"{field}: expected a list of records, got {type(records).__name__}")
    if _records_in_normal_form(records, spec):
        # The caller's dicts are sent as they are: nothing in them would change.
        return list(records)
    return _check_records_one_by_one(records, account_tz, field, spec)


def _check_records_one_by_one(
    records: Sequence[Any], account_tz: ZoneInfo, field: str, spec: RecordSpec
) -> list[dict[str, Any]]:
    seen: dict[str, tuple[int, str]] = {}  # digits → (index, spelling) of the record with them
    normalised: list[dict[str, Any]] = []
    where = _Where(field)  # one for the whole input; pointed at each record and key in turn
    for index, record in enumerate(records):
        where.index, where.phone = index, None
        if not isinstance(record, dict) and not isinstance(record, Mapping):
            raise ThuliumValidationError(f"{where.at(None)}: expected an object, got {type(record).__name__}")
        if "phone_number" not in record:
            unknown = sorted(str(key) for key in record if key not in spec.accepted)
            raise ThuliumValidationError(
                f"{where.at('phone_number')}: missing (every record needs the number it is called on)"
                + (f"; unknown field(s) {', '.join(unknown)}" if unknown else "")
            )
        phone = record["phone_number"]
        # Fast paths here and below take only what the full check would return unchanged.
        if type(phone) is not str or not _PHONE.fullmatch(phone):
            phone = _phone(phone, where.at("phone_number"))
        where.phone = phone
        if not spec.accepted.issuperset(record):
            unknown = sorted(str(key) for key in record if key not in spec.accepted)
            raise ThuliumValidationError(
                f"{where.at(None)}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(spec.accepted))}"
            )
        earlier = seen.get(phone.lstrip("+"))
        if earlier is not None:
            if earlier[1] != phone:
                raise _same_number_error(where.at("phone_number"), item_name(field, earlier[0]), phone, earlier[1])
            raise ThuliumValidationError(
                f"{where.at('phone_number')}: the same phone is already in {item_name(field, earlier[0])}; "
                f"{spec.duplicate_hint}"
            )
        seen[phone.lstrip("+")] = (index, phone)
        clean: dict[str, Any] = {"phone_number": phone}
        for key, value in record.items():
            if value is None or key == "phone_number":
                continue
            if key == "status_id" or key == "dictionary_status_id" or key == "order":
                clean[key] = (
                    value if type(value) is int and 0 <= value <= _MAX_INT else _status_id(value, where.at(key))
                )
            elif key == STATUS_NAME_FIELD:
                if not isinstance(value, str) or not value.strip():
                    raise ThuliumValidationError(f"{where.at(key)}: expected a status name, e.g. 'Not interested'")
                if record.get("status_id") is not None:
                    raise ThuliumValidationError(
                        f"{where.at(key)}: give either status (a name) or status_id (a number), not both"
                    )
                clean[key] = _check_text(value.strip(), where.at(key))
            elif key == "identifier":
                if type(value) is int and 0 <= value <= _MAX_INT:
                    value = str(value)
                if not isinstance(value, str) or not value.strip():
                    raise ThuliumValidationError(f"{where.at(key)}: expected a non-empty identifier (text or number)")
                clean[key] = _check_text(value.strip(), where.at(key))
            elif key == "record_fields":
                clean[key] = _record_fields(value, where.at(key))
            elif key == "next_call_date":
                clean[key] = _next_call_date(value, where.at(key), account_tz)
            else:  # agent_login, the last of the fields
                if not isinstance(value, str) or not value.strip():
                    raise ThuliumValidationError(f"{where.at(key)}: expected a non-empty agent login")
                clean[key] = _check_text(value.strip(), where.at(key))
        if spec.needs_change and len(clean) == 1:
            raise ThuliumValidationError(
                f"{where.at(None)}: nothing to change; give at least one of status, status_id, dictionary_status_id, "
                "agent_login, next_call_date, record_fields"
            )
        normalised.append(clean)
    return normalised
