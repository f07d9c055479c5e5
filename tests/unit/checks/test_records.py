"""Input checks that need no server: one number written two ways."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from airflow_provider_thulium.checks.records import parse_phone_numbers, parse_records
from airflow_provider_thulium.exceptions import ThuliumValidationError

UTC = ZoneInfo("UTC")


@pytest.mark.parametrize(
    ("phones", "first", "second", "written"),
    [
        (["48500100201", "48500100202", "+48500100201"], 0, 2, "without"),
        (["+48500100201", 48500100201], 0, 1, "with"),
        ("+48500100201 48500100203 48500100201", 0, 2, "with"),
        ([" 48500100201", "+48500100201 "], 0, 1, "without"),  # the one-by-one path names them too
    ],
)
def test_one_number_with_and_without_plus_is_refused_naming_both_items(phones, first, second, written):
    with pytest.raises(ThuliumValidationError) as caught:
        parse_phone_numbers(phones)
    message = str(caught.value)
    assert message.startswith(f"phone_numbers[{second}]: phone …201 is the same number as phone_numbers[{first}]")
    assert f"written {written} '+'" in message and "48500100201" not in message


def test_the_same_spelling_twice_is_still_sent_once_and_plus_alone_is_fine():
    assert parse_phone_numbers(["48500100201", "48500100201", "+48500100202"]) == ["48500100201", "+48500100202"]
    assert parse_phone_numbers(["+48500100201", "+48500100202", "+48500100201"]) == ["+48500100201", "+48500100202"]
    assert parse_phone_numbers(["1", "+2", "12"]) == ["1", "+2", "12"]


def test_records_for_one_number_in_two_spellings_are_refused():
    records = [{"phone_number": "+48500100201", "status_id": 1}, {"phone_number": "48500100201", "status_id": 2}]
    with pytest.raises(ThuliumValidationError, match=r"records\[1\] \(phone …201\)\.phone_number: .* records\[0\]"):
        parse_records(records, UTC)
    same = [{"phone_number": "48500100201", "status_id": 1}, {"phone_number": "48500100201", "status_id": 2}]
    with pytest.raises(ThuliumValidationError, match="merge the two edits"):
        parse_records(same, UTC)
