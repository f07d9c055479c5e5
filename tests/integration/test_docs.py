"""Every code example of the documentation is a file that runs here, on Airflow 3 and 2.11.

The pages include their Python from ``docs/snippets/`` (run here) or ``dags_examples/`` (run by
``test_examples.py``) between ``[START name]`` / ``[END name]`` markers; no page holds Python typed into it.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_thulium.testing import run_dag, task_states, xcom
from tests.helpers import new_dag, xcom_rows

REPO = Path(__file__).parents[2]
DOCS = REPO / "docs"
SNIPPETS = DOCS / "snippets"
EXAMPLES = REPO / "dags_examples"
# A fence or directive holding Python: ```python, ```{code-block} py, .. code-block:: python (in eval-rst).
TYPED_PYTHON = re.compile(
    r"^\s*(?:(?:```+|~~~+)\s*(?:\{(?:code-block|code|sourcecode)\}\s*)?|\.\. (?:code-block|code|sourcecode)::\s*)"
    r"(?:python3?|py|pycon|ipython)\b.*$",
    re.MULTILINE,
)
INCLUDE = re.compile(r"```\{literalinclude\} (\S+)\n((?::[^\n]*\n)*)```")
# Every snippet file a page includes, and the test that runs it: a test below, or ``module.py::test`` of
# tests/integration for a guide's snippets that a feature's own test module runs.
RUN_HERE = {
    "first_dag.py": "test_the_first_dag_is_the_readmes_dag",
    "delete_operator.py": "test_operator_snippets_run_as_written",
    "update_operator.py": "test_operator_snippets_run_as_written",
    "add_operator.py": "test_operator_snippets_run_as_written",
    "hook_task.py": "test_the_hook_task_pushes_one_xcom",
    "hook_read_back.py": "test_the_reading_back_task_counts_and_groups",
    "client_script.py": "test_the_client_runs_without_airflow",
    "lineage_hook_task.py": "test_the_lineage_hook_task_runs",
    "sources_and_results.py": "test_docs_sources.py::test_the_sources_and_results_snippets_run",
    "outcomes.py": "test_docs_outcomes.py::test_the_outcomes_snippets_run",
    "sync_campaign.py": "test_docs_sync.py::test_the_guides_snippets_plan_then_sync_and_keep_a_state_file",
    "reads_and_adds.py": "test_docs_reads_and_adds.py::test_the_lost_answer_mark_and_the_paged_read_run_as_written",
    "testing/conftest.py": "test_the_testing_your_dags_files_pass_in_a_fresh_airflow_home",
    "testing/test_opt_out.py": "test_the_testing_your_dags_files_pass_in_a_fresh_airflow_home",
}


def pages() -> list[Path]:
    """The documentation's Markdown sources (not the build, not the generated parts)."""
    skip = {"_build", "_generated", "snippets"}
    return [page for page in DOCS.rglob("*.md") if not skip & set(page.relative_to(DOCS).parts)]


def region(path: Path, name: str) -> str:
    """The text of ``path`` between its ``[START name]`` and ``[END name]`` lines, as a page shows it."""
    text = path.read_text(encoding="utf-8")
    start = text.index(f"[START {name}]")
    start = text.index("\n", start) + 1
    end = text.rindex("\n", 0, text.index(f"[END {name}]")) + 1
    return text[start:end].rstrip("\n") + "\n"


def included() -> list[tuple[Path, Path, str]]:
    """(page, included file, marker name) of every ``literalinclude`` in the pages."""
    found = []
    for page in pages():
        for target, options in INCLUDE.findall(page.read_text(encoding="utf-8")):
            names = re.findall(r":start-after: \[START (\S+)\]", options)
            assert names and f":end-before: [END {names[0]}]" in options, f"{page}: {target} without markers"
            found.append((page, (page.parent / target).resolve(), names[0]))
    return found


def exec_snippet(name: str, namespace: dict[str, object]) -> None:
    """Run a snippet file's whole text, as the page's reader would paste it."""
    path = SNIPPETS / name
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)  # noqa: S102  # the docs' own code


def test_no_page_has_python_typed_into_it():
    typed = [
        f"{page.relative_to(REPO)}: {match.group(0).strip()}"
        for page in pages()
        for match in TYPED_PYTHON.finditer(page.read_text(encoding="utf-8"))
    ]
    assert typed == []


def test_every_included_snippet_exists_with_its_markers_and_is_run_here():
    snippets = set()
    for page, target, name in included():
        assert target.is_file(), f"{page}: {target} is missing"
        assert region(target, name).strip(), f"{page}: {target} has nothing between its {name} markers"
        if target.is_relative_to(EXAMPLES):
            continue  # an example DAG: test_examples.py runs each of them
        if target.is_relative_to(REPO / "tests"):
            continue  # a part of the test suite, run by it
        assert target.is_relative_to(SNIPPETS), f"{page}: {target} is neither a snippet nor an example DAG"
        snippets.add(target.relative_to(SNIPPETS).as_posix())
    assert snippets == set(RUN_HERE), "a snippet file without its test here, or a test of a snippet no page shows"
    for test in RUN_HERE.values():
        module, _, name = test.rpartition("::")
        if module:
            assert f"\ndef {name}(" in (Path(__file__).parent / module).read_text(encoding="utf-8"), test
        else:
            assert callable(globals()[name]), test


def test_the_first_dag_is_the_readmes_dag():
    # tests/integration/test_readme.py runs the README's block as it is written; the page shows the same code.
    readme_blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), re.DOTALL)
    assert region(SNIPPETS / "first_dag.py", "first_dag") in readme_blocks


@pytest.mark.usefixtures("airflow_db")
@pytest.mark.parametrize(
    ("snippet", "task_id"),
    [
        ("delete_operator.py", "remove_opt_outs"),
        ("update_operator.py", "apply_crm_statuses"),
        ("add_operator.py", "add_leads"),
    ],
)
def test_operator_snippets_run_as_written(thulium_sandbox, snippet, task_id):
    with new_dag() as dag:
        exec_snippet(snippet, {})
    run = run_dag(dag)
    assert task_states(run) == {task_id: "success"}
    summary = xcom(run, task_id, "summary")
    assert summary["failed"] == 0 and summary["phones"] >= 2


@pytest.mark.usefixtures("airflow_db")
def test_the_hook_task_pushes_one_xcom(thulium_sandbox):
    namespace: dict[str, object] = {}
    with new_dag() as dag:
        exec_snippet("hook_task.py", namespace)
        namespace["clean_up"](["48500100201", "48500100299"])  # type: ignore[operator]
    run = run_dag(dag)
    assert task_states(run) == {"clean_up": "success"}
    assert xcom_rows(run) == [("clean_up", -1, "return_value")]
    results = xcom(run, "clean_up")
    assert list(results) == ["48500100201", "48500100299"]
    assert [entry["status"] for entry in results["48500100299"]] == ["REMOVED"]


@pytest.mark.usefixtures("airflow_db")
def test_the_reading_back_task_counts_and_groups(thulium_sandbox):
    namespace: dict[str, object] = {}
    with new_dag() as dag:
        exec_snippet("hook_read_back.py", namespace)
        namespace["report"]("00001")  # type: ignore[operator]
    run = run_dag(dag)
    assert task_states(run) == {"report": "success"}
    # Campaign 00001: record 1010 is "Not interested" (NO_CALL); of the 7 records created from
    # 2025-03-05 on (1006-1012), 1007 is j.doe's.
    assert xcom(run, "report") == {"not_interested": 1, "per_agent": {"unassigned": 6, "j.doe": 1}}


def test_the_client_runs_without_airflow(thulium_sandbox):
    namespace: dict[str, object] = {}
    exec_snippet("client_script.py", namespace)
    results = namespace["remove"](  # type: ignore[operator]
        thulium_sandbox.url, thulium_sandbox.login, thulium_sandbox.password, ["48500100202"]
    )
    assert results == {"48500100202": [{"http_status": 200, "record_id": 1004, "status": "REMOVED"}]}
    assert thulium_sandbox.state.find("00001", "48500100202") == []


def test_the_testing_your_dags_files_pass_in_a_fresh_airflow_home(tmp_path):
    # As a user runs them: the two files in a folder of their own, pytest in a new process, no
    # Airflow settings from this test suite (the conftest.py makes its own home).
    for name in ("conftest.py", "test_opt_out.py"):
        (tmp_path / name).write_text((SNIPPETS / "testing" / name).read_text(encoding="utf-8"))
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


def test_the_performance_figures_come_from_the_bench_report():
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        from generated_parts import BENCHMARK_REPORT, write_generated
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    write_generated(DOCS)
    report = json.loads((DOCS / BENCHMARK_REPORT).read_text(encoding="utf-8"))
    figures = (DOCS / "_generated" / "performance-figures.md").read_text(encoding="utf-8")
    page = (DOCS / "performance.md").read_text(encoding="utf-8")
    assert "```{include} _generated/performance-figures.md" in page
    for target in report["targets"]:
        shown = f"{target['value']:.0f} MB" if "MB" in target["name"] else f"{target['value']:.2f}"
        assert f"| {target['name']} {target['op']} {target['target']:g} | **{shown}**" in figures
    assert not re.findall(r"\d+\.\d+|\d+(?:,\d{3})+", page), "a figure typed into the page"


@pytest.mark.usefixtures("airflow_db")
def test_the_lineage_hook_task_runs(thulium_sandbox):
    # The events it reports are checked in tests/lineage, where the OpenLineage provider is installed.
    thulium_sandbox.state.add_records("00002", [{"phone_number": "48500100208"}])  # "Not interested" in 00001
    dag = runpy.run_path(str(SNIPPETS / "lineage_hook_task.py"))["dag"]
    run = run_dag(dag)
    assert task_states(run) == {"remove_refusals": "success"}
    assert thulium_sandbox.state.find("00002", "48500100208") == []
