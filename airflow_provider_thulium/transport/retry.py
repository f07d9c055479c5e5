"""The retry policy: which failures are retried, how long to wait, when to stop.

Which failures: those whose error class is ``retryable`` (see :mod:`~airflow_provider_thulium.transport.http_errors`).
How long: ``Retry-After`` when the server sends one (capped), else exponential backoff with jitter.
When to stop: after ``max_retries`` retries, or when the next attempt would start after the retry
budget's end. Each attempt takes at most the transport's ``timeout`` (a deadline over the whole
answer, see :mod:`~airflow_provider_thulium.transport.session`), so a request ends within
``retry_budget + timeout``.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from airflow_provider_thulium.exceptions import ThuliumError
from airflow_provider_thulium.settings import ThuliumSettings


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (a number of seconds or an HTTP date), or ``None``."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN: no usable advice
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """How one request is retried.

    :param max_retries: retries after the first attempt.
    :param backoff: seconds before the first retry of our own choosing; doubled each time, with jitter.
    :param max_backoff: the longest wait of our own choosing.
    :param max_retry_after: the longest ``Retry-After`` honoured.
    :param budget: seconds after the first attempt's start within which every attempt of one request
        (and of the halves of a batch split after a 413/414) must start.
    """

    max_retries: int = 5
    backoff: float = 1.0
    max_backoff: float = 30.0
    max_retry_after: float = 120.0
    budget: float = 300.0

    @classmethod
    def from_settings(cls, settings: ThuliumSettings) -> RetryPolicy:
        return cls(
            max_retries=settings.max_retries,
            backoff=settings.backoff,
            max_backoff=settings.max_backoff,
            max_retry_after=settings.max_retry_after,
            budget=settings.retry_budget,
        )

    def start(self, *, retry: bool = True, deadline: float | None = None) -> Attempts:
        """Begin counting the attempts of one request; ``retry=False`` allows one attempt only.

        :param deadline: the budget's end on the ``time.monotonic()`` clock, when the request shares
            a budget already running (a half of a split batch); default: ``budget`` from now.
        """
        if deadline is None:
            deadline = self.deadline_from_now()
        return Attempts(self, 1 + (self.max_retries if retry else 0), deadline)

    def deadline_from_now(self) -> float:
        """The end of a budget starting now, on the ``time.monotonic()`` clock."""
        return time.monotonic() + self.budget

    def backoff_seconds(self, attempt: int) -> float:
        """The wait of our own choosing after failed attempt number ``attempt`` (1-based)."""
        step = min(self.max_backoff, self.backoff * 2 ** min(attempt - 1, 64))
        return step / 2 + random.uniform(0, step / 2)


@dataclass
class Attempts:
    """The attempts of one request so far, against its policy."""

    policy: RetryPolicy
    max_attempts: int
    deadline: float
    made: int = 0
    #: Why the last failure was final ("no retries left", "the retry budget is spent"), once it was.
    why_final: str | None = field(default=None)

    def begin(self) -> int:
        """Count a new attempt and return its number (1-based)."""
        self.made += 1
        return self.made

    def remaining(self) -> float:
        """Seconds left in the budget."""
        return self.deadline - time.monotonic()

    def wait_before_next(self, failure: ThuliumError, retry_after: float | None) -> float | None:
        """Seconds to wait before trying again after ``failure``, or ``None`` when it is final."""
        if not failure.retryable:
            return None
        wait = (
            self.policy.backoff_seconds(self.made)
            if retry_after is None
            else min(retry_after, self.policy.max_retry_after)
        )
        if self.made >= self.max_attempts:
            self.why_final = "no retries left"
        elif wait >= self.remaining():
            self.why_final = "the retry budget is spent"
        else:
            return wait
        return None
