"""Records input without a server: the add spec, status names, record filters."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from airflow_provider_thulium.checks.records import parse_records
from airflow_provider_thulium.checks.spec import ADD_RECORDS, UPDATE_RECORDS
from airflow_provider_thulium.checks.statuses import read_statuses, resolve_status_names
from airflow_provider_thulium.exceptions import ThuliumResponseError, ThuliumValidationError
from airflow_provider_thulium.reading.pages import RecordFilter

WARSAW = ZoneInfo("Europe/Warsaw")
STATUSES = read_statuses(
    [
        {"system_status": "TO_CALL", "status_id": "1", "dictionary_status_id": None, "name": "New"},
        {"system_status": "NO_CALL", "status_id": "3", "dictionary_status_id": None, "name": "Do not call"},
        {"system_status": "MY_RECORD", "status_id": "4", "dictionary_status_id": 2, "name": "My record"},
        {"system_status": "NO_CALL", "status_id": "9", "dictionary_status_id": 5, "name": "Not interested"},
        {"system_status": "CALL_NO_SOONER_THAN", "status_id": "5", "name": "Call back later"},
    ],
    "GET outbounds/00001/statuses",
)


def test_an_add_needs_only_the_phone_and_takes_identifier_and_order():
    records = parse_records(
        [{"phone_number": "48600100001"}, {"phone_number": "48600100002", "identifier": 77, "order": "5"}],
        WARSAW,
        spec=ADD_RECORDS,
    )
    assert records == [{"phone_number": "48600100001"}, {"phone_number": "48600100002", "identifier": "77", "order": 5}]
    with pytest.raises(ThuliumValidationError, match=r"records\[0\].*unknown field\(s\) order"):
        parse_records([{"phone_number": "48600100001", "order": 5}], WARSAW, spec=UPDATE_RECORDS)
    with pytest.raises(ThuliumValidationError, match=r"records\[0\].*order.*non-negative"):
        parse_records([{"phone_number": "48600100001", "order": -1}], WARSAW, spec=ADD_RECORDS)


def test_statuses_come_back_with_int_ids():
    assert STATUSES[0] == {"status_id": 1, "name": "New", "system_status": "TO_CALL", "dictionary_status_id": None}
    with pytest.raises(ThuliumResponseError, match="status 0 with status_id None: not a whole number"):
        read_statuses([{"name": "x"}], "GET outbounds/00001/statuses")
    with pytest.raises(ThuliumResponseError, match="instead of a list"):
        read_statuses({"error": 1}, "GET outbounds/00001/statuses")


def test_names_and_unique_system_statuses_become_ids():
    records = [
        {"phone_number": "1", "status": "not interested"},
        {"phone_number": "2", "status": "TO_CALL"},
        {"phone_number": "3", "status_id": 3},
    ]
    assert resolve_status_names(records, STATUSES, "00001") == [
        {"phone_number": "1", "status_id": 9},
        {"phone_number": "2", "status_id": 1},
        {"phone_number": "3", "status_id": 3},
    ]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"phone_number": "48600100001", "status": "Later"}, r"no status 'Later'.*1 'New' \(TO_CALL\)"),
        ({"phone_number": "48600100001", "status": "NO_CALL"}, "'NO_CALL' names several statuses"),
        ({"phone_number": "48600100001", "status": "My record"}, "MY_RECORD, which needs agent_login and next_call"),
        ({"phone_number": "48600100001", "status_id": 5, "next_call_date": ""}, "which needs next_call_date"),
    ],
)
def test_unknown_ambiguous_or_incomplete_statuses_are_refused(record, message):
    with pytest.raises(ThuliumValidationError, match=message) as refused:
        resolve_status_names([{"phone_number": "2", "status": "New"}, record], STATUSES, "00001")
    assert "records[1]" in str(refused.value) and "48600100001" not in str(refused.value)


def test_record_filters_become_the_documented_query():
    query = RecordFilter.from_arguments(
        status_ids=[3, "9"], system_statuses=["NO_CALL"], created_from=date(2030, 1, 2), called_to="2030-02-01"
    ).query()
    assert query == (
        "status_id%5B%5D=3&status_id%5B%5D=9&system_status%5B%5D=NO_CALL&create_date_from=2030-01-02"
        "&call_date_to=2030-02-01"
    )
    assert RecordFilter.from_arguments().query() == ""
    with pytest.raises(ThuliumValidationError, match="status_ids"):
        RecordFilter.from_arguments(status_ids=[True])
