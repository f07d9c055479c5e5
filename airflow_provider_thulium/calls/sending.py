"""Sending a call's batches: a bounded number in flight, answers handed back in input order.

A batch a proxy finds too large (413/414) is halved and each half sent, within the batch's retry
budget and down to a floor (see :data:`SPLIT_FLOOR_BYTES`). A run stops at the first batch error
that later batches would share (``batch_local`` is false); batches already on the wire are still
reported.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from airflow_provider_thulium.calls.batching import Batch, BatchResult
from airflow_provider_thulium.exceptions import (
    ThuliumConfigurationError,
    ThuliumError,
    ThuliumRequestRejectedError,
    ThuliumResponseError,
    ThuliumUnavailableError,
)
from airflow_provider_thulium.privacy import safe_server_text
from airflow_provider_thulium.transport.session import Transport, answer_limit

#: A request line (DELETE) or body (PUT, POST) this small refused as too large (413/414) is not
#: halved again: no proxy limits requests that low (docs/thulium-api.md, "Request size"), so the
#: refusal is about something else, and halving on would cost two requests per phone. The run
#: stops there with a :class:`ThuliumConfigurationError`. Halving a refused batch of 1 MiB down
#: to this floor sends at most 10 more requests before the run stops.
SPLIT_FLOOR_BYTES = 2048

#: Told the phones of each batch as it goes on the wire (from a worker thread).
OnSend = Callable[[list[str]], None]


def stream_batches(
    transport: Transport, method: str, path: str, batches: Iterator[Batch], on_send: OnSend | None = None
) -> Generator[BatchResult, None, None]:
    """Send ``batches`` and yield each one's result in input order.

    A caller that stops reading early must close the generator (``contextlib.closing``): that
    cancels the batch queued to be sent next and stops retries of those in flight.

    :param on_send: called with a batch's phones just before its first request goes out, so a
        caller stopped mid-run can tell phones that may have been applied from phones never sent.
    """
    # Built here, before any worker thread, so threads never race to create them.
    transport.prepare()
    limit = transport.settings.max_concurrent_requests
    # At most `limit` requests in flight (one worker each) and one batch queued behind them, so a
    # worker starts the next request the moment an answer is in instead of waiting for this thread
    # to hand it over; meanwhile this thread builds the batch after it and the caller records the
    # answer.
    pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="thulium")
    transport.abandoned.clear()
    run_ended = threading.Event()

    def send(batch: Batch) -> list[BatchResult]:
        if run_ended.is_set():
            return []  # queued behind the batch that ended the run: not sent, its phones stay NOT_SENT
        if on_send is not None:
            # Before the request (which checks `abandoned` first), so a phone is never sent unnoted.
            on_send(batch.phones)
        results = send_batch(transport, method, path, batch, run_ended=run_ended)
        if any(result.error is not None and not result.error.batch_local for result in results):
            run_ended.set()
        elif any(result.refused_whole() is not None for result in results):
            # Every record refused alike (an unknown record field): the rest would be too.
            run_ended.set()
        return results

    build_error: Exception | None = None
    pending: deque[Future[list[BatchResult]]] = deque()

    def submit_next() -> None:
        nonlocal build_error
        if run_ended.is_set() or build_error is not None:
            return
        try:
            batch = next(batches, None)
        except Exception as exc:  # e.g. a body that cannot be encoded: raised after the sent batches' answers
            build_error = exc
            return
        if batch is not None:
            pending.append(pool.submit(send, batch))

    finished = False
    try:
        for _ in range(limit + 1):
            submit_next()
        while pending:
            results = pending.popleft().result()
            submit_next()
            # Batches already in flight when the run ended were sent: their answers are reported.
            yield from results
        finished = True
        if build_error is not None:
            raise build_error
    finally:
        # A caller that stops reading (a task killed or timed out) must not wait here for the
        # batches still in flight and their retries.
        if not finished:
            transport.abandoned.set()  # requests in flight give up instead of retrying
        pool.shutdown(wait=finished, cancel_futures=True)


def send_batch(
    transport: Transport,
    method: str,
    path: str,
    batch: Batch,
    *,
    budget_deadline: float | None = None,
    run_ended: threading.Event | None = None,
) -> list[BatchResult]:
    """Send one batch; a batch too large for the server (413/414) is halved and each half sent.

    :param budget_deadline: the batch's retry budget, when this is a half of it (the halves of a
        batch share its budget: splitting does not buy more time).
    :param run_ended: set when another batch ended the run: halves not sent yet are not sent.
    """
    started = time.monotonic()
    if budget_deadline is None:
        budget_deadline = transport.retry_policy.deadline_from_now()
    description = f"{method} {path} ({_count(len(batch.phones))})"
    if batch.body is not None and len(batch.body) > transport.settings.max_body_bytes and len(batch.items) > 1:
        return _send_halves(transport, method, path, batch, budget_deadline, run_ended)
    try:
        answer = transport.request(
            method,
            path,
            query=batch.query,
            body=batch.body,
            description=description,
            budget_deadline=budget_deadline,
            max_answer_bytes=answer_limit(transport.settings, len(batch.phones)),
        )
    except ThuliumRequestRejectedError as exc:
        error: ThuliumError = exc
        if exc.status_code in (413, 414):
            size = len(batch.body) if batch.body is not None else len(batch.query)
            if size <= SPLIT_FLOOR_BYTES:
                error = ThuliumConfigurationError(
                    f"{description}: the server refused a request of {size} bytes as too large; that is no "
                    "size limit a proxy sets, so the batch is not halved further. Check what is in front of "
                    "the account, or lower max_request_line_bytes / max_body_bytes to the proxy's limit",
                    status_code=exc.status_code,
                    request_id=exc.request_id,
                    api_messages=exc.api_messages,
                )
            elif len(batch.items) > 1:
                # A proxy in front of the account has a lower limit than the batch was sized for.
                transport.log.warning("%s answered %s; splitting the batch in two", description, exc.status_code)
                results = _send_halves(transport, method, path, batch, budget_deadline, run_ended)
                results[0].requests += 1  # the rejected request
                return results
        return [BatchResult(batch.phones, None, error, 1, 0, time.monotonic() - started)]
    except ThuliumError as exc:
        return [BatchResult(batch.phones, None, exc, exc.attempts, exc.attempts - 1, time.monotonic() - started)]
    except Exception as exc:
        # Whatever else went wrong, the batch still gets a result and the run stops cleanly, so
        # every phone is accounted for.
        unexpected = ThuliumError(f"{description}: unexpected {type(exc).__name__}: {safe_server_text(str(exc))}")
        return [BatchResult(batch.phones, None, unexpected, 1, 0, time.monotonic() - started)]
    seconds = time.monotonic() - started
    if not isinstance(answer.payload, dict):
        error = ThuliumResponseError(
            f"{description} answered {type(answer.payload).__name__} instead of an object keyed by phone number"
        )
        return [BatchResult(batch.phones, None, error, answer.requests, answer.retries, seconds)]
    return [
        BatchResult(
            batch.phones,
            answer.payload,
            None,
            answer.requests,
            answer.retries,
            seconds,
            maybe_applied_before=answer.maybe_applied_before,
        )
    ]


def _send_halves(
    transport: Transport,
    method: str,
    path: str,
    batch: Batch,
    budget_deadline: float,
    run_ended: threading.Event | None,
) -> list[BatchResult]:
    """Send a batch's halves one after the other; what is left when the run stops is reported unsent."""
    results: list[BatchResult] = []
    halves = batch.halves()
    for index, half in enumerate(halves):
        stop = next((r.error for r in results if r.error is not None and not r.error.batch_local), None)
        if stop is None and time.monotonic() >= budget_deadline:
            stop = ThuliumUnavailableError(
                f"{method} {path} ({_count(len(batch.phones))}): the retry budget "
                f"({transport.settings.retry_budget:g} s) ran out before every part of the split batch was sent"
            )
        if stop is not None or (run_ended is not None and run_ended.is_set()):
            unsent = [phone for rest in halves[index:] for phone in rest.phones]
            results.append(BatchResult(unsent, None, stop, 0, 0, 0.0, sent=False))
            break
        results += send_batch(transport, method, path, half, budget_deadline=budget_deadline, run_ended=run_ended)
    return results


def _count(phones: int) -> str:
    return "1 phone number" if phones == 1 else f"{phones} phone numbers"
