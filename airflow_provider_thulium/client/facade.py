"""ThuliumClient: the Thulium API as Python calls, without Airflow.

One object per account: it owns the transport (session, retries, error mapping), reads campaigns,
and makes the records calls, each checked in full before its first request, sent in batches and
concluded under one outcome policy. It builds its parts and hands each call to the one whose job it
is: an :class:`~airflow_provider_thulium.client.checker.InputChecker` for the input, a
:class:`~airflow_provider_thulium.client.runs.RunFactory` for runs and streams, and a
:class:`~airflow_provider_thulium.sync.planner.SyncPlanner` for sync plans. Scripts and tests build
one with :meth:`ThuliumClient.for_host`; the Airflow hook builds one from a connection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Generator, Iterable, Iterator, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from airflow_provider_thulium.calls.batching import BatchResult
from airflow_provider_thulium.calls.checked import CheckedCall
from airflow_provider_thulium.calls.operations import ADD, DELETE, UPDATE, Operation
from airflow_provider_thulium.calls.sending import OnSend
from airflow_provider_thulium.checks.agents import CampaignAgent, read_agents
from airflow_provider_thulium.checks.options import parse_dry_run, parse_max_removals
from airflow_provider_thulium.checks.records import normalize_campaign_id
from airflow_provider_thulium.checks.statuses import CampaignStatus, read_statuses
from airflow_provider_thulium.client.checker import InputChecker
from airflow_provider_thulium.client.runs import RunFactory
from airflow_provider_thulium.exceptions import ThuliumError, ThuliumPermissionError, ThuliumResponseError
from airflow_provider_thulium.outcomes import AddResults, DeleteResults, UpdateResults
from airflow_provider_thulium.privacy import safe_server_text
from airflow_provider_thulium.reading.campaign import CampaignRead, read_pages
from airflow_provider_thulium.reading.pages import RecordFilter, read_page
from airflow_provider_thulium.results.results_file import ResultsFile
from airflow_provider_thulium.runs.records_run import OutcomePolicy, RecordsRun
from airflow_provider_thulium.settings import ThuliumSettings, api_base_url
from airflow_provider_thulium.sources.readers import Source
from airflow_provider_thulium.sync.plan import (
    DEFAULT_MAX_REMOVALS,
    DEFAULT_UPDATE_FIELDS,
    SyncPlan,
    SyncRun,
    check_guard,
)
from airflow_provider_thulium.sync.planner import SyncPlanner
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
        self._checker = InputChecker(
            self.transport, self.settings, self.get_statuses, self.get_agents, self._records_page, self.log
        )
        self._runs = RunFactory(self.transport, self.settings, self._checker.spelling_evidence, self.log)
        self._planner = SyncPlanner(self._checker.check, self.read_campaign, self.log, self._checker.numbering)

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

    @property
    def account_timezone(self) -> ZoneInfo:
        """The account's time zone (``timezone`` setting), used for aware ``next_call_date`` values."""
        return self._checker.account_timezone

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
        """Yield the campaign's records, 100 a page (``GET outbounds/:id/records``), in the order they were added.

        Memory is bounded by a page and the keys of the records given. A record already yielded in
        this pass (same ``record_id``, or same content without one) is not yielded again; when the
        total changed while paging, a warning says so (docs/thulium-api.md, "Paged records"). The
        read always ends, at a short or an empty page; a page that brings no new record, or an empty
        one while its ``count`` says more are left, is a :class:`ThuliumResponseError` naming what
        the server did. The sync reads through the same path
        (:func:`~airflow_provider_thulium.reading.campaign.read_pages`).

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param filters: keyword filters, as
            :meth:`~airflow_provider_thulium.reading.pages.RecordFilter.from_arguments` takes them:
            ``status_ids``, ``system_statuses``, ``created_from``, ``created_to``, ``called_from``, ``called_to``.
        """
        campaign = normalize_campaign_id(campaign_id)
        # Checked here, not at the first next(): a bad filter fails where the call is made.
        return self._records(campaign, RecordFilter.from_arguments(**filters).query())

    def _records(self, campaign: str, query: str) -> Iterator[dict[str, Any]]:
        # A page at a time, each read when it is needed: nothing is sent before the first next().
        yield from read_pages(self._records_page, campaign, query, 1, self.log).records

    def read_campaign(self, campaign_id: str | int) -> CampaignRead:
        """Every record of the campaign, in the order added, with its count from the first page.

        The first page is read at once; the others are read up to ``max_concurrent_requests`` at a
        time and yielded in offset order, so memory is bounded by a few pages and the keys of the
        records given. The read keeps every promise of :meth:`iter_records` (it is the same path):
        each record once, an end at a short or empty page, an error when the pages contradict the count.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        """
        campaign = normalize_campaign_id(campaign_id)
        return read_pages(self._records_page, campaign, "", self.settings.max_concurrent_requests, self.log)

    def read_records(self, campaign_id: str | int, **filters: Any) -> CampaignRead:
        """The campaign's records matching the filters, read as :meth:`read_campaign` reads every record:
        pages up to ``max_concurrent_requests`` at a time, yielded in order, with every promise of :meth:`iter_records`.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param filters: the filters of :meth:`ThuliumHook.iter_records`.
        """
        campaign = normalize_campaign_id(campaign_id)
        query = RecordFilter.from_arguments(**filters).query()
        return read_pages(self._records_page, campaign, query, self.settings.max_concurrent_requests, self.log)

    def count_records(self, campaign_id: str | int, **filters: Any) -> int:
        """The number of the campaign's records matching the filters (the ``count`` of one small page).

        Raises :class:`ThuliumResponseError` when the answer holds no usable count (a non-negative
        integer) or contradicts it.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param filters: keyword filters, as
            :meth:`~airflow_provider_thulium.reading.pages.RecordFilter.from_arguments` takes them:
            ``status_ids``, ``system_statuses``, ``created_from``, ``created_to``, ``called_from``, ``called_to``.
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
        """Remove records by phone number (``DELETE batch/outbounds/:id/records``).

        The numbers are checked in full first, then sent in as many requests as the request-line
        limit needs. Every record found for a number is removed; a record in a call is not
        (``CALL_IN_PROGRESS``), and the policy may try those phones again after a delay.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param phone_numbers: the numbers (str or int), one string of them separated by commas or
            whitespace, or a :class:`~airflow_provider_thulium.sources.readers.Source` (read once). A
            number listed twice is sent once; written both with and without ``+`` it is refused.
        :param search_in_additional_numbers: also match records by their additional numbers.
        :param policy: what counts as success, and the tries of records in a call (default: the defaults).
        :return: phone → list of results, in the API's shape, one key per distinct input phone; a
            phone Thulium gave no answer about gets a client-side entry (``NO_ANSWER``, ``NOT_SENT``...).
        :raises ThuliumValidationError: before any request, when the input is invalid.
        :raises ThuliumError: the error that stopped the run early (credentials, unknown campaign,
            Thulium unreachable...), or the phones' failures when the policy fails on them; its
            ``results`` hold every phone's result.
        """
        return self.run(DELETE, campaign_id, phone_numbers, search_in_additional_numbers, policy)

    def update_records(
        self,
        campaign_id: str | int,
        records: Sequence[dict[str, Any]] | str | Source,
        search_in_additional_numbers: bool = False,
        policy: OutcomePolicy | None = None,
    ) -> UpdateResults:
        """Edit records (``PUT batch/outbounds/:id/records``), checked in full before the first request.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param records: dicts with ``phone_number`` and any of ``status_id``, ``dictionary_status_id``,
            ``agent_login``, ``next_call_date`` (``YYYY-MM-DD hh:mm`` in the account's time zone, or a
            datetime), ``record_fields``; a JSON string of such a list; or a
            :class:`~airflow_provider_thulium.sources.readers.Source`. A phone may appear once.
        :param search_in_additional_numbers: also match records by their additional numbers.
        :param policy: what counts as success (default: the defaults).
        :return: phone → one result, in the API's shape (``{"http_status": 204}`` on success).
        :raises ThuliumValidationError: before any request, when the input is invalid.
        :raises ThuliumError: the error that stopped the run early, or the phones' failures when the
            policy fails on them; its ``results`` hold every phone's result.
        """
        return self.run(UPDATE, campaign_id, records, search_in_additional_numbers, policy)

    def add_records(
        self,
        campaign_id: str | int,
        records: Sequence[dict[str, Any]] | str | Source,
        policy: OutcomePolicy | None = None,
    ) -> AddResults:
        """Add records (``POST batch/outbounds/:id/records``), checked in full before the first request.

        Status names are resolved against the campaign's statuses and agent logins checked against
        its agents first; with a policy for ``on_existing="update"``
        (:meth:`~airflow_provider_thulium.runs.records_run.OutcomePolicy.for_add`), the records
        already there are then edited.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param records: dicts with ``phone_number`` and any of ``status`` (a status's name) or
            ``status_id``, ``dictionary_status_id``, ``identifier``, ``agent_login``,
            ``next_call_date``, ``record_fields``, ``order``; a JSON string of such a list; or a
            :class:`~airflow_provider_thulium.sources.readers.Source`. A phone may appear once.
        :param policy: what counts as success, and what to do with records already there (default: skip them).
        :return: phone → one result: ``{"http_status": 201, "record_id": …, "status": "ADDED"}``,
            ``ALREADY_EXISTS`` with the existing ``record_id``, ``FAILED`` with a ``message``.
        :raises ThuliumValidationError: before any request, when the input is invalid.
        :raises ThuliumError: the error that stopped the run early, or the phones' failures when the
            policy fails on them; its ``results`` hold every phone's result.
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
        exclude: object = None,
    ) -> SyncPlan:
        """Read the campaign once and plan what makes it match ``records``; sends nothing that writes.

        Per phone (matched on its digits): ``ADD`` when the campaign lacks it, ``UPDATE`` when an
        owned field differs or cannot be read back, ``UNCHANGED`` otherwise, ``REMOVE`` for the
        campaign's other phones with ``remove_missing``. A desired phone held by several records is
        left as it is and counted under ``duplicates``.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param records: the desired records, as :meth:`add_records` takes them (a source included).
        :param update_fields: the fields the caller owns on records already in the campaign
            (``"status"`` names ``status_id``); the records' other fields are used only to add.
        :param remove_missing: plan the removal of the campaign's records whose phone is not in ``records``.
        :param state_path: the fingerprints file of earlier syncs (a path or an ``ObjectStoragePath``),
            or ``None``: owned fields the records answer does not show are compared with it.
        :param exclude: a do-not-call list: phones (as :meth:`delete_records` takes them, a source
            included) never added or updated, and removed from the campaign whatever
            ``remove_missing`` says; their removals do not count against ``max_removals``.
        """
        return self._planner.plan(
            campaign_id,
            records,
            update_fields=update_fields,
            remove_missing=remove_missing,
            state_path=state_path,
            exclude=exclude,
        )

    def start_sync(
        self,
        plan: SyncPlan,
        policy: OutcomePolicy | None = None,
        *,
        on_interrupted: Callable[[SyncRun], None] | None = None,
        failures_only: bool = False,
    ) -> SyncRun:
        """A run of a plan's changes under ``policy``; nothing is sent until it applies.

        :param plan: the plan, from :meth:`plan_sync`.
        :param policy: what counts as success (default: the defaults).
        :param on_interrupted: called with the run when a send is interrupted, once every phone has
            its result (a caller that must report even a killed run reports there).
        :param failures_only: conclude with the failed phones' entries only.
        """
        return self._runs.start_sync(plan, policy, on_interrupted=on_interrupted, failures_only=failures_only)

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
        exclude: object = None,
    ) -> dict[str, Any]:
        """Make the campaign match ``records``: plan (:meth:`plan_sync`), check the guard, send only the changes.

        Adds, edits and removals go through the same calls, batching and outcome policy as
        :meth:`add_records`, :meth:`update_records` and :meth:`delete_records`.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param records: the desired records, as :meth:`add_records` takes them (a source included).
        :param update_fields: the fields the caller owns on records already in the campaign.
        :param remove_missing: remove the campaign's records whose phone is not in ``records``.
        :param max_removals: the most phones the plan may remove (each with all its records): an int, or a
            float below 1 as a fraction of the campaign's records. A plan removing more, or an empty
            ``records`` for a campaign that is not empty, raises
            :class:`~airflow_provider_thulium.exceptions.ThuliumSyncGuardError` before any write.
        :param dry_run: return the plan's entries and send nothing that writes.
        :param state_path: the fingerprints file of earlier syncs, or ``None``; written when the run
            ends, failed or not, with only what Thulium confirmed.
        :param policy: what counts as success (default: the defaults).
        :param exclude: a do-not-call list (see :meth:`plan_sync`).
        :return: phone → ``{"action": "ADD" | "UPDATE" | "REMOVE" | "UNCHANGED", "result": …}``, the result in
            the shape of the call made (none for ``UNCHANGED``). A dry run returns the plan's entries even
            when the guard would refuse it.
        :raises ThuliumError: the error that stopped the run early; its ``results`` hold every phone's entry.
        """
        limit = parse_max_removals(max_removals)
        dry = parse_dry_run(dry_run)
        plan = self.plan_sync(
            campaign_id,
            records,
            update_fields=update_fields,
            remove_missing=remove_missing,
            state_path=state_path,
            exclude=exclude,
        )
        if dry:
            return plan.entries()
        check_guard(plan, limit)
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

        Records that name their status cost a read of the campaign's statuses, records that assign
        an agent one of its agents.

        :param operation: the call (``operations.DELETE``, ``UPDATE`` or ``ADD``).
        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param raw_input: the phone numbers or records, in any form the operation reads.
        :param search_in_additional_numbers: the flag, as a bool or its text.
        """
        return self._checker.check(operation, campaign_id, raw_input, search_in_additional_numbers)

    def start_run(
        self,
        call: CheckedCall,
        policy: OutcomePolicy | None = None,
        results_file: ResultsFile | None = None,
        *,
        on_interrupted: Callable[[RecordsRun], None] | None = None,
    ) -> RecordsRun:
        """A run of a checked call under ``policy``; nothing is sent until the run sends.

        :param call: the checked call, from :meth:`check`.
        :param policy: what counts as success (default: the defaults).
        :param results_file: where every phone's result is written as it arrives (see :class:`RecordsRun`).
        :param on_interrupted: called with the run when a send is interrupted, once every phone has
            its result (a caller that must report even a killed run reports there).
        """
        return self._runs.start_run(call, policy, results_file, on_interrupted=on_interrupted)

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
        return self._runs.stream(call, items, on_send)


__all__ = ["CheckedCall", "ThuliumClient"]
