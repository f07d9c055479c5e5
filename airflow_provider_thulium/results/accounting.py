"""Per-phone results of a run: every input phone accounted for, outcomes counted, logs masked.

Statuses and messages are the server's own text: XCom keeps them as they came, log lines and
error messages show them through :func:`~airflow_provider_thulium.privacy.safe_server_text`.
"""

from __future__ import annotations

import logging
import operator
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from itertools import islice, repeat
from typing import Any, cast

from airflow_provider_thulium.calls.batching import BatchResult
from airflow_provider_thulium.calls.operations import Operation
from airflow_provider_thulium.exceptions import ThuliumError
from airflow_provider_thulium.outcomes import (
    CONTRADICTORY_ANSWER,
    INTERRUPTED,
    NO_ANSWER,
    NOT_SENT,
    REQUEST_FAILED,
    RunSummary,
)
from airflow_provider_thulium.privacy import mask_phone, safe_server_text
from airflow_provider_thulium.results.results_file import ResultsFile

_MAX_LOGGED_FAILURES = 3
#: A run warns when "already as wanted" outcomes (NOT_EXIST of a delete) are more than half of its
#: phones and at least this many, or all of them: numbers the campaign stores in another form
#: (``+48…`` against ``48…``) answer NOT_EXIST too, and count as a success.
_MANY_ALREADY_DONE = 3
#: How many of the "already done" phones written to a results file are kept for that warning.
_ALREADY_DONE_SAMPLE = 100
_MAX_LOGGED_OUTCOMES = 10
_NOT_SENT_MESSAGE = "not sent: the run stopped before this phone"
_MAX_FAILURE_LINES = 5
_CHUNK = 10_000


def _spelling(key: str) -> str:
    # A number as an answer keyed it, masked, with its leading "+" kept: the difference that matters.
    return ("'+" if key.startswith("+") else "'") + mask_phone(key) + "'"


def outcome_counts(counts: Mapping[str, int]) -> str:
    """Outcomes and their counts as one log-safe text (``NOT_EXIST 2, REMOVED 10``); a server's own statuses
    can be many and long, so the names are cut and at most ten shown."""
    ranked = sorted(counts.items())
    text = ", ".join(f"{safe_server_text(name, 60)} {count}" for name, count in ranked[:_MAX_LOGGED_OUTCOMES])
    more = len(ranked) - _MAX_LOGGED_OUTCOMES
    return text + (f" and {more} other outcome(s)" if more > 0 else "")


class RecordResults:
    """Collects batch results into one object keyed by phone, in input order.

    With a results file, each phone's result is written to it as its batch is answered and only
    the phones a run may still change stay in memory (``held`` outcomes: records in a call that
    are tried again, records an upsert edits): counts and failed phones are kept, the entries not.

    :param operation: the call.
    :param campaign_id: the campaign, for log lines.
    :param phones: every input phone, in input order (each once).
    :param log: where the per-batch lines go.
    :param success_outcomes: the outcomes that count as a success.
    :param results_file: where every phone's result is written as it arrives, if anywhere.
    """

    def __init__(
        self,
        operation: Operation,
        campaign_id: str,
        phones: Collection[str],
        log: logging.Logger | Any,
        success_outcomes: frozenset[str],
        results_file: ResultsFile | None = None,
    ) -> None:
        self.operation = operation
        self.campaign_id = campaign_id
        self.log = log
        self.success_outcomes = success_outcomes
        self.file = results_file
        #: Outcomes whose phones stay in memory when written to a file, for a later try (set by the run).
        self.held: frozenset[str] = frozenset()
        #: Whether batches of the input (not tries again) are being recorded: those are written to the file.
        self.first_pass = True
        #: Whether no phone of the batches now recorded has been heard of before: so while a run sends
        #: its input once (each phone is in one batch). A batch answered alike is then stored without
        #: a look at each phone's earlier result. Cleared (by the run, and here) once a phone may be
        #: heard of again.
        self.first_hearing = True
        self._input = phones
        self._written = _Written(operation.already_done)
        # None marks a phone nothing has been heard about yet; finish() turns those into NOT_SENT.
        # With a file, a phone is added when its batch is answered and removed once written.
        self.results: dict[str, Any] = {} if results_file is not None else dict.fromkeys(phones)
        # Each phone's outcome, worked out once when its result is stored (summary, logs and the
        # failure policy all read it; 100,000 phones make that worth keeping).
        # (A copy of the phones' dict: cloned in C, several times faster than hashing the phones again.)
        self.outcomes: dict[str, str | None] = {} if results_file is not None else self.results.copy()
        self.requests = 0
        self.retries = 0
        self.batches = 0
        self.unmatched_answers = 0
        #: Phones whose "already done" answered a retry after a lost answer (see :meth:`_mark_lost_answers`).
        self.after_lost_answer: set[str] = set()
        #: Warnings the run adds (e.g. fields an upsert could not edit), for the summary and the log.
        self.notes: list[str] = []
        #: Compares phones that mostly answered "already done" with how the campaign spells its
        #: numbers: a masked sentence on a difference, ``None`` when they agree or cannot be compared
        #: (the client reads one page of records for it). Without it, such a run always warns.
        self.spelling_evidence: Callable[[list[str]], str | None] | None = None
        self._evidence: dict[tuple[str, ...], str | None] = {}  # asked once per run, however often summarised
        self.stop_error: BaseException | None = None  # the error that ended the run early, if one did
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

    def add_batch(self, batch: BatchResult, read_as: Operation | None = None) -> None:
        """Record one batch: Thulium's answers, or a client-side entry for each phone of a failed batch.

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
            if batch.maybe_applied_before and read_as is None and self.operation.marks_lost_answers:
                self._mark_lost_answers(batch.phones)
                uniform = None
        self._in_flight.difference_update(batch.phones)
        self._log_batch(batch, "" if read_as is None else f" ({read_as.name} of existing records)", uniform)
        if self.file is not None and self.first_pass:
            self._write(batch.phones)

    def _write(self, phones: Sequence[str]) -> None:
        """Write answered phones to the file, in input order; forget those no later try changes."""
        assert self.file is not None
        results, outcomes, written, success = self.results, self.outcomes, self._written, self.success_outcomes
        lines = [(phone, results[phone], outcomes[phone] or NOT_SENT) for phone in phones]
        self.file.add([(phone, entry, outcome, not self._failed(phone, outcome)) for phone, entry, outcome in lines])
        for phone, entry, outcome in lines:
            if outcome not in self.held:
                del results[phone], outcomes[phone]
                if outcome not in success or outcome in written.tracked:
                    written.count(phone, entry, outcome, self, not self._failed(phone, outcome))
                else:
                    written.outcomes[outcome] += 1
                    written.phones_counted += 1
        written.phones += len(phones)

    def _add_answer(self, batch: BatchResult, operation: Operation) -> str | None:
        """Record a batch's answer; return the outcome every phone of the batch got, if they all got one alike."""
        answer = batch.answer
        assert answer is not None
        results, outcomes, read = self.results, self.outcomes, operation.read
        expected = set(batch.phones)
        if expected.issuperset(answer):  # keyed by the numbers as sent: by far the common case
            uniform = operation.read_uniform(answer.values())
            if uniform is not None and (
                self.first_hearing or all(map(operator.is_, map(results.get, answer), repeat(None)))
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
        """Mark phones as not yet answered, before they are sent again as another call (an upsert's edits)."""
        self.first_hearing = False
        for phone in phones:
            self.results[phone] = self.outcomes[phone] = None

    def phones_with_outcome(self, name: str) -> list[str]:
        """The phones whose outcome is ``name`` so far, in input order."""
        return [phone for phone, result in self.outcomes.items() if result == name]

    def finish(self, interrupted: bool = False) -> dict[str, Any]:
        """Give every phone not yet answered a client-side entry and return the results.

        :param interrupted: the run is being stopped with requests possibly in flight: a phone
            whose batch went on the wire but whose answer was not recorded is ``INTERRUPTED`` (it
            may have been applied); a phone never sent is ``NOT_SENT`` either way.
        """
        self.first_hearing = False
        sent = self._in_flight if interrupted else set()
        not_sent = self.operation.client_entry(NOT_SENT, _NOT_SENT_MESSAGE)
        interrupted_entry = self.operation.client_entry(
            INTERRUPTED, "the run was stopped before Thulium's answer was recorded; it may have been applied"
        )
        if self.file is not None and self._written.phones < len(self._input):
            # The phones the run never got to, read from the input after those written, a chunk at a time
            # (a run stopped by an error may have ended its first pass without reaching them).
            self.first_pass = False
            rest = islice(iter(self._input), self._written.phones, None)
            while chunk := list(islice(rest, _CHUNK)):
                for phone in chunk:
                    self._store(phone, interrupted_entry if phone in sent else not_sent)
                self._write(chunk)
        # A phone has no outcome exactly when it has no entry; most runs have none such left: told in C.
        if None in set(self.outcomes.values()):
            for phone in [phone for phone, entry in self.results.items() if entry is None]:
                self._store(phone, interrupted_entry if phone in sent else not_sent)
        if self.file is not None:
            self.write_file()
        return self.results

    def write_file(self) -> None:
        """Write the results file as it stands (the phones kept in memory with their latest result)."""
        assert self.file is not None
        changed = {}
        for phone, entry in self.results.items():
            outcome = self.outcomes[phone] or NOT_SENT
            changed[phone] = (entry, outcome, not self._failed(phone, outcome))
        self.file.write(changed)

    def failed_phones(self) -> list[str]:
        """Phones whose outcome is not a success, in input order (those kept for a later try last)."""
        if self.success_outcomes.issuperset(self.outcomes.values()):
            held: list[str] = []  # the common end of a run, told in C
        else:
            held = [phone for phone, result in self.outcomes.items() if self._failed(phone, result)]
        return self._written.failed + held if self._written.failed else held

    def _failed(self, phone: str, name: str | None) -> bool:
        if name in self.success_outcomes:
            return False
        return not (phone in self.after_lost_answer and name in self.operation.already_done)

    def summary(self) -> RunSummary:
        """Counts per outcome, the failed phones, requests, retries and duration."""
        read: Counter[str | None] = Counter(self.outcomes.values())
        unanswered = read.pop(None, 0) + read.pop("", 0)
        counts = cast("Counter[str]", read) + self._written.outcomes
        if unanswered:
            counts[NOT_SENT] += unanswered
        failed = self.failed_phones()
        phones = len(self.results) if self.file is None else self._written.phones
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
        return self._mostly_already_done() + self._lost_answers() + self.notes

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
        written = self._written
        count = len(already_done) + written.already_done
        phones = len(self.outcomes) + written.phones_counted
        if not count or count * 2 <= phones or (count < _MANY_ALREADY_DONE and count < phones):
            return []
        cause = (
            "if these numbers are in the campaign, it likely stores them in another form (with or without a leading "
            "+ or the country code)"
        )
        unless = " If they were removed before, nothing is wrong."
        if self.spelling_evidence is not None:
            if self.stop_error is not None:
                return []  # the error that stopped the run is the news; no read while it is raised
            sample = already_done + written.already_done_sample
            key = tuple(sample)
            if key not in self._evidence:
                self._evidence[key] = self.spelling_evidence(sample)
            if self._evidence[key] is None:
                return []  # spelled as the campaign spells its numbers: removed before, a normal night
            cause, unless = f"the campaign spells its numbers otherwise: {self._evidence[key]}", ""
        names = "/".join(sorted(self.operation.already_done))
        with_plus = sum(phone.startswith("+") for phone in already_done) + written.already_done_with_plus
        example = max(already_done + written.already_done_sample, key=len)  # a masked example that shows something
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
        """The first few failures as masked, readable lines (for an error message or a log)."""
        lines = self._written.failure_lines[:limit]
        for phone in self.failed_phones()[len(lines) : limit]:
            lines.append(failure_line(phone, self.results.get(phone), self.outcomes.get(phone) or NOT_SENT))
        return lines

    def _log_batch(self, batch: BatchResult, label: str = "", uniform: str | None = None) -> None:
        """Log one batch's line: its outcome counts and a few of its failed phones, masked.

        :param uniform: the outcome every phone of the batch got, when known: the counts without a
            look at each phone.
        """
        counts: Counter[str] = Counter()
        if uniform is not None:
            counts[uniform] = len(batch.phones)
        else:
            for name, count in Counter(map(self.outcomes.__getitem__, batch.phones)).items():
                counts[name or NOT_SENT] += count
        failures: list[str] = []
        if not self.success_outcomes.issuperset(counts):
            for phone in batch.phones:
                name = self.outcomes[phone] or NOT_SENT
                if self._failed(phone, name):
                    failures.append(f"{mask_phone(phone)} {safe_server_text(name, 60)}")
                    if len(failures) == _MAX_LOGGED_FAILURES:
                        break
        self.log.info(
            "%s batch %d%s, campaign %s: %d phone(s): %s; %d request(s), %d retries, %.2f s%s",
            self.operation.name.upper(),
            self.batches,
            label,
            self.campaign_id,
            len(batch.phones),
            outcome_counts(counts),
            batch.requests,
            batch.retries,
            batch.seconds,
            f"; failed e.g. {', '.join(failures)}" if failures else "",
        )

    def to_state(self) -> dict[str, Any]:
        """The collector as JSON-able data, to carry across a deferral.

        With a results file, the file is written first and the state holds only the phones kept
        for a later try: the others are read back from the file on resuming.
        """
        if self.file is not None:
            self.write_file()
        return {
            "results": self.results,
            "requests": self.requests,
            "retries": self.retries,
            "batches": self.batches,
            "started": self.started,
            # With a results file the marked phones' entries are in the file, not in "results".
            "after_lost_answer": sorted(self.after_lost_answer),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`to_state` saved."""
        self.first_hearing = False
        self.results = dict(state["results"])
        self.outcomes = {
            phone: None if entry is None else self.operation.outcome(entry) for phone, entry in self.results.items()
        }
        self.after_lost_answer = set(state.get("after_lost_answer", ())) | {
            phone for phone, entry in self.results.items() if isinstance(entry, dict) and entry.get("after_lost_answer")
        }
        self.requests = state["requests"]
        self.retries = state["retries"]
        self.batches = state["batches"]
        self.started = state["started"]
        self.first_pass = False
        if self.file is not None:
            for phone, outcome, succeeded in self.file.resume():
                if phone not in self.results:
                    self._written.count(phone, None, outcome, self, succeeded)
                self._written.phones += 1


def failure_line(phone: str, entry: Any, outcome: str) -> str:
    """One failure as a masked, readable line: ``…207: FAILED (Agent not found)``."""
    first = entry[0] if isinstance(entry, list) and entry else entry
    message = first.get("message") if isinstance(first, dict) else None
    line = f"{mask_phone(phone)}: {safe_server_text(outcome, 60)}"
    return line + (f" ({safe_server_text(message)})" if message else "")


class _Written:
    """What a run keeps of the phones it wrote to its results file and forgot: counts, not entries."""

    def __init__(self, tracked: frozenset[str] = frozenset()) -> None:
        #: Successful outcomes counted one by one all the same (an operation's ``already_done``).
        self.tracked = tracked
        self.phones = 0  # input phones written, in order (the next one to write is the input's phones-th)
        self.phones_counted = 0  # of those, the ones forgotten (not kept for a later try)
        self.outcomes: Counter[str] = Counter()
        self.failed: list[str] = []
        self.failure_lines: list[str] = []
        self.already_done = 0
        self.already_done_with_plus = 0
        #: A few of those phones: the warning's example and the evidence it compares with the campaign.
        self.already_done_sample: list[str] = []

    def count(
        self, phone: str, entry: Any, outcome: str, results: RecordResults, succeeded: bool | None = None
    ) -> None:
        """Count one phone written and forgotten."""
        self.phones_counted += 1
        self.outcomes[outcome] += 1
        if not (outcome in results.success_outcomes if succeeded is None else succeeded):
            self.failed.append(phone)
            if len(self.failure_lines) < _MAX_FAILURE_LINES:
                self.failure_lines.append(failure_line(phone, entry, outcome))
        if outcome in results.operation.already_done:
            self.already_done += 1
            self.already_done_with_plus += phone.startswith("+")
            if len(self.already_done_sample) < _ALREADY_DONE_SAMPLE:
                self.already_done_sample.append(phone)
