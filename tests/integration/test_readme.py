"""The README's code that users copy runs as it is, on Airflow 3 and 2.11."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_thulium.exceptions import ThuliumValidationError
from airflow_provider_thulium.hooks.thulium import ThuliumHook
from airflow_provider_thulium.testing import run_dag, task_states, xcom
from tests.helpers import new_dag, xcom_rows

README = Path(__file__).parents[2] / "README.md"


def python_block(containing: str) -> str:
    """The README's one ``python`` code block holding ``containing``."""
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL) if containing in b]
    return block


def test_the_test_your_own_dags_example_passes_in_a_fresh_airflow_home(tmp_path):
    # As a user runs it: the two files of the README in a folder of their own, pytest in a new
    # process, no Airflow settings from this test suite (the README's conftest.py makes its own home).
    (tmp_path / "conftest.py").write_text(python_block("# conftest.py"))
    (tmp_path / "test_opt_out.py").write_text(python_block("# test_opt_out.py"))
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AIRFLOW", "PYTEST"))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert re.search(r"\b1 passed\b", done.stdout)


@pytest.mark.usefixtures("airflow_db")
def test_the_hook_example_pushes_one_xcom_in_a_task(thulium_sandbox):
    namespace: dict[str, object] = {}
    with new_dag() as dag:
        exec(python_block("def clean_up"), namespace)  # noqa: S102  # the README's own code
        namespace["clean_up"](["48500100201", "48500100299"])  # type: ignore[operator]
    run = run_dag(dag)
    assert task_states(run) == {"clean_up": "success"}
    assert xcom_rows(run) == [("clean_up", -1, "return_value")]
    results = xcom(run, "clean_up")
    assert list(results) == ["48500100201", "48500100299"]
    assert [entry["status"] for entry in results["48500100299"]] == ["REMOVED"]


def test_the_hooks_stream_calls_check_the_input_before_sending(thulium_sandbox):
    hook = ThuliumHook()
    with pytest.raises(ThuliumValidationError, match="it holds a space"):
        hook.stream_delete_records("00001", ["48500100201", "48 500 100 202"])
    with pytest.raises(ThuliumValidationError, match="nothing to change"):
        hook.stream_update_records("00001", [{"phone_number": "48500100201"}])
    assert thulium_sandbox.requests == []


@pytest.mark.usefixtures("airflow_db")
@pytest.mark.parametrize(
    ("marker", "task_id"),
    [
        ("remove_opt_outs = ThuliumDeleteRecordsOperator(", "remove_opt_outs"),
        ("apply_crm = ThuliumUpdateRecordsOperator(", "apply_crm_statuses"),
        ("add_leads = ThuliumAddRecordsOperator(", "add_leads"),
    ],
)
def test_operator_examples_run_as_written(thulium_sandbox, marker, task_id):
    namespace: dict[str, object] = {}
    with new_dag() as dag:
        exec(python_block(marker), namespace)  # noqa: S102  # the README's own code, where a user pastes it
    run = run_dag(dag)
    assert task_states(run) == {task_id: "success"}
    summary = xcom(run, task_id, "summary")
    assert summary["failed"] == 0 and summary["phones"] >= 2


@pytest.mark.usefixtures("airflow_db")
def test_the_reading_back_example_runs_as_written(thulium_sandbox):
    namespace: dict[str, object] = {}
    with new_dag() as dag:
        exec(python_block("def report("), namespace)  # noqa: S102  # the README's own code
        namespace["report"]("00001")  # type: ignore[operator]
    run = run_dag(dag)
    assert task_states(run) == {"report": "success"}
    assert xcom(run, "report") == 1  # record 1010 of campaign 00001 is "Not interested" (NO_CALL)
