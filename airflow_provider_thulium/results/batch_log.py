"""A run's log lines about its batches: each batch's outcome counts and a few of its failed phones.

Phones are masked and the server's statuses shown through
:func:`~airflow_provider_thulium.privacy.safe_server_text`: a task log is read by more people than
the campaign's data.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from airflow_provider_thulium.calls.batching import BatchResult
from airflow_provider_thulium.outcomes import NOT_SENT
from airflow_provider_thulium.privacy import mask_phone, safe_server_text

_MAX_LOGGED_FAILURES = 3
_MAX_LOGGED_OUTCOMES = 10


def outcome_counts(counts: Mapping[str, int]) -> str:
    """Outcomes and their counts as one log-safe text (``NOT_EXIST 2, REMOVED 10``); a server's own statuses
    can be many and long, so the names are cut and at most ten shown."""
    ranked = sorted(counts.items())
    text = ", ".join(f"{safe_server_text(name, 60)} {count}" for name, count in ranked[:_MAX_LOGGED_OUTCOMES])
    more = len(ranked) - _MAX_LOGGED_OUTCOMES
    return text + (f" and {more} other outcome(s)" if more > 0 else "")


class BatchLog:
    """Logs one line per batch a run records.

    :param operation: the call's name (``"delete"``), as the line starts with it.
    :param campaign_id: the campaign, for the line.
    :param log: where the lines go.
    :param success_outcomes: the outcomes that count as a success: a batch with only these has no
        failed phone to show, and its phones are not looked at one by one.
    """

    def __init__(
        self, operation: str, campaign_id: str, log: logging.Logger | Any, success_outcomes: frozenset[str]
    ) -> None:
        self.operation = operation
        self.campaign_id = campaign_id
        self.log = log
        self.success_outcomes = success_outcomes

    def batch(
        self,
        number: int,
        batch: BatchResult,
        outcomes: Mapping[str, str | None],
        failed: Callable[[str, str], bool],
        label: str = "",
        uniform: str | None = None,
    ) -> None:
        """Log one batch's line: its outcome counts and a few of its failed phones, masked.

        :param number: the batch's number in the run (from 1).
        :param batch: the batch, as sent and answered.
        :param outcomes: each phone's outcome so far (``None``: not answered, shown as ``NOT_SENT``).
        :param failed: whether a phone with an outcome counts as failed.
        :param label: what follows the batch's number, e.g. which call it was sent as.
        :param uniform: the outcome every phone of the batch got, when known: the counts without a
            look at each phone.
        """
        counts: Counter[str] = Counter()
        if uniform is not None:
            counts[uniform] = len(batch.phones)
        else:
            for name, count in Counter(map(outcomes.__getitem__, batch.phones)).items():
                counts[name or NOT_SENT] += count
        failures: list[str] = []
        if not self.success_outcomes.issuperset(counts):
            for phone in batch.phones:
                name = outcomes[phone] or NOT_SENT
                if failed(phone, name):
                    failures.append(f"{mask_phone(phone)} {safe_server_text(name, 60)}")
                    if len(failures) == _MAX_LOGGED_FAILURES:
                        break
        self.log.info(
            "%s batch %d%s, campaign %s: %d phone(s): %s; %d request(s), %d retries, %.2f s%s",
            self.operation.upper(),
            number,
            label,
            self.campaign_id,
            len(batch.phones),
            outcome_counts(counts),
            batch.requests,
            batch.retries,
            batch.seconds,
            f"; failed e.g. {', '.join(failures)}" if failures else "",
        )


__all__ = ["BatchLog", "outcome_counts"]
