"""The sync's plan, guard, input checks and state file, without a server: the comparisons phone by phone."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_thulium.checks.options import parse_max_removals, parse_update_fields
from airflow_provider_thulium.exceptions import ThuliumSyncGuardError, ThuliumValidationError
from airflow_provider_thulium.sync.plan import build_plan, check_guard
from airflow_provider_thulium.sync.state import SyncState, fingerprint


def shown(phone: str, **fields: Any) -> dict[str, Any]:
    """A record as the paged records answer shows it."""
    return {"record_id": int(phone[-4:]), "phone_number": phone, "status_id": 1, "agent_login": "", **fields}


def plan_of(desired: list[dict[str, Any]], current: list[dict[str, Any]], owned: Any = ("record_fields",), **kw: Any):
    return build_plan("00001", desired, parse_update_fields(owned), len(current), iter(current), **kw)


def test_phones_match_on_their_digits_and_numbers_shown_as_text_are_equal():
    desired = [
        {"phone_number": "+48500000001", "status_id": 3, "record_fields": {"n": 7}},
        {"phone_number": "48500000002", "status_id": 1, "record_fields": {"n": 8}},
    ]
    current = [
        shown("48500000001", status_id="3", record_fields={"n": "7", "other": "x"}),
        shown("+48500000002", status_id=1, record_fields={"n": "9"}),
    ]
    plan = plan_of(desired, current, owned=["status", "record_fields"])
    assert plan.counts()["unchanged"] == 1 and plan.counts()["update"] == 1
    assert plan.updates() == [{"phone_number": "48500000002", "record_fields": {"n": 8}}]


def test_an_update_entry_shows_what_the_campaign_holds_now_for_each_field_it_changes():
    desired = [
        {"phone_number": "48500000001", "status_id": 3, "record_fields": {"n": 7, "city": "Gdynia"}},
        {"phone_number": "48500000002", "status_id": 1, "dictionary_status_id": 4},
    ]
    current = [
        shown("48500000001", status_id=2, record_fields={"n": "7", "other": "x"}),
        shown("48500000002", status_id=1),
    ]
    plan = plan_of(desired, current, owned=["status", "record_fields", "dictionary_status_id"])
    first = plan.entry("48500000001")
    assert first["fields"] == ["record_fields", "status_id"]
    # Only the keys sent, as the record holds them (it has no city); other keys are not the plan's business.
    assert first["current"] == {"status_id": 2, "record_fields": {"n": "7"}}
    second = plan.entry("48500000002")
    # A field the records answer does not show has no current value to give.
    assert second["fields"] == ["dictionary_status_id"] and "current" not in second


def test_a_field_not_given_is_not_owned_for_that_record_and_unshown_fields_are_sent_with_a_reason():
    desired = [{"phone_number": "48500000001", "dictionary_status_id": 4}, {"phone_number": "48500000002"}]
    current = [shown("48500000001"), shown("48500000002")]
    plan = plan_of(desired, current, owned=["dictionary_status_id", "agent_login"])
    assert plan.updates() == [{"phone_number": "48500000001", "dictionary_status_id": 4}]
    assert "does not show" in plan.entry("48500000001")["reason"]
    assert plan.entry("48500000002") == {"action": "UNCHANGED"}


def test_removals_are_listed_once_per_number_as_the_campaign_stores_it():
    current = [shown("48500000001"), shown("48500000009"), shown("48500000009") | {"record_id": 5}]
    plan = plan_of([{"phone_number": "48500000001"}], current, remove_missing=True)
    assert plan.removes == ["48500000009"] and plan.counts()["remove"] == 1


@pytest.mark.parametrize(("limit", "refused"), [(0.5, False), (0.49, True), (1, False), (0, True)])
def test_the_guard_counts_a_fraction_of_the_campaigns_records(limit, refused):
    current = [shown("48500000001"), shown("48500000002")]
    plan = plan_of([{"phone_number": "48500000001"}], current, remove_missing=True)
    if refused:
        with pytest.raises(ThuliumSyncGuardError, match="removes 1 phone") as caught:
            check_guard(plan, parse_max_removals(limit))
        assert caught.value.plan["remove"] == 1
    else:
        check_guard(plan, parse_max_removals(limit))


@pytest.mark.parametrize(
    ("value", "says"),
    [(["stauts"], "'stauts' is not a field"), (["identifier"], "'identifier' is not a field"), (5, "expected a list")],
)
def test_update_fields_are_checked(value, says):
    with pytest.raises(ThuliumValidationError, match=f"update_fields: {says}"):
        parse_update_fields(value)


def test_update_fields_take_status_and_text():
    assert parse_update_fields("status, record_fields") == {"status_id", "record_fields"}


@pytest.mark.parametrize("value", [-1, 1.5, "many", True, float("nan")])
def test_max_removals_is_checked(value):
    with pytest.raises(ThuliumValidationError, match="max_removals"):
        parse_max_removals(value)


def test_the_state_file_round_trips_and_belongs_to_one_campaign(tmp_path):
    path = tmp_path / "state.txt"
    state = SyncState.load(path, "00001")
    value = fingerprint({"record_fields": {"a": 1}}, ["record_fields"])
    state.save({"48500000001": value}, _Log())
    assert SyncState.load(str(path), "00001").get("48500000001") == value
    with pytest.raises(ThuliumValidationError, match="holds the state of campaign 00001, not 00002"):
        SyncState.load(path, "00002")


class _Log:
    def info(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize(("fraction", "allowed"), [(0.29, 29), (0.57, 57), (0.1, 10), (0.07, 7)])
def test_12_a_fraction_of_the_campaign_is_taken_as_written_not_as_a_binary_float(fraction, allowed):
    # 0.29 * 100 is 28.999999999999996 as a float: the guard let 28 of 100 go, not 29.
    current = [shown(f"48500{n:06d}") for n in range(100)]
    for removed in (allowed, allowed + 1):
        plan = plan_of([{"phone_number": p["phone_number"]} for p in current[removed:]], current, remove_missing=True)
        if removed == allowed:
            check_guard(plan, parse_max_removals(fraction))
        else:
            with pytest.raises(ThuliumSyncGuardError, match=f"removes {removed} phone"):
                check_guard(plan, parse_max_removals(fraction))
