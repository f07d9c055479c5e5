"""Property tests of input handling: any input becomes well-formed requests or a validation error.

Hypothesis throws phone lists, record lists and campaign ids of mixed types at the hook (str,
int, bool, None, floats with NaN and infinities, dicts, nested lists, unicode digits and
whitespace, lone surrogates, '+', huge ints, duplicates, unknown keys, impossible dates, aware
and naive datetimes at the ends of their range, ``record_fields`` holding non-scalars). For each
input, exactly one of these holds:

- the hook raises :class:`ThuliumValidationError` and the sandbox received no request at all;
- the hook sends requests the sandbox accepts as well-formed (strict JSON, UTF-8, ASCII phone
  numbers, ``YYYY-MM-DD hh:mm`` dates, integer ids that fit 64 bits), carrying exactly what the
  ``parse_*`` function returned, and answers with one entry per distinct input phone.

No other exception type may escape. One sandbox serves the whole module (hypothesis does not
reset function-scoped fixtures between examples); ``TRIED`` counts the inputs, and the last test
checks and prints the totals.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from airflow_provider_thulium.checks.records import (
    normalize_campaign_id,
    parse_phone_numbers,
    parse_records,
)
from airflow_provider_thulium.exceptions import ThuliumValidationError
from airflow_provider_thulium.hooks.thulium import ThuliumHook
from airflow_provider_thulium.sandbox import ThuliumSandbox

CAMPAIGN = "00077"
WARSAW = ZoneInfo("Europe/Warsaw")
ASCII_PHONE = re.compile(r"\+?[0-9]{1,20}", re.ASCII)
ASCII_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}", re.ASCII)
INT64 = 2**63 - 1

TRIED: Counter[str] = Counter()

# Hypothesis keeps caches in ./.hypothesis; keep the repository clean (no example database either).
set_hypothesis_home_dir(tempfile.mkdtemp(prefix="thulium-tests-hypothesis-"))

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,  # no .hypothesis folder in the repository
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ThuliumSandbox]:
    with ThuliumSandbox(seed="empty") as server, pytest.MonkeyPatch.context() as patch:
        server.state.add_campaign(CAMPAIGN, "Fuzz", fields={"crm_id", "note"})
        server.state.bulk_add(CAMPAIGN, ["48500100200", "+48500100201", "1"])
        patch.setenv("AIRFLOW_CONN_THULIUM_FUZZ", server.connection_json())
        yield server


@pytest.fixture(scope="module")
def hook(sandbox: ThuliumSandbox) -> Iterator[ThuliumHook]:
    hook = ThuliumHook("thulium_fuzz", max_retries=0, max_batch_size=7)
    yield hook
    hook.close()


# ----------------------------------------------------------------------------- strategies

_HUGE = [10**19, 10**20, 10**25, 2**63, 2**64, -(10**25), 10**4400, -(10**4400)]
# Drawn by index: hypothesis cannot repr an int of more than 4300 digits in its strategy reprs.


def _huge(index: int) -> int:
    return _HUGE[index]


HUGE_INTS = st.integers(min_value=0, max_value=len(_HUGE) - 1).map(_huge)
# Digits of other scripts (Arabic-Indic, fullwidth, superscript, mathematical bold, Devanagari):
# str.isdigit() and \d accept them, Thulium would not.
UNICODE_DIGITS = st.sampled_from(
    [
        "\u0664\u0668\u0665\u0660\u0660",
        "\uff14\uff18\uff15\uff10\uff10\uff11",
        "\u00b2\u00b3",
        "\U0001d7d2\U0001d7d6\U0001d7d3",
        "\u096a\u096e\u096b",
        "+\u0664\u0668",
        "\uff11",
        "\u0661\u0662",
    ]
)
ODD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\t\n",
        "\u00a0",
        "\u2003",
        "+",
        "++48",
        "+ 48",
        "48 500",
        "48-500",
        "0x1F",
        "1e5",
        "1_000",
        "\ud800",
        "48\x00",
    ]
)
PHONE_TEXT = st.builds(
    lambda pad_left, body, pad_right: pad_left + body + pad_right,
    st.sampled_from(["", " ", "\t", "\u00a0", "\n"]),
    st.from_regex(r"\+?[0-9]{1,22}", fullmatch=True),
    st.sampled_from(["", " ", "\u2003", "\r\n"]),
)
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    HUGE_INTS,
    FLOATS,
    st.text(max_size=12),
    ODD_TEXT,
    UNICODE_DIGITS,
)
NESTED = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
PHONE_ITEM = st.one_of(
    PHONE_TEXT,
    PHONE_TEXT,  # twice: most items look like phones, so valid lists come up often
    st.integers(min_value=0, max_value=10**21),
    SCALARS,
    NESTED,
)
PHONE_LIST = st.lists(PHONE_ITEM, max_size=20).flatmap(
    # Duplicates on purpose: repeat some items of the list.
    lambda items: (
        st.just(items) if not items else st.lists(st.sampled_from(items), max_size=5).map(lambda extra: items + extra)
    )
)
SEPARATORS = st.sampled_from([",", ", ", ";", " ", "\n", "\t", ",\n", " ,; "])
PHONE_STRING = st.builds(
    lambda items, sep: sep.join(items),
    st.lists(st.one_of(PHONE_TEXT, ODD_TEXT, UNICODE_DIGITS, st.text(max_size=5)), max_size=12),
    SEPARATORS,
)
# Lists of phone-like items only, so that valid inputs (and so sent requests) come up often.
PLAUSIBLE_PHONE_LIST = st.lists(
    st.one_of(PHONE_TEXT, st.integers(min_value=0, max_value=10**20 - 1)), min_size=1, max_size=25
).flatmap(lambda items: st.lists(st.sampled_from(items), max_size=5).map(lambda extra: items + extra))
PHONE_INPUTS = st.one_of(
    PLAUSIBLE_PHONE_LIST,
    PLAUSIBLE_PHONE_LIST.map(lambda items: ",".join(str(item) for item in items)),
    PHONE_LIST,
    PHONE_LIST.map(tuple),
    PHONE_STRING,
    SCALARS,
    NESTED,
    PHONE_LIST.map(lambda items: {str(i): item for i, item in enumerate(items)}),
    st.sampled_from([b"48500100200", bytearray(b"485"), frozenset({"48500100200"}), range(3)]),
)

FIXED_OFFSETS = st.builds(
    lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59)
)
DATETIMES = st.one_of(
    st.datetimes(),  # naive, years 1-9999
    st.datetimes(timezones=FIXED_OFFSETS),
    st.datetimes(timezones=st.sampled_from([timezone.utc, WARSAW, ZoneInfo("Pacific/Kiritimati")])),
    st.sampled_from(
        [
            datetime.max.replace(tzinfo=timezone.utc),
            datetime.min.replace(tzinfo=timezone(timedelta(hours=5))),
            datetime(999, 12, 31, 23, 59),
            datetime(5, 1, 1, 0, 0),
            datetime(2030, 3, 31, 2, 30, tzinfo=WARSAW),  # a time that does not exist in Warsaw
        ]
    ),
)
DATE_TEXT = st.one_of(
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M")),
    st.sampled_from(
        [
            "2030-02-30 10:00",
            "2030-13-01 10:00",
            "2030-01-01 24:00",
            "2030-1-1 1:00",
            "2030-01-01T10:00",
            "2030-01-01 10:00:00",
            "\uff12\uff10\uff13\uff10-\uff10\uff11-\uff10\uff11 \uff11\uff10:\uff10\uff10",
            "\u0662\u0660\u0663\u0660-\u0660\u0661-\u0660\u0661 \u0661\u0660:\u0660\u0660",
            " 2030-01-01 10:00\n",
            "0000-01-01 00:00",
        ]
    ),
)
NEXT_CALL_DATES = st.one_of(DATETIMES, DATE_TEXT, st.dates(), SCALARS)
IDS = st.one_of(
    st.integers(min_value=-3, max_value=20),
    HUGE_INTS,
    st.integers(min_value=0, max_value=40).map(str),
    st.integers(min_value=0, max_value=40).map(lambda n: f" {n}\t"),
    UNICODE_DIGITS,
    SCALARS,
)
FIELD_VALUES = st.one_of(SCALARS, NESTED, HUGE_INTS, st.sampled_from([math.nan, math.inf, -math.inf, "\udfff"]))
RECORD_FIELDS = st.one_of(
    st.dictionaries(
        st.one_of(st.sampled_from(["crm_id", "note", "other"]), st.text(max_size=6)), FIELD_VALUES, max_size=4
    ),
    st.dictionaries(st.one_of(st.integers(), st.none(), st.just("")), SCALARS, min_size=1, max_size=2),
    SCALARS,
    NESTED,
)
RECORD = st.fixed_dictionaries(
    {"phone_number": PHONE_ITEM},
    optional={
        "status_id": IDS,
        "dictionary_status_id": IDS,
        "agent_login": st.one_of(st.sampled_from(["j.doe", " a.smith ", "", "  ", "\ud800"]), SCALARS),
        "next_call_date": NEXT_CALL_DATES,
        "record_fields": RECORD_FIELDS,
        "colour": SCALARS,
        "Status_Id": SCALARS,
    },
)
# Records whose every value is of a plausible kind (still with odd corners), so that many are sent.
PLAUSIBLE_RECORD = st.fixed_dictionaries(
    {
        "phone_number": st.one_of(PHONE_TEXT, st.integers(min_value=0, max_value=10**20 - 1)),
        "status_id": st.one_of(st.integers(min_value=0, max_value=12), st.integers(min_value=0, max_value=12).map(str)),
    },
    optional={
        "dictionary_status_id": st.one_of(st.integers(min_value=0, max_value=INT64), st.none()),
        "agent_login": st.one_of(
            st.sampled_from(["j.doe", " a.smith ", "nobody"]),
            st.text(st.characters(categories=["L", "N", "P"]), min_size=1, max_size=8),
        ),
        "next_call_date": st.one_of(
            st.datetimes(),
            st.datetimes(timezones=FIXED_OFFSETS, min_value=datetime(2, 1, 1), max_value=datetime(9998, 1, 1)),
            st.datetimes(timezones=st.just(WARSAW)),
            st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M")),
            DATE_TEXT,
        ),
        "record_fields": st.dictionaries(
            st.one_of(st.sampled_from(["crm_id", "note"]), st.text(min_size=1, max_size=6)),
            st.one_of(
                st.none(),
                st.booleans(),
                st.integers(min_value=-INT64, max_value=INT64),
                st.floats(allow_nan=False, allow_infinity=False),
                st.text(max_size=10),
            ),
            max_size=3,
        ),
    },
)
PLAUSIBLE_RECORD_LIST = st.lists(
    PLAUSIBLE_RECORD, min_size=1, max_size=12, unique_by=lambda r: str(r["phone_number"]).strip()
)
RECORD_LIST = st.lists(st.one_of(RECORD, RECORD, RECORD, SCALARS, NESTED), max_size=10).flatmap(
    lambda items: (
        st.just(items) if not items else st.lists(st.sampled_from(items), max_size=3).map(lambda extra: items + extra)
    )
)


def _jsonable(records: list[Any]) -> str | None:
    try:
        return json.dumps(records, default=str)
    except (TypeError, ValueError):
        return None


PLAUSIBLE_RECORD_INPUTS = st.one_of(
    PLAUSIBLE_RECORD_LIST,
    PLAUSIBLE_RECORD_LIST.map(tuple),
    PLAUSIBLE_RECORD_LIST.map(_jsonable).filter(lambda text: text is not None),
)
RECORD_INPUTS = st.one_of(
    RECORD_LIST,
    RECORD_LIST.map(tuple),
    RECORD_LIST.map(_jsonable).filter(lambda text: text is not None),
    st.sampled_from(
        ['[{"phone_number": "1", "agent_login": "\\ud800"}]', "[" * 100_000, '[{"phone_number": NaN}]', "{}", "", "[]"]
    ),
    SCALARS,
    NESTED,
)


# ----------------------------------------------------------------------------- checks


def _strict_json(raw: bytes) -> Any:
    def refuse(constant: str) -> Any:
        raise AssertionError(f"not JSON: {constant} in the body")

    return json.loads(raw.decode("utf-8"), parse_constant=refuse)  # UTF-8 and strict JSON, or fail


def _check_record(record: dict[str, Any]) -> None:
    assert ASCII_PHONE.fullmatch(record["phone_number"]), record
    assert set(record) <= {
        "phone_number",
        "status_id",
        "dictionary_status_id",
        "agent_login",
        "next_call_date",
        "record_fields",
    }
    assert len(record) > 1
    for key in ("status_id", "dictionary_status_id"):
        if key in record:
            assert type(record[key]) is int and 0 <= record[key] <= INT64, record
    if "agent_login" in record:
        assert isinstance(record["agent_login"], str) and record["agent_login"] == record["agent_login"].strip() != ""
    if "next_call_date" in record:
        value = record["next_call_date"]
        assert ASCII_DATE.fullmatch(value), value
        datetime.strptime(value, "%Y-%m-%d %H:%M")
    if "record_fields" in record:
        fields = record["record_fields"]
        assert isinstance(fields, dict)
        for key, value in fields.items():
            assert isinstance(key, str) and key
            assert value is None or isinstance(value, (str, int, float, bool)), value
            if isinstance(value, float):
                assert math.isfinite(value)
            if isinstance(value, int) and not isinstance(value, bool):
                assert -INT64 - 1 <= value <= INT64


# ----------------------------------------------------------------------------- properties


@FUZZ
@given(phones=PHONE_INPUTS)
def test_any_phone_input_is_sent_well_formed_or_refused_before_sending(sandbox, hook, phones):
    sandbox.clear_requests()
    TRIED["phones"] += 1
    try:
        result = hook.delete_records(CAMPAIGN, phones)
    except ThuliumValidationError:
        TRIED["phones refused"] += 1
        assert sandbox.requests == []
        return
    TRIED["phones sent"] += 1
    expected = parse_phone_numbers(phones if isinstance(phones, (str, list, tuple)) else list(phones))
    assert all(ASCII_PHONE.fullmatch(p) for p in expected)
    assert len(set(expected)) == len(expected)
    assert list(result) == expected
    sent = [phone for request in sandbox.requests for phone in request.query.get("phone_number[]", [])]
    assert sent == expected
    assert {request.status for request in sandbox.requests} <= {200, 207}
    assert all(isinstance(entry, list) and entry for entry in result.values())


@FUZZ
@given(records=RECORD_INPUTS)
def test_any_record_input_is_sent_well_formed_or_refused_before_sending(sandbox, hook, records):
    check_update(sandbox, hook, records)


@FUZZ
@given(records=PLAUSIBLE_RECORD_INPUTS)
def test_plausible_record_input_is_sent_well_formed_or_refused_before_sending(sandbox, hook, records):
    # The same property on records of the right kinds with odd values, most of which are sent.
    check_update(sandbox, hook, records)


def check_update(sandbox: ThuliumSandbox, hook: ThuliumHook, records: Any) -> None:
    sandbox.clear_requests()
    TRIED["records"] += 1
    try:
        result = hook.update_records(CAMPAIGN, records)
    except ThuliumValidationError:
        TRIED["records refused"] += 1
        # Records naming agents are checked against the campaign's agents first: a read, nothing sent.
        assert [request.method for request in sandbox.requests] in ([], ["GET"])
        return
    TRIED["records sent"] += 1
    expected = parse_records(records, WARSAW)
    for record in expected:
        _check_record(record)
    assert list(result) == [record["phone_number"] for record in expected]
    sent: list[Any] = []
    for request in sandbox.requests:
        if request.method == "GET":
            assert request.path == f"/api/outbounds/{CAMPAIGN}/agents" and any("agent_login" in r for r in expected)
            continue
        assert request.status in (200, 207), request
        sent += _strict_json(request.raw_body)["records"]
    assert sent == expected
    for entry in result.values():
        # Per-record verdicts only (404 for numbers the campaign lacks, 400 for an unknown status
        # or field): never a complaint about the request's shape.
        assert entry["http_status"] in (204, 400, 404), entry
        assert "Unknown parameter" not in entry.get("message", "")
        assert "Invalid next_call_date" not in entry.get("message", "")
        assert "must be an object" not in entry.get("message", "")


@FUZZ
@given(campaign_id=st.one_of(SCALARS, NESTED, st.from_regex(r"[A-Za-z0-9]{1,6}", fullmatch=True), UNICODE_DIGITS))
def test_any_campaign_id_is_normalised_or_refused(sandbox, hook, campaign_id):
    sandbox.clear_requests()
    TRIED["campaign ids"] += 1
    try:
        normalised = normalize_campaign_id(campaign_id)
    except ThuliumValidationError:
        TRIED["campaign ids refused"] += 1
        with pytest.raises(ThuliumValidationError):
            hook.delete_records(campaign_id, ["48500100200"])
        assert sandbox.requests == []
        return
    assert re.fullmatch(r"[A-Za-z0-9]{5}", normalised, re.ASCII)


@pytest.mark.parametrize(
    "records",
    [
        [{"phone_number": "1", "record_fields": {"note": math.nan}}],
        [{"phone_number": "1", "record_fields": {"note": 10**4400}}],
        [{"phone_number": "1", "status_id": 10**4400}],
        [{"phone_number": "1", "status_id": "\u00b2"}],
        [{"phone_number": "1", "agent_login": "\ud800"}],
        [{"phone_number": 10**4400, "status_id": 1}],
        [{"phone_number": -(10**4400), "status_id": 1}],
        [{"phone_number": "1", "next_call_date": datetime.max.replace(tzinfo=timezone.utc)}],
        [
            {
                "phone_number": "1",
                "next_call_date": "\uff12\uff10\uff13\uff10-\uff10\uff11-\uff10\uff11 \uff11\uff10:\uff10\uff10",
            }
        ],
        [{"phone_number": "1", "next_call_date": date(2030, 1, 1)}],
        "[" * 100_000,
    ],
    ids=[
        "nan-field",
        "huge-int-field",
        "huge-status-id",
        "superscript-status-id",
        "lone-surrogate-login",
        "huge-int-phone",
        "huge-negative-phone",
        "aware-datetime-max",
        "fullwidth-date",
        "date-without-time",
        "deeply-nested-json",
    ],
)
def test_known_hard_inputs_are_refused_before_sending(sandbox, hook, records):
    sandbox.clear_requests()
    TRIED["hard cases"] += 1
    with pytest.raises(ThuliumValidationError):
        hook.update_records(CAMPAIGN, records)
    assert sandbox.requests == []


@pytest.mark.parametrize("phones", [5, None, 4.5, b"48500100200", {"48500100200": 1}, object()])
def test_phone_inputs_that_are_not_lists_are_refused(sandbox, hook, phones):
    sandbox.clear_requests()
    TRIED["hard cases"] += 1
    with pytest.raises(ThuliumValidationError):
        hook.delete_records(CAMPAIGN, phones)
    assert sandbox.requests == []


def test_years_before_1000_are_zero_padded(sandbox, hook):
    sandbox.clear_requests()
    hook.update_records(CAMPAIGN, [{"phone_number": "1", "next_call_date": datetime(999, 1, 2, 3, 4)}])
    (request,) = sandbox.requests
    assert request.body["records"][0]["next_call_date"] == "0999-01-02 03:04"


def test_zz_totals(capsys):
    with capsys.disabled():
        total = sum(TRIED[k] for k in ("phones", "records", "campaign ids", "hard cases"))
        print(f"\nfuzz inputs tried: {total} {dict(TRIED)}")
    assert TRIED["phones"] >= 300 and TRIED["records"] >= 600 and TRIED["campaign ids"] >= 300
    # Both outcomes came up often enough for the properties to mean something.
    for kind in ("phones", "records"):
        assert TRIED[f"{kind} sent"] >= 40 and TRIED[f"{kind} refused"] >= 40, dict(TRIED)
