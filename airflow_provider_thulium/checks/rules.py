"""The rule of each record key, in one place: a value made normal one by one, and a column known normal whole.

:data:`FIELD_RULES` maps every key a record may hold to its :class:`FieldRule`. The one-by-one
check of :mod:`~airflow_provider_thulium.checks.records` calls :meth:`FieldRule.normal` on each
value, which returns the form sent or raises a :class:`ThuliumValidationError` naming the place;
the whole-input checks of :mod:`~airflow_provider_thulium.checks.normal_form` call
:meth:`FieldRule.all_normal` on a whole column, which answers, in a few passes in C, whether
``normal`` would return every value as it is (same value, same type). ``all_normal`` may say no
where ``normal`` would not change a value (the input then takes the one-by-one path, which is only
slower), never the other way round: the property tests hold the two to that.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from itertools import chain, repeat
from typing import Any
from zoneinfo import ZoneInfo

from airflow_provider_thulium.checks.phones import PHONE, why_not_a_phone
from airflow_provider_thulium.checks.spec import STATUS_NAME_FIELD
from airflow_provider_thulium.exceptions import ThuliumValidationError
from airflow_provider_thulium.privacy import mask_phone, shown_value

#: Integers sent as JSON numbers must fit 64 bits: larger ones lose precision or fail on the server
#: (and Python cannot even print ints beyond 4300 digits).
MAX_INT = 2**63 - 1
_MAX_PHONE = 10**20  # 20 digits at most
_DIGITS = re.compile(r"[0-9]+")
# ASCII digits only: \d and str.isdigit() also match other scripts' digits (fullwidth, superscript...).
_NEXT_CALL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}")
# The form SQL databases and CRM exports write; the API takes minutes, so the seconds are dropped.
_NEXT_CALL_DATE_SECONDS = re.compile(r"(?P<minutes>[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}):[0-9]{2}")
NEXT_CALL_DATE_FORMAT = "%Y-%m-%d %H:%M"
#: Up to this many distinct record field names, their values are checked a column per name.
_FEW_FIELD_NAMES = 4
# Matched a slice of lines at a time: the regex engine keeps about 200 bytes of state per line it
# repeats over, 200 MB for a million phones in one match.
_LINES_PER_MATCH = 10_000


def lines_of(item: re.Pattern[str]) -> re.Pattern[str]:
    """A pattern for newline-separated items that each match ``item`` in full.

    :param item: the pattern of one item.
    """
    return re.compile(f"(?:{item.pattern}\n)*{item.pattern}")


#: Phone numbers, one a line.
PHONE_LINES = lines_of(PHONE)
_NEXT_CALL_DATE_LINES = lines_of(_NEXT_CALL_DATE)


def joined_if_all_match(values: Sequence[object], lines: re.Pattern[str]) -> str | None:
    """``values`` joined by newlines when they are all plain ``str`` that ``lines`` matches so, else ``None``.

    :param values: the values.
    :param lines: a pattern made by :func:`lines_of`.
    """
    if not values or set(map(type, values)) != {str}:
        return None
    text = "\n".join(values)  # type: ignore[arg-type]  # all str, checked above
    # A newline inside a value would split it into two lines that may each match: count them.
    if text.count("\n") != len(values) - 1:
        return None
    for start in range(0, len(values), _LINES_PER_MATCH):
        if lines.fullmatch("\n".join(values[start : start + _LINES_PER_MATCH])) is None:  # type: ignore[arg-type]
            return None
    return text


def spelled_twice(phones: Iterable[str], joined: str, count: int) -> bool:
    """Whether a number is among ``phones`` both with and without a leading ``+``.

    Only an input that mixes the two spellings needs a look at each phone; the common ones (no
    ``+`` at all, or ``+`` on every phone) are answered from the text in C.

    :param phones: phones that each match :data:`~airflow_provider_thulium.checks.phones.PHONE`.
    :param joined: the ``count`` phones (duplicates included) joined by newlines.
    :param count: how many phones ``joined`` holds.
    """
    # The phones matched \+?[0-9]+ each, so every "+" in the text leads a phone.
    if "+" not in joined or joined.count("+") == count:
        return False
    seen = set(phones)
    return any(phone[1:] in seen for phone in seen if phone[0] == "+")


def is_utf8(text: str) -> bool:
    """Whether ``text`` has a UTF-8 form.

    A lone surrogate (e.g. from a JSON ``"\\ud800"`` escape) has none: a body holding it could not be sent.
    """
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def checked_text(value: str, where: object) -> str:
    """``value``, or the error naming ``where`` when it cannot be sent (see :func:`is_utf8`)."""
    if not is_utf8(value):
        raise ThuliumValidationError(f"{where}: the text holds a character that is not valid Unicode")
    return value


def checked_phone(value: object, where: object) -> str:
    """A phone number as it is sent: stripped text of 1-20 digits, optionally after a leading ``+``.

    :param value: the number as given (``str`` or ``int``).
    :param where: names the value in the error.
    """
    if type(value) is str and PHONE.fullmatch(value):  # the common case, first
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ThuliumValidationError(f"{where}: expected a phone number as str or int, got {type(value).__name__}")
    if isinstance(value, int) and not 0 <= value < _MAX_PHONE:
        # Checked before str(): an int of more than 4300 digits cannot be turned into text.
        raise ThuliumValidationError(f"{where}: the number is negative or longer than 20 digits")
    text = str(value).strip()
    if not PHONE.fullmatch(text):
        shown = mask_phone(text) if text else "''"
        raise ThuliumValidationError(
            f"{where}: phone {shown} is not a phone number (1-20 digits, optionally after a leading +): "
            f"it {why_not_a_phone(text)}"
        )
    return text


class FieldRule:
    """What a record key's values must be, asked of one value or of a whole column."""

    #: A value :meth:`all_normal` passes: what a record without the key reads as when a list of
    #: records is checked as columns. ``None`` for a key every record must hold (no rule passes it).
    stand_in: Any = None

    def normal(self, value: Any, where: object, account_tz: ZoneInfo) -> Any:
        """``value`` in the form sent, or a :class:`ThuliumValidationError` naming ``where``.

        :param value: a value the record holds (not ``None``: a key with ``None`` is left out).
        :param where: names the value in messages (its ``str()`` is taken only when one is raised).
        :param account_tz: the account's time zone, for a datetime.
        """
        raise NotImplementedError

    def all_normal(self, values: list[Any]) -> bool:
        """Whether :meth:`normal` would return each of ``values`` as it is, in type too.

        :param values: a column: one value a record (none missing).
        """
        raise NotImplementedError


class PhoneRule(FieldRule):
    """``phone_number``: :func:`checked_phone`; and a record's phone is its identity, so a column is normal
    only with each number once (in one spelling: ``+48…`` and ``48…`` are one number)."""

    def normal(self, value: Any, where: object, account_tz: ZoneInfo) -> str:
        return checked_phone(value, where)

    def all_normal(self, values: list[Any]) -> bool:
        joined = joined_if_all_match(values, PHONE_LINES)
        return joined is not None and len(set(values)) == len(values) and not spelled_twice(values, joined, len(values))


class IdRule(FieldRule):
    """``status_id``, ``dictionary_status_id``, ``order``: a non-negative integer that fits 64 bits
    (its digits as text are read as one)."""

    stand_in = 0

    def normal(self, value: Any, where: object, account_tz: ZoneInfo) -> int:
        if type(value) is int and 0 <= value <= MAX_INT:  # the common case, first
            return value
        if isinstance(value, bool):
            raise ThuliumValidationError(f"{where}: expected an integer id, got {value!r}")
        if isinstance(value, int) and 0 <= value <= MAX_INT:
            return value
        if isinstance(value, str) and _DIGITS.fullmatch(value.strip()) and len(value.strip()) <= 19:
            number = int(value.strip())
            if number <= MAX_INT:
                return number
        shown = "a number too large" if isinstance(value, int) else shown_value(value, 40)
        raise ThuliumValidationError(f"{where}: expected a non-negative integer id (64-bit), got {shown}")

    def all_normal(self, values: list[Any]) -> bool:
        return set(map(type, values)) == {int} and min(values) >= 0 and max(values) <= MAX_INT


class TextRule(FieldRule):
    """A status name, an identifier, an agent login: non-empty text, sent stripped.

    :param expected: what the error says is expected.
    :param numbers_as_text: a non-negative int is taken as its digits (an identifier).
    """

    stand_in = "-"

    def __init__(self, expected: str, *, numbers_as_text: bool = False) -> None:
        self.expected, self.numbers_as_text = expected, numbers_as_text

    def normal(self, value: Any, where: object, account_tz: ZoneInfo) -> str:
        if self.numbers_as_text and type(value) is int and 0 <= value <= MAX_INT:
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise ThuliumValidationError(f"{where}: {self.expected}")
        return checked_text(value.strip(), where)

    def all_normal(self, values: list[Any]) -> bool:
        if set(map(type, values)) != {str} or values != list(map(str.strip, values)) or "" in values:
            return False
        return is_utf8("".join(values))


class DateRule(FieldRule):
    """``next_call_date``: ``YYYY-MM-DD hh:mm`` of a real date; a datetime (in the account's time zone
    when aware) or ``YYYY-MM-DD hh:mm:ss`` is written so."""

    stand_in = "2000-01-01 00:00"

    def normal(self, value: Any, where: object, account_tz: ZoneInfo) -> str:
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

    def all_normal(self, values: list[Any]) -> bool:
        if joined_if_all_match(values, _NEXT_CALL_DATE_LINES) is None:
            return False
        try:  # a campaign's records share few dates: each distinct one parsed once
            return all(datetime.strptime(text, NEXT_CALL_DATE_FORMAT) for text in set(values))
        except ValueError:
            return False


class RecordFieldsRule(FieldRule):
    """``record_fields``: an object of the campaign's field names (non-empty text) to JSON scalars
    (text, a finite number, an integer that fits 64 bits, a boolean, or null), kept as they are."""

    stand_in: Any = {}  # never changed: it is only read

    def normal(self, value: Any, where: object, account_tz: ZoneInfo) -> dict[str, Any]:
        if not isinstance(value, dict) and not isinstance(value, Mapping):
            raise ThuliumValidationError(f"{where}: expected an object of field values, got {type(value).__name__}")
        fields: dict[str, Any] = {}
        for key, field_value in value.items():
            if not isinstance(key, str) or not key:
                raise ThuliumValidationError(f"{where}: field names must be non-empty strings, got {key!r}")
            if not key.isascii():
                checked_text(key, where)
            fields[key] = self.value(field_value, where, key)
        return fields

    @staticmethod
    def value(value: Any, where: object, name: str) -> Any:
        """One field's value as it is sent (unchanged), or the error naming ``where`` and the field's ``name``."""
        if type(value) is str:  # the common case: only non-ASCII text needs the Unicode check
            return value if value.isascii() else checked_text(value, f"{where}.{name}")
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise ThuliumValidationError(
                f"{where}.{name}: expected a string, number, boolean or null, got {type(value).__name__}"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise ThuliumValidationError(f"{where}.{name}: {value} has no JSON form; send a finite number")
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            raise ThuliumValidationError(f"{where}.{name}: the number does not fit 64 bits; send it as a string")
        if isinstance(value, str):
            checked_text(value, f"{where}.{name}")
        return value

    def all_normal(self, values: list[Any]) -> bool:
        if set(map(type, values)) != {dict}:
            return False
        names = set().union(*values)
        if not self.names_normal(names):
            return False
        # A campaign has few record fields: a column per name costs less than a list of every value.
        # ("" stands in for a field an object does not hold: a value that passes.)
        if len(names) <= _FEW_FIELD_NAMES:
            columns: Iterable[list[Any]] = (list(map(dict.get, values, repeat(name), repeat(""))) for name in names)
        else:
            columns = [[*chain(*map(dict.values, values))]]
        return all(map(self.values_normal, columns))

    @staticmethod
    def names_normal(names: Iterable[Any]) -> bool:
        """Whether the field names are kept as they are: non-empty text (exactly ``str``), valid Unicode."""
        names = list(names)
        return not names or (set(map(type, names)) == {str} and "" not in names and is_utf8("".join(names)))

    @staticmethod
    def values_normal(values: list[Any]) -> bool:
        """Whether :meth:`value` keeps each of ``values`` as it is, in type too (``None`` included)."""
        kinds = set(map(type, values))
        if not kinds <= {str, int, float, bool, type(None)}:
            return False
        if str in kinds and not is_utf8("".join(values if kinds == {str} else [v for v in values if type(v) is str])):
            return False
        if int in kinds and max(abs(value) for value in values if type(value) is int) > MAX_INT:
            return False
        return float not in kinds or all(math.isfinite(value) for value in values if type(value) is float)


_IDS = IdRule()
#: Every key a record may hold (:attr:`~airflow_provider_thulium.checks.spec.RecordSpec.accepted`) → its rule.
FIELD_RULES: dict[str, FieldRule] = {
    "phone_number": PhoneRule(),
    "status_id": _IDS,
    "dictionary_status_id": _IDS,
    "order": _IDS,
    STATUS_NAME_FIELD: TextRule("expected a status name, e.g. 'Not interested'"),
    "identifier": TextRule("expected a non-empty identifier (text or number)", numbers_as_text=True),
    "agent_login": TextRule("expected a non-empty agent login"),
    "next_call_date": DateRule(),
    "record_fields": RecordFieldsRule(),
}
#: The keys whose values are integer ids (a source reads its cells of digits as ints for them).
ID_KEYS = frozenset(key for key, rule in FIELD_RULES.items() if isinstance(rule, IdRule))
