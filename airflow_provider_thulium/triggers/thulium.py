"""The trigger a deferrable delete waits in while records are in a call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class ThuliumCallInProgressWaitTrigger(BaseTrigger):
    """Wait until ``moment``, then hand the task's saved results back to it. It sends no request.

    The results travel in the event rather than in the deferral's kwargs: every Airflow version
    passes the event to the resumed task, while ``dag.test()`` drops the kwargs.

    :param moment: when to resume (an aware datetime or its ISO string), so a restarted triggerer
        does not wait longer than asked.
    :param state: the operator's results so far, JSON-able.
    """

    def __init__(self, moment: datetime | str, state: dict[str, Any]) -> None:
        super().__init__()
        self.moment = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
        self.state = state

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"moment": self.moment.isoformat(), "state": self.state},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        delay = (self.moment - datetime.now(timezone.utc)).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)
        yield TriggerEvent({"state": self.state})
