"""The README's operator and hook examples, run as written, in real task runs against the sandbox."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_thulium.testing import run_dag, task_states, xcom
from tests.helpers import new_dag

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)

pytestmark = pytest.mark.usefixtures("airflow_db")


def block_with(text: str) -> str:
    (block,) = [block for block in BLOCKS if text in block]
    return block


def run_in_a_dag(code: str, then: str = "") -> tuple[Any, dict[str, Any]]:
    """Execute a README block inside a DAG (where a user pastes it), optionally call what it defines."""
    namespace: dict[str, Any] = {}
    with new_dag() as dag:
        exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own example
        if then:
            exec(then, namespace)  # noqa: S102
    return run_dag(dag), namespace


@pytest.mark.parametrize(
    ("marker", "task_id"),
    [
        ("ThuliumDeleteRecordsOperator(", "remove_opt_outs"),
        ("ThuliumUpdateRecordsOperator(", "apply_crm_statuses"),
        ("ThuliumAddRecordsOperator(", "add_leads"),
    ],
)
def test_operator_examples_run_as_written(thulium_sandbox, marker, task_id):
    run, _ = run_in_a_dag(block_with(marker))
    assert task_states(run) == {task_id: "success"}
    summary = xcom(run, task_id, "summary")
    assert summary["failed"] == 0 and summary["phones"] >= 2


def test_hook_example_runs_as_written(thulium_sandbox):
    run, _ = run_in_a_dag(block_with("def clean_up("), 'clean_up(["48500100201"])')
    assert task_states(run) == {"clean_up": "success"}
    assert thulium_sandbox.state.find("00001", "48500100201") == []


def test_reading_back_example_runs_as_written(thulium_sandbox):
    run, _ = run_in_a_dag(block_with("def report("), 'report("00001")')
    assert task_states(run) == {"report": "success"}
    assert xcom(run, "report") == 1  # record 1010 of campaign 00001 is "Not interested" (NO_CALL)
