"""Whole-input checks: whether every item is already in the form the one-by-one check returns.

Checking 100,000 items one by one in Python costs more than sending them; these answer the
question with a few passes in C (type sets, joined text, one regex), and the one-by-one check of
:mod:`~airflow_provider_thulium.checks.records` runs only when the answer is no: it finds the item,
and names it in the error. Each one is at least as strict as the one-by-one check (the property
and fuzz tests hold them to that).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import chain, repeat
from typing import TYPE_CHECKING, Any, TypeGuard

from airflow_provider_thulium.checks.phones import PHONE as _PHONE

if TYPE_CHECKING:
    from airflow_provider_thulium.checks.records import RecordSpec

# ASCII digits only: \d and str.isdigit() also match other scripts' digits (fullwidth, superscript...).
_NEXT_CALL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}")


def _lines_of(item: re.Pattern[str]) -> re.Pattern[str]:
    """A pattern for newline-separated items that each match ``item`` in full."""
    return re.compile(f"(?:{item.pattern}\n)*{item.pattern}")


_PHONE_LINES = _lines_of(_PHONE)
_LINES_PER_MATCH = 10_000
_NEXT_CALL_DATE_LINES = _lines_of(_NEXT_CALL_DATE)
NEXT_CALL_DATE_FORMAT = "%Y-%m-%d %H:%M"
#: Integers sent as JSON numbers must fit 64 bits: larger ones lose precision or fail on the server
#: (and Python cannot even print ints beyond 4300 digits).
_MAX_INT = 2**63 - 1
#: Up to this many distinct record field names, the whole-input check reads their values a column per name.
_FEW_FIELD_NAMES = 4


def _all_match(values: Sequence[object], lines: re.Pattern[str]) -> TypeGuard[Sequence[str]]:
    """Whether ``values`` are all plain ``str`` that ``lines`` matches when joined by newlines."""
    return _joined_if_all_match(values, lines) is not None


def _joined_if_all_match(values: Sequence[object], lines: re.Pattern[str]) -> str | None:
    """``values`` joined by newlines when they are all plain ``str`` that ``lines`` matches so, else ``None``."""
    if not values or set(map(type, values)) != {str}:
        return None
    text = "\n".join(values)  # type: ignore[arg-type]  # all str, checked above
    # A newline inside a value would split it into two lines that may each match: count them.
    if text.count("\n") != len(values) - 1:
        return None
    # Matched a slice of lines at a time: the regex engine keeps about 200 bytes of state per line
    # it repeats over, 200 MB for a million phones in one match.
    for start in range(0, len(values), _LINES_PER_MATCH):
        if lines.fullmatch("\n".join(values[start : start + _LINES_PER_MATCH])) is None:  # type: ignore[arg-type]
            return None
    return text


def _spelled_twice(phones: Iterable[str], joined: str, count: int) -> bool:
    """Whether a number is among ``phones`` both with and without a leading ``+``.

    ``joined``: the ``count`` phones (duplicates included) joined by newlines. Only an input that
    mixes the two spellings needs a look at each phone; the common ones (no ``+`` at all, or ``+``
    on every phone) are answered from the text in C.
    """
    # The phones matched \+?[0-9]+ each, so every "+" in the text leads a phone.
    if "+" not in joined or joined.count("+") == count:
        return False
    seen = set(phones)
    return any(phone[1:] in seen for phone in seen if phone[0] == "+")


def _column(records: Sequence[dict[str, Any]], key: str, default: Any) -> list[Any]:
    """Each record's value of ``key``; a record without the key gives ``default``, a value that passes."""
    return list(map(dict.get, records, repeat(key), repeat(default)))


def _records_in_normal_form(records: Sequence[Any], spec: RecordSpec) -> bool:
    """Whether the records are dicts that :func:`parse_records` would return unchanged, field for field."""
    if not records or set(map(type, records)) != {dict}:
        return False
    keys = set().union(*records)
    # Every value is checked below to be of its field's type, so none is None: with the phone
    # number, a second key means a record has something to change.
    if not spec.fields.issuperset(keys) or (spec.needs_change and min(map(len, records)) < 2):
        return False
    phones = _column(records, "phone_number", None)
    joined = _joined_if_all_match(phones, _PHONE_LINES)
    if joined is None or len(set(phones)) != len(phones) or _spelled_twice(phones, joined, len(phones)):
        return False
    for key in keys.intersection(("status_id", "dictionary_status_id", "order")):
        ids = _column(records, key, 0)
        if set(map(type, ids)) != {int} or min(ids) < 0 or max(ids) > _MAX_INT:
            return False
    for key in keys.intersection(("agent_login", "identifier")):
        if not _texts_fit(_column(records, key, "-")):
            return False
    if "next_call_date" in keys and not _dates_in_normal_form(_column(records, "next_call_date", "2000-01-01 00:00")):
        return False
    if "record_fields" in keys:
        objects = _column(records, "record_fields", {})
        if set(map(type, objects)) != {dict}:
            return False
        names = set().union(*objects)
        if names and (set(map(type, names)) != {str} or "" in names or not _is_utf8("".join(names))):
            return False
        # A campaign has few record fields: a column per name costs less than a list of every value.
        few = len(names) <= _FEW_FIELD_NAMES  # ("" stands in for a missing field: a value that passes)
        columns = (_column(objects, name, "") for name in names) if few else [[*chain(*map(dict.values, objects))]]
        if not all(map(_field_values_fit, columns)):
            return False
    return True


def _dates_in_normal_form(dates: Sequence[object]) -> bool:
    """Whether the values are dates the API takes as they are: ``YYYY-MM-DD hh:mm`` text of real dates."""
    try:  # a campaign's records share few dates: each distinct one parsed once
        return _all_match(dates, _NEXT_CALL_DATE_LINES) and all(
            datetime.strptime(text, NEXT_CALL_DATE_FORMAT) for text in set(dates)
        )
    except ValueError:
        return False


def _texts_fit(values: list[Any]) -> bool:
    """Whether the values are text sent as it is: stripped, not empty, valid Unicode."""
    if set(map(type, values)) != {str} or values != list(map(str.strip, values)) or "" in values:
        return False
    return _is_utf8("".join(values))


def _field_values_fit(values: list[Any]) -> bool:
    """Whether record field values are all JSON scalars :func:`_record_fields` keeps as they are."""
    kinds = set(map(type, values))
    if not kinds <= {str, int, float, bool, type(None)}:
        return False
    if str in kinds and not _is_utf8("".join(values if kinds == {str} else [v for v in values if type(v) is str])):
        return False
    if int in kinds and max(abs(value) for value in values if type(value) is int) > _MAX_INT:
        return False
    return float not in kinds or all(math.isfinite(value) for value in values if type(value) is float)


def _is_utf8(text: str) -> bool:
    # A lone surrogate (e.g. from a JSON "\ud800" escape) has no UTF-8 form: the body could not be sent.
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
