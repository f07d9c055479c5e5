"""ThuliumClient: the Thulium API as Python calls, without Airflow.

It owns the transport (session, retries, error mapping), the records calls with their batching
and streaming, and runs them under one outcome policy. :class:`~airflow_provider_thulium.hooks.thulium.ThuliumHook`
builds one from an Airflow connection; scripts and tests can build one directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from airflow_provider_thulium.calls.batching import BatchResult
from airflow_provider_thulium.calls.operations import ADD, DELETE, EDIT_EXISTING, UPDATE, Operation
from airflow_provider_thulium.calls.sending import OnSend, stream_batches
from airflow_provider_thulium.checks.agents import CampaignAgent, check_agent_logins, read_agents
from airflow_provider_thulium.checks.options import parse_max_removals, parse_update_fields
from airflow_provider_thulium.checks.phones import phone_sender, spelling_difference
from airflow_provider_thulium.checks.records import (
    normalize_campaign_id,
    parse_flag,
    resolve_timezone,
)
from airflow_provider_thulium.checks.statuses import CampaignStatus, read_statuses, resolve_status_names
from airflow_provider_thulium.exceptions import ThuliumError, ThuliumPermissionError, ThuliumResponseError
from airflow_provider_thulium.outcomes import AddResults, DeleteResults, UpdateResults
from airflow_provider_thulium.privacy import safe_server_text
from airflow_provider_thulium.reading.campaign import CampaignRead, concurrent_pages, read_pages
from airflow_provider_thulium.reading.pages import PAGE_SIZE, RecordFilter, read_page, record_key
from airflow_provider_thulium.results.results_file import ResultsFile
from airflow_provider_thulium.runs.records_run import OutcomePolicy, RecordsRun
from airflow_provider_thulium.settings import ThuliumSettings, api_base_url
from airflow_provider_thulium.sources.readers import Source
from airflow_provider_thulium.sources.spool import Spool, SpooledPhones
from airflow_provider_thulium.sync.plan import (
    DEFAULT_MAX_REMOVALS,
    DEFAULT_UPDATE_FIELDS,
    SyncPlan,
    SyncRun,
    build_plan,
    check_guard,
)
from airflow_provider_thulium.sync.state import SyncState
from airflow_provider_thulium.transport.session import Transport


class ThuliumClient:
    """Calls on one Thulium account.

    :param base_url: the account's API root, ending in ``/api/`` (see :meth:`for_host`).
    :param login: the API user's login.
    :param password: the API user's password.
    :param settings: transport settings (default: :class:`ThuliumSettings` defaults).
    :param source: names the configuration in error messages.
    :param log: where progress, retries and per-batch lines are logged.
    """

    def __init__(
        self,
        base_url: str,
        login: str | None,
        password: str | None,
        settings: ThuliumSettings | None = None,
        *,
        source: str = "The Thulium client",
        log: logging.Logger | Any = None,
    ) -> None:
        self.settings = settings or ThuliumSettings()
        self.log = log or logging.getLogger(__name__)
        self.transport = Transport(base_url, login, password, self.settings, source=source, log=self.log)

    @classmethod
    def for_host(
        cls,
        host: str,
        login: str | None,
        password: str | None,
        settings: ThuliumSettings | None = None,
        *,
        port: int | None = None,
        source: str = "The Thulium client",
        log: logging.Logger | Any = None,
    ) -> ThuliumClient:
        """A client for an account address as users write it (``acme.thulium.com``, a URL, with or without ``/api``).

        :param host: the account's address: a host name (https assumed) or a URL.
        :param login: the API user's login.
        :param password: the API user's password.
        :param settings: transport settings (default: :class:`ThuliumSettings` defaults).
        :param port: a port, when the host does not carry one.
        :param source: names the configuration in error messages.
        :param log: where progress, retries and per-batch lines are logged.
        """
        settings = settings or ThuliumSettings()
        base_url = api_base_url(host, port, allow_http=settings.allow_http, source=source)
        return cls(base_url, login, password, settings, source=source, log=log)

    @property
    def base_url(self) -> str:
        """The account's API root, ending in ``/api/``."""
        return self.transport.base_url

    @cached_property
    def account_timezone(self) -> ZoneInfo:
        """The account's time zone (``timezone`` setting), used for aware ``next_call_date`` values."""
        return resolve_timezone(self.settings.timezone)

    def close(self) -> None:
        """Close the session's pooled connections."""
        self.transport.close()

    # -- reads --

    def list_campaigns(self) -> list[dict[str, Any]]:
        """Return the account's outbound campaigns (``GET outbounds``)."""
        answer = self.transport.request("GET", "outbounds", description="GET outbounds")
        if not isinstance(answer.payload, list):
            raise ThuliumResponseError("GET outbounds answered something other than a list of campaigns")
        return answer.payload

    def get_statuses(self, campaign_id: str | int) -> list[CampaignStatus]:
        """Return the campaign's statuses (``GET outbounds/:id/statuses``), ``status_id`` as an int.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        """
        return self._campaign_list(campaign_id, "statuses", read_statuses)

    def get_agents(self, campaign_id: str | int) -> list[CampaignAgent]:
        """Return the campaign's agents (``GET outbounds/:id/agents``): login, and whether active in the campaign.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        """
        return self._campaign_list(campaign_id, "agents", read_agents)

    def _campaign_list(self, campaign_id: str | int, what: str, read: Callable[[Any, str], Any]) -> Any:
        """``GET outbounds/:id/<what>``, its answer checked by ``read`` (which names the request in errors)."""
        campaign = normalize_campaign_id(campaign_id)
        description = f"GET outbounds/{campaign}/{what}"
        answer = self.transport.request("GET", f"outbounds/{campaign}/{what}", description=description)
        return read(answer.payload, description)

    def iter_records(self, campaign_id: str | int, **filters: Any) -> Iterator[dict[str, Any]]:
        """Yield the campaign's records page by page (``GET outbounds/:id/records``); see :class:`RecordFilter`.

        Memory is bounded by one page. A record already yielded in this pass (same ``record_id``,
        or same content without one) is not yielded again; when the total changed while paging, a
        warning says so (docs/thulium-api.md, "Paged records"). The read always ends: at the
        ``count``, or at an empty page when the server gives no usable ``count``; a page that brings
        no new record, or an empty one while its ``count`` says more are left, is a
        :class:`ThuliumResponseError` naming what the server did.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param filters: the filters of :meth:`ThuliumHook.iter_records`.
        """
        campaign = normalize_campaign_id(campaign_id)
        # Checked here, not at the first next(): a bad filter fails where the call is made.
        return self._pages(campaign, RecordFilter.from_arguments(**filters).query())

    def _pages(self, campaign: str, query: str, read: CampaignRead | None = None) -> Iterator[dict[str, Any]]:
        seen: set[object] = set()
        offset, first_count, count = 0, None, None
        while True:
            count, page = self._records_page(campaign, query, PAGE_SIZE, offset)
            if read is not None:
                read.pages += 1
            if offset == 0:
                first_count = count
                if count is None:
                    self.log.warning(
                        "GET outbounds/%s/records answered no usable count: reading until an empty page", campaign
                    )
            if not page:
                if count is not None and count > offset:
                    raise ThuliumResponseError(
                        f"GET outbounds/{campaign}/records answered an empty page at offset {offset} while counting "
                        f"{count} matching records: the answer contradicts itself; read again"
                    )
                break
            new = 0
            for record in page:
                key = record_key(record)
                if key not in seen:
                    seen.add(key)
                    new += 1
                    yield record
            if not new:
                # Progress is new records: a server that ignores offset would be read for ever.
                raise ThuliumResponseError(
                    f"GET outbounds/{campaign}/records answered only records already read at offset {offset} "
                    f"({len(page)} of them): the server seems to ignore offset, so the read stops here"
                )
            offset += len(page)
            if count is not None and offset >= count:
                break
        if count != first_count and count is not None and first_count is not None:
            self.log.warning(
                "campaign %s changed while its records were read (%d matching records at the first page, %d at the "
                "last): records may have been skipped; read again for a consistent list",
                campaign,
                first_count,
                count,
            )

    def read_campaign(self, campaign_id: str | int) -> CampaignRead:
        """Every record of the campaign, in the order added, with its count from the first page.

        The first page is read at once; the others are read up to ``max_concurrent_requests`` at a
        time and yielded in offset order, so memory is bounded by a few pages. A record a change of the
        campaign moved onto the next page is yielded once (ids are compared with the page before, not
        kept for the whole read: a million of them would cost more than the plan); a count that
        changed while reading is logged as :meth:`iter_records` does.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        """
        campaign = normalize_campaign_id(campaign_id)
        count, first = self._records_page(campaign, "", PAGE_SIZE, 0)
        if count is None or (len(first) < PAGE_SIZE and count > len(first)):
            # No usable count, or short pages: offsets computed ahead would skip records. The
            # sequential read goes on until the end and says what went wrong (see _pages).
            read = CampaignRead(None)  # its first page counted, and each page of the read below
            read.records = self._pages(campaign, "", read)
            return read
        read = CampaignRead(count)
        read.records = concurrent_pages(
            self._records_page, campaign, read, first, self.settings.max_concurrent_requests, self.log
        )
        return read

    def read_records(self, campaign_id: str | int, **filters: Any) -> CampaignRead:
        """The campaign's records matching the filters, read as :meth:`read_campaign` reads every record:
        pages up to ``max_concurrent_requests`` at a time, yielded in order, memory bounded by a few pages.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param filters: the filters of :meth:`ThuliumHook.iter_records`.
        """
        campaign = normalize_campaign_id(campaign_id)
        query = RecordFilter.from_arguments(**filters).query()
        return read_pages(
            self._records_page,
            lambda read: self._pages(campaign, query, read),
            campaign,
            query,
            self.settings.max_concurrent_requests,
            self.log,
        )

    def count_records(self, campaign_id: str | int, **filters: Any) -> int:
        """The number of the campaign's records matching the filters (the ``count`` of one small page).

        Raises :class:`ThuliumResponseError` when the answer holds no usable count (a non-negative
        integer) or contradicts it.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param filters: the filters of :meth:`ThuliumHook.iter_records`.
        """
        campaign = normalize_campaign_id(campaign_id)
        count, page = self._records_page(campaign, RecordFilter.from_arguments(**filters).query(), 1, 0)
        if count is None or (count == 0 and page):
            raise ThuliumResponseError(
                f"GET outbounds/{campaign}/records answered "
                + ("no usable count (a non-negative integer)" if count is None else "count 0 with a record")
            )
        return count

    def _records_page(self, campaign: str, query: str, limit: int, offset: int) -> tuple[int | None, list[Any]]:
        """Read and check one page: its ``count`` (``None`` when unusable, see :func:`page_count`) and records."""
        description = f"GET outbounds/{campaign}/records (offset {offset})"
        answer = self.transport.request(
            "GET",
            f"outbounds/{campaign}/records",
            query=f"limit={limit}&offset={offset}" + (f"&{query}" if query else ""),
            description=description,
        )
        return read_page(answer.payload, description)

    def check_connection(self) -> tuple[bool, str]:
        """Check the address, TLS and credentials with one read-only call (``GET outbounds``).

        Never raises: whatever goes wrong is the ``(False, why)`` answer.
        """
        try:
            self.transport.request("GET", "outbounds", description="GET outbounds", retry=False)
        except ThuliumPermissionError:
            return True, (
                "The credentials work, but this API user may not list campaigns (GET outbounds answered 403); "
                "check its permissions for the record methods you will call."
            )
        except ThuliumError as exc:
            return False, str(exc)
        except Exception as exc:  # a last resort: the connection test must answer, not raise
            return False, f"GET outbounds: unexpected {type(exc).__name__}: {safe_server_text(str(exc))}"
        return True, "Connected to Thulium: the API user can list campaigns."

    # -- records calls --

    def delete_records(
        self,
        campaign_id: str | int,
        phone_numbers: Iterable[str | int] | str | Source,
        search_in_additional_numbers: bool = False,
        policy: OutcomePolicy | None = None,
    ) -> DeleteResults:
        """Remove records by phone number; see :meth:`ThuliumHook.delete_records`.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param phone_numbers: the numbers, as :meth:`ThuliumHook.delete_records` takes them.
        :param search_in_additional_numbers: also match records by their additional numbers.
        :param policy: what counts as success, and the tries of records in a call (default: the defaults).
        """
        return self.run(DELETE, campaign_id, phone_numbers, search_in_additional_numbers, policy)

    def update_records(
        self,
        campaign_id: str | int,
        records: Sequence[dict[str, Any]] | str | Source,
        search_in_additional_numbers: bool = False,
        policy: OutcomePolicy | None = None,
    ) -> UpdateResults:
        """Edit records; see :meth:`ThuliumHook.update_records`.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param records: the records, as :meth:`ThuliumHook.update_records` takes them.
        :param search_in_additional_numbers: also match records by their additional numbers.
        :param policy: what counts as success (default: the defaults).
        """
        return self.run(UPDATE, campaign_id, records, search_in_additional_numbers, policy)

    def add_records(
        self,
        campaign_id: str | int,
        records: Sequence[dict[str, Any]] | str | Source,
        policy: OutcomePolicy | None = None,
    ) -> AddResults:
        """Add records; see :meth:`ThuliumHook.add_records`.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param records: the records, as :meth:`ThuliumHook.add_records` takes them.
        :param policy: what counts as success, and what to do with records already there (default: skip them).
        """
        return self.run(ADD, campaign_id, records, False, policy)

    def plan_sync(
        self,
        campaign_id: str | int,
        records: object,
        *,
        update_fields: object = DEFAULT_UPDATE_FIELDS,
        remove_missing: object = False,
        state_path: Any = None,
    ) -> SyncPlan:
        """Read the campaign once and plan what makes it match ``records``; sends nothing.

        See :meth:`~airflow_provider_thulium.hooks.thulium.ThuliumHook.plan_sync`.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param records: the desired records, as :meth:`add_records` takes them (a source included).
        :param update_fields: the fields the caller owns on records already in the campaign.
        :param remove_missing: plan the removal of the campaign's records whose phone is not in ``records``.
        :param state_path: the fingerprints file of earlier syncs, or ``None``.
        """
        owned = parse_update_fields(update_fields)
        remove = parse_flag(remove_missing, "remove_missing")
        call = self.check(ADD, campaign_id, records, False)
        state = None if state_path is None else SyncState.load(state_path, call.campaign_id)
        read = self.read_campaign(call.campaign_id)
        plan = build_plan(
            call.campaign_id, call.items, owned, read.count, read.records, remove_missing=remove, state=state
        )
        plan.read_requests = read.pages
        self.log.info("sync plan for campaign %s: %s", call.campaign_id, plan.describe())
        for note in plan.notes:
            self.log.warning("%s", note)
        return plan

    def start_sync(self, plan: SyncPlan, policy: OutcomePolicy | None = None) -> SyncRun:
        """A run of a plan's changes under ``policy``; nothing is sent until it applies.

        :param plan: the plan, from :meth:`plan_sync`.
        :param policy: what counts as success (default: the defaults).
        """
        policy = policy or OutcomePolicy()

        def start(operation: Operation, phones: list[str], items: list[Any]) -> RecordsRun:
            return self.start_run(CheckedCall(operation, plan.campaign_id, phones, items, False), policy)

        return SyncRun(plan, start, policy, self.log)

    def sync_campaign(
        self,
        campaign_id: str | int,
        records: object,
        *,
        update_fields: object = DEFAULT_UPDATE_FIELDS,
        remove_missing: object = False,
        max_removals: object = DEFAULT_MAX_REMOVALS,
        dry_run: object = False,
        state_path: Any = None,
        policy: OutcomePolicy | None = None,
    ) -> dict[str, Any]:
        """Plan, check the guard, and apply the changes; see :meth:`ThuliumHook.sync_campaign`.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param records: the desired records, as :meth:`add_records` takes them (a source included).
        :param update_fields: the fields the caller owns on records already in the campaign.
        :param remove_missing: remove the campaign's records whose phone is not in ``records``.
        :param max_removals: the most phones the plan may remove (each with all its records): an int, or a
            float below 1 as a fraction of the campaign's records.
        :param dry_run: return the plan's entries and send nothing that writes.
        :param state_path: the fingerprints file of earlier syncs, or ``None``.
        :param policy: what counts as success (default: the defaults).
        """
        limit = parse_max_removals(max_removals)
        dry = parse_flag(dry_run, "dry_run")
        plan = self.plan_sync(
            campaign_id, records, update_fields=update_fields, remove_missing=remove_missing, state_path=state_path
        )
        check_guard(plan, limit)
        if dry:
            return plan.entries()
        run = self.start_sync(plan, policy)
        run.apply()
        entries, _, error = run.conclude()
        if error is not None:
            raise error
        return entries

    def run(
        self,
        operation: Operation,
        campaign_id: str | int,
        raw_input: object,
        search_in_additional_numbers: object = False,
        policy: OutcomePolicy | None = None,
    ) -> Any:
        """Check the input in full, send it, and return every phone's result or raise (see :class:`RecordsRun`).

        :param operation: the call (``operations.DELETE``, ``UPDATE`` or ``ADD``).
        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param raw_input: the phone numbers or records, in any form the operation reads.
        :param search_in_additional_numbers: the flag, as a bool or its text.
        :param policy: what counts as success (default: the defaults).
        """
        call = self.check(operation, campaign_id, raw_input, search_in_additional_numbers)
        return self.start_run(call, policy).run(call.items)

    def check(
        self, operation: Operation, campaign_id: str | int, raw_input: object, search_in_additional_numbers: object
    ) -> CheckedCall:
        """Check everything a call needs first: a ``ThuliumValidationError`` names a problem of the input,
        a ``ThuliumConfigurationError`` one of the connection (no login or password, a missing CA bundle).

        :param operation: the call (``operations.DELETE``, ``UPDATE`` or ``ADD``).
        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param raw_input: the phone numbers or records, in any form the operation reads.
        :param search_in_additional_numbers: the flag, as a bool or its text.
        """
        campaign = normalize_campaign_id(campaign_id)
        search = parse_flag(search_in_additional_numbers, "search_in_additional_numbers")
        phones, items = operation.parse(raw_input, self.account_timezone)
        # Credentials, CA bundles and the like too, so a run never stops at them before sending anything.
        self.transport.prepare()
        if operation.names_statuses(items):
            # Only input that names statuses costs this read: an API user may lack its permission.
            statuses = self._statuses_for_names(campaign)
            if isinstance(items, Spool) and isinstance(raw_input, Source):
                source = raw_input
                items = items.map_chunks(
                    lambda chunk, first: resolve_status_names(chunk, statuses, campaign, source.row_names(first + 1))
                )
                phones = SpooledPhones(items)
            else:
                items = resolve_status_names(list(items), statuses, campaign)
        if operation.names_agents(items):
            agents = self._agents_for_check(campaign)
            if agents is not None:
                if isinstance(items, Spool) and isinstance(raw_input, Source):
                    for first, chunk in items.chunks():
                        check_agent_logins(chunk, agents, campaign, raw_input.row_names(first + 1))
                else:
                    check_agent_logins(items, agents, campaign)
        return CheckedCall(operation, campaign, phones, items, search)

    def _agents_for_check(self, campaign: str) -> list[CampaignAgent] | None:
        try:
            return self.get_agents(campaign)
        except ThuliumPermissionError:
            # Optional, unlike status names: the server still answers an unknown agent per phone.
            self.log.info(
                "records assign agents, but the API user may not list campaign %s's agents (GET outbounds/%s/agents "
                "answered 403): their logins are not checked before sending; Thulium answers an unknown one per phone",
                campaign,
                campaign,
            )
            return None

    def _statuses_for_names(self, campaign: str) -> list[CampaignStatus]:
        try:
            return self.get_statuses(campaign)
        except ThuliumPermissionError as exc:
            raise ThuliumPermissionError(
                f"records name their status, so campaign {campaign}'s statuses must be read, but the API user may "
                f"not list them (GET outbounds/{campaign}/statuses answered 403): grant it that permission, or give "
                "status_id numbers instead of names",
                status_code=exc.status_code,
                request_id=exc.request_id,
                api_messages=exc.api_messages,
            ) from None

    def _spelling_evidence(self, campaign: str, phones: list[str]) -> str | None:
        """How ``phones`` (as given) are sent spelled unlike the numbers of the campaign's first page of
        records, or ``None`` when they agree or the page cannot be read (then there is no evidence)."""
        try:
            _, page = self._records_page(campaign, "", PAGE_SIZE, 0)
        except ThuliumError as exc:
            self.log.info(
                "%d phone(s) answered as if already done; campaign %s's records could not be read to compare how "
                "they spell numbers (%s), so no warning about the numbers' form",
                len(phones),
                campaign,
                type(exc).__name__ + (f", HTTP {exc.status_code}" if exc.status_code else ""),
            )
            return None
        send_as = phone_sender(self.settings.phone_format)
        sent = list(map(send_as, phones)) if send_as is not None else phones
        return spelling_difference(sent, (record.get("phone_number") for record in page if isinstance(record, dict)))

    def start_run(
        self, call: CheckedCall, policy: OutcomePolicy | None = None, results_file: ResultsFile | None = None
    ) -> RecordsRun:
        """A run of a checked call under ``policy``; nothing is sent until the run sends.

        :param call: the checked call, from :meth:`check`.
        :param policy: what counts as success (default: the defaults).
        :param results_file: where every phone's result is written as it arrives (see :class:`RecordsRun`).
        """

        def send(items: Collection[Any], on_send: OnSend) -> Generator[BatchResult, None, None]:
            return self.stream(call, items, on_send=on_send)

        run = RecordsRun(
            call.operation, call.campaign_id, call.phones, send, policy or OutcomePolicy(), self.log, results_file
        )
        run.results.spelling_evidence = lambda phones: self._spelling_evidence(call.campaign_id, phones)

        def send_edits(edits: Collection[Any], on_send: OnSend) -> Generator[BatchResult, None, None]:
            phones = [edit["phone_number"] for edit in edits]
            edit_call = CheckedCall(EDIT_EXISTING, call.campaign_id, phones, list(edits), False)
            return self.stream(edit_call, on_send=on_send)

        run.send_edits = send_edits
        return run

    def stream(
        self, call: CheckedCall, items: Collection[Any] | None = None, on_send: OnSend | None = None
    ) -> Generator[BatchResult, None, None]:
        """Send a checked call's items (or some of them) in batches; yield each batch's result in input order.

        Close the generator when stopping early: that cancels the batch queued to be sent next.
        ``on_send`` is told each batch's phones as the batch goes on the wire.

        :param call: the checked call, from :meth:`check`.
        :param items: the items to send (default: all the call's items).
        :param on_send: called with each batch's phones as the batch goes on the wire.
        """
        path = f"batch/outbounds/{call.campaign_id}/records"
        flags = "search_in_additional_numbers=true" if call.search_in_additional_numbers else ""
        batches = call.operation.batches(
            call.items if items is None else items,
            path=path,
            flags=flags,
            settings=self.settings,
            base_path=urlsplit(self.base_url).path,
        )
        return stream_batches(self.transport, call.operation.method, path, batches, on_send)


@dataclass(frozen=True)
class CheckedCall:
    """A records call whose input passed every check: ready to send.

    :param operation: the call.
    :param campaign_id: the five-character campaign id.
    :param phones: every input phone, in input order, each once.
    :param items: what is sent: phones or normalised records (a list, or a
        :class:`~airflow_provider_thulium.sources.spool.Spool` of a source's).
    :param search_in_additional_numbers: the flag, as a bool.
    """

    operation: Operation
    campaign_id: str
    phones: Collection[str]
    items: Collection[Any]
    search_in_additional_numbers: bool
