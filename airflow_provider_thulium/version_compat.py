"""The few imports that differ between Airflow 2.11 and 3.x, in one place."""

from __future__ import annotations

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    BaseHook,
    BaseOperator,
    Context,
)
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

if AIRFLOW_V_3_0_PLUS:
    from airflow.providers.standard.triggers.temporal import DateTimeTrigger
else:  # Airflow 2.11 ships the time trigger in core.
    from airflow.triggers.temporal import DateTimeTrigger  # type: ignore[no-redef]

__all__ = [
    "AIRFLOW_V_3_0_PLUS",
    "AirflowException",
    "AirflowFailException",
    "BaseHook",
    "BaseOperator",
    "Context",
    "DateTimeTrigger",
]
