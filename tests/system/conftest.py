"""The system test starts PostgreSQL and four Airflow processes: it runs only when asked for.

``make test-system`` sets ``THULIUM_SYSTEM_TEST=1``; a plain ``pytest`` run skips it.
"""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "system: starts PostgreSQL and a multi-process Airflow (make test-system)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("THULIUM_SYSTEM_TEST") == "1":
        return
    skip = pytest.mark.skip(reason="system test: run it with `make test-system` (sets THULIUM_SYSTEM_TEST=1)")
    for item in items:
        if item.get_closest_marker("system"):
            item.add_marker(skip)
