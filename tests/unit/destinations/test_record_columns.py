"""Which record keys an export writes, as which types: ids as ints, no value as None, dates in the account's zone."""

from __future__ import annotations

from datetime import datetime
from typing import get_type_hints
from zoneinfo import ZoneInfo

import pytest

from airflow_provider_thulium.destinations.record_columns import RECORD_KINDS, ExportColumns, check_column_keys
from airflow_provider_thulium.exceptions import ThuliumResponseError, ThuliumValidationError
from airflow_provider_thulium.outcomes import CampaignRecord

WARSAW = ZoneInfo("Europe/Warsaw")

#: A record as the vendor's example answer has it (docs/thulium-api.md, "Paged records").
VENDOR_EXAMPLE = {
    "record_id": 228,
    "phone_number": "5555",
    "system_status": "NO_CALL",
    "status": "Do not call",
    "status_id": 5,
    "call_date": "2016-10-19 14:02",
    "create_date": "2016-10-18 12:02",
    "next_call_date": "",
    "agent_name": "",
    "agent_login": "",
    "last_note": "…",
    "identifier": "1234567890",
    "order": "",
}


def test_the_written_keys_are_the_documented_records_keys():
    assert set(get_type_hints(CampaignRecord)) == {*RECORD_KINDS, "record_fields"}
    assert set(VENDOR_EXAMPLE) == set(RECORD_KINDS)


def test_every_key_under_its_own_name_by_default_and_a_mapping_renames_and_orders():
    assert check_column_keys(None) == {key: key for key in RECORD_KINDS}
    assert check_column_keys({"status": "outcome", "record_id": "thulium_id"}) == {
        "status": "outcome",
        "record_id": "thulium_id",
    }
    assert check_column_keys(["record_id", "record_fields.crm_id"]) == {
        "record_id": "record_id",
        "record_fields.crm_id": "record_fields.crm_id",
    }


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"called_at": "called_at"}, "columns: 'called_at' is no record key; known: record_id, phone_number"),
        ({"record_fields.": "x"}, "columns: 'record_fields.' is no record key"),
        ({"record_id": ""}, "columns: the column for 'record_id' must be a non-empty name"),
        ({"record_id": "id", "status_id": "id"}, "columns: 'record_id' and 'status_id' are both written as column"),
        ({}, "columns: no column to write"),
        ("record_id", "columns: expected a mapping of record key → column name"),
    ],
)
def test_bad_columns_are_refused_naming_the_key(columns, message):
    with pytest.raises(ThuliumValidationError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        check_column_keys(columns)


def test_the_vendors_example_typed():
    columns = ExportColumns.from_argument(None, WARSAW)
    row = [column[0] for column in columns.convert([VENDOR_EXAMPLE])]
    assert dict(zip(columns.names, row, strict=True)) == {
        "record_id": 228,
        "phone_number": "5555",
        "system_status": "NO_CALL",
        "status": "Do not call",
        "status_id": 5,
        "call_date": "2016-10-19T14:02:00+02:00",  # summer time in Warsaw
        "create_date": "2016-10-18T12:02:00+02:00",
        "next_call_date": None,
        "agent_name": None,
        "agent_login": None,
        "last_note": "…",
        "identifier": "1234567890",
        "order": None,
    }


def test_dates_are_the_accounts_local_time_with_its_offset_or_aware_datetimes():
    records = [
        {"record_id": 1, "call_date": "2025-01-15 09:30", "order": "7", "status_id": "5"},
        {"record_id": 2, "call_date": "2025-07-15 09:30:59", "order": 3, "status_id": 5},
        {"record_id": 3, "call_date": "", "order": None},
    ]
    columns = ExportColumns.from_argument(["record_id", "call_date", "order", "status_id"], WARSAW)
    assert columns.convert(records) == [
        [1, 2, 3],
        ["2025-01-15T09:30:00+01:00", "2025-07-15T09:30:59+02:00", None],
        [7, 3, None],  # a digit string (the statuses call answers ids so) is an int too
        [5, 5, None],
    ]
    called = columns.convert(records, timestamps="datetime")[1]
    assert called[:2] == [datetime(2025, 1, 15, 9, 30, tzinfo=WARSAW), datetime(2025, 7, 15, 9, 30, 59, tzinfo=WARSAW)]
    assert called[0].utcoffset().total_seconds() == 3600
    # Milliseconds since the epoch (Arrow's timestamps): the instant, whatever the offset.
    assert columns.convert(records, timestamps="epoch_ms")[1] == [
        int(called[0].timestamp()) * 1000,
        int(called[1].timestamp()) * 1000,
        None,
    ]
    other = ExportColumns.from_argument(["call_date"], ZoneInfo("America/New_York"))
    assert other.convert(records[:1]) == [["2025-01-15T09:30:00-05:00"]]


def test_record_fields_are_read_as_text_and_a_missing_one_is_no_value():
    columns = ExportColumns.from_argument({"record_fields.crm_id": "crm_id", "record_fields.score": "score"}, WARSAW)
    records = [
        {"record_id": 1, "record_fields": {"crm_id": "C-1", "score": 7}},
        {"record_id": 2, "record_fields": {"crm_id": ""}},
        {"record_id": 3},  # the vendor's documented answer has no record_fields at all
    ]
    assert columns.convert(records) == [["C-1", None, None], ["7", None, None]]
    assert columns.kinds == ("text", "text")


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("call_date", "yesterday", "a date 'YYYY-MM-DD hh:mm'"),
        ("call_date", 20250308, "a date 'YYYY-MM-DD hh:mm'"),
        ("status_id", "five", "a whole number"),
        ("order", 1.5, "a whole number"),
    ],
)
def test_a_value_that_is_not_its_type_is_an_unreadable_answer_naming_key_and_record(key, value, expected):
    columns = ExportColumns.from_argument([key], WARSAW)
    with pytest.raises(ThuliumResponseError, match=f"answered {key} .* for record 1001, not {expected}"):
        columns.convert([{"record_id": 1001, key: value}])


def test_the_days_of_a_change_of_clock_keep_their_offsets():
    # 2025-03-30: Warsaw moves from +01:00 to +02:00 at 02:00 local time.
    columns = ExportColumns.from_argument(["create_date"], WARSAW)
    records = [{"create_date": f"2025-03-30 {hour:02d}:30"} for hour in (0, 1, 3, 4)] * 3
    assert columns.convert(records)[0][:4] == [
        "2025-03-30T00:30:00+01:00",
        "2025-03-30T01:30:00+01:00",
        "2025-03-30T03:30:00+02:00",
        "2025-03-30T04:30:00+02:00",
    ]
