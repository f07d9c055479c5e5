"""ThuliumCampaignTrigger: a campaign's records counted in the triggerer until it has been called through.

It polls ``GET outbounds/:id/records`` with a ``system_status[]`` filter and ``limit=1`` (one small
request per poll, the answer's ``count`` is all it reads) from a thread, so the triggerer's event
loop never waits on the network. It serialises ids, statuses, numbers and intervals: never a
credential (the triggerer reads the connection itself) nor a phone number.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from airflow_provider_thulium.checks.records import normalize_campaign_id
from airflow_provider_thulium.exceptions import ThuliumError, ThuliumValidationError
from airflow_provider_thulium.hooks.thulium import ThuliumHook
from airflow_provider_thulium.reading.pages import RecordFilter, whole_number
from airflow_provider_thulium.version_compat import BaseEventTrigger, TriggerEvent

#: The system statuses of records still to be called (docs/thulium-api.md, "Statuses"): fresh
#: (``TO_CALL``), to be called again (``CALL``), called back at a set time (``CALL_NO_SOONER_THAN``),
#: kept by an agent (``MY_RECORD``), in the progressive dialler (``CALL_PROGRESSIVE``) or in a call
#: now (``IN_PROGRESS``). A campaign is called through when none (or few enough) are left; the two
#: others, ``NO_CALL`` and ``ABANDONED_AFTER_N_TRIES``, are records that are done.
STILL_TO_CALL = ("TO_CALL", "IN_PROGRESS", "CALL", "MY_RECORD", "CALL_NO_SOONER_THAN", "CALL_PROGRESSIVE")

SUCCESS = "success"
TIMEOUT = "timeout"
ERROR = "error"


def check_max_records(value: object) -> int:
    """``max_records`` as a whole number, 0 or more (digits, as a template renders them, too).

    :param value: the ``max_records`` argument.
    """
    number = whole_number(value.strip() if isinstance(value, str) else value)
    if number is None:
        raise ThuliumValidationError(f"max_records: expected a whole number, 0 or more, got {value!r}")
    return number


def check_system_statuses(value: object) -> list[str]:
    """``system_statuses`` as a list of the API's system statuses (one or several; at least one).

    :param value: the ``system_statuses`` argument.
    """
    statuses = list(RecordFilter.from_arguments(system_statuses=value).system_statuses)  # type: ignore[arg-type]
    if not statuses:
        raise ThuliumValidationError("system_statuses: name at least one system status to count")
    return statuses


class ThuliumCampaignTrigger(BaseEventTrigger):
    """Fires when at most ``max_records`` of the campaign's records are in ``system_statuses``.

    For a deferred :class:`~airflow_provider_thulium.sensors.thulium.ThuliumCampaignSensor` it fires
    once and ends: with ``status`` ``"success"``, ``"timeout"`` (``end_time`` passed first) or
    ``"error"`` (the count could not be read; the error's class and message, which hold no phone
    number). On Airflow 3 it can drive an ``AssetWatcher``: with ``watch=True`` it never ends, and
    fires each time the campaign **becomes** called through, that is on the first poll at or under
    ``max_records`` after one above it (a campaign already called through when the triggerer starts
    the trigger fires only after records are added and called again). Errors are then logged and
    polling goes on.

    :param campaign_id: five-character campaign id, or an int that is zero-padded.
    :param system_statuses: the system statuses counted (default :data:`STILL_TO_CALL`).
    :param max_records: the most records in those statuses for the campaign to count as called through.
    :param poll_interval: seconds between two polls.
    :param thulium_conn_id: the Thulium connection.
    :param hook_params: extra :class:`~airflow_provider_thulium.hooks.thulium.ThuliumHook` arguments
        (settings such as ``timeout``; never credentials, which the connection holds).
    :param end_time: a UNIX time after which a poll that finds too many records ends the wait with
        ``"timeout"`` (a sensor's ``timeout``); ``None`` waits for ever.
    :param watch: keep polling after firing, and fire on each change to called through (an ``AssetWatcher``).
    """

    def __init__(
        self,
        campaign_id: str | int,
        system_statuses: Sequence[str] | str = STILL_TO_CALL,
        max_records: int = 0,
        poll_interval: float = 60.0,
        thulium_conn_id: str = ThuliumHook.default_conn_name,
        hook_params: dict[str, Any] | None = None,
        end_time: float | None = None,
        watch: bool = False,
    ) -> None:
        super().__init__()
        # Checked here too: an AssetWatcher's trigger is written by hand in a DAG file.
        self.campaign_id = normalize_campaign_id(campaign_id)
        self.system_statuses = check_system_statuses(system_statuses)
        self.max_records = check_max_records(max_records)
        if isinstance(poll_interval, bool) or not isinstance(poll_interval, (int, float)) or poll_interval <= 0:
            raise ThuliumValidationError(f"poll_interval: expected a number of seconds above 0, got {poll_interval!r}")
        self.poll_interval = float(poll_interval)
        self.thulium_conn_id = thulium_conn_id
        self.hook_params = dict(hook_params or {})
        self.end_time = end_time
        self.watch = bool(watch)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The trigger's class path and arguments, as the triggerer re-creates it: no secret, no phone number."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "campaign_id": self.campaign_id,
                "system_statuses": list(self.system_statuses),
                "max_records": self.max_records,
                "poll_interval": self.poll_interval,
                "thulium_conn_id": self.thulium_conn_id,
                "hook_params": dict(self.hook_params),
                "end_time": self.end_time,
                "watch": self.watch,
            },
        )

    def event(self, status: str, **details: Any) -> TriggerEvent:
        """An event of this trigger: its ``status``, what it watched, and ``details`` (``records``, ``message``).

        :param status: ``"success"``, ``"timeout"`` or ``"error"``.
        :param details: what the event adds: the count read, an error's class and message.
        """
        return TriggerEvent(
            {
                "status": status,
                "campaign_id": self.campaign_id,
                "system_statuses": list(self.system_statuses),
                "max_records": self.max_records,
                **details,
            }
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until the campaign is called through (or, with ``watch``, for ever)."""
        hook = ThuliumHook(self.thulium_conn_id, **self.hook_params)
        above = False  # a poll found more than max_records since the trigger started (or last fired)
        try:
            while True:
                try:
                    count = await asyncio.to_thread(
                        hook.count_records, self.campaign_id, system_statuses=self.system_statuses
                    )
                except ThuliumError as exc:
                    if not self.watch:
                        yield self.event(ERROR, error=type(exc).__name__, message=str(exc))
                        return
                    self.log.warning(
                        "campaign %s: its records could not be counted (%s); polling on", self.campaign_id, exc
                    )
                else:
                    done = count <= self.max_records
                    self.log.info(
                        "campaign %s: %d record(s) in %s; called through at %d or fewer",
                        self.campaign_id,
                        count,
                        ", ".join(self.system_statuses),
                        self.max_records,
                    )
                    if done and (above or not self.watch):
                        yield self.event(SUCCESS, records=count)
                        if not self.watch:
                            return
                    above = not done
                    if not done and not self.watch and self.end_time is not None and time.time() >= self.end_time:
                        yield self.event(TIMEOUT, records=count)
                        return
                wait = self.poll_interval
                if self.end_time is not None and not self.watch:
                    wait = max(0.0, min(wait, self.end_time - time.time()))
                await asyncio.sleep(wait)
        finally:
            hook.close()


__all__ = ["STILL_TO_CALL", "ThuliumCampaignTrigger", "check_max_records", "check_system_statuses"]
