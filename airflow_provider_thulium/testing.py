"""Run your DAGs in a test against the sandbox, and read back what they did.

Airflow 3 runs only DAGs it has serialized, and Airflow 2.11 and 3 store XComs differently; these
helpers do what each version needs, so one test runs on both::

    from airflow_provider_thulium.testing import run_dag, task_states, xcom

    def test_my_dag(thulium_airflow_db, thulium_sandbox):
        run = run_dag(my_dag)
        assert task_states(run) == {"remove_opt_outs": "success"}

They need a migrated metadata database: the ``thulium_airflow_db`` fixture migrates the one of the
``AIRFLOW_HOME`` in force, which a ``conftest.py`` points at a throwaway folder before anything
imports Airflow (the documentation's "Testing your DAGs" shows both files).
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

from airflow_provider_thulium.version_compat import AIRFLOW_V_3_0_PLUS

#: What :func:`xcom` returns when the task pushed nothing under that key.
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING", "__bool__": lambda self: False})()


def xcom_model() -> tuple[Any, Any]:
    """The XCom table's model, and how to read a row's value, on this Airflow version (to read rows directly)."""
    if AIRFLOW_V_3_0_PLUS:
        from airflow.models.xcom import XComModel

        return XComModel, XComModel.deserialize_value
    from airflow.models.xcom import XCom

    return XCom, lambda row: row.value  # Airflow 2 deserializes the value when it loads the row


def run_dag(dag: Any, conf: dict[str, Any] | None = None, logical_date: datetime | None = None) -> Any:
    """Run every task of ``dag`` in this process (``dag.test()``) and return the DagRun.

    On Airflow 3 the DAG is first written to the metadata database, as the DAG processor would
    (its DAG folder is created when missing, as a deployment has one).

    :param dag: the DAG to run.
    :param conf: the run's ``conf`` (what ``params`` and ``dag_run.conf`` see).
    :param logical_date: the run's logical date (default: now; naive means UTC). A task runs only
        when it falls between the task's ``start_date`` and ``end_date``.
    :raises ValueError: when no task of the DAG would run at that date: the run would succeed
        having run nothing, and a test of it would pass having tested nothing.
    """
    when = _aware(logical_date or datetime.now(timezone.utc))
    _refuse_a_run_of_nothing(dag, when)
    if AIRFLOW_V_3_0_PLUS:
        from airflow import settings
        from airflow.dag_processing.bundles.manager import DagBundlesManager
        from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

        # The default bundle is the DAG folder; without it, every run logs "Bundle 'dags-folder' path does not exist".
        os.makedirs(settings.DAGS_FOLDER, exist_ok=True)
        DagBundlesManager().sync_bundles_to_db()
        bag = DagBag(dag_folder=os.devnull)
        bag.bag_dag(dag)
        sync_bag_to_db(bag, "dags-folder", None)
        return dag.test(run_conf=conf, logical_date=when)
    return dag.test(run_conf=conf, execution_date=when)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _refuse_a_run_of_nothing(dag: Any, when: datetime) -> None:
    """Raise ``ValueError`` when no task of ``dag`` falls between its start_date and end_date at ``when``
    (the rule Airflow applies when it creates a run's task instances)."""
    tasks = list(dag.tasks)
    if not tasks:
        raise ValueError(f"run_dag: DAG {dag.dag_id!r} has no tasks: there is nothing to run")
    starts, ends = [], []
    for task in tasks:
        start, end = task.start_date or dag.start_date, task.end_date or dag.end_date
        if start is not None and _aware(start) > when:
            starts.append(_aware(start))
        elif end is not None and _aware(end) < when:
            ends.append(_aware(end))
        else:
            return
    why = f"its tasks start on {min(starts).isoformat()} (start_date)" if starts else ""
    if ends:
        why += (" or " if why else "its tasks ") + f"ended on {max(ends).isoformat()} (end_date)"
    raise ValueError(
        f"run_dag: no task of DAG {dag.dag_id!r} would run at the logical date {when.isoformat()}: {why}. The run "
        "would succeed having run nothing; pass run_dag a logical_date between the tasks' start_date and end_date"
    )


def latest_run(dag_id: str) -> Any:
    """The DAG's most recent DagRun (e.g. after ``airflow dags test``, or a ``dag.test()`` that raised), or None.

    :param dag_id: the DAG's id.
    """
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        run = session.query(DagRun).filter_by(dag_id=dag_id).order_by(DagRun.id.desc()).first()
        if run is not None:
            session.expunge(run)
        return run


def task_states(dag_run: Any) -> dict[str, str]:
    """task_id (``task_id[i]`` for mapped tasks) → final state.

    :param dag_run: the run, as :func:`run_dag` returns it.
    """
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(TaskInstance).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id).all()
        return {
            (row.task_id if row.map_index < 0 else f"{row.task_id}[{row.map_index}]"): str(row.state) for row in rows
        }


def xcoms(dag_run: Any, key: str = "return_value") -> dict[str, Any]:
    """Every XCom of the run under ``key``: task_id (``task_id[i]`` for mapped tasks) → value.

    :param dag_run: the run, as :func:`run_dag` returns it.
    :param key: the XCom key (``"summary"`` for the operators' summary).
    """
    from airflow.utils.session import create_session

    model, value_of = xcom_model()
    with create_session() as session:
        rows = session.query(model).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id, key=key).all()
        return {
            (row.task_id if row.map_index < 0 else f"{row.task_id}[{row.map_index}]"): value_of(row)
            for row in sorted(rows, key=lambda row: (row.task_id, row.map_index))
        }


def xcom(dag_run: Any, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
    """The XCom a task pushed, or :data:`MISSING`.

    :param dag_run: the run, as :func:`run_dag` returns it.
    :param task_id: the task's id.
    :param key: the XCom key (``"summary"`` for the operators' summary).
    :param map_index: the index of a mapped task instance; -1 for a task that is not mapped.
    """
    name = task_id if map_index < 0 else f"{task_id}[{map_index}]"
    return xcoms(dag_run, key).get(name, MISSING)
