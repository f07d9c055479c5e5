"""Reads and adds under an odd or hostile server: one test per finding of the probe that found them.

Odd servers are raw loopback servers (:class:`tests.helpers.RawServer`) scripted to page, count
and answer as the finding describes; lost answers and run-level stops are the sandbox's faults
under real task runs of the add operator.
"""

from __future__ import annotations

import contextlib
import json
import logging
import unicodedata
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_provider_thulium.checks.statuses import read_statuses, resolve_status_names
from airflow_provider_thulium.exceptions import (
    ThuliumError,
    ThuliumPhoneFailuresError,
    ThuliumResponseError,
    ThuliumValidationError,
)
from airflow_provider_thulium.hooks.thulium import ThuliumHook
from airflow_provider_thulium.operators.thulium import ThuliumAddRecordsOperator
from airflow_provider_thulium.sandbox import Fault
from airflow_provider_thulium.testing import run_dag, task_states, xcom
from tests.helpers import FAST_RETRIES, RawRequest, RawServer, hook_on_raw_server, http_answer, new_dag

PASSWORD = 's3cret/pass"word'
MISSING = object()


@pytest.fixture
def odd() -> Iterator[Any]:
    """A hook on a raw server: ``odd(answer)`` starts the server and returns ``(hook, server)``."""
    with contextlib.ExitStack() as stack:
        yield lambda answer: stack.enter_context(
            hook_on_raw_server(answer, PASSWORD, max_retries=1, timeout=2, **FAST_RETRIES)
        )


class Pages:
    """A campaign of ``total`` records served page by page, as an odd server would."""

    def __init__(
        self,
        total: int = 1050,
        *,
        count: Any = MISSING,
        page_size: int = 100,
        ignore_offset: bool = False,
        with_ids: bool = True,
    ) -> None:
        self.total, self.count, self.page_size = total, count, page_size
        self.ignore_offset, self.with_ids = ignore_offset, with_ids

    def __call__(self, request: RawRequest) -> list[bytes]:
        query = parse_qs(urlsplit(request.target).query)
        offset = 0 if self.ignore_offset else int(query["offset"][0])
        end = min(self.total, offset + min(int(query["limit"][0]), self.page_size))
        page = [
            {"phone_number": f"4860{n:07d}", **({"record_id": 5000 + n} if self.with_ids else {})}
            for n in range(offset, end)
        ]
        body: dict[str, Any] = {"result": page}
        if self.count is not MISSING:
            body["count"] = self.count
        return [http_answer(200, json.dumps(body).encode())]


def pages_read(server: RawServer) -> int:
    return sum("/records" in request.target for request in server.requests)


# ----------------------------------------------------------------------------- 1. paging that never ends


@pytest.mark.parametrize("with_ids", [True, False], ids=["record_ids", "no_record_ids"])
def test_1_a_server_ignoring_offset_ends_the_read_within_a_few_requests(odd, with_ids):
    hook, server = odd(Pages(10**10, count=10**10, ignore_offset=True, with_ids=with_ids))
    read: list[dict[str, Any]] = []
    with pytest.raises(ThuliumResponseError, match=r"only records already read at offset 100.*ignore offset"):
        read.extend(hook.iter_records("00001"))
    assert len(read) == 100  # the first page, each record once
    assert pages_read(server) == 2


# ----------------------------------------------------------------------------- 2. paging that stops silently


@pytest.mark.parametrize("count", ["1050", 1050.0, MISSING, -1, "many"], ids=["string", "float", "none", "-1", "text"])
def test_2_an_odd_count_reads_every_record_and_count_records_is_true_or_raises(odd, count):
    hook, _ = odd(Pages(1050, count=count))
    read = list(hook.iter_records("00001"))
    assert [record["record_id"] for record in read] == list(range(5000, 6050))
    if count in ("1050", 1050.0):
        assert hook.count_records("00001") == 1050
    else:
        with pytest.raises(ThuliumResponseError, match="no usable count"):
            hook.count_records("00001")


def test_2_short_pages_are_read_on_to_the_count(odd):
    hook, server = odd(Pages(1050, count=1050, page_size=50))
    assert len({record["record_id"] for record in hook.iter_records("00001")}) == 1050
    # 21 pages of 50, then one more: a last page as long as the others does not end a read (the
    # count may lie low); an empty one does.
    assert pages_read(server) == 22


def test_2_an_empty_page_while_the_count_says_more_is_an_error(odd):
    hook, _ = odd(Pages(150, count=1050))
    with pytest.raises(ThuliumResponseError, match="empty page at offset 150 while counting 1050"):
        list(hook.iter_records("00001"))


# ----------------------------------------------------------------------------- 9. items that are not records


@pytest.mark.parametrize("item", [1, "x", None, [1]])
def test_9_an_item_of_a_page_that_is_not_a_record_is_a_response_error(odd, item):
    body = json.dumps({"count": 2, "result": [{"record_id": 1}, item]}).encode()
    hook, _ = odd(lambda request: [http_answer(200, body)])
    with pytest.raises(ThuliumResponseError, match="item 1 is not a record"):
        list(hook.iter_records("00001"))


# ----------------------------------------------------------------------------- 6. filters


def test_6_filters_take_one_value_or_a_list(thulium_sandbox):
    hook = ThuliumHook()
    assert hook.count_records("00001", status_ids=3) == hook.count_records("00001", status_ids=[3])
    assert hook.count_records("00001", system_statuses="NO_CALL") == hook.count_records(
        "00001", system_statuses=["NO_CALL"]
    )
    hook.count_records("00001", status_ids="13")
    sent = [r.query for r in thulium_sandbox.requests]
    assert sent[0]["status_id[]"] == sent[1]["status_id[]"] == ["3"]
    assert sent[2]["system_status[]"] == sent[3]["system_status[]"] == ["NO_CALL"]
    assert sent[4]["status_id[]"] == ["13"]


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"status_ids": 3.5}, "status_ids: expected a status id or a list of them, got float"),
        ({"status_ids": {"a": 1}}, "status_ids: expected a status id or a list of them, got dict"),
        ({"status_ids": ["3", "x"]}, "status_ids: expected status ids .*got 'x'"),
        ({"system_statuses": b"NO_CALL"}, "system_statuses: expected a system status or a list of them, got bytes"),
        ({"system_statuses": [["NO_CALL"]]}, r"system_statuses: \['NO_CALL'\] is not a system status"),
    ],
)
def test_6_a_filter_of_another_type_is_a_validation_error(thulium_sandbox, filters, message):
    with pytest.raises(ThuliumValidationError, match=message):
        ThuliumHook().count_records("00001", **filters)
    assert thulium_sandbox.requests == []


# ----------------------------------------------------------------------------- 7. status names

STATUSES = [
    {"status_id": "1", "name": "Nowy kontakt", "system_status": "TO_CALL"},
    {"status_id": "2", "name": "CALL", "system_status": "NO_CALL"},
    {"status_id": "3", "name": "Contact needed", "system_status": "CALL"},
]


def test_7_names_match_after_unicode_normalisation_and_a_name_against_a_system_status_is_ambiguous():
    statuses = read_statuses(
        [*STATUSES, {"status_id": "4", "name": "Zażółć", "system_status": "TO_CALL"}], "GET statuses"
    )
    decomposed = unicodedata.normalize("NFD", "zażółć")
    assert decomposed != "zażółć"
    resolved = resolve_status_names([{"phone_number": "48600100001", "status": decomposed}], statuses, "00001")
    assert resolved == [{"phone_number": "48600100001", "status_id": 4}]
    with pytest.raises(
        ThuliumValidationError,
        match=r"'call' names several statuses.*: 2 'CALL' \(NO_CALL\); 3 'Contact needed' \(CALL\);",
    ):
        resolve_status_names([{"phone_number": "48600100001", "status": "call"}], statuses, "00001")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("status_id", 1.7, "status_id 1.7: not a whole number"),
        ("status_id", True, "status_id True: not a whole number"),
        ("status_id", "-1", "status_id -1: not a whole number"),
        ("name", None, "name None: not a string"),
        ("system_status", 5, "system_status 5: not a string"),
    ],
)
def test_7_a_statuses_answer_with_odd_ids_or_names_is_a_response_error(odd, field, value, message):
    body = json.dumps([STATUSES[0], {**STATUSES[1], field: value}]).encode()
    hook, _ = odd(lambda request: [http_answer(200, body)])
    with pytest.raises(ThuliumResponseError, match=f"answered status 1 with {message}"):
        hook.get_statuses("00001")


# ----------------------------------------------------------------------------- 8. text


def test_8_status_names_in_messages_are_masked(odd):
    body = json.dumps([{"status_id": "1", "name": "New 48600999001", "system_status": "TO_CALL"}]).encode()
    hook, _ = odd(lambda request: [http_answer(200, body)])
    with pytest.raises(ThuliumValidationError) as refused:
        hook.add_records("00001", [{"phone_number": "48600100001", "status": "Later 48600999002"}])
    assert "48600999001" not in str(refused.value) and "New …001" in str(refused.value)
    assert "48600999002" not in str(refused.value)


def test_8_a_password_echoed_by_the_server_reaches_no_message_log_or_xcom(odd, caplog):
    def echo(request: RawRequest) -> list[bytes]:
        answer = {
            "48600100001": {"http_status": 400, "status": "FAILED", "message": f"login api_user:{PASSWORD} refused"},
            "48600100002": {"http_status": 400, "status": "FAILED", "message": f"echo {PASSWORD}"},
        }
        # Escaped as PHP's json_encode writes it: "\/" and "\"".
        return [http_answer(200, json.dumps(answer).replace("/", "\\/").encode(), {"X-Request-Id": PASSWORD})]

    hook, _ = odd(echo)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ThuliumPhoneFailuresError) as failed:
        hook.add_records(
            "00001", [{"phone_number": "48600100001"}, {"phone_number": "48600100002"}], fail_on_failed_phones=True
        )
    assert "***" in str(failed.value) and PASSWORD not in str(failed.value)
    assert failed.value.results is not None
    messages = [entry["message"] for entry in failed.value.results.values()]
    assert messages == ["login api_user:*** refused", "echo ***"]
    assert PASSWORD not in caplog.text


# ----------------------------------------------------------------------------- 5. odd add answers


def _add_answers(post: dict[str, Any]) -> Any:
    def answer(request: RawRequest) -> list[bytes]:
        if request.method == "POST":
            return [http_answer(200, json.dumps(post).encode())]
        phones = [record["phone_number"] for record in json.loads(request.body)["records"]]
        return [http_answer(200, json.dumps({phone: {"http_status": 204} for phone in phones}).encode())]

    return answer


def test_5_a_list_answer_keeps_every_record_id_through_the_upsert(odd):
    both = [
        {"http_status": 201, "status": "ADDED", "record_id": 7001},
        {"http_status": 400, "status": "ALREADY_EXISTS", "record_id": 7000},
    ]
    hook, server = odd(_add_answers({"48600100300": both}))
    entry = hook.add_records("00001", [{"phone_number": "48600100300", "status_id": 2}], on_existing="update")[
        "48600100300"
    ]
    assert entry["status"] == "UPDATED" and entry["record_id"] == 7000 and entry["record_ids"] == [7001, 7000]
    assert [request.method for request in server.requests] == ["POST", "PUT"]


def test_5_two_spellings_answering_differently_are_a_contradiction(odd):
    answer = {"48600100300": {"http_status": 201, "status": "ADDED"}, "+48600100300": {"status": "FAILED"}}
    hook, _ = odd(_add_answers(answer))
    entry = hook.add_records("00001", [{"phone_number": "48600100300"}])["48600100300"]
    assert entry["status"] == "CONTRADICTORY_ANSWER" and entry["http_status"] is None
    assert entry["message"] == "Thulium answered this phone twice, keyed '…300' (ADDED) and '+…300' (FAILED)"


@pytest.mark.usefixtures("airflow_db")
def test_5_added_with_a_5xx_code_is_a_contradiction_counted_in_the_summary(odd):
    odd(_add_answers({"48600100300": {"http_status": 500, "status": "ADDED", "record_id": 9}}))
    with new_dag() as dag:
        ThuliumAddRecordsOperator(
            task_id="add", campaign_id="00001", records=[{"phone_number": "48600100300"}], thulium_conn_id="thulium_raw"
        )
    run = run_dag(dag)
    assert task_states(run) == {"add": "failed"}
    entry = xcom(run, "add")["48600100300"]
    assert entry["status"] == "CONTRADICTORY_ANSWER" and entry["record_id"] == 9
    assert "contradicts itself: status ADDED with http_status 500" in entry["message"]
    summary = xcom(run, "add", "summary")
    assert summary["failed"] == 1 and summary["outcomes"] == {"CONTRADICTORY_ANSWER": 1}


# ----------------------------------------------------------------------------- 3. lost add answers

CAMPAIGN = "00043"
PHONES = [f"4876{n:07d}" for n in range(30)]


def _add_task(records: list[dict[str, Any]], on_existing: str, **hook_params: Any) -> Any:
    with new_dag() as dag:
        ThuliumAddRecordsOperator(
            task_id="add",
            campaign_id=CAMPAIGN,
            records=records,
            on_existing=on_existing,
            hook_params={"max_batch_size": 10, **FAST_RETRIES, **hook_params},
        )
    return run_dag(dag)


@pytest.mark.usefixtures("airflow_db")
@pytest.mark.parametrize("on_existing", ["skip", "update", "fail"])
def test_3_an_add_whose_answer_was_lost_is_marked_and_succeeds_in_every_mode(thulium_sandbox, on_existing):
    thulium_sandbox.state.add_campaign(CAMPAIGN, "Lost answers")
    # The second batch is applied, then its connection dropped: the retry finds its records there.
    thulium_sandbox.add_fault(Fault(method="POST", drop=True, after=1))
    run = _add_task([{"phone_number": phone, "status_id": 2} for phone in PHONES], on_existing)

    assert task_states(run) == {"add": "success"}
    results = xcom(run, "add")
    second = [results[phone] for phone in PHONES[10:20]]
    expected = "UPDATED" if on_existing == "update" else "ALREADY_EXISTS"
    assert {entry["status"] for entry in second} == {expected}
    assert all(entry["after_lost_answer"] is True and entry["record_id"] for entry in second)
    assert {results[phone]["status"] for phone in PHONES[:10] + PHONES[20:]} == {"ADDED"}
    summary = xcom(run, "add", "summary")
    assert summary["after_lost_answer"] == 10 and summary["failed"] == 0
    assert any("may be this run's own add" in warning for warning in summary["warnings"])
    assert sorted(r["phone_number"] for r in thulium_sandbox.state.records(CAMPAIGN)) == PHONES  # each once
    puts = [r for r in thulium_sandbox.requests if r.method == "PUT"]
    assert len(puts) == (1 if on_existing == "update" else 0)


# ----------------------------------------------------------------------------- 4. an upsert's edits after a stop


@pytest.mark.usefixtures("airflow_db")
@pytest.mark.parametrize("stop", ["503-forever", "401-rotated"])
def test_4_an_upsert_sends_no_edit_after_the_run_stopped(thulium_sandbox, stop):
    thulium_sandbox.state.add_campaign(CAMPAIGN, "Stopped upsert")
    thulium_sandbox.state.bulk_add(CAMPAIGN, PHONES[:10])  # the first batch finds its records there
    if stop == "503-forever":
        fault = Fault(method="POST", status=503, times=1000, after=1)
    else:
        fault = Fault(method="POST", after=1, action=lambda s: s.state.set_password(s.login, "rotated"))
    thulium_sandbox.add_fault(fault)
    run = _add_task([{"phone_number": phone, "status_id": 2} for phone in PHONES], "update", max_retries=2)

    assert task_states(run) == {"add": "failed"}
    results = xcom(run, "add")
    assert list(results) == PHONES
    assert [results[phone]["status"] for phone in PHONES] == ["NOT_SENT"] * 10 + ["REQUEST_FAILED"] * 10 + [
        "NOT_SENT"
    ] * 10
    # What the add found is kept, each record its own id; phones never sent have none.
    assert len({results[phone]["record_id"] for phone in PHONES[:10]}) == 10
    assert not any("record_id" in results[phone] for phone in PHONES[10:])
    assert [r.method for r in thulium_sandbox.requests].count("PUT") == 0
    assert all(record["status_id"] != 2 for record in thulium_sandbox.state.records(CAMPAIGN))


def test_8_a_password_echoed_in_an_error_answer_and_its_headers_reaches_no_message(odd):
    body = json.dumps({"errors": [{"message": f"bad credentials {PASSWORD}"}], "request_id": PASSWORD}).encode()
    hook, _ = odd(lambda request: [http_answer(400, body, {"X-Request-Id": PASSWORD, "Content-Type": PASSWORD})])
    with pytest.raises(ThuliumError) as refused:
        hook.get_statuses("00001")
    assert PASSWORD not in str(refused.value) and "bad credentials ***" in str(refused.value)
    assert PASSWORD not in repr(refused.value.api_messages) and refused.value.request_id != PASSWORD
