"""pytest fixtures for the Thulium sandbox (registered through the ``pytest11`` entry point).

- ``thulium_sandbox``: a running sandbox with the demo data, with ``AIRFLOW_CONN_THULIUM_DEFAULT``
  pointing at it for the duration of the test;
- ``thulium_sandbox_factory``: a callable that starts more sandboxes (keyword arguments as for
  :class:`ThuliumSandbox`), all stopped after the test;
- ``thulium_airflow_db``: a migrated Airflow metadata database for real DAG runs
  (:func:`airflow_provider_thulium.testing.run_dag`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .server import ThuliumSandbox


@pytest.fixture
def thulium_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThuliumSandbox]:
    """A running sandbox seeded with the demo data, set as the ``thulium_default`` connection.

    :param monkeypatch: pytest's fixture, which sets the connection's environment variable for this test only.
    """
    sandbox = ThuliumSandbox(seed="demo")
    sandbox.start()
    try:
        monkeypatch.setenv("AIRFLOW_CONN_THULIUM_DEFAULT", sandbox.connection_json())
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def thulium_sandbox_factory() -> Iterator[Callable[..., ThuliumSandbox]]:
    """A callable starting extra sandboxes; every one of them is stopped at teardown."""
    started: list[ThuliumSandbox] = []

    def make(**kwargs: Any) -> ThuliumSandbox:
        sandbox = ThuliumSandbox(**kwargs)
        sandbox.start()
        started.append(sandbox)
        return sandbox

    try:
        yield make
    finally:
        for sandbox in started:
            sandbox.stop()


@pytest.fixture(scope="session")
def thulium_airflow_db() -> str:
    """Migrate the metadata database of the ``AIRFLOW_HOME`` in force, once per session; returns that folder.

    Airflow reads ``AIRFLOW_HOME`` when it is first imported, so a test suite that should not touch
    your own Airflow sets it to a throwaway folder in its ``conftest.py`` before anything imports
    Airflow (see the documentation's "Testing your DAGs"). Migrating is what ``airflow db migrate`` does:
    it creates the tables of a new database (SQLite by default) and deletes nothing.
    """
    from airflow.configuration import AIRFLOW_HOME
    from airflow.utils import db

    db.initdb()
    return AIRFLOW_HOME
