"""pytest fixtures for the Thulium sandbox (registered through the ``pytest11`` entry point).

- ``thulium_sandbox``: a running sandbox with the demo data, with ``AIRFLOW_CONN_THULIUM_DEFAULT``
  pointing at it for the duration of the test;
- ``thulium_sandbox_factory``: a callable that starts more sandboxes (keyword arguments as for
  :class:`ThuliumSandbox`), all stopped after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .server import ThuliumSandbox


@pytest.fixture
def thulium_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThuliumSandbox]:
    """A running sandbox seeded with the demo data, set as the ``thulium_default`` connection."""
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
