"""What many tests share: quick retries, a fresh DAG, a connection from the environment."""

from __future__ import annotations

import itertools
import json
import traceback
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


def tries(dag_run: Any) -> dict[str, int]:
    """task_id → the try number the task instance ended on, read from the metadata database."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(TaskInstance).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id).all()
        return {row.task_id: row.try_number for row in rows}


def xcom_rows(dag_run: Any) -> list[tuple[str, int, str]]:
    """Every XCom row of the run as (task_id, map_index, key), read from the metadata database."""
    from airflow.utils.session import create_session

    from airflow_provider_thulium.testing import _xcom_rows

    model, _ = _xcom_rows()
    with create_session() as session:
        rows = session.query(model).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id).all()
        return sorted((row.task_id, row.map_index, row.key) for row in rows)


def all_logs(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> str:
    """Everything logged: Airflow 2.11 through logging (caplog), Airflow 3's task logs to stdout (capfd)."""
    out, err = capfd.readouterr()
    lines = [f"{r.name} {r.levelname} {r.getMessage()}" for r in caplog.records]
    lines += ["".join(traceback.format_exception(*r.exc_info)) for r in caplog.records if r.exc_info]
    return "\n".join([*lines, out, err])
