"""Checked input kept in a local temporary file, read back a chunk at a time.

A source (a SQL query, a file) is read once, checked, and its items written here in input order;
the run then sends from the spool. Sending never reads the source again, so a query cannot give
other rows between the check and the send, and memory holds one chunk, not the input.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import tempfile
import weakref
from collections.abc import Callable, Collection, Iterator, Sequence
from operator import itemgetter
from typing import Any

from airflow_provider_thulium.checks.columns import ColumnRows, Columns, records_from_columns
from airflow_provider_thulium.sources.gc_pause import gc_paused


class Spool(Collection[Any]):
    """Checked items in input order, in a temporary file deleted with this object.

    Chunks are written with ``marshal``: the file is this process's own scratch space, written and
    read by the same interpreter, and checked items are plain dicts, lists, strings and numbers,
    which ``marshal`` writes and reads faster than ``pickle``. A chunk of records may be kept as
    columns (:data:`~airflow_provider_thulium.checks.columns.Columns`): its records are made when it is read.

    :param keys: record keys seen in any item (filled by the writer), e.g. to tell whether any
        record names its status.
    """

    def __init__(self) -> None:
        handle, self._path = tempfile.mkstemp(prefix="thulium-spool-")
        self._file = os.fdopen(handle, "wb")
        self._count = 0
        self.keys: set[str] = set()
        self._cleanup = weakref.finalize(self, remove_file, self._file, self._path)

    def append(self, chunk: list[Any] | Columns, full: bool = False) -> None:
        """Add a chunk of checked items at the end.

        :param chunk: the items, in input order: a list, or records as columns.
        :param full: records as columns have a value in every cell (their batches are then written
            from the columns, see :meth:`slices`).
        """
        count = len(chunk) if isinstance(chunk, list) else len(chunk[1][0])
        if count:
            data = marshal.dumps(chunk if isinstance(chunk, list) else (chunk, full))
            # Length-prefixed: marshal.load() on a file reads it in many small pieces, loads() of one read does not.
            self._file.write(len(data).to_bytes(8, "little"))
            self._file.write(data)
            self._count += count

    def chunks(self) -> Iterator[tuple[int, list[Any]]]:
        """``(index of the chunk's first item, chunk)`` from the start; each call reads independently."""
        first = 0
        for chunk, _ in self._stored():
            items = _items(chunk)
            yield first, items
            first += len(items)

    def slices(self, size: int) -> Iterator[Sequence[Any]]:
        """The items in runs of ``size`` (the last one shorter), read a chunk at a time.

        A run within a chunk kept as columns, with a value in every cell, comes as
        :class:`~airflow_provider_thulium.checks.columns.ColumnRows`: its records are never made unless asked for.

        :param size: items per run.
        """
        carry: list[Any] = []  # the end of the chunks before, short of a run
        for chunk, full in self._stored():
            if isinstance(chunk, tuple) and full and not carry and ColumnRows.fits(chunk):
                count = len(chunk[1][0])
                whole = count - count % size
                for start in range(0, whole, size):
                    yield ColumnRows(chunk, start, start + size)
                if whole < count:
                    carry = list(ColumnRows(chunk, whole, count))
                continue
            items = _items(chunk)
            if carry:
                taken = size - len(carry)
                carry.extend(items[:taken])
                items = items[taken:]
                if len(carry) < size:
                    continue
                yield carry
                carry = []
            whole = len(items) - len(items) % size
            for start in range(0, whole, size):
                yield items[start : start + size]
            carry = items[whole:]
        if carry:
            yield carry

    def phones(self) -> Iterator[str]:
        """The items' phones in input order (a spool of phones holds nothing else), without making records."""
        for chunk, _ in self._stored():
            if isinstance(chunk, tuple):
                keys, columns, _, _ = chunk
                yield from columns[keys.index("phone_number")]
            elif chunk and isinstance(chunk[0], str):
                yield from chunk
            else:
                yield from map(itemgetter("phone_number"), chunk)

    def _stored(self) -> Iterator[tuple[list[Any] | Columns, bool]]:
        """Each chunk as appended, and whether it is records as columns with a value in every cell."""
        self._file.flush()
        with open(self._path, "rb") as file:
            while size := file.read(8):
                data = file.read(int.from_bytes(size, "little"))
                with gc_paused():  # a chunk's many new lists and dicts would trigger collections finding nothing
                    chunk = marshal.loads(data)  # noqa: S302  # our own file
                yield (chunk, False) if isinstance(chunk, list) else chunk

    def map_chunks(self, change: Callable[[list[Any], int], list[Any]]) -> Spool:
        """A new spool holding ``change(chunk, first index)`` of each chunk; this one is closed.

        :param change: makes a chunk's new items from the chunk and the index of its first item.
        """
        changed = Spool()
        for first, chunk in self.chunks():
            changed.append(change(chunk, first))
        changed.keys = set(self.keys)
        self.close()
        return changed

    def close(self) -> None:
        """Delete the file now rather than when the object is collected."""
        self._cleanup()

    def __iter__(self) -> Iterator[Any]:
        for _, chunk in self.chunks():
            yield from chunk

    def __len__(self) -> int:
        return self._count

    def __contains__(self, item: object) -> bool:
        return any(spooled == item for spooled in self)

    def __bool__(self) -> bool:
        return self._count > 0

    def __repr__(self) -> str:
        return f"<Spool of {self._count} item(s)>"


class SpooledPhones(Collection[str]):
    """The phones of a spool of records (or of phones), in input order, read from the spool when iterated.

    :param spool: the checked items.
    """

    def __init__(self, spool: Spool) -> None:
        self.spool = spool

    def __iter__(self) -> Iterator[str]:
        return self.spool.phones()

    def __len__(self) -> int:
        return len(self.spool)

    def __contains__(self, item: object) -> bool:
        return any(phone == item for phone in self)

    def __repr__(self) -> str:
        return f"<{len(self)} spooled phone(s)>"


def _items(chunk: list[Any] | Columns) -> list[Any]:
    """A stored chunk's items: the list itself, or the records of its columns."""
    if isinstance(chunk, list):
        return chunk
    with gc_paused():  # a chunk's thousands of new dicts would trigger collections finding nothing
        return records_from_columns(chunk)


def remove_file(file: Any, path: str) -> None:
    """Close ``file`` and delete ``path`` (a scratch file), if still there.

    :param file: the open file.
    :param path: its path.
    """
    file.close()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
