"""Which records a read has given already, kept for the whole read in little memory.

A record is known by :func:`~airflow_provider_thulium.reading.pages.record_key`: its ``record_id``,
or its content when it has none. Ids are integers that grow as records are added (docs/thulium-api.md,
"Paged records": records come in the order they were added), so they are kept in a sorted array of
8-byte integers (8 MB for a million records, against some 60 MB as a set) and a page of ids above
all those before is taken in a few C calls; anything else (an id out of order or beyond 64 bits,
a text id, a record without one) goes to a set.
"""

from __future__ import annotations

import operator
from array import array
from bisect import bisect_left
from itertools import islice
from typing import Any

from airflow_provider_thulium.reading.pages import record_key

_LOWEST, _HIGHEST = -(2**63), 2**63 - 1


class SeenRecords:
    """The records given so far by one read; :meth:`new` tells a page's new records from those given before."""

    def __init__(self) -> None:
        self._ids = array("q")  # integer ids given so far, ascending
        self._others: set[Any] = set()  # every other key given so far

    def __len__(self) -> int:
        return len(self._ids) + len(self._others)

    def new(self, page: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The page's records not given before (nor earlier on the page), in page order; they count as given now.

        :param page: a page's records (dicts, as :func:`~airflow_provider_thulium.reading.pages.read_page` checked).
        """
        ids = self._ids
        keys: list[Any] = [record.get("record_id") for record in page]
        if (
            keys
            and set(map(type, keys)) == {int}
            and (not ids or keys[0] > ids[-1])
            and keys[0] >= _LOWEST
            and keys[-1] <= _HIGHEST
            and all(map(operator.lt, keys, islice(keys, 1, None)))
        ):
            ids.extend(keys)  # the common page: ids above every id before, ascending
            return page
        new = []
        for record in page:
            key = record_key(record)
            if type(key) is int and _LOWEST <= key <= _HIGHEST:
                if not ids or key > ids[-1]:
                    ids.append(key)
                    new.append(record)
                    continue
                index = bisect_left(ids, key)
                if index < len(ids) and ids[index] == key:
                    continue
            if key in self._others:
                continue
            self._others.add(key)
            new.append(record)
        return new


__all__ = ["SeenRecords"]
