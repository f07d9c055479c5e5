"""Faults of the network, the proxy and the account under adds (every ``on_existing`` mode) and paged reads.

The add cases run the add operator in ``dag.test()`` against the sandbox, on 30 records in three
batches of ten, five of each batch already in the campaign (so an upsert has edits to send), with
the fault landing on the second batch. Each case checks that every phone is accounted for and that
XCom agrees with the sandbox (see :func:`assert_add_consistent`): a record is never added twice; an
``ALREADY_EXISTS`` for a record this run added is marked ``after_lost_answer``; ``NOT_SENT`` leaves
the campaign as it was; after a stop, no edit is sent.

The read cases page through 250 records with faults on the pages: each record comes once, or the
read ends with a ``ThuliumError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from airflow_provider_thulium.exceptions import ThuliumAuthenticationError, ThuliumError, ThuliumUnavailableError
from airflow_provider_thulium.hooks.thulium import ThuliumHook
from airflow_provider_thulium.operators.thulium import ThuliumAddRecordsOperator
from airflow_provider_thulium.sandbox import Fault
from airflow_provider_thulium.testing import run_dag, task_states, xcom
from tests.helpers import FAST_RETRIES, new_dag
from tests.integration.client.test_faults import assert_no_phone_lost

CAMPAIGN = "00044"
PHONES = [f"4877{n:07d}" for n in range(30)]
EXISTING = [phone for n, phone in enumerate(PHONES) if n % 10 < 5]  # five of each batch
NEW_STATUS = 2  # what the add sets (existing records start at status 1)


def _rotate_password(sandbox: Any) -> None:
    sandbox.state.set_password(sandbox.login, "rotated-in-the-middle")


@dataclass
class AddCase:
    """A fault on the second batch of the add (``after=1``), or on the upsert's edit."""

    name: str
    faults: list[Fault]
    stops: bool = False  # the run stops at the second batch (the third is NOT_SENT)
    lost_answer: bool = False  # the second batch is applied, then its answer lost: its new records come back marked
    retried: bool = True  # the second batch is sent again after a failure that may have followed its applying
    hook_params: dict[str, Any] = field(default_factory=dict)


def add_cases() -> list[AddCase]:
    # Built per test: faults count their firings.
    return [
        AddCase("503-burst", [Fault(method="POST", status=503, times=3, after=1)]),
        AddCase("dropped-connection-applied", [Fault(method="POST", drop=True, after=1)], lost_answer=True),
        AddCase("dropped-connection-not-applied", [Fault(method="POST", drop=True, apply=False, after=1)]),
        AddCase(
            "read-timeout-after-apply",
            [Fault(method="POST", delay=1.0, after=1)],
            lost_answer=True,
            hook_params={"timeout": 0.4},
        ),
        AddCase("truncated-json-applied", [Fault(method="POST", truncate=True, after=1)], lost_answer=True),
        AddCase(
            "200-with-html-body-applied",
            [Fault(method="POST", body="<html>502 Bad Gateway</html>", after=1)],
            lost_answer=True,
        ),
        AddCase(
            "503-forever",
            [Fault(method="POST", status=503, times=1000, after=1)],
            stops=True,
            hook_params={"max_retries": 2},
        ),
        AddCase("401-password-rotated", [Fault(method="POST", after=1, action=_rotate_password)], stops=True),
        AddCase("edit-dropped-applied", [Fault(method="PUT", drop=True)], retried=False),
    ]


CASE_NAMES = [case.name for case in add_cases()]


def assert_add_consistent(results: dict[str, Any], after: dict[str, list[dict[str, Any]]], on_existing: str) -> None:
    """XCom agrees with the sandbox's records for every phone."""
    for phone, entry in results.items():
        status, rows = entry["status"], after.get(phone, [])
        assert len(rows) <= 1, f"{phone}: added twice"
        existed = phone in EXISTING
        if status == "ADDED":
            assert not existed and len(rows) == 1, f"{phone} reported ADDED: {rows}"
        elif status == "ALREADY_EXISTS":
            assert len(rows) == 1 and (existed or entry.get("after_lost_answer") is True), f"{phone}: {entry}"
            assert on_existing != "update" or not existed or entry.get("after_lost_answer")
        elif status == "UPDATED":
            assert on_existing == "update" and rows[0]["status_id"] == NEW_STATUS, f"{phone}: {entry} {rows}"
        elif status == "NOT_SENT":
            assert [r["status_id"] for r in rows] == ([1] if existed else []), f"{phone} NOT_SENT but changed: {rows}"
        else:
            assert status == "REQUEST_FAILED", f"{phone}: unexpected {entry}"


# Every case in every mode, but the edit's fault only where edits are sent (an upsert).
RUNS = [
    (index, mode)
    for index, case in enumerate(add_cases())
    for mode in ("skip", "update", "fail")
    if case.faults[0].method != "PUT" or mode == "update"
]


@pytest.mark.usefixtures("airflow_db")
@pytest.mark.parametrize(("index", "on_existing"), RUNS, ids=[f"{CASE_NAMES[i]}-{mode}" for i, mode in RUNS])
def test_add_fault(thulium_sandbox, index, on_existing):
    case = add_cases()[index]
    thulium_sandbox.state.add_campaign(CAMPAIGN, "Add faults")
    thulium_sandbox.state.bulk_add(CAMPAIGN, EXISTING)
    for fault in case.faults:
        thulium_sandbox.add_fault(fault)
    with new_dag() as dag:
        ThuliumAddRecordsOperator(
            task_id="add",
            campaign_id=CAMPAIGN,
            records=[{"phone_number": phone, "status_id": NEW_STATUS} for phone in PHONES],
            on_existing=on_existing,
            hook_params={"max_batch_size": 10, **FAST_RETRIES, **case.hook_params},
        )
    run = run_dag(dag)

    results = xcom(run, "add")
    assert_no_phone_lost(results, PHONES)
    after: dict[str, list[dict[str, Any]]] = {}
    for row in thulium_sandbox.state.records(CAMPAIGN):
        after.setdefault(row["phone_number"], []).append(row)
    assert_add_consistent(results, after, on_existing)
    summary = xcom(run, "add", "summary")
    puts = [r for r in thulium_sandbox.requests if r.method == "PUT"]
    if case.stops:
        assert task_states(run) == {"add": "failed"} and summary["stopped_by"]
        assert [results[p]["status"] for p in PHONES[10:]] == ["REQUEST_FAILED"] * 10 + ["NOT_SENT"] * 10
        assert puts == []  # no edit after the stop
        return
    assert summary["stopped_by"] is None
    # The client cannot tell a record its lost attempt added from one that was there: after such a
    # retry, every "already there" of the batch is marked, the records it found as well.
    marked = (PHONES[10:15] + (PHONES[15:20] if case.lost_answer else [])) if case.retried else []
    assert [p for p in PHONES if results[p].get("after_lost_answer")] == marked
    assert summary["after_lost_answer"] == len(marked)
    assert summary["failed_phones"] == ([p for p in EXISTING if p not in marked] if on_existing == "fail" else [])
    assert task_states(run) == {"add": "failed" if on_existing == "fail" else "success"}
    if on_existing == "update":
        assert all(results[p]["status"] == "UPDATED" and results[p]["record_id"] for p in EXISTING)
        assert len(puts) >= 1
    assert all(f.fired == f.times or f.times >= 1000 for f in case.faults), [f.to_json() for f in case.faults]


# ----------------------------------------------------------------------------- paged reads

READ_CAMPAIGN = "00045"
READ_PHONES = [f"4878{n:07d}" for n in range(250)]

READ_CASES = {
    "503-burst": ([Fault(method="GET", status=503, times=3, after=1)], None),
    "dropped-connection": ([Fault(method="GET", drop=True, after=1)], None),
    "read-timeout": ([Fault(method="GET", delay=1.0, after=2)], None),
    "truncated-json": ([Fault(method="GET", truncate=True, after=1)], None),
    "html-body": ([Fault(method="GET", body="<html>maintenance</html>", after=1)], None),
    "mixed-chain": (
        [Fault(method="GET", status=502, after=1), Fault(method="GET", drop=True), Fault(method="GET", status=429)],
        None,
    ),
    "503-forever": ([Fault(method="GET", status=503, times=1000, after=1)], ThuliumUnavailableError),
    "401-password-rotated": ([Fault(method="GET", after=2, action=_rotate_password)], ThuliumAuthenticationError),
}


@pytest.mark.parametrize("name", list(READ_CASES))
def test_paged_read_fault(thulium_sandbox, name):
    faults, error = READ_CASES[name]
    thulium_sandbox.state.add_campaign(READ_CAMPAIGN, "Read faults")
    thulium_sandbox.state.bulk_add(READ_CAMPAIGN, READ_PHONES)
    for fault in faults:
        thulium_sandbox.add_fault(fault)
    hook = ThuliumHook(timeout=0.4, max_retries=4, **FAST_RETRIES)
    read: list[str] = []
    raised: ThuliumError | None = None
    try:
        read.extend(record["phone_number"] for record in hook.iter_records(READ_CAMPAIGN))
    except ThuliumError as exc:
        raised = exc
    if error is None:
        assert raised is None and read == READ_PHONES  # every record, each once, in order
    else:
        assert isinstance(raised, error)
        assert read == READ_PHONES[: len(read)] and len(read) < len(READ_PHONES)  # what came, once each
    pages = [r for r in thulium_sandbox.requests if r.path.endswith("/records")]
    assert len(pages) <= 3 + 5 * len(faults) or (error is not None and len(pages) <= 8)
