"""The API's semantics per endpoint group: permissions, listing, paged reads, batch delete, update, add.

:class:`ApiSemantics` holds what each ``/api/`` endpoint does to the state and answers; the HTTP
routing to it is in :mod:`.routes`. A request that fails as a whole raises :class:`ApiError`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .records import (
    INT_RE,
    SYSTEM_STATUSES,
    Agent,
    Campaign,
    Record,
    RecordFilter,
    as_optional_int,
    is_valid_date,
    is_valid_day,
    phone_key,
)

#: Permission names an API user can hold; ``None`` in a user's entry means all of them.
ALL_PERMISSIONS = frozenset(
    {"outbounds.list", "records.add", "records.delete", "records.update", "records.read", "agents.read"}
)

MAX_PAGE_LIMIT = 100
DEFAULT_PAGE_LIMIT = 100

#: Keys a record of a PUT (update) may carry, and those of a POST (add).
UPDATABLE_KEYS = frozenset(
    {"phone_number", "status_id", "dictionary_status_id", "agent_login", "next_call_date", "record_fields"}
)
ADDABLE_KEYS = UPDATABLE_KEYS | {"identifier", "order"}
_PHONE_RE = re.compile(r"\+?[0-9]{1,20}")

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


def _parse_days(values: Sequence[str] | None, name: str) -> str | None:
    if not values:
        return None
    value = values[-1]
    if not is_valid_day(value):
        raise ApiError(400, f"Invalid {name}: expected the format YYYY-MM-DD.")
    return value


def parse_record_filter(query: dict[str, list[str]]) -> RecordFilter:
    """The filters of ``GET outbounds/:id/records`` from its query, or a 400 :class:`ApiError`."""
    status_ids: set[int] = set()
    for value in query.get("status_id[]", ()):
        if not INT_RE.fullmatch(value.strip()):
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
        phone = phone_key(item.get("phone_number")) if isinstance(item, dict) else None
        if phone is None:
            raise ApiError(400, f"records[{position}]: phone_number is required.")
        phones.append(phone)
    return items, phones


class ApiSemantics:
    """The API's semantics, mixed into :class:`~.state.SandboxState` (whose ``__init__`` sets the attributes).

    Every method takes the state's lock: the threaded server calls them from any thread.
    """

    lock: threading.RLock
    users: dict[str, tuple[str, frozenset[str] | None]]
    agents: dict[str, Agent]
    campaigns: dict[str, Campaign]
    _next_record_id: int
    show_record_fields: bool

    if TYPE_CHECKING:

        def now(self) -> str: ...

    def authenticate(self, login: str | None, password: str | None) -> bool:
        """Whether these Basic-auth credentials belong to an API user.

        :param login: the Basic-auth login.
        :param password: the Basic-auth password.
        """
        if login is None or password is None:
            return False
        with self.lock:
            entry = self.users.get(login)
        return entry is not None and entry[0] == password

    def require(self, login: str, permission: str) -> None:
        """Raise a 403 :class:`ApiError` unless the user holds ``permission``.

        :param login: an authenticated user's login.
        :param permission: the API method, e.g. ``"records.delete"``.
        """
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
        """``GET outbounds/:id/statuses``.

        :param campaign_id: the five-character campaign id.
        """
        with self.lock:
            return [dict(s) for s in self._api_campaign(campaign_id).statuses]

    def api_agents(self, campaign_id: str) -> list[dict[str, Any]]:
        """``GET outbounds/:id/agents``.

        :param campaign_id: the five-character campaign id.
        """
        with self.lock:
            return self._agents_json(self._api_campaign(campaign_id))

    def api_page(self, campaign_id: str, limit: int, offset: int, wanted: RecordFilter | None = None) -> dict[str, Any]:
        """``GET outbounds/:id/records``: one page of the matching records and their total count.

        :param campaign_id: the five-character campaign id.
        :param limit: the page's size.
        :param offset: how many matching records come before the page.
        :param wanted: the filters (default: none).
        """
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

        :param campaign_id: the five-character campaign id.
        :param phones: the numbers, as the query string gives them.
        :param additional: also match additional numbers.
        :param dry_run: compute the answer without changing anything.
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

        :param campaign_id: the five-character campaign id.
        :param body: the request's JSON body.
        :param additional: also match additional numbers.
        :param dry_run: compute the answer without changing anything.
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

        :param campaign_id: the five-character campaign id.
        :param body: the request's JSON body.
        :param dry_run: compute the answer without changing anything.
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
                as_optional_int(item["dictionary_status_id"])
            except ValueError:
                return "Invalid dictionary_status_id.", None
        if "agent_login" in item:
            agent = item["agent_login"]
            if agent is not None and (
                not isinstance(agent, str) or agent not in campaign.agents or agent not in self.agents
            ):
                return MSG_AGENT_NOT_FOUND, None
        if item.get("next_call_date") is not None and not is_valid_date(item["next_call_date"]):
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
                order = as_optional_int(item["order"])
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

    def _api_campaign(self, campaign_id: str) -> Campaign:
        campaign = self.campaigns.get(campaign_id)
        if campaign is None:
            raise ApiError(404, MSG_CAMPAIGN_NOT_FOUND)
        return campaign


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
        dictionary_status_id=as_optional_int(item.get("dictionary_status_id")),
        agent_login=item.get("agent_login"),
        next_call_date=item.get("next_call_date"),
        record_fields=dict(item.get("record_fields") or {}),
        identifier=None if identifier is None else str(identifier),
        order=as_optional_int(item.get("order")),
        create_date=created,
    )


def _apply_update(record: Record, item: dict[str, Any]) -> None:
    if "status_id" in item:
        record.status_id = int(str(item["status_id"]).strip())
    if "dictionary_status_id" in item:
        record.dictionary_status_id = as_optional_int(item["dictionary_status_id"])
    if "agent_login" in item:
        record.agent_login = item["agent_login"]
    if "next_call_date" in item:
        record.next_call_date = item["next_call_date"]
    if "record_fields" in item:
        record.record_fields.update(item["record_fields"])
