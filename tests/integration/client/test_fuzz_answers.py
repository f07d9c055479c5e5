"""Property tests of answer handling: whatever a server answers, a call ends in results or a ThuliumError.

Hypothesis scripts whole answers of a raw loopback server: the status line (any status, or one
that is not HTTP), headers (``Retry-After`` as seconds, dates, overflowing dates and garbage;
``Content-Type`` of any text; ``Content-Length`` right, short, long, negative, repeated or not a
number; chunked framing, valid or not) and bodies (JSON of any shape, answers keyed by the phones
sent with any values, Thulium's error shape with any fields, non-JSON bytes, JSON cut short,
JSON nested 100,000 deep, NaN, UTF-16, more than the answer limit), and whether the connection
is closed early. For each answer, exactly one of these holds:

- a records call returns an entry for every input phone, in input order;
- it raises a :class:`ThuliumError`, with every phone's entry in ``results`` when a run had started;

``list_campaigns`` returns a list or raises a ``ThuliumError``; ``test_connection()`` returns
``(bool, str)`` and never raises; no error message spans two lines. ``TRIED`` counts the answers
and the last test checks and prints the totals, escapes included (there must be none).
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from airflow_provider_thulium.exceptions import ThuliumError
from airflow_provider_thulium.hooks.thulium import ThuliumHook
from tests.helpers import CLOSE, RawRequest, hook_on_raw_server

PHONES = ["48500100201", "48500100202", "+48500100203"]
RECORDS = [{"phone_number": phone, "status_id": 2} for phone in PHONES]

TRIED: Counter[str] = Counter()
ESCAPED: list[str] = []

set_hypothesis_home_dir(tempfile.mkdtemp(prefix="thulium-tests-hypothesis-"))

FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)


class Script:
    """The answer the server gives next: swapped by each example."""

    steps: list[Any] = [b"HTTP/1.1 204 No Content\r\n\r\n"]

    def __call__(self, request: RawRequest) -> list[Any]:
        return self.steps


SCRIPT = Script()


#: Quick: one retry, waits of milliseconds, Retry-After cut to 50 ms, attempts cut at 1 s.
QUICK = {
    "timeout": 1,
    "max_retries": 1,
    "backoff": 0.001,
    "max_backoff": 0.002,
    "max_retry_after": 0.05,
    "retry_budget": 2,
    "max_batch_size": 2,
}


@pytest.fixture(scope="module")
def hook() -> Iterator[ThuliumHook]:
    with hook_on_raw_server(SCRIPT, **QUICK) as (hook, _):
        yield hook


# ----------------------------------------------------------------------------- strategies

TEXT = st.text(st.characters(codec="utf-8"), max_size=30)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
    st.sampled_from(["REMOVED", "NOT_EXIST", "CALL_IN_PROGRESS", "ADDED", "+48 500 100 207\n[ERROR] forged", ""]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)
PHONE_KEYS = st.sampled_from([*PHONES, "48500100203", "999", "", "+48500100201"])
ENTRY = st.fixed_dictionaries(
    {},
    optional={
        "http_status": st.one_of(st.sampled_from([200, 204, 400, 404, 409, 500]), JSON_VALUES),
        "status": JSON_VALUES,
        "record_id": JSON_VALUES,
        "message": JSON_VALUES,
    },
)
PER_PHONE = st.dictionaries(PHONE_KEYS, st.one_of(ENTRY, st.lists(ENTRY, max_size=3), JSON_VALUES), max_size=5)
ERROR_BODY = st.fixed_dictionaries(
    {},
    optional={
        "request_id": JSON_VALUES,
        "errors": st.one_of(
            JSON_VALUES, st.lists(st.fixed_dictionaries({}, optional={"message": JSON_VALUES, "code": JSON_VALUES}))
        ),
    },
)


def _nested(depth: int, kind: str) -> bytes:
    return (b"[" * depth + b"]" * depth) if kind == "list" else (b'{"a":' * depth + b"1" + b"}" * depth)


def _cut(data: bytes, at: int) -> bytes:
    return data[: at % max(1, len(data))]


BODIES = st.one_of(
    PER_PHONE.map(lambda value: json.dumps(value).encode()),
    PER_PHONE.map(lambda value: json.dumps(value).encode()),
    PER_PHONE.map(lambda value: json.dumps(value).encode()),
    ERROR_BODY.map(lambda value: json.dumps(value).encode()),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    st.builds(_cut, PER_PHONE.map(lambda value: json.dumps(value).encode()), st.integers(0, 10_000)),
    st.binary(max_size=300),
    st.sampled_from(
        [
            b"",
            b"<html><body>502 Bad Gateway</body></html>",
            b'{"48500100201": NaN}',
            b'{"48500100201": Infinity}',
            b"1" * 5000,
            json.dumps({PHONES[0]: [{"status": "REMOVED"}]}).encode("utf-16"),
            b"\xef\xbb\xbf" + json.dumps({PHONES[0]: {"http_status": 204}}).encode(),
            b'{"48500100201": "\xff\xfe"}',
            _nested(100_000, "list"),
            _nested(100_000, "dict"),
            _nested(900, "list"),
            b'{"48500100201": [' + b"[" * 990 + b"]" * 990 + b"]}",
            b" " * (2 * 2**20) + b"{}",  # over the default limit for a batch of two
        ]
    ),
)
STATUSES = st.one_of(
    st.sampled_from([200] * 12 + [201, 204, 207, 299, 301, 302, 304, 400, 401, 403, 404, 410, 413, 414, 418, 429]),
    st.sampled_from([500, 502, 503, 504, 599]),
    st.integers(100, 999),
)
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40)
RETRY_AFTER = st.one_of(
    st.sampled_from(
        [
            "0",
            "1",
            "-5",
            "1e308",
            "1e999",
            "nan",
            "inf",
            "Mon, 01 Jan 2030 99999999999999999999:00:00 GMT",
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "Sun, 06 Nov 1994 08:49:37",
            "",
        ]
    ),
    HEADER_TEXT,
)
# Well-formed answers most of the time, so that the results path is exercised as often as the errors.
FRAMINGS = st.sampled_from(
    ["length"] * 6 + ["chunked"] * 2 + ["close", "short", "long", "garbage", "negative", "repeated", "bad-chunks"]
)


@st.composite
def answers(draw: st.DrawFn) -> list[Any]:
    """One answer's script: the status line, headers, body, framing, and maybe a connection closed early.

    Half of them are well-formed answers keyed by phone with values of any shape, so that the
    results path is exercised as often as the errors.
    """
    if draw(st.booleans()):
        body = json.dumps(draw(PER_PHONE)).encode()
        status = draw(st.sampled_from([200, 200, 207]))
        return [b"HTTP/1.1 %d OK\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body), CLOSE]
    status = draw(STATUSES)
    body = draw(BODIES)
    headers: list[tuple[str, str]] = []
    if draw(st.booleans()):
        headers.append(("Content-Type", draw(st.one_of(st.just("application/json"), HEADER_TEXT))))
    if draw(st.booleans()):
        headers.append(("Retry-After", draw(RETRY_AFTER)))
    if draw(st.integers(0, 9)) == 0:
        headers.append(("X-Request-Id", draw(HEADER_TEXT)))
    if draw(st.integers(0, 9)) == 0:
        headers.append(("Content-Encoding", draw(st.sampled_from(["gzip", "deflate", "br", "x-unknown"]))))
    framing = draw(FRAMINGS)
    length = {
        "length": str(len(body)),
        "short": str(max(0, len(body) - 5)),
        "long": str(len(body) + 50),
        "garbage": draw(st.sampled_from(["abc", "1.5", " ", "0x10", "9" * 30])),
        "negative": "-1",
        "repeated": f"{len(body)}, {len(body) + 1}",
    }.get(framing)
    if length is not None:
        headers.append(("Content-Length", length))
    if framing in ("chunked", "bad-chunks"):
        headers.append(("Transfer-Encoding", "chunked"))
        size = (
            b"%x" % len(body) if framing == "chunked" else draw(st.sampled_from([b"zz", b"-1", b"ffffffffffffffffff"]))
        )
        payload = (size + b"\r\n" + body + b"\r\n0\r\n\r\n") if body or framing == "bad-chunks" else b"0\r\n\r\n"
    else:
        payload = body
    odd_lines = ["HTTP/1.0 200 OK", "ICY 200 OK", "HTTP/1.1 abc X", ""]
    status_line = draw(st.sampled_from([f"HTTP/1.1 {status} X"] * 8 + odd_lines))
    head = (status_line + "\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n").encode(
        "latin-1"
    )
    cut = draw(st.integers(0, len(head) + len(payload))) if draw(st.integers(0, 7)) == 0 else None
    whole = head + payload
    return [whole if cut is None else whole[:cut], CLOSE]


# ----------------------------------------------------------------------------- properties


def _check_message(error: BaseException) -> None:
    assert "\n" not in str(error) and "\r" not in str(error), str(error)


def _records_call(call: Any) -> None:
    try:
        results = call()
    except ThuliumError as exc:
        _check_message(exc)
        TRIED["ThuliumError"] += 1
        if exc.results is not None:
            assert list(exc.results) == PHONES
    except BaseException as exc:
        ESCAPED.append(f"{type(exc).__name__}: {str(exc)[:200]}")
        raise
    else:
        TRIED["results"] += 1
        assert list(results) == PHONES


@FUZZ
@given(answer=answers())
def test_any_answer_to_a_delete_becomes_results_or_a_thulium_error(hook, answer):
    SCRIPT.steps = answer
    TRIED["answers"] += 1
    _records_call(lambda: hook.delete_records("00001", PHONES))


@FUZZ
@given(answer=answers())
def test_any_answer_to_an_update_becomes_results_or_a_thulium_error(hook, answer):
    SCRIPT.steps = answer
    TRIED["answers"] += 1
    _records_call(lambda: hook.update_records("00001", RECORDS))


@FUZZ
@given(answer=answers())
def test_any_answer_to_a_read_or_a_connection_test_is_handled(hook, answer):
    SCRIPT.steps = answer
    TRIED["answers"] += 2
    try:
        campaigns = hook.list_campaigns()
    except ThuliumError as exc:
        _check_message(exc)
    except BaseException as exc:
        ESCAPED.append(f"{type(exc).__name__}: {str(exc)[:200]}")
        raise
    else:
        assert isinstance(campaigns, list)
    try:
        ok, why = hook.test_connection()
    except BaseException as exc:
        ESCAPED.append(f"test_connection raised {type(exc).__name__}: {str(exc)[:200]}")
        raise
    assert isinstance(ok, bool) and isinstance(why, str) and "\n" not in why


def test_zz_totals(capsys):
    with capsys.disabled():
        print(f"\nserver answers tried: {TRIED['answers']}, escapes: {len(ESCAPED)} {dict(TRIED)}")
    assert ESCAPED == []
    assert TRIED["answers"] >= 500
    # Both ends came up often enough for the properties to mean something.
    assert TRIED["results"] >= 100 and TRIED["ThuliumError"] >= 100, dict(TRIED)
