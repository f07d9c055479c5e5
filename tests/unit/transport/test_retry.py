"""The retry policy and the error table: what is retried, how long it waits, when it stops."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from airflow_provider_thulium.exceptions import (
    ThuliumAuthenticationError,
    ThuliumConfigurationError,
    ThuliumNotFoundError,
    ThuliumPermissionError,
    ThuliumRequestRejectedError,
    ThuliumResponseError,
    ThuliumUnavailableError,
)
from airflow_provider_thulium.transport.http_errors import error_class_for, error_from_answer
from airflow_provider_thulium.transport.retry import RetryPolicy, retry_after_seconds


def unavailable() -> ThuliumUnavailableError:
    return ThuliumUnavailableError("GET outbounds: down", status_code=503)


@pytest.mark.parametrize(
    ("status", "cls", "retryable", "batch_local"),
    [
        (400, ThuliumRequestRejectedError, False, True),
        (401, ThuliumAuthenticationError, False, False),
        (403, ThuliumPermissionError, False, False),
        (404, ThuliumNotFoundError, False, False),
        (410, ThuliumNotFoundError, False, False),
        (413, ThuliumRequestRejectedError, False, True),
        (414, ThuliumRequestRejectedError, False, True),
        (418, ThuliumRequestRejectedError, False, True),
        (429, ThuliumUnavailableError, True, False),
        (500, ThuliumUnavailableError, True, False),
        (502, ThuliumUnavailableError, True, False),
        (503, ThuliumUnavailableError, True, False),
        (504, ThuliumUnavailableError, True, False),
        (507, ThuliumUnavailableError, True, False),
        (302, ThuliumConfigurationError, False, False),
    ],
)
def test_one_table_decides_class_retry_and_scope(status, cls, retryable, batch_local):
    error_class, hint = error_class_for(status)
    assert error_class is cls and hint
    assert (error_class.retryable, error_class.batch_local) == (retryable, batch_local)


def test_error_from_answer_carries_request_id_and_masked_messages():
    payload = {"request_id": "r-1", "errors": [{"message": "Number 48500100201 unknown", "code": 7}, "junk"]}
    error = error_from_answer(400, {"X-Request-Id": "ignored"}, payload, "PUT batch/outbounds/00001/records")
    assert isinstance(error, ThuliumRequestRejectedError)
    assert (error.status_code, error.request_id) == (400, "r-1")
    assert error.api_messages == ["Number 48500100201 unknown [code 7]"]
    assert "48500100201" not in str(error) and "…201" in str(error) and "request_id=r-1" in str(error)
    from_header = error_from_answer(503, {"X-Request-Id": "h-2"}, None, "GET outbounds")
    assert from_header.request_id == "h-2" and from_header.api_messages == []


def test_retry_after_as_seconds_or_http_date():
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("-3") == 0.0
    soon = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25 <= retry_after_seconds(soon) <= 30  # type: ignore[operator]
    for useless in (None, "", "soon", "nan", "Mon, 01 Jan 2030 99999999999999999999:00:00 GMT"):
        assert retry_after_seconds(useless) is None


def test_backoff_doubles_with_jitter_up_to_the_cap():
    policy = RetryPolicy(backoff=1.0, max_backoff=5.0)
    for attempt, step in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (40, 5.0), (10_000, 5.0)]:
        wait = policy.backoff_seconds(attempt)
        assert step / 2 <= wait <= step


def test_stops_after_max_retries():
    attempts = RetryPolicy(max_retries=2, backoff=0).start()
    waits = []
    while True:
        attempts.begin()
        wait = attempts.wait_before_next(unavailable(), None)
        if wait is None:
            break
        waits.append(wait)
    assert (attempts.made, len(waits), attempts.why_final) == (3, 2, "no retries left")


def test_retry_after_is_capped_and_the_budget_ends_retries():
    attempts = RetryPolicy(max_retries=5, max_retry_after=2.0, budget=10.0).start()
    attempts.begin()
    assert attempts.wait_before_next(unavailable(), 3600.0) == 2.0
    tight = RetryPolicy(max_retries=5, max_retry_after=60.0, budget=1.0).start()
    tight.begin()
    assert tight.wait_before_next(unavailable(), 5.0) is None
    assert tight.why_final == "the retry budget is spent"


def test_errors_that_cannot_heal_are_not_retried_and_single_attempts_stay_single():
    attempts = RetryPolicy(max_retries=5).start()
    attempts.begin()
    assert attempts.wait_before_next(ThuliumAuthenticationError("no"), None) is None
    assert attempts.why_final is None  # final because of what it is, not because retries ran out
    once = RetryPolicy(max_retries=5).start(retry=False)
    once.begin()
    assert once.wait_before_next(ThuliumResponseError("not JSON"), None) is None
