"""Run DAGs for real (``dag.test()`` with SQLite) and read back task states and XComs."""

from __future__ import annotations

import os
from typing import Any

from airflow.utils.session import create_session

try:  # Airflow 3
    from airflow.models.xcom import XComModel as _XComRow
except ImportError:  # Airflow 2.11
    from airflow.models.xcom import XCom as _XComRow  # type: ignore[no-redef]

from airflow.models.taskinstance import TaskInstance

from airflow_provider_thulium.version_compat import AIRFLOW_V_3_0_PLUS

MISSING = object()


def run_dag(dag: Any, conf: dict[str, Any] | None = None) -> Any:
    """Run every task of ``dag`` in this process and return the DagRun.

    Airflow 3 runs only DAGs it has serialized; a DAG built in a test is written to the metadata
    database first, as the DAG processor would.
    """
    if AIRFLOW_V_3_0_PLUS:
        from airflow.dag_processing.bundles.manager import DagBundlesManager
        from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

        DagBundlesManager().sync_bundles_to_db()
        bag = DagBag(dag_folder=os.devnull)
        bag.bag_dag(dag)
        sync_bag_to_db(bag, "dags-folder", None)
    return dag.test(run_conf=conf)


def task_states(dag_run: Any) -> dict[str, str]:
    """task_id (with map index for mapped tasks) → final state."""
    with create_session() as session:
        rows = session.query(TaskInstance).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id).all()
        return {
            (row.task_id if row.map_index < 0 else f"{row.task_id}[{row.map_index}]"): str(row.state) for row in rows
        }


def xcom(dag_run: Any, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
    """The XCom a task pushed, or MISSING."""
    if not AIRFLOW_V_3_0_PLUS:
        value = _XComRow.get_one(
            key=key, dag_id=dag_run.dag_id, task_id=task_id, run_id=dag_run.run_id, map_index=map_index
        )
        return MISSING if value is None else value
    with create_session() as session:
        row = (
            session.query(_XComRow)
            .filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id, task_id=task_id, key=key, map_index=map_index)
            .one_or_none()
        )
        return MISSING if row is None else _XComRow.deserialize_value(row)


def latest_run(dag: Any) -> Any:
    """The DAG's most recent DagRun, for a run whose dag.test() raised instead of returning."""
    from airflow.models.dagrun import DagRun

    with create_session() as session:
        run = session.query(DagRun).filter_by(dag_id=dag.dag_id).order_by(DagRun.id.desc()).first()
        session.expunge(run)
        return run
