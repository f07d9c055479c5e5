"""The sync's read against a lying server: nothing removed that should stay, every phone accounted for, no hang.

Each case is a campaign served by a raw loopback server (:class:`tests.helpers.RawServer`) that
pages as the fault says: a ``count`` that lies high or low, a huge ``count``, ``offset`` ignored,
a short page in the middle, a record repeated on a page far from its own, phones spelled with
spaces, phone strings that are no phone at all. The writes it is sent are recorded and applied, so
a test sees what a sync would have done to the campaign. One case runs the operator in a real
task run; the others call the hook, concurrently (``max_concurrent_requests`` 4) and not.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_provider_thulium.exceptions import ThuliumResponseError
from airflow_provider_thulium.operators.thulium import ThuliumSyncCampaignOperator
from airflow_provider_thulium.testing import run_dag, task_states
from tests.helpers import FAST_RETRIES, RawRequest, hook_on_raw_server, http_answer, new_dag, set_connection

CAMPAIGN = "00001"


def phones(n: int, start: int = 0) -> list[str]:
    return [f"48600{i:06d}" for i in range(start, start + n)]


class Campaign:
    """A campaign of records served page by page with a fault, its writes applied to it.

    :param records: the campaign's phones (record ids 1000 and up, in order).
    :param count: the ``count`` every page claims (default: the true number of records).
    :param ignore_offset: answer the first page whatever the offset.
    :param short_at: ``{offset: n}``: the page at that offset holds only ``n`` records.
    :param repeat_at: ``{offset: index}``: the page at that offset also holds the record at ``index`` again.
    :param shown: how the phones are shown (e.g. with spaces), record index → phone text.
    """

    def __init__(
        self,
        records: list[str],
        *,
        count: Any = None,
        ignore_offset: bool = False,
        short_at: dict[int, int] | None = None,
        repeat_at: dict[int, int] | None = None,
        shown: dict[int, str] | None = None,
    ) -> None:
        self.records = [{"record_id": 1000 + n, "phone_number": phone} for n, phone in enumerate(records)]
        for index, text in (shown or {}).items():
            self.records[index]["phone_number"] = text
        self.count, self.ignore_offset = count, ignore_offset
        self.short_at, self.repeat_at = short_at or {}, repeat_at or {}
        self.page_reads = 0
        self.deleted: list[str] = []
        self.added: list[str] = []
        self.edited: list[str] = []

    def __call__(self, request: RawRequest) -> list[bytes]:
        parts = urlsplit(request.target)
        query = parse_qs(parts.query)
        if parts.path.endswith("/records") and request.method == "GET":
            self.page_reads += 1
            offset = 0 if self.ignore_offset else int(query["offset"][0])
            size = self.short_at.get(offset, int(query["limit"][0]))
            page = self.records[offset : offset + size]
            if offset in self.repeat_at:
                page = [*page, self.records[self.repeat_at[offset]]]
            count = len(self.records) if self.count is None else self.count
            return [http_answer(200, json.dumps({"count": count, "result": page}).encode())]
        if request.method == "DELETE":
            removed = query.get("phone_number[]", [])
            self.deleted += removed
            answer = {p: [{"http_status": 200, "status": "REMOVED", "record_id": 1}] for p in removed}
            return [http_answer(200, json.dumps(answer).encode())]
        body = json.loads(request.body or b"{}")
        sent = [record["phone_number"] for record in body.get("records", [])]
        if request.method == "POST":
            self.added += sent
            answer = {p: {"http_status": 201, "status": "ADDED", "record_id": 9} for p in sent}
            return [http_answer(200, json.dumps(answer).encode())]
        if request.method == "PUT":
            self.edited += sent
            return [http_answer(200, json.dumps({p: {"http_status": 204} for p in sent}).encode())]
        return [http_answer(200, b"[]")]  # statuses, agents


@pytest.fixture(params=[1, 4], ids=["sequential", "4 pages at a time"])
def on(request: pytest.FixtureRequest) -> Iterator[Any]:
    """``on(campaign)``: a hook on a raw server serving ``campaign``."""
    stack: list[Any] = []

    def start(campaign: Campaign) -> Any:
        context = hook_on_raw_server(
            campaign, max_retries=0, timeout=5, max_concurrent_requests=request.param, **FAST_RETRIES
        )
        stack.append(context)
        hook, _ = context.__enter__()
        return hook

    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)


def desired(phones_: list[str]) -> list[dict[str, Any]]:
    return [{"phone_number": phone} for phone in phones_]


# ----------------------------------------------------------------------------- a count that lies


def test_2_a_count_that_lies_high_refuses_the_plan_and_removes_nothing(on):
    # The finding: count 10,000 over 100 records; 10 % of 10,000 let 99 of 100 be removed.
    campaign = Campaign(phones(100), count=10_000)
    hook = on(campaign)
    with pytest.raises(ThuliumResponseError, match="empty page at offset 100 while counting 10000"):
        hook.sync_campaign(CAMPAIGN, desired(phones(1)), remove_missing=True)
    assert campaign.deleted == campaign.added == campaign.edited == []


def test_2_the_guard_is_taken_of_the_records_read_not_of_the_count():
    # A count the pages do not contradict (the last page short, as at the end) can still be high:
    # the guard's fraction is of the records the plan read.
    from airflow_provider_thulium.checks.options import parse_max_removals
    from airflow_provider_thulium.exceptions import ThuliumSyncGuardError
    from airflow_provider_thulium.sync.plan import build_plan, check_guard

    current = [{"record_id": n, "phone_number": phone} for n, phone in enumerate(phones(100))]
    plan = build_plan(CAMPAIGN, desired(phones(1)), frozenset(), 10_000, iter(current), remove_missing=True)
    with pytest.raises(ThuliumSyncGuardError, match="removes 99 phone"):
        check_guard(plan, parse_max_removals(0.1))


def test_2_a_count_that_lies_low_is_read_past_to_the_end(on):
    # 300 records, count 100: the pages past the count are read until one is short or empty.
    campaign = Campaign(phones(300), count=100)
    hook = on(campaign)
    plan = hook.plan_sync(CAMPAIGN, desired(phones(300)), remove_missing=True)
    assert plan.records_read == 300 and plan.counts()["add"] == 0 and plan.removes == []


def test_2_a_lying_count_fails_the_task_on_a_real_run_with_nothing_written(airflow_db, monkeypatch):
    campaign = Campaign(phones(100), count=10_000)
    with hook_on_raw_server(campaign, max_retries=0, timeout=5, **FAST_RETRIES) as (_, server):
        set_connection(monkeypatch, "thulium_liar", host=server.url, login="api_user", password="api_pass")
        with new_dag() as dag:
            ThuliumSyncCampaignOperator(
                task_id="sync",
                campaign_id=CAMPAIGN,
                records=desired(phones(1)),
                remove_missing=True,
                thulium_conn_id="thulium_liar",
                hook_params=FAST_RETRIES,
            )
        run = run_dag(dag)
    assert task_states(run) == {"sync": "failed"}
    assert campaign.deleted == [] and [r.method for r in server.requests if r.method != "GET"] == []


# ----------------------------------------------------------------------------- a count that never ends


def test_3_a_huge_count_ends_the_read_at_once(on):
    campaign = Campaign(phones(100), count=10**17)
    hook = on(campaign)
    started = time.monotonic()
    with pytest.raises(ThuliumResponseError, match="empty page"):
        hook.plan_sync(CAMPAIGN, desired(phones(1)), remove_missing=True)
    assert time.monotonic() - started < 5
    assert campaign.page_reads <= 10, campaign.page_reads  # the first page, then those in flight


# ----------------------------------------------------------------------------- offsets and pages


def test_7_a_server_ignoring_offset_is_refused_before_any_write(on):
    # The finding: the first page served at every offset; 100 of 300 changes planned and applied.
    campaign = Campaign(phones(300), ignore_offset=True)
    hook = on(campaign)
    with pytest.raises(ThuliumResponseError, match="only records already read"):
        hook.sync_campaign(CAMPAIGN, [{"phone_number": p, "dictionary_status_id": 3} for p in phones(300)])
    assert campaign.added == campaign.edited == campaign.deleted == []


def test_7_a_short_page_in_the_middle_is_read_on_from_where_it_ended(on):
    # Offset 100 answers 50 records of 100: records 150-199 must still be read.
    campaign = Campaign(phones(300), short_at={100: 50})
    hook = on(campaign)
    plan = hook.plan_sync(CAMPAIGN, desired(phones(300)), remove_missing=True)
    assert plan.records_read == 300
    assert plan.counts()["add"] == 0 and plan.counts()["unchanged"] == 300 and plan.removes == []


def test_7_a_record_repeated_on_a_far_page_is_read_once_not_a_duplicate(on):
    campaign = Campaign(phones(350), repeat_at={300: 5})
    hook = on(campaign)
    plan = hook.plan_sync(CAMPAIGN, desired(phones(350)))
    assert plan.counts()["duplicates"] == 0 and plan.counts()["unchanged"] == 350
    assert plan.records_read == 350 and not any("several records" in note for note in plan.notes)


def test_7_phones_shown_with_spaces_are_the_same_person_not_a_removal_and_an_add(on):
    # Half with a leading +: "+48 600 000 001" is the desired 48600000001, as "48 600 000 002" is 48600000002.
    shown = {n: f"{'+' if n % 2 else ''}48 600 000 {n:03d}" for n in range(10)}
    campaign = Campaign(phones(10), shown=shown)
    hook = on(campaign)
    results = hook.sync_campaign(CAMPAIGN, desired(phones(10)), remove_missing=True)
    assert {entry["action"] for entry in results.values()} == {"UNCHANGED"}
    assert campaign.deleted == campaign.added == []


def test_12_the_campaigns_odd_phone_strings_are_never_sent_in_a_delete(on):
    odd = {0: "*", 1: "%", 2: "a,b", 3: "", 4: "48 600 000 004"}
    campaign = Campaign(phones(20), shown=odd)
    hook = on(campaign)
    plan = hook.plan_sync(CAMPAIGN, desired(phones(15, start=5)), remove_missing=True)
    assert plan.removes == [] and plan.counts()["remove"] == 0
    assert any("cannot remove" in note and "5 record(s)" in note for note in plan.notes), plan.notes
    results = hook.sync_campaign(CAMPAIGN, desired(phones(15, start=5)), remove_missing=True, max_removals=100)
    assert campaign.deleted == [] and all(entry["action"] == "UNCHANGED" for entry in results.values())
