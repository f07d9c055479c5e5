"""The whole-input checks of validation, held to the one-by-one checks they stand in for (no server).

Checking 100,000 items one by one costs more than sending them, so the whole phone-list check
(``joined_if_all_match``) and ``records_in_normal_form`` let an input in normal form skip the
one-by-one check; they must pass exactly the inputs it would return unchanged.
"""

from __future__ import annotations

import math
import tempfile
from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from airflow_provider_thulium.checks.normal_form import records_in_normal_form
from airflow_provider_thulium.checks.records import check_records_one_by_one
from airflow_provider_thulium.checks.rules import PHONE_LINES, checked_phone, joined_if_all_match
from airflow_provider_thulium.checks.spec import ADD_RECORDS, UPDATE_RECORDS

WARSAW = ZoneInfo("Europe/Warsaw")
INT64 = 2**63 - 1
TRIED: Counter[str] = Counter()

set_hypothesis_home_dir(tempfile.mkdtemp(prefix="thulium-tests-hypothesis-"))
FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,  # no .hypothesis folder in the repository
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# The whole-input checks (``joined_if_all_match``, ``records_in_normal_form``) let an input skip the
# one-by-one check, so they must pass exactly the inputs it would return unchanged. The inputs:
# lists already in normal form, half of them with one flaw planted that the joined-text and
# type-set tricks could miss (a newline inside a value, a bool for an int, a str subclass...).


class Text(str):
    """Equal to its plain text, but another type: the checks must not send it as it is."""


NORMAL_PHONE = st.from_regex(r"\+?[0-9]{1,20}", fullmatch=True)
PHONE_FLAWS = ["48\n500", "1\n", "\n1", "", "+", "0" * 21, "+1+1", "1 2", " 1", "\uff11", "1\u2003", 48500, Text("4")]
NORMAL_RECORD = st.fixed_dictionaries(
    {"phone_number": NORMAL_PHONE},
    optional={
        "status_id": st.integers(min_value=0, max_value=INT64),
        "dictionary_status_id": st.integers(min_value=0, max_value=INT64),
        "agent_login": st.text(st.characters(categories=["L", "N", "P"]), min_size=1, max_size=6),
        "next_call_date": st.datetimes(min_value=datetime(1000, 1, 1)).map(lambda d: d.strftime("%Y-%m-%d %H:%M")),
        "record_fields": st.dictionaries(
            st.text(min_size=1, max_size=4).filter(lambda key: key.encode("utf-8", "ignore").decode() == key),
            st.one_of(
                st.none(),
                st.booleans(),
                st.integers(min_value=-INT64, max_value=INT64),
                st.floats(allow_nan=False, allow_infinity=False),
                st.text(max_size=6).filter(lambda text: text.encode("utf-8", "ignore").decode() == text),
            ),
            max_size=3,
        ),
    },
).filter(lambda record: len(record) > 1)
RECORD_FLAWS = [
    *(("phone_number", flaw) for flaw in PHONE_FLAWS),
    *(("status_id", flaw) for flaw in (-1, INT64 + 1, True, "3", None, 2.0)),
    ("dictionary_status_id", None),
    *(("agent_login", flaw) for flaw in (" j.doe", "j.doe\n", "", "\ud800", Text("x"), None, 5)),
    *(
        ("next_call_date", flaw)
        for flaw in (
            "2030-02-30 10:00",
            "0000-01-01 00:00",
            "2030-01-01 10:00\n2030-01-01 10:00",
            " 2030-01-01 10:00",
            datetime(2030, 1, 1),
            None,
        )
    ),
    *(
        ("record_fields", flaw)
        for flaw in (
            None,
            [],
            {"": 1},
            {"\udfff": 1},
            {Text("k"): 1},
            {1: "x"},
            {"a": math.nan},
            {"a": -math.inf},
            {"a": INT64 + 1},
            {"a": -INT64 - 2},
            {"a": "\ud800"},
            {"a": Text("v")},
            {"a": [1]},
            {"a": {"b": 1}},
        )
    ),
    ("colour", "red"),
    ("duplicate phone", None),
    ("phone in the other spelling", None),
    ("no phone", None),
    ("nothing to change", None),
    ("not a dict", None),
]


def _plant(records: list[dict[str, Any]], where: int, flaw: tuple[str, Any]) -> list[Any]:
    records = [dict(record) for record in records]
    index = where % len(records)
    key, value = flaw
    if key == "duplicate phone":
        records.append({**records[index], "phone_number": records[0]["phone_number"]})
    elif key == "phone in the other spelling":  # "+48…" and "48…": refused like a duplicate
        phone = records[0]["phone_number"]
        records.append({**records[index], "phone_number": phone[1:] if phone[0] == "+" else "+" + phone})
    elif key == "no phone":
        del records[index]["phone_number"]
    elif key == "nothing to change":
        records[index] = {"phone_number": records[index]["phone_number"]}
    elif key == "not a dict":
        return [*records[:index], list(records[index].items()), *records[index + 1 :]]
    else:
        records[index][key] = value
    return records


NEAR_RECORD_LISTS = st.builds(
    lambda records, flaw: (records if flaw is None else _plant(records, *flaw), flaw is None),
    # One spelling per number: "+1" and "1" are one number given twice.
    st.lists(NORMAL_RECORD, min_size=1, max_size=6, unique_by=lambda record: record["phone_number"].lstrip("+")),
    st.one_of(st.none(), st.tuples(st.integers(min_value=0, max_value=5), st.sampled_from(RECORD_FLAWS))),
)
NEAR_PHONE_LISTS = st.builds(
    lambda phones, flaw: (phones if flaw is None else [*phones[: flaw[0]], flaw[1], *phones[flaw[0] :]], flaw is None),
    st.lists(NORMAL_PHONE, min_size=1, max_size=8),
    st.one_of(st.none(), st.tuples(st.integers(min_value=0, max_value=8), st.sampled_from(PHONE_FLAWS))),
)


@FUZZ
@given(case=NEAR_PHONE_LISTS)
def test_the_whole_phone_check_passes_exactly_what_the_one_by_one_check_keeps(case):
    phones, normal = case
    TRIED["phone lists checked whole"] += 1
    TRIED["phone lists passed whole"] += normal
    assert (joined_if_all_match(phones, PHONE_LINES) is not None) is normal
    if normal:
        assert [checked_phone(phone, "phone_numbers") for phone in phones] == phones


@FUZZ
@given(case=NEAR_RECORD_LISTS)
def test_the_whole_record_check_passes_exactly_what_the_one_by_one_check_keeps(case):
    records, normal = case
    TRIED["record lists checked whole"] += 1
    TRIED["record lists passed whole"] += normal
    assert records_in_normal_form(records, UPDATE_RECORDS) is normal, records
    if normal:
        assert check_records_one_by_one(records, WARSAW, "records", UPDATE_RECORDS) == records


# Keys the near-normal lists never hold: the add-only ones, and a status by its name (refused beside a status_id).
EXTRA_VALUES = st.fixed_dictionaries(
    {},
    optional={
        "identifier": st.one_of(st.just("C-1"), st.just(" C-2"), st.just(""), st.integers(-1, 3), st.none()),
        "order": st.one_of(st.integers(-1, 3), st.just("5"), st.booleans(), st.just(2**64)),
        "status": st.one_of(st.just("Nowy"), st.just(" Nowy"), st.just(""), st.just("\ud800"), st.just(3), st.none()),
    },
)


@FUZZ
@given(case=NEAR_RECORD_LISTS, extra=EXTRA_VALUES)
def test_the_whole_check_of_records_to_add_never_passes_what_the_one_by_one_check_would_change(case, extra):
    records = (
        case[0] if not extra else [{**case[0][0], **extra}, *case[0][1:]] if isinstance(case[0][0], dict) else case[0]
    )
    TRIED["add lists checked whole"] += 1
    if records_in_normal_form(records, ADD_RECORDS):
        TRIED["add lists passed whole"] += 1
        assert check_records_one_by_one(records, WARSAW, "records", ADD_RECORDS) == records


def test_zz_both_answers_came_up_often_enough(capsys):
    with capsys.disabled():
        print(f"\nwhole-input checks tried: {dict(TRIED)}")
    for kind in ("phone lists", "record lists"):
        passed = TRIED[f"{kind} passed whole"]
        assert 40 <= passed <= TRIED[f"{kind} checked whole"] - 40, dict(TRIED)


@pytest.mark.parametrize("names", [2, 6])  # a column of values per field name, and one list of every value
def test_record_field_values_are_checked_whether_the_records_share_few_field_names_or_many(names):
    records = [
        {"phone_number": f"4850010{i:04d}", "record_fields": {f"f{j}": j for j in range(i % names + 1)}}
        for i in range(3 * names)
    ]
    assert records_in_normal_form(records, UPDATE_RECORDS)
    for flaw in ("\ud800", math.nan, INT64 + 1, [1], Text("v")):
        last = records[-1]
        flawed = [*records[:-1], {**last, "record_fields": {**last["record_fields"], "f0": flaw}}]
        assert not records_in_normal_form(flawed, UPDATE_RECORDS), flaw
