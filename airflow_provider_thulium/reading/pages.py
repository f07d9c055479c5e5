"""Reading a campaign's records page by page: the filters of ``GET outbounds/:id/records`` and their query.

docs/thulium-api.md, "Paged records": at most 100 records a page, in the order they were added.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from airflow_provider_thulium.exceptions import ThuliumResponseError, ThuliumValidationError
from airflow_provider_thulium.privacy import safe_server_text

#: Records per page: the API's maximum.
PAGE_SIZE = 100
SYSTEM_STATUSES = frozenset(
    {
        "TO_CALL",
        "IN_PROGRESS",
        "CALL",
        "MY_RECORD",
        "NO_CALL",
        "ABANDONED_AFTER_N_TRIES",
        "CALL_NO_SOONER_THAN",
        "CALL_PROGRESSIVE",
    }
)


def _one_or_many(value: object, field: str, what: str) -> list[object]:
    """A filter given as one value or a list of values, as a list; a string is one value, never its characters."""
    if value is None:
        return []
    if isinstance(value, (str, int)):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, (bytes, bytearray, Mapping)):
        return list(value)
    raise ThuliumValidationError(f"{field}: expected {what} or a list of them, got {type(value).__name__}")


def _day(value: object, field: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise ThuliumValidationError(f"{field}: expected a date (a date object or 'YYYY-MM-DD'), got {value!r}")


@dataclass(frozen=True)
class RecordFilter:
    """The filters of a records read; dates are inclusive days (``YYYY-MM-DD``).

    :param status_ids: only records with these status ids.
    :param system_statuses: only records with these system statuses.
    :param created_from: only records created on or after this day.
    :param created_to: only records created on or before this day.
    :param called_from: only records last called on or after this day.
    :param called_to: only records last called on or before this day.
    """

    status_ids: tuple[int, ...] = ()
    system_statuses: tuple[str, ...] = ()
    created_from: str | None = None
    created_to: str | None = None
    called_from: str | None = None
    called_to: str | None = None

    @classmethod
    def from_arguments(
        cls,
        *,
        status_ids: Iterable[int | str] | int | str | None = None,
        system_statuses: Iterable[str] | str | None = None,
        created_from: date | str | None = None,
        created_to: date | str | None = None,
        called_from: date | str | None = None,
        called_to: date | str | None = None,
    ) -> RecordFilter:
        """Check the filters as a caller gives them; a bad one is a validation error naming it.

        ``status_ids`` and ``system_statuses`` take one value or a list of values (``3``, ``"13"``,
        ``[3, 13]``; ``"NO_CALL"``, ``["NO_CALL", "CALL"]``).

        :param status_ids: only records with these status ids: one or a list.
        :param system_statuses: only records with these system statuses: one or a list.
        :param created_from: only records created on or after this day (a date or ``"YYYY-MM-DD"``).
        :param created_to: only records created on or before this day.
        :param called_from: only records last called on or after this day.
        :param called_to: only records last called on or before this day.
        """
        ids = []
        for status_id in _one_or_many(status_ids, "status_ids", "a status id"):
            number = whole_number(status_id)
            if number is None:
                raise ThuliumValidationError(f"status_ids: expected status ids (numbers), got {_shown(status_id)}")
            ids.append(number)
        systems = []
        for name in _one_or_many(system_statuses, "system_statuses", "a system status"):
            if not isinstance(name, str) or name not in SYSTEM_STATUSES:
                raise ThuliumValidationError(
                    f"system_statuses: {_shown(name)} is not a system status; "
                    f"known: {', '.join(sorted(SYSTEM_STATUSES))}"
                )
            systems.append(name)
        return cls(
            tuple(ids),
            tuple(systems),
            _day(created_from, "created_from"),
            _day(created_to, "created_to"),
            _day(called_from, "called_from"),
            _day(called_to, "called_to"),
        )

    def query(self) -> str:
        """The filters as a percent-encoded query string (without ``limit`` and ``offset``)."""
        parts = [f"status_id%5B%5D={status_id}" for status_id in self.status_ids]
        parts += [f"system_status%5B%5D={quote(name)}" for name in self.system_statuses]
        for name, value in (
            ("create_date_from", self.created_from),
            ("create_date_to", self.created_to),
            ("call_date_from", self.called_from),
            ("call_date_to", self.called_to),
        ):
            if value is not None:
                parts.append(f"{name}={value}")
        return "&".join(parts)


def _shown(value: object) -> str:
    # A caller's value in a message: quoted if a string, short, on one line, numbers masked.
    return safe_server_text(repr(value) if isinstance(value, str) else value, 60)


def whole_number(value: object) -> int | None:
    """A non-negative whole number given as an int or as ASCII digits (at most 18), or ``None``.

    :param value: the value to read.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def page_count(value: object) -> int | None:
    """A page's ``count`` as a non-negative int (an integral number or a digit string is read as one), or ``None``.

    :param value: the page's ``count`` as answered.
    """
    if isinstance(value, float):
        return int(value) if value.is_integer() and 0 <= value < 2**63 else None
    return whole_number(value)


def read_page(payload: Any, description: str) -> tuple[int | None, list[dict[str, Any]]]:
    """A records page's ``count`` (``None``: missing or unusable, see :func:`page_count`) and its records.

    Raises :class:`ThuliumResponseError` for an answer that is not ``{count, result}`` or whose
    ``result`` holds an item that is not a record (an object).

    :param payload: the page's decoded answer.
    :param description: the request, as error messages name it.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("result"), list):
        raise ThuliumResponseError(f"{description} answered something other than {{count, result}}")
    records = payload["result"]
    for index, item in enumerate(records):
        if not isinstance(item, dict):
            raise ThuliumResponseError(
                f"{description} answered a page whose item {index} is not a record but {type(item).__name__} "
                f"{safe_server_text(item, 60)}"
            )
    return page_count(payload.get("count")), records


def record_key(record: dict[str, Any]) -> object:
    """What tells one record from another while paging: its ``record_id``, or (without a usable one) its content.

    :param record: a record as the page held it.
    """
    record_id = record.get("record_id")
    if isinstance(record_id, (int, str)) and not isinstance(record_id, bool):
        return record_id
    try:
        content = json.dumps(record, sort_keys=True, default=repr).encode()
    except (RecursionError, ValueError):
        raise ThuliumResponseError("a records page held a record nested too deeply to read") from None
    return hashlib.blake2b(content, digest_size=16).digest()
