"""The snippets of docs/guides/outcomes.md, run as one DAG against the sandbox."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from airflow_provider_thulium.testing import run_dag, task_states, xcom
from tests.integration.test_docs_sources import load_dag

SNIPPETS = Path(__file__).parents[2] / "docs" / "snippets" / "outcomes.py"

pytestmark = pytest.mark.usefixtures("airflow_db")


def test_the_outcomes_snippets_run(thulium_sandbox, tmp_path):
    run = run_dag(
        load_dag(SNIPPETS), conf={"exports": str(tmp_path)}, logical_date=datetime(2025, 3, 9, tzinfo=timezone.utc)
    )

    assert task_states(run) == {
        "snapshot_campaign": "success",
        "wait_for_fresh_leads": "success",  # 7 fresh records: at most 10
        "export_callbacks": "success",
    }
    lines = (tmp_path / "campaign_00001" / "2025-03-09.jsonl").read_text().splitlines()
    assert [json.loads(line)["record_id"] for line in lines] == list(range(1001, 1013))
    assert xcom(run, "snapshot_campaign")["rows"] == 12
    with (tmp_path / "callbacks.csv").open() as file:
        assert list(csv.DictReader(file)) == [
            {"record_id": "1011", "phone": "48500100209", "call_back_at": "2030-02-01T09:00:00+01:00"}
        ]
    assert xcom(run, "export_callbacks") == 1
