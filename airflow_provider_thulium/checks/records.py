"""Checks and normalisation of user input, done in full before any request is sent.

A list of records is first asked whole whether it is already in normal form
(:mod:`~airflow_provider_thulium.checks.normal_form`); only when it is not is it checked here one
record at a time, each key by its rule (:mod:`~airflow_provider_thulium.checks.rules`). Every
error is a :class:`ThuliumValidationError` naming the field, the item's index and a masked form of
the phone number (phone numbers are personal data and error messages end up in logs).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from airflow_provider_thulium.checks.normal_form import records_in_normal_form
from airflow_provider_thulium.checks.numbering import PhoneNumbering
from airflow_provider_thulium.checks.phones import PHONE, why_not_in_region
from airflow_provider_thulium.checks.rules import (
    FIELD_RULES,
    PHONE_LINES,
    checked_phone,
    joined_if_all_match,
    spelled_twice,
)
from airflow_provider_thulium.checks.spec import STATUS_NAME_FIELD, UPDATE_RECORDS, RecordSpec
from airflow_provider_thulium.exceptions import ThuliumValidationError
from airflow_provider_thulium.privacy import mask_phone
from airflow_provider_thulium.settings import parse_bool

_LIST_SEPARATORS = re.compile(r"[,;\r\n]+")
_CAMPAIGN_ID = re.compile(r"[A-Za-z0-9]{5}")
#: The fewest digits of a whole dialable number (country code included; the shortest national
#: numbers have 4 digits after a 3-digit country code): a whitespace-separated part with fewer is
#: a piece of one number written with spaces, not a number.
MIN_WHOLE_NUMBER_DIGITS = 7


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


def row_where(names: RowNames, index: int) -> object:
    """Names a source's row and its phone column in a message (``file crm.csv, row 4.phone_number (column 'msisdn')``).

    :param names: the chunk's row names.
    :param index: the row's index in the chunk.
    """
    return _Where(names, index, key="phone_number")


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


def parse_phone_numbers(
    phone_numbers: object, field: str = "phone_numbers", numbering: PhoneNumbering | None = None
) -> list[str]:
    """Return the phone numbers as stripped strings, each once, in input order.

    With ``numbering`` (the ``phone_region`` setting), each is read by the region's numbering plan
    and returned as it is sent: its spellings (``+48 500 100 201``, ``0048500100201``,
    ``500100201``) are one number, kept once; a text that cannot be a number of the plan is refused.

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
    if numbering is not None:
        key = "phone_number" if isinstance(field, RowNames) else None
        return list(dict.fromkeys(spelled_phones(items, numbering, lambda index: _Where(field, index, key=key))))
    joined = joined_if_all_match(items, PHONE_LINES)
    if joined is not None:
        unique: dict[str, None] = dict.fromkeys(items)  # type: ignore[arg-type]  # all str, checked whole
        if not spelled_twice(unique, joined, len(items)):
            return list(unique)
    first_index: dict[str, tuple[int, str]] = {}  # digits → (index, spelling) of the first item with them
    key = "phone_number" if isinstance(field, RowNames) else None  # a source's row: name its column too
    for index, value in enumerate(items):
        where = _Where(field, index, key=key)
        phone = checked_phone(value, where)
        earlier = first_index.setdefault(phone.lstrip("+"), (index, phone))
        if earlier[1] != phone:
            raise _same_number_error(where, item_name(field, earlier[0]), phone, earlier[1])
    return list(dict.fromkeys(spelling for _, spelling in first_index.values()))


def spelled_phones(values: Sequence[object], numbering: PhoneNumbering, where: Callable[[int], object]) -> list[str]:
    """Each phone as sent under ``numbering``, or the error naming the first that cannot be a phone of its region.

    :param values: the phones as given.
    :param numbering: the region's numbering plan and the spelling sent.
    :param where: names item ``index`` in the error.
    """
    spelled = numbering.spell_all(values)
    if None in spelled:
        index = spelled.index(None)
        value = values[index]
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ThuliumValidationError(
                f"{where(index)}: expected a phone number as str or int, got {type(value).__name__}"
            )
        text = str(value).strip()
        shown = mask_phone(text) if text else "''"
        raise ThuliumValidationError(
            f"{where(index)}: phone {shown} cannot be a phone number of region {numbering.region} "
            f"(phone_region): {why_not_in_region(text, numbering.region)}"
        )
    return spelled  # type: ignore[return-value]  # no None, checked above


def _refuse_one_number_with_spaces(parts: Sequence[str], field: str) -> None:
    """Refuse whitespace-separated parts that are not each a whole number: ``+48 500 100 201`` is one
    number written with spaces, and deleting ``+48``, ``500``, ``100`` and ``201`` would remove nothing
    and leave the task green. Parts that are not digits at all are left to the check of each item."""
    lengths = [len(part) - part.startswith("+") for part in parts]
    if min(lengths) >= MIN_WHOLE_NUMBER_DIGITS or not all(map(PHONE.fullmatch, parts)):
        return
    joined = "".join(parts)
    what = (
        f"one number written with spaces (phone {mask_phone(joined)})"
        if PHONE.fullmatch(joined)
        else ("numbers written with spaces")
    )
    raise ThuliumValidationError(
        f"{field}: the text looks like {what}: split on whitespace it gives parts of "
        f"{', '.join(map(str, lengths))} digits, and a whole number has at least {MIN_WHOLE_NUMBER_DIGITS}. Write "
        "each number without spaces; to pass several numbers, give a list or separate them with commas or newlines "
        "(`{{ phones | join(',') }}`)"
    )


def resolve_timezone(name: str) -> ZoneInfo:
    """Return the account's time zone, or a validation error naming the bad value."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ThuliumValidationError(f"timezone: {name!r} is not a known time zone (e.g. 'Europe/Warsaw')") from None


def parse_records(
    records: object,
    account_tz: ZoneInfo,
    field: str = "records",
    spec: RecordSpec = UPDATE_RECORDS,
    numbering: PhoneNumbering | None = None,
) -> list[dict[str, Any]]:
    """Return the records for a records call, checked and normalised.

    Accepts a list of dicts or a JSON string of one. With ``numbering`` (``phone_region``), each
    record's ``phone_number`` is first read by the region's plan and written as it is sent. A phone
    number may appear once: the API
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
    if numbering is not None:
        records = _phones_spelled(records, numbering, field)
    if records_in_normal_form(records, spec):
        # The caller's dicts are sent as they are: nothing in them would change.
        return list(records)
    return check_records_one_by_one(records, account_tz, field, spec)


def _phones_spelled(records: Sequence[Any], numbering: PhoneNumbering, field: str) -> Sequence[Any]:
    """The records with each ``phone_number`` as sent under ``numbering``; a record whose phone
    changes is a new dict (the caller's are not changed). Records that are not dicts with a
    phone are left for the one-by-one check to name."""
    at = [index for index, record in enumerate(records) if isinstance(record, Mapping) and "phone_number" in record]
    if not at:
        return records
    given = [records[index]["phone_number"] for index in at]
    spelled = spelled_phones(given, numbering, lambda index: _Where(field, at[index], key="phone_number"))
    if spelled == given:
        return records
    changed = list(records)
    for index, before, after in zip(at, given, spelled, strict=True):
        if before != after:
            changed[index] = {**records[index], "phone_number": after}
    return changed


def check_records_one_by_one(
    records: Sequence[Any], account_tz: ZoneInfo, field: str, spec: RecordSpec
) -> list[dict[str, Any]]:
    """The records checked and normalised one at a time, each key by its rule (:data:`FIELD_RULES`):
    what :func:`parse_records` returns, or the error naming the first record and field at fault.

    :param records: the input, a list or tuple.
    :param account_tz: the account's time zone, for ``next_call_date`` given as a datetime.
    :param field: the input's name in messages (``records``, or a source's :class:`RowNames`).
    :param spec: what the call's records may hold.
    """
    accepted = spec.accepted
    normal = {key: rule.normal for key, rule in FIELD_RULES.items()}  # looked up once, called per value
    seen: dict[str, tuple[int, str]] = {}  # digits → (index, spelling) of the record with them
    normalised: list[dict[str, Any]] = []
    where = _Where(field)  # one for the whole input; pointed at each record and key in turn
    for index, record in enumerate(records):
        where.index, where.phone = index, None
        if not isinstance(record, dict) and not isinstance(record, Mapping):
            raise ThuliumValidationError(f"{where.at(None)}: expected an object, got {type(record).__name__}")
        if "phone_number" not in record:
            unknown = sorted(str(key) for key in record if key not in accepted)
            raise ThuliumValidationError(
                f"{where.at('phone_number')}: missing (every record needs the number it is called on)"
                + (f"; unknown field(s) {', '.join(unknown)}" if unknown else "")
            )
        where.key = "phone_number"  # set, not at(): a method call per value costs more than the check
        phone = checked_phone(record["phone_number"], where)
        where.phone = phone
        if not accepted.issuperset(record):
            unknown = sorted(str(key) for key in record if key not in accepted)
            raise ThuliumValidationError(
                f"{where.at(None)}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(accepted))}"
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
            where.key = key
            given_name = key == STATUS_NAME_FIELD and isinstance(value, str) and value.strip()
            if given_name and record.get("status_id") is not None:
                # Refused before the name's own text is checked: the two are one status given twice.
                raise ThuliumValidationError(f"{where}: give either status (a name) or status_id (a number), not both")
            clean[key] = normal[key](value, where, account_tz)
        if spec.needs_change and len(clean) == 1:
            raise ThuliumValidationError(
                f"{where.at(None)}: nothing to change; give at least one of status, status_id, dictionary_status_id, "
                "agent_login, next_call_date, record_fields"
            )
        normalised.append(clean)
    return normalised
