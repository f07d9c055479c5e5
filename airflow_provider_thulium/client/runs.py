"""Runs of checked calls and of sync plans, and the stream of a checked call's batches.

A run is built with everything it needs: the stream it sends through, the stream of an upsert's
edits, how to compare phones with the campaign's spelling, and whom to tell when it is interrupted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Generator
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_thulium.calls.batching import BatchResult
from airflow_provider_thulium.calls.checked import CheckedCall
from airflow_provider_thulium.calls.operations import EDIT_EXISTING, Operation
from airflow_provider_thulium.calls.sending import OnSend, stream_batches
from airflow_provider_thulium.results.results_file import ResultsFile
from airflow_provider_thulium.runs.records_run import OutcomePolicy, RecordsRun
from airflow_provider_thulium.settings import ThuliumSettings
from airflow_provider_thulium.sync.plan import SyncPlan, SyncRun
from airflow_provider_thulium.transport.session import Transport


class RunFactory:
    """Builds the runs of one account's calls, and streams their batches.

    :param transport: the account's transport, which sends the batches.
    :param settings: the account's settings (batch sizes and limits, requests in flight).
    :param spelling_evidence: (campaign, phones) → how the phones are spelled unlike the campaign's
        numbers, as a masked sentence, or ``None`` (see
        :meth:`~airflow_provider_thulium.client.checker.InputChecker.spelling_evidence`).
    :param log: where runs log their progress.
    """

    def __init__(
        self,
        transport: Transport,
        settings: ThuliumSettings,
        spelling_evidence: Callable[[str, list[str]], str | None],
        log: logging.Logger | Any,
    ) -> None:
        self.transport = transport
        self.settings = settings
        self._spelling_evidence = spelling_evidence
        self.log = log

    def start_run(
        self,
        call: CheckedCall,
        policy: OutcomePolicy | None = None,
        results_file: ResultsFile | None = None,
        *,
        on_interrupted: Callable[[RecordsRun], None] | None = None,
    ) -> RecordsRun:
        """A run of a checked call under ``policy``; nothing is sent until the run sends.

        :param call: the checked call.
        :param policy: what counts as success (default: the defaults).
        :param results_file: where every phone's result is written as it arrives (see :class:`RecordsRun`).
        :param on_interrupted: called with the run when a send is interrupted, once every phone has its result.
        """

        def send(items: Collection[Any], on_send: OnSend) -> Generator[BatchResult, None, None]:
            return self.stream(call, items, on_send=on_send)

        def send_edits(edits: Collection[Any], on_send: OnSend) -> Generator[BatchResult, None, None]:
            phones = [edit["phone_number"] for edit in edits]
            edit_call = CheckedCall(EDIT_EXISTING, call.campaign_id, phones, list(edits), False)
            return self.stream(edit_call, on_send=on_send)

        def spelling_evidence(phones: list[str]) -> str | None:
            return self._spelling_evidence(call.campaign_id, phones)

        return RecordsRun(
            call.operation,
            call.campaign_id,
            call.phones,
            send,
            policy or OutcomePolicy(),
            self.log,
            results_file,
            send_edits=send_edits,
            spelling_evidence=spelling_evidence,
            on_interrupted=on_interrupted,
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

        :param plan: the plan.
        :param policy: what counts as success (default: the defaults).
        :param on_interrupted: called with the sync's run when a send is interrupted, once every phone has its result.
        :param failures_only: conclude with the failed phones' entries only.
        """
        policy = policy or OutcomePolicy()

        def start(
            operation: Operation, phones: list[str], items: list[Any], interrupted: Callable[[RecordsRun], None]
        ) -> RecordsRun:
            call = CheckedCall(operation, plan.campaign_id, phones, items, False)
            return self.start_run(call, policy, on_interrupted=interrupted)

        return SyncRun(plan, start, policy, self.log, on_interrupted=on_interrupted, failures_only=failures_only)

    def stream(
        self, call: CheckedCall, items: Collection[Any] | None = None, on_send: OnSend | None = None
    ) -> Generator[BatchResult, None, None]:
        """Send a checked call's items (or some of them) in batches; yield each batch's result in input order.

        Close the generator when stopping early: that cancels the batch queued to be sent next.

        :param call: the checked call.
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
            base_path=urlsplit(self.transport.base_url).path,
        )
        return stream_batches(self.transport, call.operation.method, path, batches, on_send)


__all__ = ["RunFactory"]
