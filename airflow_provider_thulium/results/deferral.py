"""What a run's results carry across a deferral, as the JSON an XCom holds.

A deferred task resumes in another process: the results so far wait in an XCom (not in the
trigger, whose arguments and events Airflow prints in its logs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DeferralState:
    """A run's results when it deferred.

    :param results: phone → entry of the phones kept in memory (``None``: not answered yet). With
        a results file only those a later try may change: the others are read back from the file.
    :param requests: requests made so far.
    :param retries: retries made so far.
    :param batches: batches recorded so far.
    :param started: when the run started (wall-clock seconds, as the run resumes in another process).
    :param after_lost_answer: the phones whose "already done" answered a retry after a lost answer.
    """

    results: dict[str, Any]
    requests: int
    retries: int
    batches: int
    started: float
    after_lost_answer: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The state as JSON-able data."""
        return {
            "results": self.results,
            "requests": self.requests,
            "retries": self.retries,
            "batches": self.batches,
            "started": self.started,
            # With a results file the marked phones' entries are in the file, not in "results".
            "after_lost_answer": self.after_lost_answer,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeferralState:
        """The state :meth:`to_json` gave, read back (extra keys, such as the caller's own, are ignored).

        :param data: what :meth:`to_json` returned, through JSON.
        """
        results = dict(data["results"])
        # A state saved before "after_lost_answer" was kept names its phones only on their entries.
        marked = set(data.get("after_lost_answer", ())) | {
            phone for phone, entry in results.items() if isinstance(entry, dict) and entry.get("after_lost_answer")
        }
        return cls(
            results=results,
            requests=data["requests"],
            retries=data["retries"],
            batches=data["batches"],
            started=data["started"],
            after_lost_answer=sorted(marked),
        )


__all__ = ["DeferralState"]
