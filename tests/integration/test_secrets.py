"""No credential and no full phone number leaks into logs, XComs or error messages.

The hook and both operators run with a distinctive password, through successes and failures
(401, 404, per-phone failures, validation errors, retries, an unreachable server). Everything
they print is captured: ``caplog`` at DEBUG for every logger (the provider's, Airflow's and the
libraries' underneath, urllib3 included), and ``capfd`` for what reaches file descriptors 1 and 2
(Airflow 3's ``dag.test()`` sends task logs through structlog to stdout). The password must appear
nowhere, in clear, URL-encoded or as its Basic-auth header value ``base64(login:password)``; the
logs must show phone numbers only masked (``…123``). XComs hold full phone numbers by design (they
are the per-phone results), so only the password is looked for there.
"""

from __future__ import annotations

import base64
import json
import logging
import traceback
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from airflow_provider_thulium.exceptions import ThuliumError, ThuliumValidationError
from airflow_provider_thulium.hooks.thulium import ThuliumHook
from airflow_provider_thulium.operators.thulium import ThuliumDeleteRecordsOperator, ThuliumUpdateRecordsOperator
from airflow_provider_thulium.sandbox import Fault
from airflow_provider_thulium.testing import MISSING, run_dag, task_states, xcom
from tests.helpers import FAST_RETRIES, RawRequest, RawServer, all_logs, http_answer, new_dag, set_connection

LOGIN = "api_user"
SECRET = "Tul1p#Quartz/9-vEry&distinct"
CAMPAIGN = "00055"
PHONES = [f"4879{n:07d}" for n in range(12)]
UNKNOWN = "48790999999"  # not in the campaign: a per-phone failure of an update
FAST = {**FAST_RETRIES, "max_batch_size": 4}


def forbidden_secrets() -> list[str]:
    basic = base64.b64encode(f"{LOGIN}:{SECRET}".encode()).decode()
    return [SECRET, quote(SECRET, safe=""), basic, base64.b64encode(SECRET.encode()).decode()]


def assert_clean(text: str, where: str, *, phones: bool = True) -> None:
    for secret in forbidden_secrets():
        assert secret not in text, f"the password leaked into {where}"
    if phones:
        leaked = [phone for phone in [*PHONES, UNKNOWN] if phone in text]
        assert not leaked, f"full phone numbers in {where}: {leaked[:3]}"


@pytest.fixture
def secret_sandbox(thulium_sandbox, monkeypatch):
    thulium_sandbox.state.set_password(LOGIN, SECRET)
    thulium_sandbox.state.add_campaign(CAMPAIGN, "Secrets", fields={"note"})
    thulium_sandbox.state.bulk_add(CAMPAIGN, PHONES)
    monkeypatch.setenv("AIRFLOW_CONN_THULIUM_DEFAULT", thulium_sandbox.connection_json())
    assert json.loads(thulium_sandbox.connection_json())["password"] == SECRET
    return thulium_sandbox


@pytest.fixture
def capture_everything(caplog):
    # Root at DEBUG: the provider's loggers, Airflow's, and urllib3's request lines.
    caplog.set_level(logging.DEBUG)
    for name in ("airflow", "airflow.task", "airflow_provider_thulium", "urllib3"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def test_hook_calls_leak_nothing(secret_sandbox, thulium_sandbox_factory, monkeypatch, capture_everything, capfd):
    errors: list[BaseException] = []
    hook = ThuliumHook(**FAST)

    # Successes, with retries on the way (their warnings quote the failure).
    secret_sandbox.add_fault(Fault(status=503))
    secret_sandbox.add_fault(Fault(truncate=True, apply=False))
    secret_sandbox.add_fault(Fault(drop=True, apply=False))
    deleted = hook.delete_records(CAMPAIGN, PHONES[:6])
    assert all(entry[0]["status"] == "REMOVED" for entry in deleted.values())
    updated = hook.update_records(CAMPAIGN, [{"phone_number": p, "status_id": 2} for p in [*PHONES[6:], UNKNOWN]])
    assert updated[UNKNOWN]["http_status"] == 404
    assert hook.test_connection()[0]

    # Failures: an unknown campaign, a validation error, 401, a server that is not there.
    for call in (
        lambda: hook.delete_records("99999", PHONES),
        lambda: hook.delete_records(CAMPAIGN, [*PHONES, "4879x000001"]),
        lambda: hook.update_records(CAMPAIGN, [{"phone_number": PHONES[0], "next_call_date": "tomorrow"}]),
    ):
        with pytest.raises(ThuliumError) as caught:
            call()
        errors.append(caught.value)
    assert isinstance(errors[1], ThuliumValidationError)

    other = thulium_sandbox_factory()  # its API user keeps the default password: ours is refused
    monkeypatch.setenv(
        "AIRFLOW_CONN_THULIUM_OTHER",
        json.dumps({"conn_type": "thulium", "host": other.url, "login": LOGIN, "password": SECRET}),
    )
    with pytest.raises(ThuliumError) as caught:
        ThuliumHook("thulium_other", **FAST).delete_records(CAMPAIGN, PHONES)
    errors.append(caught.value)
    ok, message = ThuliumHook("thulium_other").test_connection()
    assert not ok
    other.stop()
    with pytest.raises(ThuliumError) as caught:
        ThuliumHook("thulium_other", max_retries=1, **FAST).delete_records(CAMPAIGN, PHONES)
    errors.append(caught.value)
    assert [e.status_code for e in errors] == [404, None, None, 401, None]

    for error in errors:
        text = "".join(traceback.format_exception(error))
        assert_clean(text, f"the {type(error).__name__} message")
        assert_clean(repr(error.args), "the exception's args")
    assert_clean(message, "test_connection's message")
    logs = all_logs(capture_everything, capfd)
    assert f"…{PHONES[0][-3:]}" in logs  # phones do appear in the logs, masked
    assert "urllib3.connectionpool DEBUG" in logs and "?…" in logs  # urllib3 did log, without queries
    assert_clean(logs, "the logs")


@pytest.mark.usefixtures("airflow_db")
def test_operator_runs_leak_nothing(secret_sandbox, thulium_sandbox_factory, monkeypatch, capture_everything, capfd):
    other = thulium_sandbox_factory()  # refuses our password: 401
    monkeypatch.setenv(
        "AIRFLOW_CONN_THULIUM_OTHER",
        json.dumps({"conn_type": "thulium", "host": other.url, "login": LOGIN, "password": SECRET}),
    )
    secret_sandbox.add_fault(Fault(status=503, method="DELETE"))
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(
            task_id="delete_ok", campaign_id=CAMPAIGN, phone_numbers=PHONES[:4], hook_params=FAST
        )
        ThuliumUpdateRecordsOperator(
            task_id="update_per_phone_failure",
            campaign_id=CAMPAIGN,
            records=[{"phone_number": p, "status_id": 2} for p in [*PHONES[4:8], UNKNOWN]],
            hook_params=FAST,
        )
        ThuliumDeleteRecordsOperator(
            task_id="delete_unknown_campaign", campaign_id="99999", phone_numbers=PHONES[8:], hook_params=FAST
        )
        ThuliumDeleteRecordsOperator(
            task_id="delete_401",
            campaign_id=CAMPAIGN,
            phone_numbers=PHONES[8:],
            thulium_conn_id="thulium_other",
            hook_params=FAST,
        )
        ThuliumUpdateRecordsOperator(
            task_id="update_invalid",
            campaign_id=CAMPAIGN,
            records=[{"phone_number": PHONES[9], "status_id": 2}, {"phone_number": PHONES[10] + "x", "status_id": 2}],
            hook_params=FAST,
        )
        ThuliumDeleteRecordsOperator(
            task_id="delete_invalid", campaign_id=CAMPAIGN, phone_numbers=[PHONES[11], None], hook_params=FAST
        )
    run = run_dag(dag)

    assert task_states(run) == {
        "delete_ok": "success",
        "update_per_phone_failure": "failed",
        "delete_unknown_campaign": "failed",
        "delete_401": "failed",
        "update_invalid": "failed",
        "delete_invalid": "failed",
    }
    assert xcom(run, "delete_401", "summary")["stopped_by"]  # the 401 did happen
    for task_id in task_states(run):
        for key in ("return_value", "summary"):
            value = xcom(run, task_id, key)
            if value is not MISSING:
                assert_clean(json.dumps(value), f"the {key} XCom of {task_id}", phones=False)
    summary = xcom(run, "delete_unknown_campaign", "summary")
    assert_clean(summary["stopped_by"], "the stop reason")
    logs = all_logs(capture_everything, capfd)
    assert "ThuliumPhoneFailuresError" in logs and "ThuliumValidationError" in logs  # the failures were logged
    assert "…" in logs
    assert_clean(logs, "the task logs")


def _echoing(request: RawRequest) -> list[bytes]:
    """A server (or proxy) that echoes the Authorization header it was sent, in every place it can."""
    echoed = request.headers.get("authorization", "")
    token = echoed.removeprefix("Basic ")
    if request.method == "GET":  # the campaign list of test_connection: a 401 quoting the header
        body = {"request_id": echoed, "errors": [{"message": f"bad header {echoed}", "code": 401}]}
        return [http_answer(401, json.dumps(body).encode(), {"X-Request-Id": echoed, "WWW-Authenticate": token})]
    query = parse_qs(urlsplit(request.target).query)
    phones = query["phone_number[]"]
    if phones[0] == PHONES[0]:  # the first batch: answered per phone, the header quoted (and \/-escaped)
        entry = {"http_status": 400, "status": "FAILED", "message": f"{echoed} / {token.replace('/', chr(92) + '/')}"}
        return [http_answer(200, json.dumps({phone: [entry] for phone in phones}).encode(), {"X-Echo": echoed})]
    # The second: a proxy's 502 quoting it in its body and headers, for ever (retried, then failed).
    body = json.dumps({"errors": [{"message": f"upstream refused {echoed}"}], "request_id": token}).encode()
    return [http_answer(502, body, {"X-Request-Id": token, "Via": echoed})]


@pytest.mark.usefixtures("airflow_db")
def test_8_a_server_echoing_the_authorization_header_leaks_it_nowhere(tmp_path, monkeypatch, capture_everything, capfd):
    # The finding: base64(login:password) echoed by a server reached the exception, the task log,
    # XCom and the results file; only the password itself was looked for.
    results_path = tmp_path / "results.jsonl"
    with RawServer(_echoing) as server:
        set_connection(monkeypatch, "thulium_echo", host=server.url, login=LOGIN, password=SECRET)
        with new_dag() as dag:
            ThuliumDeleteRecordsOperator(
                task_id="delete",
                campaign_id=CAMPAIGN,
                phone_numbers=PHONES[:8],
                thulium_conn_id="thulium_echo",
                hook_params={**FAST, "max_retries": 1},
                results_path=str(results_path),
            )
        run = run_dag(dag)
        hook = ThuliumHook("thulium_echo", **FAST)
        ok, why = hook.test_connection()
        with pytest.raises(ThuliumError) as caught:
            hook.delete_records(CAMPAIGN, PHONES[4:8])
    assert task_states(run) == {"delete": "failed"} and ok is False
    assert any(request.headers.get("authorization") for request in server.requests)
    assert_clean(results_path.read_text(), "the results file", phones=False)
    assert_clean(json.dumps([xcom(run, "delete", "summary"), xcom(run, "delete")]), "XCom", phones=False)
    assert_clean(why, "test_connection's answer")
    error = caught.value
    assert_clean(
        f"{error} {error.request_id} {error.api_messages} {json.dumps(error.results)}", "the error", phones=False
    )
    assert_clean(all_logs(capture_everything, capfd), "the logs")
