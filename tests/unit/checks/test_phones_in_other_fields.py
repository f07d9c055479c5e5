"""A phone number given in another field is masked in the message that refuses it (no server).

The finding: ``next_call_date: '48500100299' is not a date``, an unknown agent that is a number,
an id that is a phone with a letter: the full number reached the task log. The value is still
named (masked, as ``…299``), so the user can find it.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from airflow_provider_thulium.checks.agents import check_agent_logins
from airflow_provider_thulium.checks.records import parse_records
from airflow_provider_thulium.checks.spec import ADD_RECORDS
from airflow_provider_thulium.exceptions import ThuliumValidationError
from airflow_provider_thulium.sources import FileSource

PHONE_ELSEWHERE = "48500100299"
UTC = ZoneInfo("UTC")


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("next_call_date", PHONE_ELSEWHERE, "is not a date"),
        ("next_call_date", f"+{PHONE_ELSEWHERE}", "is not a date"),
        ("status_id", f"{PHONE_ELSEWHERE}x", "integer id"),
        ("dictionary_status_id", "48 500 100 299", "integer id"),
    ],
)
def test_11_a_phone_in_another_field_is_masked_in_the_message(field, value, says):
    for records in (
        [{"phone_number": "48500100200", field: value}],
        [{"phone_number": "48500100200", field: value}] * 1,
    ):
        with pytest.raises(ThuliumValidationError, match=says) as caught:
            parse_records(records, UTC, spec=ADD_RECORDS)
        assert "100299" not in str(caught.value) and "…299" in str(caught.value), str(caught.value)


def test_11_a_phone_in_a_files_date_column_is_masked(tmp_path):
    source = tmp_path / "leads.csv"
    source.write_text("phone_number,next_call_date\n48500100200,2030-01-01 10:00\n48500100201,48500100299\n")
    with pytest.raises(ThuliumValidationError, match="is not a date") as caught:
        FileSource(str(source)).read_records(ADD_RECORDS, UTC)
    assert "100299" not in str(caught.value) and "…299" in str(caught.value), str(caught.value)


def test_11_an_unknown_agent_that_is_a_number_is_masked():
    agents = [{"login": "j.doe", "active_in_outbound": True}]
    with pytest.raises(ThuliumValidationError, match="has no agent") as caught:
        check_agent_logins([{"phone_number": "48500100200", "agent_login": PHONE_ELSEWHERE}], agents, "00001")
    assert "100299" not in str(caught.value) and "…299" in str(caught.value)
    with pytest.raises(ThuliumValidationError, match=r"has no agent 'k\.smith'"):
        check_agent_logins([{"phone_number": "48500100200", "agent_login": "k.smith"}], agents, "00001")
