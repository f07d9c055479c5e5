"""ThuliumHook: an Airflow connection turned into a :class:`~airflow_provider_thulium.client.ThuliumClient`.

The hook adds Airflow's concerns only: the connection form, ``test_connection`` and the public
calls ``@task`` code uses. Transport, retries, batching and results live in the client.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from functools import cached_property
from typing import Any, cast
from zoneinfo import ZoneInfo

import requests

from airflow_provider_thulium.calls.batching import BatchResult
from airflow_provider_thulium.calls.operations import DELETE, UPDATE, Operation
from airflow_provider_thulium.checks.statuses import CampaignStatus
from airflow_provider_thulium.client.facade import ThuliumClient
from airflow_provider_thulium.destinations.export import export_records
from airflow_provider_thulium.destinations.writers import Destination
from airflow_provider_thulium.exceptions import ThuliumError, ThuliumValidationError
from airflow_provider_thulium.get_provider_info import (
    CONNECTION_EXTRA_FIELDS,
    CONNECTION_FIELD_BEHAVIOUR,
    connection_placeholders,
)
from airflow_provider_thulium.lineage import campaign_uri
from airflow_provider_thulium.outcomes import AddResults, CampaignRecord, DeleteResults, ExportSummary, UpdateResults
from airflow_provider_thulium.privacy import safe_server_text
from airflow_provider_thulium.runs.records_run import OutcomePolicy
from airflow_provider_thulium.settings import ThuliumSettings
from airflow_provider_thulium.sources.readers import Source
from airflow_provider_thulium.sync.plan import DEFAULT_MAX_REMOVALS, DEFAULT_UPDATE_FIELDS, SyncPlan
from airflow_provider_thulium.version_compat import BaseHook


class ThuliumHook(BaseHook):
    """Talk to one Thulium account: add, edit, remove and read records of outbound campaigns.

    The connection's host is the account's address (``acme.thulium.com``, https assumed, or a URL
    with scheme, with or without the ``/api`` suffix); login and password are an API user's.
    Settings (see :class:`~airflow_provider_thulium.settings.ThuliumSettings`) come from defaults,
    then the connection's extras, then these arguments.

    :param thulium_conn_id: the Airflow connection to use.
    :param timeout: seconds one attempt may take, connect to last byte (default 30).
    :param verify: ``True``, ``False`` or a CA bundle path (default ``True``).
    :param max_retries: retries of one request (default 5).
    :param max_concurrent_requests: batches in flight at once (default 1).
    :param settings: any other :class:`~airflow_provider_thulium.settings.ThuliumSettings` field,
        e.g. ``retry_budget=60``.
    """

    conn_name_attr = "thulium_conn_id"
    default_conn_name = "thulium_default"
    conn_type = "thulium"
    hook_name = "Thulium"

    def __init__(
        self,
        thulium_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        verify: bool | str | None = None,
        max_retries: int | None = None,
        max_concurrent_requests: int | None = None,
        **settings: Any,
    ) -> None:
        super().__init__()
        self.thulium_conn_id = thulium_conn_id
        self._overrides: dict[str, Any] = {
            "timeout": timeout,
            "verify": verify,
            "max_retries": max_retries,
            "max_concurrent_requests": max_concurrent_requests,
            **settings,
        }

    # -- connection form (Airflow < 3.2 reads these; newer versions read get_provider_info) --

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields of the Thulium connection form."""
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import StringField

        return {
            name: StringField(
                lazy_gettext(field["label"]), widget=BS3TextFieldWidget(), description=field["description"]
            )
            for name, field in CONNECTION_EXTRA_FIELDS.items()
        }

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabel, hide and fill in the standard fields of the connection form."""
        return {
            "hidden_fields": list(CONNECTION_FIELD_BEHAVIOUR["hidden-fields"]),
            "relabeling": dict(CONNECTION_FIELD_BEHAVIOUR["relabeling"]),
            "placeholders": connection_placeholders(),
        }

    # -- connection → client --

    @cached_property
    def _connection(self) -> Any:
        return self.get_connection(self.thulium_conn_id)

    @cached_property
    def settings(self) -> ThuliumSettings:
        """The settings in force: defaults < connection extras < hook arguments."""
        extras = dict(self._connection.extra_dejson or {})
        # Forms of Airflow before 2.3 stored extras with this prefix; accept both spellings.
        prefix = f"extra__{self.conn_type}__"
        extras = {key.removeprefix(prefix): value for key, value in extras.items()}
        return ThuliumSettings.merge(extras, self._overrides)

    @cached_property
    def client(self) -> ThuliumClient:
        """The client for this connection, built on first use (no network call)."""
        conn = self._connection
        return ThuliumClient.for_host(
            conn.host,
            conn.login,
            conn.password,
            self.settings,
            port=conn.port,
            source=f"Connection {self.thulium_conn_id!r}",
            log=self.log,
        )

    @property
    def base_url(self) -> str:
        """The account's API root, ending in ``/api/``."""
        return self.client.base_url

    @property
    def account_timezone(self) -> ZoneInfo:
        """The account's time zone (``timezone`` setting), used for aware ``next_call_date`` values."""
        return self.client.account_timezone

    @property
    def session(self) -> requests.Session:
        """The one HTTP session of this hook, reused by every request (keep-alive)."""
        return self.client.transport.session

    def get_conn(self) -> ThuliumClient:
        """Return the :class:`~airflow_provider_thulium.client.ThuliumClient` for this connection."""
        return self.client

    def close(self) -> None:
        """Close the session's pooled connections."""
        if "client" in self.__dict__:
            self.client.close()

    def test_connection(self) -> tuple[bool, str]:
        """Check the address, TLS and credentials with one read-only call (``GET outbounds``); never raises."""
        try:
            return self.client.check_connection()
        except ThuliumError as exc:  # the connection itself is unusable (no host, plain http...)
            return False, str(exc)
        except Exception as exc:  # e.g. the connection cannot be read
            return False, f"{type(exc).__name__}: {safe_server_text(str(exc))}"

    # -- API calls --

    def list_campaigns(self) -> list[dict[str, Any]]:
        """Return the account's outbound campaigns (``GET outbounds``)."""
        return self.client.list_campaigns()

    def delete_records(
        self,
        campaign_id: str | int,
        phone_numbers: Iterable[str | int] | str | Source,
        search_in_additional_numbers: bool = False,
        *,
        fail_on_failed_phones: bool = False,
        not_exist_is_success: bool = True,
        call_in_progress_retries: int = 0,
        call_in_progress_retry_delay: timedelta | float = timedelta(minutes=1),
    ) -> DeleteResults:
        """Remove records from a campaign by phone number (``DELETE batch/outbounds/:id/records``).

        Splits the numbers into as many requests as the request-line limit needs and merges the
        answers. Every record found for a number is removed; a record in a call is not
        (status ``CALL_IN_PROGRESS``), but can be tried again after a delay.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param phone_numbers: the numbers (str or int), or one string of them separated by commas or spaces,
            or a source (:class:`~airflow_provider_thulium.sources.SqlSource`, :class:`~.FileSource`)
            (read once, checked whole before the first request).
            A number listed twice is sent once; written both with and without ``+`` it is refused.
        :param search_in_additional_numbers: also match records by their additional numbers.
        :param fail_on_failed_phones: raise :class:`~airflow_provider_thulium.exceptions.ThuliumPhoneFailuresError`
            when any phone's outcome is a failure (default: return them in the results).
        :param not_exist_is_success: count ``NOT_EXIST`` (nothing to remove) as a success.
        :param call_in_progress_retries: how many more times to try phones whose record was in a call.
        :param call_in_progress_retry_delay: the wait before each of those tries (seconds or a timedelta).
        :return: phone → list of results, in the API's shape, one key per distinct input phone.
            A phone Thulium gave no answer about gets a client-side entry with ``"http_status": None``
            and a ``status`` such as ``NO_ANSWER`` or ``NOT_SENT``.
        :raises ThuliumValidationError: before any request, when the input is invalid.
        :raises ThuliumError: the error that stopped the run early (credentials, unknown campaign,
            Thulium unreachable...), once the batches on the wire are answered; its ``results`` hold
            every phone's result, so what was applied is known.
        """
        policy = OutcomePolicy(
            fail_on_failed_phones=fail_on_failed_phones,
            already_done_is_success=not_exist_is_success,
            call_in_progress_retries=call_in_progress_retries,
            call_in_progress_retry_delay=call_in_progress_retry_delay,  # type: ignore[arg-type]
        )
        with self._writing(campaign_id):
            return self.client.delete_records(campaign_id, phone_numbers, search_in_additional_numbers, policy)

    def update_records(
        self,
        campaign_id: str | int,
        records: Sequence[dict[str, Any]] | str | Source,
        search_in_additional_numbers: bool = False,
        *,
        fail_on_failed_phones: bool = False,
    ) -> UpdateResults:
        """Edit records of a campaign (``PUT batch/outbounds/:id/records``).

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param records: dicts with ``phone_number`` and any of ``status_id``, ``dictionary_status_id``,
            ``agent_login``, ``next_call_date`` (``YYYY-MM-DD hh:mm``, seconds dropped, or a datetime),
            ``record_fields``; or a JSON string of such a list, or a source
            (:mod:`~airflow_provider_thulium.sources`). A number may appear once, in one spelling (not ``+48…`` and
            ``48…``).
        :param search_in_additional_numbers: also match records by their additional numbers.
        :param fail_on_failed_phones: raise :class:`~airflow_provider_thulium.exceptions.ThuliumPhoneFailuresError`
            when any phone's outcome is a failure (default: return them in the results).
        :return: phone → one result, in the API's shape (``{"http_status": 204}`` on success).
        :raises ThuliumValidationError: before any request, when the input is invalid.
        :raises ThuliumError: the error that stopped the run early; its ``results`` hold every phone's result.
        """
        policy = OutcomePolicy(fail_on_failed_phones=fail_on_failed_phones)
        with self._writing(campaign_id):
            return self.client.update_records(campaign_id, records, search_in_additional_numbers, policy)

    def add_records(
        self,
        campaign_id: str | int,
        records: Sequence[dict[str, Any]] | str | Source,
        *,
        on_existing: str = "skip",
        fail_on_failed_phones: bool = False,
        update_fields: Sequence[str] | None = None,
    ) -> AddResults:
        """Add records to a campaign (``POST batch/outbounds/:id/records``).

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param records: dicts with ``phone_number`` and any of ``status`` (a status's name) or
            ``status_id``, ``dictionary_status_id``, ``identifier``, ``agent_login``, ``next_call_date``,
            ``record_fields``, ``order``; or a JSON string of such a list; or a source
            (:mod:`~airflow_provider_thulium.sources`). A phone may appear once.
        :param on_existing: a record already in the campaign (``ALREADY_EXISTS``): ``"skip"`` counts it
            as a success, ``"update"`` edits it with the record's editable fields (an upsert; its entry
            then says ``UPDATED``), ``"fail"`` counts it as a failure.
        :param fail_on_failed_phones: raise :class:`~airflow_provider_thulium.exceptions.ThuliumPhoneFailuresError`
            when any phone's outcome is a failure (default: return them in the results).
        :param update_fields: with ``on_existing="update"``, the only fields edited on records already
            there (``"status"`` names ``status_id``); default every editable field given, which
            overwrites what agents set (a status such as *Not interested* included).
        :return: phone → one result: ``{"http_status": 201, "record_id": …, "status": "ADDED"}``,
            ``ALREADY_EXISTS`` with the existing ``record_id``, ``FAILED`` with a ``message``.
        :raises ThuliumValidationError: before any request, when the input is invalid (a status name
            the campaign does not have included).
        :raises ThuliumError: the error that stopped the run early; its ``results`` hold every phone's result.
        """
        policy = OutcomePolicy.for_add(on_existing, fail_on_failed_phones, update_fields)
        with self._writing(campaign_id):
            return self.client.add_records(campaign_id, records, policy)

    def plan_sync(
        self,
        campaign_id: str | int,
        records: Sequence[dict[str, Any]] | str,
        *,
        update_fields: Sequence[str] = DEFAULT_UPDATE_FIELDS,
        remove_missing: bool = False,
        state_path: Any = None,
    ) -> SyncPlan:
        """Plan what makes the campaign match ``records``, reading it once; sends nothing that writes.

        Per phone (matched on its digits): ``ADD`` when the campaign lacks it, ``UPDATE`` when an owned
        field differs or cannot be read back, ``UNCHANGED`` otherwise, ``REMOVE`` for the campaign's
        other phones with ``remove_missing``. A desired phone held by several records is left as it is
        and counted under ``duplicates``.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param records: the desired records, with the keys :meth:`add_records` takes, keyed by ``phone_number``.
        :param update_fields: the fields the caller owns on records already in the campaign (``"status"``
            names ``status_id``); the records' other fields are used only when a record is added.
        :param remove_missing: plan the removal of the campaign's records whose phone is not in ``records``.
        :param state_path: a file (a path or an ``ObjectStoragePath``) with what earlier syncs applied, to
            compare owned fields the records answer does not show (see :meth:`sync_campaign`).
        :return: the :class:`~airflow_provider_thulium.sync.plan.SyncPlan`; ``plan.counts()`` gives its counts.
        :raises ThuliumValidationError: before any request, when the input is invalid.
        """
        plan = self.client.plan_sync(
            campaign_id, records, update_fields=update_fields, remove_missing=remove_missing, state_path=state_path
        )
        self._report_lineage(campaign_id, output=False)
        return plan

    def sync_campaign(
        self,
        campaign_id: str | int,
        records: Sequence[dict[str, Any]] | str,
        *,
        update_fields: Sequence[str] = DEFAULT_UPDATE_FIELDS,
        remove_missing: bool = False,
        max_removals: int | float = DEFAULT_MAX_REMOVALS,
        dry_run: bool = False,
        state_path: Any = None,
        fail_on_failed_phones: bool = False,
        call_in_progress_retries: int = 0,
        call_in_progress_retry_delay: timedelta | float = timedelta(minutes=1),
    ) -> dict[str, Any]:
        """Make the campaign match ``records``: plan (see :meth:`plan_sync`), then send only the changes.

        Adds, edits and removals go through the same calls, batching and outcome policy as
        :meth:`add_records`, :meth:`update_records` and :meth:`delete_records`.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param records: the desired records, as :meth:`plan_sync` takes them.
        :param update_fields: the fields the caller owns on records already in the campaign (see :meth:`plan_sync`).
        :param remove_missing: remove the campaign's records whose phone is not in ``records``.
        :param max_removals: the most phones the plan may remove (each with all its records): an int,
            or a float below 1 as a fraction of the campaign's records. A plan removing more, or an empty
            ``records`` for a campaign that is not empty, raises
            :class:`~airflow_provider_thulium.exceptions.ThuliumSyncGuardError` before any write.
        :param dry_run: plan and return the plan's entries; only reads are sent.
        :param state_path: the fingerprints file: owned fields the records answer does not show are
            sent only when they changed since the last confirmed sync. A change made by hand in
            Thulium to such a field is not seen. Written when the run ends, failed or not.
        :param fail_on_failed_phones: raise :class:`~airflow_provider_thulium.exceptions.ThuliumPhoneFailuresError`
            when any phone's outcome is a failure (default: return them in the results).
        :param call_in_progress_retries: how many more times to try removals whose record was in a call.
        :param call_in_progress_retry_delay: the wait before each of those tries (seconds or a timedelta).
        :return: phone → ``{"action": "ADD" | "UPDATE" | "REMOVE" | "UNCHANGED", "result": …}``, the result in
            the shape of the call made (none for ``UNCHANGED``); an update also names the ``fields`` sent.
        :raises ThuliumError: the error that stopped the run early; its ``results`` hold every phone's entry.
        """
        policy = OutcomePolicy(
            fail_on_failed_phones=fail_on_failed_phones,
            call_in_progress_retries=call_in_progress_retries,
            call_in_progress_retry_delay=call_in_progress_retry_delay,  # type: ignore[arg-type]
        )
        with self._writing(campaign_id):
            return self.client.sync_campaign(
                campaign_id,
                records,
                update_fields=update_fields,
                remove_missing=remove_missing,
                max_removals=max_removals,
                dry_run=dry_run,
                state_path=state_path,
                policy=policy,
            )

    def get_statuses(self, campaign_id: str | int) -> list[CampaignStatus]:
        """Return the campaign's statuses (``GET outbounds/:id/statuses``).

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :return: ``[{"status_id": 3, "name": "Contact needed", "system_status": "CALL", "dictionary_status_id": 2}, …]``
        """
        return self.client.get_statuses(campaign_id)

    def iter_records(
        self,
        campaign_id: str | int,
        *,
        status_ids: Iterable[int | str] | int | str | None = None,
        system_statuses: Iterable[str] | str | None = None,
        created_from: date | str | None = None,
        created_to: date | str | None = None,
        called_from: date | str | None = None,
        called_to: date | str | None = None,
    ) -> Iterator[CampaignRecord]:
        """Yield the campaign's records, 100 a page (``GET outbounds/:id/records``), in the order they were added.

        Each record is a :class:`~airflow_provider_thulium.outcomes.CampaignRecord`: its keys, what
        they mean, and which of that the vendor documents.

        Memory is bounded by one page. Offset paging over a campaign that changes meanwhile can skip
        or repeat records: a ``record_id`` is never yielded twice in one pass, and a warning says when
        the number of matching records changed while reading. The read always ends; a server that
        pages oddly (ignores ``offset``, an empty page short of its ``count``) ends it with a
        :class:`~airflow_provider_thulium.exceptions.ThuliumResponseError`.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param status_ids: only records with these status ids: one (``3``, ``"13"``) or a list.
        :param system_statuses: only records with these system statuses: one (``"NO_CALL"``) or a list.
        :param created_from: only records created on or after this day (a date or ``"YYYY-MM-DD"``).
        :param created_to: only records created on or before this day.
        :param called_from: only records last called on or after this day.
        :param called_to: only records last called on or before this day.
        """
        records = self.client.iter_records(
            campaign_id,
            status_ids=status_ids,
            system_statuses=system_statuses,
            created_from=created_from,
            created_to=created_to,
            called_from=called_from,
            called_to=called_to,
        )
        self._report_lineage(campaign_id, output=False)
        return cast(Iterator[CampaignRecord], records)

    def export_records(
        self, campaign_id: str | int, destination: Destination, *, columns: Any = None, **filters: Any
    ) -> ExportSummary:
        """Write the campaign's records matching the filters to a file or a table; return where and how many.

        Pages are read up to ``max_concurrent_requests`` at a time and written as they come: memory
        holds the pages in flight and one batch, whatever the campaign's size. Everything is checked
        before the first request. See :class:`~airflow_provider_thulium.operators.thulium.ThuliumExportRecordsOperator`.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param destination: a :class:`~airflow_provider_thulium.destinations.FileDestination` or
            :class:`~airflow_provider_thulium.destinations.SqlDestination`.
        :param columns: record key → column name, or a list of record keys (default: every key of
            :class:`~airflow_provider_thulium.outcomes.CampaignRecord` but ``record_fields``).
        :param filters: the keyword filters of :meth:`iter_records`.
        """
        summary = export_records(self.client, campaign_id, destination, columns=columns, filters=filters)
        self._report_lineage(campaign_id, output=False)
        return summary

    def count_records(self, campaign_id: str | int, **filters: Any) -> int:
        """The number of the campaign's records matching the keyword filters of :meth:`iter_records`.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param filters: the keyword filters of :meth:`iter_records`.
        """
        count = self.client.count_records(campaign_id, **filters)
        self._report_lineage(campaign_id, output=False)
        return count

    def stream_delete_records(
        self,
        campaign_id: str | int,
        phone_numbers: Iterable[str | int] | str | Source,
        search_in_additional_numbers: bool = False,
    ) -> Generator[BatchResult, None, None]:
        """Check the input like :meth:`delete_records`, then send it in batches; yield each batch's result in order.

        The lower-level form for callers that handle batches themselves. It stops after a batch that
        failed for a reason later batches would share (credentials, permission, unknown campaign,
        server unavailable, unreadable answers). A caller that stops reading early should close the
        iterator (``contextlib.closing``): that cancels the batch queued to be sent next and stops
        retries of those in flight.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param phone_numbers: the numbers, as :meth:`delete_records` takes them.
        :param search_in_additional_numbers: also match records by their additional numbers.
        :return: one :class:`~airflow_provider_thulium.calls.batching.BatchResult` per batch, in input order.
        """
        return self._stream(DELETE, campaign_id, phone_numbers, search_in_additional_numbers)

    def stream_update_records(
        self,
        campaign_id: str | int,
        records: Sequence[dict[str, Any]] | str | Source,
        search_in_additional_numbers: bool = False,
    ) -> Generator[BatchResult, None, None]:
        """Check the input like :meth:`update_records`, then send it in batches; see :meth:`stream_delete_records`.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param records: the records, as :meth:`update_records` takes them.
        :param search_in_additional_numbers: also match records by their additional numbers.
        :return: one :class:`~airflow_provider_thulium.calls.batching.BatchResult` per batch, in input order.
        """
        return self._stream(UPDATE, campaign_id, records, search_in_additional_numbers)

    # -- lineage --

    @contextmanager
    def _writing(self, campaign_id: str | int) -> Iterator[None]:
        """Report the campaign as the task's output once a records call got past checking its input."""
        refused = False
        try:
            yield
        except ThuliumValidationError:
            refused = True  # refused before anything was sent: nothing was written
            raise
        finally:
            if not refused:
                self._report_lineage(campaign_id, output=True)

    def _report_lineage(self, campaign_id: str | int, *, output: bool) -> None:
        """Tell Airflow's hook lineage collector that this task wrote (or read) the campaign.

        The collector hands it to the OpenLineage provider when that is installed, so a ``@task``
        calling the hook reports the campaign as the operators do (``thulium://<host>/outbounds/<id>``).
        """
        from airflow.providers.common.compat.lineage.hook import get_hook_lineage_collector

        try:
            collector = get_hook_lineage_collector()
            add = collector.add_output_asset if output else collector.add_input_asset
            add(context=self, uri=campaign_uri(self.base_url, campaign_id))
        except Exception:  # lineage is a report: it must never fail a call that did its work
            self.log.debug("campaign %s not reported to the hook lineage collector", campaign_id, exc_info=True)

    def _stream(
        self, operation: Operation, campaign_id: str | int, raw_input: object, search: object
    ) -> Generator[BatchResult, None, None]:
        call = self.client.check(operation, campaign_id, raw_input, search)
        self._report_lineage(call.campaign_id, output=True)
        return self.client.stream(call)


__all__ = ["ThuliumHook", "ThuliumSettings"]
