"""Sending a call's batches: a bounded number in flight, answers handed back in input order.

A batch a proxy finds too large (413/414) is halved and each half sent. A run stops at the first
batch error that later batches would share (``batch_local`` is false); batches already on the
wire are still reported.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from airflow_provider_thulium.batching import Batch, BatchResult
from airflow_provider_thulium.exceptions import ThuliumError, ThuliumRequestRejectedError, ThuliumResponseError
from airflow_provider_thulium.privacy import mask_numbers
from airflow_provider_thulium.transport import Transport


def stream_batches(
    transport: Transport, method: str, path: str, batches: Iterator[Batch]
) -> Generator[BatchResult, None, None]:
    """Send ``batches`` and yield each one's result in input order.

    A caller that stops reading early must close the generator (``contextlib.closing``): that
    cancels the batch queued to be sent next and stops retries of those in flight.
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
        results = send_batch(transport, method, path, batch)
        if any(result.error is not None and not result.error.batch_local for result in results):
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


def send_batch(transport: Transport, method: str, path: str, batch: Batch) -> list[BatchResult]:
    """Send one batch; a batch too large for the server (413/414) is halved and each half sent."""
    started = time.monotonic()
    description = f"{method} {path} ({_count(len(batch.phones))})"
    if batch.body is not None and len(batch.body) > transport.settings.max_body_bytes and len(batch.items) > 1:
        return _send_halves(transport, method, path, batch)
    try:
        answer = transport.request(method, path, query=batch.query, body=batch.body, description=description)
    except ThuliumRequestRejectedError as exc:
        if exc.status_code in (413, 414) and len(batch.items) > 1:
            # A proxy in front of the account has a lower limit than the batch was sized for.
            transport.log.warning("%s answered %s; splitting the batch in two", description, exc.status_code)
            results = _send_halves(transport, method, path, batch)
            results[0].requests += 1  # the rejected request
            return results
        return [BatchResult(batch.phones, None, exc, 1, 0, time.monotonic() - started)]
    except ThuliumError as exc:
        return [BatchResult(batch.phones, None, exc, exc.attempts, exc.attempts - 1, time.monotonic() - started)]
    except Exception as exc:
        # Whatever else went wrong, the batch still gets a result and the run stops cleanly, so
        # every phone is accounted for.
        error = ThuliumError(f"{description}: unexpected {type(exc).__name__}: {mask_numbers(str(exc))}")
        return [BatchResult(batch.phones, None, error, 1, 0, time.monotonic() - started)]
    seconds = time.monotonic() - started
    if not isinstance(answer.payload, dict):
        error = ThuliumResponseError(
            f"{description} answered {type(answer.payload).__name__} instead of an object keyed by phone number"
        )
        return [BatchResult(batch.phones, None, error, answer.requests, answer.retries, seconds)]
    return [BatchResult(batch.phones, answer.payload, None, answer.requests, answer.retries, seconds)]


def _send_halves(transport: Transport, method: str, path: str, batch: Batch) -> list[BatchResult]:
    return [result for half in batch.halves() for result in send_batch(transport, method, path, half)]


def _count(phones: int) -> str:
    return "1 phone number" if phones == 1 else f"{phones} phone numbers"
