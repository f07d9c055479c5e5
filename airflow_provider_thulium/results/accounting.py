"""Per-phone results of a run: every input phone accounted for, outcomes counted, the summary.

Statuses and messages are the server's own text: XCom keeps them as they came, log lines and
error messages show them through :func:`~airflow_provider_thulium.privacy.safe_server_text`.
"""

from __future__ import annotations

import operator
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from itertools import repeat
from typing import Any, cast

from airflow_provider_thulium.calls.batching import BatchResult
from airflow_provider_thulium.calls.operations import Operation
from airflow_provider_thulium.exceptions import ThuliumError, ThuliumValidationError
from airflow_provider_thulium.outcomes import (
    CONTRADICTORY_ANSWER,
    INTERRUPTED,
    NO_ANSWER,
    NOT_SENT,
    REQUEST_FAILED,
    RunSummary,
)
from airflow_provider_thulium.privacy import mask_phone, safe_server_text
from airflow_provider_thulium.results.batch_log import BatchLog
from airflow_provider_thulium.results.deferral import DeferralState
from airflow_provider_thulium.results.writer import ResultsWriter

#: A run warns when "already as wanted" outcomes (NOT_EXIST of a delete) are more than half of its
#: phones and at least this many, or all of them: numbers the campaign stores in another form
#: (``+48…`` against ``48…``) answer NOT_EXIST too, and count as a success.
_MANY_ALREADY_DONE = 3
#: How many of the "already done" phones written to a results file are kept for that warning.
_ALREADY_DONE_SAMPLE = 100
_NOT_SENT_MESSAGE = "not sent: the run stopped before this phone"
_MAX_FAILURE_LINES = 5


def _spelling(key: str) -> str:
    # A number as an answer keyed it, masked, with its leading "+" kept: the difference that matters.
    return ("'+" if key.startswith("+") else "'") + mask_phone(key) + "'"


class RecordResults:
    """Collects batch results into one object keyed by phone, in input order.

    With a results writer, each phone's result is written to the file as its batch is answered and
    only the phones a run may still change stay in memory (the writer's ``held`` outcomes: records
    in a call that are tried again, records an upsert edits): counts and failed phones are kept,
    the entries not.

    :param operation: the call.
    :param campaign_id: the campaign, for warnings and the summary.
    :param phones: every input phone, in input order (each once).
    :param success_outcomes: the outcomes that count as a success.
    :param batch_log: logs each batch's line.
    :param writer: writes every phone's result as it arrives, if anywhere.
    :param spelling_evidence: compares phones that mostly answered "already done" with how the
        campaign spells its numbers: a masked sentence on a difference, ``None`` when they agree or
        cannot be compared. Without it, such a run always warns.
    """

    def __init__(
        self,
        operation: Operation,
        campaign_id: str,
        phones: Collection[str],
        success_outcomes: frozenset[str],
        batch_log: BatchLog,
        writer: ResultsWriter | None = None,
        spelling_evidence: Callable[[list[str]], str | None] | None = None,
    ) -> None:
        self.operation = operation
        self.campaign_id = campaign_id
        self.success_outcomes = success_outcomes
        self._batch_log = batch_log
        self._writer = writer
        self._spelling_evidence = spelling_evidence
        # Whether batches of the input (not tries again) are being recorded: those are written as they come.
        self._first_pass = True
        # Whether no phone of the batches now recorded has been heard of before: so while a run sends
        # its input once (each phone is in one batch). A batch answered alike is then stored without
        # a look at each phone's earlier result.
        self._first_hearing = True
        self._input = phones
        self._forgotten = _Forgotten(operation.already_done)
        # None marks a phone nothing has been heard about yet; finish() turns those into NOT_SENT.
        # With a writer, a phone is added when its batch is answered and removed once written.
        self.results: dict[str, Any] = {} if writer is not None else dict.fromkeys(phones)
        # Each phone's outcome, worked out once when its result is stored (summary, logs and the
        # failure policy all read it; 100,000 phones make that worth keeping).
        # (A copy of the phones' dict: cloned in C, several times faster than hashing the phones again.)
        self.outcomes: dict[str, str | None] = {} if writer is not None else self.results.copy()
        self.requests = 0
        self.retries = 0
        self.batches = 0
        self.unmatched_answers = 0
        #: Phones whose "already done" answered a retry after a lost answer (see :meth:`_mark_lost_answers`).
        self.after_lost_answer: set[str] = set()
        self._notes: list[str] = []  # warnings the run adds (e.g. fields an upsert could not edit)
        self._evidence: dict[tuple[str, ...], str | None] = {}  # asked once per run, however often summarised
        #: The error that ended the run early, if one did.
        self.stop_error: BaseException | None = None
        #: Why the results file could not be written when the run ended, if it could not.
        self.file_error: ThuliumError | None = None
        # The phones of batches on the wire and not yet recorded (added from the stream's worker
        # threads): a run stopped mid-way marks these INTERRUPTED and the others NOT_SENT.
        self._in_flight: set[str] = set()
        # Wall-clock, not monotonic: a deferred run resumes in another process.
        self.started = time.time()

    @property
    def stopped_by(self) -> str | None:
        """The message of the error that ended the run early, if one did."""
        if self.stop_error is None:
            return None
        if isinstance(self.stop_error, ThuliumError):
            return str(self.stop_error)
        # Not ours (a task timeout, a batch that could not be built): its type says most.
        text = safe_server_text(str(self.stop_error))
        return f"{type(self.stop_error).__name__}: {text}" if text else type(self.stop_error).__name__

    def note_sent(self, phones: list[str]) -> None:
        """Note that a batch with these phones goes on the wire (called from the stream's workers)."""
        self._in_flight.update(phones)

    def send_ended(self) -> None:
        """Note that a send of the run ended: a later one (calls in progress tried again) may hear of
        its phones again."""
        self._first_hearing = False

    def input_sent(self) -> None:
        """Note that the run's input was sent: later batches (tries again, an upsert's edits) are of
        phones already written, whose lines are written again when the run ends."""
        self._first_hearing = self._first_pass = False

    def add_warning(self, warning: str) -> None:
        """Add a warning of the run's own (e.g. fields an upsert could not edit) to the summary.

        :param warning: a masked sentence.
        """
        self._notes.append(warning)

    def add_batch(self, batch: BatchResult, read_as: Operation | None = None) -> None:
        """Record one batch: Thulium's answers, or a client-side entry for each phone of a failed batch.

        :param batch: the batch, as sent and answered.
        :param read_as: the call the batch was sent as, when it differs from the run's (the edits of an upsert).
        """
        self.batches += 1
        self.requests += batch.requests
        self.retries += batch.retries
        uniform: str | None = None  # the outcome of every phone of the batch, when they all had one
        if not batch.sent:
            # The rest of a split batch, left unsent when the run stopped.
            if batch.error is not None and self.stop_error is None:
                self.stop_error = batch.error
            message = f"not sent: {batch.error}" if batch.error is not None else _NOT_SENT_MESSAGE
            for phone in batch.phones:
                self._store(phone, self.operation.client_entry(NOT_SENT, message))
        elif batch.error is not None or batch.answer is None:
            message = str(batch.error) if batch.error is not None else "no answer"
            if batch.error is not None and not batch.error.batch_local and self.stop_error is None:
                self.stop_error = batch.error
            for phone in batch.phones:
                self._store(phone, self.operation.client_entry(REQUEST_FAILED, message))
        else:
            uniform = self._add_answer(batch, read_as or self.operation)
            if self.stop_error is None:
                self.stop_error = systematic_rejection(batch, read_as or self.operation, self.campaign_id)
            if batch.maybe_applied_before and read_as is None and self.operation.marks_lost_answers:
                self._mark_lost_answers(batch.phones)
                uniform = None
        self._in_flight.difference_update(batch.phones)
        label = "" if read_as is None else f" ({read_as.name} of existing records)"
        self._batch_log.batch(self.batches, batch, self.outcomes, self._failed, label, uniform)
        if self._writer is not None and self._first_pass:
            self._write(batch.phones)

    def _write(self, phones: Sequence[str]) -> None:
        """Write answered phones to the file, in input order; forget those no later try changes."""
        assert self._writer is not None
        results, outcomes, forgotten, failed = self.results, self.outcomes, self._forgotten, self._failed
        lines = [(phone, results[phone], outcomes[phone] or NOT_SENT) for phone in phones]
        let_go = self._writer.add([(phone, entry, name, not failed(phone, name)) for phone, entry, name in lines])
        success, tracked = self.success_outcomes, forgotten.tracked
        for phone, entry, outcome, succeeded in let_go:
            del results[phone], outcomes[phone]
            if outcome not in success or outcome in tracked:
                forgotten.count(phone, entry, outcome, succeeded)
            else:
                forgotten.outcomes[outcome] += 1
                forgotten.phones += 1

    def _add_answer(self, batch: BatchResult, operation: Operation) -> str | None:
        """Record a batch's answer; return the outcome every phone of the batch got, if they all got one alike."""
        answer = batch.answer
        assert answer is not None
        results, outcomes, read = self.results, self.outcomes, operation.read
        expected = set(batch.phones)
        if expected.issuperset(answer):  # keyed by the numbers as sent: by far the common case
            uniform = operation.read_uniform(answer.values())
            if uniform is not None and (
                self._first_hearing or all(map(operator.is_, map(results.get, answer), repeat(None)))
            ):
                # Every phone answered alike and first heard of now: recorded without a step per phone.
                results.update(answer)
                outcomes.update(dict.fromkeys(answer, uniform))
                if len(answer) == len(expected):
                    return uniform
            else:
                self._read_each(answer, read)
            if len(answer) == len(expected):
                return None
            answered = set(answer)
        else:
            answered = self._add_answer_by_digits(batch, read, expected)
        message = "Thulium's answer did not mention this phone"
        for phone in batch.phones:
            if phone not in answered:
                self._store(phone, self.operation.client_entry(NO_ANSWER, message))
        return None

    def _read_each(self, answer: dict[str, Any], read: Any) -> None:
        results, outcomes = self.results, self.outcomes
        for phone, value in answer.items():
            if results.get(phone) is None:
                results[phone], outcomes[phone] = read(value)
            else:
                self._store(phone, read(value)[0])

    def _add_answer_by_digits(self, batch: BatchResult, read: Any, expected: set[str]) -> set[str]:
        # Thulium may key its answer by the number as it stores it (e.g. without "+"): match on
        # digits before giving up on an entry.
        assert batch.answer is not None
        by_digits = {p.lstrip("+"): p for p in batch.phones}
        answered: dict[str, tuple[str, str]] = {}  # phone → the key that answered it, and its outcome
        for key, value in batch.answer.items():
            phone = str(key)
            if phone not in expected:
                found = by_digits.get(phone.lstrip("+"))
                if found is None:
                    # An answer for a number that was not sent: counted in the summary, not guessed at.
                    self.unmatched_answers += 1
                    continue
                phone = found
            entry, name = read(value)
            if phone in answered and answered[phone][1] != name:
                # Two spellings of one number answered differently: neither can be believed.
                first_key, first_name = answered[phone]
                why = (
                    f"Thulium answered this phone twice, keyed {_spelling(first_key)} "
                    f"({safe_server_text(first_name, 60)}) and {_spelling(str(key))} ({safe_server_text(name, 60)})"
                )
                self.results[phone] = None
                self._store(phone, self.operation.client_entry(CONTRADICTORY_ANSWER, why))
                answered[phone] = (str(key), CONTRADICTORY_ANSWER)
                continue
            if answered.get(phone, ("", ""))[1] == CONTRADICTORY_ANSWER:
                continue
            self._store(phone, entry)
            answered[phone] = (str(key), name)
        return set(answered)

    def _mark_lost_answers(self, phones: list[str]) -> None:
        # An earlier attempt of this batch may have been applied before its answer was lost, so an
        # "already there" may be this run's own add. No client can tell the two apart (the call takes
        # no key to recognise a repeat, docs/thulium-api.md, "POST"): the entry says so, and the
        # phone counts as a success whatever the policy.
        for phone in phones:
            entry = self.results[phone]
            if self.outcomes[phone] in self.operation.already_done and isinstance(entry, dict):
                entry["after_lost_answer"] = True
                self.after_lost_answer.add(phone)

    def _store(self, phone: str, entry: Any) -> None:
        previous = self.results.get(phone)
        if previous is not None:
            entry = self.operation.merge(previous, entry)
        self.results[phone] = entry
        self.outcomes[phone] = self.operation.outcome(entry)

    def forget(self, phones: Sequence[str]) -> None:
        """Mark phones as not yet answered, before they are sent again as another call (an upsert's edits).

        :param phones: the phones sent again.
        """
        self._first_hearing = False
        for phone in phones:
            self.results[phone] = self.outcomes[phone] = None

    def add_fields(self, fields: Mapping[str, Mapping[str, Any]]) -> None:
        """Put keys back on phones' entries, under the entries' own: what an add's answer said about a
        record, kept on the entry of its edit.

        :param fields: phone → the keys and values to add (a phone whose entry is no object is left).
        """
        results = self.results
        for phone, kept in fields.items():
            entry = results[phone]
            if isinstance(entry, dict) and kept:
                # A copy: client-side entries (NOT_SENT, INTERRUPTED) are one object shared by many phones.
                results[phone] = {**kept, **entry}

    def phones_with_outcome(self, name: str) -> list[str]:
        """The phones whose outcome is ``name`` so far, in input order.

        :param name: the outcome.
        """
        return [phone for phone, result in self.outcomes.items() if result == name]

    def interrupted(self, error: BaseException) -> None:
        """Note that a send was stopped by ``error`` (a task killed or timed out included) and finish the results.

        :param error: what stopped it; the summary's ``stopped_by`` names it unless an error stopped the run before.
        """
        if self.stop_error is None:
            self.stop_error = error
        self.finish(interrupted=True)

    def finish(self, interrupted: bool = False) -> dict[str, Any]:
        """Give every phone not yet answered a client-side entry and return the results.

        :param interrupted: the run is being stopped with requests possibly in flight: a phone
            whose batch went on the wire but whose answer was not recorded is ``INTERRUPTED`` (it
            may have been applied); a phone never sent is ``NOT_SENT`` either way.
        """
        self._first_hearing = False
        sent = self._in_flight if interrupted else set()
        not_sent = self.operation.client_entry(NOT_SENT, _NOT_SENT_MESSAGE)
        interrupted_entry = self.operation.client_entry(
            INTERRUPTED, "the run was stopped before Thulium's answer was recorded; it may have been applied"
        )
        writer = self._writer
        if writer is not None and writer.written < len(self._input):
            # The phones the run never got to (a run stopped by an error may have ended its first
            # pass without reaching them).
            self._first_pass = False
            for chunk in writer.unwritten(self._input):
                for phone in chunk:
                    self._store(phone, interrupted_entry if phone in sent else not_sent)
                self._write(chunk)
        # A phone has no outcome exactly when it has no entry; most runs have none such left: told in C.
        if None in set(self.outcomes.values()):
            for phone in [phone for phone, entry in self.results.items() if entry is None]:
                self._store(phone, interrupted_entry if phone in sent else not_sent)
        if writer is not None:
            self._write_file(writer)
        return self.results

    def _write_file(self, writer: ResultsWriter) -> None:
        """Write the results file as it stands (the phones kept in memory with their latest result).

        When it cannot be written (a disk that filled since the check before the run), the run's
        changes are made already: every phone's result is then read back into :attr:`results`
        (what XCom gets instead of the file's path), :attr:`file_error` says why, and a warning too.
        """
        latest = {}
        for phone, entry in self.results.items():
            outcome = self.outcomes[phone] or NOT_SENT
            latest[phone] = (entry, outcome, not self._failed(phone, outcome))
        try:
            writer.finish(latest)
        except ThuliumError as exc:
            if self.file_error is None:
                self.add_warning(f"{exc}; every phone's result is in the return_value XCom instead")
            self.file_error = exc
            written = writer.file.entries()
            written.update(self.results)  # the phones kept in memory, with their latest result
            self.results = written

    def failed_phones(self) -> list[str]:
        """Phones whose outcome is not a success, in input order (those kept for a later try last)."""
        if self.success_outcomes.issuperset(self.outcomes.values()):
            held: list[str] = []  # the common end of a run, told in C
        else:
            held = [phone for phone, result in self.outcomes.items() if self._failed(phone, result)]
        return self._forgotten.failed + held if self._forgotten.failed else held

    def _failed(self, phone: str, name: str | None) -> bool:
        if name in self.success_outcomes:
            return False
        return not (phone in self.after_lost_answer and name in self.operation.already_done)

    def summary(self) -> RunSummary:
        """Counts per outcome, the failed phones, requests, retries and duration."""
        read: Counter[str | None] = Counter(self.outcomes.values())
        unanswered = read.pop(None, 0) + read.pop("", 0)
        counts = cast("Counter[str]", read) + self._forgotten.outcomes
        if unanswered:
            counts[NOT_SENT] += unanswered
        failed = self.failed_phones()
        phones = len(self.results) if self._writer is None else self._writer.written
        return {
            "operation": self.operation.name,
            "campaign_id": self.campaign_id,
            "phones": phones,
            "succeeded": phones - len(failed),
            "failed": len(failed),
            "outcomes": dict(sorted(counts.items())),
            "failed_phones": failed,
            "batches": self.batches,
            "requests": self.requests,
            "retries": self.retries,
            "duration_seconds": round(time.time() - self.started, 3),
            "stopped_by": self.stopped_by,
            "unmatched_answers": self.unmatched_answers,
            "after_lost_answer": len(self.after_lost_answer),
            "warnings": self.warnings(),
        }

    def warnings(self) -> list[str]:
        """Outcomes that look like a mistake rather than a normal day, as masked sentences."""
        return self._mostly_already_done() + self._lost_answers() + self._notes

    def _lost_answers(self) -> list[str]:
        if not self.after_lost_answer:
            return []
        names = "/".join(sorted(self.operation.already_done))
        example = mask_phone(next(iter(self.after_lost_answer)))
        return [
            f"{self.operation.name} in campaign {self.campaign_id}: {len(self.after_lost_answer)} phone(s) answered "
            f"{names} to a retry after an earlier answer was lost (e.g. {example}): the record may be this run's "
            f"own {self.operation.name}, so they count as a success and their entries are marked after_lost_answer"
        ]

    def _mostly_already_done(self) -> list[str]:
        if not self.operation.warns_when_mostly_already_done:
            return []
        already_done = [phone for phone, name in self.outcomes.items() if name in self.operation.already_done]
        forgotten = self._forgotten
        count = len(already_done) + forgotten.already_done
        phones = len(self.outcomes) + forgotten.phones
        if not count or count * 2 <= phones or (count < _MANY_ALREADY_DONE and count < phones):
            return []
        cause = (
            "if these numbers are in the campaign, it likely stores them in another form (with or without a leading "
            "+ or the country code)"
        )
        unless = " If they were removed before, nothing is wrong."
        if self._spelling_evidence is not None:
            if self.stop_error is not None:
                return []  # the error that stopped the run is the news; no read while it is raised
            sample = already_done + forgotten.already_done_sample
            key = tuple(sample)
            if key not in self._evidence:
                self._evidence[key] = self._spelling_evidence(sample)
            if self._evidence[key] is None:
                return []  # spelled as the campaign spells its numbers: removed before, a normal night
            cause, unless = f"the campaign spells its numbers otherwise: {self._evidence[key]}", ""
        names = "/".join(sorted(self.operation.already_done))
        with_plus = sum(phone.startswith("+") for phone in already_done) + forgotten.already_done_with_plus
        example = max(already_done + forgotten.already_done_sample, key=len)  # a masked example that shows something
        spelled = f"{with_plus} given with a leading +"
        if with_plus in (0, count):
            spelled = f"all given {'with' if with_plus else 'without'} a leading +"
        return [
            f"{self.operation.name} in campaign {self.campaign_id}: {count} of {phones} phone(s) answered {names} "
            f"(e.g. {mask_phone(example)}; {spelled}). Thulium matches numbers as the campaign stores them: "
            f"{cause}; set phone_format ('digits' or 'plus') in hook_params or the connection's extras, or check the "
            f"campaign id and search_in_additional_numbers.{unless}"
        ]

    def failure_lines(self, limit: int = 5) -> list[str]:
        """The first few failures as masked, readable lines (for an error message or a log).

        :param limit: how many.
        """
        lines = self._forgotten.failure_lines[:limit]
        for phone in self.failed_phones()[len(lines) : limit]:
            lines.append(failure_line(phone, self.results.get(phone), self.outcomes.get(phone) or NOT_SENT))
        return lines

    def to_state(self) -> DeferralState:
        """What a deferral carries over of these results.

        With a results file, the file is written first and the state holds only the phones kept
        for a later try: the others are read back from the file on resuming.
        """
        if self._writer is not None:
            self._write_file(self._writer)
        return DeferralState(
            results=self.results,
            requests=self.requests,
            retries=self.retries,
            batches=self.batches,
            started=self.started,
            after_lost_answer=sorted(self.after_lost_answer),
        )

    def load_state(self, state: DeferralState) -> None:
        """Take up the results a deferred run carried over (:meth:`to_state`); the input was sent before.

        :param state: what :meth:`to_state` gave, in the process that deferred.
        """
        self._first_hearing = self._first_pass = False
        self.results = dict(state.results)
        self.outcomes = {
            phone: None if entry is None else self.operation.outcome(entry) for phone, entry in self.results.items()
        }
        self.after_lost_answer = set(state.after_lost_answer)
        self.requests = state.requests
        self.retries = state.retries
        self.batches = state.batches
        self.started = state.started
        if self._writer is not None:
            for phone, outcome, succeeded in self._writer.resume():
                if phone not in self.results:
                    self._forgotten.count(phone, None, outcome, succeeded)


def systematic_rejection(batch: BatchResult, operation: Operation, campaign_id: str) -> ThuliumValidationError | None:
    """The error that stops a run whose batch Thulium refused whole with one validation answer, or ``None``.

    See :meth:`~airflow_provider_thulium.calls.batching.BatchResult.refused_whole`.

    :param batch: the batch, as sent and answered.
    :param operation: the call its answer is read as.
    :param campaign_id: the campaign, for the message.
    """
    message = batch.refused_whole()
    if message is None:
        return None
    return ThuliumValidationError(
        f"{operation.name} in campaign {campaign_id}: Thulium refused every record of a batch of "
        f"{len(batch.phones)} with the same answer, so the run stopped and the rest were not sent (NOT_SENT). "
        "Hint: the input, not single records, is wrong; check the record keys and the record_fields "
        "names against the campaign's fields in Thulium (an unknown record field is refused)",
        status_code=400,
        api_messages=[message],
    )


def failure_line(phone: str, entry: Any, outcome: str) -> str:
    """One failure as a masked, readable line: ``…207: FAILED (Agent not found)``."""
    first = entry[0] if isinstance(entry, list) and entry else entry
    message = first.get("message") if isinstance(first, dict) else None
    line = f"{mask_phone(phone)}: {safe_server_text(outcome, 60)}"
    return line + (f" ({safe_server_text(message)})" if message else "")


class _Forgotten:
    """What a run keeps of the phones it wrote to its results file and let go: counts, not entries."""

    def __init__(self, already_done: frozenset[str] = frozenset()) -> None:
        #: Successful outcomes counted one by one all the same (an operation's ``already_done``).
        self.tracked = already_done
        self.phones = 0
        self.outcomes: Counter[str] = Counter()
        self.failed: list[str] = []
        self.failure_lines: list[str] = []
        self.already_done = 0
        self.already_done_with_plus = 0
        #: A few of those phones: the warning's example and the evidence it compares with the campaign.
        self.already_done_sample: list[str] = []

    def count(self, phone: str, entry: Any, outcome: str, succeeded: bool) -> None:
        """Count one phone written and let go."""
        self.phones += 1
        self.outcomes[outcome] += 1
        if not succeeded:
            self.failed.append(phone)
            if len(self.failure_lines) < _MAX_FAILURE_LINES:
                self.failure_lines.append(failure_line(phone, entry, outcome))
        if outcome in self.tracked:
            self.already_done += 1
            self.already_done_with_plus += phone.startswith("+")
            if len(self.already_done_sample) < _ALREADY_DONE_SAMPLE:
                self.already_done_sample.append(phone)
