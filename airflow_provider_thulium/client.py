"""ThuliumClient: the Thulium API as Python calls, without Airflow.

It owns the transport (session, retries, error mapping), the records calls with their batching
and streaming, and runs them under one outcome policy. :class:`~airflow_provider_thulium.hooks.thulium.ThuliumHook`
builds one from an Airflow connection; scripts and tests can build one directly.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from airflow_provider_thulium.batching import BatchResult
from airflow_provider_thulium.exceptions import ThuliumError, ThuliumPermissionError, ThuliumResponseError
from airflow_provider_thulium.operations import DELETE, UPDATE, Operation
from airflow_provider_thulium.privacy import safe_server_text
from airflow_provider_thulium.run import OutcomePolicy, RecordsRun
from airflow_provider_thulium.settings import ThuliumSettings, api_base_url
from airflow_provider_thulium.shapes import DeleteResults, UpdateResults
from airflow_provider_thulium.stream import OnSend, stream_batches
from airflow_provider_thulium.transport import Transport
from airflow_provider_thulium.validation import normalize_campaign_id, parse_flag, resolve_timezone


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
        """A client for an account address as users write it (``acme.thulium.com``, a URL, with or without ``/api``)."""
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
        phone_numbers: Iterable[str | int] | str,
        search_in_additional_numbers: bool = False,
        policy: OutcomePolicy | None = None,
    ) -> DeleteResults:
        """Remove records by phone number; see :meth:`ThuliumHook.delete_records`."""
        return self.run(DELETE, campaign_id, phone_numbers, search_in_additional_numbers, policy)

    def update_records(
        self,
        campaign_id: str | int,
        records: Sequence[dict[str, Any]] | str,
        search_in_additional_numbers: bool = False,
        policy: OutcomePolicy | None = None,
    ) -> UpdateResults:
        """Edit records; see :meth:`ThuliumHook.update_records`."""
        return self.run(UPDATE, campaign_id, records, search_in_additional_numbers, policy)

    def run(
        self,
        operation: Operation,
        campaign_id: str | int,
        raw_input: object,
        search_in_additional_numbers: object = False,
        policy: OutcomePolicy | None = None,
    ) -> Any:
        """Check the input in full, send it, and return every phone's result or raise (see :class:`RecordsRun`)."""
        call = self.check(operation, campaign_id, raw_input, search_in_additional_numbers)
        return self.start_run(call, policy).run(call.items)

    def check(
        self, operation: Operation, campaign_id: str | int, raw_input: object, search_in_additional_numbers: object
    ) -> CheckedCall:
        """Check everything a call needs first: a ``ThuliumValidationError`` names a problem of the input,
        a ``ThuliumConfigurationError`` one of the connection (no login or password, a missing CA bundle)."""
        campaign = normalize_campaign_id(campaign_id)
        search = parse_flag(search_in_additional_numbers, "search_in_additional_numbers")
        phones, items = operation.parse(raw_input, self.account_timezone)
        # Credentials, CA bundles and the like too, so a run never stops at them before sending anything.
        self.transport.prepare()
        return CheckedCall(operation, campaign, phones, items, search)

    def start_run(self, call: CheckedCall, policy: OutcomePolicy | None = None) -> RecordsRun:
        """A run of a checked call under ``policy``; nothing is sent until the run sends."""

        def send(items: Sequence[Any], on_send: OnSend) -> Generator[BatchResult, None, None]:
            return self.stream(call, items, on_send=on_send)

        return RecordsRun(call.operation, call.campaign_id, call.phones, send, policy or OutcomePolicy(), self.log)

    def stream(
        self, call: CheckedCall, items: Sequence[Any] | None = None, on_send: OnSend | None = None
    ) -> Generator[BatchResult, None, None]:
        """Send a checked call's items (or some of them) in batches; yield each batch's result in input order.

        Close the generator when stopping early: that cancels the batch queued to be sent next.
        ``on_send`` is told each batch's phones as the batch goes on the wire.
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
    :param items: what is sent: phones or normalised records.
    :param search_in_additional_numbers: the flag, as a bool.
    """

    operation: Operation
    campaign_id: str
    phones: list[str]
    items: list[Any]
    search_in_additional_numbers: bool
