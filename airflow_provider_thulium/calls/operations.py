"""The records calls as values: what each one sends, how its answer reads, which outcomes succeed.

Everything that differs between deleting and editing records is declared here; batching, the
stream, the results and the operators are shared and never branch on the call's name. A new
call is a new :class:`Operation` subclass.
"""

from __future__ import annotations

import operator
from collections.abc import Collection, Iterator
from itertools import repeat
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from airflow_provider_thulium.calls.batching import Batch, body_batches, query_batches
from airflow_provider_thulium.checks.agents import AGENT_FIELD
from airflow_provider_thulium.checks.numbering import PhoneNumbering
from airflow_provider_thulium.checks.phones import phone_sender
from airflow_provider_thulium.checks.records import parse_phone_numbers, parse_records
from airflow_provider_thulium.checks.spec import ADD_RECORDS, STATUS_NAME_FIELD, UPDATE_RECORDS, RecordSpec
from airflow_provider_thulium.outcomes import (
    ADD_FAILED,
    ADDED,
    ALREADY_EXISTS,
    CLIENT_STATUSES,
    CONTRADICTORY_ANSWER,
    NO_ANSWER,
    NOT_EXIST,
    REMOVED,
    UPDATE_FAILED,
    UPDATED,
)
from airflow_provider_thulium.settings import ThuliumSettings
from airflow_provider_thulium.sources.readers import Source
from airflow_provider_thulium.sources.spool import Spool


class Operation:
    """One records call of ``batch/outbounds/:id/records``.

    :cvar name: the call's name in logs and in the summary (``"delete"``, ``"update"``).
    :cvar method: its HTTP method.
    :cvar succeeded: outcomes that are a success.
    :cvar already_done: outcomes meaning "nothing to do, already as wanted" (e.g. ``NOT_EXIST`` for
        a delete): a success unless the caller asks for them to count as failures.
    """

    name: ClassVar[str]
    method: ClassVar[str]
    succeeded: ClassVar[frozenset[str]]
    already_done: ClassVar[frozenset[str]] = frozenset()
    #: Whether records may name their status (``"status": "Not interested"``) instead of giving its id.
    takes_status_names: ClassVar[bool] = False
    #: Whether a run where most phones are ``already_done`` deserves a warning (a delete whose numbers
    #: are mostly NOT_EXIST was likely given them in another form; an add re-run is normal).
    warns_when_mostly_already_done: ClassVar[bool] = False
    #: Whether an ``already_done`` answer to a retry after a lost answer is marked and counts as a
    #: success whatever the caller chose (an add: the record may be this run's own; see RecordResults).
    marks_lost_answers: ClassVar[bool] = False

    def names_statuses(self, items: Collection[Any]) -> bool:
        """Whether any item names its status, so the campaign's statuses must be read first."""
        if not self.takes_status_names:
            return False
        if isinstance(items, Spool):
            return STATUS_NAME_FIELD in items.keys
        return any(map(operator.contains, items, repeat(STATUS_NAME_FIELD)))

    def names_agents(self, items: Collection[Any]) -> bool:
        """Whether any item assigns an agent, so the campaign's agents must be read first."""
        return False

    def success_outcomes(self, already_done_is_success: bool = True) -> frozenset[str]:
        """The outcomes that count as a success under the caller's choice about ``already_done``."""
        return self.succeeded | self.already_done if already_done_is_success else self.succeeded

    def parse(
        self, raw: object, account_tz: ZoneInfo, numbering: PhoneNumbering | None = None
    ) -> tuple[Collection[str], Collection[Any]]:
        """Check the caller's input in full; return its phones (each once, in order) and the items to send.

        A :class:`~airflow_provider_thulium.sources.readers.Source` is read once into a spool: both are then
        read from it when iterated. With ``numbering`` (``phone_region``), phones are read by the
        region's plan and spelled as sent.
        """
        raise NotImplementedError

    def batches(
        self, items: Collection[Any], *, path: str, flags: str, settings: ThuliumSettings, base_path: str
    ) -> Iterator[Batch]:
        """The requests for ``items``.

        :param path: the call's path below the API root.
        :param flags: the query's other parameters (percent-encoded, e.g. ``search_in_additional_numbers=true``).
        :param base_path: the API root's path (``/api/``), which counts in the request line.
        """
        raise NotImplementedError

    def client_entry(self, status: str, message: str) -> Any:
        """A result made by the client, for a phone Thulium gave no answer about."""
        raise NotImplementedError

    def read(self, value: Any) -> tuple[Any, str]:
        """One phone's value in Thulium's answer → its entry in the call's shape, and its outcome."""
        raise NotImplementedError

    def read_uniform(self, values: Collection[Any]) -> str | None:
        """The one outcome of ``values`` (a batch's answers) when each reads as itself with that outcome, else ``None``.

        Lets a batch whose answers are all the common success (a whole batch of ``{"http_status": 204}``)
        be recorded by set operations in C rather than a :meth:`read` per phone. ``None`` means: read
        each value.
        """
        return None

    def outcome(self, entry: Any) -> str:
        """Name one phone's outcome from its entry."""
        raise NotImplementedError

    def merge(self, previous: Any, entry: Any) -> Any:
        """The entry of a phone sent again in the same run (calls in progress), given its earlier one."""
        return entry

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class DeleteRecords(Operation):
    """``DELETE batch/outbounds/:id/records``: phone numbers in the query; a list of results per phone."""

    name = "delete"
    method = "DELETE"
    succeeded = frozenset({REMOVED})
    already_done = frozenset({NOT_EXIST})
    warns_when_mostly_already_done = True

    def parse(
        self, raw: object, account_tz: ZoneInfo, numbering: PhoneNumbering | None = None
    ) -> tuple[Collection[str], Collection[Any]]:
        if isinstance(raw, Source):
            return raw.read_phones(numbering)
        phones = parse_phone_numbers(raw, numbering=numbering)
        return phones, phones

    def batches(
        self, items: Collection[Any], *, path: str, flags: str, settings: ThuliumSettings, base_path: str
    ) -> Iterator[Batch]:
        # Every number goes in the query string (docs/thulium-api.md, "DELETE"), so the request line
        # "DELETE /api/<path>?<query> HTTP/1.1" must stay under the proxy limit.
        fixed_query = f"{flags}&" if flags else ""
        return query_batches(
            items,
            fixed_query=fixed_query,
            fixed_line_bytes=len(f"DELETE {base_path}{path}?{fixed_query} HTTP/1.1"),
            max_line_bytes=settings.max_request_line_bytes,
            max_batch_size=settings.max_batch_size,
            send_as=phone_sender(settings.phone_format),
        )

    def client_entry(self, status: str, message: str) -> Any:
        return [{"http_status": None, "status": status, "message": message}]

    def read(self, value: Any) -> tuple[Any, str]:
        # Documented: a list of objects, one per record found. A lone object is wrapped so
        # downstream code can rely on the shape.
        if isinstance(value, dict):
            entry: Any = [value]
        elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            entry = value
        else:
            entry = self.client_entry(NO_ANSWER, f"unreadable answer for this phone: {type(value).__name__}")
        return entry, self.outcome(entry)

    def outcome(self, entry: Any) -> str:
        for item in entry:
            status = item.get("status") if isinstance(item, dict) else None
            if status != REMOVED:
                if isinstance(status, str) and status:
                    return status
                return f"HTTP_{_scalar(item.get('http_status') if isinstance(item, dict) else None)}"
        return REMOVED if entry else NO_ANSWER

    def merge(self, previous: Any, entry: Any) -> Any:
        # Records removed by an earlier try stay removed, and the repeat's NOT_EXIST for them is no news.
        removed = [item for item in previous if item.get("status") == REMOVED]
        return removed + [item for item in entry if item.get("status") != NOT_EXIST] if removed else entry


class _ObjectPerPhone(Operation):
    """Calls with records in a JSON body, answered with one object per phone."""

    def batches(
        self, items: Collection[Any], *, path: str, flags: str, settings: ThuliumSettings, base_path: str
    ) -> Iterator[Batch]:
        return body_batches(
            items, query=flags, max_batch_size=settings.max_batch_size, send_as=phone_sender(settings.phone_format)
        )

    def client_entry(self, status: str, message: str) -> Any:
        return {"http_status": None, "status": status, "message": message}

    def read(self, value: Any) -> tuple[Any, str]:
        if type(value) is dict:
            return value, self.outcome(value)
        # Undocumented shapes, each given one object so downstream code can rely on it.
        if isinstance(value, dict):
            entry: Any = value
        elif isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
            entry = value[0]
        elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            codes = [item.get("http_status") for item in value]
            worst = max((code for code in codes if isinstance(code, int)), default=None)
            entry = {"http_status": worst, "results": value}
        else:
            entry = self.client_entry(NO_ANSWER, f"unreadable answer for this phone: {type(value).__name__}")
        return entry, self.outcome(entry)


class _Records(_ObjectPerPhone):
    """Calls whose input is records (checked against ``spec``), answered with one object per phone."""

    spec: ClassVar[RecordSpec]
    takes_status_names = True

    def names_agents(self, items: Collection[Any]) -> bool:
        if isinstance(items, Spool):
            return AGENT_FIELD in items.keys
        return any(map(operator.contains, items, repeat(AGENT_FIELD)))

    def parse(
        self, raw: object, account_tz: ZoneInfo, numbering: PhoneNumbering | None = None
    ) -> tuple[Collection[str], Collection[Any]]:
        if isinstance(raw, Source):
            return raw.read_records(self.spec, account_tz, numbering)
        records = parse_records(raw, account_tz, spec=self.spec, numbering=numbering)
        return [record["phone_number"] for record in records], records


class UpdateRecords(_Records):
    """``PUT batch/outbounds/:id/records``: records in the body; ``{"http_status": 204}`` per phone on success."""

    name = "update"
    method = "PUT"
    succeeded = frozenset({UPDATED})
    spec = UPDATE_RECORDS

    def read(self, value: Any) -> tuple[Any, str]:
        # The documented shape, by far the common case, without the general path: 100,000 phones
        # make each call count.
        if type(value) is dict:
            code = value.get("http_status")
            if type(code) is int:
                return value, UPDATED if 200 <= code < 300 else f"HTTP_{code}"
        return super().read(value)

    def read_uniform(self, values: Collection[Any]) -> str | None:
        if set(map(type, values)) == {dict} and _all_2xx(list(map(dict.get, values, repeat("http_status")))):
            return UPDATED
        return None

    def outcome(self, entry: Any) -> str:
        code = entry.get("http_status")
        if type(code) is int:
            return UPDATED if 200 <= code < 300 else f"HTTP_{code}"
        status = entry.get("status")
        if code is None and isinstance(status, str) and status in CLIENT_STATUSES:
            return status
        return f"HTTP_{_scalar(code)}"


def _all_2xx(codes: list[Any]) -> bool:
    """Whether every one of ``codes`` is an int (not a bool) from 200 to 299; decided in C."""
    return set(map(type, codes)) == {int} and min(codes) >= 200 and max(codes) < 300


def _scalar(value: Any) -> Any:
    """A value from the server fit to name an outcome: a scalar as it is, a list or object by its type.

    (The server may send any JSON; ``str()`` of a deeply nested list raises ``RecursionError``.)
    """
    return value if value is None or isinstance(value, (str, int, float)) else type(value).__name__


class AddRecords(_Records):
    """``POST batch/outbounds/:id/records``: records in the body; ``ADDED``, ``ALREADY_EXISTS`` or ``FAILED`` per phone.

    The answer's shape is inferred (docs/thulium-api.md, "POST"): one object per phone; a list per
    phone is read too. A phone whose record existed and was then edited (an upsert) is ``UPDATED``
    or ``UPDATE_FAILED``.
    """

    name = "add"
    method = "POST"
    succeeded = frozenset({ADDED, UPDATED})
    already_done = frozenset({ALREADY_EXISTS})
    marks_lost_answers = True
    spec = ADD_RECORDS
    _STATUSES = frozenset({ADDED, ALREADY_EXISTS, ADD_FAILED, UPDATED, UPDATE_FAILED}) | CLIENT_STATUSES

    def read(self, value: Any) -> tuple[Any, str]:
        if type(value) is dict:  # the inferred shape, by far the common case
            status = value.get("status")
            if isinstance(status, str) and status in self._STATUSES:
                code = value.get("http_status")
                if status == ADDED and code is not None and not (type(code) is int and 200 <= code < 300):
                    return self._contradiction(value, f"status ADDED with http_status {_scalar(code)}")
                return value, status
        elif isinstance(value, list) and len(value) > 1 and all(isinstance(item, dict) for item in value):
            # Several objects for one phone: the first that is not ADDED speaks for the phone, and
            # every record id is kept (the edit of an upsert replaces the entry, not these).
            speaking = next((item for item in value if item.get("status") != ADDED), value[0])
            codes = [item.get("http_status") for item in value if isinstance(item.get("http_status"), int)]
            entry = {"http_status": max(codes, default=None), "status": speaking.get("status"), "results": value}
            record_ids = [item["record_id"] for item in value if item.get("record_id") is not None]
            if speaking.get("record_id") is not None:
                entry["record_id"] = speaking["record_id"]
            if record_ids:
                entry["record_ids"] = record_ids
            return entry, self.outcome(entry)
        return super().read(value)

    def read_uniform(self, values: Collection[Any]) -> str | None:
        if set(map(type, values)) != {dict}:
            return None
        statuses = list(map(dict.get, values, repeat("status")))
        if set(map(type, statuses)) != {str} or set(statuses) != {ADDED}:
            return None
        codes = list(map(dict.get, values, repeat("http_status")))
        return ADDED if set(map(type, codes)) == {type(None)} or _all_2xx(codes) else None

    def _contradiction(self, value: dict[str, Any], why: str) -> tuple[Any, str]:
        code = value.get("http_status")
        entry = {
            "http_status": code if type(code) is int else None,
            "status": CONTRADICTORY_ANSWER,
            "message": f"Thulium's answer for this phone contradicts itself: {why}",
            "results": [value],
        }
        if value.get("record_id") is not None:
            entry["record_id"] = value["record_id"]
        return entry, CONTRADICTORY_ANSWER

    def outcome(self, entry: Any) -> str:
        status = entry.get("status")
        if isinstance(status, str) and status in self._STATUSES:
            return status
        code = entry.get("http_status")
        if status is None and type(code) is int and 200 <= code < 300:
            return ADDED
        return status if isinstance(status, str) and status else f"HTTP_{_scalar(code)}"


class EditExistingRecords(UpdateRecords):
    """The edits of an upsert: records an add found already there, edited with ``PUT``.

    Each answer is marked ``UPDATED`` or ``UPDATE_FAILED`` so the add's results say it was an update.
    """

    def read_uniform(self, values: Collection[Any]) -> str | None:
        return None  # every entry is marked: read one by one

    def read(self, value: Any) -> tuple[Any, str]:
        entry, name = super().read(value)
        if name in CLIENT_STATUSES:
            return entry, name
        marked = {**entry, "status": UPDATED if name == UPDATED else UPDATE_FAILED}
        return marked, str(marked["status"])


DELETE = DeleteRecords()
UPDATE = UpdateRecords()
ADD = AddRecords()
EDIT_EXISTING = EditExistingRecords()
