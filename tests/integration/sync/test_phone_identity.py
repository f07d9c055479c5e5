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
