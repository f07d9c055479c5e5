"""The sandbox as a safe test tool: control endpoints only for loopback JSON requests, checked fault
values, a CLI that does not collide with Airflow and says clearly when it is exposed."""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_thulium.sandbox import Fault, ThuliumSandbox
from airflow_provider_thulium.sandbox.describe import describe_markdown
from airflow_provider_thulium.sandbox.server import CONTROL_ENDPOINTS

REPO_ROOT = Path(__file__).resolve().parents[3]
CLI = [sys.executable, "-m", "airflow_provider_thulium.sandbox"]


@pytest.fixture
def sandbox() -> Iterator[ThuliumSandbox]:
    with ThuliumSandbox() as running:
        yield running


def control(sandbox: ThuliumSandbox, path: str) -> str:
    return f"{sandbox.url}/_sandbox/{path}"


def error_message(response: requests.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["request_id"] == response.headers["X-Request-Id"]
    message: str = body["errors"][0]["message"]
    return message


# ---------------------------------------------------------------------------- control endpoints


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:80", "localhost.evil.example", "127.0.0.1.nip.io", "10.0.0.1", "[::2]", "", "::1"],
)
def test_control_refuses_a_host_that_is_not_loopback(sandbox: ThuliumSandbox, host: str) -> None:
    answer = requests.get(control(sandbox, "state"), headers={"Host": host}, timeout=10)
    message = error_message(answer, 403)
    assert "loopback" in message and "Host" in message
    posted = requests.post(control(sandbox, "reset"), json={"seed": "empty"}, headers={"Host": host}, timeout=10)
    assert posted.status_code == 403
    assert set(sandbox.state.campaigns) == {"00001", "00002"}


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST:8765", "127.0.0.1", "127.1.2.3:80", "[::1]", "[::1]:8765"])
def test_control_answers_a_loopback_host(sandbox: ThuliumSandbox, host: str) -> None:
    answer = requests.get(control(sandbox, "state"), headers={"Host": host}, timeout=10)
    assert answer.status_code == 200
    assert set(answer.json()["campaigns"]) == {"00001", "00002"}


def test_api_endpoints_do_not_care_about_the_host(sandbox: ThuliumSandbox) -> None:
    answer = requests.get(
        f"{sandbox.url}/api/outbounds",
        auth=(sandbox.login, sandbox.password),
        headers={"Host": "acme.thulium.com"},
        timeout=10,
    )
    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("seed=empty", "application/x-www-form-urlencoded"),
        ('{"seed": "empty"}', "text/plain"),
        ('{"seed": "empty"}', "multipart/form-data; boundary=x"),
        ('{"seed": "empty"}', None),
        ("", "application/x-www-form-urlencoded"),  # an empty form post
        ("", None),  # a bodiless POST, as fetch(..., {mode: "no-cors"}) can send
    ],
)
def test_control_refuses_a_post_that_is_not_json(sandbox: ThuliumSandbox, data: str, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    answer = requests.post(control(sandbox, "reset"), data=data.encode(), headers=headers, timeout=10)
    message = error_message(answer, 403)
    assert "Content-Type: application/json" in message
    assert set(sandbox.state.campaigns) == {"00001", "00002"}
    faults = requests.post(control(sandbox, "faults"), data=b'{"status": 500}', headers=headers, timeout=10)
    assert faults.status_code == 403 and sandbox.faults == []


def test_control_takes_json_and_bodiless_reads_and_deletes(sandbox: ThuliumSandbox) -> None:
    headers = {"Content-Type": "application/json; charset=utf-8"}
    answer = requests.post(control(sandbox, "reset"), data=b'{"seed": "empty"}', headers=headers, timeout=10)
    assert answer.json() == {"seed": "empty"}
    assert requests.post(control(sandbox, "reset"), json=None, headers=headers, timeout=10).json() == {"seed": "demo"}
    assert requests.delete(control(sandbox, "faults"), timeout=10).status_code == 200
    assert requests.get(control(sandbox, "faults"), headers={"Content-Type": "text/plain"}, timeout=10).json() == []
    # A body on a DELETE must be JSON too.
    refused = requests.delete(control(sandbox, "requests"), data=b"x=1", timeout=10)
    assert refused.status_code == 403


@pytest.mark.parametrize("path", ["/_sandbox/", "/_sandbox"])
def test_control_root_lists_the_endpoints(sandbox: ThuliumSandbox, path: str) -> None:
    listing = requests.get(f"{sandbox.url}{path}", timeout=10)
    assert listing.status_code == 200
    entries = listing.json()
    assert entries == [{"method": m, "path": p, "description": d} for m, p, d in CONTROL_ENDPOINTS]
    assert {(e["method"], e["path"]) for e in entries} >= {
        ("GET", "/_sandbox/state"),
        ("POST", "/_sandbox/faults"),
        ("POST", "/_sandbox/reset"),
        ("GET", "/_sandbox/campaigns/{id}/records"),
    }
    assert all(e["description"] for e in entries)
    missing = requests.get(control(sandbox, "nothing"), timeout=10)
    assert "GET /_sandbox/ lists" in error_message(missing, 404)
    # /_sandbox without the slash is a control path, not an API one, so it is not in the API log.
    assert sandbox.requests == []


def test_every_listed_control_endpoint_answers(sandbox: ThuliumSandbox) -> None:
    calls: list[tuple[str, str, Any]] = [
        ("POST", "clock", {"now": "2025-05-05 05:05"}),
        ("POST", "campaigns", {"id": "00010", "name": "Ctl", "fields": ["crm_id"], "agents": ["j.doe"]}),
        ("POST", "agents", {"login": "p.zielinski", "name": "Piotr", "number": "105", "campaigns": ["00010"]}),
        ("POST", "campaigns/00010/records", [{"phone_number": "48511100001", "status_id": 2}]),
        ("POST", "campaigns/00010/bulk", {"count": 3, "first_phone": "048700000098"}),
        ("POST", "campaigns/00010/bulk", {"phones": ["48511100009"], "status_id": 3}),
        ("POST", "campaigns/00010/in_call", {"phone_number": "48511100001", "in_call": True}),
        ("GET", "campaigns/00010/in_call", None),
        ("GET", "campaigns/00010/records", None),
        ("POST", "faults", [{"status": 503, "retry_after": 2}]),
        ("GET", "faults", None),
        ("GET", "requests", None),
        ("DELETE", "requests", None),
        ("GET", "state", None),
    ]
    answers = {}
    for method, path, payload in calls:
        answer = requests.request(method, control(sandbox, path), json=payload, timeout=10)
        assert answer.status_code == 200, (path, answer.text)
        answers[(method, path)] = answer.json()
    assert answers[("POST", "clock")] == {"now": "2025-05-05 05:05", "frozen": True}
    assert answers[("POST", "agents")]["agent_id"] == 1024
    assert answers[("POST", "campaigns/00010/in_call")] == {"matched": 1}
    records = answers[("GET", "campaigns/00010/records")]
    assert [r["phone_number"] for r in records] == [
        "48511100001",
        "048700000098",
        "048700000099",
        "048700000100",
        "48511100009",
    ]
    assert {r["create_date"] for r in records} == {"2025-05-05 05:05"}
    assert records[-1]["status_id"] == 3 and records[1]["status_id"] == 1
    assert [r["phone_number"] for r in answers[("GET", "campaigns/00010/in_call")]] == ["48511100001"]
    assert answers[("GET", "faults")][0]["retry_after"] == "2"
    state = answers[("GET", "state")]
    assert state["now"] == "2025-05-05 05:05"
    assert state["campaigns"]["00010"]["agents"] == [
        {"login": "j.doe", "active_in_outbound": True},
        {"login": "p.zielinski", "active_in_outbound": True},
    ]
    assert requests.post(control(sandbox, "clock"), json={"now": None}, timeout=10).json()["frozen"] is False

    for path, payload in [
        ("clock", {"now": "soon"}),
        ("clock", {}),
        ("campaigns", {"id": "1", "name": "short id"}),
        ("campaigns", {"id": "00013", "name": "x", "statuses": [{"status_id": "1", "system_status": "DONE"}]}),
        ("agents", {"name": "no login"}),
        ("campaigns/00010/bulk", {"count": -1}),
        ("campaigns/00010/bulk", {"count": 1, "first_phone": "+48"}),
        ("campaigns/00010/in_call", {}),
    ]:
        assert requests.post(control(sandbox, path), json=payload, timeout=10).status_code == 400, path
    unknown = requests.post(control(sandbox, "campaigns/99999/bulk"), json={"phones": ["1"]}, timeout=10)
    assert unknown.status_code == 404


# ---------------------------------------------------------------------------- fault values


@pytest.mark.parametrize(
    ("value", "header"),
    [
        ("2", "2"),
        (" 30 ", "30"),
        ("0.5", "0.5"),
        (0, "0"),
        (7, "7"),
        (2.0, "2"),
        (1.5, "1.5"),
        ("Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 2015 07:28:00 GMT"),
    ],
)
def test_fault_retry_after_accepts_seconds_and_http_dates(sandbox: ThuliumSandbox, value: Any, header: str) -> None:
    fault = Fault(status=429, retry_after=value)
    assert fault.retry_after == header
    sandbox.add_fault(fault)
    answer = requests.get(f"{sandbox.url}/api/outbounds", auth=(sandbox.login, sandbox.password), timeout=10)
    assert answer.status_code == 429 and answer.headers["Retry-After"] == header


BAD_RETRY_AFTER = [
    "1\r\nX-Injected: yes",
    "1\nX-Injected: yes",
    "2\x00",
    "\t2",
    "Wed, 21 Oct 2015 07:28:00 GMT\r\n",
    "-1",
    -1,
    float("nan"),
    float("inf"),
    True,
    "soon",
    "",
    "2 seconds",
    "1e3",
    "zwei",
    "٣",  # an Arabic-Indic digit: not ASCII
    [1],
]


@pytest.mark.parametrize("value", BAD_RETRY_AFTER)
def test_fault_retry_after_refuses_anything_else(sandbox: ThuliumSandbox, value: Any) -> None:
    with pytest.raises(ValueError, match="retry_after must be a number of seconds"):
        Fault(status=503, retry_after=value)
    body = json.dumps([{"status": 503, "retry_after": value}])  # NaN and Infinity as Python's json writes them
    answer = requests.post(
        control(sandbox, "faults"), data=body, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert "retry_after must be a number of seconds" in error_message(answer, 400)
    assert sandbox.faults == []


def test_fault_retry_after_as_a_fresh_http_date(sandbox: ThuliumSandbox) -> None:
    when = format_datetime(datetime.now(timezone.utc), usegmt=True)
    assert Fault(status=503, retry_after=when).retry_after == when


@pytest.mark.parametrize(
    "keys",
    [
        {"status": 99},
        {"status": 600},
        {"status": "503"},
        {"status": True},
        {"times": -1},
        {"times": 1.5},
        {"after": -2},
        {"delay": -0.1},
        {"delay": "1"},
        {"method": "DEL ETE"},
        {"method": "GET\r\n"},
        {"path": 5},
        {"body": {"a": 1}},
        {"drop": "yes"},
        {"apply": 0},
        {"truncate": None},
    ],
)
def test_fault_values_are_checked_when_the_fault_is_made(sandbox: ThuliumSandbox, keys: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Fault(**keys)
    assert requests.post(control(sandbox, "faults"), json=keys, timeout=10).status_code == 400
    assert sandbox.faults == []
    with pytest.raises(ValueError, match="callable"):
        Fault(action="boom")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- addresses and the CLI


def test_loopback_detection_and_connection_extras() -> None:
    assert ThuliumSandbox("127.0.0.1").is_loopback and ThuliumSandbox("localhost").is_loopback
    assert ThuliumSandbox("::1").is_loopback and ThuliumSandbox("127.0.0.5").is_loopback
    assert not ThuliumSandbox("0.0.0.0").is_loopback  # noqa: S104
    assert not ThuliumSandbox("::").is_loopback
    assert not ThuliumSandbox("192.168.1.20").is_loopback
    with ThuliumSandbox() as plain:
        assert "extra" not in json.loads(plain.connection_json())
        assert json.loads(plain.connection_json(timeout=5))["extra"] == {"timeout": 5}


def test_cli_help_shows_the_default_port_and_it_is_not_airflows() -> None:
    from airflow_provider_thulium.sandbox.__main__ import DEFAULT_PORT

    assert DEFAULT_PORT == 8765
    shown = subprocess.run([*CLI, "--help"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert "default 8765" in " ".join(shown.stdout.split())


def test_cli_busy_port_is_one_line_and_exit_2() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        done = subprocess.run(
            [*CLI, "--port", str(port)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False
        )
    assert done.returncode == 2
    assert done.stderr == f"error: port {port} on 127.0.0.1 is in use; pass --port N (or 0 for any free port)\n"
    assert done.stdout == ""


def test_cli_unusable_address_is_one_line_and_exit_2() -> None:
    # 192.0.2.1 (TEST-NET-1) is not an address of this machine.
    done = subprocess.run(
        [*CLI, "--host", "192.0.2.1", "--port", "0"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: cannot listen on 192.0.2.1 port 0: ")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def _start_cli(*args: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    process = subprocess.Popen([*CLI, *args], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    lines: dict[str, str] = {}
    deadline = time.monotonic() + 30
    while "AIRFLOW_CONN_THULIUM_DEFAULT" not in lines and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        line = line.strip().removeprefix("export ")
        key, _, value = line.partition("=" if line.startswith("AIRFLOW_CONN") else ": ")
        lines[key] = shlex.split(value)[0] if key.startswith("AIRFLOW_CONN") else value
    return process, lines


def _stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    try:
        _, err = process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return err


def test_cli_on_a_non_loopback_address_warns_and_prints_a_working_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    process, lines = _start_cli("--host", "0.0.0.0", "--port", "0", "--seed", "demo")  # noqa: S104
    try:
        connection = json.loads(lines["AIRFLOW_CONN_THULIUM_DEFAULT"])
        assert connection["host"].startswith("http://0.0.0.0:")
        assert connection["extra"] == {"allow_http": True}
        assert "GET http://0.0.0.0:" in lines["Control"]

        # The printed connection works with the provider as it is; without the extra it is refused.
        from airflow_provider_thulium.hooks.thulium import ThuliumHook

        monkeypatch.setenv("AIRFLOW_CONN_THULIUM_EXPOSED", json.dumps(connection))
        assert ThuliumHook("thulium_exposed").test_connection()[0] is True
        del connection["extra"]
        monkeypatch.setenv("AIRFLOW_CONN_THULIUM_PLAIN", json.dumps(connection))
        ok, why = ThuliumHook("thulium_plain").test_connection()
        assert not ok and "allow_http" in why
    finally:
        stderr = _stop(process)
    warning = [line for line in stderr.splitlines() if line.startswith("WARNING")]
    assert warning, stderr
    text = " ".join(warning)
    assert "NOT loopback" in text and "api_user / api_pass" in text and "plain HTTP" in text
    assert '"allow_http": true' in text


def test_cli_on_loopback_does_not_warn() -> None:
    process, lines = _start_cli("--port", "0", "--seed", "empty")
    try:
        assert "extra" not in json.loads(lines["AIRFLOW_CONN_THULIUM_DEFAULT"])
    finally:
        stderr = _stop(process)
    assert "WARNING" not in stderr


# ---------------------------------------------------------------------------- docs


def test_the_docs_list_the_demo_data_exactly_as_seeded() -> None:
    # The sandbox reference includes what the docs build writes from describe_markdown(), the seed itself.
    sys.path.insert(0, str(REPO_ROOT / "docs" / "_ext"))
    try:
        from generated_parts import write_generated
    finally:
        sys.path.remove(str(REPO_ROOT / "docs" / "_ext"))
    write_generated(REPO_ROOT / "docs")
    page = (REPO_ROOT / "docs" / "sandbox.md").read_text(encoding="utf-8")
    assert "```{include} _generated/sandbox-demo-data.md" in page
    generated = (REPO_ROOT / "docs" / "_generated" / "sandbox-demo-data.md").read_text(encoding="utf-8")
    assert generated.strip() == describe_markdown().strip()
    started = (REPO_ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8").split("## The sandbox", 1)[1]
    assert "default port **8765**" in started and "--port 8080" not in started + page
