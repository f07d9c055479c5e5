"""Which answered batches stop a run: refused whole with one validation answer."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_thulium.calls.batching import BatchResult
from airflow_provider_thulium.calls.operations import ADD, UPDATE
from airflow_provider_thulium.exceptions import ThuliumValidationError
from airflow_provider_thulium.results.accounting import systematic_rejection

UNKNOWN_FIELD = {"http_status": 400, "message": "Unknown record field: firstname."}


def batch(answer: dict[str, Any]) -> BatchResult:
    return BatchResult(list(answer), answer, None, 1, 0, 0.01)


def test_every_phone_refused_alike_stops_with_the_servers_message_and_a_hint():
    error = systematic_rejection(batch({"441": UNKNOWN_FIELD, "442": dict(UNKNOWN_FIELD)}), UPDATE, "00001")
    assert isinstance(error, ThuliumValidationError) and error.fail_fast
    assert error.api_messages == ["Unknown record field: firstname."] and error.status_code == 400
    assert "Hint:" in str(error) and "firstname" in str(error)


def test_an_adds_failed_answers_stop_it_too():
    failed = {"http_status": 400, "status": "FAILED", "message": "Unknown record field: firstname."}
    assert systematic_rejection(batch({"441": failed, "442": failed}), ADD, "00001") is not None


@pytest.mark.parametrize(
    "answer",
    [
        {"441": UNKNOWN_FIELD},  # one phone says nothing about the others
        {"441": UNKNOWN_FIELD, "442": {"http_status": 400, "message": "Agent not found."}},
        {"441": UNKNOWN_FIELD, "442": {"http_status": 204}},
        {
            "441": {"http_status": 404, "message": "Record not found."},
            "442": {"http_status": 404, "message": "Record not found."},
        },
        {
            "441": {"http_status": 400, "status": "ALREADY_EXISTS"},
            "442": {"http_status": 400, "status": "ALREADY_EXISTS"},
        },
        {"441": {"http_status": 400}, "442": {"http_status": 400}},
    ],
)
def test_single_phones_refused_or_answers_that_differ_do_not(answer):
    assert systematic_rejection(batch(answer), UPDATE, "00001") is None


def test_a_phone_left_out_of_the_answer_does_not():
    assert (
        systematic_rejection(
            BatchResult(["441", "442", "443"], {"441": UNKNOWN_FIELD, "442": UNKNOWN_FIELD}, None, 1, 0, 0.0),
            UPDATE,
            "00001",
        )
        is None
    )
