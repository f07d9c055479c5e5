"""The sandbox's state: users, agents and campaigns, with the set-up helpers tests use.

Everything here is plain Python with no I/O: the HTTP layer in :mod:`.handler` parses requests and
calls :class:`SandboxState`, which answers with JSON-able data or raises :class:`ApiError`. One
re-entrant lock guards the whole state, so the threaded server can call it from any thread. What the
state is made of lives in :mod:`.records`, the seeds in :mod:`.seeds`, what each API endpoint does
in :mod:`.api`; the names earlier versions offered here (``__all__``) are importable from here still.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from .api import (
    ADDABLE_KEYS,
    ALL_PERMISSIONS,
    DEFAULT_PAGE_LIMIT,
    MAX_PAGE_LIMIT,
    MSG_AGENT_NOT_FOUND,
    MSG_BAD_DATE,
    MSG_BAD_PHONE,
    MSG_CAMPAIGN_NOT_FOUND,
    MSG_DUPLICATED,
    MSG_DUPLICATED_ADD,
    MSG_PERMISSION,
    MSG_RECORD_NOT_FOUND,
    MSG_STATUS_NOT_FOUND,
    UPDATABLE_KEYS,
    ApiError,
    ApiSemantics,
    parse_record_filter,
)
from .records import (
    DATE_FORMAT,
    DAY_FORMAT,
    DEFAULT_STATUSES,
    INT_RE,
    RECORD_KEYS,
    SYSTEM_STATUSES,
    Agent,
    Campaign,
    Record,
    RecordFilter,
    as_date,
    as_optional_int,
    checked_statuses,
    default_statuses,
    phone_key,
    statuses_from,
)
from .seeds import (
    DEFAULT_AGENTS,
    DEFAULT_LOGIN,
    DEFAULT_PASSWORD,
    DEMO_CAMPAIGNS,
    FIRST_RECORD_ID,
    LIMITED_LOGIN,
    LIMITED_PASSWORD,
    LIMITED_PERMISSIONS,
    SECOND_CAMPAIGN_STATUSES,
)

# The names other modules and earlier versions import from here.
__all__ = [
    "ADDABLE_KEYS",
    "ALL_PERMISSIONS",
    "DATE_FORMAT",
    "DAY_FORMAT",
    "DEFAULT_AGENTS",
    "DEFAULT_LOGIN",
    "DEFAULT_PAGE_LIMIT",
    "DEFAULT_PASSWORD",
    "DEFAULT_STATUSES",
    "DEMO_CAMPAIGNS",
    "LIMITED_LOGIN",
    "LIMITED_PASSWORD",
    "LIMITED_PERMISSIONS",
    "MAX_PAGE_LIMIT",
    "MSG_AGENT_NOT_FOUND",
    "MSG_BAD_DATE",
    "MSG_BAD_PHONE",
    "MSG_CAMPAIGN_NOT_FOUND",
    "MSG_DUPLICATED",
    "MSG_DUPLICATED_ADD",
    "MSG_PERMISSION",
    "MSG_RECORD_NOT_FOUND",
    "MSG_STATUS_NOT_FOUND",
    "SECOND_CAMPAIGN_STATUSES",
    "SYSTEM_STATUSES",
    "UPDATABLE_KEYS",
    "Agent",
    "ApiError",
    "Campaign",
    "Record",
    "RecordFilter",
    "SandboxState",
    "default_statuses",
    "parse_record_filter",
    "statuses_from",
]

_FREEZE_THRESHOLD = 10_000


class SandboxState(ApiSemantics):
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
        self._next_record_id = FIRST_RECORD_ID
        self._clock: Callable[[], datetime] = datetime.now
        #: Whether ``GET outbounds/:id/records`` shows ``record_fields``: the vendor's documented answer
        #: does not (docs/thulium-api.md, "Paged records"); a setting, so both answers can be served.
        self.show_record_fields = True
        self.reset(seed)

    # ----------------------------------------------------------------- set-up helpers

    def reset(self, seed: str = "demo") -> None:
        """Forget everything and start again from the default users and agents plus ``seed``.

        The clock is left as it is (see :meth:`set_clock`).

        :param seed: ``"demo"`` (the demo campaigns) or ``"empty"`` (users and agents only).
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
            self._next_record_id = FIRST_RECORD_ID
            if seed == "demo":
                self.seed_demo()

    def seed_demo(self) -> None:
        """Add the demo campaigns ``00001`` and ``00002`` (:data:`DEMO_CAMPAIGNS`).

        Campaign ``00001`` holds 12 records from 48500100200 on, including two records sharing
        48500100201, a record 48500100202 with the additional number 48500100299, a record
        48500100203 whose call is in progress, and 48500100205 assigned to ``j.doe``
        (``MY_RECORD``). Campaign ``00002`` holds three records, one of them sharing 48500100200
        with the first campaign so that tests can see the campaigns are kept apart. The docs' sandbox
        reference lists all of it (``python -m airflow_provider_thulium.sandbox --describe``).
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

        :param campaign_id: the five-character campaign id.
        :param name: the campaign's name.
        :param fields: the names of its record fields.
        :param statuses: its statuses, as dicts with ``status_id``, ``system_status``, ``name`` and optionally
            ``dictionary_status_id``.
        :param agents: its agents: logins, or login → active in the campaign.
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
                statuses=checked_statuses(statuses) if statuses is not None else default_statuses(),
                agents=members,
            )
            self.campaigns[campaign_id] = campaign
            return campaign

    def delete_campaign(self, campaign_id: str) -> None:
        """Delete a campaign (``KeyError`` if there is none).

        :param campaign_id: the five-character campaign id.
        """
        with self.lock:
            del self.campaigns[campaign_id]

    def add_records(self, campaign_id: str, records: Iterable[dict[str, Any] | Record]) -> list[int]:
        """Add records given as dicts (keys as in :class:`Record`) or :class:`Record` objects.

        Records without a positive ``record_id`` get the next free one; dicts without a
        ``status_id`` get the campaign's first ``TO_CALL`` status, without a ``create_date`` the
        clock's time. Duplicated numbers are allowed on purpose: the API's handling of them is
        part of what tests exercise. Returns the ids of the added records.

        :param campaign_id: the five-character campaign id.
        :param records: dicts with the keys of :class:`Record`, or :class:`Record` objects.
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

        :param campaign_id: the five-character campaign id.
        :param phones: one main number per record.
        :param status_id: every record's status id.
        :param create_date: every record's creation date (a datetime or ``YYYY-MM-DD hh:mm``).
        :param call_date: every record's last call date.
        """
        created = self.now() if create_date is None else as_date(create_date, "create_date")
        called = None if call_date is None else as_date(call_date, "call_date")
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
        """Change a user's password (``KeyError`` for an unknown user), e.g. to simulate rotation.

        :param login: the user's login.
        :param new_password: the password from now on.
        """
        with self.lock:
            _, permissions = self.users[login]
            self.users[login] = (new_password, permissions)

    def add_user(self, login: str, password: str, permissions: Iterable[str] | None = None) -> None:
        """Add or replace an API user; ``permissions=None`` grants all of them.

        :param login: the user's login.
        :param password: the user's password.
        :param permissions: the API methods it may call (e.g. ``"records.delete"``); ``None`` for all.
        """
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

        :param login: the agent's login.
        :param name: the agent's name.
        :param number: the agent's phone extension.
        :param agent_id: the agent's id.
        :param active: whether the agent is active in the account.
        :param campaigns: the campaigns to put the agent on (default: all).
        :param active_in_outbound: whether the agent is active in those campaigns.
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
        """Add a status to a campaign; returns its id (default: one above the highest).

        :param campaign_id: the five-character campaign id.
        :param system_status: its system status (``"NO_CALL"``, ``"MY_RECORD"``, ...).
        :param name: its name as Thulium shows it.
        :param status_id: its id (default: one above the highest).
        :param dictionary_status_id: its dictionary status id, if any.
        """
        if system_status not in SYSTEM_STATUSES:
            raise ValueError(f"unknown system status {system_status!r}: use one of {SYSTEM_STATUSES}")
        with self.lock:
            campaign = self._campaign(campaign_id)
            if status_id is None:
                status_id = max((int(s["status_id"]) for s in campaign.statuses), default=0) + 1
            sid = str(status_id)
            if not INT_RE.fullmatch(sid) or campaign.status(sid) is not None:
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

        :param campaign_id: the five-character campaign id.
        :param phone: the main number.
        :param in_call: whether a call starts (``True``) or ends.
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

        :param campaign_id: the five-character campaign id.
        :param record_id: the record's id.
        :param changes: the fields to set, by the names of :class:`Record` (not the numbers or the id).
        """
        fixed = {"record_id", "phone_number", "additional_numbers"}
        unknown = set(changes) - (RECORD_KEYS - fixed)
        if unknown:
            raise ValueError(f"cannot set {sorted(unknown)} (settable: {sorted(RECORD_KEYS - fixed)})")
        with self.lock:
            campaign = self._campaign(campaign_id)
            record = campaign.records.get(record_id)
            if record is None:
                raise KeyError(f"no record {record_id} in campaign {campaign_id!r}")
            for key in ("create_date", "call_date", "next_call_date"):
                if changes.get(key) is not None:
                    changes[key] = as_date(changes[key], key)
            for key, value in changes.items():
                setattr(record, key, value)
            campaign.version += 1
            return record.to_json()

    def set_clock(self, now: datetime | str | None) -> None:
        """Freeze the clock that dates added records (``None``: follow the machine's local time).

        :param now: a datetime or ``YYYY-MM-DD hh:mm``; ``None`` unfreezes.
        """
        if now is None:
            clock: Callable[[], datetime] = datetime.now
        else:
            frozen = datetime.strptime(as_date(now, "now"), DATE_FORMAT)

            def clock() -> datetime:
                return frozen

        with self.lock:
            self._clock = clock

    def now(self) -> str:
        """The clock's time as ``YYYY-MM-DD hh:mm`` (the machine's local time unless frozen)."""
        return self._clock().strftime(DATE_FORMAT)

    def records(self, campaign_id: str) -> list[dict[str, Any]]:
        """All records of a campaign, in the order they were added.

        :param campaign_id: the five-character campaign id.
        """
        with self.lock:
            return [r.to_json() for r in self._campaign(campaign_id).records.values()]

    def record(self, campaign_id: str, record_id: int) -> dict[str, Any]:
        """One record (``KeyError`` when there is none).

        :param campaign_id: the five-character campaign id.
        :param record_id: the record's id.
        """
        with self.lock:
            record = self._campaign(campaign_id).records.get(record_id)
            if record is None:
                raise KeyError(f"no record {record_id} in campaign {campaign_id!r}")
            return record.to_json()

    def find(self, campaign_id: str, phone: str, additional: bool = False) -> list[dict[str, Any]]:
        """Records of a campaign with this main number (and additional number, if asked).

        :param campaign_id: the five-character campaign id.
        :param phone: the number.
        :param additional: also match additional numbers.
        """
        with self.lock:
            return [r.to_json() for r in self._campaign(campaign_id).match(phone, additional)]

    def in_call(self, campaign_id: str) -> list[dict[str, Any]]:
        """The records of a campaign whose call is in progress.

        :param campaign_id: the five-character campaign id.
        """
        with self.lock:
            return [r.to_json() for r in self._campaign(campaign_id).records.values() if r.in_call]

    def statuses(self, campaign_id: str) -> list[dict[str, Any]]:
        """A campaign's statuses, as ``GET outbounds/:id/statuses`` answers them.

        :param campaign_id: the five-character campaign id.
        """
        with self.lock:
            return [dict(s) for s in self._campaign(campaign_id).statuses]

    def campaign_agents(self, campaign_id: str) -> list[dict[str, Any]]:
        """A campaign's agents, as ``GET outbounds/:id/agents`` answers them.

        :param campaign_id: the five-character campaign id.
        """
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

    def _campaign(self, campaign_id: str) -> Campaign:
        try:
            return self.campaigns[campaign_id]
        except KeyError:
            raise KeyError(f"no campaign {campaign_id!r}") from None

    def _take_id(self) -> int:
        rid = self._next_record_id
        self._next_record_id += 1
        return rid

    def _record_from_dict(self, campaign: Campaign, data: dict[str, Any]) -> Record:
        unknown = set(data) - RECORD_KEYS
        if unknown:
            raise ValueError(f"unknown record keys: {sorted(unknown)}")
        phone = phone_key(data.get("phone_number"))
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
            dictionary_status_id=as_optional_int(data.get("dictionary_status_id")),
            agent_login=data.get("agent_login"),
            next_call_date=data.get("next_call_date"),
            record_fields=dict(data.get("record_fields") or {}),
            in_call=bool(data.get("in_call", False)),
            identifier=None if identifier is None else str(identifier),
            order=None if order is None else int(order),
            create_date=as_date(data.get("create_date") or self.now(), "create_date"),
            call_date=None if call_date is None else as_date(call_date, "call_date"),
            last_note=str(data.get("last_note") or ""),
        )
