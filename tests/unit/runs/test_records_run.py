"""The outcome policy: how each call's answer reads, what counts as success, what a run raises."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_thulium.calls.batching import BatchResult
from airflow_provider_thulium.calls.operations import DELETE, UPDATE
from airflow_provider_thulium.exceptions import (
    ThuliumAuthenticationError,
    ThuliumConfigurationError,
    ThuliumPhoneFailuresError,
    ThuliumRequestRejectedError,
)
from airflow_provider_thulium.outcomes import CLIENT_STATUSES, NO_ANSWER
from airflow_provider_thulium.results.deferral import DeferralState
from airflow_provider_thulium.runs.records_run import OutcomePolicy, RecordsRun

LOG = logging.getLogger("tests.outcomes")


def answers(*batches: BatchResult):
    """A sender that answers each send with the next canned batch results (what the stream would yield)."""
    queue = list(batches)
    sent: list[list[Any]] = []

    def send(items: Sequence[Any], on_send: Callable[[list[str]], None]):
        sent.append(list(items))
        batch = queue.pop(0)
        on_send(batch.phones)
        yield batch

    send.sent = sent  # type: ignore[attr-defined]
    return send


def ok(phones: list[str], answer: dict[str, Any]) -> BatchResult:
    return BatchResult(phones, answer, None, 1, 0, 0.01)


def test_delete_reads_lists_wraps_objects_and_names_outcomes():
    assert DELETE.read([{"http_status": 200, "status": "REMOVED"}])[1] == "REMOVED"
    entry, name = DELETE.read({"http_status": 404, "status": "NOT_EXIST"})
    assert entry == [{"http_status": 404, "status": "NOT_EXIST"}] and name == "NOT_EXIST"
    mixed = [{"http_status": 200, "status": "REMOVED"}, {"http_status": 409, "status": "CALL_IN_PROGRESS"}]
    assert DELETE.read(mixed)[1] == "CALL_IN_PROGRESS"
    assert DELETE.read("junk")[1] == NO_ANSWER
    assert DELETE.read([{"http_status": 500}])[1] == "HTTP_500"


def test_update_reads_one_object_and_names_outcomes():
    assert UPDATE.read({"http_status": 204}) == ({"http_status": 204}, "UPDATED")
    assert UPDATE.read({"http_status": 400, "message": "Agent not found."})[1] == "HTTP_400"
    entry, name = UPDATE.read([{"http_status": 204}, {"http_status": 400}])
    assert entry["http_status"] == 400 and name == "HTTP_400"
    assert UPDATE.read(7)[1] == NO_ANSWER


def test_client_entries_take_each_calls_shape():
    assert DELETE.client_entry("NOT_SENT", "why") == [{"http_status": None, "status": "NOT_SENT", "message": "why"}]
    assert UPDATE.client_entry("NOT_SENT", "why") == {"http_status": None, "status": "NOT_SENT", "message": "why"}
    for status in CLIENT_STATUSES:
        assert DELETE.outcome(DELETE.client_entry(status, "")) == status
        assert UPDATE.outcome(UPDATE.client_entry(status, "")) == status


def test_not_exist_is_a_success_unless_the_caller_says_otherwise():
    assert DELETE.success_outcomes() == {"REMOVED", "NOT_EXIST"}
    assert DELETE.success_outcomes(already_done_is_success=False) == {"REMOVED"}
    assert UPDATE.success_outcomes() == {"UPDATED"}


def test_every_phone_gets_a_result_and_answers_match_on_digits():
    send = answers(ok(["+48500100201", "48500100202"], {"48500100201": [{"http_status": 200, "status": "REMOVED"}]}))
    run = RecordsRun(DELETE, "00001", ["+48500100201", "48500100202", "48500100203"], send, OutcomePolicy(), LOG)
    run.send(["+48500100201", "48500100202"])
    entries, summary, error = run.conclude()
    assert error is None
    assert [DELETE.outcome(entries[p]) for p in entries] == ["REMOVED", "NO_ANSWER", "NOT_SENT"]
    assert summary["outcomes"] == {"NOT_SENT": 1, "NO_ANSWER": 1, "REMOVED": 1}
    assert summary["failed_phones"] == ["48500100202", "48500100203"]


def test_the_error_that_stopped_the_run_is_raised_with_its_own_class_and_every_result():
    stop = ThuliumAuthenticationError("DELETE …: credentials", status_code=401)
    send = answers(BatchResult(["48500100201"], None, stop, 1, 0, 0.01))
    run = RecordsRun(DELETE, "00001", ["48500100201", "48500100202"], send, OutcomePolicy(True), LOG)
    run.send(["48500100201", "48500100202"])
    entries, summary, error = run.conclude()
    assert error is stop and error.results == entries
    assert summary["stopped_by"] == str(stop)
    assert [entries[p][0]["status"] for p in entries] == ["REQUEST_FAILED", "NOT_SENT"]


def test_single_phone_failures_raise_only_when_the_policy_says_so():
    answer = {"48500100201": {"http_status": 204}, "48500100202": {"http_status": 400, "message": "Agent not found."}}
    for fail, raised in [(True, ThuliumPhoneFailuresError), (False, type(None))]:
        send = answers(ok(["48500100201", "48500100202"], answer))
        run = RecordsRun(UPDATE, "00001", list(answer), send, OutcomePolicy(fail_on_failed_phones=fail), LOG)
        run.send([{"phone_number": p} for p in answer])
        _, summary, error = run.conclude()
        assert type(error) is raised and summary["failed"] == 1
        if error is not None:
            assert "1 of 2 phone(s) failed" in str(error) and "…202: HTTP_400 (Agent not found.)" in str(error)
            assert "48500100202" not in str(error)


def test_a_batch_rejected_alone_does_not_stop_the_run():
    rejected = ThuliumRequestRejectedError("PUT …: invalid", status_code=400)
    send = answers(BatchResult(["48500100201"], None, rejected, 1, 0, 0.01))
    run = RecordsRun(UPDATE, "00001", ["48500100201"], send, OutcomePolicy(), LOG)
    run.send([{"phone_number": "48500100201"}])
    entries, summary, error = run.conclude()
    assert error is None and summary["stopped_by"] is None
    assert entries["48500100201"]["status"] == "REQUEST_FAILED"


def test_calls_in_progress_are_tried_again_and_earlier_removals_kept():
    in_call = [{"http_status": 200, "status": "REMOVED"}, {"http_status": 409, "status": "CALL_IN_PROGRESS"}]
    send = answers(
        ok(["48500100201", "48500100202"], {"48500100201": in_call, "48500100202": [{"status": "REMOVED"}]}),
        ok(["48500100201"], {"48500100201": [{"http_status": 200, "status": "REMOVED"}, {"status": "NOT_EXIST"}]}),
    )
    policy = OutcomePolicy(call_in_progress_retries=2, call_in_progress_retry_delay=timedelta(seconds=7))
    run = RecordsRun(DELETE, "00001", ["48500100201", "48500100202"], send, policy, LOG)
    waits: list[tuple[timedelta, int]] = []
    run.send(["48500100201", "48500100202"])
    run.retry_calls_in_progress(lambda delay, done: waits.append((delay, done)))
    assert waits == [(timedelta(seconds=7), 1)]  # the second try found nothing left in a call
    assert send.sent == [["48500100201", "48500100202"], ["48500100201"]]  # type: ignore[attr-defined]
    entries, _, error = run.conclude()
    assert error is None
    assert [item["status"] for item in entries["48500100201"]] == ["REMOVED", "REMOVED"]


def test_an_interrupted_send_marks_only_phones_on_the_wire_interrupted_and_tells_the_caller():
    phones = ["48500100201", "48500100202", "48500100203"]

    def send(items: Sequence[Any], on_send: Callable[[list[str]], None]):
        on_send(["48500100201"])
        yield ok(["48500100201"], {"48500100201": [{"status": "REMOVED"}]})
        on_send(["48500100202"])  # on the wire when the task is stopped; the third batch never left
        raise KeyboardInterrupt

    seen: list[tuple[dict[str, Any], Any]] = []

    def interrupted(stopped: RecordsRun) -> None:
        seen.append((dict(stopped.results.results), stopped.results.summary()))

    run = RecordsRun(DELETE, "00001", phones, send, OutcomePolicy(), LOG, on_interrupted=interrupted)
    with pytest.raises(KeyboardInterrupt):
        run.send(phones)
    results, summary = seen[0]
    assert [results[p][0]["status"] for p in phones] == ["REMOVED", "INTERRUPTED", "NOT_SENT"]
    assert summary["stopped_by"] == "KeyboardInterrupt"


def test_a_run_that_fails_before_sending_anything_leaves_every_phone_not_sent_and_says_why():
    def send(items: Sequence[Any], on_send: Callable[[list[str]], None]):
        raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
        yield  # a generator, like the client's stream

    run = RecordsRun(DELETE, "00001", ["48500100201", "48500100202"], send, OutcomePolicy(), LOG)
    with pytest.raises(UnicodeEncodeError):
        run.send(["48500100201", "48500100202"])
    summary = run.results.summary()
    assert summary["outcomes"] == {"NOT_SENT": 2}
    assert summary["stopped_by"].startswith("UnicodeEncodeError")


def test_the_unsent_rest_of_a_split_batch_is_not_sent_and_its_error_stops_the_run():
    refused = ThuliumConfigurationError("DELETE …: refused a request of 900 bytes as too large", status_code=414)
    send = answers(
        BatchResult(["48500100201"], None, refused, 1, 0, 0.01),
    )
    unsent = BatchResult(["48500100202"], None, refused, 0, 0, 0.0, sent=False)
    run = RecordsRun(DELETE, "00001", ["48500100201", "48500100202"], send, OutcomePolicy(), LOG)
    run.send(["48500100201", "48500100202"])
    run.results.add_batch(unsent)
    entries, summary, error = run.conclude()
    assert error is refused and summary["stopped_by"] == str(refused)
    assert [entries[p][0]["status"] for p in entries] == ["REQUEST_FAILED", "NOT_SENT"]
    assert entries["48500100202"][0]["message"].startswith("not sent: DELETE")


def test_state_survives_a_deferral_round_trip():
    send = answers(ok(["48500100201"], {"48500100201": [{"status": "CALL_IN_PROGRESS"}]}))
    run = RecordsRun(DELETE, "00001", ["48500100201"], send, OutcomePolicy(), LOG)
    run.send(["48500100201"])
    resumed = RecordsRun(DELETE, "00001", ["48500100201"], answers(), OutcomePolicy(), LOG)
    carried = json.loads(json.dumps(run.results.to_state().to_json()))  # as an XCom holds it
    resumed.results.load_state(DeferralState.from_json(carried))
    assert resumed.results.phones_with_outcome("CALL_IN_PROGRESS") == ["48500100201"]
    assert resumed.results.requests == 1
