"""One phone however it is written (``phone_region``), in real task runs against the sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_thulium.hooks.thulium import ThuliumHook
from airflow_provider_thulium.operators.thulium import ThuliumDeleteRecordsOperator, ThuliumSyncCampaignOperator
from airflow_provider_thulium.testing import run_dag, task_states, xcom
from tests.helpers import FAST_RETRIES, all_logs, new_dag

pytestmark = pytest.mark.usefixtures("airflow_db")

CAMPAIGN = "00001"
POLAND = {**FAST_RETRIES, "phone_region": "PL", "phone_format": "digits"}


def four_ways(phone: str) -> list[str]:
    """A campaign's ``48…`` number as a CRM writes it: spaced with +, with 00, national, with +."""
    national = phone[2:]
    return [f"+48 {national[:3]} {national[3:6]} {national[6:]}", f"0048{national}", national, f"+{phone}"]


def writes(sandbox: Any) -> list[Any]:
    return [request for request in sandbox.requests if request.method != "GET"]


def test_a_crm_spelling_each_phone_four_ways_syncs_to_a_plan_of_no_adds_and_no_removals(thulium_sandbox):
    stored = sorted({record["phone_number"] for record in ThuliumHook(**FAST_RETRIES).iter_records(CAMPAIGN)})
    assert all(phone.startswith("48") for phone in stored)
    # Each stored phone, in one of four spellings (the CRM's habit varies by lead).
    leads = [{"phone_number": four_ways(phone)[index % 4]} for index, phone in enumerate(stored)]
    thulium_sandbox.clear_requests()
    with new_dag() as dag:
        ThuliumSyncCampaignOperator(
            task_id="sync", campaign_id=CAMPAIGN, records=leads, remove_missing=True, hook_params=POLAND
        )

    run = run_dag(dag)

    assert task_states(run) == {"sync": "success"}
    plan = xcom(run, "sync", "summary")["plan"]
    assert (plan["add"], plan["remove"], plan["update"]) == (0, 0, 0)
    assert writes(thulium_sandbox) == []
    # Keyed by the number as sent: the campaign's own spelling.
    assert set(xcom(run, "sync")) == set(stored)


def test_without_phone_region_the_same_crm_would_add_and_remove_half_the_campaign(thulium_sandbox):
    stored = sorted({record["phone_number"] for record in ThuliumHook(**FAST_RETRIES).iter_records(CAMPAIGN)})
    leads = [{"phone_number": four_ways(phone)[1 + index % 2]} for index, phone in enumerate(stored)]

    plan = ThuliumHook(**FAST_RETRIES).plan_sync(CAMPAIGN, leads, remove_missing=True)

    assert plan.counts()["add"] == len(stored)  # "0048…" and national numbers match nothing as written


def test_a_delete_of_spaced_plus_and_00_numbers_removes_the_campaigns_48_records(thulium_sandbox):
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(
            task_id="delete",
            campaign_id=CAMPAIGN,
            phone_numbers=["+48 500 100 202", "0048 500-100-204", "(500) 100 200"],
            hook_params=POLAND,
        )

    run = run_dag(dag)

    assert task_states(run) == {"delete": "success"}
    results = xcom(run, "delete")
    assert {phone: [item["status"] for item in entry] for phone, entry in results.items()} == {
        "48500100202": ["REMOVED"],
        "48500100204": ["REMOVED"],
        "48500100200": ["REMOVED"],
    }
    left = {record["phone_number"] for record in ThuliumHook(**FAST_RETRIES).iter_records(CAMPAIGN)}
    assert not left & {"48500100200", "48500100202", "48500100204"}


def test_a_text_that_cannot_be_a_phone_of_the_region_is_refused_before_anything_is_sent(thulium_sandbox, caplog, capfd):
    thulium_sandbox.clear_requests()
    with new_dag() as dag:
        ThuliumSyncCampaignOperator(
            task_id="sync",
            campaign_id=CAMPAIGN,
            records=[{"phone_number": "+48 500 100 200"}, {"phone_number": "+48 500 100 27"}],
            hook_params=POLAND,
        )

    run = run_dag(dag)

    assert task_states(run) == {"sync": "failed"}
    assert writes(thulium_sandbox) == []
    logs = all_logs(caplog, capfd)
    assert "records[1].phone_number: phone …027 cannot be a phone number of region PL" in logs.replace("… 27", "…027")
    assert "500 100 27" not in logs


def test_the_national_spelling_sends_the_regions_national_numbers(thulium_sandbox):
    hook = ThuliumHook(**{**FAST_RETRIES, "phone_region": "PL", "phone_format": "national"})
    thulium_sandbox.clear_requests()

    results = hook.delete_records(CAMPAIGN, ["+48 500 100 299"])

    assert list(results) == ["500100299"]
    assert writes(thulium_sandbox)[0].query["phone_number[]"] == ["500100299"]


def test_an_excluded_phone_is_neither_added_nor_kept_even_with_max_removals_0(thulium_sandbox):
    with new_dag() as dag:
        ThuliumSyncCampaignOperator(
            task_id="sync",
            campaign_id=CAMPAIGN,
            # 48500100202 is in the campaign and still in the CRM; 48500100300 is a new lead that opted out.
            records=[{"phone_number": "+48 500 100 202"}, {"phone_number": "500100300"}],
            exclude="0048500100202, +48 500 100 300",
            max_removals=0,
            hook_params=POLAND,
        )

    run = run_dag(dag)

    assert task_states(run) == {"sync": "success"}
    summary = xcom(run, "sync", "summary")
    assert (summary["plan"]["excluded"], summary["plan"]["add"], summary["plan"]["remove"]) == (2, 0, 1)
    assert summary["guard"] == "passed"
    entries = xcom(run, "sync")
    assert entries["48500100202"]["action"] == "REMOVE" and entries["48500100202"]["excluded"] is True
    assert entries["48500100300"] == {
        "action": "UNCHANGED",
        "excluded": True,
        "reason": entries["48500100300"]["reason"],
    }
    left = {record["phone_number"] for record in ThuliumHook(**FAST_RETRIES).iter_records(CAMPAIGN)}
    assert "48500100202" not in left and "48500100300" not in left


def test_a_refused_plan_and_a_dry_run_both_leave_the_whole_plan_in_the_results_file(thulium_sandbox, tmp_path):
    stored = sorted({record["phone_number"] for record in ThuliumHook(**FAST_RETRIES).iter_records(CAMPAIGN)})
    keep = stored[:2]
    thulium_sandbox.clear_requests()
    with new_dag() as dag:
        for name, dry in (("refused", False), ("dry", True)):
            ThuliumSyncCampaignOperator(
                task_id=name,
                campaign_id=CAMPAIGN,
                records=[{"phone_number": phone} for phone in keep],
                remove_missing=True,
                max_removals=1,
                dry_run=dry,
                results_path=str(tmp_path / f"{name}.jsonl"),
                hook_params=POLAND,
            )

    run = run_dag(dag)

    assert task_states(run) == {"refused": "failed", "dry": "success"}
    assert writes(thulium_sandbox) == []
    for name in ("refused", "dry"):
        assert xcom(run, name, "summary")["guard"] == "refused"
        lines = (tmp_path / f"{name}.jsonl").read_text().splitlines()
        removed = [line for line in lines if '"REMOVE"' in line]
        assert len(removed) == len(stored) - len(keep), name  # every phone the plan removes, by number
        assert any(stored[-1] in line for line in removed)


def test_a_templated_max_removals_from_params_approves_one_run(thulium_sandbox):
    stored = sorted({record["phone_number"] for record in ThuliumHook(**FAST_RETRIES).iter_records(CAMPAIGN)})
    with new_dag(params={"max_removals": 0}) as dag:
        ThuliumSyncCampaignOperator(
            task_id="sync",
            campaign_id=CAMPAIGN,
            records=[{"phone_number": stored[0]}],
            remove_missing=True,
            max_removals="{{ params.max_removals }}",
            fail_on_failed_phones=False,  # the demo campaign's 48500100203 is in a call: not removable now
            hook_params=POLAND,
        )

    refused = run_dag(dag)
    approved = run_dag(dag, conf={"max_removals": len(stored)})

    assert task_states(refused) == {"sync": "failed"}
    assert task_states(approved) == {"sync": "success"}
    summary = xcom(approved, "sync", "summary")
    assert summary["plan"]["remove"] == len(stored) - 1
    assert summary["outcomes"]["REMOVED"] + summary["outcomes"].get("CALL_IN_PROGRESS", 0) == len(stored) - 1
