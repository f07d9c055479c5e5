"""Operators that add, edit and remove records of a Thulium outbound campaign, with per-phone results in XCom.

One base carries the shared path (check, run, XCom, failure policy); each operator declares its
call and its input.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from functools import cached_property
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from airflow_provider_thulium import lineage
from airflow_provider_thulium.calls.operations import ADD, DELETE, UPDATE, Operation
from airflow_provider_thulium.checks.options import parse_dry_run, parse_max_removals, parse_update_fields
from airflow_provider_thulium.checks.records import as_sequence, parse_flag
from airflow_provider_thulium.client import CheckedCall
from airflow_provider_thulium.destinations.export import check_filters
from airflow_provider_thulium.destinations.record_columns import ExportColumns, check_column_keys
from airflow_provider_thulium.destinations.writers import Destination
from airflow_provider_thulium.exceptions import (
    ThuliumError,
    ThuliumPhoneFailuresError,
    ThuliumSyncGuardError,
    ThuliumValidationError,
)
from airflow_provider_thulium.files.paths import paths_read, same_file
from airflow_provider_thulium.hooks.thulium import ThuliumHook
from airflow_provider_thulium.outcomes import CALL_IN_PROGRESS, ExportSummary, RunSummary
from airflow_provider_thulium.privacy import hide_url_credentials
from airflow_provider_thulium.results.deferral import DeferralState
from airflow_provider_thulium.results.results_file import ResultsFile, check_results_path, results_format
from airflow_provider_thulium.runs.records_run import OutcomePolicy, RecordsRun, Waiter
from airflow_provider_thulium.sources.readers import Source
from airflow_provider_thulium.sync.plan import (
    DEFAULT_MAX_REMOVALS,
    DEFAULT_UPDATE_FIELDS,
    GUARD_PASSED,
    GUARD_REFUSED,
    UNCHANGED_ENTRY,
    SyncRun,
    check_guard,
)
from airflow_provider_thulium.sync.state import state_file
from airflow_provider_thulium.version_compat import BaseOperator, Context, DateTimeTrigger, conf

XCOM_RESULTS_ALL = "all"
XCOM_RESULTS_FAILURES = "failures"
DEFERRED_RESULTS_KEY = "deferred_results"


class RenderedInput:
    """An operator's rendered input (phone numbers, records), whole for the task, a count for Airflow's records.

    Airflow keeps every template field's rendered value (the UI's "Rendered Template" view, the
    ``rendered_task_instance_fields`` table) for as long as the task instance exists; phone numbers
    are personal data. After rendering, the operator's input field holds this stand-in: Airflow
    stores its text, e.g. ``<5 phone numbers>``, and the task reads :attr:`value`.

    :param value: the rendered input.
    :param noun: what one item of it is called (``"phone number"``, ``"record"``).
    """

    __slots__ = ("text", "value")

    def __init__(self, value: Any, noun: str) -> None:
        #: The rendered input, as the task uses it.
        self.value = value
        if isinstance(value, Source):
            self.text = f"<{noun}s from {value.describe()}>"
        elif isinstance(value, (list, tuple)):
            self.text = f"<{len(value)} {noun}{'' if len(value) == 1 else 's'}>"
        elif isinstance(value, str):
            self.text = f"<{noun}s as text, {len(value)} characters>"
        else:
            self.text = f"<{noun}s: {type(value).__name__}>"

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__


class ThuliumRecordsBaseOperator(BaseOperator):
    """What the record operators share: the hook, the run, per-phone results in XCom and the failure policy.

    The task's ``return_value`` XCom is an object keyed by phone number in the API's own shape
    (or, with ``results_path``, the path of the file holding them); a second XCom, ``summary``,
    holds counts per outcome, the failed phones, requests, retries and duration
    (:class:`~airflow_provider_thulium.outcomes.RunSummary`). Both are pushed before the task fails.

    :param campaign_id: five-character campaign id, or an int that is zero-padded (``1`` → ``"00001"``). Templated.
    :param search_in_additional_numbers: also match records by their additional numbers. Templated.
    :param thulium_conn_id: the Thulium connection.
    :param fail_on_failed_phones: fail the task when any phone's outcome is a failure (default). With
        ``False`` the task stays green and a downstream task can branch on the XComs. A run stopped
        by an error that is not about single phones (bad credentials, unknown campaign, Thulium
        unreachable) fails the task either way, with that error.
    :param xcom_results: ``"all"`` (default) pushes every phone's result; ``"failures"`` only the failed
        phones' (the summary is pushed either way), for campaigns too big for the metadata database.
    :param hook_params: extra :class:`~airflow_provider_thulium.hooks.thulium.ThuliumHook` arguments,
        e.g. ``{"max_concurrent_requests": 4}``.
    :param results_path: write every phone's result to this file instead of XCom, in input order, as
        the results arrive: ``.jsonl`` (one object per phone: ``phone_number``, ``outcome``,
        ``succeeded``, ``result``) or ``.csv`` (``phone_number, outcome, succeeded, http_status,
        record_id, message``). A local path or an object-storage URL (``s3://``...). The
        ``return_value`` XCom is then the path, and ``summary`` gains ``results_path``. Written on
        failure too; a retried task overwrites it. Templated.
    :param results_conn_id: the connection for an object-storage ``results_path``.
    :param kwargs: the arguments of Airflow's ``BaseOperator`` (``task_id``, ``retries``, ...).

    Phone numbers stay out of Airflow's rendered fields: once rendered, the input field holds a
    :class:`RenderedInput`, which Airflow stores as a count (``<5 phone numbers>``).

    With the OpenLineage provider installed, the task's events name the campaign as their output
    (see :meth:`get_openlineage_facets_on_complete`).
    """

    template_fields: Sequence[str] = ("campaign_id", "search_in_additional_numbers", "results_path")
    ui_color = "#e8f1fb"
    #: The call this operator makes.
    operation: ClassVar[Operation]
    #: The attribute holding the call's input.
    input_field: ClassVar[str]
    #: What one item of the input is called in the rendered-fields stand-in (``<5 records>``).
    input_noun: ClassVar[str] = "record"

    def __init__(
        self,
        *,
        campaign_id: str | int,
        search_in_additional_numbers: bool = False,
        thulium_conn_id: str = ThuliumHook.default_conn_name,
        fail_on_failed_phones: bool = True,
        xcom_results: str = XCOM_RESULTS_ALL,
        hook_params: dict[str, Any] | None = None,
        results_path: str | None = None,
        results_conn_id: str | None = None,
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
        self.results_path = results_path
        self.results_conn_id = results_conn_id
        if isinstance(results_path, str) and results_path and "{{" not in results_path:
            results_format(results_path)  # a wrong extension fails when the DAG is parsed, not after the run
        self.deferrable = False
        # How many phones Thulium applied, for the lineage report; a count only, never the phones.
        self._phones_applied: int | None = None

    @cached_property
    def hook(self) -> ThuliumHook:
        """The Thulium hook for this task."""
        return ThuliumHook(self.thulium_conn_id, **self.hook_params)

    def applied_outcomes(self) -> frozenset[str]:
        """The outcomes of phones Thulium applied (the lineage's ``rowCount``): the call's successes."""
        return self.operation.succeeded

    def outcome_policy(self) -> OutcomePolicy:
        """What this task counts as success; the delete operator adds its calls-in-progress tries."""
        return OutcomePolicy(fail_on_failed_phones=self.fail_on_failed_phones)

    def execute(self, context: Context) -> Any:
        """Check the input, send it, push the XComs and decide the task's state.

        :param context: the task's Airflow context.
        :return: the per-phone results (the ``return_value`` XCom).
        """
        self._check_results_path()
        call = self._check()
        self._check_results_path(len(call.phones))  # its room, now that the phones are counted
        self.log.info(
            "%s %d phone(s) in campaign %s through connection %s",
            self.operation.name,
            len(call.phones),
            call.campaign_id,
            self.thulium_conn_id,
        )
        run = self._start(context, call)
        run.send_all(call.items)
        run.retry_calls_in_progress(self._waiter(context, run))
        return self._conclude(context, run)

    def execute_complete(self, context: Context, event: Any = None) -> Any:
        """Resume after a deferred wait: send the phones still in a call from the worker, then decide.

        :param context: the task's Airflow context.
        :param event: the trigger's event (the wait carries nothing: the results so far are in XCom).
        """
        ti = context["ti"]
        saved = ti.xcom_pull(task_ids=ti.task_id, key=DEFERRED_RESULTS_KEY, map_indexes=ti.map_index)
        if not saved:
            raise ThuliumError(f"resumed from the wait, but the XCom {DEFERRED_RESULTS_KEY!r} with the results is gone")
        state = DeferralState.from_json(saved)
        # A source is not read again: only the phones still in a call are sent from here.
        call = self._check(resuming=list(state.results))
        run = self._start(context, call)
        run.results.load_state(state)
        run.send(run.results.phones_with_outcome(CALL_IN_PROGRESS))
        run.retry_calls_in_progress(self._waiter(context, run), done=saved["attempt"])
        return self._conclude(context, run)

    def _do_render_template_fields(
        self, parent: Any, template_fields: Any, context: Any, jinja_env: Any, seen_oids: set[int]
    ) -> None:
        # Airflow calls this to render the operator's own fields, mapped or not, on 2.11 and 3.x, and
        # stores the fields' values right after: the input is wrapped here so that what it stores
        # is a count, not the phone numbers (see RenderedInput).
        super()._do_render_template_fields(parent, template_fields, context, jinja_env, seen_oids)
        if parent is self and not isinstance(getattr(self, self.input_field), RenderedInput):
            setattr(self, self.input_field, RenderedInput(getattr(self, self.input_field), self.input_noun))

    def _check_results_path(self, phones: int = 0) -> None:
        """Refuse a rendered ``results_path`` that cannot be written before anything is sent: the results
        of a run already applied would otherwise have nowhere to go.

        Its format, that it is not the input's own file, its folder (made if missing) and that it
        takes a file; with ``phones``, the room their lines need on a local disk.
        """
        if self.results_path:
            check_results_path(self.results_path, self.results_conn_id, self._files_read(), phones)

    def _files_read(self) -> list[Any]:
        """The files the task reads its input from (never to be overwritten by its results)."""
        return paths_read(self._input())

    def _input(self, resuming: list[str] | None = None) -> Any:
        """The call's input as the task uses it (what a :class:`RenderedInput` stands in for).

        :param resuming: the phones still to send after a deferral: a source is not read again.
        """
        raw = getattr(self, self.input_field)
        raw = raw.value if isinstance(raw, RenderedInput) else raw
        return resuming if resuming is not None and isinstance(raw, Source) else raw

    def _check(self, resuming: list[str] | None = None) -> CheckedCall:
        return self.hook.client.check(
            self.operation, self.campaign_id, self._input(resuming), self.search_in_additional_numbers
        )

    def _start(self, context: Context, call: CheckedCall) -> RecordsRun:
        results_file = ResultsFile(self.results_path, self.results_conn_id) if self.results_path else None

        def interrupted(stopped: RecordsRun) -> None:
            # Killed, timed out or broken mid-run: still leave every phone's result behind.
            results = stopped.results
            self._push_xcoms(
                context, results.results, results.summary(), returning=False, written=results.file_error is None
            )

        return self.hook.client.start_run(call, self.outcome_policy(), results_file, on_interrupted=interrupted)

    def _waiter(self, context: Context, run: RecordsRun) -> Waiter | None:
        if not self.deferrable:
            return None

        def defer(delay: timedelta, done: int) -> None:
            # The results so far wait in an XCom (Airflow keeps a task's XComs across a deferral):
            # in the trigger or its event they would be printed, full numbers and all, in its logs.
            state = run.results.to_state().to_json()
            if run.results.file_error is not None:
                # The results file, which the task would read back on resuming, could not be written:
                # no wait then; every phone's result goes to XCom and the file's error fails the task.
                self._conclude(context, run)
            context["ti"].xcom_push(key=DEFERRED_RESULTS_KEY, value={**state, "attempt": done})
            self.defer(trigger=DateTimeTrigger(datetime.now(timezone.utc) + delay), method_name="execute_complete")

        return defer

    def _conclude(self, context: Context, run: RecordsRun) -> Any:
        entries, summary, error = run.conclude()
        written = run.results.file_error is None
        value = self._push_xcoms(context, entries, summary, returning=error is None, written=written)
        if error is not None:
            raise error
        return value

    def _push_xcoms(
        self, context: Context, entries: dict[str, Any], summary: RunSummary, *, returning: bool, written: bool = True
    ) -> Any:
        """Push the summary, and the results unless the task is about to return them (Airflow pushes those).

        With ``results_path``, the results are the file's path; when the file could not be written
        (``written`` false), every phone's result instead, as without ``results_path``.
        Also keeps the number of phones applied for :meth:`get_openlineage_facets_on_complete`.
        """
        self._phones_applied = sum(summary["outcomes"].get(outcome, 0) for outcome in self.applied_outcomes())
        value: Any
        if self.results_path and written:
            value = str(self.results_path)
            summary = {**summary, "results_path": value}
        elif self.xcom_results == XCOM_RESULTS_ALL:
            value = entries
        else:
            value = {phone: entries[phone] for phone in summary["failed_phones"]}
        if self.do_xcom_push:
            ti = context["ti"]
            ti.xcom_push(key="summary", value=summary)
            if not returning:
                # A failing task must still tell downstream tasks (and the user) what happened to
                # every phone, and Airflow pushes a return value only on success.
                ti.xcom_push(key="return_value", value=value)
        return value

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """What the task wrote and read, for the OpenLineage provider (called after the task ran).

        - output: the campaign, as namespace ``thulium://<account host>[:port]`` and name
          ``outbounds/<campaign_id>``, with an ``outputStatistics`` facet whose ``rowCount`` is the
          number of phones Thulium applied (removed, updated or added; not ``NOT_EXIST`` or
          ``ALREADY_EXISTS``);
        - output: the file of ``results_path``, when the operator writes its results to one;
        - inputs: the file or the tables of the input, when it is a source (a file or a query).

        A failed task's events carry the same (the OpenLineage provider falls back to this method),
        with the phones applied before it failed; a task refused before anything was sent names no
        campaign. Imports OpenLineage only when called.

        :param task_instance: the task instance that ran (unused: the operator kept what it needs).
        """
        from airflow.providers.common.compat.openlineage.facet import (
            OutputDataset,
            OutputStatisticsOutputDatasetFacet,
        )
        from airflow.providers.openlineage.extractors import OperatorLineage

        outputs = []
        if self._phones_applied is not None:  # else the run never started: refused input, or no connection
            outputs.append(
                OutputDataset(
                    namespace=lineage.account_namespace(self.hook.base_url),
                    name=lineage.campaign_name(self.campaign_id),
                    outputFacets={
                        "outputStatistics": OutputStatisticsOutputDatasetFacet(rowCount=self._phones_applied)
                    },
                )
            )
        results_path = getattr(self, "results_path", None)
        if results_path and self._phones_applied is not None:  # a run that never started wrote no file
            namespace, name = lineage.file_dataset(results_path)
            outputs.append(OutputDataset(namespace=namespace, name=name))
        return OperatorLineage(inputs=lineage.source_inputs(self._input()), outputs=outputs)


class ThuliumDeleteRecordsOperator(ThuliumRecordsBaseOperator):
    """Remove records from a Thulium outbound campaign by phone number (``DELETE batch/outbounds/:id/records``).

    Every record found for a number is removed, duplicates included. A record in a call is not
    removed (``CALL_IN_PROGRESS``); the operator can try those phones again after a delay.

    :param phone_numbers: a list of numbers (str or int), a string of numbers separated by commas,
        whitespace or newlines, or an ``XComArg``. A number listed twice is sent once; one number written
        with spaces (``"+48 500 100 201"``) is refused, not split. Templated.
    :param not_exist_is_success: count ``NOT_EXIST`` (nothing to remove) as a success; default ``True``
        because deleting is idempotent.
    :param call_in_progress_retries: how many more times to try phones whose record was in a call.
    :param call_in_progress_retry_delay: how long to wait before each of those tries.
    :param deferrable: wait for those tries in the triggerer rather than in a worker slot; the requests
        are always sent from the worker when the task resumes. Default: Airflow's
        ``[operators] default_deferrable`` (``False`` unless set).
    :param kwargs: the arguments of :class:`ThuliumRecordsBaseOperator` and Airflow's ``BaseOperator``.
    """

    template_fields: Sequence[str] = (*ThuliumRecordsBaseOperator.template_fields, "phone_numbers")
    operation = DELETE
    input_field = "phone_numbers"
    input_noun = "phone number"

    def __init__(
        self,
        *,
        phone_numbers: Any,
        not_exist_is_success: bool = True,
        call_in_progress_retries: int = 0,
        call_in_progress_retry_delay: timedelta | float = timedelta(minutes=1),
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
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

    def outcome_policy(self) -> OutcomePolicy:
        return OutcomePolicy(
            fail_on_failed_phones=self.fail_on_failed_phones,
            already_done_is_success=self.not_exist_is_success,
            call_in_progress_retries=self.call_in_progress_retries,
            call_in_progress_retry_delay=self.call_in_progress_retry_delay,
        )


class ThuliumUpdateRecordsOperator(ThuliumRecordsBaseOperator):
    """Edit records of a Thulium outbound campaign (``PUT batch/outbounds/:id/records``).

    :param records: a list of dicts, a JSON string of one, or an ``XComArg``. Each record has
        ``phone_number`` and at least one of ``status_id``, ``dictionary_status_id``, ``agent_login`` (one of
        the campaign's agents, checked before sending), ``next_call_date`` (``"YYYY-MM-DD hh:mm"`` in the
        account's time zone, seconds dropped, or a datetime; an aware
        one is converted to the connection's ``timezone``) and ``record_fields`` (an object of scalar
        values). A phone may appear once; unknown keys are an error. Templated.
    :param kwargs: the arguments of :class:`ThuliumRecordsBaseOperator` and Airflow's ``BaseOperator``.
    """

    template_fields: Sequence[str] = (*ThuliumRecordsBaseOperator.template_fields, "records")
    operation = UPDATE
    input_field = "records"

    def __init__(self, *, records: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.records = records


class ThuliumAddRecordsOperator(ThuliumRecordsBaseOperator):
    """Add records to a Thulium outbound campaign (``POST batch/outbounds/:id/records``).

    :param records: a list of dicts, a JSON string of one, or an ``XComArg``. Each record has
        ``phone_number`` and any of ``status`` (a status's name as shown in Thulium, or a system
        status that exactly one of the campaign's statuses has) or ``status_id``,
        ``dictionary_status_id``, ``identifier``, ``agent_login``, ``next_call_date``,
        ``record_fields`` and ``order``. A phone may appear once; unknown keys are an error. Templated.
    :param on_existing: what to do with a record already in the campaign: ``"skip"`` (default) counts
        ``ALREADY_EXISTS`` as a success, so a re-run or a retried task is safe; ``"update"`` edits it
        with the record's editable fields (an upsert; ``identifier`` and ``order`` cannot be edited);
        ``"fail"`` counts it as a failure.
    :param update_fields: with ``on_existing="update"``, the only fields edited on records already
        there, e.g. ``["record_fields"]`` (``"status"`` names ``status_id``). The default, every
        editable field given, overwrites what agents set: a ``status`` sent for every lead every
        night puts leads an agent marked *Not interested* back into the dialler. To keep agents'
        work, name the fields your CRM owns, or use :class:`ThuliumSyncCampaignOperator`.
    :param kwargs: the arguments of :class:`ThuliumRecordsBaseOperator` (except
        ``search_in_additional_numbers``, which the add call does not take) and Airflow's ``BaseOperator``.
    """

    template_fields: Sequence[str] = ("campaign_id", "records", "results_path")
    operation = ADD
    input_field = "records"

    def __init__(
        self, *, records: Any, on_existing: str = "skip", update_fields: Sequence[str] | None = None, **kwargs: Any
    ) -> None:
        if kwargs.get("search_in_additional_numbers"):
            # The add call takes no such flag (docs/thulium-api.md, "POST"): refused, not sent unasked.
            raise ValueError("search_in_additional_numbers does not apply to adding records")
        super().__init__(**kwargs)
        OutcomePolicy.for_add(on_existing, update_fields=update_fields)  # bad values fail when the DAG is parsed
        self.records = records
        self.on_existing = on_existing
        self.update_fields = update_fields

    def outcome_policy(self) -> OutcomePolicy:
        return OutcomePolicy.for_add(self.on_existing, self.fail_on_failed_phones, self.update_fields)


class ThuliumSyncCampaignOperator(ThuliumRecordsBaseOperator):
    """Make a campaign match a desired set of records in one task: a plan, then only the changes.

    The campaign is read once (pages read concurrently up to ``max_concurrent_requests``); per phone
    the plan is ``ADD`` (not in the campaign), ``UPDATE`` (an owned field differs, or cannot be read
    back: only those fields are sent), ``UNCHANGED``, or ``REMOVE`` (with ``remove_missing``). A
    desired phone held by several records cannot be edited by phone: it is left, and counted under
    ``duplicates``. The changes go through the add, update and delete calls (batching, retries,
    outcome policy). The ``summary`` XCom gains ``plan`` (counts); each phone's ``return_value``
    entry is ``{"action": ..., "result": ...}``.

    :param records: the desired records, keyed by ``phone_number``, with the keys
        :class:`ThuliumAddRecordsOperator` takes: a list, a JSON string of one, an ``XComArg``, or a source
        (:class:`~airflow_provider_thulium.sources.SqlSource`, :class:`~airflow_provider_thulium.sources.FileSource`).
        Templated.
    :param update_fields: the fields the CRM owns on records already in the campaign (default
        ``("record_fields",)``; ``"status"`` names ``status_id``). The records' other fields
        (``status``, ``agent_login``, ``next_call_date``...) are used only when a record is added,
        so what agents do in Thulium is kept unless you say the CRM owns it.
    :param remove_missing: remove the campaign's records whose phone is not in ``records``.
    :param max_removals: the most phones a plan may remove (each with all its records): an int, or a
        float below 1 as a fraction of the campaign's records (default ``0.1``). A plan removing more
        fails the task before any write with
        :class:`~airflow_provider_thulium.exceptions.ThuliumSyncGuardError` (no retries; the plan's
        counts in the message and the ``summary`` XCom, ``summary["guard"]`` ``"refused"``, the whole
        plan in ``results_path``). So does an empty ``records`` for a campaign that is not empty: a CRM
        query that returned nothing never empties a campaign. Templated: ``"{{ params.max_removals }}"``
        lets a run's ``params`` / ``dag_run.conf`` approve a large removal once.
    :param dry_run: compute and report the plan (XComs as a run's, ``summary["dry_run"]`` true, the
        whole plan in ``results_path``) and write nothing: only reads are sent. A dry run never fails
        on the guard: ``summary["guard"]`` says ``"refused"``. Templated (as the attribute ``plan_only``).
    :param state_path: a file (an ``ObjectStoragePath`` or a path) keeping a fingerprint of what the
        sync last applied per phone: owned fields Thulium's records answer does not show
        (``record_fields`` in the vendor's documented answer, ``dictionary_status_id``) are then sent
        only when they changed since. Written after the run, failed or not, with only what Thulium
        confirmed. A change made by hand in Thulium to such a field is not seen. Templated.
    :param exclude: a do-not-call list: phones never added or updated, and removed from the campaign
        whatever ``remove_missing`` says (their removals do not count against ``max_removals``): a
        list, a string of them, an ``XComArg``, or a source, as ``ThuliumDeleteRecordsOperator``'s
        ``phone_numbers``. ``summary["plan"]["excluded"]`` counts those found; their entries say
        ``"excluded": true``. Templated.
    :param results_include_unchanged: write the phones the plan leaves as they are to ``results_path``
        (default ``True``). ``False`` leaves out every plain ``UNCHANGED`` entry, so a nightly file
        holds the night's changes; those with a ``reason`` (a phone held by several records, an
        excluded phone) stay, and the ``summary`` counts them all.
    :param call_in_progress_retries: how many more times to try removals whose record was in a call.
    :param call_in_progress_retry_delay: how long to wait before each of those tries.
    :param kwargs: the arguments of :class:`ThuliumRecordsBaseOperator` (except
        ``search_in_additional_numbers``: records are matched by phone) and Airflow's ``BaseOperator``.
    """

    # dry_run is kept as plan_only: BaseOperator has a dry_run() method of its own.
    template_fields: Sequence[str] = (
        "campaign_id",
        "records",
        "exclude",
        "max_removals",
        "plan_only",
        "state_path",
        "results_path",
    )
    operation = ADD
    input_field = "records"

    def __init__(
        self,
        *,
        records: Any,
        update_fields: Sequence[str] = DEFAULT_UPDATE_FIELDS,
        remove_missing: bool = False,
        max_removals: int | float = DEFAULT_MAX_REMOVALS,
        dry_run: bool = False,
        state_path: Any = None,
        exclude: Any = None,
        results_include_unchanged: bool = True,
        call_in_progress_retries: int = 0,
        call_in_progress_retry_delay: timedelta | float = timedelta(minutes=1),
        **kwargs: Any,
    ) -> None:
        if kwargs.get("search_in_additional_numbers"):
            raise ValueError("search_in_additional_numbers does not apply to a sync: records are matched by phone")
        super().__init__(**kwargs)
        # Checked when the DAG is parsed: a typo in a field name must not wait for the night's run.
        parse_update_fields(update_fields)
        if not (isinstance(max_removals, str) and "{{" in max_removals):  # a template is checked once rendered
            parse_max_removals(max_removals)
        self.exclude = exclude
        self.records = records
        self.update_fields = update_fields
        self.remove_missing = remove_missing
        self.max_removals = max_removals
        self.plan_only = dry_run
        self.state_path = state_path
        self.results_include_unchanged = parse_flag(results_include_unchanged, "results_include_unchanged")
        self.call_in_progress_retries = call_in_progress_retries
        self.call_in_progress_retry_delay = call_in_progress_retry_delay

    def applied_outcomes(self) -> frozenset[str]:
        """Added, edited and removed records: the sync's three calls."""
        return ADD.succeeded | UPDATE.succeeded | DELETE.succeeded

    def outcome_policy(self) -> OutcomePolicy:
        return OutcomePolicy(
            fail_on_failed_phones=self.fail_on_failed_phones,
            call_in_progress_retries=self.call_in_progress_retries,
            call_in_progress_retry_delay=self.call_in_progress_retry_delay,  # type: ignore[arg-type]
        )

    def execute(self, context: Context) -> Any:
        self._check_results_path()
        limit = parse_max_removals(self.max_removals)
        dry_run = parse_dry_run(self.plan_only)
        state_path = self.state_path
        if isinstance(state_path, str):
            state_path = state_file(state_path)
        if state_path is not None and self.results_path and same_file(state_path, self.results_path):
            raise ThuliumValidationError(
                f"results_path and state_path name one file ({hide_url_credentials(str(self.results_path))}): "
                "each would overwrite the other; give them two paths"
            )
        client = self.hook.client
        plan = client.plan_sync(
            self.campaign_id,
            self._input(),
            update_fields=self.update_fields,
            remove_missing=self.remove_missing,
            state_path=state_path,
            exclude=self._exclude(),
        )
        try:
            check_guard(plan, limit)
        except ThuliumSyncGuardError as refused:
            if not dry_run:
                # Nothing is sent: the whole plan for the reviewer, then the failure (fail-fast). The
                # results file says so, rather than yesterday's results staying in its place.
                refused_summary: Any = {**plan.summary(guard=GUARD_REFUSED), "stopped_by": str(refused)}
                written = self._write_results(plan.entries(), refused_summary, {}) is None
                if self.do_xcom_push:
                    if self.results_path:
                        self._push_xcoms(context, plan.entries(), refused_summary, returning=False, written=written)
                    else:
                        context["ti"].xcom_push(key="summary", value=refused_summary)
                raise
            self.log.warning("dry run: the guard would refuse this plan: %s", refused)
            guard = GUARD_REFUSED
        else:
            guard = GUARD_PASSED
        self._check_results_path(len(plan.records) + len(plan.removes))  # its room, now that the phones are known
        if dry_run:
            self.log.info("dry run: nothing sent but reads")
            entries, summary = plan.entries(), plan.summary(dry_run=True, guard=guard)
            file_error = self._write_results(entries, summary, {})
            written = file_error is None
            value = self._push_xcoms(context, entries, summary, returning=written, written=written)
            if file_error is not None:
                raise file_error
            return value

        def interrupted(stopped: SyncRun) -> None:
            entries, summary = stopped.entries(), stopped.summary()
            file_error = self._write_results(entries, summary, _outcomes(stopped))
            self._push_xcoms(context, entries, summary, returning=False, written=file_error is None)

        # A results file holds every phone; only XCom is cut down to the failures.
        failures_only = self.xcom_results == XCOM_RESULTS_FAILURES and not self.results_path
        run = client.start_sync(plan, self.outcome_policy(), on_interrupted=interrupted, failures_only=failures_only)
        run.apply()
        entries, summary, error = run.conclude()
        file_error = self._write_results(entries, summary, _outcomes(run))
        # The changes were sent: a results file that could not be written fails the task (fail-fast,
        # a retry would send them again) after every phone's result went to XCom instead; an error
        # that stopped the run stays the one raised.
        if file_error is not None and (error is None or isinstance(error, ThuliumPhoneFailuresError)):
            error = file_error
        value = self._push_xcoms(context, entries, summary, returning=error is None, written=file_error is None)
        if error is not None:
            raise error
        return value

    def _do_render_template_fields(
        self, parent: Any, template_fields: Any, context: Any, jinja_env: Any, seen_oids: set[int]
    ) -> None:
        super()._do_render_template_fields(parent, template_fields, context, jinja_env, seen_oids)
        # The do-not-call list's numbers are kept out of the stored rendered fields, as the input's are.
        if parent is self and self.exclude is not None and not isinstance(self.exclude, RenderedInput):
            self.exclude = RenderedInput(self.exclude, "excluded phone(s)")

    def _files_read(self) -> list[Any]:
        return super()._files_read() + paths_read(self._exclude())

    def _exclude(self) -> Any:
        """The rendered ``exclude``, as the delete's input is read (an ``XComArg``'s value, a source)."""
        exclude = self.exclude.value if isinstance(self.exclude, RenderedInput) else self.exclude
        if exclude is None or isinstance(exclude, Source):
            return exclude
        return as_sequence(exclude)

    def _write_results(
        self, entries: dict[str, Any], summary: RunSummary, outcomes: dict[str, Any]
    ) -> ThuliumError | None:
        """Write every phone's entry (action and result) to ``results_path``, when one is given.

        :return: why the file could not be written (the summary's warnings say so too), or ``None``.
        """
        if not self.results_path:
            return None
        failed = set(summary["failed_phones"])
        file = ResultsFile(self.results_path, self.results_conn_id)
        # A CSV row has the columns of one call's result; a JSON line keeps the action beside it.
        as_csv = file.format == "csv"
        if not self.results_include_unchanged:
            entries = {phone: entry for phone, entry in entries.items() if entry != UNCHANGED_ENTRY}
        try:
            file.add(
                (
                    phone,
                    entry.get("result") if as_csv else entry,
                    outcomes.get(phone) or entry.get("action", ""),
                    # A plan applied nothing (a dry run, a refused plan).
                    phone not in failed and not summary.get("dry_run") and not summary.get("stopped_by"),
                )
                for phone, entry in entries.items()
            )
            file.write({})
        except ThuliumError as exc:
            summary["warnings"].append(f"{exc}; every phone's result is in the return_value XCom instead")
            self.log.warning("%s", exc)
            return exc
        finally:
            file.close()
        return None


def _outcomes(run: SyncRun) -> dict[str, Any]:
    """Each sent phone's outcome, from the add, update and delete runs of a sync."""
    outcomes: dict[str, Any] = {}
    for part in run.runs:
        outcomes.update(part.results.outcomes)
    return outcomes


class ThuliumExportRecordsOperator(BaseOperator):
    """Write a campaign's records (yesterday's call outcomes, say) to a file or a SQL table.

    Pages of ``GET outbounds/:id/records`` are read up to ``max_concurrent_requests`` at a time
    (``hook_params``) and written as they arrive, so memory holds a few pages and one batch
    whatever the campaign's size. Everything is checked before the first request: the filters,
    the columns, the destination's names. The records never pass through XCom: the
    ``return_value`` is an :class:`~airflow_provider_thulium.outcomes.ExportSummary` saying where
    the rows went and how many.

    What a record holds, and what a daily window by call date can and cannot see, is in the guide
    "Outcomes into your warehouse" and :class:`~airflow_provider_thulium.outcomes.CampaignRecord`.

    :param campaign_id: five-character campaign id, or an int that is zero-padded. Templated.
    :param destination: where the rows go: a :class:`~airflow_provider_thulium.destinations.FileDestination`
        (CSV, JSON Lines or Parquet; a re-run replaces the file) or a
        :class:`~airflow_provider_thulium.destinations.SqlDestination` (a table; with a ``key``, a
        re-run replaces the rows of the same key). Its path or table is templated.
    :param filters: the keyword filters of :meth:`~airflow_provider_thulium.hooks.thulium.ThuliumHook.iter_records`
        as a mapping: ``status_ids``, ``system_statuses``, ``created_from``, ``created_to``,
        ``called_from``, ``called_to`` (days, inclusive, ``"YYYY-MM-DD"``). Templated, so
        ``{"called_from": "{{ data_interval_start | ds }}", "called_to": "{{ data_interval_start | ds }}"}``
        is one day's calls. Default: every record.
    :param columns: record key → destination column, e.g. ``{"record_id": "record_id", "status":
        "outcome", "call_date": "called_at"}``; only those keys are written, in that order.
        ``"record_fields.<name>"`` reads a record field. Default: every key of
        :class:`~airflow_provider_thulium.outcomes.CampaignRecord` but ``record_fields``, under its own name.
    :param hook_params: extra :class:`~airflow_provider_thulium.hooks.thulium.ThuliumHook` arguments,
        e.g. ``{"max_concurrent_requests": 4}`` to read four pages at a time.
    :param thulium_conn_id: the Thulium connection.
    :param kwargs: the arguments of Airflow's ``BaseOperator`` (``task_id``, ``retries``, ...).
    """

    template_fields: Sequence[str] = ("campaign_id", "destination", "filters", "columns")
    ui_color = "#e8f1fb"

    def __init__(
        self,
        *,
        campaign_id: str | int,
        destination: Destination,
        filters: dict[str, Any] | None = None,
        columns: dict[str, str] | Sequence[str] | None = None,
        hook_params: dict[str, Any] | None = None,
        thulium_conn_id: str = ThuliumHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(destination, Destination):
            raise ThuliumValidationError(
                f"destination: expected a FileDestination or a SqlDestination, got {type(destination).__name__}"
            )
        # Checked when the DAG is parsed, unless a template decides them: a typo fails now, not at night.
        if not decided_at_run_time(filters):
            check_filters(filters)
        if not decided_at_run_time(columns):
            check_column_keys(columns)
            fields = [getattr(destination, name, None) for name in destination.template_fields]
            if not decided_at_run_time(fields):
                # The destination's names (a table, a column, a file's extension) need no time zone.
                destination.check(ExportColumns.from_argument(columns, ZoneInfo("UTC")))
        self.campaign_id = campaign_id
        self.destination = destination
        self.filters = filters
        self.columns = columns
        self.hook_params = hook_params or {}
        self.thulium_conn_id = thulium_conn_id
        self._rows: int | None = None

    @cached_property
    def hook(self) -> ThuliumHook:
        """The Thulium hook for this task."""
        return ThuliumHook(self.thulium_conn_id, **self.hook_params)

    def execute(self, context: Context) -> ExportSummary:
        """Check everything, then read the records into the destination.

        :param context: the task's Airflow context.
        :return: where the rows went and how many (the ``return_value`` XCom).
        """
        filters = self.filters
        if filters is not None and not isinstance(filters, dict):
            raise ThuliumValidationError(f"filters: expected a mapping of filter name → value, got {filters!r}")
        summary = self.hook.export_records(self.campaign_id, self.destination, columns=self.columns, **(filters or {}))
        self._rows = summary["rows"]
        return summary

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """What the task read and wrote, for the OpenLineage provider: the campaign as input; as output,
        with its row count, the file of a :class:`~airflow_provider_thulium.destinations.FileDestination`
        or the table of a :class:`~airflow_provider_thulium.destinations.SqlDestination`
        (:func:`~airflow_provider_thulium.lineage.table_dataset`).

        :param task_instance: the task instance that ran (unused: the operator kept what it needs).
        """
        from airflow.providers.common.compat.openlineage.facet import (
            InputDataset,
            OutputDataset,
            OutputStatisticsOutputDatasetFacet,
        )
        from airflow.providers.openlineage.extractors import OperatorLineage

        if self._rows is None:
            return OperatorLineage()  # refused before anything was read
        campaign = InputDataset(
            namespace=lineage.account_namespace(self.hook.base_url), name=lineage.campaign_name(self.campaign_id)
        )
        path, table, conn_id = (getattr(self.destination, name, None) for name in ("path", "table", "conn_id"))
        if path is not None:
            namespace, name = lineage.file_dataset(path)
        elif isinstance(table, str) and isinstance(conn_id, str):
            namespace, name = lineage.table_dataset(conn_id, table)
        else:
            return OperatorLineage(inputs=[campaign])
        statistics = OutputStatisticsOutputDatasetFacet(rowCount=self._rows)
        output = OutputDataset(namespace=namespace, name=name, outputFacets={"outputStatistics": statistics})
        return OperatorLineage(inputs=[campaign], outputs=[output])


def decided_at_run_time(value: Any) -> bool:
    """Whether an argument is (or holds) a Jinja template or something only a run decides (an ``XComArg``):
    then it is checked when rendered, not when the DAG is parsed.

    :param value: the argument as the DAG file gives it.
    """
    if value is None:
        return False
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(decided_at_run_time(item) for item in value.values()) or any(map(decided_at_run_time, value))
    if isinstance(value, (list, tuple)):
        return any(decided_at_run_time(item) for item in value)
    return not isinstance(value, (int, float, bool, date))


__all__ = [
    "RenderedInput",
    "ThuliumAddRecordsOperator",
    "ThuliumDeleteRecordsOperator",
    "ThuliumExportRecordsOperator",
    "ThuliumRecordsBaseOperator",
    "ThuliumSyncCampaignOperator",
    "ThuliumUpdateRecordsOperator",
]
