"""OpenLineage tests: they run where the OpenLineage provider is installed (``make test-openlineage``).

Events of the task runs go to a file through OpenLineage's file transport, set here before any task
runs (the OpenLineage provider reads its settings once). Without the provider the tests skip.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

EVENTS = Path(tempfile.mkdtemp(prefix="thulium-openlineage-")) / "events.jsonl"
# [START openlineage_file_transport]
os.environ["AIRFLOW__OPENLINEAGE__TRANSPORT"] = json.dumps(
    {"type": "file", "log_file_path": str(EVENTS), "append": True}
)
# [END openlineage_file_transport]

#: Events of one task: ``(dag_id, task_id, event_type)`` → the event, waited for.
EventOf = Callable[[str, str, str], dict[str, Any]]


@pytest.fixture
def openlineage_event() -> EventOf:
    """A task's OpenLineage event, read from the file transport; waited for (Airflow 2.11 emits from a fork)."""

    def event(dag_id: str, task_id: str, event_type: str) -> dict[str, Any]:
        deadline = time.monotonic() + 30
        while True:
            for line in EVENTS.read_text().splitlines() if EVENTS.exists() else []:
                found = json.loads(line)
                if found["job"]["name"] == f"{dag_id}.{task_id}" and found["eventType"] == event_type:
                    return found
            if time.monotonic() > deadline:
                raise AssertionError(f"no {event_type} event of {dag_id}.{task_id} in {EVENTS}")
            time.sleep(0.2)

    return event


@pytest.fixture(autouse=True)
def fresh_hook_lineage() -> None:
    """Empty Airflow's hook lineage collector before each test.

    ``dag.test()`` runs every task in this process, where the collector is one object for the whole
    session; a deployment gives each task a process of its own, and so a collector of its own.
    """
    from airflow.providers.common.compat.lineage.hook import get_hook_lineage_collector

    for value in vars(get_hook_lineage_collector()).values():
        if isinstance(value, dict):
            value.clear()
