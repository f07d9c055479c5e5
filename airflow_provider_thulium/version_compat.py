"""The few imports that differ between Airflow 2.11 and 3.x, in one place."""

from __future__ import annotations

from airflow.providers.common.compat.sdk import AirflowException, BaseHook, BaseOperator, Context
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

__all__ = ["AIRFLOW_V_3_0_PLUS", "AirflowException", "BaseHook", "BaseOperator", "Context"]
