"""Data model and API semantics of the Thulium sandbox.

Everything here is plain Python with no I/O: the HTTP layer in :mod:`.server` parses requests and
calls :class:`SandboxState`, which answers with JSON-able data or raises :class:`ApiError`. One
re-entrant lock guards the whole state, so the threaded server can call it from any thread.
"""

from __future__ import annotations

import gc
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

#: Permission names an API user can hold; ``None`` in a user's entry means all of them.
ALL_PERMISSIONS = frozenset({"outbounds.list", "records.delete", "records.update", "records.read"})

#: ``(status_id, system_status, name)`` of the statuses every new campaign starts with.
DEFAULT_STATUSES: tuple[tuple[str, str, str], ...] = (
    ("1", "TO_CALL", "To call"),
    ("2", "CALL", "Called"),
    ("3", "NO_CALL", "Do not call"),
    ("4", "MY_RECORD", "My record"),
    ("5", "CALL_NO_SOONER_THAN", "Call later"),
    ("6", "ABANDONED_AFTER_N_TRIES", "Abandoned"),
    ("7", "IN_PROGRESS", "In progress"),
    ("8", "CALL_PROGRESSIVE", "Progressive"),
)

DEFAULT_LOGIN = "api_user"
DEFAULT_PASSWORD = "api_pass"
LIMITED_LOGIN = "limited_user"
LIMITED_PASSWORD = "limited_pass"
DEFAULT_AGENTS = frozenset({"j.doe", "a.smith"})

MAX_PAGE_LIMIT = 100
_FREEZE_THRESHOLD = 10_000

UPDATABLE_KEYS = frozenset(
    {"phone_number", "status_id", "dictionary_status_id", "agent_login", "next_call_date", "record_fields"}
)
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
    }
)
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")
# The first record id is arbitrary; starting above 1 makes ids easy to tell apart from counts.
_FIRST_RECORD_ID = 1001

MSG_PERMISSION = "Permission denied for this API method."
MSG_CAMPAIGN_NOT_FOUND = "Outbound campaign not found."
MSG_RECORD_NOT_FOUND = "Record not found."
MSG_DUPLICATED = "Duplicated phone number: records with duplicated numbers cannot be edited."
MSG_STATUS_NOT_FOUND = "Status not found."
MSG_AGENT_NOT_FOUND = "Agent not found."
MSG_BAD_DATE = "Invalid next_call_date: expected the format YYYY-MM-DD hh:mm."


class ApiError(Exception):
    """A failure of a request as a whole, answered with the API's error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class Record:
    """One record of an outbound campaign."""

    record_id: int
    phone_number: str
    additional_numbers: list[str] = field(default_factory=list)
    status_id: int = 1
    dictionary_status_id: int | None = None
    agent_login: str | None = None
    next_call_date: str | None = None
    record_fields: dict[str, Any] = field(default_factory=dict)
    in_call: bool = False

    def to_json(self) -> dict[str, Any]:
        """The record as the API shows it (plus ``in_call``, which the sandbox exposes for tests)."""
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
        }


def default_statuses() -> list[dict[str, Any]]:
    """A fresh copy of the default status list, in the API's shape."""
    return [
        {"status_id": sid, "dictionary_status_id": None, "name": name, "system_status": system}
        for sid, system, name in DEFAULT_STATUSES
    ]


@dataclass
class Campaign:
    """An outbound campaign: its records, indexed by main and by additional phone number.

    The indexes keep every lookup O(1): benchmarks run batches of hundreds of numbers against
    campaigns of 100,000+ records, where a scan per number would dominate the measurement.
    """

    id: str
    name: str
    fields: set[str] = field(default_factory=set)
    statuses: list[dict[str, Any]] = field(default_factory=default_statuses)
    records: dict[int, Record] = field(default_factory=dict)
    by_phone: dict[str, set[int]] = field(default_factory=dict, repr=False)
    by_additional: dict[str, set[int]] = field(default_factory=dict, repr=False)

    def add(self, record: Record) -> None:
        """Store a record and index its numbers."""
        if record.record_id in self.records:
            raise ValueError(f"record id {record.record_id} already exists in campaign {self.id}")
        self.records[record.record_id] = record
        self.by_phone.setdefault(record.phone_number, set()).add(record.record_id)
        for number in record.additional_numbers:
            self.by_additional.setdefault(number, set()).add(record.record_id)

    def remove(self, record_id: int) -> Record:
        """Remove a record and drop it from the indexes."""
        record = self.records.pop(record_id)
        _discard(self.by_phone, record.phone_number, record_id)
        for number in record.additional_numbers:
            _discard(self.by_additional, number, record_id)
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

    def to_json(self) -> dict[str, Any]:
        """The whole campaign as JSON-able data."""
        return {
            "id": self.id,
            "name": self.name,
            "fields": sorted(self.fields),
            "statuses": [dict(s) for s in self.statuses],
            "records": [r.to_json() for r in self.records.values()],
        }


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
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise ValueError(value)


def _valid_date(value: Any) -> bool:
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        return False
    try:
        datetime.strptime(value, "%Y-%m-%d %H:%M")
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


class SandboxState:
    """The sandbox's whole state: users, agents and campaigns, with the API's semantics.

    :param seed: ``"demo"`` for the demo data set (see :meth:`seed_demo`) or ``"empty"``.
    """

    def __init__(self, seed: str = "demo") -> None:
        self.lock = threading.RLock()
        self.users: dict[str, tuple[str, frozenset[str] | None]] = {}
        self.agents: set[str] = set()
        self.campaigns: dict[str, Campaign] = {}
        self._next_record_id = _FIRST_RECORD_ID
        self.reset(seed)

    # ----------------------------------------------------------------- set-up helpers

    def reset(self, seed: str = "demo") -> None:
        """Forget everything and start again from the default users and agents plus ``seed``."""
        if seed not in {"demo", "empty"}:
            raise ValueError(f"unknown seed {seed!r}: use 'demo' or 'empty'")
        with self.lock:
            self.users = {
                DEFAULT_LOGIN: (DEFAULT_PASSWORD, None),
                LIMITED_LOGIN: (LIMITED_PASSWORD, frozenset({"records.delete", "records.update"})),
            }
            self.agents = set(DEFAULT_AGENTS)
            self.campaigns = {}
            self._next_record_id = _FIRST_RECORD_ID
            if seed == "demo":
                self.seed_demo()

    def seed_demo(self) -> None:
        """Add the demo campaigns ``00001`` and ``00002``.

        Campaign ``00001`` holds 12 records from 48500100200 on, including two records sharing
        48500100201, a record 48500100202 with the additional number 48500100299, a record
        48500100203 whose call is in progress, and 48500100205 assigned to ``j.doe``
        (``MY_RECORD``). Campaign ``00002`` holds three records, one of them sharing 48500100200
        with the first campaign so that tests can see the campaigns are kept apart.
        """
        with self.lock:
            self.add_campaign("00001", "Demo outbound campaign", fields={"crm_id", "segment", "note"})
            records: list[dict[str, Any]] = [
                {"phone_number": "48500100200", "record_fields": {"crm_id": "C-1000", "segment": "retail"}},
                {"phone_number": "48500100201", "record_fields": {"crm_id": "C-1001"}},
                {"phone_number": "48500100201", "record_fields": {"crm_id": "C-1002"}},
                {"phone_number": "48500100202", "additional_numbers": ["48500100299"]},
                {"phone_number": "48500100203", "in_call": True, "status_id": 7},
                {"phone_number": "48500100204", "status_id": 2},
                {
                    "phone_number": "48500100205",
                    "status_id": 4,
                    "agent_login": "j.doe",
                    "next_call_date": "2030-01-15 10:30",
                },
            ]
            records += [{"phone_number": f"4850010020{n}"} for n in range(6, 10)]
            records.append({"phone_number": "48500100210", "record_fields": {"segment": "vip"}})
            self.add_records("00001", records)
            self.add_campaign("00002", "Second campaign", fields={"crm_id"})
            self.add_records(
                "00002",
                [{"phone_number": "48600100200"}, {"phone_number": "48600100201"}, {"phone_number": "48500100200"}],
            )

    def add_campaign(
        self,
        campaign_id: str,
        name: str,
        fields: Iterable[str] = (),
        statuses: list[dict[str, Any]] | None = None,
    ) -> Campaign:
        """Create an empty campaign (the id must be five characters, as in the real API)."""
        if len(campaign_id) != 5:
            raise ValueError(f"campaign id must be five characters, got {campaign_id!r}")
        with self.lock:
            if campaign_id in self.campaigns:
                raise ValueError(f"campaign {campaign_id} already exists")
            campaign = Campaign(
                id=campaign_id,
                name=name,
                fields=set(fields),
                statuses=[dict(s) for s in statuses] if statuses is not None else default_statuses(),
            )
            self.campaigns[campaign_id] = campaign
            return campaign

    def delete_campaign(self, campaign_id: str) -> None:
        """Delete a campaign (``KeyError`` if there is none)."""
        with self.lock:
            del self.campaigns[campaign_id]

    def add_records(self, campaign_id: str, records: Iterable[dict[str, Any] | Record]) -> list[int]:
        """Add records given as dicts (keys as in :class:`Record`) or :class:`Record` objects.

        Records without a positive ``record_id`` get the next free one. Duplicated numbers are
        allowed on purpose: the API's handling of them is part of what tests exercise.
        Returns the ids of the added records.
        """
        with self.lock:
            campaign = self._campaign(campaign_id)
            added: list[int] = []
            for item in records:
                record = item if isinstance(item, Record) else self._record_from_dict(item)
                if record.record_id <= 0:
                    record.record_id = self._take_id()
                else:
                    self._next_record_id = max(self._next_record_id, record.record_id + 1)
                campaign.add(record)
                added.append(record.record_id)
            return added

    def bulk_add(self, campaign_id: str, phones: Iterable[str]) -> int:
        """Add one plain record per phone number, quickly (for 100,000-record benchmarks).

        After a large addition (10,000 records or more) the process's live objects are moved out of
        the cyclic garbage collector's reach with :func:`gc.freeze`: otherwise every full
        collection walks all the records, a pause of 100+ ms every few large requests that would
        show up in benchmark timings. Records hold no reference cycles, so they are still freed
        normally when dropped. Returns the number of records added.
        """
        with self.lock:
            campaign = self._campaign(campaign_id)
            next_id = self._next_record_id
            records = campaign.records
            by_phone = campaign.by_phone
            start = next_id
            # Inlined Campaign.add: this loop runs 100,000+ times when a benchmark sets up.
            for phone in phones:
                records[next_id] = Record(next_id, phone)
                ids = by_phone.get(phone)
                if ids is None:
                    by_phone[phone] = {next_id}
                else:
                    ids.add(next_id)
                next_id += 1
            self._next_record_id = next_id
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

    def add_agent(self, login: str) -> None:
        """Add an agent that records can be assigned to."""
        with self.lock:
            self.agents.add(login)

    def set_in_call(self, campaign_id: str, phone: str, in_call: bool = True) -> int:
        """Mark every record with this main number as in a call (or not); returns how many."""
        with self.lock:
            matched = self._campaign(campaign_id).match(phone)
            for record in matched:
                record.in_call = in_call
            return len(matched)

    def records(self, campaign_id: str) -> list[dict[str, Any]]:
        """All records of a campaign, in record id order of insertion."""
        with self.lock:
            return [r.to_json() for r in self._campaign(campaign_id).records.values()]

    def find(self, campaign_id: str, phone: str, additional: bool = False) -> list[dict[str, Any]]:
        """Records of a campaign with this main number (and additional number, if asked)."""
        with self.lock:
            return [r.to_json() for r in self._campaign(campaign_id).match(phone, additional)]

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-able data (passwords left out)."""
        with self.lock:
            return {
                "users": {
                    login: {"permissions": None if perms is None else sorted(perms)}
                    for login, (_, perms) in self.users.items()
                },
                "agents": sorted(self.agents),
                "campaigns": {cid: c.to_json() for cid, c in self.campaigns.items()},
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

    def api_page(self, campaign_id: str, limit: int, offset: int) -> dict[str, Any]:
        """``GET outbounds/:id/records``: one page of records and the total count."""
        if not 1 <= limit <= MAX_PAGE_LIMIT:
            raise ApiError(400, f"limit must be between 1 and {MAX_PAGE_LIMIT}.")
        if offset < 0:
            raise ApiError(400, "offset must not be negative.")
        with self.lock:
            campaign = self._api_campaign(campaign_id)
            page = islice(campaign.records.values(), offset, offset + limit)
            return {"count": len(campaign.records), "result": [r.to_json() for r in page]}

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
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise ApiError(400, 'The body must be an object with a list "records".')
        items: list[Any] = body["records"]
        phones: list[str] = []
        for position, item in enumerate(items):
            phone = _phone_key(item.get("phone_number")) if isinstance(item, dict) else None
            if phone is None:
                raise ApiError(400, f"records[{position}]: phone_number is required.")
            phones.append(phone)
        with self.lock:
            campaign = self._api_campaign(campaign_id)
            statuses = {s["status_id"]: s for s in campaign.statuses}
            answer: dict[str, dict[str, Any]] = {}
            for phone, item in zip(phones, items, strict=True):
                message, status, record = self._check_update(campaign, statuses, phone, item, additional)
                if message is not None:
                    answer[phone] = {"http_status": status, "message": message}
                    continue
                assert record is not None
                if not dry_run:
                    _apply_update(record, item)
                answer[phone] = {"http_status": 204}
            return answer

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

        system_status: str | None = None
        if "status_id" in item:
            status_id = item["status_id"]
            status = None
            if isinstance(status_id, int | str) and not isinstance(status_id, bool):
                status = statuses.get(str(status_id).strip())
            if status is None:
                return MSG_STATUS_NOT_FOUND, 400, None
            system_status = status["system_status"]
        if "dictionary_status_id" in item:
            try:
                _as_optional_int(item["dictionary_status_id"])
            except ValueError:
                return "Invalid dictionary_status_id.", 400, None
        if "agent_login" in item:
            agent = item["agent_login"]
            if agent is not None and (not isinstance(agent, str) or agent not in self.agents):
                return MSG_AGENT_NOT_FOUND, 400, None
        if item.get("next_call_date") is not None and not _valid_date(item["next_call_date"]):
            return MSG_BAD_DATE, 400, None
        if "record_fields" in item:
            fields = item["record_fields"]
            if not isinstance(fields, dict):
                return "record_fields must be an object.", 400, None
            for key in fields:
                if key not in campaign.fields:
                    return f"Unknown record field: {key}.", 400, None

        # The requirements of a status apply when the request sets that status.
        has_date = item.get("next_call_date") is not None
        if system_status == "MY_RECORD":
            if item.get("agent_login", record.agent_login) is None:
                return "agent_login is required for the status MY_RECORD.", 400, None
            if not has_date:
                return "next_call_date is required for the status MY_RECORD.", 400, None
        if system_status == "CALL_NO_SOONER_THAN" and not has_date:
            return "next_call_date is required for the status CALL_NO_SOONER_THAN.", 400, None
        return None, 204, record

    # ----------------------------------------------------------------- internals

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

    def _record_from_dict(self, data: dict[str, Any]) -> Record:
        unknown = set(data) - _RECORD_KEYS
        if unknown:
            raise ValueError(f"unknown record keys: {sorted(unknown)}")
        phone = _phone_key(data.get("phone_number"))
        if phone is None:
            raise ValueError("a record needs a phone_number")
        return Record(
            record_id=int(data.get("record_id") or 0),
            phone_number=phone,
            additional_numbers=[str(n) for n in data.get("additional_numbers") or []],
            status_id=int(data.get("status_id") or 1),
            dictionary_status_id=_as_optional_int(data.get("dictionary_status_id")),
            agent_login=data.get("agent_login"),
            next_call_date=data.get("next_call_date"),
            record_fields=dict(data.get("record_fields") or {}),
            in_call=bool(data.get("in_call", False)),
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
