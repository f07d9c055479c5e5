"""Property tests of the newer calls' answers: statuses, records pages and adds, whatever a server sends.

The same raw loopback server and answer strategies as ``test_fuzz_answers.py``, scripted per
request: a statuses answer of any shape before an add that names its status; pages of records
with counts of any type (strings, floats, negatives, missing), items of any JSON, ``record_id``\\ s
repeated, missing or odd, then a last answer repeated for ever (a server stuck on one page); add
answers of any shape in each ``on_existing`` mode (the upsert's edits answered too). For each case:

- the call returns (statuses, every record once, every input phone's entry in input order) or
  raises a :class:`ThuliumError`, with every phone's entry in ``results`` when a run had started;
- a read ends: within a bounded number of requests, even when the server answers one page for ever;
- no error message spans two lines.

``TRIED`` counts the cases and the last test checks and prints the totals, escapes included.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_thulium.exceptions import ThuliumError
from airflow_provider_thulium.hooks.thulium import ThuliumHook
from tests.helpers import CLOSE, RawRequest, hook_on_raw_server, http_answer
from tests.integration.client.test_fuzz_answers import FUZZ, JSON_VALUES, PER_PHONE, QUICK, TEXT, answers

PHONES = ["48500100201", "48500100202", "+48500100203"]
#: Requests a read may make before it counts as one that does not end (the scripts hold at most 6 pages).
MAX_READ_REQUESTS = 40

TRIED: Counter[str] = Counter()
ESCAPED: list[str] = []


class Script:
    """Answers by request: statuses, pages in turn (the last one for ever), adds and edits."""

    def __init__(self) -> None:
        self.reset()

    def reset(self, statuses: list[Any] | None = None, pages: list[list[Any]] | None = None, add: Any = None) -> None:
        self.statuses = statuses or [http_answer(200, b"[]"), CLOSE]
        self.pages = pages or [[http_answer(200, b'{"count": 0, "result": []}'), CLOSE]]
        self.add = add or [http_answer(200, b"{}"), CLOSE]
        self.page_requests = 0

    def __call__(self, request: RawRequest) -> list[Any]:
        path = urlsplit(request.target).path
        if path.endswith("/statuses"):
            return self.statuses
        if path.endswith("/records") and request.method == "GET":
            self.page_requests += 1
            if self.page_requests > MAX_READ_REQUESTS:
                # A read that does not end: noted, then stopped with an answer no client retries.
                ESCAPED.append(f"a read went on past {MAX_READ_REQUESTS} requests")
                return [http_answer(401, b"{}"), CLOSE]
            return self.pages[min(self.page_requests, len(self.pages)) - 1]
        return self.add


SCRIPT = Script()


@pytest.fixture(scope="module")
def hook() -> Iterator[ThuliumHook]:
    with hook_on_raw_server(SCRIPT, **QUICK) as (hook, _):
        yield hook


# ----------------------------------------------------------------------------- strategies

ODD_NUMBERS = st.one_of(
    st.integers(-3, 300),
    st.sampled_from([0, 1, 100, 250, 10**10, -1, 1.0, 250.0, 1.7, "250", "1050", "-1", " 5", "", "x", True, None]),
    JSON_VALUES,
)
RECORD_IDS = st.one_of(st.integers(1, 40), st.sampled_from([None, "7", 7.0, True, [1], {"a": 1}]), JSON_VALUES)
RECORD = st.fixed_dictionaries(
    {"phone_number": st.sampled_from([*PHONES, "48500100299"])},
    optional={"record_id": RECORD_IDS, "status_id": JSON_VALUES, "record_fields": JSON_VALUES},
)
# Mostly records, so that reads get far; now and then any JSON value at all.
ITEM = st.integers(0, 15).flatmap(lambda n: JSON_VALUES if n == 0 else RECORD)


@st.composite
def page(draw: st.DrawFn) -> list[Any]:
    """One records page: most of them ``{count, result}`` with odd counts and items, some any answer at all."""
    if draw(st.integers(0, 4)) == 0:
        return draw(answers())
    body: dict[str, Any] = {"result": draw(st.lists(ITEM, max_size=6))}
    if draw(st.integers(0, 4)):
        body["count"] = draw(ODD_NUMBERS)
    if draw(st.integers(0, 9)) == 0:
        body = draw(st.sampled_from([{"count": 3}, {"result": {"a": 1}}, {"result": None, "count": 1}]))
    return [http_answer(200, json.dumps(body).encode()), CLOSE]


STATUS = st.fixed_dictionaries(
    {},
    optional={
        "status_id": st.one_of(st.sampled_from(["1", "2", 3, "03", 1.7, True, "-1", "x", None]), JSON_VALUES),
        "name": st.one_of(st.sampled_from(["New", "new ", "CALL", "Nowy 48600999001", "Ne\u0301w", None]), TEXT),
        "system_status": st.one_of(st.sampled_from(["TO_CALL", "CALL", "NO_CALL", 5, None]), TEXT),
        "dictionary_status_id": st.one_of(st.sampled_from([None, "", "2", 2, 2.5]), JSON_VALUES),
    },
)


WELL_FORMED_STATUSES = st.lists(
    st.builds(
        lambda status_id, name, system: {"status_id": status_id, "name": name, "system_status": system},
        st.sampled_from(["1", "2", "3", 4]),
        st.sampled_from(["New", "CALL", "Ne\u0301w", "Nowy 48600999001", "Later"]),
        st.sampled_from(["TO_CALL", "CALL", "NO_CALL"]),
    ),
    min_size=1,
    max_size=4,
    unique_by=lambda status: status["name"],
)


@st.composite
def statuses_answer(draw: st.DrawFn) -> list[Any]:
    """Well-formed statuses half of the time (so that names resolve and adds are sent), any other shape else."""
    if draw(st.integers(0, 5)) == 0:
        return draw(answers())
    odd = st.one_of(st.lists(STATUS, max_size=5), st.lists(st.one_of(STATUS, JSON_VALUES), max_size=3))
    body = draw(WELL_FORMED_STATUSES if draw(st.integers(0, 2)) else odd)
    return [http_answer(200, json.dumps(body).encode()), CLOSE]


ADD_ENTRY = st.fixed_dictionaries(
    {},
    optional={
        "http_status": st.one_of(st.sampled_from([200, 201, 204, 400, 409, 500, None, "201"]), JSON_VALUES),
        "status": st.one_of(st.sampled_from(["ADDED", "ALREADY_EXISTS", "FAILED", "UPDATED", "NOT_SENT"]), JSON_VALUES),
        "record_id": RECORD_IDS,
        "message": JSON_VALUES,
    },
)
ADD_KEYS = st.sampled_from([*PHONES, "48500100203", "+48500100201", "999"])
ADD_PER_PHONE = st.dictionaries(
    ADD_KEYS, st.one_of(ADD_ENTRY, ADD_ENTRY, st.lists(ADD_ENTRY, max_size=3), JSON_VALUES), max_size=5
)


@st.composite
def add_answer(draw: st.DrawFn) -> list[Any]:
    """Add answers of any shape; one in five stops the run (credentials, permission, campaign, Thulium down)."""
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return draw(answers())
    if kind == 1:
        return [http_answer(draw(st.sampled_from([401, 403, 404, 503])), b"{}"), CLOSE]
    body = draw(ADD_PER_PHONE if draw(st.integers(0, 2)) else PER_PHONE)
    return [http_answer(draw(st.sampled_from([200, 201, 207])), json.dumps(body).encode()), CLOSE]


# ----------------------------------------------------------------------------- properties


def _one_line(error: BaseException) -> None:
    assert "\n" not in str(error) and "\r" not in str(error), str(error)


def _escaped(exc: BaseException) -> None:
    ESCAPED.append(f"{type(exc).__name__}: {str(exc)[:200]}")


EMPTY_PAGE = [http_answer(200, b'{"result": []}'), CLOSE]


@FUZZ
@given(pages=st.lists(page(), min_size=1, max_size=5), then_empty=st.booleans())
def test_any_records_pages_end_in_records_or_a_thulium_error(hook, pages, then_empty):
    pages = [*pages, EMPTY_PAGE] if then_empty else pages
    SCRIPT.reset(pages=pages)
    TRIED["records reads"] += 1
    read: list[Any] = []
    try:
        read.extend(hook.iter_records("00001"))
    except ThuliumError as exc:
        _one_line(exc)
        TRIED["reads ended by a ThuliumError"] += 1
    except BaseException as exc:
        _escaped(exc)
        raise
    else:
        TRIED["reads ended with records"] += 1
    assert SCRIPT.page_requests <= MAX_READ_REQUESTS
    TRIED["page requests"] += SCRIPT.page_requests
    assert all(isinstance(record, dict) for record in read)
    ids = [
        r["record_id"] for r in read if isinstance(r.get("record_id"), (int, str)) and type(r["record_id"]) is not bool
    ]
    assert len(ids) == len(set(ids)), "a record_id was yielded twice"
    SCRIPT.reset(pages=pages[:1])
    try:
        count = hook.count_records("00001")
    except ThuliumError as exc:
        _one_line(exc)
    except BaseException as exc:
        _escaped(exc)
        raise
    else:
        assert type(count) is int and count >= 0


@FUZZ
@given(statuses=statuses_answer(), name=st.sampled_from(["New", "CALL", "Ne\u0301w", "Nowy 48600999001", "TO_CALL"]))
def test_any_statuses_answer_becomes_statuses_or_a_thulium_error(hook, statuses, name):
    SCRIPT.reset(statuses=statuses)
    TRIED["statuses answers"] += 1
    try:
        read = hook.get_statuses("00001")
    except ThuliumError as exc:
        _one_line(exc)
        assert "48600999001" not in str(exc)
    except BaseException as exc:
        _escaped(exc)
        raise
    else:
        assert all(type(s["status_id"]) is int and isinstance(s["name"], str) for s in read)
    try:
        results = hook.add_records("00001", [{"phone_number": PHONES[0], "status": name}])
    except ThuliumError as exc:
        _one_line(exc)
        assert "48600999001" not in str(exc)
        TRIED["named adds refused or failed"] += 1
    except BaseException as exc:
        _escaped(exc)
        raise
    else:
        assert list(results) == PHONES[:1]
        TRIED["named adds sent"] += 1


@FUZZ
@given(answer=add_answer(), on_existing=st.sampled_from(["skip", "update", "fail"]))
def test_any_add_answer_becomes_results_or_a_thulium_error_in_every_mode(hook, answer, on_existing):
    SCRIPT.reset(add=answer)
    TRIED["add answers"] += 1
    records = [{"phone_number": phone, "status_id": 2} for phone in PHONES]
    try:
        results = hook.add_records("00001", records, on_existing=on_existing)
    except ThuliumError as exc:
        _one_line(exc)
        if exc.results is not None:
            assert list(exc.results) == PHONES
        TRIED["adds ended by a ThuliumError"] += 1
    except BaseException as exc:
        _escaped(exc)
        raise
    else:
        assert list(results) == PHONES
        TRIED["adds with results"] += 1


def test_zz_totals(capsys):
    with capsys.disabled():
        print(f"\nreads, statuses and adds tried: escapes {len(ESCAPED)} {dict(TRIED)}")
    assert ESCAPED == []
    assert TRIED["records reads"] >= 200 and TRIED["statuses answers"] >= 200 and TRIED["add answers"] >= 200
    # Both ends came up often enough for the properties to mean something.
    assert TRIED["reads ended with records"] >= 10 and TRIED["reads ended by a ThuliumError"] >= 20, dict(TRIED)
    assert TRIED["adds with results"] >= 20 and TRIED["adds ended by a ThuliumError"] >= 10, dict(TRIED)
    assert TRIED["named adds sent"] >= 10, dict(TRIED)
