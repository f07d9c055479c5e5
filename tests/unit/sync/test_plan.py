"""The sync's plan, guard, input checks and state file, without a server: the comparisons phone by phone."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

import pytest

from airflow_provider_thulium.checks.options import parse_max_removals, parse_update_fields
from airflow_provider_thulium.exceptions import ThuliumSyncGuardError, ThuliumValidationError
from airflow_provider_thulium.sources.spool import Spool
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


class _NotASequence(Collection[dict[str, Any]]):
    """Records that are not a list, as a source's spool is: the plan keeps them compact, not whole."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self._records = records

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, item: object) -> bool:
        return item in self._records


class _Text(str):
    """A value marshal cannot write: its record is kept whole."""


def _spooled(records: list[dict[str, Any]]) -> Spool:
    spool = Spool()
    spool.append(records)
    return spool


@pytest.mark.parametrize("as_read", [_spooled, _NotASequence])
def test_records_read_from_a_spool_are_planned_as_the_same_records_in_a_list(tmp_path, as_read):
    desired = [
        {"phone_number": "+48500000001", "status_id": 3, "record_fields": {"n": 7}},
        {"phone_number": "48500000002", "status_id": 1, "record_fields": {"n": 8, "m": None}},
        {"phone_number": "48500000003", "status_id": 2, "dictionary_status_id": 4},
        {"phone_number": "48500000004", "record_fields": {"n": 1}},
        {"phone_number": "48500000005", "status_id": 9},
        {"phone_number": "0048500000006", "record_fields": {"n": 1.5}},
        {"phone_number": "1234567890123456789", "status_id": 3},
        {"phone_number": "48500000007", "dictionary_status_id": 5, "record_fields": {}},
        {"phone_number": "48500000008", "status_id": True},
        {"phone_number": "48500000010", "dictionary_status_id": 6},
    ]
    current = [
        shown("48500000001", status_id="3", record_fields={"n": "7", "other": "x"}),
        shown("+48500000002", record_fields={"n": "9", "m": None}),
        shown("48500000004", record_fields={"n": 1}),
        shown("48500000004", record_fields={"n": 2}),
        shown("48500000005"),
        shown("0048500000006", record_fields={"n": "1.5"}),
        shown("48500000006", record_fields={"n": 2}),
        shown("1234567890123456789", status_id=4),
        shown("48500000007", record_fields={}),
        shown("48500000008", status_id=1),
        shown("48500000010"),
        shown("48500000099"),
    ]
    owned = parse_update_fields(["status", "record_fields", "dictionary_status_id"])
    state = SyncState.load(tmp_path / "state.txt", "00001")
    state.save({"48500000007": fingerprint(desired[7], ["dictionary_status_id"])}, _Log())

    def plan(records: Any) -> Any:
        return build_plan(
            "00001",
            records,
            owned,
            len(current),
            iter(current),
            remove_missing=True,
            state=SyncState.load(tmp_path / "state.txt", "00001"),
            exclude={"48500000005"},
        )

    expected, spooled = plan(desired), plan(as_read(desired))
    assert spooled.counts() == expected.counts()
    assert spooled.entries() == expected.entries()
    assert spooled.adds() == expected.adds() and spooled.updates() == expected.updates()
    assert (spooled.current, spooled.fingerprints, spooled.notes) == (
        expected.current,
        expected.fingerprints,
        expected.notes,
    )
    assert (spooled.removes, spooled.excluded) == (expected.removes, expected.excluded)
    assert {digits: spooled.codes[digits] for digits in expected.codes} == expected.codes
    assert sorted(spooled.codes) == sorted(expected.codes)
    assert len(spooled.codes) == len(expected.codes)
    counts = expected.counts()
    assert all(counts[name] for name in ("add", "update", "update_unreadable", "remove", "duplicates", "excluded"))


def test_a_record_marshal_cannot_write_is_compared_whole():
    desired = [{"phone_number": "48500000001", "record_fields": {"n": _Text("7")}}, {"phone_number": "48500000002"}]
    current = [shown("48500000001", record_fields={"n": 7}), shown("48500000002")]
    spooled = build_plan("00001", _NotASequence(desired), frozenset({"record_fields"}), 2, iter(current))
    listed = build_plan("00001", desired, frozenset({"record_fields"}), 2, iter(current))
    assert (
        spooled.entries()
        == listed.entries()
        == {
            "48500000001": {"action": "UNCHANGED"},
            "48500000002": {"action": "UNCHANGED"},
        }
    )
