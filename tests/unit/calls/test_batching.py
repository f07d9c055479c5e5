"""A batch refused whole: one quotable message for every phone, or no stop."""

from __future__ import annotations

import pytest

from airflow_provider_thulium.calls.batching import BatchResult

PHONES = ["48500100201", "48500100202"]


def batch(*values) -> BatchResult:
    return BatchResult(PHONES, dict(zip(PHONES, values, strict=True)), None, 1, 0, 0.01)


def test_one_message_for_every_phone_is_the_batch_refused_whole():
    refused = {"http_status": 400, "status": "FAILED", "message": "Unknown record field: firstname."}
    assert batch(refused, dict(refused)).refused_whole() == "Unknown record field: firstname."


@pytest.mark.parametrize(
    "message",
    [[], ["Unknown record field"], {"field": "firstname"}, None, "", "  ", 400],
)
def test_a_message_that_is_no_text_to_quote_stops_nothing(message):
    # A server may answer any JSON there: the batch's phones keep their own results.
    value = {"http_status": 400, "message": message}
    assert batch(value, dict(value)).refused_whole() is None


def test_two_messages_are_no_batch_refused_whole():
    assert batch({"http_status": 400, "message": "a"}, {"http_status": 400, "message": "b"}).refused_whole() is None
