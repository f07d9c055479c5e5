"""Test set-up: a throwaway AIRFLOW_HOME with SQLite, before anything imports Airflow.

The sandbox fixtures (``thulium_sandbox``, ``thulium_sandbox_factory``) come from the package's
own pytest plugin, the same way users get them.
"""

from __future__ import annotations

import os
import tempfile

_HOME = tempfile.mkdtemp(prefix="thulium-tests-airflow-home-")
os.environ["AIRFLOW_HOME"] = _HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = os.path.join(_HOME, "dags")
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
# Airflow 2.11's unit-test mode asks for the LocalExecutor, whose check refuses SQLite when a sensor's
# reschedule dependency loads it (dag.test runs tasks in-process anyway); Airflow's own tests set this.
os.environ["_AIRFLOW__SKIP_DATABASE_EXECUTOR_COMPATIBILITY_CHECK"] = "1"
os.environ.pop("AIRFLOW_CONN_THULIUM_DEFAULT", None)
os.makedirs(os.environ["AIRFLOW__CORE__DAGS_FOLDER"], exist_ok=True)

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """A migrated SQLite metadata database for real task runs."""
    from airflow.utils import db

    db.resetdb() if os.path.exists(os.path.join(_HOME, "airflow.db")) else db.initdb()
    return _HOME
