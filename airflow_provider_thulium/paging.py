"""Reading a campaign's records page by page: the filters of ``GET outbounds/:id/records`` and their query.

docs/thulium-api.md, "Paged records": at most 100 records a page, in the order they were added.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import quote

from airflow_provider_thulium.exceptions import ThuliumValidationError

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
    """The filters of a records read; dates are inclusive days (``YYYY-MM-DD``)."""

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
        status_ids: Iterable[int] | None = None,
        system_statuses: Iterable[str] | None = None,
        created_from: date | str | None = None,
        created_to: date | str | None = None,
        called_from: date | str | None = None,
        called_to: date | str | None = None,
    ) -> RecordFilter:
        """Check the filters as a caller gives them; a bad one is a validation error naming it."""
        ids = []
        for status_id in status_ids or ():
            if isinstance(status_id, bool) or not isinstance(status_id, (int, str)) or not str(status_id).isdigit():
                raise ThuliumValidationError(f"status_ids: expected status ids (numbers), got {status_id!r}")
            ids.append(int(status_id))
        systems = []
        for name in system_statuses or ():
            if name not in SYSTEM_STATUSES:
                raise ThuliumValidationError(
                    f"system_statuses: {name!r} is not a system status; known: {', '.join(sorted(SYSTEM_STATUSES))}"
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
