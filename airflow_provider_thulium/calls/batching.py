"""How a call's input is cut into requests, and what one batch came to.

A DELETE carries its phone numbers in the query string, so its batches are sized by the request
line; a PUT or POST carries records in a JSON body, sized by count and, when sent, by bytes
(docs/thulium-api.md, "Request size").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any
from urllib.parse import quote

import msgspec

from airflow_provider_thulium.checks.columns import ColumnRows
from airflow_provider_thulium.exceptions import ThuliumError
from airflow_provider_thulium.privacy import PHONE_PARAM
from airflow_provider_thulium.sources.spool import Spool

# msgspec writes a checked body about ten times faster than the json module (the body of every
# PUT and POST is the largest CPU cost of those calls); the json module stays for what msgspec
# refuses (str subclasses).
_ENCODER = msgspec.json.Encoder()
_ENCODE = _ENCODER.encode
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def encode_body(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON."""
    try:
        return _ENCODE(value)
    except (TypeError, UnicodeEncodeError):
        return _JSON.encode(value).encode()


def encode_lines(values: Sequence[Any]) -> str:
    """``values`` as JSON Lines: each compact JSON, followed by a newline (results files write these)."""
    try:
        return _ENCODER.encode_lines(values).decode()
    except (TypeError, UnicodeEncodeError):
        return "".join(_JSON.encode(value) + "\n" for value in values)


@dataclass(frozen=True)
class Batch:
    """One request's worth of a call.

    :param phones: the phone numbers it carries, in input order.
    :param query: the percent-encoded query string.
    :param items: what it was built from: phones (delete) or records (update, add).
    :param rebuild: makes a batch of the same call from a slice of ``items`` (to halve it).
    :param body: the JSON body, for calls that have one.
    """

    phones: list[str]
    query: str
    items: Sequence[Any]
    rebuild: Callable[[Sequence[Any]], Batch]
    body: bytes | None = None

    def halves(self) -> tuple[Batch, Batch]:
        """This batch as two, for a server that found it too large."""
        middle = len(self.items) // 2
        return self.rebuild(self.items[:middle]), self.rebuild(self.items[middle:])


#: A batch of at least this many phones, every one refused with one validation answer, stops a run
#: (:meth:`BatchResult.refused_whole`): a single phone's refusal says nothing about the others.
REFUSED_WHOLE_MIN_PHONES = 2


@dataclass
class BatchResult:
    """What one batch of a call came to: Thulium's per-phone answer, or the error that ended it.

    :param phones: the phone numbers the batch carried, in input order.
    :param answer: Thulium's answer object (phone → result), or ``None`` when the batch failed.
    :param error: the error that ended the batch after retries, or ``None``.
    :param requests: HTTP requests made for this batch (retries and 413/414 splits included).
    :param retries: how many of those were retries.
    :param seconds: wall time spent on the batch.
    :param sent: ``False`` for the part of a split batch left unsent when the run stopped (its
        ``error`` says why, or is ``None`` when another batch's error stopped the run).
    :param maybe_applied_before: the answer came to a retry after an attempt that may have been
        applied (its answer was lost): an "already there" in it may be this batch's own doing.
    """

    phones: list[str]
    answer: dict[str, Any] | None
    error: ThuliumError | None
    requests: int
    retries: int
    seconds: float
    sent: bool = True
    maybe_applied_before: bool = False

    def refused_whole(self) -> str | None:
        """Thulium's one message when it refused every phone of this batch alike, else ``None``.

        Every phone of an answered batch of at least :data:`REFUSED_WHOLE_MIN_PHONES` answered
        ``http_status`` 400 with one and the same message (an add's ``FAILED``, not
        ``ALREADY_EXISTS``): the records share what is wrong (an unknown record field), so the rest
        of the input would meet it too, and the run stops (see "Validation answers" in
        docs/thulium-api.md). A 404 (``Record not found.``) or ``NOT_EXIST`` is about single
        phones and never counts.
        """
        answer = self.answer
        if answer is None or len(self.phones) < REFUSED_WHOLE_MIN_PHONES or len(answer) != len(self.phones):
            return None
        messages: set[str] = set()
        for value in answer.values():
            if (
                type(value) is not dict
                or value.get("http_status") != 400
                or value.get("status") not in (None, "FAILED")
            ):
                return None
            message = value.get("message")
            if not isinstance(message, str) or not message.strip():
                return None  # no message, or not one to quote (a list, an object): nothing to stop on
            messages.add(message)
            if len(messages) > 1:
                return None
        (message,) = messages
        return message


def query_batches(
    phones: Iterable[str],
    *,
    fixed_query: str,
    fixed_line_bytes: int,
    max_line_bytes: int,
    max_batch_size: int,
    send_as: Callable[[str], str] | None = None,
) -> Iterator[Batch]:
    """Batches of phone numbers in the query string, each request line under ``max_line_bytes``.

    :param fixed_query: the query's other parameters, each followed by ``&``.
    :param fixed_line_bytes: the request line's length without any phone.
    :param send_as: writes a phone as the campaign stores it (``phone_format``); the batch's
        ``phones`` stay as given.
    """
    written: Callable[[str], str] = send_as or str

    def build(batch: Sequence[Any]) -> Batch:
        query = fixed_query + "&".join(PHONE_PARAM + quote(written(phone), safe="") for phone in batch)
        return Batch(list(batch), query, batch, build)

    batch: list[str] = []
    size = fixed_line_bytes
    for phone in phones:
        part = len(PHONE_PARAM) + len(quote(written(phone), safe="")) + 1
        if batch and (size + part > max_line_bytes or len(batch) >= max_batch_size):
            yield build(batch)
            batch, size = [], fixed_line_bytes
        batch.append(phone)
        size += part
    if batch:
        yield build(batch)


def body_batches(
    records: Iterable[dict[str, Any]],
    *,
    query: str,
    max_batch_size: int,
    send_as: Callable[[str], str] | None = None,
) -> Iterator[Batch]:
    """Batches of records in a ``{"records": [...]}`` body, ``max_batch_size`` records each.

    One encoder call per batch; the rare batch whose body comes out over the byte limit is halved
    when it is sent (see :mod:`~airflow_provider_thulium.calls.sending`).

    :param send_as: writes a phone as the campaign stores it (``phone_format``); the batch's
        ``phones`` stay as given.
    """

    def build(batch: Sequence[Any]) -> Batch:
        if isinstance(batch, ColumnRows):
            return Batch(batch.phones(), query, batch, build, encode_body({"records": batch.encodable(send_as)}))
        sent = batch if send_as is None else [{**r, "phone_number": send_as(r["phone_number"])} for r in batch]
        body = encode_body({"records": list(sent)})
        return Batch([record["phone_number"] for record in batch], query, batch, build, body)

    for batch in _slices(records, max_batch_size):
        yield build(batch)


def _slices(items: Iterable[Any], size: int) -> Iterator[Sequence[Any]]:
    """``items`` in runs of ``size`` (the last one shorter), cut with slices where they are a list or a spool."""
    if isinstance(items, list):
        for start in range(0, len(items), size):
            yield items[start : start + size]
    elif isinstance(items, Spool):
        yield from items.slices(size)
    else:
        remaining = iter(items)
        while batch := list(islice(remaining, size)):
            yield batch
