"""Reading a campaign's records, page by page: the one read path, for ``iter_records``, the sync and any other reader.

The first page is read at once. When it gives a usable ``count``, the pages after it are read up
to ``max_concurrent_requests`` at a time at offsets computed ahead, and yielded in offset order;
without one, one page at a time. Whatever the server does, the read keeps these promises
(docs/thulium-api.md, "Paged records"; docs/reliability.md, "Reading a campaign"):

- every record once: a record already given (same ``record_id``, or same content without one) is
  not given again, however many pages apart it comes (:class:`~airflow_provider_thulium.reading.seen.SeenRecords`);
- it ends at a short or an empty page, never on the ``count``'s word alone: pages past a count
  that lies low are read too (once more records were given than it says, only an empty page ends
  the read), and a last page as long as the others is followed by one more read. A page cut short
  exactly where a count that lies low ends cannot be told from the campaign's end;
- a page short of the others while the count says more are left is read on from where it ended:
  the offsets computed ahead are dropped, so no record between is skipped;
- a contradiction is a :class:`~airflow_provider_thulium.exceptions.ThuliumResponseError` that ends
  the read at once: an empty page while the count says more are left (a count that lies high, or
  10**17), a page of only records already given (a server that ignores ``offset``);
- a count that changed while reading is logged.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from airflow_provider_thulium.exceptions import ThuliumResponseError
from airflow_provider_thulium.reading.pages import PAGE_SIZE
from airflow_provider_thulium.reading.seen import SeenRecords

#: Reads and checks one page: ``(campaign, query, limit, offset)`` → ``(count, records)``.
PageReader = Callable[[str, str, int, int], tuple[int | None, list[Any]]]


@dataclass
class CampaignRead:
    """A read of a campaign's records (:func:`read_pages`).

    :param count: the records' ``count`` at the first page; ``None`` when the server gave no usable count.
    :param pages: the page requests made so far.
    :param records: the records, read as they are iterated.
    """

    count: int | None
    pages: int = 1
    records: Iterator[dict[str, Any]] = field(default_factory=lambda: iter(()))


def read_pages(
    read_page: PageReader,
    campaign: str,
    query: str = "",
    max_concurrent_requests: int = 1,
    log: logging.Logger | Any = None,
) -> CampaignRead:
    """Read the first page of the records matching ``query`` now, the others as the records are iterated.

    :param read_page: reads and checks one page: ``(campaign, query, limit, offset)`` → ``(count, records)``.
    :param campaign: the five-character campaign id.
    :param query: the filters' query string (:meth:`~airflow_provider_thulium.reading.pages.RecordFilter.query`);
        ``""`` reads every record.
    :param max_concurrent_requests: pages in flight at once (1: each page is read when it is needed).
    :param log: where a missing or changed count is logged.
    """
    log = log or logging.getLogger(__name__)
    count, first = read_page(campaign, query, PAGE_SIZE, 0)
    if count is None:
        log.warning("GET outbounds/%s/records answered no usable count: reading until an empty page", campaign)
    read = CampaignRead(count)
    source = _Pages(read_page, campaign, query, max(1, max_concurrent_requests), read)
    # The records of a page are handed on by chain (in C): a million records pass through here in an
    # export or a sync plan, and a generator's step per record was a cost of its own.
    read.records = chain.from_iterable(_new_records_by_page(source, read, first, log))
    return read


def _new_records_by_page(
    source: _Pages, read: CampaignRead, first: list[Any], log: logging.Logger | Any
) -> Iterator[list[Any]]:
    seen = SeenRecords()
    campaign = source.campaign
    offset, page, count = 0, first, read.count
    last_count = count  # the last usable count a page gave, for the warning
    step = PAGE_SIZE  # how long the server's pages are, as the last page showed
    try:
        while True:
            last_count = last_count if count is None else count
            if not page:
                if count is not None and count > offset:
                    raise ThuliumResponseError(
                        f"GET outbounds/{campaign}/records answered an empty page at offset {offset} while counting "
                        f"{count} matching records: the answer contradicts itself; read again"
                    )
                break
            new = seen.new(page)
            if not new:
                # Progress is new records: a server that ignores offset would be read for ever.
                raise ThuliumResponseError(
                    f"GET outbounds/{campaign}/records answered only records already read at offset {offset} "
                    f"({len(page)} of them): the server seems to ignore offset, so the read stops here"
                )
            yield new
            offset += len(page)
            if count is not None and offset > count:
                count = None  # more records than it says: the count ends nothing, an empty page does
            if len(page) < step and count is not None and offset >= count:
                break  # short and at the count: the end
            # The next pages are read ahead as long as this one: a short page in the middle (a server
            # capping its pages, or a page cut short once) is read on from where it ended.
            step = len(page)
            count, page = source.page(offset, step, count)
    finally:
        source.close()
    if last_count != read.count and last_count is not None and read.count is not None:
        log.warning(
            "campaign %s changed while its records were read (%d matching records at the first page, %d at the "
            "last): records may have been skipped; read again for a consistent list",
            campaign,
            read.count,
            last_count,
        )


class _Pages:
    """The pages after the first: read ahead at offsets below the count, else one at a time.

    A page asked for at another offset than the one read ahead (after a short page, or a long one)
    drops what was read ahead: those offsets were computed from pages of another length.
    """

    def __init__(self, read_page: PageReader, campaign: str, query: str, workers: int, read: CampaignRead) -> None:
        self.campaign = campaign
        self._read_page, self._query, self._read = read_page, query, read
        self._lock = threading.Lock()
        # With one request in flight a worker thread only adds hand-offs (each waiting for the GIL
        # while the plan runs): each page is then read when its result is asked for.
        self._pool: ThreadPoolExecutor | _SameThread = (
            _SameThread() if workers == 1 else ThreadPoolExecutor(workers, thread_name_prefix="thulium-pages")
        )
        self._ahead = 2 * workers  # twice the workers in flight keeps them busy while pages are consumed in order
        self._pending: deque[tuple[int, Any]] = deque()
        self._planned = 0  # the next offset to read ahead

    def page(self, offset: int, step: int, count: int | None) -> tuple[int | None, list[Any]]:
        """The page at ``offset`` (its count, else ``count``), reading ahead pages ``step`` apart below ``count``."""
        if self._pending and self._pending[0][0] != offset:
            self._drop()
        if not self._pending:
            self._planned = offset
            self._submit(step)  # the page asked for, below the count or not
        while len(self._pending) < self._ahead and count is not None and self._planned < count:
            self._submit(step)
        page_count, page = self._pending.popleft()[1].result()
        return (count if page_count is None else page_count), page

    def close(self) -> None:
        """Stop reading ahead: pages not started are cancelled, those on the wire are waited for."""
        self._drop()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _submit(self, step: int) -> None:
        offset = self._planned
        self._pending.append((offset, self._pool.submit(self._counted, offset)))
        self._planned = offset + step

    def _counted(self, offset: int) -> tuple[int | None, list[Any]]:
        with self._lock:
            self._read.pages += 1
        return self._read_page(self.campaign, self._query, PAGE_SIZE, offset)

    def _drop(self) -> None:
        while self._pending:
            self._pending.popleft()[1].cancel()


class _SameThread:
    """A pool of no threads: each call is made when its result is asked for, and never when it is not."""

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

    def cancel(self) -> bool:
        return True


__all__ = ["CampaignRead", "PageReader", "read_pages"]
