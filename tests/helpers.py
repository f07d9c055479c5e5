"""What many tests share: quick retries, a fresh DAG, a connection from the environment."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timezone
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import DAG

#: Retry settings that keep a test's retries to milliseconds.
FAST_RETRIES: dict[str, Any] = {"backoff": 0.01, "max_backoff": 0.05}

_dag_ids = itertools.count()


def new_dag(**kwargs: Any) -> DAG:
    """A DAG with a unique id, not scheduled, to run with ``run_dag``."""
    return DAG(
        f"thulium_test_{next(_dag_ids)}",
        schedule=None,
        start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
        catchup=False,
        **kwargs,
    )


def set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: Any) -> None:
    """Define an Airflow connection of type thulium in the environment for this test."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "thulium", **fields}))
