"""The README's code runs as it is written, on Airflow 3 and 2.11.

The README is a front page: its one Python block is a DAG a user copies. The documentation's
examples are files run by ``test_docs.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from airflow_provider_thulium.testing import run_dag, task_states, xcom

README = Path(__file__).parents[2] / "README.md"


def python_blocks() -> list[str]:
    """The README's ``python`` code blocks."""
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)


def test_the_readme_is_a_front_page():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 250
    assert len(python_blocks()) == 1


@pytest.mark.usefixtures("airflow_db")
def test_the_readmes_dag_runs_as_written(thulium_sandbox):
    (block,) = python_blocks()
    namespace: dict[str, object] = {}
    exec(block, namespace)  # noqa: S102  # the README's own code, as a user pastes it into a DAG file
    run = run_dag(namespace["dag"])
    assert task_states(run) == {"remove_opt_outs": "success"}
    results = xcom(run, "remove_opt_outs")
    assert [entry["status"] for entry in results["48500100201"]] == ["REMOVED", "REMOVED"]
    assert results["48999000111"] == [{"http_status": 404, "status": "NOT_EXIST"}]
    assert xcom(run, "remove_opt_outs", "summary")["failed"] == 0
