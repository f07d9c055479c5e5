"""ThuliumCampaignSensor: wait until a campaign has been called through.

A poke is one small request (``GET outbounds/:id/records?limit=1`` filtered by system status) whose
``count`` says how many records are left; deferred, the same poll runs in the triggerer
(:class:`~airflow_provider_thulium.triggers.thulium.ThuliumCampaignTrigger`) without a worker slot.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import Any

from airflow_provider_thulium import exceptions
from airflow_provider_thulium.checks.records import normalize_campaign_id
from airflow_provider_thulium.exceptions import ThuliumError
from airflow_provider_thulium.hooks.thulium import ThuliumHook
from airflow_provider_thulium.operators.thulium import decided_at_run_time
from airflow_provider_thulium.triggers.thulium import (
    ERROR,
    STILL_TO_CALL,
    SUCCESS,
    TIMEOUT,
    ThuliumCampaignTrigger,
    check_max_records,
    check_system_statuses,
)
from airflow_provider_thulium.version_compat import AirflowSensorTimeout, BaseSensorOperator, Context, conf


class ThuliumCampaignSensor(BaseSensorOperator):
    """Wait until at most ``max_records`` of a campaign's records are in ``system_statuses``.

    By default it counts the records still to be called (``TO_CALL``, ``IN_PROGRESS``, ``CALL``,
    ``MY_RECORD``, ``CALL_NO_SOONER_THAN`` and ``CALL_PROGRESSIVE``: every system status but
    ``NO_CALL`` and ``ABANDONED_AFTER_N_TRIES``), so with ``max_records=0`` it waits until the
    campaign has been called through. A callback booked for next month keeps a record "still to
    call": give ``system_statuses=["TO_CALL"]`` to wait for the fresh records only.

    It is an Airflow sensor: ``poke_interval``, ``timeout``, ``mode="reschedule"``, ``soft_fail``
    work as for any sensor, and a ``timeout`` fails the task without its retries. With
    ``deferrable`` the wait runs in the triggerer (no worker slot while waiting); the first check is
    made before deferring, so a campaign already called through costs no deferral.

    .. seealso:: The guide "Outcomes into your warehouse" (waiting on a campaign, and an
       ``AssetWatcher`` that schedules a DAG when a campaign is called through on Airflow 3).

    :param campaign_id: five-character campaign id, or an int that is zero-padded. Templated.
    :param system_statuses: the system statuses counted (one or a list). Templated.
    :param max_records: the most records in those statuses for the campaign to count as called
        through (default 0). Templated.
    :param thulium_conn_id: the Thulium connection.
    :param hook_params: extra :class:`~airflow_provider_thulium.hooks.thulium.ThuliumHook` arguments.
    :param deferrable: wait in the triggerer rather than in a worker slot. Default: Airflow's
        ``[operators] default_deferrable`` (``False`` unless set).
    :param kwargs: the arguments of Airflow's ``BaseSensorOperator`` (``poke_interval``, ``timeout``,
        ``mode``, ``soft_fail``...) and ``BaseOperator``.
    """

    template_fields: Sequence[str] = ("campaign_id", "system_statuses", "max_records")
    ui_color = "#e8f1fb"

    def __init__(
        self,
        *,
        campaign_id: str | int,
        system_statuses: Sequence[str] | str = STILL_TO_CALL,
        max_records: int | str = 0,
        thulium_conn_id: str = ThuliumHook.default_conn_name,
        hook_params: dict[str, Any] | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # Checked when the DAG is parsed, unless a template decides them.
        if not decided_at_run_time(campaign_id):
            normalize_campaign_id(campaign_id)
        if not decided_at_run_time(system_statuses):
            check_system_statuses(system_statuses)
        if not decided_at_run_time(max_records):
            check_max_records(max_records)
        self.campaign_id = campaign_id
        self.system_statuses = system_statuses
        self.max_records = max_records
        self.thulium_conn_id = thulium_conn_id
        self.hook_params = hook_params or {}
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> ThuliumHook:
        """The Thulium hook for this task."""
        return ThuliumHook(self.thulium_conn_id, **self.hook_params)

    def trigger(self, end_time: float | None = None) -> ThuliumCampaignTrigger:
        """The trigger that waits in the triggerer, from the rendered arguments (checks them all).

        :param end_time: the UNIX time the wait times out at.
        """
        return ThuliumCampaignTrigger(
            campaign_id=self.campaign_id,
            system_statuses=self.system_statuses,
            max_records=self.max_records,  # type: ignore[arg-type]  # digits too: checked by the trigger
            poll_interval=float(self.poke_interval),
            thulium_conn_id=self.thulium_conn_id,
            hook_params=self.hook_params,
            end_time=end_time,
        )

    def poke(self, context: Context) -> bool:
        """Count the records still in ``system_statuses``; done when at most ``max_records``.

        :param context: the task's Airflow context.
        """
        wait = self.trigger()
        count = self.hook.count_records(wait.campaign_id, system_statuses=wait.system_statuses)
        self.log.info(
            "campaign %s: %d record(s) in %s; called through at %d or fewer",
            wait.campaign_id,
            count,
            ", ".join(wait.system_statuses),
            wait.max_records,
        )
        return count <= wait.max_records

    def execute(self, context: Context) -> Any:
        """Poke (or reschedule) as Airflow's sensors do; deferrable, check once, then wait in the triggerer.

        :param context: the task's Airflow context.
        """
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):
            return None
        end_time = time.time() + float(self.timeout)
        # Airflow's own deferral timeout only backs up the trigger's (which fires first, as "timeout").
        backstop = timedelta(seconds=float(self.timeout) + max(60.0, 2 * float(self.poke_interval)))
        self.defer(trigger=self.trigger(end_time), method_name="execute_complete", timeout=backstop)
        return None

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        """Resume from the trigger: done, timed out (no retries), or the error the count met.

        :param context: the task's Airflow context.
        :param event: the trigger's event payload.
        """
        event = event or {}
        status = event.get("status")
        campaign = event.get("campaign_id", self.campaign_id)
        if status == SUCCESS:
            self.log.info("campaign %s: %s record(s) left to call: called through", campaign, event.get("records"))
            return
        if status == TIMEOUT:
            raise AirflowSensorTimeout(
                f"campaign {campaign}: still {event.get('records')} record(s) in "
                f"{', '.join(event.get('system_statuses') or ())} after {self.timeout} s (at most "
                f"{event.get('max_records')} wanted)"
            )
        if status == ERROR:
            raise _error_class(event.get("error"))(str(event.get("message") or "the trigger's poll failed"))
        raise ThuliumError(f"campaign {campaign}: the trigger answered an event this sensor does not know: {status!r}")

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """Resume after the deferral; Airflow's own deferral timeout is a sensor timeout here too (no retries).

        Airflow 2.11 leaves a deferral's timeout to the task's retries, 3.x makes it a sensor timeout.
        The trigger times out first; this is the backstop behaving alike on both.

        :param next_method: the method to resume with.
        :param next_kwargs: its arguments (the trigger's event).
        :param context: the task's Airflow context.
        """
        try:
            return super().resume_execution(next_method, next_kwargs, context)
        except AirflowSensorTimeout:
            raise
        except Exception as exc:
            if type(exc).__name__ == "TaskDeferralTimeout" and not getattr(self, "soft_fail", False):
                raise AirflowSensorTimeout(f"campaign {self.campaign_id}: {exc}") from exc
            raise


def _error_class(name: object) -> type[ThuliumError]:
    """The provider's error class of that name (so a fail-fast error still fails fast), else ThuliumError."""
    found = getattr(exceptions, str(name), None)
    plain = isinstance(found, type) and issubclass(found, ThuliumError) and found.__init__ is ThuliumError.__init__
    return found if plain else ThuliumError  # type: ignore[return-value]


__all__ = ["ThuliumCampaignSensor"]
