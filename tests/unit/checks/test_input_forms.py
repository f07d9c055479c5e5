"""Input as templates render it (a list written as text), and refusals that say what was wrong."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from airflow_provider_thulium.checks.records import parse_phone_numbers, parse_records
from airflow_provider_thulium.exceptions import ThuliumValidationError


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


@pytest.mark.parametrize("text", ["[48500100201, 'x' + 'y']", "[{'a': 1]"])
def test_text_that_only_looks_like_a_list_is_refused_with_the_remedy(text):
    with pytest.raises(ThuliumValidationError, match=r"not a JSON or Python list literal.*join\(','\)"):
        parse_phone_numbers(text)


def test_a_list_nested_too_deeply_is_refused_on_every_python():
    # Python 3.13's JSON parser reads 5,000 levels that 3.10 to 3.12 cannot: a list holding a list then.
    with pytest.raises(
        ThuliumValidationError,
        match=r"not a JSON or Python list literal|phone_numbers\[0\]: expected a phone number as str or int, got list",
    ):
        parse_phone_numbers("[" * 5000 + "]" * 5000)


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


@pytest.mark.parametrize(
    "text",
    [
        "+48 500 100 201",  # what "{{ params.one }}" renders from one formatted number
        "48 500100201",
        "  +48500 100201 ",
        "48500100201 48500100202 201",  # a short part among whole numbers: one of them has spaces
    ],
)
def test_one_number_written_with_spaces_is_refused_not_split(text):
    with pytest.raises(ThuliumValidationError, match=r"looks like .*written with spaces") as refused:
        parse_phone_numbers(text)
    message = str(refused.value)
    assert "a list or separate them with commas or newlines" in message
    assert "500 100" not in message and "500100" not in message  # the number itself is not shown


def test_whole_numbers_separated_by_whitespace_keep_working():
    assert parse_phone_numbers("48500100201 +48500100202\t48500100203") == [
        "48500100201",
        "+48500100202",
        "48500100203",
    ]
    assert parse_phone_numbers("201") == ["201"]  # one short number alone is not split at all


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        ("2030-07-02 14:00:00", "2030-07-02 14:00"),  # the form SQL databases and CRM exports write
        (" 2030-07-02 14:05:59 ", "2030-07-02 14:05"),  # dropped, not rounded
        (datetime(2030, 7, 2, 14, 5, 59, 999), "2030-07-02 14:05"),
        ("2030-07-02 14:05", "2030-07-02 14:05"),
    ],
)
def test_next_call_date_seconds_are_accepted_and_dropped(value, sent):
    (record,) = parse_records([{"phone_number": "48500100201", "next_call_date": value}], ZoneInfo("UTC"))
    assert record["next_call_date"] == sent


@pytest.mark.parametrize("value", ["2030-07-02 14:00:60", "2030-07-02 14:00:0", "2030-07-02 14:00:00.5"])
def test_next_call_date_with_impossible_seconds_is_refused(value):
    with pytest.raises(ThuliumValidationError, match=r"next_call_date: .* 'YYYY-MM-DD hh:mm' \(or hh:mm:ss\)"):
        parse_records([{"phone_number": "48500100201", "next_call_date": value}], ZoneInfo("UTC"))
