"""ThuliumCampaignSensor in real task runs against the sandbox: poked, deferred, timed out, refused."""

from __future__ import annotations

import pytest

from airflow_provider_thulium.exceptions import ThuliumValidationError
from airflow_provider_thulium.sandbox import Fault
from airflow_provider_thulium.sensors.thulium import ThuliumCampaignSensor
from airflow_provider_thulium.testing import run_dag, task_states
from tests.helpers import FAST_RETRIES, all_logs, new_dag, run_timed_out, tries

pytestmark = pytest.mark.usefixtures("airflow_db")

CAMPAIGN = "00001"
#: The demo campaign's records still to call: all but 1010 ("Not interested", NO_CALL).
STILL_TO_CALL = 11


def call_everyone(sandbox) -> None:
    """The dialler works through the campaign: every record ends "Not interested" (NO_CALL)."""
    for record in sandbox.state.records(CAMPAIGN):
        sandbox.state.update_record(CAMPAIGN, record["record_id"], status_id=9, call_date="2025-03-09 10:00")


def counts_asked(sandbox) -> list[str]:
    """The system_status[] filters of the counting requests the sandbox answered, one list per poll."""
    return [r.query.get("system_status[]") for r in sandbox.requests if r.path.endswith("/records")]


@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferrable"])
def test_the_sensor_waits_until_the_statuses_clear(thulium_sandbox, caplog, capfd, deferrable):
    # The campaign is called through after the third count.
    thulium_sandbox.add_fault(Fault(method="GET", path="records", after=2, action=call_everyone))
    with new_dag() as dag:
        ThuliumCampaignSensor(
            task_id="wait", campaign_id=1, poke_interval=0.2, timeout=60, deferrable=deferrable, retries=2
        )
    run = run_dag(dag)

    assert task_states(run) == {"wait": "success"}
    asked = counts_asked(thulium_sandbox)
    assert len(asked) == 3  # two counts of 11 left, then the one that found none
    still = ["TO_CALL", "IN_PROGRESS", "CALL", "MY_RECORD", "CALL_NO_SOONER_THAN", "CALL_PROGRESSIVE"]
    assert all(sorted(statuses) == sorted(still) for statuses in asked)
    assert all(r.query["limit"] == ["1"] for r in thulium_sandbox.requests)  # a count costs one small page
    logs = all_logs(caplog, capfd)
    assert f"campaign 00001: {STILL_TO_CALL} record(s) in TO_CALL" in logs
    # Deferred, the first check ran in the worker, the other polls in the trigger, whose event resumed the task.
    assert ("campaign 00001: 0 record(s) left to call: called through" in logs) is deferrable
    assert "48500100" not in logs  # counts only: no phone number


@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferrable"])
def test_a_timeout_fails_the_task_without_its_retries(thulium_sandbox, deferrable):
    with new_dag() as dag:
        ThuliumCampaignSensor(
            task_id="wait",
            campaign_id=CAMPAIGN,
            system_statuses="TO_CALL",
            max_records=2,
            poke_interval=0.2,
            timeout=1,
            deferrable=deferrable,
            retries=3,
        )
    run = run_timed_out(dag)
    assert task_states(run) == {"wait": "failed"}
    assert tries(run) == {"wait": 1}
    assert len(counts_asked(thulium_sandbox)) >= 3


def test_a_campaign_already_called_through_needs_no_deferral(thulium_sandbox, caplog, capfd):
    with new_dag() as dag:
        ThuliumCampaignSensor(
            task_id="wait", campaign_id=CAMPAIGN, system_statuses=["NO_CALL"], max_records=1, deferrable=True
        )
    run = run_dag(dag)
    assert task_states(run) == {"wait": "success"}
    assert len(counts_asked(thulium_sandbox)) == 1
    assert "left to call: called through" not in all_logs(caplog, capfd)  # execute_complete never ran


@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferrable"])
def test_an_unknown_campaign_fails_at_once_without_retries(thulium_sandbox, deferrable):
    with new_dag() as dag:
        ThuliumCampaignSensor(
            task_id="wait",
            campaign_id="{{ params.campaign }}",
            poke_interval=0.2,
            timeout=30,
            deferrable=deferrable,
            retries=2,
            hook_params=FAST_RETRIES,
            params={"campaign": "99999"},
        )
    run = run_dag(dag)
    assert task_states(run) == {"wait": "failed"}
    assert tries(run) == {"wait": 1}  # a 404 is no reason to try again


def test_a_status_rendered_wrong_fails_naming_it_before_anything_is_sent(thulium_sandbox, caplog, capfd):
    with new_dag() as dag:
        ThuliumCampaignSensor(
            task_id="wait", campaign_id=CAMPAIGN, system_statuses="{{ params.status }}", params={"status": "DONE"}
        )
    run = run_dag(dag)
    assert task_states(run) == {"wait": "failed"}
    assert thulium_sandbox.request_count == 0
    assert "system_statuses: 'DONE' is not a system status" in all_logs(caplog, capfd)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"campaign_id": "1 OR 1"}, "campaign_id"),
        ({"system_statuses": ["TO_CALL", "LATER"]}, "system_statuses: 'LATER' is not a system status"),
        ({"system_statuses": []}, "system_statuses: name at least one system status"),
        ({"max_records": -1}, "max_records: expected a whole number, 0 or more, got -1"),
        ({"max_records": "ten"}, "max_records: expected a whole number"),
    ],
)
def test_bad_arguments_fail_when_the_dag_is_parsed(arguments, message):
    with pytest.raises(ThuliumValidationError, match=message):
        ThuliumCampaignSensor(task_id="wait", **{"campaign_id": CAMPAIGN, **arguments})
