"""Property tests of the sync's read: generated campaigns served by a lying, forgetful or repetitive server.

Each example is a campaign (0 to 450 records, some without a ``record_id``, some phones shown with
spaces) served by a raw loopback server (:class:`tests.helpers.RawServer`) with faults drawn
together: a ``count`` that lies high, low, is huge, missing or text; pages the server caps below
100; short pages in the middle; records repeated at other positions (the server's list holds them
twice, as paging during a change does); ``offset`` ignored. The sync plans against it with every
campaign phone desired but a drawn few, ``remove_missing`` on, one page at a time or four. Either:

- the plan read every record once: no phone of the campaign is added (it is there), none desired
  is removed, exactly the undesired ones the campaign shows as digits are removed, none is taken
  for a duplicate; or
- it raised a :class:`ThuliumError` (what the server did contradicts itself), and nothing was sent;

never another exception, never a silently short read, and never more page requests than the
campaign's pages and a few more (no hang). ``TRIED`` counts the cases; the last test prints and
checks the totals.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from airflow_provider_thulium.exceptions import ThuliumError
from airflow_provider_thulium.hooks.thulium import ThuliumHook
from tests.helpers import CLOSE, RawRequest, hook_on_raw_server, http_answer
from tests.integration.client.test_fuzz_answers import FUZZ, QUICK

TRIED: Counter[str] = Counter()
ESCAPED: list[str] = []


class Faulty:
    """The campaign the next example serves, and what it was asked."""

    def __init__(self) -> None:
        self.reset([], {})

    def reset(self, entries: list[dict[str, Any]], faults: dict[str, Any]) -> None:
        self.entries, self.faults = entries, faults
        self.page_reads = 0
        self.writes = 0

    def __call__(self, request: RawRequest) -> list[Any]:
        parts = urlsplit(request.target)
        if not (parts.path.endswith("/records") and request.method == "GET"):
            self.writes += 1
            return [http_answer(200, b"{}"), CLOSE]
        self.page_reads += 1
        if self.page_reads > 60:
            ESCAPED.append("a read went on past 60 requests")
            return [http_answer(401, b"{}"), CLOSE]
        query = parse_qs(parts.query)
        offset = 0 if self.faults["ignore_offset"] else int(query["offset"][0])
        size = min(int(query["limit"][0]), self.faults["cap"], self.faults["short"].get(offset, 100))
        body: dict[str, Any] = {"result": self.entries[offset : offset + size]}
        count = self.faults["count"]
        if count != "missing":
            body["count"] = len(self.entries) if count == "true" else count
        return [http_answer(200, json.dumps(body).encode())]


SERVER = Faulty()


@pytest.fixture(scope="module")
def hooks() -> Iterator[dict[int, ThuliumHook]]:
    with (
        hook_on_raw_server(SERVER, **QUICK) as (one, _),
        hook_on_raw_server(SERVER, **QUICK, max_concurrent_requests=4) as (four, _),
    ):
        yield {1: one, 4: four}


@st.composite
def campaigns(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[str], dict[str, Any], list[int], set[int]]:
    """The server's list of entries (records, some twice), the campaign's distinct phones, the faults,
    the indexes of the phones not desired, and those of the phones shown with spaces."""
    total = draw(st.integers(0, 450))
    phones = [f"4860{n:07d}" for n in range(total)]
    spaced = draw(st.sets(st.integers(0, max(0, total - 1)), max_size=5)) if total else set()
    without_id = draw(st.booleans())
    records = []
    for n, phone in enumerate(phones):
        shown = f"48 60 {phone[4:7]} {phone[7:]}" if n in spaced else phone
        records.append({"phone_number": shown, **({} if without_id else {"record_id": 1000 + n})})
    entries = list(records)
    for _ in range(draw(st.integers(0, 3)) if total else 0):  # a record listed twice, anywhere
        entries.insert(draw(st.integers(0, len(entries))), records[draw(st.integers(0, total - 1))])
    lie = draw(st.sampled_from(["true", "true", "true", "high", "low", "huge", "missing", "text"]))
    count: Any = {
        "true": "true",
        "high": len(entries) + draw(st.integers(1, 300)),
        "low": draw(st.integers(0, max(0, len(entries) - 1))),
        "huge": 10**17,
        "missing": "missing",
        "text": "many",
    }[lie]
    cap = draw(st.sampled_from([100, 100, 100, 50, 37]))
    # Short pages only where more follows: a short page at the end is the end, whatever the count.
    short = {
        offset: draw(st.integers(1, 99))
        for offset in draw(st.sets(st.integers(0, max(0, len(entries) - 101)), max_size=3))
        if offset + 100 < len(entries)
    }
    if isinstance(count, int):
        # A page cut short exactly where a count that lies low ends looks like the campaign's end to
        # any client (reading one page more after every short page would cost each read a request).
        short = {offset: size for offset, size in short.items() if offset + size != count}
        if lie == "low" and cap < 100 and count and count % cap == 0:
            cap = 100  # the same for pages the server caps, one of which ends where that count does
    faults = {"count": count, "cap": cap, "short": short, "ignore_offset": draw(st.integers(0, 9)) == 0}
    TRIED[f"count {lie}"] += 1
    undesired = sorted(draw(st.sets(st.integers(0, max(0, total - 1)), max_size=8))) if total else []
    return entries, phones, faults, undesired, spaced


@FUZZ
@given(campaign=campaigns(), workers=st.sampled_from([1, 4]))
def test_the_syncs_read_of_any_faulty_paging_is_whole_or_an_error(hooks, campaign, workers):
    entries, phones, faults, undesired, spaced = campaign
    note(f"{len(entries)} entries, {len(phones)} records, faults {faults}")
    SERVER.reset(entries, faults)
    desired = [{"phone_number": phone} for n, phone in enumerate(phones) if n not in undesired]
    TRIED["reads"] += 1
    try:
        plan = hooks[workers].plan_sync("00001", desired, remove_missing=True)
    except ThuliumError as exc:
        assert "\n" not in str(exc)
        TRIED["reads ended by a ThuliumError"] += 1
        return
    except BaseException as exc:
        ESCAPED.append(f"{type(exc).__name__}: {str(exc)[:200]}")
        raise
    finally:
        assert SERVER.writes == 0
        # The campaign's pages, the page past the end, those in flight when a fault was found, and
        # for each short page (the last one included) those read ahead for pages of another length
        # (twice: after it, and after the next page shows the usual length again).
        bound = len(entries) // faults["cap"] + 4 + (len(faults["short"]) + 1) * (4 * workers + 2)
        assert SERVER.page_reads <= bound, (SERVER.page_reads, bound)
    TRIED["reads whole"] += 1
    counts = plan.counts()
    assert counts["add"] == 0, "a phone of the campaign was planned as an add: the read was short"
    assert counts["duplicates"] == 0, "a record read twice was taken for a second record of its phone"
    # A phone shown with spaces is matched on its digits but never removed by its spaced text.
    assert sorted(plan.removes) == sorted(phones[n] for n in undesired if n not in spaced)
    assert plan.records_read == len(phones)


def test_zz_totals(capsys):
    with capsys.disabled():
        print(f"\nsync reads tried: escapes {len(ESCAPED)} {dict(TRIED)}")
    assert ESCAPED == []
    assert TRIED["reads"] >= 200, dict(TRIED)
    assert TRIED["reads whole"] >= 40 and TRIED["reads ended by a ThuliumError"] >= 20, dict(TRIED)
