"""ThuliumHook against the sandbox: requests on the wire, answers, batching, retries, errors."""

from __future__ import annotations

import base64
import logging
import re
import time
from contextlib import closing
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from airflow_provider_thulium.calls.operations import UPDATE
from airflow_provider_thulium.client import CheckedCall
from airflow_provider_thulium.exceptions import (
    ThuliumAuthenticationError,
    ThuliumConfigurationError,
    ThuliumNotFoundError,
    ThuliumPermissionError,
    ThuliumResponseError,
    ThuliumUnavailableError,
    ThuliumValidationError,
)
from airflow_provider_thulium.hooks.thulium import ThuliumHook
from airflow_provider_thulium.sandbox import Fault
from tests.helpers import FAST_RETRIES, all_logs, set_connection


def test_delete_sends_documented_request_and_returns_api_shape(thulium_sandbox):
    hook = ThuliumHook(**FAST_RETRIES)
    result = hook.delete_records(1, ["48500100201", "48500100200", "48999999999"])

    assert list(result) == ["48500100201", "48500100200", "48999999999"]
    assert [entry["status"] for entry in result["48500100201"]] == ["REMOVED", "REMOVED"]
    assert result["48500100200"][0]["status"] == "REMOVED"
    assert isinstance(result["48500100200"][0]["record_id"], int)
    assert result["48999999999"] == [{"http_status": 404, "status": "NOT_EXIST"}]

    (request,) = thulium_sandbox.requests
    assert request.method == "DELETE"
    assert request.path == "/api/batch/outbounds/00001/records"
    assert request.query == {"phone_number[]": ["48500100201", "48500100200", "48999999999"]}
    assert request.user == thulium_sandbox.login
    assert thulium_sandbox.state.find("00001", "48500100201") == []


def test_delete_by_additional_number_only_with_flag(thulium_sandbox):
    hook = ThuliumHook(**FAST_RETRIES)
    assert hook.delete_records("00001", ["48500100299"])["48500100299"][0]["status"] == "NOT_EXIST"
    result = hook.delete_records("00001", ["48500100299"], search_in_additional_numbers=True)
    assert result["48500100299"][0]["status"] == "REMOVED"
    assert thulium_sandbox.requests[-1].query["search_in_additional_numbers"] == ["true"]
    assert thulium_sandbox.state.find("00001", "48500100202") == []


def test_each_batch_logs_its_outcome_counts_whether_answered_alike_or_not(thulium_sandbox, caplog, capfd):
    # The first batch is answered alike (counted from its one outcome), the second not (counted
    # phone by phone): both lines read the same way.
    caplog.set_level(logging.INFO)
    records = [
        {"phone_number": "48500100200", "status_id": 2},
        {"phone_number": "48500100202", "status_id": 2},
        {"phone_number": "48500100206", "status_id": 2},
        {"phone_number": "48999999999", "status_id": 2},
    ]
    ThuliumHook(max_batch_size=2, **FAST_RETRIES).update_records("00001", records)
    logs = re.sub(r"\d+\.\d\d s", "T s", all_logs(caplog, capfd))
    lines = re.findall(r"UPDATE batch \d.*?T s(?:; failed e\.g\. [^\s\[]+ \S+)?(?= \[|\n|$)", logs)
    assert set(lines) == {
        "UPDATE batch 1, campaign 00001: 2 phone(s): UPDATED 2; 1 request(s), 0 retries, T s",
        "UPDATE batch 2, campaign 00001: 2 phone(s): HTTP_404 1, UPDATED 1; 1 request(s), 0 retries, T s; "
        "failed e.g. …999 HTTP_404",
    }


def test_update_sends_json_records_and_returns_one_result_per_phone(thulium_sandbox):
    hook = ThuliumHook(**FAST_RETRIES)
    records = [
        {"phone_number": "48500100200", "status_id": 2, "record_fields": {"segment": "gold"}},
        {"phone_number": "48500100204", "status_id": 99},
        {"phone_number": "48999999999", "status_id": 2},
    ]
    result = hook.update_records("00001", records)

    assert result["48500100200"] == {"http_status": 204}
    assert result["48500100204"]["http_status"] == 400
    assert result["48500100204"]["message"] == "Status not found."
    assert result["48999999999"]["http_status"] == 404
    (request,) = thulium_sandbox.requests
    assert request.method == "PUT"
    assert request.body == {"records": records}
    (record,) = thulium_sandbox.state.find("00001", "48500100200")
    assert record["status_id"] == 2
    assert record["record_fields"]["segment"] == "gold"


@pytest.mark.parametrize("batch_status", [200, 207])
def test_overall_200_and_207_are_both_accepted(thulium_sandbox_factory, monkeypatch, batch_status):
    sandbox = thulium_sandbox_factory(batch_status=batch_status)
    set_connection(monkeypatch, "thulium_other", host=sandbox.url, login=sandbox.login, password=sandbox.password)
    result = ThuliumHook("thulium_other").delete_records("00001", ["48500100200"])
    assert result["48500100200"][0]["status"] == "REMOVED"


def test_10000_deletes_and_20000_updates_stay_under_proxy_limits(thulium_sandbox):
    phones = [f"4860{n:07d}" for n in range(20_000)]
    thulium_sandbox.state.add_campaign("00009", "Large", fields={"crm_id", "segment", "note"})
    thulium_sandbox.state.bulk_add("00009", phones)
    hook = ThuliumHook(**FAST_RETRIES)

    deleted = hook.delete_records("00009", phones[:10_000])
    assert len(deleted) == 10_000
    assert all(entry[0]["status"] == "REMOVED" for entry in deleted.values())

    records = [
        {"phone_number": phone, "status_id": 2, "record_fields": {"crm_id": f"CRM-{i}", "note": "x" * 40}}
        for i, phone in enumerate(phones[10_000:] + phones[:10_000])
    ]
    updated = hook.update_records("00009", records)
    assert len(updated) == 20_000
    assert sum(1 for r in updated.values() if r["http_status"] == 204) == 10_000
    assert sum(1 for r in updated.values() if r["http_status"] == 404) == 10_000

    statuses = {r.status for r in thulium_sandbox.requests}
    assert statuses <= {200, 207}, statuses
    assert max(r.request_line_bytes for r in thulium_sandbox.requests if r.method == "DELETE") <= 8192
    assert max(r.body_bytes for r in thulium_sandbox.requests if r.method == "PUT") <= 1_048_576
    assert len(thulium_sandbox.state.records("00009")) == 10_000


def test_recovers_from_503_burst_429_retry_after_and_dropped_connection(thulium_sandbox):
    thulium_sandbox.add_fault(Fault(status=503, times=3))
    thulium_sandbox.add_fault(Fault(status=429, retry_after="0"))
    thulium_sandbox.add_fault(Fault(drop=True, apply=False))
    hook = ThuliumHook(max_retries=5, **FAST_RETRIES)
    result = hook.delete_records("00001", ["48500100200"])
    assert result["48500100200"][0]["status"] == "REMOVED"
    assert [r.status for r in thulium_sandbox.requests if r.status][-1] in (200, 207)
    assert len(thulium_sandbox.requests) >= 5


def test_retry_after_as_http_date_is_honoured(thulium_sandbox):
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=2), usegmt=True)
    thulium_sandbox.add_fault(Fault(status=429, retry_after=when))
    hook = ThuliumHook(**FAST_RETRIES)
    started = datetime.now(timezone.utc)
    hook.delete_records("00001", ["48500100200"])
    # HTTP dates have one-second resolution: two seconds ahead is a wait of 1 to 2 s, never our 10 ms backoff.
    assert (datetime.now(timezone.utc) - started).total_seconds() > 0.9


def test_gives_up_after_max_retries(thulium_sandbox):
    thulium_sandbox.add_fault(Fault(status=503, times=100))
    hook = ThuliumHook(max_retries=2, **FAST_RETRIES)
    with pytest.raises(ThuliumUnavailableError) as caught:
        hook.delete_records("00001", ["48500100200"])
    assert caught.value.status_code == 503
    assert "3 attempt(s)" in str(caught.value)
    assert len(thulium_sandbox.requests) == 3


def test_unreadable_answer_is_retried_then_raised(thulium_sandbox):
    thulium_sandbox.add_fault(Fault(body="<html>Bad gateway</html>", times=100, apply=False))
    with pytest.raises(ThuliumResponseError, match="not JSON"):
        ThuliumHook(max_retries=1, **FAST_RETRIES).delete_records("00001", ["48500100200"])


def test_401_403_404_raise_their_own_errors_with_request_id_and_no_password(thulium_sandbox, monkeypatch):
    secret = "s3cr3t-Pa55"
    set_connection(monkeypatch, "thulium_bad", host=thulium_sandbox.url, login=thulium_sandbox.login, password=secret)
    with pytest.raises(ThuliumAuthenticationError) as bad_login:
        ThuliumHook("thulium_bad").delete_records("00001", ["48500100200"])

    set_connection(
        monkeypatch, "thulium_limited", host=thulium_sandbox.url, login="limited_user", password="limited_pass"
    )
    with pytest.raises(ThuliumPermissionError) as no_permission:
        ThuliumHook("thulium_limited").list_campaigns()

    with pytest.raises(ThuliumNotFoundError) as unknown:
        ThuliumHook().delete_records("99999", ["48500100200"])

    for caught, status in ((bad_login, 401), (no_permission, 403), (unknown, 404)):
        error = caught.value
        assert error.status_code == status
        assert error.request_id and error.request_id in str(error)
        assert secret not in str(error)
        assert base64.b64encode(f"{thulium_sandbox.login}:{secret}".encode()).decode() not in str(error)
        assert "48500100200" not in str(error)


def test_validation_errors_are_raised_before_any_request(thulium_sandbox):
    hook = ThuliumHook()
    with pytest.raises(ThuliumValidationError, match=r"phone_numbers\[1\]"):
        hook.delete_records("00001", ["48500100200", "12ab"])
    with pytest.raises(ThuliumValidationError, match=r"records\[0\].*colour"):
        hook.update_records("00001", [{"phone_number": "48500100200", "colour": "red"}])
    assert thulium_sandbox.requests == []


def test_test_connection(thulium_sandbox, monkeypatch):
    assert ThuliumHook().test_connection() == (True, "Connected to Thulium: the API user can list campaigns.")
    set_connection(
        monkeypatch, "thulium_limited", host=thulium_sandbox.url, login="limited_user", password="limited_pass"
    )
    ok, why = ThuliumHook("thulium_limited").test_connection()
    assert ok and "may not list campaigns" in why
    set_connection(monkeypatch, "thulium_bad", host=thulium_sandbox.url, login="api_user", password="wrong")
    ok, why = ThuliumHook("thulium_bad").test_connection()
    assert not ok and "credentials" in why and "wrong" not in why
    set_connection(monkeypatch, "thulium_down", host="http://127.0.0.1:9", login="a", password="not-a-real-password")
    ok, why = ThuliumHook("thulium_down").test_connection()
    assert not ok and "no answer" in why


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("acme.thulium.com", "https://acme.thulium.com/api/"),
        ("https://acme.thulium.pl/api", "https://acme.thulium.pl/api/"),
        ("https://acme.callcenter.pl/api/", "https://acme.callcenter.pl/api/"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/api/"),
        ("http://localhost:8080/api", "http://localhost:8080/api/"),
    ],
)
def test_host_forms(monkeypatch, host, expected):
    set_connection(monkeypatch, "thulium_x", host=host, login="a", password="not-a-real-password")
    assert ThuliumHook("thulium_x").base_url == expected


def test_plain_http_to_a_remote_host_needs_an_explicit_extra(monkeypatch):
    set_connection(monkeypatch, "thulium_x", host="http://acme.thulium.com", login="a", password="not-a-real-password")
    with pytest.raises(ThuliumConfigurationError, match="allow_http"):
        _ = ThuliumHook("thulium_x").base_url
    set_connection(
        monkeypatch,
        "thulium_y",
        host="http://acme.thulium.com",
        login="a",
        password="not-a-real-password",
        extra={"allow_http": "true"},
    )
    assert ThuliumHook("thulium_y").base_url == "http://acme.thulium.com/api/"


def test_settings_merge_defaults_extras_and_arguments(monkeypatch):
    set_connection(
        monkeypatch,
        "thulium_x",
        host="acme.thulium.com",
        login="a",
        password="not-a-real-password",
        extra={"timeout": "12", "max_retries": 2, "verify": "false", "accept_language": "pl"},
    )
    settings = ThuliumHook("thulium_x", max_retries=7).settings
    assert (settings.timeout, settings.max_retries, settings.verify, settings.accept_language) == (12.0, 7, False, "pl")
    assert ThuliumHook("thulium_x").session.headers["Accept-Language"] == "pl"
    assert ThuliumHook("thulium_x").session.headers["User-Agent"].startswith("airflow-provider-thulium/")
    with pytest.raises(ThuliumConfigurationError, match="max_retries"):
        _ = ThuliumHook("thulium_x", max_retries=-1).settings
    with pytest.raises(ThuliumConfigurationError, match="Unknown Thulium setting 'retries'"):
        _ = ThuliumHook("thulium_x", retries=3).settings


def test_default_timeout_and_tls_verification_apply(monkeypatch):
    set_connection(monkeypatch, "thulium_x", host="acme.thulium.com", login="a", password="not-a-real-password")
    hook = ThuliumHook("thulium_x")
    assert hook.settings.timeout == 30.0
    assert hook.session.verify is True


def test_concurrent_requests_keep_input_order(thulium_sandbox):
    phones = [f"4870{n:07d}" for n in range(3000)]
    thulium_sandbox.state.add_campaign("00008", "Concurrent")
    thulium_sandbox.state.bulk_add("00008", phones[::2])
    result = ThuliumHook(max_concurrent_requests=4, max_batch_size=100).delete_records("00008", phones)
    assert list(result) == phones
    assert [entry[0]["status"] for entry in result.values()] == ["REMOVED", "NOT_EXIST"] * 1500
    assert len(thulium_sandbox.requests) == 30


def test_a_caller_that_closes_the_stream_early_sends_nothing_more(thulium_sandbox):
    phones = [f"4873{n:07d}" for n in range(30)]
    thulium_sandbox.state.add_campaign("00009", "Early stop")
    thulium_sandbox.state.bulk_add("00009", phones)
    thulium_sandbox.latency = 0.3  # the request sent after the first answer is still in flight at close()
    stream = ThuliumHook(max_batch_size=5).stream_delete_records("00009", phones)
    first = next(stream)
    stream.close()
    assert first.phones == phones[:5] and first.error is None
    time.sleep(1.0)
    # The first batch and the one already on the wire; the batch queued behind it was cancelled.
    assert len(thulium_sandbox.requests) == 2
    assert all(thulium_sandbox.state.find("00009", phone) for phone in phones[10:])


def test_a_batch_that_cannot_be_built_raises_after_the_answers_already_in(thulium_sandbox):
    # Records that skipped the checks, straight into the client's stream: the third batch's body
    # cannot be encoded.
    records = [{"phone_number": f"4872{n:07d}", "status_id": 2} for n in range(6)]
    records[4]["agent_login"] = "\ud800"
    thulium_sandbox.state.add_campaign("00010", "Bad body")
    thulium_sandbox.state.bulk_add("00010", [record["phone_number"] for record in records])
    unchecked = CheckedCall(UPDATE, "00010", [record["phone_number"] for record in records], records, False)
    received = []
    with pytest.raises(UnicodeEncodeError):
        for batch in ThuliumHook(max_batch_size=2).client.stream(unchecked):
            received.append(batch)
    assert [batch.phones for batch in received] == [["48720000000", "48720000001"], ["48720000002", "48720000003"]]
    assert len(thulium_sandbox.requests) == 2


def test_streams_check_their_input_like_the_other_calls(thulium_sandbox):
    hook = ThuliumHook()
    with pytest.raises(ThuliumValidationError, match=r"records\[0\].*agent_logn"):
        hook.stream_update_records(1, [{"phone_number": "48500100201", "agent_logn": "j.doe"}])
    with pytest.raises(ThuliumValidationError, match=r"records\[0\].*next_call_date"):
        hook.stream_update_records(1, [{"phone_number": "48500100201", "next_call_date": "tomorrow"}])
    with pytest.raises(ThuliumValidationError, match=r"phone_numbers\[0\]"):
        hook.stream_delete_records(1, ["not a phone"])
    assert thulium_sandbox.requests == []
    with closing(hook.stream_delete_records(1, ["48500100299"])) as batches:
        assert [batch.phones for batch in batches] == [["48500100299"]]
    assert thulium_sandbox.requests[0].path == "/api/batch/outbounds/00001/records"


def test_batches_too_large_for_the_proxy_are_split(thulium_sandbox):
    phones = [f"4871{n:07d}" for n in range(800)]
    thulium_sandbox.state.add_campaign("00007", "Split")
    thulium_sandbox.state.bulk_add("00007", phones)
    hook = ThuliumHook(max_request_line_bytes=30_000, max_batch_size=5000)
    result = hook.delete_records("00007", phones)
    assert all(entry[0]["status"] == "REMOVED" for entry in result.values())
    assert 414 in {r.status for r in thulium_sandbox.requests}
    assert thulium_sandbox.state.records("00007") == []


def test_flag_given_as_a_rendered_string_is_parsed(thulium_sandbox):
    result = ThuliumHook().delete_records("00001", ["48500100299"], search_in_additional_numbers="false")
    assert result["48500100299"][0]["status"] == "NOT_EXIST"
    assert "search_in_additional_numbers" not in thulium_sandbox.requests[-1].query
    with pytest.raises(ThuliumValidationError, match="search_in_additional_numbers"):
        ThuliumHook().delete_records("00001", ["48500100299"], search_in_additional_numbers="maybe")


def test_a_formatted_number_in_a_list_is_refused_not_split(thulium_sandbox):
    with pytest.raises(ThuliumValidationError, match=r"phone_numbers\[0\]"):
        ThuliumHook().delete_records("00001", "+48 500 100 201, 48500100200")
    assert thulium_sandbox.requests == []


def test_a_failed_call_raises_with_every_phones_result(thulium_sandbox):
    phones = [f"4874{n:07d}" for n in range(20)]
    thulium_sandbox.state.add_campaign("00005", "Partial")
    thulium_sandbox.state.bulk_add("00005", phones)
    thulium_sandbox.add_fault(Fault(after=1, action=lambda sandbox: sandbox.state.delete_campaign("00005")))
    with pytest.raises(ThuliumNotFoundError) as caught:
        ThuliumHook(max_batch_size=10).delete_records("00005", phones)
    results = caught.value.results
    assert list(results) == phones
    assert [results[p][0]["status"] for p in phones] == ["REMOVED"] * 10 + ["REQUEST_FAILED"] * 10


def test_redirects_are_not_followed(thulium_sandbox):
    thulium_sandbox.add_fault(Fault(status=301))
    with pytest.raises(ThuliumConfigurationError, match="redirect"):
        ThuliumHook().delete_records("00001", ["48500100200"])
    assert [r.method for r in thulium_sandbox.requests] == ["DELETE"]


def test_a_password_basic_auth_cannot_carry_is_refused_without_quoting_it(monkeypatch):
    set_connection(monkeypatch, "thulium_x", host="acme.thulium.com", login="api_user", password="hasło-ł")
    with pytest.raises(ThuliumConfigurationError, match="Latin-1") as caught:
        _ = ThuliumHook("thulium_x").session
    assert "ł" not in str(caught.value)
