"""What a run's results carry across a deferral: JSON an XCom can hold, read back as it was."""

from __future__ import annotations

import json

from airflow_provider_thulium.results.deferral import DeferralState


def test_the_state_reads_back_from_its_json_and_ignores_the_callers_keys():
    state = DeferralState(
        results={"48500100201": None, "48500100202": {"http_status": 409, "status": "CALL_IN_PROGRESS"}},
        requests=3,
        retries=1,
        batches=2,
        started=1_700_000_000.5,
        after_lost_answer=["48500100203"],
    )
    carried = json.loads(json.dumps({**state.to_json(), "attempt": 1}))
    assert DeferralState.from_json(carried) == state


def test_a_state_saved_without_its_marked_phones_finds_them_on_their_entries():
    marked = {"http_status": 409, "status": "ALREADY_EXISTS", "after_lost_answer": True}
    saved = {"results": {"48500100201": marked, "48500100202": None}, "requests": 1, "retries": 1, "batches": 1}
    state = DeferralState.from_json({**saved, "started": 0.0})
    assert state.after_lost_answer == ["48500100201"]
