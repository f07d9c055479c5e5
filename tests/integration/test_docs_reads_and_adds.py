"""The snippets of docs/guides/reliability-reads-and-adds.md, run as the page shows them."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_thulium.operators.thulium import ThuliumAddRecordsOperator
from airflow_provider_thulium.sandbox import Fault
from airflow_provider_thulium.testing import run_dag, task_states, xcom
from tests.helpers import FAST_RETRIES, new_dag

SNIPPET = Path(__file__).parents[2] / "docs" / "snippets" / "reads_and_adds.py"
PHONES = [f"4879{n:07d}" for n in range(20)]


@pytest.mark.usefixtures("airflow_db")
def test_the_lost_answer_mark_and_the_paged_read_run_as_written(thulium_sandbox):
    namespace: dict[str, object] = {}
    exec(compile(SNIPPET.read_text(encoding="utf-8"), str(SNIPPET), "exec"), namespace)  # noqa: S102  # the docs' own code
    thulium_sandbox.state.add_campaign("00046", "Docs")
    # The second batch is applied, then its connection dropped: its retry answers ALREADY_EXISTS.
    thulium_sandbox.add_fault(Fault(method="POST", drop=True, after=1))
    with new_dag() as dag:
        add = ThuliumAddRecordsOperator(
            task_id="add_leads",
            campaign_id="00046",
            records=[{"phone_number": phone} for phone in PHONES],
            on_existing="fail",
            hook_params={"max_batch_size": 10, **FAST_RETRIES},
        )
        namespace["maybe_own_adds"](add.output)  # type: ignore[operator]
        add >> namespace["count_to_call"]("00046")  # type: ignore[operator]
    run = run_dag(dag)

    assert task_states(run) == {"add_leads": "success", "maybe_own_adds": "success", "count_to_call": "success"}
    assert xcom(run, "maybe_own_adds") == PHONES[10:]
    assert xcom(run, "add_leads", "summary")["after_lost_answer"] == 10
    assert xcom(run, "count_to_call") == 20  # every record once, in their first status
