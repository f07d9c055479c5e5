"""ThuliumCampaignTrigger run as the triggerer runs it (its async generator), against the sandbox over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from typing import Any

import pytest

from airflow_provider_thulium.exceptions import ThuliumValidationError
from airflow_provider_thulium.sandbox import Fault
from airflow_provider_thulium.triggers.thulium import STILL_TO_CALL, ThuliumCampaignTrigger
from airflow_provider_thulium.version_compat import AIRFLOW_V_3_0_PLUS
from tests.helpers import FAST_RETRIES, all_logs

CAMPAIGN = "00001"
CLASSPATH = "airflow_provider_thulium.triggers.thulium.ThuliumCampaignTrigger"


def events_of(trigger: ThuliumCampaignTrigger, most: int, within: float) -> list[dict[str, Any]]:
    """The payloads of the first ``most`` events the trigger yields within ``within`` seconds, and whether it ended."""

    async def collect() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []

        async def drain() -> None:
            async for event in trigger.run():
                found.append(event.payload)
                if len(found) >= most:
                    return
            found.append({"ended": True})

        with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
            await asyncio.wait_for(drain(), timeout=within)
        return found

    return asyncio.run(collect())


def polls(sandbox) -> int:
    return sum(1 for r in sandbox.requests if r.path.endswith("/records"))


def call_to_call_records(sandbox) -> None:
    """Every TO_CALL record of the campaign is called: "Contact needed" (CALL)."""
    for record in sandbox.state.records(CAMPAIGN):
        if record["status_id"] == 1:
            sandbox.state.update_record(CAMPAIGN, record["record_id"], status_id=2, call_date="2025-03-09 10:00")


def test_it_serialises_ids_statuses_numbers_and_intervals_only(thulium_sandbox):
    trigger = ThuliumCampaignTrigger(1, "TO_CALL", max_records="3", poll_interval=5, hook_params={"timeout": 10})
    classpath, kwargs = trigger.serialize()
    assert classpath == CLASSPATH
    assert kwargs == {
        "campaign_id": "00001",
        "system_statuses": ["TO_CALL"],
        "max_records": 3,
        "poll_interval": 5.0,
        "thulium_conn_id": "thulium_default",
        "hook_params": {"timeout": 10},
        "end_time": None,
        "watch": False,
    }
    text = json.dumps(kwargs)
    assert thulium_sandbox.password not in text and "api_user" not in text  # the triggerer reads the connection
    assert ThuliumCampaignTrigger(**kwargs).serialize() == (classpath, kwargs)  # as the triggerer re-creates it
    assert ThuliumCampaignTrigger(CAMPAIGN).system_statuses == list(STILL_TO_CALL)


def test_it_fires_once_when_the_campaign_is_called_through(thulium_sandbox):
    thulium_sandbox.add_fault(Fault(method="GET", path="records", after=2, action=call_to_call_records))
    trigger = ThuliumCampaignTrigger(CAMPAIGN, ["TO_CALL"], poll_interval=0.05)
    assert events_of(trigger, 2, within=10) == [
        {"status": "success", "campaign_id": CAMPAIGN, "system_statuses": ["TO_CALL"], "max_records": 0, "records": 0},
        {"ended": True},
    ]
    assert polls(thulium_sandbox) == 3


def test_it_times_out_at_its_end_time(thulium_sandbox):
    trigger = ThuliumCampaignTrigger(CAMPAIGN, ["TO_CALL"], poll_interval=0.2, end_time=time.time() + 0.5)
    started = time.monotonic()
    (event, ended) = events_of(trigger, 2, within=10)
    assert 0.45 < time.monotonic() - started < 3
    assert (event["status"], event["records"], ended) == ("timeout", 7, {"ended": True})


def test_an_error_ends_the_wait_with_the_errors_class_and_a_message_without_numbers(thulium_sandbox):
    trigger = ThuliumCampaignTrigger("99999", poll_interval=0.05, hook_params=FAST_RETRIES)
    (event, ended) = events_of(trigger, 2, within=10)
    assert event["status"] == "error" and event["error"] == "ThuliumNotFoundError"
    assert "99999" in event["message"] and ended == {"ended": True}


def scripted(script: dict[int, Any]) -> Fault:
    """A fault that does ``script[n]`` to the sandbox before serving the n-th count (from 1), and serves it."""
    served = itertools.count(1)
    return Fault(
        method="GET", path="records", times=10_000, action=lambda sandbox: script.get(next(served), _nothing)(sandbox)
    )


def _nothing(sandbox) -> None:
    """No change before this poll."""


def test_watching_fires_each_time_the_campaign_becomes_called_through_and_not_while_it_stays(thulium_sandbox):
    def refill(sandbox) -> None:
        sandbox.state.add_records(CAMPAIGN, [{"phone_number": "48600100999"}])  # a fresh TO_CALL record

    # Polls 1-2 see 7 records to call; 3-5 none (one event); 6-7 the refill; 8 none again (the second event).
    thulium_sandbox.add_fault(scripted({3: call_to_call_records, 6: refill, 8: call_to_call_records}))
    trigger = ThuliumCampaignTrigger(CAMPAIGN, ["TO_CALL"], poll_interval=0.05, watch=True)
    events = events_of(trigger, 2, within=10)
    assert [(event["status"], event["records"]) for event in events] == [("success", 0), ("success", 0)]
    assert polls(thulium_sandbox) == 8

    thulium_sandbox.clear_requests()
    # Called through from the start: a watcher waits for a change, it does not fire for the state it finds.
    assert events_of(ThuliumCampaignTrigger(CAMPAIGN, ["TO_CALL"], poll_interval=0.05, watch=True), 1, 1) == []
    assert polls(thulium_sandbox) >= 5


def test_a_watcher_polls_on_through_errors(thulium_sandbox, caplog, capfd):
    thulium_sandbox.add_fault(Fault(status=404, method="GET", path="records", times=3))
    thulium_sandbox.add_fault(Fault(method="GET", path="records", after=1, action=call_to_call_records))
    trigger = ThuliumCampaignTrigger(CAMPAIGN, ["TO_CALL"], poll_interval=0.05, watch=True, hook_params=FAST_RETRIES)
    events = events_of(trigger, 1, within=10)
    assert [event["status"] for event in events] == ["success"]
    assert "campaign 00001: its records could not be counted" in all_logs(caplog, capfd)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"campaign_id": "abc"}, "campaign_id"),
        ({"system_statuses": "CALLED"}, "system_statuses: 'CALLED' is not a system status"),
        ({"max_records": -2}, "max_records: expected a whole number, 0 or more"),
        ({"poll_interval": 0}, "poll_interval: expected a number of seconds above 0"),
    ],
)
def test_bad_arguments_are_refused_naming_them(arguments, message):
    with pytest.raises(ThuliumValidationError, match=message):
        ThuliumCampaignTrigger(**{"campaign_id": CAMPAIGN, **arguments})


@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="AssetWatcher is Airflow 3's")
def test_an_asset_watcher_takes_it_and_knows_it_by_its_arguments():
    from airflow.sdk import Asset, AssetWatcher
    from airflow.triggers.base import BaseEventTrigger

    trigger = ThuliumCampaignTrigger("00002", max_records=0, poll_interval=30, watch=True)
    asset = Asset(name="campaign_00002_called_through", watchers=[AssetWatcher(name="called_through", trigger=trigger)])
    assert asset.watchers[0].trigger is trigger
    classpath, kwargs = trigger.serialize()
    again = ThuliumCampaignTrigger(**kwargs).serialize()
    assert BaseEventTrigger.hash(classpath, kwargs) == BaseEventTrigger.hash(*again)
