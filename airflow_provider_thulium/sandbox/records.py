"""The sandbox's records model: campaigns, their records and statuses, agents, and record filters.

Plain data with no I/O and no locking (:class:`~.state.SandboxState` holds the lock), plus the
checks of the values a record or a status may hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: The vendor's system statuses; every campaign status maps to one of them.
SYSTEM_STATUSES = (
    "TO_CALL",
    "IN_PROGRESS",
    "CALL",
    "MY_RECORD",
    "NO_CALL",
    "ABANDONED_AFTER_N_TRIES",
    "CALL_NO_SOONER_THAN",
    "CALL_PROGRESSIVE",
)

#: ``(status_id, system_status, name, dictionary_status_id)`` of the statuses every new campaign
#: starts with (and of the demo campaign ``00001``). Two statuses share ``NO_CALL`` on purpose: a
#: client cannot map a system status to one status id.
DEFAULT_STATUSES: tuple[tuple[str, str, str, int | None], ...] = (
    ("1", "TO_CALL", "New", None),
    ("2", "CALL", "Contact needed", 2),
    ("3", "NO_CALL", "Do not call", None),
    ("4", "MY_RECORD", "My record", None),
    ("5", "CALL_NO_SOONER_THAN", "Call back later", None),
    ("6", "ABANDONED_AFTER_N_TRIES", "No answer after 5 tries", None),
    ("7", "IN_PROGRESS", "In progress", None),
    ("8", "CALL_PROGRESSIVE", "Progressive dialling", None),
    ("9", "NO_CALL", "Not interested", 5),
)

# The record fields, the date format and the validation rules below are the sandbox's own, written
# from the vendor's documentation; nothing is imported from the provider's client code (hooks,
# validation, results), and that is on purpose: the sandbox models the server independently, so a
# client bug cannot hide behind shared code (a wrong definition shared by both sides would pass
# every test).

#: The keys of a record (the fields of :class:`Record`), as the API and the set-up helpers name them.
RECORD_KEYS = frozenset(
    {
        "record_id",
        "phone_number",
        "additional_numbers",
        "status_id",
        "dictionary_status_id",
        "agent_login",
        "next_call_date",
        "record_fields",
        "in_call",
        "identifier",
        "order",
        "create_date",
        "call_date",
        "last_note",
    }
)
#: The API's date-time format (``next_call_date``, ``create_date``, ``call_date``) and its day
#: format (the ``*_date_from`` / ``*_date_to`` filters).
DATE_FORMAT = "%Y-%m-%d %H:%M"
DAY_FORMAT = "%Y-%m-%d"
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}")
_DAY_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: An integer written as a string, e.g. a status id.
INT_RE = re.compile(r"-?[0-9]+")


@dataclass(slots=True)
class Agent:
    """An agent of the account; campaigns list the agents working on them.

    :param login: the agent's login.
    :param name: the agent's name.
    :param number: the agent's phone extension.
    :param agent_id: the agent's id.
    :param active: whether the agent is active in the account.
    """

    login: str
    name: str = ""
    number: str = ""
    agent_id: int = 0
    active: bool = True

    def to_json(self) -> dict[str, Any]:
        """The agent as JSON-able data."""
        return {
            "login": self.login,
            "name": self.name,
            "number": self.number,
            "agent_id": self.agent_id,
            "active": self.active,
        }


@dataclass(slots=True)
class Record:
    """One record of an outbound campaign.

    Dates are strings in the API's format ``YYYY-MM-DD hh:mm`` (:data:`DATE_FORMAT`);
    ``call_date`` is None until the record was called.

    :param record_id: the record's id (0 or less: the next free one, when added).
    :param phone_number: the main number.
    :param additional_numbers: the record's other numbers.
    :param status_id: the status's id in the campaign.
    :param dictionary_status_id: the dictionary status's id, if any.
    :param agent_login: the agent the record is assigned to.
    :param next_call_date: when to call next.
    :param record_fields: the campaign fields' values.
    :param in_call: whether a call is in progress.
    :param identifier: the record's id in the customer's system.
    :param order: its priority.
    :param create_date: when it was added.
    :param call_date: when it was last called; ``None`` if never.
    :param last_note: the last call's note.
    """

    record_id: int
    phone_number: str
    additional_numbers: list[str] = field(default_factory=list)
    status_id: int = 1
    dictionary_status_id: int | None = None
    agent_login: str | None = None
    next_call_date: str | None = None
    record_fields: dict[str, Any] = field(default_factory=dict)
    in_call: bool = False
    identifier: str | None = None
    order: int | None = None
    create_date: str = ""
    call_date: str | None = None
    last_note: str = ""

    def to_json(self) -> dict[str, Any]:
        """The record as the sandbox keeps it (plus ``in_call``, which it exposes for tests)."""
        return {
            "record_id": self.record_id,
            "phone_number": self.phone_number,
            "additional_numbers": list(self.additional_numbers),
            "status_id": self.status_id,
            "dictionary_status_id": self.dictionary_status_id,
            "agent_login": self.agent_login,
            "next_call_date": self.next_call_date,
            "record_fields": dict(self.record_fields),
            "in_call": self.in_call,
            "identifier": self.identifier,
            "order": self.order,
            "create_date": self.create_date,
            "call_date": self.call_date,
            "last_note": self.last_note,
        }


def statuses_from(specs: Iterable[tuple[str, str, str, int | None]]) -> list[dict[str, Any]]:
    """Statuses in the API's shape from ``(status_id, system_status, name, dictionary_status_id)``."""
    return [
        {"system_status": system, "status_id": sid, "dictionary_status_id": dictionary, "name": name}
        for sid, system, name, dictionary in specs
    ]


def default_statuses() -> list[dict[str, Any]]:
    """A fresh copy of the default status list, in the API's shape."""
    return statuses_from(DEFAULT_STATUSES)


@dataclass(frozen=True)
class RecordFilter:
    """The filters of ``GET outbounds/:id/records``; days are ``YYYY-MM-DD`` strings, inclusive.

    :param status_ids: only records with these status ids.
    :param system_statuses: only records whose status has one of these system statuses.
    :param create_date_from: only records created on or after this day.
    :param create_date_to: only records created on or before this day.
    :param call_date_from: only records last called on or after this day.
    :param call_date_to: only records last called on or before this day.
    """

    status_ids: frozenset[int] = frozenset()
    system_statuses: frozenset[str] = frozenset()
    create_date_from: str | None = None
    create_date_to: str | None = None
    call_date_from: str | None = None
    call_date_to: str | None = None


@dataclass
class Campaign:
    """An outbound campaign: its records, indexed by main and by additional phone number.

    The indexes keep every lookup O(1): benchmarks run batches of hundreds of numbers against
    campaigns of 100,000+ records, where a scan per number would dominate the measurement.
    ``agents`` maps the login of each agent working on the campaign to ``active_in_outbound``.
    ``version`` changes with every change made through the state's methods; paged reads keep the
    filtered record list of the last query for as long as the version stays the same.

    :param id: the five-character campaign id.
    :param name: the campaign's name.
    :param fields: the names of its record fields.
    :param statuses: its statuses, in the API's shape.
    :param agents: login → active in the campaign.
    :param records: record id → record.
    :param by_phone: the index by main number (kept by :meth:`add` and :meth:`remove`).
    :param by_additional: the index by additional number.
    :param version: the change counter.
    :param _view: the cached result of the last :meth:`view`.
    """

    id: str
    name: str
    fields: set[str] = field(default_factory=set)
    statuses: list[dict[str, Any]] = field(default_factory=default_statuses)
    agents: dict[str, bool] = field(default_factory=dict)
    records: dict[int, Record] = field(default_factory=dict)
    by_phone: dict[str, set[int]] = field(default_factory=dict, repr=False)
    by_additional: dict[str, set[int]] = field(default_factory=dict, repr=False)
    version: int = field(default=0, repr=False)
    _view: tuple[int, RecordFilter, list[Record]] | None = field(default=None, repr=False)

    def add(self, record: Record) -> None:
        """Store a record and index its numbers.

        :param record: the record, with an id not yet in the campaign.
        """
        if record.record_id in self.records:
            raise ValueError(f"record id {record.record_id} already exists in campaign {self.id}")
        self.records[record.record_id] = record
        self.by_phone.setdefault(record.phone_number, set()).add(record.record_id)
        for number in record.additional_numbers:
            self.by_additional.setdefault(number, set()).add(record.record_id)
        self.version += 1

    def remove(self, record_id: int) -> Record:
        """Remove a record and drop it from the indexes.

        :param record_id: the record's id.
        """
        record = self.records.pop(record_id)
        _discard(self.by_phone, record.phone_number, record_id)
        for number in record.additional_numbers:
            _discard(self.by_additional, number, record_id)
        self.version += 1
        return record

    def match(self, phone: str, additional: bool = False) -> list[Record]:
        """Records whose main number (and, if ``additional``, an additional number) is ``phone``.

        :param phone: the number.
        :param additional: also match additional numbers.
        """
        ids = set(self.by_phone.get(phone, ()))
        if additional:
            ids.update(self.by_additional.get(phone, ()))
        # Sorted so that answers are deterministic whatever the set order.
        return [self.records[rid] for rid in sorted(ids)]

    def status(self, status_id: Any) -> dict[str, Any] | None:
        """The campaign status with this id (given as int or string), or None.

        :param status_id: the status's id, as an int or a string.
        """
        if isinstance(status_id, bool) or not isinstance(status_id, int | str):
            return None
        wanted = str(status_id).strip()
        for status in self.statuses:
            if status["status_id"] == wanted:
                return status
        return None

    def default_status_id(self) -> int:
        """The status of a record added without one: the first ``TO_CALL`` status (else the first)."""
        for status in self.statuses:
            if status["system_status"] == "TO_CALL":
                return int(status["status_id"])
        return int(self.statuses[0]["status_id"]) if self.statuses else 1

    def view(self, wanted: RecordFilter) -> list[Record]:
        """The records matching ``wanted``, in the order they were added (cached per version).

        :param wanted: the filters.
        """
        if self._view is not None and self._view[0] == self.version and self._view[1] == wanted:
            return self._view[2]
        if wanted == RecordFilter():
            matched = list(self.records.values())
        else:
            systems = {s["status_id"]: s["system_status"] for s in self.statuses}
            matched = [r for r in self.records.values() if _matches(r, wanted, systems)]
        self._view = (self.version, wanted, matched)
        return matched

    def to_json(self) -> dict[str, Any]:
        """The whole campaign as JSON-able data."""
        return {
            "id": self.id,
            "name": self.name,
            "fields": sorted(self.fields),
            "statuses": [dict(s) for s in self.statuses],
            "agents": [{"login": login, "active_in_outbound": active} for login, active in self.agents.items()],
            "records": [r.to_json() for r in self.records.values()],
        }


def _matches(record: Record, wanted: RecordFilter, systems: dict[str, str]) -> bool:
    if wanted.status_ids and record.status_id not in wanted.status_ids:
        return False
    if wanted.system_statuses and systems.get(str(record.status_id)) not in wanted.system_statuses:
        return False
    day = record.create_date[:10]
    if wanted.create_date_from is not None and day < wanted.create_date_from:
        return False
    if wanted.create_date_to is not None and day > wanted.create_date_to:
        return False
    if wanted.call_date_from is not None or wanted.call_date_to is not None:
        if not record.call_date:
            return False
        called = record.call_date[:10]
        if wanted.call_date_from is not None and called < wanted.call_date_from:
            return False
        if wanted.call_date_to is not None and called > wanted.call_date_to:
            return False
    return True


def _discard(index: dict[str, set[int]], key: str, record_id: int) -> None:
    ids = index.get(key)
    if ids is None:
        return
    ids.discard(record_id)
    if not ids:
        # Empty sets would otherwise pile up after large deletions.
        del index[key]


def as_optional_int(value: Any) -> int | None:
    """``value`` (None, an int or a string of digits) as an int or None; ``ValueError`` for anything else."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and INT_RE.fullmatch(value.strip()):
        return int(value)
    raise ValueError(value)


def is_valid_date(value: Any) -> bool:
    """Whether ``value`` is a date-time that exists, as a string in :data:`DATE_FORMAT`."""
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        return False
    try:
        datetime.strptime(value, DATE_FORMAT)
    except ValueError:
        return False
    return True


def is_valid_day(value: str) -> bool:
    """Whether ``value`` is a day that exists, in :data:`DAY_FORMAT`."""
    if not _DAY_RE.fullmatch(value):
        return False
    try:
        datetime.strptime(value, DAY_FORMAT)
    except ValueError:
        return False
    return True


def phone_key(value: Any) -> str | None:
    """The phone number of a request record as a string, or None when it is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    return None


def as_date(value: datetime | str, what: str) -> str:
    """A date-time given as datetime or ``YYYY-MM-DD hh:mm`` string, as the API's string."""
    if isinstance(value, datetime):
        return value.strftime(DATE_FORMAT)
    if not is_valid_date(value):
        raise ValueError(f"{what} must be a datetime or a 'YYYY-MM-DD hh:mm' string, got {value!r}")
    return value


def checked_statuses(statuses: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Statuses given in the API's shape, checked and copied (``status_id`` as a string)."""
    checked: list[dict[str, Any]] = []
    seen: set[str] = set()
    for status in statuses:
        if not isinstance(status, dict) or status.get("system_status") not in SYSTEM_STATUSES:
            raise ValueError(f"a status needs a system_status out of {SYSTEM_STATUSES}, got {status!r}")
        sid = str(status.get("status_id", "")).strip()
        if not INT_RE.fullmatch(sid) or sid in seen:
            raise ValueError(f"a status needs a status_id that is an integer and unique, got {status!r}")
        seen.add(sid)
        dictionary = status.get("dictionary_status_id")
        checked.append(
            {
                "system_status": status["system_status"],
                "status_id": sid,
                "dictionary_status_id": None if dictionary is None else int(dictionary),
                "name": str(status.get("name", "")),
            }
        )
    return checked
