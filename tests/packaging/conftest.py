"""The packaging tests check built distributions: they run only when given them.

``make test-packaging`` builds them (``make dist``) and sets ``THULIUM_DIST_DIR``; a plain
``pytest`` run skips these tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "packaging: checks the built sdist and wheel (make test-packaging)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("THULIUM_DIST_DIR"):
        return
    skip = pytest.mark.skip(reason="packaging test: run it with `make test-packaging` (sets THULIUM_DIST_DIR)")
    for item in items:
        if item.get_closest_marker("packaging"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def dist_dir() -> Path:
    return Path(os.environ["THULIUM_DIST_DIR"]).resolve()
