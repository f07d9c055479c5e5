"""The trigger a deferrable delete waits in while records are in a call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class ThuliumCallInProgressWaitTrigger(BaseTrigger):
    """Wait until ``moment``, then wake the task. It sends no request and holds no phone numbers.

    :param moment: when to resume (an aware datetime or its ISO string): an absolute time, so a
        restarted triggerer does not wait longer than asked.
    """

    def __init__(self, moment: datetime | str) -> None:
        super().__init__()
        self.moment = datetime.fromisoformat(moment) if isinstance(moment, str) else moment

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}", {"moment": self.moment.isoformat()})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        delay = (self.moment - datetime.now(timezone.utc)).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)
        yield TriggerEvent({"moment": self.moment.isoformat()})
