"""Operators that remove and update records of a Thulium outbound campaign, with per-phone results in XCom."""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from contextlib import closing
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import Any, ClassVar

from airflow_provider_thulium.exceptions import ThuliumError, ThuliumPhoneFailuresError
from airflow_provider_thulium.hooks.thulium import BatchResult, ThuliumHook
from airflow_provider_thulium.results import CALL_IN_PROGRESS, DELETE, UPDATE, RecordResults
from airflow_provider_thulium.triggers.thulium import ThuliumCallInProgressWaitTrigger
from airflow_provider_thulium.validation import (
    mask_phone,
    normalize_campaign_id,
    parse_phone_numbers,
    parse_records,
)
from airflow_provider_thulium.version_compat import BaseOperator, Context

XCOM_RESULTS_ALL = "all"
XCOM_RESULTS_FAILURES = "failures"
DEFERRED_RESULTS_KEY = "deferred_results"


class ThuliumRecordsBaseOperator(BaseOperator):
    """What both record operators share: the hook, batching, per-phone results, XCom and the failure policy.

    The task's ``return_value`` XCom is an object keyed by phone number in the API's own shape;
    a second XCom, ``summary``, holds counts per outcome, the failed phones, requests, retries and
    duration. Both are pushed before the task fails.

    :param campaign_id: five-character campaign id, or an int that is zero-padded (``1`` → ``"00001"``). Templated.
    :param search_in_additional_numbers: also match records by their additional numbers. Templated.
    :param thulium_conn_id: the Thulium connection.
    :param fail_on_failed_phones: fail the task when any phone's outcome is a failure (default). With
        ``False`` the task stays green and a downstream task can branch on the XComs. A run stopped
        by an error that is not about single phones (bad credentials, unknown campaign, Thulium
        unreachable) fails the task either way.
    :param xcom_results: ``"all"`` (default) pushes every phone's result; ``"failures"`` only the failed
        phones' (the summary is pushed either way), for campaigns too big for the metadata database.
    :param hook_params: extra :class:`~airflow_provider_thulium.hooks.thulium.ThuliumHook` arguments,
        e.g. ``{"max_concurrent_requests": 4}``.
    """

    template_fields: Sequence[str] = ("campaign_id", "search_in_additional_numbers")
    ui_color = "#e8f1fb"
    kind: ClassVar[str]

    def __init__(
        self,
        *,
        campaign_id: str | int,
        search_in_additional_numbers: bool = False,
        thulium_conn_id: str = ThuliumHook.default_conn_name,
        fail_on_failed_phones: bool = True,
        xcom_results: str = XCOM_RESULTS_ALL,
        hook_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if xcom_results not in (XCOM_RESULTS_ALL, XCOM_RESULTS_FAILURES):
            raise ValueError(f"xcom_results must be 'all' or 'failures', got {xcom_results!r}")
        self.campaign_id = campaign_id
        self.search_in_additional_numbers = search_in_additional_numbers
        self.thulium_conn_id = thulium_conn_id
        self.fail_on_failed_phones = fail_on_failed_phones
        self.xcom_results = xcom_results
        self.hook_params = hook_params or {}

    @cached_property
    def hook(self) -> ThuliumHook:
        """The Thulium hook for this task."""
        return ThuliumHook(self.thulium_conn_id, **self.hook_params)

    # What each operator defines: how its input is checked and how it is sent.

    def _parse_input(self) -> tuple[list[str], list[Any]]:
        """Return the input's phones (each once, in order) and the items to send, or raise a validation error."""
        raise NotImplementedError

    def _stream_batches(self, campaign_id: str, items: list[Any]) -> Generator[BatchResult, None, None]:
        """The hook's batch stream for this operator's call."""
        raise NotImplementedError

    def _new_results(self, campaign_id: str, phones: list[str]) -> RecordResults:
        return RecordResults(self.kind, campaign_id, phones, self.log)

    # The shared path.

    def execute(self, context: Context) -> Any:
        campaign_id = normalize_campaign_id(self.campaign_id)
        phones, items = self._parse_input()
        self.log.info(
            "%s %d phone(s) in campaign %s through connection %s",
            self.kind,
            len(phones),
            campaign_id,
            self.thulium_conn_id,
        )
        results = self._new_results(campaign_id, phones)
        self._send(context, results, items)
        return self._conclude(context, results)

    def _send(self, context: Context, results: RecordResults, items: list[Any]) -> None:
        if not items:
            return
        try:
            # Closed at once on the way out, so a killed task sends no batch that was only queued.
            with closing(self._stream_batches(results.campaign_id, items)) as batches:
                for batch in batches:
                    results.add_batch(batch)
        except BaseException:
            # Killed, timed out or broken mid-run: still leave every phone's result behind.
            self._push_xcoms(context, results, interrupted=True)
            raise

    def _conclude(self, context: Context, results: RecordResults) -> Any:
        """Push the XComs and apply the failure policy; the delete operator first retries calls in progress."""
        value, summary = self._push_xcoms(context, results)
        outcomes = ", ".join(f"{name} {count}" for name, count in summary["outcomes"].items()) or "no phones"
        self.log.info(
            "%s done: %s; %d request(s), %d retries, %.2f s",
            self.kind.upper(),
            outcomes,
            summary["requests"],
            summary["retries"],
            summary["duration_seconds"],
        )
        if summary["stopped_by"] is None and not (self.fail_on_failed_phones and summary["failed"]):
            return value
        message = (
            f"{self.kind} in campaign {results.campaign_id}: "
            f"{summary['failed']} of {summary['phones']} phone(s) failed ({outcomes})"
        )
        if summary["stopped_by"]:
            message += f". The run stopped early: {summary['stopped_by']}"
        raise ThuliumPhoneFailuresError(message + ". First failures: " + "; ".join(results.failure_lines()))

    def _push_xcoms(
        self, context: Context, results: RecordResults, interrupted: bool = False
    ) -> tuple[Any, dict[str, Any]]:
        entries = results.finish(interrupted)
        summary = results.summary()
        value = (
            entries
            if self.xcom_results == XCOM_RESULTS_ALL
            else {phone: entries[phone] for phone in summary["failed_phones"]}
        )
        ti = context["ti"]
        ti.xcom_push(key="summary", value=summary)
        # Pushed here rather than left to `return`: a failing task must still tell downstream tasks
        # (and the user) what happened to every phone, and Airflow pushes a return value only on success.
        ti.xcom_push(key="return_value", value=value)
        return value, summary


class ThuliumDeleteRecordsOperator(ThuliumRecordsBaseOperator):
    """Remove records from a Thulium outbound campaign by phone number (``DELETE batch/outbounds/:id/records``).

    Every record found for a number is removed, duplicates included. A record in a call is not
    removed (``CALL_IN_PROGRESS``); the operator can try those phones again after a delay.

    :param phone_numbers: a list of numbers (str or int), a string of numbers separated by commas,
        whitespace or newlines, or an ``XComArg``. A number listed twice is sent once. Templated.
    :param not_exist_is_success: count ``NOT_EXIST`` (nothing to remove) as a success; default ``True``
        because deleting is idempotent.
    :param call_in_progress_retries: how many more times to try phones whose record was in a call.
    :param call_in_progress_retry_delay: how long to wait before each of those tries.
    :param deferrable: wait for those tries in the triggerer rather than in a worker slot; the requests
        are always sent from the worker when the task resumes.
    """

    template_fields: Sequence[str] = (*ThuliumRecordsBaseOperator.template_fields, "phone_numbers")
    kind = DELETE

    def __init__(
        self,
        *,
        phone_numbers: Any,
        not_exist_is_success: bool = True,
        call_in_progress_retries: int = 0,
        call_in_progress_retry_delay: timedelta | float = timedelta(minutes=1),
        deferrable: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.phone_numbers = phone_numbers
        self.not_exist_is_success = not_exist_is_success
        self.call_in_progress_retries = call_in_progress_retries
        self.call_in_progress_retry_delay = (
            call_in_progress_retry_delay
            if isinstance(call_in_progress_retry_delay, timedelta)
            else timedelta(seconds=call_in_progress_retry_delay)
        )
        self.deferrable = deferrable

    def _parse_input(self) -> tuple[list[str], list[Any]]:
        phones = parse_phone_numbers(self.phone_numbers)
        return phones, phones

    def _stream_batches(self, campaign_id: str, items: list[Any]) -> Generator[BatchResult, None, None]:
        return self.hook.stream_delete_records(campaign_id, items, self.search_in_additional_numbers)

    def _new_results(self, campaign_id: str, phones: list[str]) -> RecordResults:
        return RecordResults(DELETE, campaign_id, phones, self.log, not_exist_is_success=self.not_exist_is_success)

    def _conclude(self, context: Context, results: RecordResults, attempt: int = 0) -> Any:
        while attempt < self.call_in_progress_retries and results.stopped_by is None:
            waiting = results.phones_with_outcome(CALL_IN_PROGRESS)
            if not waiting:
                break
            attempt += 1
            delay = self.call_in_progress_retry_delay
            self.log.info(
                "%d phone(s) had a call in progress (e.g. %s); trying them again in %s (try %d of %d)",
                len(waiting),
                mask_phone(waiting[0]),
                delay,
                attempt,
                self.call_in_progress_retries,
            )
            if self.deferrable:
                # The results so far wait in an XCom (Airflow keeps a task's XComs across a deferral):
                # in the trigger or its event they would be printed, full numbers and all, in its logs.
                state = {**results.to_state(), "attempt": attempt}
                context["ti"].xcom_push(key=DEFERRED_RESULTS_KEY, value=state)
                self.defer(
                    trigger=ThuliumCallInProgressWaitTrigger(datetime.now(timezone.utc) + delay),
                    method_name="execute_complete",
                )
            time.sleep(delay.total_seconds())
            self._send(context, results, waiting)
        return super()._conclude(context, results)

    def execute_complete(self, context: Context, event: Any = None) -> Any:
        """Resume after a deferred wait: send the phones still in a call from the worker, then decide."""
        ti = context["ti"]
        state = ti.xcom_pull(task_ids=ti.task_id, key=DEFERRED_RESULTS_KEY, map_indexes=ti.map_index)
        if not state:
            raise ThuliumError(f"resumed from the wait, but the XCom {DEFERRED_RESULTS_KEY!r} with the results is gone")
        campaign_id = normalize_campaign_id(self.campaign_id)
        results = self._new_results(campaign_id, list(state["results"]))
        results.load_state(state)
        self._send(context, results, results.phones_with_outcome(CALL_IN_PROGRESS))
        return self._conclude(context, results, state["attempt"])


class ThuliumUpdateRecordsOperator(ThuliumRecordsBaseOperator):
    """Edit records of a Thulium outbound campaign (``PUT batch/outbounds/:id/records``).

    :param records: a list of dicts, a JSON string of one, or an ``XComArg``. Each record has
        ``phone_number`` and at least one of ``status_id``, ``dictionary_status_id``, ``agent_login``,
        ``next_call_date`` (``"YYYY-MM-DD hh:mm"`` in the account's time zone, or a datetime; an aware
        one is converted to the connection's ``timezone``) and ``record_fields`` (an object of scalar
        values). A phone may appear once; unknown keys are an error. Templated.
    """

    template_fields: Sequence[str] = (*ThuliumRecordsBaseOperator.template_fields, "records")
    kind = UPDATE

    def __init__(self, *, records: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.records = records

    def _parse_input(self) -> tuple[list[str], list[Any]]:
        records = parse_records(self.records, self.hook.account_timezone)
        return [record["phone_number"] for record in records], records

    def _stream_batches(self, campaign_id: str, items: list[Any]) -> Generator[BatchResult, None, None]:
        return self.hook.stream_update_records(campaign_id, items, self.search_in_additional_numbers)


__all__ = ["ThuliumDeleteRecordsOperator", "ThuliumRecordsBaseOperator", "ThuliumUpdateRecordsOperator"]
