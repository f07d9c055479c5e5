"""Input as templates render it (a list written as text), and refusals that say what was wrong."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from airflow_provider_thulium.exceptions import ThuliumValidationError
from airflow_provider_thulium.validation import parse_phone_numbers, parse_records


@pytest.mark.parametrize(
    "text",
    [
        "['48500100201', '48500100202']",  # {{ params.phones }} or {{ ti.xcom_pull(...) }} of a list of str
        "[48500100201, 48500100202]",  # ... of a list of int
        '["48500100201", "48500100202"]',  # JSON, e.g. {{ phones | tojson }}
        "  ['48500100201', '48500100202']\n",
        "['48500100201', '48500100202', '48500100201']",
    ],
)
def test_a_list_written_as_text_is_read_as_a_list(text):
    assert parse_phone_numbers(text) == ["48500100201", "48500100202"]


def test_an_empty_list_written_as_text_is_no_phones():
    assert parse_phone_numbers("[]") == []


@pytest.mark.parametrize("text", ["[48500100201, 'x' + 'y']", "[{'a': 1]", "[" * 5000 + "]" * 5000])
def test_text_that_only_looks_like_a_list_is_refused_with_the_remedy(text):
    with pytest.raises(ThuliumValidationError, match=r"not a JSON or Python list literal.*join\(','\)"):
        parse_phone_numbers(text)


def test_items_of_a_list_written_as_text_are_checked_like_any_other():
    with pytest.raises(ThuliumValidationError, match=r"phone_numbers\[1\].*it holds letters"):
        parse_phone_numbers("['48500100201', 'abc']")


def test_records_written_as_python_text_are_read():
    text = "[{'phone_number': '48500100201', 'status_id': 2}]"
    assert parse_records(text, ZoneInfo("UTC")) == [{"phone_number": "48500100201", "status_id": 2}]
    with pytest.raises(ThuliumValidationError, match="not valid JSON"):
        parse_records("{'phone_number': '48500100201'}", ZoneInfo("UTC"))


@pytest.mark.parametrize(
    ("phone", "reason"),
    [
        ("48 500 100 207", "it holds a space"),
        ("48-500-100-207", "it holds a dash"),
        ("48500IOO207", "it holds letters"),
        ("48500100207+", "it holds a \\+ that is not at the start"),
        ("(48)500100207", "it holds punctuation"),
        ("4850010020\uff17", "it holds digits that are not ASCII 0-9"),  # a fullwidth 7
        ("4" * 21, "it has 21 digits, more than 20"),
        ("", "it is empty"),
        ("  ", "it is empty"),
        ("'48500100207'", "brackets or quotes: is it a list rendered as text"),
        ("+48 500-100-207", "it holds a space, a dash"),
    ],
)
def test_a_refused_phone_says_why_without_showing_it(phone, reason):
    with pytest.raises(ThuliumValidationError, match=reason) as refused:
        parse_phone_numbers(["48500100201", phone])
    message = str(refused.value)
    assert message.startswith("phone_numbers[1]: phone ")
    assert "48500100" not in message.replace("48500100201", "") and "500 100" not in message


def test_a_phone_in_a_record_says_why_too():
    with pytest.raises(ThuliumValidationError, match=r"records\[0\].phone_number: .* it holds a space"):
        parse_records([{"phone_number": "48 500 100 207", "status_id": 2}], ZoneInfo("UTC"))


def test_a_typo_in_the_phone_key_is_named():
    with pytest.raises(
        ThuliumValidationError, match=r"records\[0\].phone_number: missing .*unknown field\(s\) phone_numbr"
    ):
        parse_records([{"phone_numbr": "48500100207", "status_id": 2}], ZoneInfo("UTC"))
