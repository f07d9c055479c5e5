"""The few imports that differ between Airflow 2.11 and 3.x, in one place."""

from __future__ import annotations

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    BaseHook,
    BaseOperator,
    BaseSensorOperator,
    Context,
    ObjectStoragePath,
)
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

try:
    from airflow.providers.common.compat.sdk import conf
except ImportError:  # common-compat before 1.11 has no conf; Airflow 2.11's own is the same object
    from airflow.configuration import conf  # type: ignore[no-redef]

if AIRFLOW_V_3_0_PLUS:
    from airflow.providers.standard.triggers.temporal import DateTimeTrigger
else:  # Airflow 2.11 ships the time trigger in core.
    from airflow.triggers.temporal import DateTimeTrigger  # type: ignore[no-redef]

from airflow.triggers.base import TriggerEvent

if AIRFLOW_V_3_0_PLUS:
    # A trigger an AssetWatcher can run (Airflow 3 checks for this base) is a deferral's trigger too.
    from airflow.triggers.base import BaseEventTrigger
else:  # Airflow 2.11 has no event-driven scheduling: a plain trigger.
    from airflow.triggers.base import BaseTrigger as BaseEventTrigger  # type: ignore[assignment]

__all__ = [
    "AIRFLOW_V_3_0_PLUS",
    "AirflowException",
    "AirflowFailException",
    "AirflowSensorTimeout",
    "BaseEventTrigger",
    "BaseHook",
    "BaseOperator",
    "BaseSensorOperator",
    "Context",
    "DateTimeTrigger",
    "ObjectStoragePath",
    "TriggerEvent",
    "conf",
]
