"""One run of a records call, the same for ``@task`` code using the hook and for the operators.

A run sends the input, collects every phone's result, tries phones whose record was in a call
again after a delay, and decides: the results come back, or the error that explains them is
raised with the results attached.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Generator, Iterable
from contextlib import closing
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from airflow_provider_thulium.calls.batching import BatchResult
from airflow_provider_thulium.calls.operations import EDIT_EXISTING, Operation
from airflow_provider_thulium.checks.options import parse_update_fields
from airflow_provider_thulium.checks.spec import ADD_ONLY_FIELDS, EDITABLE_FIELDS
from airflow_provider_thulium.exceptions import ThuliumError, ThuliumPhoneFailuresError, ThuliumValidationError
from airflow_provider_thulium.outcomes import ALREADY_EXISTS, CALL_IN_PROGRESS, RunSummary
from airflow_provider_thulium.privacy import mask_phone
from airflow_provider_thulium.results.accounting import RecordResults
from airflow_provider_thulium.results.batch_log import BatchLog, outcome_counts
from airflow_provider_thulium.results.results_file import ResultsFile
from airflow_provider_thulium.results.writer import ResultsWriter

#: What an add does with a record already in the campaign (``ALREADY_EXISTS``): count it as a
#: success and leave it, edit it with the record's editable fields (an upsert), or count it as a failure.
ON_EXISTING = ("skip", "update", "fail")

#: Keys of an add's entry that its upsert edit keeps: which records the add found or made.
_KEPT_FROM_ADD = ("record_id", "record_ids", "after_lost_answer")

#: Sends some of the run's items and yields each batch's result (a client's stream for the call);
#: calls its second argument with each batch's phones as the batch goes on the wire.
Sender = Callable[[Collection[Any], Callable[[list[str]], None]], Generator[BatchResult, None, None]]
#: Waits before the next try of the phones in a call: (delay, try number). May defer a task instead.
Waiter = Callable[[timedelta, int], None]


@dataclass(frozen=True)
class OutcomePolicy:
    """What a run counts as success, and how it treats records that were in a call.

    :param fail_on_failed_phones: raise :class:`ThuliumPhoneFailuresError` when any phone's outcome
        is a failure. A run stopped by an error that is not about single phones (credentials,
        unknown campaign, Thulium unreachable) raises that error either way.
    :param already_done_is_success: count "already as wanted" outcomes (``NOT_EXIST`` of a delete)
        as a success.
    :param call_in_progress_retries: how many more times to send phones whose record was in a call.
    :param call_in_progress_retry_delay: the wait before each of those tries.
    :param edit_existing: after an add, edit the records that were already there (an upsert).
    :param edit_fields: the fields such an edit may change (``None``: every editable field given).
    """

    fail_on_failed_phones: bool = False
    already_done_is_success: bool = True
    call_in_progress_retries: int = 0
    call_in_progress_retry_delay: timedelta = timedelta(minutes=1)
    edit_existing: bool = False
    edit_fields: frozenset[str] | None = None

    @classmethod
    def for_add(
        cls, on_existing: str, fail_on_failed_phones: bool = False, update_fields: object = None
    ) -> OutcomePolicy:
        """The policy of an add for ``on_existing``, one of :data:`ON_EXISTING`.

        :param on_existing: ``"skip"``, ``"update"`` or ``"fail"``, as the add operator takes it.
        :param fail_on_failed_phones: raise when any phone's outcome is a failure.
        :param update_fields: with ``"update"``, the fields the edit may change (``"status"`` names
            ``status_id``); ``None`` for every editable field given.
        """
        if on_existing not in ON_EXISTING:
            raise ThuliumValidationError(
                f"on_existing: expected one of {', '.join(map(repr, ON_EXISTING))}, got {on_existing!r}"
            )
        return cls(
            fail_on_failed_phones=fail_on_failed_phones,
            already_done_is_success=on_existing != "fail",
            edit_existing=on_existing == "update",
            edit_fields=None if update_fields is None else parse_update_fields(update_fields),
        )

    def __post_init__(self) -> None:
        delay = self.call_in_progress_retry_delay
        if not isinstance(delay, timedelta):
            object.__setattr__(self, "call_in_progress_retry_delay", timedelta(seconds=float(delay)))


class RecordsRun:
    """Sends one call's items for one campaign and keeps every phone's result.

    :param operation: the call.
    :param campaign_id: the (validated) campaign id.
    :param phones: every input phone, in input order, each once.
    :param send: the client's stream for this call.
    :param policy: what counts as success, and the calls-in-progress tries.
    :param log: where progress is logged.
    :param results_file: where every phone's result is written as it arrives; the results then
        keep in memory only the phones a later try may change.
    :param send_edits: sends edits of records an add found already there (an upsert's second
        half, when the policy asks for it).
    :param spelling_evidence: compares phones that mostly answered "already done" with how the
        campaign spells its numbers (see :class:`~airflow_provider_thulium.results.accounting.RecordResults`).
    :param on_interrupted: called with the run when a send is interrupted, after every phone got its
        result (an operator pushes its XComs there, since a failing task returns nothing).
    """

    def __init__(
        self,
        operation: Operation,
        campaign_id: str,
        phones: Collection[str],
        send: Sender,
        policy: OutcomePolicy,
        log: logging.Logger | Any,
        results_file: ResultsFile | None = None,
        *,
        send_edits: Sender | None = None,
        spelling_evidence: Callable[[list[str]], str | None] | None = None,
        on_interrupted: Callable[[RecordsRun], None] | None = None,
    ) -> None:
        self.operation = operation
        self.policy = policy
        self.log = log
        self._send = send
        self._send_edits = send_edits
        self._on_interrupted = on_interrupted
        success = operation.success_outcomes(policy.already_done_is_success)
        writer = None
        if results_file is not None:
            # Phones a later step may change stay in memory, to be written again with their final result.
            held = {CALL_IN_PROGRESS} if policy.call_in_progress_retries else set()
            held |= {ALREADY_EXISTS} if policy.edit_existing else set()
            writer = ResultsWriter(results_file, frozenset(held))
        self.results = RecordResults(
            operation,
            campaign_id,
            phones,
            success,
            BatchLog(operation.name, campaign_id, log, success),
            writer,
            spelling_evidence,
        )

    def send(self, items: Collection[Any]) -> None:
        """Send ``items`` and record each batch.

        On any exception (a task killed or timed out included), the results are finished before it
        propagates, so nothing is lost: phones whose request was on the wire are ``INTERRUPTED``,
        phones never sent ``NOT_SENT``, and the summary's ``stopped_by`` names the exception.

        :param items: the phones or records to send.
        """
        if items:
            try:
                self._record(self._send, items)
            finally:
                self.results.send_ended()

    def send_all(self, items: Collection[Any]) -> None:
        """Send the input, then the edits of an upsert when the policy asks for them.

        :param items: the run's whole input.
        """
        self.send(items)
        self.results.input_sent()
        if self.policy.edit_existing and self._send_edits is not None:
            self.edit_existing(items, self._send_edits)

    def _record(self, send: Sender, items: Collection[Any], read_as: Operation | None = None) -> None:
        try:
            # Closed at once on the way out, so a stopped run sends no batch that was only queued.
            with closing(send(items, self.results.note_sent)) as batches:
                for batch in batches:
                    self.results.add_batch(batch, read_as)
        except BaseException as exc:
            self.results.interrupted(exc)
            if self._on_interrupted is not None:
                self._on_interrupted(self)
            raise

    def retry_calls_in_progress(self, wait: Waiter | None = None, done: int = 0) -> None:
        """Send phones whose record was in a call again, up to the policy's number of tries.

        :param wait: waits before each try (default: sleep). An operator's may defer the task
            instead; it then resumes here with ``done`` tries already made.
        :param done: tries already made.
        """
        policy = self.policy
        while done < policy.call_in_progress_retries and self.results.stop_error is None:
            waiting = self.results.phones_with_outcome(CALL_IN_PROGRESS)
            if not waiting:
                return
            done += 1
            delay = policy.call_in_progress_retry_delay
            self.log.info(
                "%d phone(s) had a call in progress (e.g. %s); trying them again in %s (try %d of %d)",
                len(waiting),
                mask_phone(waiting[0]),
                delay,
                done,
                policy.call_in_progress_retries,
            )
            (wait or _sleep)(delay, done)
            self.send(waiting)

    def edit_existing(self, records: Iterable[dict[str, Any]], send_edits: Sender) -> None:
        """The second half of an upsert: edit the records an add found already there.

        Each record of a phone whose outcome is ``ALREADY_EXISTS`` is sent as an edit with its
        editable fields (only the policy's ``edit_fields``, when it names some); its entry becomes
        the edit's result (``UPDATED`` or ``UPDATE_FAILED``)
        with the existing ``record_id``. A record with nothing to edit stays ``ALREADY_EXISTS``.
        Add-only fields cannot be edited: a warning says how many records had them. After an error
        that stopped the run (credentials, Thulium unavailable...) no edit is sent: those records
        are ``NOT_SENT``.
        """
        existing = set(self.results.phones_with_outcome(ALREADY_EXISTS))
        editable = EDITABLE_FIELDS if self.policy.edit_fields is None else self.policy.edit_fields | {"phone_number"}
        edits: list[dict[str, Any]] = []
        edited: list[str] = []
        add_only = 0
        for record in records:
            phone = record["phone_number"]
            if phone not in existing:
                continue
            edit = {key: value for key, value in record.items() if key in editable}
            add_only += any(key in ADD_ONLY_FIELDS for key in record)
            if len(edit) > 1:
                edits.append(edit)
                edited.append(phone)
        if add_only:
            self.results.add_warning(
                f"{add_only} record(s) already in campaign {self.results.campaign_id} hold "
                f"{' or '.join(sorted(ADD_ONLY_FIELDS))}, which an edit cannot change; their other fields were edited"
            )
        if not edits:
            return
        campaign = self.results.campaign_id
        # What the add's answer said about each record, kept on the entry its edit's result replaces.
        kept = {
            phone: {key: entry[key] for key in _KEPT_FROM_ADD if key in entry}
            for phone in edited
            if isinstance(entry := self.results.results[phone], dict)
        }
        self.results.forget(edited)
        try:
            if self.results.stop_error is not None:
                # An error later batches would share stopped the add: the edits would meet it too.
                self.log.info("%d record(s) already in campaign %s: not edited, the run stopped", len(edits), campaign)
                # Every phone without an entry now was never sent, these edits included: NOT_SENT.
                self.results.finish()
                return
            self.log.info("%d record(s) already in campaign %s: editing them", len(edits), campaign)
            self._record(send_edits, edits, read_as=EDIT_EXISTING)
        finally:
            self.results.add_fields(kept)

    def conclude(self) -> tuple[dict[str, Any], RunSummary, ThuliumError | None]:
        """Finish the results and decide: every phone's entry, the summary, and the error to raise (or ``None``).

        The error is the one that ended the run early, with its own class (credentials, unknown
        campaign...), else the results file's when it could not be written (every phone's result is
        then in the entries, read back), or :class:`ThuliumPhoneFailuresError` when single phones
        failed and the policy says so. Either way it carries every phone's result in ``results``.
        """
        entries = self.results.finish()
        summary = self.results.summary()
        outcomes = outcome_counts(summary["outcomes"]) or "no phones"
        self.log.info(
            "%s done: %s; %d request(s), %d retries, %.2f s",
            self.operation.name.upper(),
            outcomes,
            summary["requests"],
            summary["retries"],
            summary["duration_seconds"],
        )
        for warning in summary["warnings"]:
            self.log.warning("%s", warning)
        error: ThuliumError | None = None
        stop_error = self.results.stop_error
        if isinstance(stop_error, ThuliumError):
            error = stop_error
        elif self.results.file_error is not None:
            # Sent, but the results file could not be written: a retry would send it all again.
            error = self.results.file_error
        elif self.policy.fail_on_failed_phones and summary["failed"]:
            error = ThuliumPhoneFailuresError(
                f"{self.operation.name} in campaign {summary['campaign_id']}: "
                f"{summary['failed']} of {summary['phones']} phone(s) failed ({outcomes}). "
                f"First failures: {'; '.join(self.results.failure_lines())}"
            )
        if error is not None:
            error.results = entries
        return entries, summary, error

    def run(self, items: Collection[Any], wait: Waiter | None = None) -> dict[str, Any]:
        """Send everything, try calls in progress again, and return every phone's result or raise."""
        self.send_all(items)
        self.retry_calls_in_progress(wait)
        entries, _, error = self.conclude()
        if error is not None:
            raise error
        return entries


def _sleep(delay: timedelta, done: int) -> None:
    time.sleep(delay.total_seconds())
