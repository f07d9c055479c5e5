"""Per-phone results of a batch call: every input phone accounted for, outcomes counted, logs masked.

One collector serves both calls and both callers (the hook's ``delete_records`` /
``update_records`` and the operators), so a result means the same thing everywhere.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from airflow_provider_thulium.privacy import mask_numbers, mask_phone

if TYPE_CHECKING:
    from airflow_provider_thulium.hooks.thulium import BatchResult

DELETE = "delete"
UPDATE = "update"

#: Client-side statuses, for phones Thulium gave no answer about (``http_status`` is then ``None``).
NOT_SENT = "NOT_SENT"  # the run stopped before this phone's request was sent
REQUEST_FAILED = "REQUEST_FAILED"  # its request failed for good; it may or may not have been applied
NO_ANSWER = "NO_ANSWER"  # the request succeeded but the answer left this phone out
INTERRUPTED = "INTERRUPTED"  # the task was stopped before an answer came; it may have been applied
CLIENT_STATUSES = frozenset({NOT_SENT, REQUEST_FAILED, NO_ANSWER, INTERRUPTED})

REMOVED = "REMOVED"
NOT_EXIST = "NOT_EXIST"
CALL_IN_PROGRESS = "CALL_IN_PROGRESS"
UPDATED = "UPDATED"

_MAX_LOGGED_FAILURES = 3


def client_entry(kind: str, status: str, message: str) -> Any:
    """A result made by the client, in the API's shape for ``kind`` (a list for delete, an object for update)."""
    entry = {"http_status": None, "status": status, "message": message}
    return [entry] if kind == DELETE else entry


def outcome(kind: str, entry: Any) -> str:
    """Name one phone's outcome: a delete status (``REMOVED``, ``NOT_EXIST``, ...), ``UPDATED`` or ``HTTP_<code>``."""
    if kind == DELETE:
        for item in entry:
            status = item.get("status") if isinstance(item, dict) else None
            if status != REMOVED:
                return str(status or f"HTTP_{item.get('http_status') if isinstance(item, dict) else None}")
        return REMOVED if entry else NO_ANSWER
    if entry.get("http_status") is None and entry.get("status") in CLIENT_STATUSES:
        return str(entry["status"])
    code = entry.get("http_status")
    return UPDATED if isinstance(code, int) and 200 <= code < 300 else f"HTTP_{code}"


class RecordResults:
    """Collects batch results into one object keyed by phone, in input order.

    :param kind: ``"delete"`` or ``"update"``.
    :param campaign_id: the campaign, for log lines.
    :param phones: every input phone, in input order (each once).
    :param log: where the per-batch lines go.
    :param not_exist_is_success: count ``NOT_EXIST`` as a success when deleting (deleting is idempotent).
    """

    def __init__(
        self,
        kind: str,
        campaign_id: str,
        phones: list[str],
        log: logging.Logger | Any,
        *,
        not_exist_is_success: bool = True,
    ) -> None:
        self.kind = kind
        self.campaign_id = campaign_id
        self.log = log
        self.success_outcomes = (
            {REMOVED, NOT_EXIST}
            if kind == DELETE and not_exist_is_success
            else {REMOVED if kind == DELETE else UPDATED}
        )
        # None marks a phone nothing has been heard about yet; finish() turns those into NOT_SENT.
        self.results: dict[str, Any] = dict.fromkeys(phones)
        # Each phone's outcome, worked out once when its result is stored (summary, logs and the
        # failure policy all read it; 100,000 phones make that worth keeping).
        self.outcomes: dict[str, str | None] = dict.fromkeys(phones)
        self.requests = 0
        self.retries = 0
        self.batches = 0
        self.unmatched_answers = 0
        self.stopped_by: str | None = None  # the error that ended the run early, if one did
        # Wall-clock, not monotonic: a deferred run resumes in another process.
        self.started = time.time()

    def add_batch(self, batch: BatchResult) -> None:
        """Record one batch: Thulium's answers, or a client-side entry for each phone of a failed batch."""
        self.batches += 1
        self.requests += batch.requests
        self.retries += batch.retries
        if batch.error is not None or batch.answer is None:
            message = str(batch.error) if batch.error is not None else "no answer"
            if batch.error is not None and not batch.error.batch_local:
                self.stopped_by = message
            for phone in batch.phones:
                self._store(phone, client_entry(self.kind, REQUEST_FAILED, message))
        else:
            self._add_answer(batch)
        self._log_batch(batch)

    def _add_answer(self, batch: BatchResult) -> None:
        assert batch.answer is not None
        expected = set(batch.phones)
        by_digits: dict[str, str] | None = None
        answered: set[str] = set()
        for key, value in batch.answer.items():
            phone = str(key)
            if phone not in expected:
                # Thulium may key its answer by the number as it stores it (e.g. without "+");
                # match on digits before giving up on the entry.
                if by_digits is None:
                    by_digits = {p.lstrip("+"): p for p in batch.phones}
                found = by_digits.get(phone.lstrip("+"))
                if found is None:
                    # An answer for a number that was not sent: counted in the summary, not guessed at.
                    self.unmatched_answers += 1
                    continue
                phone = found
            if self.kind == UPDATE and type(value) is dict and type(value.get("http_status")) is int:
                # The documented update shape, by far the common case: stored without the general path.
                code = value["http_status"]
                self.results[phone] = value
                self.outcomes[phone] = UPDATED if 200 <= code < 300 else f"HTTP_{code}"
            else:
                self._store(phone, self._normalise(value))
            answered.add(phone)
        if len(answered) == len(expected):
            return
        for phone in batch.phones:
            if phone not in answered:
                self._store(phone, client_entry(self.kind, NO_ANSWER, "Thulium's answer did not mention this phone"))

    def _normalise(self, value: Any) -> Any:
        # Documented shapes: delete → a list of objects, update → one object. Anything else is
        # wrapped so downstream code can rely on the shape.
        if self.kind == DELETE:
            if isinstance(value, dict):
                return [value]
            if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
                return value
            return client_entry(DELETE, NO_ANSWER, f"unreadable answer for this phone: {type(value).__name__}")
        if isinstance(value, dict):
            return value
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
            return value[0]
        if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            codes = [item.get("http_status") for item in value]
            worst = max((code for code in codes if isinstance(code, int)), default=None)
            return {"http_status": worst, "results": value}
        return client_entry(UPDATE, NO_ANSWER, f"unreadable answer for this phone: {type(value).__name__}")

    def _store(self, phone: str, entry: Any) -> None:
        previous = self.results.get(phone)
        if self.kind == DELETE and previous:
            # A repeat delete (calls in progress): records removed before stay removed, and the
            # repeat's NOT_EXIST for them is no news.
            removed = [item for item in previous if item.get("status") == REMOVED]
            if removed:
                entry = removed + [item for item in entry if item.get("status") != NOT_EXIST]
        self.results[phone] = entry
        self.outcomes[phone] = outcome(self.kind, entry)

    def phones_with_outcome(self, name: str) -> list[str]:
        """The phones whose outcome is ``name`` so far, in input order."""
        return [phone for phone, result in self.outcomes.items() if result == name]

    def finish(self, interrupted: bool = False) -> dict[str, Any]:
        """Give every phone not yet answered a client-side entry and return the results.

        :param interrupted: the task is being stopped with requests possibly in flight, so an
            unanswered phone is ``INTERRUPTED`` (it may have been applied), not ``NOT_SENT``.
        """
        if interrupted:
            status, message = INTERRUPTED, "the task was stopped before Thulium answered; it may have been applied"
        else:
            status, message = NOT_SENT, "not sent: the run stopped before this phone"
        for phone, entry in self.results.items():
            if entry is None:
                self._store(phone, client_entry(self.kind, status, message))
        return self.results

    def failed_phones(self) -> list[str]:
        """Phones whose outcome is not a success, in input order."""
        return [phone for phone, result in self.outcomes.items() if result not in self.success_outcomes]

    def summary(self) -> dict[str, Any]:
        """Counts per outcome, the failed phones, requests, retries and duration."""
        counts = Counter(result or NOT_SENT for result in self.outcomes.values())
        failed = self.failed_phones()
        return {
            "operation": self.kind,
            "campaign_id": self.campaign_id,
            "phones": len(self.results),
            "succeeded": len(self.results) - len(failed),
            "failed": len(failed),
            "outcomes": dict(sorted(counts.items())),
            "failed_phones": failed,
            "batches": self.batches,
            "requests": self.requests,
            "retries": self.retries,
            "duration_seconds": round(time.time() - self.started, 3),
            "stopped_by": self.stopped_by,
            "unmatched_answers": self.unmatched_answers,
        }

    def failure_lines(self, limit: int = 5) -> list[str]:
        """The first few failures as masked, readable lines (for an error message or a log)."""
        lines = []
        for phone in self.failed_phones()[:limit]:
            entry = self.results[phone]
            first = entry[0] if isinstance(entry, list) else entry
            message = first.get("message") if isinstance(first, dict) else None
            line = f"{mask_phone(phone)}: {self.outcomes[phone] or NOT_SENT}"
            lines.append(line + (f" ({mask_numbers(str(message))})" if message else ""))
        return lines

    def _log_batch(self, batch: BatchResult) -> None:
        counts: Counter[str] = Counter()
        failures: list[str] = []
        for phone in batch.phones:
            name = self.outcomes[phone] or NOT_SENT
            counts[name] += 1
            if name not in self.success_outcomes and len(failures) < _MAX_LOGGED_FAILURES:
                failures.append(f"{mask_phone(phone)} {name}")
        self.log.info(
            "%s batch %d, campaign %s: %d phones: %s; %d request(s), %d retries, %.2f s%s",
            self.kind.upper(),
            self.batches,
            self.campaign_id,
            len(batch.phones),
            ", ".join(f"{name} {count}" for name, count in sorted(counts.items())),
            batch.requests,
            batch.retries,
            batch.seconds,
            f"; failed e.g. {', '.join(failures)}" if failures else "",
        )

    def to_state(self) -> dict[str, Any]:
        """The collector as JSON-able data, to carry across a deferral."""
        return {
            "results": self.results,
            "requests": self.requests,
            "retries": self.retries,
            "batches": self.batches,
            "started": self.started,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`to_state` saved."""
        self.results = dict(state["results"])
        self.outcomes = {
            phone: None if entry is None else outcome(self.kind, entry) for phone, entry in self.results.items()
        }
        self.requests = state["requests"]
        self.retries = state["retries"]
        self.batches = state["batches"]
        self.started = state["started"]
