"""Everything a records call needs checked before its first request, and how phones compare with a campaign's.

A run never stops at a problem the client could have seen first: the input is read and checked in
full, status names resolved and agent logins checked against the campaign, and the connection
prepared (credentials, CA bundle), before anything is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from airflow_provider_thulium.calls.checked import CheckedCall
from airflow_provider_thulium.calls.operations import Operation
from airflow_provider_thulium.checks.agents import CampaignAgent, check_agent_logins
from airflow_provider_thulium.checks.numbering import PhoneNumbering, numbering_for
from airflow_provider_thulium.checks.phones import phone_sender, spelling_difference
from airflow_provider_thulium.checks.records import normalize_campaign_id, parse_flag, resolve_timezone
from airflow_provider_thulium.checks.statuses import CampaignStatus, resolve_status_names
from airflow_provider_thulium.exceptions import ThuliumError, ThuliumPermissionError
from airflow_provider_thulium.reading.pages import PAGE_SIZE
from airflow_provider_thulium.settings import ThuliumSettings
from airflow_provider_thulium.sources.readers import Source
from airflow_provider_thulium.sources.spool import Spool, SpooledPhones
from airflow_provider_thulium.transport.session import Transport

#: Reads one page of a campaign's records: (campaign, query, limit, offset) → its count and records.
PageReader = Callable[[str, str, int, int], tuple[int | None, list[Any]]]


class InputChecker:
    """Checks a records call's input against the account before anything is sent.

    :param transport: the account's transport, prepared by each check (credentials, CA bundle).
    :param settings: the account's settings (its time zone, how phones are sent).
    :param statuses: reads a campaign's statuses, for records that name theirs.
    :param agents: reads a campaign's agents, for records that assign one.
    :param records_page: reads one page of a campaign's records, for :meth:`spelling_evidence`.
    :param log: where what could not be checked is logged.
    """

    def __init__(
        self,
        transport: Transport,
        settings: ThuliumSettings,
        statuses: Callable[[str], list[CampaignStatus]],
        agents: Callable[[str], list[CampaignAgent]],
        records_page: PageReader,
        log: logging.Logger | Any,
    ) -> None:
        self.transport = transport
        self.settings = settings
        self._statuses = statuses
        self._agents = agents
        self._records_page = records_page
        self.log = log

    @cached_property
    def account_timezone(self) -> ZoneInfo:
        """The account's time zone (``timezone`` setting), used for aware ``next_call_date`` values."""
        return resolve_timezone(self.settings.timezone)

    @cached_property
    def numbering(self) -> PhoneNumbering | None:
        """The numbering plan of ``phone_region`` that reads every phone, or ``None`` (phones taken as written)."""
        return numbering_for(self.settings.phone_region, self.settings.phone_format)

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
        phones, items = operation.parse(raw_input, self.account_timezone, self.numbering)
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
            return self._agents(campaign)
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
            return self._statuses(campaign)
        except ThuliumPermissionError as exc:
            raise ThuliumPermissionError(
                f"records name their status, so campaign {campaign}'s statuses must be read, but the API user may "
                f"not list them (GET outbounds/{campaign}/statuses answered 403): grant it that permission, or give "
                "status_id numbers instead of names",
                status_code=exc.status_code,
                request_id=exc.request_id,
                api_messages=exc.api_messages,
            ) from None

    def spelling_evidence(self, campaign: str, phones: list[str]) -> str | None:
        """How ``phones`` (as given) are sent spelled unlike the numbers of the campaign's first page of
        records, or ``None`` when they agree or the page cannot be read (then there is no evidence).

        :param campaign: the five-character campaign id.
        :param phones: phones that answered as if already done (a delete's ``NOT_EXIST``).
        """
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


__all__ = ["InputChecker", "PageReader"]
