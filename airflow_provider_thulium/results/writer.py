"""What of a run goes to its results file, and when.

Each phone's line is written as its batch is answered, in input order, so that a run of a million
phones keeps in memory only those a later try may still change; those are written again with their
final result when the run ends (or waits for a deferral).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import Any

from airflow_provider_thulium.results.results_file import ResultsFile

#: One phone's line: ``(phone, entry, outcome, succeeded)``.
Line = tuple[str, Any, str, bool]

_CHUNK = 10_000


class ResultsWriter:
    """Writes a run's results to its :class:`~airflow_provider_thulium.results.results_file.ResultsFile`.

    :param file: the results file.
    :param held: outcomes a later step of the run may change (records in a call tried again, records
        an upsert edits): their phones stay in memory once written, and their lines are written
        again with the final result.
    """

    def __init__(self, file: ResultsFile, held: frozenset[str] = frozenset()) -> None:
        self.file = file
        self.held = held
        #: Input phones written so far, in input order: the next one to write is the input's ``written``-th.
        self.written = 0

    def add(self, lines: list[Line]) -> list[Line]:
        """Write answered phones' lines after those written before; return the lines of the phones
        that need not stay in memory (those without a ``held`` outcome).

        :param lines: ``(phone, entry, outcome, succeeded)`` per phone, in input order.
        """
        self.file.add(lines)
        self.written += len(lines)
        held = self.held
        return [line for line in lines if line[2] not in held] if held else lines

    def unwritten(self, phones: Iterable[str]) -> Iterator[list[str]]:
        """The input phones after those written, a chunk at a time (the phones a run never got to).

        :param phones: every input phone, in input order.
        """
        rest = islice(iter(phones), self.written, None)
        while chunk := list(islice(rest, _CHUNK)):
            yield chunk

    def finish(self, latest: Mapping[str, tuple[Any, str, bool]]) -> None:
        """Write the file at its path: every line so far, the phones kept in memory with their latest result.

        :param latest: phone → ``(entry, outcome, succeeded)`` of each phone kept in memory.
        """
        self.file.write(latest)

    def resume(self) -> Iterator[tuple[str, str, bool]]:
        """Take up the file written before a deferral: ``(phone, outcome, succeeded)`` of each of its lines."""
        for line in self.file.resume():
            self.written += 1
            yield line


__all__ = ["Line", "ResultsWriter"]
