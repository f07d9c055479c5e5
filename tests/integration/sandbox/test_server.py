"""Tests of the Thulium sandbox, over real HTTP on loopback."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_thulium.sandbox import Fault, ThuliumSandbox

CAMPAIGN = "00001"
REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def sandbox() -> Iterator[ThuliumSandbox]:
    with ThuliumSandbox() as running:
        yield running


@pytest.fixture
def session(sandbox: ThuliumSandbox) -> requests.Session:
    client = requests.Session()
    client.auth = (sandbox.login, sandbox.password)
    return client


def api(sandbox: ThuliumSandbox, path: str) -> str:
    return f"{sandbox.url}/api/{path}"


def delete(session: requests.Session, sandbox: ThuliumSandbox, phones: list[str], **params: Any) -> requests.Response:
    return session.delete(
        api(sandbox, f"batch/outbounds/{CAMPAIGN}/records"),
        params={"phone_number[]": phones, **params},
        timeout=10,
    )


def put(
    session: requests.Session, sandbox: ThuliumSandbox, records: list[dict[str, Any]], **params: Any
) -> requests.Response:
    return session.put(
        api(sandbox, f"batch/outbounds/{CAMPAIGN}/records"),
        params=params,
        json={"records": records},
        timeout=10,
    )


def assert_error_body(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["request_id"] == response.headers["X-Request-Id"]
    assert len(body["request_id"]) == 32
    assert body["errors"] and body["errors"][0]["code"] == status
    return body


# ---------------------------------------------------------------------------- auth and reads


def test_missing_or_bad_credentials_answer_401_with_error_body(sandbox: ThuliumSandbox) -> None:
    anonymous = requests.get(api(sandbox, "outbounds"), timeout=10)
    assert_error_body(anonymous, 401)
    assert "Basic" in anonymous.headers["WWW-Authenticate"]
    wrong = requests.get(api(sandbox, "outbounds"), auth=("api_user", "nope"), timeout=10)
    assert_error_body(wrong, 401)
    assert wrong.json()["request_id"] != anonymous.json()["request_id"]


def test_limited_user_is_denied_listing_but_may_delete(sandbox: ThuliumSandbox) -> None:
    limited = ("limited_user", "limited_pass")
    body = assert_error_body(requests.get(api(sandbox, "outbounds"), auth=limited, timeout=10), 403)
    assert body["errors"][0]["message"] == "Permission denied for this API method."
    allowed = requests.delete(
        api(sandbox, f"batch/outbounds/{CAMPAIGN}/records"),
        params={"phone_number[]": "48500100200"},
        auth=limited,
        timeout=10,
    )
    assert allowed.status_code == 207


def test_reads(session: requests.Session, sandbox: ThuliumSandbox) -> None:
    listed = session.get(api(sandbox, "outbounds"), timeout=10)
    assert listed.status_code == 200
    assert {"id": "00001", "name": "Demo outbound campaign"} in listed.json()

    statuses = session.get(api(sandbox, f"outbounds/{CAMPAIGN}/statuses"), timeout=10).json()
    assert {"status_id": "4", "dictionary_status_id": None, "name": "My record", "system_status": "MY_RECORD"} in (
        statuses
    )

    page = session.get(api(sandbox, f"outbounds/{CAMPAIGN}/records"), params={"limit": 5, "offset": 10}).json()
    assert page["count"] == 12
    assert len(page["result"]) == 2
    too_many = session.get(api(sandbox, f"outbounds/{CAMPAIGN}/records"), params={"limit": 101}, timeout=10)
    assert_error_body(too_many, 400)

    missing = session.get(api(sandbox, "outbounds/99999/statuses"), timeout=10)
    assert assert_error_body(missing, 404)["errors"][0]["message"] == "Outbound campaign not found."
    assert_error_body(session.get(api(sandbox, "nothing/here"), timeout=10), 404)


# ---------------------------------------------------------------------------- DELETE


def test_delete_semantics_and_state_afterwards(session: requests.Session, sandbox: ThuliumSandbox) -> None:
    state = sandbox.state
    in_call_id = state.find(CAMPAIGN, "48500100203")[0]["record_id"]
    answer = delete(session, sandbox, ["48500100201", "48500100203", "48500100299", "48599999999", "48500100201"])
    assert answer.status_code == 207
    body = answer.json()
    assert list(body) == ["48500100201", "48500100203", "48500100299", "48599999999"]
    assert [entry["status"] for entry in body["48500100201"]] == ["REMOVED", "REMOVED"]
    assert all(entry["http_status"] == 200 for entry in body["48500100201"])
    assert body["48500100203"] == [{"http_status": 409, "record_id": in_call_id, "status": "CALL_IN_PROGRESS"}]
    # An additional number only matches with the flag.
    assert body["48500100299"] == [{"http_status": 404, "status": "NOT_EXIST"}]
    assert body["48599999999"] == [{"http_status": 404, "status": "NOT_EXIST"}]

    assert state.find(CAMPAIGN, "48500100201") == []
    assert len(state.find(CAMPAIGN, "48500100203")) == 1
    assert len(state.records(CAMPAIGN)) == 10
    # The other campaign shares 48500100200 and must not be touched by deletes in 00001.
    assert len(state.find("00002", "48500100200")) == 1

    flagged = session.delete(
        api(sandbox, f"batch/outbounds/{CAMPAIGN}/records/"),  # trailing slash, as in the vendor's example
        params={"phone_number[]": ["48500100299"], "search_in_additional_numbers": "true"},
        timeout=10,
    )
    assert flagged.json()["48500100299"][0]["status"] == "REMOVED"
    assert state.find(CAMPAIGN, "48500100202") == []


def test_delete_requires_phone_numbers_and_honours_batch_status() -> None:
    with ThuliumSandbox(batch_status=200) as sandbox:
        client = requests.Session()
        client.auth = (sandbox.login, sandbox.password)
        assert delete(client, sandbox, ["48500100200"]).status_code == 200
        bare = client.delete(api(sandbox, f"batch/outbounds/{CAMPAIGN}/records"), timeout=10)
        assert_error_body(bare, 400)
        assert_error_body(delete(client, sandbox, ["1"], search_in_additional_numbers="maybe"), 400)
    with pytest.raises(ValueError):
        ThuliumSandbox(batch_status=204)


# ---------------------------------------------------------------------------- PUT


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"phone_number": "48500100200", "colour": "red"}, "Unknown parameter: colour."),
        ({"phone_number": "48500100200", "status_id": "99"}, "Status not found."),
        ({"phone_number": "48500100200", "agent_login": "nobody"}, "Agent not found."),
        ({"phone_number": "48500100200", "next_call_date": "2030-01-01T10:00"}, "YYYY-MM-DD hh:mm"),
        ({"phone_number": "48500100200", "next_call_date": "2030-02-30 10:00"}, "YYYY-MM-DD hh:mm"),
        (
            {"phone_number": "48500100200", "status_id": 4, "next_call_date": "2030-01-01 10:00"},
            "agent_login is required",
        ),
        ({"phone_number": "48500100200", "status_id": "4", "agent_login": "j.doe"}, "next_call_date is required"),
        ({"phone_number": "48500100200", "status_id": "5"}, "CALL_NO_SOONER_THAN"),
        ({"phone_number": "48500100200", "record_fields": {"colour": "red"}}, "Unknown record field: colour."),
        ({"phone_number": "48500100201", "status_id": "2"}, "Duplicated phone number"),
    ],
)
def test_update_rejections(
    session: requests.Session, sandbox: ThuliumSandbox, record: dict[str, Any], message: str
) -> None:
    before = sandbox.state.records(CAMPAIGN)
    answer = put(session, sandbox, [record])
    assert answer.status_code == 207
    result = answer.json()[record["phone_number"]]
    assert result["http_status"] == 400
    assert message in result["message"]
    assert sandbox.state.records(CAMPAIGN) == before


def test_update_applies_whole_records_only(session: requests.Session, sandbox: ThuliumSandbox) -> None:
    records: list[dict[str, Any]] = [
        {
            "phone_number": "48500100200",
            "status_id": "4",
            "agent_login": "a.smith",
            "next_call_date": "2030-03-01 09:15",
            "record_fields": {"note": "call back"},
        },
        # Valid field plus an invalid agent: nothing of this record may be applied.
        {"phone_number": "48500100204", "record_fields": {"note": "x"}, "agent_login": "nobody"},
        {"phone_number": "48500100299", "status_id": "2"},
        # MY_RECORD with the agent already on the record.
        {"phone_number": "48500100205", "status_id": 4, "next_call_date": "2030-04-01 08:00"},
    ]
    answer = put(session, sandbox, records)
    assert answer.status_code == 207
    assert answer.json() == {
        "48500100200": {"http_status": 204},
        "48500100204": {"http_status": 400, "message": "Agent not found."},
        "48500100299": {"http_status": 404, "message": "Record not found."},
        "48500100205": {"http_status": 204},
    }
    updated = sandbox.state.find(CAMPAIGN, "48500100200")[0]
    assert updated["status_id"] == 4
    assert updated["agent_login"] == "a.smith"
    assert updated["next_call_date"] == "2030-03-01 09:15"
    assert updated["record_fields"] == {"crm_id": "C-1000", "segment": "retail", "note": "call back"}
    assert sandbox.state.find(CAMPAIGN, "48500100204")[0]["record_fields"] == {}

    by_additional = put(
        session, sandbox, [{"phone_number": "48500100299", "status_id": "3"}], search_in_additional_numbers="true"
    )
    assert by_additional.json() == {"48500100299": {"http_status": 204}}
    assert sandbox.state.find(CAMPAIGN, "48500100202")[0]["status_id"] == 3


def test_update_rejects_malformed_bodies(session: requests.Session, sandbox: ThuliumSandbox) -> None:
    url = api(sandbox, f"batch/outbounds/{CAMPAIGN}/records")
    headers = {"Content-Type": "application/json"}
    assert_error_body(session.put(url, data=b"{not json", headers=headers, timeout=10), 400)
    assert_error_body(session.put(url, json=[{"phone_number": "1"}], timeout=10), 400)
    assert_error_body(session.put(url, json={"records": [{"status_id": "2"}]}, timeout=10), 400)
    missing = session.put(api(sandbox, "batch/outbounds/99999/records"), json={"records": []}, timeout=10)
    assert_error_body(missing, 404)


# ---------------------------------------------------------------------------- proxy limits and log


def test_request_line_and_body_limits(session: requests.Session, sandbox: ThuliumSandbox) -> None:
    phones = [f"485{n:08d}" for n in range(800)]  # ~17 KiB of query string
    too_long = delete(session, sandbox, phones)
    assert_error_body(too_long, 414)
    assert len(sandbox.state.records(CAMPAIGN)) == 12

    big = {"records": [{"phone_number": "48500100200", "record_fields": {"note": "x" * 1_100_000}}]}
    too_big = session.put(api(sandbox, f"batch/outbounds/{CAMPAIGN}/records"), json=big, timeout=10)
    assert_error_body(too_big, 413)

    log = sandbox.requests
    assert [entry.status for entry in log] == [414, 413]
    assert log[0].request_line_bytes > 8192
    assert log[0].method == "DELETE"
    assert log[1].body_bytes > 1_048_576
    # The sandbox keeps serving after closing those connections.
    assert session.get(api(sandbox, "outbounds"), timeout=10).status_code == 200


def test_request_log(session: requests.Session, sandbox: ThuliumSandbox) -> None:
    delete(session, sandbox, ["48500100200", "48500100206"], search_in_additional_numbers="false")
    put(session, sandbox, [{"phone_number": "48500100207", "status_id": "2"}])
    first, second = sandbox.requests
    assert first.method == "DELETE"
    assert first.path == f"/api/batch/outbounds/{CAMPAIGN}/records"
    assert first.query == {
        "phone_number[]": ["48500100200", "48500100206"],
        "search_in_additional_numbers": ["false"],
    }
    assert first.user == "api_user"
    assert first.body is None
    assert first.status == 207
    assert first.request_line_bytes == len(f"DELETE {first.path}?") + len(
        "phone_number%5B%5D=48500100200&phone_number%5B%5D=48500100206&search_in_additional_numbers=false"
    ) + len(" HTTP/1.1")
    assert second.body == {"records": [{"phone_number": "48500100207", "status_id": "2"}]}
    assert second.body_bytes == len(json.dumps(second.body))
    sandbox.clear_requests()
    assert sandbox.requests == [] and sandbox.request_count == 0

    with ThuliumSandbox(record_requests=False) as quiet:
        requests.get(api(quiet, "outbounds"), timeout=10)
        assert quiet.requests == [] and quiet.request_count == 1


# ---------------------------------------------------------------------------- faults


def test_fault_status_with_retry_after_does_not_apply(session: requests.Session, sandbox: ThuliumSandbox) -> None:
    fault = sandbox.add_fault(Fault(status=503, retry_after="2", method="DELETE"))
    # A GET does not match the fault's method and goes through.
    assert session.get(api(sandbox, "outbounds"), timeout=10).status_code == 200
    answer = delete(session, sandbox, ["48500100200"])
    assert_error_body(answer, 503)
    assert answer.headers["Retry-After"] == "2"
    assert len(sandbox.state.find(CAMPAIGN, "48500100200")) == 1
    assert fault.fired == 1
    assert delete(session, sandbox, ["48500100200"]).status_code == 207


def test_fault_drop(session: requests.Session, sandbox: ThuliumSandbox) -> None:
    sandbox.add_fault(Fault(drop=True))
    with pytest.raises(requests.ConnectionError):
        delete(session, sandbox, ["48500100200"])
    assert sandbox.state.find(CAMPAIGN, "48500100200") == []  # applied before dropping
    assert sandbox.requests[-1].status == 0

    sandbox.add_fault(Fault(drop=True, apply=False))
    with pytest.raises(requests.ConnectionError):
        delete(session, sandbox, ["48500100204"])
    assert len(sandbox.state.find(CAMPAIGN, "48500100204")) == 1


def test_fault_delay_applies_then_answers_late(session: requests.Session, sandbox: ThuliumSandbox) -> None:
    sandbox.add_fault(Fault(delay=0.6))
    with pytest.raises(requests.Timeout):
        session.delete(
            api(sandbox, f"batch/outbounds/{CAMPAIGN}/records"),
            params={"phone_number[]": "48500100200"},
            timeout=0.2,
        )
    assert sandbox.state.find(CAMPAIGN, "48500100200") == []


def test_fault_html_body(session: requests.Session, sandbox: ThuliumSandbox) -> None:
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    sandbox.add_fault(Fault(status=502, body=page, apply=False))
    answer = delete(session, sandbox, ["48500100200"])
    assert answer.status_code == 502
    assert answer.headers["Content-Type"].startswith("text/html")
    assert answer.text == page
    assert len(sandbox.state.find(CAMPAIGN, "48500100200")) == 1

    sandbox.add_fault(Fault(body="<html>maintenance</html>"))
    applied = delete(session, sandbox, ["48500100200"])
    assert applied.status_code == 200 and "maintenance" in applied.text
    assert sandbox.state.find(CAMPAIGN, "48500100200") == []


def test_fault_truncate(session: requests.Session, sandbox: ThuliumSandbox) -> None:
    sandbox.add_fault(Fault(truncate=True, apply=False))
    cut = delete(session, sandbox, ["48500100200", "48500100204"])
    assert cut.status_code == 207
    with pytest.raises(ValueError):
        cut.json()
    assert cut.text.startswith('{"48500100200":[{"http_status":200')
    assert len(sandbox.state.find(CAMPAIGN, "48500100200")) == 1

    sandbox.add_fault(Fault(truncate=True))
    with pytest.raises(ValueError):
        delete(session, sandbox, ["48500100200"]).json()
    assert sandbox.state.find(CAMPAIGN, "48500100200") == []


def test_fault_after_and_times_and_path(session: requests.Session, sandbox: ThuliumSandbox) -> None:
    fault = sandbox.add_fault(Fault(status=500, after=1, times=2, path="/records"))
    statuses = [delete(session, sandbox, [f"4850010020{n}"]).status_code for n in (6, 7, 8, 9)]
    assert statuses == [207, 500, 500, 207]
    assert fault.fired == 2
    # Not matching the path: never affected.
    assert session.get(api(sandbox, "outbounds"), timeout=10).status_code == 200
    sandbox.add_fault(Fault(status=500, times=5))
    sandbox.clear_faults()
    assert session.get(api(sandbox, "outbounds"), timeout=10).status_code == 200


def test_fault_action_changes_state_for_this_request(session: requests.Session, sandbox: ThuliumSandbox) -> None:
    sandbox.add_fault(Fault(action=lambda sb: sb.state.set_password("api_user", "rotated")))
    assert_error_body(session.get(api(sandbox, "outbounds"), timeout=10), 401)
    assert sandbox.password == "rotated"
    assert json.loads(sandbox.connection_json())["password"] == "rotated"

    session.auth = ("api_user", "rotated")
    sandbox.add_fault(Fault(method="DELETE", action=lambda sb: sb.state.delete_campaign(CAMPAIGN)))
    assert_error_body(delete(session, sandbox, ["48500100200"]), 404)


# ---------------------------------------------------------------------------- TLS, control, CLI


def test_tls_verifies_only_with_the_ca_bundle() -> None:
    with ThuliumSandbox(tls=True) as sandbox:
        assert sandbox.url.startswith("https://127.0.0.1:")
        assert sandbox.ca_bundle is not None and os.path.exists(sandbox.ca_bundle)
        answer = requests.get(
            api(sandbox, "outbounds"), auth=(sandbox.login, sandbox.password), verify=sandbox.ca_bundle, timeout=10
        )
        assert answer.status_code == 200
        localhost = sandbox.url.replace("127.0.0.1", "localhost")
        assert requests.get(f"{localhost}/api/outbounds", verify=sandbox.ca_bundle, timeout=10).status_code == 401
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(api(sandbox, "outbounds"), timeout=10)
        bundle = sandbox.ca_bundle
        assert "verify" not in json.loads(sandbox.connection_json())
    assert not os.path.exists(bundle)


def test_control_endpoints(sandbox: ThuliumSandbox) -> None:
    base = f"{sandbox.url}/_sandbox"
    snapshot = requests.get(f"{base}/state", timeout=10).json()
    assert set(snapshot["campaigns"]) == {"00001", "00002"}
    added = requests.post(
        f"{base}/campaigns/{CAMPAIGN}/records", json=[{"phone_number": "48511111111"}], timeout=10
    ).json()
    assert added["added"] == 1
    listed = requests.get(f"{base}/campaigns/{CAMPAIGN}/records", timeout=10).json()
    assert listed[-1]["phone_number"] == "48511111111"

    posted = requests.post(f"{base}/faults", json=[{"status": 429, "retry_after": "1"}], timeout=10)
    assert posted.json() == {"added": 1}
    limited = requests.get(api(sandbox, "outbounds"), auth=(sandbox.login, sandbox.password), timeout=10)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    bad_fault = requests.post(f"{base}/faults", json=[{"action": "boom"}], timeout=10)
    assert bad_fault.status_code == 400
    assert requests.delete(f"{base}/faults", timeout=10).status_code == 200

    assert requests.post(f"{base}/reset", json={"seed": "empty"}, timeout=10).status_code == 200
    assert sandbox.state.snapshot()["campaigns"] == {}
    # Control requests are not part of the API log.
    assert [entry.status for entry in sandbox.requests] == []


def test_bulk_add_and_stop_is_idempotent() -> None:
    sandbox = ThuliumSandbox(seed="empty").start()
    sandbox.state.add_campaign("00010", "bench")
    assert sandbox.state.bulk_add("00010", (f"486{n:08d}" for n in range(5_000))) == 5_000
    client = requests.Session()
    client.auth = (sandbox.login, sandbox.password)
    answer = client.delete(
        f"{sandbox.url}/api/batch/outbounds/00010/records",
        params={"phone_number[]": [f"486{n:08d}" for n in range(0, 5_000, 100)]},
        timeout=10,
    )
    assert len(answer.json()) == 50
    assert len(sandbox.state.records("00010")) == 4_950
    url = sandbox.url
    sandbox.stop()
    sandbox.stop()
    with pytest.raises(requests.ConnectionError):
        client.get(f"{url}/api/outbounds", timeout=2)


def test_cli_prints_connection_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_thulium.sandbox", "--port", "0", "--seed", "empty"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: dict[str, str] = {}
        deadline = time.monotonic() + 15
        while "AIRFLOW_CONN_THULIUM_DEFAULT" not in lines and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            line = line.strip().removeprefix("export ")
            key, _, value = line.partition(": " if not line.startswith("AIRFLOW_CONN") else "=")
            lines[key] = shlex.split(value)[0] if key.startswith("AIRFLOW_CONN") else value
        url = lines["URL"]
        assert url.startswith("http://127.0.0.1:")
        connection = json.loads(lines["AIRFLOW_CONN_THULIUM_DEFAULT"])
        assert connection == {"conn_type": "thulium", "host": url, "login": "api_user", "password": "api_pass"}
        assert requests.get(f"{url}/api/outbounds", auth=("api_user", "api_pass"), timeout=10).json() == []
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
