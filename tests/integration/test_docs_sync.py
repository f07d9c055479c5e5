"""The sync guide's snippets run (test_docs.py checks that every include names existing markers)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from airflow_provider_thulium.testing import run_dag, task_states, xcom

DOCS = Path(__file__).parents[2] / "docs"
GUIDE = DOCS / "guides" / "sync.md"


@pytest.mark.usefixtures("airflow_db")
def test_the_guides_snippets_plan_then_sync_and_keep_a_state_file(thulium_sandbox, monkeypatch, tmp_path):
    monkeypatch.setenv("THULIUM_STATE_DIR", str(tmp_path))
    thulium_sandbox.state.show_record_fields = False  # the vendor's documented answer
    dag = runpy.run_path(str(DOCS / "snippets" / "sync_campaign.py"))["dag"]

    run = run_dag(dag)
    assert task_states(run) == {"plan_tonight": "success", "sync_leads": "success"}
    counts = xcom(run, "plan_tonight")
    assert (counts["add"], counts["update"], counts["update_unreadable"], counts["remove"]) == (1, 2, 2, 9)
    assert xcom(run, "sync_leads", "summary")["outcomes"] == {"ADDED": 1, "UPDATED": 2}
    assert (tmp_path / "thulium-sync-00001.state").exists()

    thulium_sandbox.clear_requests()
    run = run_dag(dag)
    assert task_states(run) == {"plan_tonight": "success", "sync_leads": "success"}
    assert {request.method for request in thulium_sandbox.requests} == {"GET"}
    assert xcom(run, "sync_leads", "summary")["outcomes"] == {"UNCHANGED": 3}
