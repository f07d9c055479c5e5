"""A broken or hostile server: time and memory stay bounded, only ThuliumErrors leave, every phone is accounted for.

Each case is served by a raw loopback server (:class:`tests.helpers.RawServer`) that sends exactly
the bytes it is scripted to: a body trickled a byte at a time, a 100 MB Content-Length, a proxy
answering 414 to everything, JSON nested 100,000 deep, statuses holding newlines and numbers.
The property-based fuzz over whole server answers is in ``test_fuzz_answers.py``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_thulium.client import ThuliumClient
from airflow_provider_thulium.exceptions import (
    ThuliumAnswerTooLargeError,
    ThuliumConfigurationError,
    ThuliumError,
    ThuliumPhoneFailuresError,
    ThuliumResponseError,
    ThuliumUnavailableError,
)
from airflow_provider_thulium.hooks.thulium import ThuliumHook
from airflow_provider_thulium.operators.thulium import ThuliumDeleteRecordsOperator
from airflow_provider_thulium.runs.records_run import OutcomePolicy
from airflow_provider_thulium.settings import ThuliumSettings
from airflow_provider_thulium.testing import MISSING, run_dag, task_states, xcom
from tests.helpers import CLOSE, FAST_RETRIES, RawRequest, RawServer, http_answer, new_dag, set_connection

PHONES = [f"485001002{n:02d}" for n in range(10)]


class Lines(logging.Handler):
    """Keeps every formatted log line."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, Lines]]:
    logger = logging.getLogger(f"tests.hostile.{time.monotonic_ns()}")
    logger.setLevel(logging.DEBUG)
    handler = Lines()
    logger.addHandler(handler)
    yield logger, handler
    logger.removeHandler(handler)


def client(url: str, log: Any = None, **settings: Any) -> ThuliumClient:
    return ThuliumClient.for_host(
        url, "api_user", "api_pass", ThuliumSettings.merge({**FAST_RETRIES, **settings}), log=log
    )


def results_of(call: Any) -> tuple[dict[str, Any], ThuliumError | None]:
    """A records call's results, whether it returned them or raised with them."""
    try:
        return call(), None
    except ThuliumError as exc:
        assert exc.results is not None, f"raised without results: {exc!r}"
        return exc.results, exc


def statuses(results: dict[str, Any]) -> list[str]:
    return [entry[0]["status"] if isinstance(entry, list) else entry.get("status") for entry in results.values()]


# ----------------------------------------------------------------------------- time


def _trickled_body(request: RawRequest) -> Iterator[Any]:
    # Headers at once, then one byte of the promised body every half second (12 s per answer).
    yield http_answer(200, b"", {"Content-Length": "24"})
    for _ in range(24):
        yield 0.5
        yield b" "


def _trickled_headers(request: RawRequest) -> Iterator[Any]:
    yield b"HTTP/1.1 200 OK\r\n"
    for _ in range(40):
        yield 0.3
        yield b"X-Slow: yes\r\n"


@pytest.mark.parametrize("answer", [_trickled_body, _trickled_headers], ids=["body", "headers"])
def test_a_trickling_server_ends_the_run_within_retry_budget_plus_timeout(answer):
    # The numbers of the issue: each attempt is cut at 2 s, the retry starts inside the 3 s budget.
    with RawServer(answer) as server:
        started = time.monotonic()
        results, error = results_of(
            lambda: client(server.url, timeout=2, retry_budget=3, max_retries=1).delete_records("00001", PHONES)
        )
        took = time.monotonic() - started
    assert isinstance(error, ThuliumUnavailableError) and "within the timeout (2 s)" in str(error)
    assert statuses(results) == ["REQUEST_FAILED"] * len(PHONES)
    assert len(server.requests) == 2
    assert took < 3 + 2 + 0.5, f"took {took:.2f} s, the bound is retry_budget + timeout = 5 s"


# ----------------------------------------------------------------------------- memory


def test_an_answer_declared_over_the_limit_is_refused_unread_and_not_retried():
    def declared_100_mb(request: RawRequest) -> Iterator[Any]:
        yield http_answer(200, b"", {"Content-Length": str(100 * 2**20)})
        yield b"{" * 65536
        yield 5.0

    with RawServer(declared_100_mb) as server:
        started = time.monotonic()
        results, error = results_of(lambda: client(server.url, max_retries=5).delete_records("00001", PHONES))
        took = time.monotonic() - started
    assert isinstance(error, ThuliumAnswerTooLargeError) and "Content-Length 104857600" in str(error)
    assert "max_answer_bytes" in str(error) and error.attempts == 1
    assert len(server.requests) == 1 and took < 2
    assert statuses(results) == ["REQUEST_FAILED"] * len(PHONES)


def test_a_chunked_answer_is_cut_at_the_limit_and_not_downloaded_again():
    sent = [0]

    def chunked_40_mb(request: RawRequest) -> Iterator[Any]:
        yield http_answer(200, b"", {"Transfer-Encoding": "chunked"})
        chunk = b"[" * 65536
        for _ in range(640):
            sent[0] += len(chunk)
            yield b"%x\r\n%s\r\n" % (len(chunk), chunk)
        yield b"0\r\n\r\n"

    with RawServer(chunked_40_mb) as server:
        results, error = results_of(lambda: client(server.url, max_retries=5).delete_records("00001", PHONES))
    assert isinstance(error, ThuliumAnswerTooLargeError) and "more than that arrived" in str(error)
    limit = 2**20 + 4096 * len(PHONES)  # the default: 1 MiB plus 4 KiB per phone of the batch
    assert f"limit of {limit} bytes" in str(error)
    assert len(server.requests) == 1
    # What the server got out before the client hung up: the limit plus what socket buffers hold.
    assert sent[0] < 16 * 2**20, f"{sent[0] / 2**20:.0f} MB sent"
    assert statuses(results) == ["REQUEST_FAILED"] * len(PHONES)


def test_max_answer_bytes_sets_the_limit():
    def answer(request: RawRequest) -> Iterator[Any]:
        yield http_answer(200, json.dumps({phone: {"http_status": 204} for phone in PHONES}).encode() + b" " * 3000)

    with RawServer(answer) as server:
        with pytest.raises(ThuliumAnswerTooLargeError, match="limit of 2048 bytes"):
            client(server.url, max_answer_bytes=2048).update_records(
                "00001", [{"phone_number": PHONES[0], "status_id": 1}]
            )
        result = client(server.url, max_answer_bytes=10_000).update_records(
            "00001", [{"phone_number": p, "status_id": 1} for p in PHONES]
        )
    assert statuses(result) == [None] * len(PHONES) and result[PHONES[0]] == {"http_status": 204}


# ----------------------------------------------------------------------------- splits


@pytest.mark.parametrize("status", [414, 413])
def test_a_proxy_refusing_everything_as_too_large_ends_the_run_after_a_few_requests(status):
    phones = [f"4850{n:07d}" for n in range(3000)]

    def refuse(request: RawRequest) -> Iterator[Any]:
        yield http_answer(status, b"<html>Too large</html>", {"Content-Type": "text/html"})

    with RawServer(refuse) as server:
        thulium = client(server.url, max_batch_size=1000)
        if status == 414:
            results, error = results_of(lambda: thulium.delete_records("00001", phones))
        else:
            records = [{"phone_number": p, "status_id": 2} for p in phones]
            results, error = results_of(lambda: thulium.update_records("00001", records))
    assert isinstance(error, ThuliumConfigurationError) and f"HTTP {status}" in str(error)
    assert "no size limit a proxy sets" in str(error)
    # Halved down to the 2 KiB floor, depth first: a handful of requests, not two per phone.
    assert len(server.requests) <= 12, len(server.requests)
    assert list(results) == phones
    counts = {name: statuses(results).count(name) for name in set(statuses(results))}
    assert set(counts) == {"REQUEST_FAILED", "NOT_SENT"} and counts["NOT_SENT"] > 2500


def test_splits_share_the_batch_retry_budget():
    phones = [f"4850{n:07d}" for n in range(3000)]

    def slow_refusal(request: RawRequest) -> Iterator[Any]:
        yield 0.3
        yield http_answer(414, b"")

    with RawServer(slow_refusal) as server:
        thulium = client(server.url, max_batch_size=5000, max_request_line_bytes=200_000, retry_budget=1)
        results, error = results_of(lambda: thulium.delete_records("00001", phones))
    assert isinstance(error, ThuliumUnavailableError) and "retry budget (1 s) ran out" in str(error)
    assert 3 <= len(server.requests) <= 5
    # Every request was refused, so nothing was applied: the parts left when the budget ran out are NOT_SENT.
    assert statuses(results) == ["NOT_SENT"] * len(phones)


# ----------------------------------------------------------------------------- nothing but ThuliumError


def test_retry_after_that_overflows_a_date_is_ignored_and_the_429_retried():
    answers = iter(
        [
            http_answer(429, b"", {"Retry-After": "Mon, 01 Jan 2030 99999999999999999999:00:00 GMT"}),
            http_answer(200, json.dumps({PHONES[0]: [{"http_status": 200, "status": "REMOVED"}]}).encode()),
        ]
    )
    with RawServer(lambda request: [next(answers)]) as server:
        result = client(server.url).delete_records("00001", PHONES[:1])
    assert statuses(result) == ["REMOVED"] and len(server.requests) == 2


def test_json_nested_100k_deep_is_a_response_error():
    deep = b"[" * 100_000 + b"]" * 100_000
    with RawServer(lambda request: [http_answer(200, deep)]) as server:
        with pytest.raises(ThuliumResponseError, match="nested too deeply"):
            client(server.url, max_retries=0).list_campaigns()
        results, error = results_of(lambda: client(server.url, max_retries=1).delete_records("00001", PHONES))
    assert isinstance(error, ThuliumResponseError) and "nested too deeply" in str(error)
    assert statuses(results) == ["REQUEST_FAILED"] * len(PHONES)


def test_a_missing_ca_bundle_from_the_environment_is_a_configuration_error_before_sending(monkeypatch, tmp_path):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    thulium = client("https://127.0.0.1:9")
    with pytest.raises(ThuliumConfigurationError, match="REQUESTS_CA_BUNDLE"):
        thulium.delete_records("00001", PHONES)
    with pytest.raises(ThuliumConfigurationError, match="REQUESTS_CA_BUNDLE"):
        thulium.list_campaigns()
    ok, why = thulium.check_connection()
    assert not ok and "REQUESTS_CA_BUNDLE" in why


@pytest.mark.parametrize(
    "host",
    ["http:evil.com", "http:/evil.com", "acme.thulium.com:abc", "acme.thulium.com:99999", "https://u:p@acme.com"],
)
def test_malformed_hosts_are_refused_by_every_hook_call_and_test_connection_answers(monkeypatch, host):
    set_connection(monkeypatch, "thulium_bad_host", host=host, login="api_user", password="api_pass")
    hook = ThuliumHook("thulium_bad_host")
    ok, why = hook.test_connection()
    assert not ok and "the host" in why
    with pytest.raises(ThuliumConfigurationError, match="the host"):
        hook.list_campaigns()
    with pytest.raises(ThuliumConfigurationError, match="the host"):
        hook.delete_records("00001", PHONES)


# ----------------------------------------------------------------------------- accounting


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"password": ""}, "login and password"),
        ({"host_port": ":99999"}, "port"),
    ],
)
def test_a_call_the_connection_cannot_make_sends_nothing_and_marks_nothing_interrupted(monkeypatch, fields, problem):
    answered = []
    with RawServer(lambda request: answered.append(request) or [http_answer(200, b"{}")]) as server:
        host = server.url + fields.get("host_port", "")
        set_connection(
            monkeypatch, "thulium_unusable", host=host, login="api_user", password=fields.get("password", "p")
        )
        hook = ThuliumHook("thulium_unusable")
        with pytest.raises(ThuliumConfigurationError, match=problem) as caught:
            hook.delete_records("00001", PHONES)
        # Raised by the check before any run: nothing was sent, so no phone may have been applied.
        assert caught.value.results is None
        assert not hook.test_connection()[0]
    assert answered == []


def test_an_operator_whose_connection_cannot_send_fails_before_any_run(airflow_db, monkeypatch):
    answered = []
    with RawServer(lambda request: answered.append(request) or [http_answer(200, b"{}")]) as server:
        set_connection(monkeypatch, "thulium_no_password", host=server.url, login="api_user", password="")
        with new_dag() as dag:
            ThuliumDeleteRecordsOperator(
                task_id="delete", campaign_id="00001", phone_numbers=PHONES, thulium_conn_id="thulium_no_password"
            )
        run = run_dag(dag)
    assert task_states(run) == {"delete": "failed"}
    # Checked before the run: no request, and no phone reported as possibly applied (INTERRUPTED).
    assert answered == []
    assert xcom(run, "delete") is MISSING


def test_a_run_stopped_by_an_error_before_sending_leaves_phones_not_sent():
    # The first batch cannot be built (a record that skipped the checks): nothing is on the wire.
    thulium = client("http://127.0.0.1:9")
    call = thulium.check(thulium_update(), "00001", [{"phone_number": p, "status_id": 1} for p in PHONES[:2]], False)
    call.items[0]["agent_login"] = "\ud800"
    run = thulium.start_run(call)
    with pytest.raises(UnicodeEncodeError):
        run.send(call.items)
    summary = run.results.summary()
    assert summary["outcomes"] == {"NOT_SENT": 2} and summary["requests"] == 0
    assert summary["stopped_by"] is not None and summary["stopped_by"].startswith("UnicodeEncodeError")


def thulium_update() -> Any:
    from airflow_provider_thulium.calls.operations import UPDATE

    return UPDATE


# ----------------------------------------------------------------------------- server text


def test_server_text_reaches_logs_and_errors_on_one_line_with_numbers_masked(log):
    logger, handler = log
    answer = {
        PHONES[0]: [{"http_status": 409, "status": "CALL_IN_PROGRESS\n[ERROR] forged line 48500100299"}],
        PHONES[1]: [{"http_status": 400, "status": "+48 500 100 298"}],
        PHONES[2]: [{"http_status": 400, "status": "BAD", "message": "(48) 500-100-297\r\nnext"}],
        PHONES[3]: [{"http_status": 400, "status": ["deep" * 100] * 100}],
    }
    with RawServer(lambda request: [http_answer(200, json.dumps(answer).encode())]) as server:
        thulium = client(server.url, log=logger)
        with pytest.raises(ThuliumPhoneFailuresError) as caught:
            thulium.delete_records("00001", PHONES[:4], policy=OutcomePolicy(fail_on_failed_phones=True))
    text = "\n".join([*handler.lines, str(caught.value)])
    for line in [*handler.lines, str(caught.value)]:
        assert "\n" not in line and "\r" not in line
    for number in ("48500100299", "500 100 298", "500-100-297"):
        assert number not in text
    assert "…299" in text and "…298" in text and "…297" in text
    # XCom keeps what the server said.
    assert caught.value.results[PHONES[1]][0]["status"] == "+48 500 100 298"


def test_error_bodies_and_request_ids_are_shown_safely(log):
    logger, handler = log
    body = {
        "request_id": "abc\n[ERROR] forged 48500100299",
        "errors": [{"message": "Number +48 500 100 299 is\nblocked", "code": [[[[1]]]]}] * 30,
    }
    with RawServer(lambda request: [http_answer(400, json.dumps(body).encode())]) as server:
        results, error = results_of(lambda: client(server.url, log=logger).delete_records("00001", PHONES[:1]))
    assert error is None  # a 400 is about this batch only
    message = results[PHONES[0]][0]["message"]
    assert "\n" not in message and "48500100299" not in message and "500 100 299" not in message
    assert "request_id=abc [ERROR] forged …299" in message and "(and 15 more)" in message
    assert all("\n" not in line and "500 100 299" not in line for line in handler.lines)


def test_hex_request_ids_are_kept_whole():
    rid = "666a433a9deb455594355da65bd39eb7"
    with RawServer(lambda request: [http_answer(503, json.dumps({"request_id": rid}).encode())]) as server:
        _, error = results_of(lambda: client(server.url, max_retries=0).delete_records("00001", PHONES[:1]))
    assert error is not None and f"request_id={rid}" in str(error) and error.request_id == rid


# ----------------------------------------------------------------------------- two spellings


def test_one_number_in_two_spellings_is_refused_before_sending():
    refused = pytest.raises(ThuliumError, match=r"phone_numbers\[1\].*same number as phone_numbers\[0\]")
    with RawServer(lambda request: [http_answer(200, b"{}"), CLOSE]) as server, refused:
        client(server.url).delete_records("00001", ["48500100201", "+48500100201"])
    assert server.requests == []
