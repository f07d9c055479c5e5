"""Reading every record of a campaign fast: pages read concurrently, yielded in order (the sync's read).

:meth:`~airflow_provider_thulium.client.facade.ThuliumClient.read_campaign` starts a read here when the
first page gives a usable count; otherwise it reads sequentially (``ThuliumClient.iter_records``' path).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import chain, islice
from operator import itemgetter
from typing import Any

from airflow_provider_thulium.reading.pages import PAGE_SIZE

_RECORD_ID = itemgetter("record_id")


class _SameThread:
    """A pool of no threads: with one request in flight, a worker thread only adds hand-offs (each
    waiting for the GIL while the plan runs), so each page is read when its result is asked for."""

    def submit(self, function: Callable[..., Any], *args: Any) -> _Later:
        return _Later(function, args)

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        """Nothing runs in the background."""


class _Later:
    def __init__(self, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self._call = function, args

    def result(self) -> Any:
        function, args = self._call
        return function(*args)


def _without_repeats(page: list[Any], previous: set[Any]) -> Iterator[Any]:
    """The page's records but those whose ``record_id`` was on the page before or earlier on this one."""
    seen = set(previous)
    for record in page:
        record_id = record.get("record_id") if isinstance(record, dict) else None
        if record_id is not None:
            if record_id in seen:
                continue
            seen.add(record_id)
        yield record


@dataclass
class CampaignRead:
    """A read of every record of a campaign (:meth:`ThuliumClient.read_campaign`).

    :param count: the campaign's records when the first page was read; ``None`` when the server gave
        no usable count (the plan then counts the records it read).
    :param pages: the pages read so far.
    :param records: the records, read as they are iterated.
    """

    count: int | None
    pages: int = 1
    records: Iterator[dict[str, Any]] = field(default_factory=lambda: iter(()))


def concurrent_pages(
    read_page: Callable[[str, str, int, int], tuple[int | None, list[Any]]],
    campaign: str,
    read: CampaignRead,
    first: list[Any],
    max_concurrent_requests: int,
    log: logging.Logger | Any,
    query: str = "",
) -> Iterator[dict[str, Any]]:
    """The campaign's records after its ``first`` page, pages read up to ``max_concurrent_requests`` at
    a time and yielded in offset order (memory bounded by a few pages).

    The records of a page are handed on by ``itertools.chain`` (in C): a million records pass
    through here in an export or a sync plan, and a generator's step per record was a cost of its own.

    A record a change of the campaign moved onto the next page is yielded once: ids are compared
    with the page before, not kept for the whole read (a million of them would cost more than the
    plan). A count that changed while reading is logged.

    :param read_page: reads and checks one page: ``(campaign, query, limit, offset)`` → ``(count, records)``.
    :param campaign: the five-character campaign id.
    :param read: the read, whose ``count`` is known and whose ``pages`` this counts.
    :param first: the first page's records.
    :param max_concurrent_requests: pages in flight at once.
    :param log: where a changed count is logged.
    :param query: the filters' query string (:meth:`RecordFilter.query`); ``""`` reads every record.
    """
    return chain.from_iterable(_page_lists(read_page, campaign, read, first, max_concurrent_requests, log, query))


def _page_lists(
    read_page: Callable[[str, str, int, int], tuple[int | None, list[Any]]],
    campaign: str,
    read: CampaignRead,
    first: list[Any],
    max_concurrent_requests: int,
    log: logging.Logger | Any,
    query: str,
) -> Iterator[list[dict[str, Any]]]:
    """:func:`concurrent_pages`' pages, each without the records the page before already gave."""
    previous: set[Any] = set()
    workers = max(1, max_concurrent_requests)
    assert read.count is not None  # read_campaign reads without a count sequentially
    count = last_count = read.count
    offsets = iter(range(PAGE_SIZE, count, PAGE_SIZE) if len(first) == PAGE_SIZE else ())
    pool = _SameThread() if workers == 1 else ThreadPoolExecutor(workers, thread_name_prefix="thulium-pages")
    try:
        # Twice the workers in flight keeps them busy while pages are consumed in order.
        pending = deque(
            pool.submit(read_page, campaign, query, PAGE_SIZE, offset) for offset in islice(offsets, 2 * workers)
        )
        page = first
        while True:
            try:
                ids = set(map(_RECORD_ID, page))  # read_page checked that every item is a record (a dict)
            except (KeyError, TypeError):
                ids = {record.get("record_id") for record in page if type(record) is dict}
            ids.discard(None)
            if len(ids) == len(page) and ids.isdisjoint(previous):
                yield page  # the common case, answered by set operations in C
            else:
                yield list(_without_repeats(page, previous))
            previous = ids
            if not pending:
                break
            page_count, page = pending.popleft().result()
            last_count = last_count if page_count is None else page_count
            read.pages += 1
            pending.extend(pool.submit(read_page, campaign, query, PAGE_SIZE, offset) for offset in islice(offsets, 1))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if last_count != count:
        log.warning(
            "campaign %s changed while its records were read (%d records at the first page, %d at the last): "
            "records may have been skipped; read again for a consistent list",
            campaign,
            count,
            last_count,
        )


def read_pages(
    read_page: Callable[[str, str, int, int], tuple[int | None, list[Any]]],
    sequential: Callable[[CampaignRead], Iterator[dict[str, Any]]],
    campaign: str,
    query: str,
    max_concurrent_requests: int,
    log: logging.Logger | Any,
) -> CampaignRead:
    """The campaign's records matching ``query``: the first page read at once, the others concurrently.

    When the first page gives no usable count, or is short of it, offsets computed ahead would skip
    records: the read is then ``sequential`` (from the first page again, to the end, saying what
    went wrong; see ``ThuliumClient.iter_records``).

    :param read_page: reads and checks one page: ``(campaign, query, limit, offset)`` → ``(count, records)``.
    :param sequential: reads every page in turn, counting them in the read it is given.
    :param campaign: the five-character campaign id.
    :param query: the filters' query string; ``""`` reads every record.
    :param max_concurrent_requests: pages in flight at once.
    :param log: where a changed count is logged.
    """
    count, first = read_page(campaign, query, PAGE_SIZE, 0)
    if count is None or (len(first) < PAGE_SIZE and count > len(first)):
        read = CampaignRead(None)  # its first page counted, and each page of the read below
        read.records = sequential(read)
        return read
    read = CampaignRead(count)
    read.records = concurrent_pages(read_page, campaign, read, first, max_concurrent_requests, log, query=query)
    return read
