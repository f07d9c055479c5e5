"""The one read of a campaign's records, without a server: pages from a function, faults by design.

Each record once however far apart it comes again, an end at a short or empty page, the
contradictions that end a read, short pages read on from where they ended; the same with pages
read one at a time and four at a time.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from airflow_provider_thulium.exceptions import ThuliumResponseError
from airflow_provider_thulium.reading.campaign import read_pages
from airflow_provider_thulium.reading.seen import SeenRecords


class Server:
    """Pages of ``entries`` (a list of records, repeats allowed), with the count it claims."""

    def __init__(self, entries: list[dict[str, Any]], count: Any = "true", cap: int = 100) -> None:
        self.entries, self.count, self.cap = entries, count, cap
        self.offsets: list[int] = []

    def __call__(self, campaign: str, query: str, limit: int, offset: int) -> tuple[Any, list[Any]]:
        self.offsets.append(offset)
        count = len(self.entries) if self.count == "true" else self.count
        return count, self.entries[offset : offset + min(limit, self.cap)]


def records(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"record_id": 1000 + i, "phone_number": f"48600{i:06d}"} for i in range(start, start + n)]


@pytest.fixture(params=[1, 4], ids=["one at a time", "four at a time"])
def workers(request: pytest.FixtureRequest) -> int:
    return request.param


def read_all(server: Server, workers: int) -> tuple[list[dict[str, Any]], int]:
    read = read_pages(server, "00001", "", workers, logging.getLogger("test"))
    return list(read.records), read.pages


@pytest.mark.parametrize("n", [0, 1, 99, 100, 101, 250, 300])
def test_every_record_once_and_an_end(workers, n):
    server = Server(records(n))
    got, pages = read_all(server, workers)
    assert got == records(n)
    # A full last page is followed by one more read (the count may lie low); a short one ends the read.
    assert pages == len(server.offsets) == n // 100 + 1


def test_a_record_repeated_far_away_is_given_once(workers):
    entries = records(350)
    entries.insert(320, entries[5])  # the server's list holds record 5 twice, 300 positions apart
    got, _ = read_all(Server(entries), workers)
    assert got == records(350)


def test_a_count_that_lies_low_is_read_past(workers):
    got, _ = read_all(Server(records(300), count=100), workers)
    assert got == records(300)


@pytest.mark.parametrize("count", [101, 10_000, 10**17])
def test_a_count_that_lies_high_is_an_error_within_a_few_pages(workers, count):
    server = Server(records(100), count=count)
    with pytest.raises(ThuliumResponseError, match=f"empty page at offset 100 while counting {count}"):
        read_all(server, workers)
    assert len(server.offsets) <= 1 + 2 * workers


def test_pages_shorter_than_asked_are_read_on_from_where_they_ended(workers):
    server = Server(records(1050), cap=37)
    got, _ = read_all(server, workers)
    assert got == records(1050)


def test_a_server_ignoring_offset_is_an_error(workers):
    class Stuck(Server):
        def __call__(self, campaign: str, query: str, limit: int, offset: int) -> tuple[Any, list[Any]]:
            return super().__call__(campaign, query, limit, 0)

    with pytest.raises(ThuliumResponseError, match="only records already read at offset 100"):
        read_all(Stuck(records(300)), workers)


def test_without_a_count_the_read_goes_on_to_an_empty_page(workers):
    server = Server(records(250), count=None)
    got, _ = read_all(server, workers)
    assert got == records(250) and server.offsets == [0, 100, 200, 250]


def test_seen_records_keep_ids_out_of_order_text_ids_and_records_without_one():
    seen = SeenRecords()
    first = [{"record_id": 5}, {"record_id": 9}, {"record_id": "7"}, {"phone_number": "1"}]
    assert seen.new(first) == first
    again = [{"record_id": 9}, {"record_id": 7}, {"record_id": "7"}, {"phone_number": "1"}, {"record_id": 2**70}]
    assert seen.new(again) == [{"record_id": 7}, {"record_id": 2**70}]
    assert seen.new([{"record_id": 7}, {"record_id": True}, {"record_id": True}]) == [{"record_id": True}]
    assert len(seen) == 7
