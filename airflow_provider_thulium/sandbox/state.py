"""Data model and API semantics of the Thulium sandbox.

Everything here is plain Python with no I/O: the HTTP layer in :mod:`.server` parses requests and
calls :class:`SandboxState`, which answers with JSON-able data or raises :class:`ApiError`. One
re-entrant lock guards the whole state, so the threaded server can call it from any thread.
"""

from __future__ import annotations

import gc
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Permission names an API user can hold; ``None`` in a user's entry means all of them.
ALL_PERMISSIONS = frozenset(
    {"outbounds.list", "records.add", "records.delete", "records.update", "records.read", "agents.read"}
)

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

#: The statuses of the demo campaign ``00002``: other ids than ``00001``'s, as status ids belong
#: to a campaign.
SECOND_CAMPAIGN_STATUSES: tuple[tuple[str, str, str, int | None], ...] = (
    ("21", "TO_CALL", "New lead", None),
    ("22", "CALL", "Interested", 2),
    ("23", "CALL_NO_SOONER_THAN", "Call back later", None),
    ("24", "MY_RECORD", "My record", None),
    ("25", "NO_CALL", "Not interested", 5),
    ("26", "NO_CALL", "Do not call", None),
    ("27", "ABANDONED_AFTER_N_TRIES", "Unreachable", None),
    ("28", "IN_PROGRESS", "In progress", None),
)

DEFAULT_LOGIN = "api_user"
DEFAULT_PASSWORD = "api_pass"
LIMITED_LOGIN = "limited_user"
LIMITED_PASSWORD = "limited_pass"
LIMITED_PERMISSIONS = frozenset({"records.delete", "records.update"})

#: ``(login, name, number, agent_id, active)`` of the account's agents, in every seed.
DEFAULT_AGENTS: tuple[tuple[str, str, str, int, bool], ...] = (
    ("j.doe", "John Doe", "101", 1020, True),
    ("a.smith", "Anna Smith", "102", 1021, True),
    ("m.nowak", "Marta Nowak", "103", 1022, True),
    ("k.kowalski", "Krzysztof Kowalski", "104", 1023, False),
)

MAX_PAGE_LIMIT = 100
DEFAULT_PAGE_LIMIT = 100
_FREEZE_THRESHOLD = 10_000

# The record fields, the date format and the validation rules below are the sandbox's own, written
# from the vendor's documentation; nothing is imported from the provider's client code (hooks,
# validation, results), and that is on purpose: the sandbox models the server independently, so a
# client bug cannot hide behind shared code (a wrong definition shared by both sides would pass
# every test).

#: Keys a record of a PUT (update) may carry, and those of a POST (add).
UPDATABLE_KEYS = frozenset(
    {"phone_number", "status_id", "dictionary_status_id", "agent_login", "next_call_date", "record_fields"}
)
ADDABLE_KEYS = UPDATABLE_KEYS | {"identifier", "order"}
_RECORD_KEYS = frozenset(
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
_PHONE_RE = re.compile(r"\+?[0-9]{1,20}")
_INT_RE = re.compile(r"-?[0-9]+")
# The first record id is arbitrary; starting above 1 makes ids easy to tell apart from counts.
_FIRST_RECORD_ID = 1001

MSG_PERMISSION = "Permission denied for this API method."
MSG_CAMPAIGN_NOT_FOUND = "Outbound campaign not found."
MSG_RECORD_NOT_FOUND = "Record not found."
MSG_DUPLICATED = "Duplicated phone number: records with duplicated numbers cannot be edited."
MSG_DUPLICATED_ADD = "Duplicated numbers cannot be added through the API."
MSG_STATUS_NOT_FOUND = "Status not found."
MSG_AGENT_NOT_FOUND = "Agent not found."
MSG_BAD_DATE = "Invalid next_call_date: expected the format YYYY-MM-DD hh:mm."
MSG_BAD_PHONE = "Invalid phone_number."


class ApiError(Exception):
    """A failure of a request as a whole, answered with the API's error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class Agent:
    """An agent of the account; campaigns list the agents working on them."""

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
    """The filters of ``GET outbounds/:id/records``; days are ``YYYY-MM-DD`` strings, inclusive."""

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
        """Store a record and index its numbers."""
        if record.record_id in self.records:
            raise ValueError(f"record id {record.record_id} already exists in campaign {self.id}")
        self.records[record.record_id] = record
        self.by_phone.setdefault(record.phone_number, set()).add(record.record_id)
        for number in record.additional_numbers:
            self.by_additional.setdefault(number, set()).add(record.record_id)
        self.version += 1

    def remove(self, record_id: int) -> Record:
        """Remove a record and drop it from the indexes."""
        record = self.records.pop(record_id)
        _discard(self.by_phone, record.phone_number, record_id)
        for number in record.additional_numbers:
            _discard(self.by_additional, number, record_id)
        self.version += 1
        return record

    def match(self, phone: str, additional: bool = False) -> list[Record]:
        """Records whose main number (and, if ``additional``, an additional number) is ``phone``."""
        ids = set(self.by_phone.get(phone, ()))
        if additional:
            ids.update(self.by_additional.get(phone, ()))
        # Sorted so that answers are deterministic whatever the set order.
        return [self.records[rid] for rid in sorted(ids)]

    def status(self, status_id: Any) -> dict[str, Any] | None:
        """The campaign status with this id (given as int or string), or None."""
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
        """The records matching ``wanted``, in the order they were added (cached per version)."""
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


def _as_optional_int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
        return int(value)
    raise ValueError(value)


def _valid_date(value: Any) -> bool:
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        return False
    try:
        datetime.strptime(value, DATE_FORMAT)
    except ValueError:
        return False
    return True


def _valid_day(value: str) -> bool:
    if not _DAY_RE.fullmatch(value):
        return False
    try:
        datetime.strptime(value, DAY_FORMAT)
    except ValueError:
        return False
    return True


def _phone_key(value: Any) -> str | None:
    """The phone number of a request record as a string, or None when it is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    return None


def _as_date(value: datetime | str, what: str) -> str:
    """A date-time given as datetime or ``YYYY-MM-DD hh:mm`` string, as the API's string."""
    if isinstance(value, datetime):
        return value.strftime(DATE_FORMAT)
    if not _valid_date(value):
        raise ValueError(f"{what} must be a datetime or a 'YYYY-MM-DD hh:mm' string, got {value!r}")
    return value


def _parse_days(values: Sequence[str] | None, name: str) -> str | None:
    if not values:
        return None
    value = values[-1]
    if not _valid_day(value):
        raise ApiError(400, f"Invalid {name}: expected the format YYYY-MM-DD.")
    return value


#: The demo data set (``seed="demo"``), as ``(campaign id, name, fields, statuses, agents, records)``;
#: agents are ``(login, active_in_outbound)``. Record ids are given in order from 1001 on.
DEMO_CAMPAIGNS: tuple[
    tuple[
        str,
        str,
        tuple[str, ...],
        tuple[tuple[str, str, str, int | None], ...],
        tuple[tuple[str, bool], ...],
        tuple[dict[str, Any], ...],
    ],
    ...,
] = (
    (
        "00001",
        "Demo outbound campaign",
        ("crm_id", "segment", "note"),
        DEFAULT_STATUSES,
        (("j.doe", True), ("a.smith", True), ("m.nowak", False)),
        (
            {
                "phone_number": "48500100200",
                "identifier": "C-1000",
                "order": 50,
                "create_date": "2025-03-03 09:00",
                "record_fields": {"crm_id": "C-1000", "segment": "retail"},
            },
            {"phone_number": "48500100201", "create_date": "2025-03-03 09:05", "record_fields": {"crm_id": "C-1001"}},
            {"phone_number": "48500100201", "create_date": "2025-03-03 09:10", "record_fields": {"crm_id": "C-1002"}},
            {"phone_number": "48500100202", "additional_numbers": ["48500100299"], "create_date": "2025-03-04 11:30"},
            {
                "phone_number": "48500100203",
                "in_call": True,
                "status_id": 7,
                "create_date": "2025-03-04 11:45",
                "call_date": "2025-03-10 10:15",
            },
            {
                "phone_number": "48500100204",
                "status_id": 2,
                "create_date": "2025-03-05 08:20",
                "call_date": "2025-03-07 16:40",
                "last_note": "Asked for an offer by e-mail.",
            },
            {
                "phone_number": "48500100205",
                "status_id": 4,
                "agent_login": "j.doe",
                "next_call_date": "2030-01-15 10:30",
                "create_date": "2025-03-05 08:25",
                "call_date": "2025-03-06 12:00",
                "last_note": "Prefers mornings.",
            },
            {"phone_number": "48500100206", "create_date": "2025-03-06 10:00"},
            {"phone_number": "48500100207", "create_date": "2025-03-06 10:05"},
            {
                "phone_number": "48500100208",
                "status_id": 9,
                "create_date": "2025-03-07 14:00",
                "call_date": "2025-03-08 09:30",
                "last_note": "Has a contract elsewhere.",
            },
            {
                "phone_number": "48500100209",
                "status_id": 5,
                "next_call_date": "2030-02-01 09:00",
                "create_date": "2025-03-07 14:05",
                "call_date": "2025-03-08 09:40",
                "last_note": "Call after payday.",
            },
            {
                "phone_number": "48500100210",
                "order": 10,
                "create_date": "2025-03-07 14:10",
                "record_fields": {"segment": "vip"},
            },
        ),
    ),
    (
        "00002",
        "Second campaign",
        ("crm_id",),
        SECOND_CAMPAIGN_STATUSES,
        (("j.doe", True), ("m.nowak", True), ("k.kowalski", False)),
        (
            {"phone_number": "48600100200", "create_date": "2025-03-10 12:00"},
            {
                "phone_number": "48600100201",
                "status_id": 22,
                "create_date": "2025-03-10 12:01",
                "call_date": "2025-03-11 15:20",
                "last_note": "Wants a call back.",
            },
            # The same number as a record of 00001: tests can see the campaigns are kept apart.
            {"phone_number": "48500100200", "create_date": "2025-03-11 09:00"},
        ),
    ),
)


def parse_record_filter(query: dict[str, list[str]]) -> RecordFilter:
    """The filters of ``GET outbounds/:id/records`` from its query, or a 400 :class:`ApiError`."""
    status_ids: set[int] = set()
    for value in query.get("status_id[]", ()):
        if not _INT_RE.fullmatch(value.strip()):
            raise ApiError(400, "Invalid status_id[]: expected integers.")
        status_ids.add(int(value))
    systems: set[str] = set()
    for value in query.get("system_status[]", ()):
        if value not in SYSTEM_STATUSES:
            raise ApiError(400, f"Invalid system_status[]: expected one of {', '.join(SYSTEM_STATUSES)}.")
        systems.add(value)
    return RecordFilter(
        status_ids=frozenset(status_ids),
        system_statuses=frozenset(systems),
        create_date_from=_parse_days(query.get("create_date_from"), "create_date_from"),
        create_date_to=_parse_days(query.get("create_date_to"), "create_date_to"),
        call_date_from=_parse_days(query.get("call_date_from"), "call_date_from"),
        call_date_to=_parse_days(query.get("call_date_to"), "call_date_to"),
    )


def _batch_phones(body: Any) -> tuple[list[Any], list[str]]:
    """The records of a batch body and their phone numbers, or a 400 :class:`ApiError`."""
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise ApiError(400, 'The body must be an object with a list "records".')
    items: list[Any] = body["records"]
    phones: list[str] = []
    for position, item in enumerate(items):
        phone = _phone_key(item.get("phone_number")) if isinstance(item, dict) else None
        if phone is None:
            raise ApiError(400, f"records[{position}]: phone_number is required.")
        phones.append(phone)
    return items, phones


class SandboxState:
    """The sandbox's whole state: users, agents and campaigns, with the API's semantics.

    :param seed: ``"demo"`` for the demo data set (see :meth:`seed_demo`) or ``"empty"``.

    Change records through the methods here (not by editing :class:`Record` objects in place):
    they keep the phone indexes and the paging cache up to date.
    """

    def __init__(self, seed: str = "demo") -> None:
        self.lock = threading.RLock()
        self.users: dict[str, tuple[str, frozenset[str] | None]] = {}
        self.agents: dict[str, Agent] = {}
        self.campaigns: dict[str, Campaign] = {}
        self._next_record_id = _FIRST_RECORD_ID
        self._clock: Callable[[], datetime] = datetime.now
        #: Whether ``GET outbounds/:id/records`` shows ``record_fields``: the vendor's documented answer
        #: does not (docs/thulium-api.md, "Paged records"); a setting, so both answers can be served.
        self.show_record_fields = True
        self.reset(seed)

    # ----------------------------------------------------------------- set-up helpers

    def reset(self, seed: str = "demo") -> None:
        """Forget everything and start again from the default users and agents plus ``seed``.

        The clock is left as it is (see :meth:`set_clock`).
        """
        if seed not in {"demo", "empty"}:
            raise ValueError(f"unknown seed {seed!r}: use 'demo' or 'empty'")
        with self.lock:
            self.users = {
                DEFAULT_LOGIN: (DEFAULT_PASSWORD, None),
                LIMITED_LOGIN: (LIMITED_PASSWORD, LIMITED_PERMISSIONS),
            }
            self.agents = {
                login: Agent(login, name, number, agent_id, active)
                for login, name, number, agent_id, active in DEFAULT_AGENTS
            }
            self.campaigns = {}
            self._next_record_id = _FIRST_RECORD_ID
            if seed == "demo":
                self.seed_demo()

    def seed_demo(self) -> None:
        """Add the demo campaigns ``00001`` and ``00002`` (:data:`DEMO_CAMPAIGNS`).

        Campaign ``00001`` holds 12 records from 48500100200 on, including two records sharing
        48500100201, a record 48500100202 with the additional number 48500100299, a record
        48500100203 whose call is in progress, and 48500100205 assigned to ``j.doe``
        (``MY_RECORD``). Campaign ``00002`` holds three records, one of them sharing 48500100200
        with the first campaign so that tests can see the campaigns are kept apart. The README's
        sandbox section lists all of it (``python -m airflow_provider_thulium.sandbox --describe``).
        """
        with self.lock:
            for campaign_id, name, fields, statuses, agents, records in DEMO_CAMPAIGNS:
                self.add_campaign(
                    campaign_id, name, fields=fields, statuses=statuses_from(statuses), agents=dict(agents)
                )
                self.add_records(campaign_id, [dict(r) for r in records])

    def add_campaign(
        self,
        campaign_id: str,
        name: str,
        fields: Iterable[str] = (),
        statuses: list[dict[str, Any]] | None = None,
        agents: Iterable[str] | dict[str, bool] | None = None,
    ) -> Campaign:
        """Create an empty campaign (the id must be five characters, as in the real API).

        ``statuses`` defaults to :data:`DEFAULT_STATUSES`; ``agents`` (logins, or login →
        ``active_in_outbound``) defaults to every agent of the account, active in the campaign.
        """
        if len(campaign_id) != 5:
            raise ValueError(f"campaign id must be five characters, got {campaign_id!r}")
        with self.lock:
            if campaign_id in self.campaigns:
                raise ValueError(f"campaign {campaign_id} already exists")
            if agents is None:
                members = dict.fromkeys(self.agents, True)
            elif isinstance(agents, dict):
                members = {str(login): bool(active) for login, active in agents.items()}
            else:
                members = dict.fromkeys(agents, True)
            unknown = set(members) - set(self.agents)
            if unknown:
                raise ValueError(f"unknown agents: {sorted(unknown)} (add them with add_agent first)")
            campaign = Campaign(
                id=campaign_id,
                name=name,
                fields=set(fields),
                statuses=_checked_statuses(statuses) if statuses is not None else default_statuses(),
                agents=members,
            )
            self.campaigns[campaign_id] = campaign
            return campaign

    def delete_campaign(self, campaign_id: str) -> None:
        """Delete a campaign (``KeyError`` if there is none)."""
        with self.lock:
            del self.campaigns[campaign_id]

    def add_records(self, campaign_id: str, records: Iterable[dict[str, Any] | Record]) -> list[int]:
        """Add records given as dicts (keys as in :class:`Record`) or :class:`Record` objects.

        Records without a positive ``record_id`` get the next free one; dicts without a
        ``status_id`` get the campaign's first ``TO_CALL`` status, without a ``create_date`` the
        clock's time. Duplicated numbers are allowed on purpose: the API's handling of them is
        part of what tests exercise. Returns the ids of the added records.
        """
        with self.lock:
            campaign = self._campaign(campaign_id)
            added: list[int] = []
            for item in records:
                record = item if isinstance(item, Record) else self._record_from_dict(campaign, item)
                if record.record_id <= 0:
                    record.record_id = self._take_id()
                else:
                    self._next_record_id = max(self._next_record_id, record.record_id + 1)
                campaign.add(record)
                added.append(record.record_id)
            return added

    def bulk_add(
        self,
        campaign_id: str,
        phones: Iterable[str],
        *,
        status_id: int | None = None,
        create_date: datetime | str | None = None,
        call_date: datetime | str | None = None,
    ) -> int:
        """Add one plain record per phone number, quickly (for 100,000-record benchmarks).

        Every record gets ``status_id`` (default: the campaign's first ``TO_CALL`` status),
        ``create_date`` (default: the clock's time) and ``call_date`` (default: never called).

        After a large addition (10,000 records or more) the process's live objects are moved out of
        the cyclic garbage collector's reach with :func:`gc.freeze`: otherwise every full
        collection walks all the records, a pause of 100+ ms every few large requests that would
        show up in benchmark timings. Records hold no reference cycles, so they are still freed
        normally when dropped. Returns the number of records added.
        """
        created = self.now() if create_date is None else _as_date(create_date, "create_date")
        called = None if call_date is None else _as_date(call_date, "call_date")
        with self.lock:
            campaign = self._campaign(campaign_id)
            status = campaign.default_status_id() if status_id is None else int(status_id)
            next_id = self._next_record_id
            records = campaign.records
            by_phone = campaign.by_phone
            start = next_id
            # Inlined Campaign.add: this loop runs 100,000+ times when a benchmark sets up.
            for phone in phones:
                records[next_id] = Record(next_id, phone, status_id=status, create_date=created, call_date=called)
                ids = by_phone.get(phone)
                if ids is None:
                    by_phone[phone] = {next_id}
                else:
                    ids.add(next_id)
                next_id += 1
            self._next_record_id = next_id
            campaign.version += 1
        added = next_id - start
        if added >= _FREEZE_THRESHOLD:
            gc.collect()
            gc.freeze()
        return added

    def set_password(self, login: str, new_password: str) -> None:
        """Change a user's password (``KeyError`` for an unknown user), e.g. to simulate rotation."""
        with self.lock:
            _, permissions = self.users[login]
            self.users[login] = (new_password, permissions)

    def add_user(self, login: str, password: str, permissions: Iterable[str] | None = None) -> None:
        """Add or replace an API user; ``permissions=None`` grants all of them."""
        perms = None if permissions is None else frozenset(permissions)
        if perms is not None and not perms <= ALL_PERMISSIONS:
            raise ValueError(f"unknown permissions: {sorted(perms - ALL_PERMISSIONS)}")
        with self.lock:
            self.users[login] = (password, perms)

    def add_agent(
        self,
        login: str,
        name: str = "",
        *,
        number: str = "",
        agent_id: int | None = None,
        active: bool = True,
        campaigns: Iterable[str] | None = None,
        active_in_outbound: bool = True,
    ) -> Agent:
        """Add (or replace) an agent of the account and put it on campaigns.

        ``campaigns=None`` puts the agent on every existing campaign; records of a campaign can
        only be assigned to its agents. ``agent_id`` defaults to the next free id.
        """
        with self.lock:
            targets = list(self.campaigns) if campaigns is None else list(campaigns)
            for campaign_id in targets:
                self._campaign(campaign_id)
            if agent_id is None:
                agent_id = max((a.agent_id for a in self.agents.values()), default=1000) + 1
            agent = Agent(login, name, number, agent_id, active)
            self.agents[login] = agent
            for campaign_id in targets:
                self.campaigns[campaign_id].agents[login] = active_in_outbound
            return agent

    def add_status(
        self,
        campaign_id: str,
        system_status: str,
        name: str,
        *,
        status_id: int | str | None = None,
        dictionary_status_id: int | None = None,
    ) -> str:
        """Add a status to a campaign; returns its id (default: one above the highest)."""
        if system_status not in SYSTEM_STATUSES:
            raise ValueError(f"unknown system status {system_status!r}: use one of {SYSTEM_STATUSES}")
        with self.lock:
            campaign = self._campaign(campaign_id)
            if status_id is None:
                status_id = max((int(s["status_id"]) for s in campaign.statuses), default=0) + 1
            sid = str(status_id)
            if not _INT_RE.fullmatch(sid) or campaign.status(sid) is not None:
                raise ValueError(f"status id {sid!r} is not an integer or already exists in campaign {campaign_id}")
            campaign.statuses.append(
                {
                    "system_status": system_status,
                    "status_id": sid,
                    "dictionary_status_id": dictionary_status_id,
                    "name": name,
                }
            )
            campaign.version += 1
            return sid

    def set_in_call(self, campaign_id: str, phone: str, in_call: bool = True) -> int:
        """Mark every record with this main number as in a call (or not); returns how many.

        A call starting also sets the record's ``call_date`` to the clock's time.
        """
        with self.lock:
            campaign = self._campaign(campaign_id)
            matched = campaign.match(phone)
            now = self.now()
            for record in matched:
                record.in_call = in_call
                if in_call:
                    record.call_date = now
            campaign.version += 1
            return len(matched)

    def update_record(self, campaign_id: str, record_id: int, **changes: Any) -> dict[str, Any]:
        """Set fields of one record directly, without the API's rules (e.g. ``call_date``, ``last_note``).

        The phone numbers and the id cannot be changed this way. Returns the record afterwards.
        """
        fixed = {"record_id", "phone_number", "additional_numbers"}
        unknown = set(changes) - (_RECORD_KEYS - fixed)
        if unknown:
            raise ValueError(f"cannot set {sorted(unknown)} (settable: {sorted(_RECORD_KEYS - fixed)})")
        with self.lock:
            campaign = self._campaign(campaign_id)
            record = campaign.records.get(record_id)
            if record is None:
                raise KeyError(f"no record {record_id} in campaign {campaign_id!r}")
            for key in ("create_date", "call_date", "next_call_date"):
                if changes.get(key) is not None:
                    changes[key] = _as_date(changes[key], key)
            for key, value in changes.items():
                setattr(record, key, value)
            campaign.version += 1
            return record.to_json()

    def set_clock(self, now: datetime | str | None) -> None:
        """Freeze the clock that dates added records (``None``: follow the machine's local time)."""
        if now is None:
            clock: Callable[[], datetime] = datetime.now
        else:
            frozen = datetime.strptime(_as_date(now, "now"), DATE_FORMAT)

            def clock() -> datetime:
                return frozen

        with self.lock:
            self._clock = clock

    def now(self) -> str:
        """The clock's time as ``YYYY-MM-DD hh:mm`` (the machine's local time unless frozen)."""
        return self._clock().strftime(DATE_FORMAT)

    def records(self, campaign_id: str) -> list[dict[str, Any]]:
        """All records of a campaign, in the order they were added."""
        with self.lock:
            return [r.to_json() for r in self._campaign(campaign_id).records.values()]

    def record(self, campaign_id: str, record_id: int) -> dict[str, Any]:
        """One record (``KeyError`` when there is none)."""
        with self.lock:
            record = self._campaign(campaign_id).records.get(record_id)
            if record is None:
                raise KeyError(f"no record {record_id} in campaign {campaign_id!r}")
            return record.to_json()

    def find(self, campaign_id: str, phone: str, additional: bool = False) -> list[dict[str, Any]]:
        """Records of a campaign with this main number (and additional number, if asked)."""
        with self.lock:
            return [r.to_json() for r in self._campaign(campaign_id).match(phone, additional)]

    def in_call(self, campaign_id: str) -> list[dict[str, Any]]:
        """The records of a campaign whose call is in progress."""
        with self.lock:
            return [r.to_json() for r in self._campaign(campaign_id).records.values() if r.in_call]

    def statuses(self, campaign_id: str) -> list[dict[str, Any]]:
        """A campaign's statuses, as ``GET outbounds/:id/statuses`` answers them."""
        with self.lock:
            return [dict(s) for s in self._campaign(campaign_id).statuses]

    def campaign_agents(self, campaign_id: str) -> list[dict[str, Any]]:
        """A campaign's agents, as ``GET outbounds/:id/agents`` answers them."""
        with self.lock:
            return self._agents_json(self._campaign(campaign_id))

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-able data (passwords left out)."""
        with self.lock:
            return {
                "users": {
                    login: {"permissions": None if perms is None else sorted(perms)}
                    for login, (_, perms) in self.users.items()
                },
                "agents": [a.to_json() for a in self.agents.values()],
                "campaigns": {cid: c.to_json() for cid, c in self.campaigns.items()},
                "now": self.now(),
            }

    # ----------------------------------------------------------------- API semantics

    def authenticate(self, login: str | None, password: str | None) -> bool:
        """Whether these Basic-auth credentials belong to an API user."""
        if login is None or password is None:
            return False
        with self.lock:
            entry = self.users.get(login)
        return entry is not None and entry[0] == password

    def require(self, login: str, permission: str) -> None:
        """Raise a 403 :class:`ApiError` unless the user holds ``permission``."""
        with self.lock:
            entry = self.users.get(login)
        if entry is None:
            raise ApiError(401, "Invalid credentials.")
        permissions = entry[1]
        if permissions is not None and permission not in permissions:
            raise ApiError(403, MSG_PERMISSION)

    def api_list_campaigns(self) -> list[dict[str, Any]]:
        """``GET outbounds``."""
        with self.lock:
            return [{"id": c.id, "name": c.name} for c in self.campaigns.values()]

    def api_statuses(self, campaign_id: str) -> list[dict[str, Any]]:
        """``GET outbounds/:id/statuses``."""
        with self.lock:
            return [dict(s) for s in self._api_campaign(campaign_id).statuses]

    def api_agents(self, campaign_id: str) -> list[dict[str, Any]]:
        """``GET outbounds/:id/agents``."""
        with self.lock:
            return self._agents_json(self._api_campaign(campaign_id))

    def api_page(self, campaign_id: str, limit: int, offset: int, wanted: RecordFilter | None = None) -> dict[str, Any]:
        """``GET outbounds/:id/records``: one page of the matching records and their total count."""
        if not 1 <= limit <= MAX_PAGE_LIMIT:
            raise ApiError(400, f"limit must be between 1 and {MAX_PAGE_LIMIT}.")
        if offset < 0:
            raise ApiError(400, "offset must not be negative.")
        with self.lock:
            campaign = self._api_campaign(campaign_id)
            matched = campaign.view(wanted or RecordFilter())
            statuses = {s["status_id"]: s for s in campaign.statuses}
            page = matched[offset : offset + limit]  # a slice, not islice: a late page costs no walk to it
            return {"count": len(matched), "result": [self._api_record(r, statuses) for r in page]}

    def api_delete(
        self, campaign_id: str, phones: list[str], additional: bool, dry_run: bool = False
    ) -> dict[str, list[dict[str, Any]]]:
        """``DELETE batch/outbounds/:id/records``: per-number lists of per-record results.

        With ``dry_run`` the answer is computed but nothing is removed (used by faults that must
        show the real answer without applying it).
        """
        with self.lock:
            campaign = self._api_campaign(campaign_id)
            answer: dict[str, list[dict[str, Any]]] = {}
            gone: set[int] = set()
            for phone in phones:
                if phone in answer:
                    continue
                results: list[dict[str, Any]] = []
                for record in campaign.match(phone, additional):
                    if record.record_id in gone:
                        continue
                    if record.in_call:
                        results.append(
                            {"http_status": 409, "record_id": record.record_id, "status": "CALL_IN_PROGRESS"}
                        )
                        continue
                    gone.add(record.record_id)
                    if not dry_run:
                        campaign.remove(record.record_id)
                    results.append({"http_status": 200, "record_id": record.record_id, "status": "REMOVED"})
                answer[phone] = results or [{"http_status": 404, "status": "NOT_EXIST"}]
            return answer

    def api_update(
        self, campaign_id: str, body: Any, additional: bool, dry_run: bool = False
    ) -> dict[str, dict[str, Any]]:
        """``PUT batch/outbounds/:id/records``: one result object per phone number.

        A body that is not ``{"records": [ {...}, ... ]}`` with a phone number in every record fails
        the whole request (400); everything else is judged record by record.
        """
        items, phones = _batch_phones(body)
        with self.lock:
            campaign = self._api_campaign(campaign_id)
            statuses = {s["status_id"]: s for s in campaign.statuses}
            answer: dict[str, dict[str, Any]] = {}
            changed = False
            for phone, item in zip(phones, items, strict=True):
                message, status, record = self._check_update(campaign, statuses, phone, item, additional)
                if message is not None:
                    answer[phone] = {"http_status": status, "message": message}
                    continue
                assert record is not None
                if not dry_run:
                    _apply_update(record, item)
                    changed = True
                answer[phone] = {"http_status": 204}
            if changed:
                campaign.version += 1
            return answer

    def api_add(self, campaign_id: str, body: Any, dry_run: bool = False) -> dict[str, dict[str, Any]]:
        """``POST batch/outbounds/:id/records``: one result object per phone number.

        A body that is not ``{"records": [ {...}, ... ]}`` with a phone number in every record, or
        that holds a number twice, fails the whole request (400). Otherwise each record is
        ``ADDED`` (201, with its new id), ``ALREADY_EXISTS`` (400, with the id of the record that
        has this main number) or ``FAILED`` (400, with a message). With ``dry_run`` the answer is
        computed (with the ids the records would get) but nothing is added.
        """
        items, phones = _batch_phones(body)
        if len(set(phones)) != len(phones):
            raise ApiError(400, MSG_DUPLICATED_ADD)
        with self.lock:
            campaign = self._api_campaign(campaign_id)
            statuses = {s["status_id"]: s for s in campaign.statuses}
            created = self.now()
            next_id = self._next_record_id
            answer: dict[str, dict[str, Any]] = {}
            for phone, item in zip(phones, items, strict=True):
                message, existing = self._check_add(campaign, statuses, phone, item)
                if existing is not None:
                    answer[phone] = {"http_status": 400, "record_id": existing, "status": "ALREADY_EXISTS"}
                    continue
                if message is not None:
                    answer[phone] = {"http_status": 400, "status": "FAILED", "message": message}
                    continue
                if not dry_run:
                    campaign.add(_new_record(next_id, phone, item, campaign, created))
                answer[phone] = {"http_status": 201, "record_id": next_id, "status": "ADDED"}
                next_id += 1
            if not dry_run:
                self._next_record_id = next_id
            return answer

    def _check_values(
        self, campaign: Campaign, statuses: dict[str, dict[str, Any]], item: dict[str, Any]
    ) -> tuple[str | None, str | None]:
        """Check the values of one record of a batch; returns (error message, system status set)."""
        system_status: str | None = None
        if "status_id" in item:
            status_id = item["status_id"]
            status = None
            if isinstance(status_id, int | str) and not isinstance(status_id, bool):
                status = statuses.get(str(status_id).strip())
            if status is None:
                return MSG_STATUS_NOT_FOUND, None
            system_status = status["system_status"]
        if "dictionary_status_id" in item:
            try:
                _as_optional_int(item["dictionary_status_id"])
            except ValueError:
                return "Invalid dictionary_status_id.", None
        if "agent_login" in item:
            agent = item["agent_login"]
            if agent is not None and (
                not isinstance(agent, str) or agent not in campaign.agents or agent not in self.agents
            ):
                return MSG_AGENT_NOT_FOUND, None
        if item.get("next_call_date") is not None and not _valid_date(item["next_call_date"]):
            return MSG_BAD_DATE, None
        if "record_fields" in item:
            fields = item["record_fields"]
            if not isinstance(fields, dict):
                return "record_fields must be an object.", None
            for key in fields:
                if key not in campaign.fields:
                    return f"Unknown record field: {key}.", None
        if "identifier" in item:
            identifier = item["identifier"]
            if identifier is not None and (isinstance(identifier, bool) or not isinstance(identifier, str | int)):
                return "Invalid identifier.", None
        if "order" in item:
            try:
                order = _as_optional_int(item["order"])
            except ValueError:
                return "Invalid order.", None
            if order is not None and order < 0:
                return "Invalid order.", None
        return None, system_status

    def _check_update(
        self,
        campaign: Campaign,
        statuses: dict[str, dict[str, Any]],
        phone: str,
        item: dict[str, Any],
        additional: bool,
    ) -> tuple[str | None, int, Record | None]:
        """Validate one update completely; returns (error message, http status, matched record)."""
        if not UPDATABLE_KEYS.issuperset(item):
            return f"Unknown parameter: {sorted(set(item) - UPDATABLE_KEYS)[0]}.", 400, None
        if additional:
            matched = campaign.match(phone, additional)
        else:
            # The common case, kept free of set copies: a PUT carries thousands of records.
            ids = campaign.by_phone.get(phone, ())
            matched = [campaign.records[rid] for rid in ids]
        if not matched:
            return MSG_RECORD_NOT_FOUND, 404, None
        if len(matched) > 1:
            return MSG_DUPLICATED, 400, None
        record = matched[0]
        message, system_status = self._check_values(campaign, statuses, item)
        if message is not None:
            return message, 400, None

        if system_status is not None:
            # The requirements of a status apply when the request sets that status: the date must
            # come with the request, the agent may already be on the record.
            has_date = item.get("next_call_date") is not None
            agent = item.get("agent_login", record.agent_login)
        else:
            # A request that keeps the status must not take away what the status requires.
            current = statuses.get(str(record.status_id))
            system_status = current["system_status"] if current is not None else None
            has_date = item.get("next_call_date", record.next_call_date) is not None
            agent = item.get("agent_login", record.agent_login)
        message = _status_requirements(system_status, agent is not None, has_date)
        if message is not None:
            return message, 400, None
        return None, 204, record

    def _check_add(
        self, campaign: Campaign, statuses: dict[str, dict[str, Any]], phone: str, item: dict[str, Any]
    ) -> tuple[str | None, int | None]:
        """Validate one record to add; returns (error message, id of the record already there)."""
        if not ADDABLE_KEYS.issuperset(item):
            return f"Unknown parameter: {sorted(set(item) - ADDABLE_KEYS)[0]}.", None
        if not _PHONE_RE.fullmatch(phone):
            return MSG_BAD_PHONE, None
        ids = campaign.by_phone.get(phone)
        if ids:
            return None, min(ids)
        message, system_status = self._check_values(campaign, statuses, item)
        if message is not None:
            return message, None
        has_agent = item.get("agent_login") is not None
        has_date = item.get("next_call_date") is not None
        return _status_requirements(system_status, has_agent, has_date), None

    # ----------------------------------------------------------------- internals

    def _api_record(self, record: Record, statuses: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """A record as ``GET outbounds/:id/records`` shows it (missing values as ``""``)."""
        status = statuses.get(str(record.status_id))
        agent = self.agents.get(record.agent_login) if record.agent_login else None
        shown = {
            "record_id": record.record_id,
            "phone_number": record.phone_number,
            "system_status": status["system_status"] if status is not None else "",
            "status": status["name"] if status is not None else "",
            "status_id": record.status_id,
            "call_date": record.call_date or "",
            "create_date": record.create_date,
            "next_call_date": record.next_call_date or "",
            "agent_name": agent.name if agent is not None else "",
            "agent_login": record.agent_login or "",
            "last_note": record.last_note,
            "identifier": record.identifier if record.identifier is not None else "",
            "order": record.order if record.order is not None else "",
        }
        if self.show_record_fields:
            shown["record_fields"] = dict(record.record_fields)
        return shown

    def _agents_json(self, campaign: Campaign) -> list[dict[str, Any]]:
        answer = []
        for login, active_in_outbound in campaign.agents.items():
            agent = self.agents.get(login)
            if agent is None:
                continue
            answer.append(
                {
                    "login": agent.login,
                    "number": agent.number,
                    "active": agent.active,
                    "active_in_outbound": active_in_outbound,
                    "agent_id": agent.agent_id,
                }
            )
        return answer

    def _campaign(self, campaign_id: str) -> Campaign:
        try:
            return self.campaigns[campaign_id]
        except KeyError:
            raise KeyError(f"no campaign {campaign_id!r}") from None

    def _api_campaign(self, campaign_id: str) -> Campaign:
        campaign = self.campaigns.get(campaign_id)
        if campaign is None:
            raise ApiError(404, MSG_CAMPAIGN_NOT_FOUND)
        return campaign

    def _take_id(self) -> int:
        rid = self._next_record_id
        self._next_record_id += 1
        return rid

    def _record_from_dict(self, campaign: Campaign, data: dict[str, Any]) -> Record:
        unknown = set(data) - _RECORD_KEYS
        if unknown:
            raise ValueError(f"unknown record keys: {sorted(unknown)}")
        phone = _phone_key(data.get("phone_number"))
        if phone is None:
            raise ValueError("a record needs a phone_number")
        status_id = data.get("status_id")
        order = data.get("order")
        identifier = data.get("identifier")
        call_date = data.get("call_date")
        return Record(
            record_id=int(data.get("record_id") or 0),
            phone_number=phone,
            additional_numbers=[str(n) for n in data.get("additional_numbers") or []],
            status_id=campaign.default_status_id() if status_id is None else int(status_id),
            dictionary_status_id=_as_optional_int(data.get("dictionary_status_id")),
            agent_login=data.get("agent_login"),
            next_call_date=data.get("next_call_date"),
            record_fields=dict(data.get("record_fields") or {}),
            in_call=bool(data.get("in_call", False)),
            identifier=None if identifier is None else str(identifier),
            order=None if order is None else int(order),
            create_date=_as_date(data.get("create_date") or self.now(), "create_date"),
            call_date=None if call_date is None else _as_date(call_date, "call_date"),
            last_note=str(data.get("last_note") or ""),
        )


def _checked_statuses(statuses: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Statuses given in the API's shape, checked and copied (``status_id`` as a string)."""
    checked: list[dict[str, Any]] = []
    seen: set[str] = set()
    for status in statuses:
        if not isinstance(status, dict) or status.get("system_status") not in SYSTEM_STATUSES:
            raise ValueError(f"a status needs a system_status out of {SYSTEM_STATUSES}, got {status!r}")
        sid = str(status.get("status_id", "")).strip()
        if not _INT_RE.fullmatch(sid) or sid in seen:
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


def _status_requirements(system_status: str | None, has_agent: bool, has_date: bool) -> str | None:
    """What a record in this system status lacks (the vendor: MY_RECORD needs an agent and a date,
    CALL_NO_SOONER_THAN a date), or None."""
    if system_status == "MY_RECORD":
        if not has_agent:
            return "agent_login is required for the status MY_RECORD."
        if not has_date:
            return "next_call_date is required for the status MY_RECORD."
    if system_status == "CALL_NO_SOONER_THAN" and not has_date:
        return "next_call_date is required for the status CALL_NO_SOONER_THAN."
    return None


def _new_record(record_id: int, phone: str, item: dict[str, Any], campaign: Campaign, created: str) -> Record:
    """A record as ``POST batch/outbounds/:id/records`` creates it from a checked request record."""
    status_id = item.get("status_id")
    identifier = item.get("identifier")
    return Record(
        record_id=record_id,
        phone_number=phone,
        status_id=campaign.default_status_id() if status_id is None else int(str(status_id).strip()),
        dictionary_status_id=_as_optional_int(item.get("dictionary_status_id")),
        agent_login=item.get("agent_login"),
        next_call_date=item.get("next_call_date"),
        record_fields=dict(item.get("record_fields") or {}),
        identifier=None if identifier is None else str(identifier),
        order=_as_optional_int(item.get("order")),
        create_date=created,
    )


def _apply_update(record: Record, item: dict[str, Any]) -> None:
    if "status_id" in item:
        record.status_id = int(str(item["status_id"]).strip())
    if "dictionary_status_id" in item:
        record.dictionary_status_id = _as_optional_int(item["dictionary_status_id"])
    if "agent_login" in item:
        record.agent_login = item["agent_login"]
    if "next_call_date" in item:
        record.next_call_date = item["next_call_date"]
    if "record_fields" in item:
        record.record_fields.update(item["record_fields"])
