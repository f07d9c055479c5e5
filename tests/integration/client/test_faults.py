"""Faults of the network, the proxy and the account, through real task runs of both operators.

Every case runs an operator in ``dag.test()`` against the sandbox with scripted faults, on a small
campaign split into several batches (``max_batch_size``), so that "in the middle of a run" is real.
Each case then checks three things:

1. the task state (success with the right results, or failed with a clear error);
2. no phone lost: every input phone has an entry in the ``return_value`` XCom, in input order;
3. XCom and the sandbox agree (see :func:`assert_consistent`): no phone reported ``REMOVED`` or
   ``UPDATED`` whose record says otherwise, no record changed that XCom reports ``NOT_SENT``.

What is allowed after a request that timed out or lost its connection after the server applied
it (the ambiguity no client can resolve from its side): the hook sends the batch again. A repeated
DELETE finds nothing and answers ``NOT_EXIST`` for the numbers the first attempt removed;
``NOT_EXIST`` counts as a success of a delete (deleting is idempotent, ``not_exist_is_success``),
so the task is green and the records are gone, but XCom says ``NOT_EXIST`` rather than
``REMOVED`` for those phones. A repeated PUT applies the same values again and answers 204.
A phone whose batch failed for good is ``REQUEST_FAILED``: it may or may not have been applied,
and the checks accept either state of its record.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import pytest

from airflow_provider_thulium.calls.operations import DELETE, UPDATE, Operation
from airflow_provider_thulium.operators.thulium import ThuliumDeleteRecordsOperator, ThuliumUpdateRecordsOperator
from airflow_provider_thulium.outcomes import NOT_EXIST, NOT_SENT, REMOVED, REQUEST_FAILED, UPDATED
from airflow_provider_thulium.sandbox import Fault
from airflow_provider_thulium.testing import MISSING, run_dag, task_states, xcom
from tests.helpers import FAST_RETRIES, new_dag, set_connection

pytestmark = pytest.mark.usefixtures("airflow_db")

CAMPAIGN = "00042"
PHONES = [f"4873{n:07d}" for n in range(30)]  # three batches of ten
BATCH = 10
NEW_STATUS = 2  # what the update cases set (records start at status 1)


def seed(sandbox: Any, phones: list[str] = PHONES, fields: set[str] | None = None) -> None:
    sandbox.state.add_campaign(CAMPAIGN, "Faults", fields=fields or {"note"})
    sandbox.state.bulk_add(CAMPAIGN, phones)


def records_by_phone(sandbox: Any) -> dict[str, list[dict[str, Any]]]:
    """The campaign's records grouped by phone ({} when the campaign is gone)."""
    try:
        rows = sandbox.state.records(CAMPAIGN)
    except KeyError:
        return {}
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["phone_number"], []).append(row)
    return grouped


def run_operator(
    kind: Operation, phones: list[str], hook_params: dict[str, Any], conn_id: str = "thulium_default", **kwargs: Any
) -> Any:
    with new_dag() as dag:
        if kind == DELETE:
            ThuliumDeleteRecordsOperator(
                task_id="task",
                campaign_id=CAMPAIGN,
                phone_numbers=phones,
                thulium_conn_id=conn_id,
                hook_params=hook_params,
                **kwargs,
            )
        else:
            ThuliumUpdateRecordsOperator(
                task_id="task",
                campaign_id=CAMPAIGN,
                records=[{"phone_number": p, "status_id": NEW_STATUS} for p in phones],
                thulium_conn_id=conn_id,
                hook_params=hook_params,
                **kwargs,
            )
    return run_dag(dag)


def assert_no_phone_lost(results: Any, phones: list[str]) -> None:
    assert results is not MISSING, "no return_value XCom"
    lost = [p for p in phones if p not in results]
    assert len(lost) == 0, f"phones lost: {len(lost)}"
    assert list(results) == phones


def assert_consistent(
    kind: Operation, results: dict[str, Any], before: dict[str, list[dict[str, Any]]], after: dict[str, Any]
) -> None:
    """XCom agrees with the sandbox's records (``before``: at seeding; ``after``: when the run ended)."""
    for phone, entry in results.items():
        name = kind.outcome(entry)
        now = after.get(phone, [])
        if kind == DELETE:
            if name == REMOVED:
                assert now == [], f"{phone} reported REMOVED but is still in the campaign"
            elif name == NOT_EXIST:
                # Either it never existed, or a timed-out-but-applied attempt removed it already.
                assert now == [], f"{phone} reported NOT_EXIST but is still in the campaign"
            elif name == NOT_SENT:
                assert now == before.get(phone, []), f"{phone} reported NOT_SENT but its records changed"
            else:
                assert name == REQUEST_FAILED, f"{phone}: unexpected outcome {name}"
                assert now in ([], before.get(phone, [])), f"{phone}: half-applied state {now}"
        else:
            if name == UPDATED:
                assert [r["status_id"] for r in now] == [NEW_STATUS], f"{phone} reported UPDATED but is not"
            elif name == NOT_SENT:
                assert now == before.get(phone, []), f"{phone} reported NOT_SENT but its record changed"
            else:
                assert name == REQUEST_FAILED, f"{phone}: unexpected outcome {name}"
                assert [r["status_id"] for r in now] in ([1], [NEW_STATUS]), f"{phone}: unexpected state {now}"


def outcomes_in_order(kind: Operation, results: dict[str, Any]) -> list[str]:
    return [kind.outcome(entry) for entry in results.values()]


def runs(*parts: tuple[str, int]) -> list[str]:
    """Expected outcomes as runs: runs((REMOVED, 10), (NOT_SENT, 20))."""
    return [name for name, count in parts for _ in range(count)]


# ----------------------------------------------------------------------------- the table


@dataclass
class Case:
    """One fault scenario.

    :param faults: built per run (faults hold counters); may use the sandbox (actions).
    :param expected: the outcome of each phone in input order, per kind; a value that is a set
        allows any of those outcomes for that phone.
    :param state: the task state expected.
    :param error: text the run's ``stopped_by`` must contain (failed runs).
    """

    name: str
    faults: Callable[[Any], list[Fault]]
    expected: dict[str, list[Any]]
    state: str = "success"
    error: str | None = None
    hook_params: dict[str, Any] = field(default_factory=dict)
    max_seconds: float = 10.0
    check_timing: Callable[[list[float]], None] | None = None


def _all(name_delete: str, name_update: str) -> dict[str, list[Any]]:
    return {DELETE: [name_delete] * 30, UPDATE: [name_update] * 30}


def _timed(times: list[float]) -> Callable[[Any], None]:
    return lambda sandbox: times.append(time.monotonic())


def _rotate_password(sandbox: Any) -> None:
    sandbox.state.set_password(sandbox.login, "rotated-in-the-middle")


def _delete_campaign(sandbox: Any) -> None:
    sandbox.state.delete_campaign(CAMPAIGN)


_gaps: list[float] = []  # times of the faulty request and of the retry after it (Retry-After cases)


def _retry_after_faults(value: Callable[[], str]) -> Callable[[Any], list[Fault]]:
    def make(sandbox: Any) -> list[Fault]:
        _gaps.clear()
        # The 429 hits the second batch; the fault after it only notes when the retry arrived.
        return [
            Fault(status=429, after=1, retry_after=value(), action=_timed(_gaps)),
            Fault(after=1, action=_timed(_gaps)),
        ]

    return make


def _waited_at_least(seconds: float) -> Callable[[list[float]], None]:
    def check(times: list[float]) -> None:
        assert len(times) == 2, times
        assert times[1] - times[0] >= seconds, f"retried after {times[1] - times[0]:.2f} s"

    return check


# The second batch (phones 10-19) is where faults land ("after=1": the first request goes through).
REMOVED_THEN_NOT_EXIST = runs((REMOVED, 10), (NOT_EXIST, 10), (REMOVED, 10))
STOPPED_AT_SECOND = {
    DELETE: runs((REMOVED, 10), (REQUEST_FAILED, 10), (NOT_SENT, 10)),
    UPDATE: runs((UPDATED, 10), (REQUEST_FAILED, 10), (NOT_SENT, 10)),
}

CASES = [
    Case("503-burst", lambda s: [Fault(status=503, times=4, after=1)], _all(REMOVED, UPDATED)),
    Case("500-once", lambda s: [Fault(status=500, after=1)], _all(REMOVED, UPDATED)),
    Case(
        "429-retry-after-seconds",
        _retry_after_faults(lambda: "1"),
        _all(REMOVED, UPDATED),
        check_timing=_waited_at_least(0.9),
    ),
    Case(
        "429-retry-after-http-date",
        # HTTP dates have one-second resolution, and the date is written when the fault is set up, before
        # the run starts: "now + 4 s" leaves a wait of more than half a second on a loaded machine too.
        _retry_after_faults(lambda: format_datetime(datetime.now(timezone.utc) + timedelta(seconds=4), usegmt=True)),
        _all(REMOVED, UPDATED),
        check_timing=_waited_at_least(0.5),
    ),
    Case(
        # The server applies the change, then answers after the hook has given up waiting; the
        # retry of a delete answers NOT_EXIST, which is allowed (see the module docstring).
        "read-timeout-after-apply",
        lambda s: [Fault(delay=1.0, after=1)],
        {DELETE: REMOVED_THEN_NOT_EXIST, UPDATE: [UPDATED] * 30},
        hook_params={"timeout": 0.4},
    ),
    Case(
        "dropped-connection-applied",
        lambda s: [Fault(drop=True, after=1)],
        {DELETE: REMOVED_THEN_NOT_EXIST, UPDATE: [UPDATED] * 30},
    ),
    Case("dropped-connection-not-applied", lambda s: [Fault(drop=True, apply=False, after=1)], _all(REMOVED, UPDATED)),
    Case(
        "200-with-html-body",
        lambda s: [Fault(body="<html><body>502 Bad Gateway</body></html>", after=1)],
        {DELETE: REMOVED_THEN_NOT_EXIST, UPDATE: [UPDATED] * 30},
    ),
    Case(
        "truncated-json",
        lambda s: [Fault(truncate=True, apply=False, after=1)],
        _all(REMOVED, UPDATED),
    ),
    Case(
        "truncated-json-applied",
        lambda s: [Fault(truncate=True, after=1)],
        {DELETE: REMOVED_THEN_NOT_EXIST, UPDATE: [UPDATED] * 30},
    ),
    Case(
        "503-forever-gives-up",
        lambda s: [Fault(status=503, times=1000, after=1)],
        STOPPED_AT_SECOND,
        state="failed",
        error="HTTP 503",
        hook_params={"max_retries": 3},
    ),
    Case(
        "html-forever-gives-up",
        lambda s: [Fault(body="<html>maintenance</html>", apply=False, times=1000, after=1)],
        STOPPED_AT_SECOND,
        state="failed",
        error="not JSON",
        hook_params={"max_retries": 2},
    ),
    Case(
        "401-password-rotated-mid-run",
        lambda s: [Fault(after=1, action=_rotate_password)],
        STOPPED_AT_SECOND,
        state="failed",
        error="credentials",
    ),
    Case(
        "404-campaign-deleted-mid-run",
        lambda s: [Fault(after=1, action=_delete_campaign)],
        STOPPED_AT_SECOND,
        state="failed",
        error="HTTP 404",
    ),
    Case(
        # Mixed: one batch meets a chain of different faults in a row before it gets through.
        "mixed-chain-on-one-batch",
        lambda s: [
            Fault(status=503, times=2),
            Fault(drop=True, apply=False),
            Fault(truncate=True, apply=False),
            Fault(status=429, retry_after="0"),
            Fault(status=502),
        ],
        _all(REMOVED, UPDATED),
        hook_params={"max_retries": 6},
    ),
    Case(
        # Mixed: each batch meets a different fault ("after" counts the requests a fault lets by).
        "mixed-one-fault-per-batch",
        lambda s: [
            Fault(status=503),
            Fault(drop=True, apply=False, after=1),
            Fault(truncate=True, apply=False, after=2),
        ],
        _all(REMOVED, UPDATED),
    ),
    Case(
        # Mixed: a 500 on the first batch; on the second an HTML page (not applied), then a
        # timeout on an applied retry, so its third attempt finds the records gone already.
        "mixed-500-html-timeout",
        lambda s: [
            Fault(status=500),
            Fault(body="<!DOCTYPE html><title>oops</title>", apply=False, after=1),
            Fault(delay=1.0, after=1),
        ],
        {DELETE: REMOVED_THEN_NOT_EXIST, UPDATE: [UPDATED] * 30},
        hook_params={"timeout": 0.4, "max_retries": 4},
    ),
    Case(
        # Mixed: a transient 503 on the second batch is retried, then the password is rotated
        # when the third batch arrives.
        "mixed-503-then-401",
        lambda s: [Fault(status=503, after=1), Fault(after=2, action=_rotate_password)],
        {
            DELETE: runs((REMOVED, 20), (REQUEST_FAILED, 10)),
            UPDATE: runs((UPDATED, 20), (REQUEST_FAILED, 10)),
        },
        state="failed",
        error="credentials",
    ),
]


@pytest.mark.parametrize("kind", [DELETE, UPDATE], ids=["delete", "update"])
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_fault(thulium_sandbox, case: Case, kind: Operation) -> None:
    seed(thulium_sandbox)
    before = records_by_phone(thulium_sandbox)
    snapshot: dict[str, Any] = {}
    faults = case.faults(thulium_sandbox)
    for fault in faults:
        if fault.action is _delete_campaign:
            # Keep the campaign as it was when deleted, to compare with what XCom says.
            def delete_and_keep(sandbox: Any) -> None:
                snapshot.update(records_by_phone(sandbox))
                _delete_campaign(sandbox)

            fault.action = delete_and_keep
        thulium_sandbox.add_fault(fault)

    run = run_operator(kind, PHONES, {"max_batch_size": BATCH, **FAST_RETRIES, **case.hook_params})

    assert task_states(run) == {"task": case.state}
    results = xcom(run, "task")
    assert_no_phone_lost(results, PHONES)
    assert outcomes_in_order(kind, results) == case.expected[kind]
    after = snapshot if snapshot else records_by_phone(thulium_sandbox)
    assert_consistent(kind, results, before, after)
    summary = xcom(run, "task", "summary")
    assert summary["phones"] == len(PHONES)
    if case.error is None:
        assert summary["stopped_by"] is None
    else:
        assert case.error in summary["stopped_by"]
    if case.check_timing is not None:
        case.check_timing(_gaps)
    assert all(f.fired == f.times or f.times >= 1000 for f in faults), [f.to_json() for f in faults]
    # The provider's own time (the first dag.test() of a session spends seconds setting up).
    assert summary["duration_seconds"] < case.max_seconds


# ----------------------------------------------------------------------------- 413 / 414


def test_414_when_batches_are_set_too_large_splits_deletes(thulium_sandbox):
    phones = [f"4874{n:07d}" for n in range(800)]
    seed(thulium_sandbox, phones)
    # ~800 * 31 bytes ≈ 25 KiB of query string, above the proxy's 8 KiB: answered 414, then halved.
    run = run_operator(DELETE, phones, {"max_request_line_bytes": 100_000, "max_batch_size": 5000, **FAST_RETRIES})
    assert task_states(run) == {"task": "success"}
    results = xcom(run, "task")
    assert_no_phone_lost(results, phones)
    assert set(outcomes_in_order(DELETE, results)) == {REMOVED}
    assert records_by_phone(thulium_sandbox) == {}
    statuses = [r.status for r in thulium_sandbox.requests]
    assert 414 in statuses and statuses.count(414) < len(statuses)
    assert max(r.request_line_bytes for r in thulium_sandbox.requests if r.status != 414) <= 8192


def test_413_when_batches_are_set_too_large_splits_updates(thulium_sandbox):
    phones = [f"4875{n:07d}" for n in range(300)]
    seed(thulium_sandbox, phones)
    records = [{"phone_number": p, "status_id": NEW_STATUS, "record_fields": {"note": "n" * 5000}} for p in phones]
    with new_dag() as dag:
        ThuliumUpdateRecordsOperator(
            task_id="task",
            campaign_id=CAMPAIGN,
            records=records,
            # ~1.5 MB in one body, above the proxy's 1 MiB: answered 413, then halved.
            hook_params={"max_body_bytes": 10_000_000, "max_batch_size": 5000, **FAST_RETRIES},
        )
    run = run_dag(dag)
    assert task_states(run) == {"task": "success"}
    results = xcom(run, "task")
    assert_no_phone_lost(results, phones)
    assert set(outcomes_in_order(UPDATE, results)) == {UPDATED}
    after = records_by_phone(thulium_sandbox)
    assert all(rows[0]["status_id"] == NEW_STATUS and rows[0]["record_fields"]["note"] for rows in after.values())
    statuses = [r.status for r in thulium_sandbox.requests]
    assert statuses[0] == 413 and 413 not in statuses[-2:]
    assert max(r.body_bytes for r in thulium_sandbox.requests if r.status != 413) <= 1_048_576


# ----------------------------------------------------------------------------- dead servers


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("kind", [DELETE, UPDATE], ids=["delete", "update"])
def test_dead_server_fails_within_max_retries(airflow_db, monkeypatch, kind):
    # Nothing listens on the port: every attempt is refused at once; max_retries bounds the run.
    set_connection(
        monkeypatch, "thulium_dead", host=f"http://127.0.0.1:{_free_port()}", login="api_user", password="api_pass"
    )
    run = run_operator(kind, PHONES, {"max_batch_size": BATCH, "max_retries": 3, **FAST_RETRIES}, "thulium_dead")
    assert task_states(run) == {"task": "failed"}
    results = xcom(run, "task")
    assert_no_phone_lost(results, PHONES)
    assert outcomes_in_order(kind, results) == runs((REQUEST_FAILED, 10), (NOT_SENT, 20))
    summary = xcom(run, "task", "summary")
    assert "no answer from Thulium" in summary["stopped_by"] and "4 attempt(s)" in summary["stopped_by"]
    assert summary["requests"] == 4
    assert summary["duration_seconds"] < 5


def test_silent_server_fails_within_the_retry_budget(airflow_db, monkeypatch):
    # A socket that listens but never accepts nor answers: every attempt runs into the timeout,
    # and the retry budget, not the (large) max_retries, ends the run.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        set_connection(monkeypatch, "thulium_silent", host=url, login="api_user", password="api_pass")
        hook_params = {
            "max_batch_size": BATCH,
            "timeout": 0.2,
            "max_retries": 1000,
            "retry_budget": 1.5,
            **FAST_RETRIES,
        }
        run = run_operator(DELETE, PHONES, hook_params, "thulium_silent")
    finally:
        silent.close()
    assert task_states(run) == {"task": "failed"}
    results = xcom(run, "task")
    assert_no_phone_lost(results, PHONES)
    assert outcomes_in_order(DELETE, results) == runs((REQUEST_FAILED, 10), (NOT_SENT, 20))
    summary = xcom(run, "task", "summary")
    assert "retry budget is spent" in summary["stopped_by"]
    assert 2 <= summary["requests"] < 1000
    # The budget (1.5 s) plus at most one timeout (0.2 s) and some slack.
    assert summary["duration_seconds"] < 4
