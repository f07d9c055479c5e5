"""TLS: certificates are verified by default; a private CA is trusted through the ``verify`` extra.

The sandbox serves https with a CA of its own (``tls=True``; the CA's PEM is ``.ca_bundle``), which
no system trust store knows: exactly the situation of an account behind a private CA, and of the
vendor's curl examples that pass ``-k``.
"""

from __future__ import annotations

import json
import logging

import pytest

from airflow_provider_thulium.exceptions import ThuliumConfigurationError, ThuliumUnavailableError
from airflow_provider_thulium.hooks.thulium import ThuliumHook
from airflow_provider_thulium.operators.thulium import ThuliumDeleteRecordsOperator
from airflow_provider_thulium.testing import run_dag, task_states, xcom
from tests.helpers import FAST_RETRIES, new_dag


@pytest.fixture
def tls_sandbox(thulium_sandbox_factory, monkeypatch):
    sandbox = thulium_sandbox_factory(tls=True)
    assert sandbox.url.startswith("https://") and sandbox.ca_bundle

    def connect(conn_id: str, **extra: object) -> str:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", sandbox.connection_json(**extra))
        return conn_id

    sandbox.connect = connect  # type: ignore[attr-defined]
    return sandbox


def test_default_verification_refuses_an_unknown_ca_with_a_clear_error(tls_sandbox):
    hook = ThuliumHook(tls_sandbox.connect("thulium_tls"), **FAST_RETRIES)
    assert hook.settings.verify is True
    with pytest.raises(ThuliumUnavailableError) as caught:
        hook.delete_records("00001", ["48500100200"])
    message = str(caught.value)
    assert "TLS failed" in message and "certificate verify failed" in message.lower()
    assert 'extra "verify"' in message and "CA bundle" in message
    assert "48500100200" not in message
    # Not retried (a certificate does not get better by asking again), nothing reached the API.
    assert tls_sandbox.requests == []
    assert len(tls_sandbox.state.find("00001", "48500100200")) == 1


def test_ca_bundle_in_the_verify_extra_is_trusted(tls_sandbox):
    hook = ThuliumHook(tls_sandbox.connect("thulium_tls", verify=tls_sandbox.ca_bundle), **FAST_RETRIES)
    result = hook.delete_records("00001", ["48500100200"])
    assert result["48500100200"][0]["status"] == "REMOVED"
    assert hook.test_connection()[0]
    assert tls_sandbox.state.find("00001", "48500100200") == []


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_verify_extra_wins_over_ca_bundle_variables_of_the_environment(tls_sandbox, monkeypatch, variable):
    # Docker images and corporate machines often set these; requests would let them replace
    # session.verify (psf/requests#3829), silently ignoring the connection's CA bundle or verify=false.
    import certifi

    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv(variable, certifi.where())
    trusted = ThuliumHook(tls_sandbox.connect("thulium_tls", verify=tls_sandbox.ca_bundle), **FAST_RETRIES)
    assert trusted.test_connection()[0]
    unverified = ThuliumHook(tls_sandbox.connect("thulium_off", verify=False), **FAST_RETRIES)
    with pytest.warns(Warning, match="Unverified HTTPS request"):
        assert unverified.test_connection()[0]
    # With the default (verify=True) the variable's bundle is what is trusted: not our CA.
    ok, message = ThuliumHook(tls_sandbox.connect("thulium_default_verify"), **FAST_RETRIES).test_connection()
    assert not ok and "TLS failed" in message


def test_ca_bundle_as_a_hook_argument_is_trusted(tls_sandbox):
    hook = ThuliumHook(tls_sandbox.connect("thulium_tls"), verify=tls_sandbox.ca_bundle, **FAST_RETRIES)
    assert hook.test_connection()[0]


def test_verify_false_works_but_warns(tls_sandbox, caplog, capfd):
    caplog.set_level(logging.WARNING)
    hook = ThuliumHook(tls_sandbox.connect("thulium_tls", verify="false"), **FAST_RETRIES)
    with pytest.warns(Warning, match="Unverified HTTPS request"):  # urllib3's InsecureRequestWarning
        result = hook.delete_records("00001", ["48500100200"])
        hook.delete_records("00001", ["48500100204"])
    assert result["48500100200"][0]["status"] == "REMOVED"
    # Airflow 3 sends hook logs through structlog to stdout; Airflow 2 through logging.
    out, err = capfd.readouterr()
    printed = [line for line in (out + err).splitlines() if "verification is off" in line]
    logged = [r for r in caplog.records if "verification is off" in r.getMessage()]
    assert len(printed) + len(logged) == 1, (printed, logged)  # once per hook, not per request
    if logged:
        assert logged[0].levelno == logging.WARNING and "thulium_tls" in logged[0].getMessage()
    else:
        assert "[warning" in printed[0] and "thulium_tls" in printed[0]


def test_a_different_ca_is_refused(tls_sandbox, thulium_sandbox_factory):
    stranger = thulium_sandbox_factory(tls=True)
    hook = ThuliumHook(tls_sandbox.connect("thulium_tls", verify=stranger.ca_bundle), **FAST_RETRIES)
    with pytest.raises(ThuliumUnavailableError, match="TLS failed"):
        hook.delete_records("00001", ["48500100200"])


def test_missing_ca_bundle_file_is_a_configuration_error(tls_sandbox, tmp_path):
    missing = str(tmp_path / "no-such-ca.pem")
    hook = ThuliumHook(tls_sandbox.connect("thulium_tls", verify=missing), **FAST_RETRIES)
    with pytest.raises(ThuliumConfigurationError, match="verify") as caught:
        hook.delete_records("00001", ["48500100200"])
    assert missing in str(caught.value)
    ok, message = ThuliumHook("thulium_tls").test_connection()
    assert not ok and missing in message


def test_test_connection_reports_the_tls_failure(tls_sandbox):
    ok, message = ThuliumHook(tls_sandbox.connect("thulium_tls")).test_connection()
    assert ok is False
    assert "TLS failed" in message and "verify" in message
    assert ThuliumHook(tls_sandbox.connect("thulium_ok", verify=tls_sandbox.ca_bundle)).test_connection() == (
        True,
        "Connected to Thulium: the API user can list campaigns.",
    )


def test_plain_http_client_against_tls_server_fails_cleanly(tls_sandbox, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_THULIUM_PLAIN",
        json.dumps(
            {
                "conn_type": "thulium",
                "host": tls_sandbox.url.replace("https://", "http://"),
                "login": tls_sandbox.login,
                "password": tls_sandbox.password,
            }
        ),
    )
    with pytest.raises(ThuliumUnavailableError):
        ThuliumHook("thulium_plain", max_retries=1, **FAST_RETRIES).delete_records("00001", ["48500100200"])


@pytest.mark.usefixtures("airflow_db")
def test_operators_over_tls(tls_sandbox):
    tls_sandbox.connect("thulium_tls_ok", verify=tls_sandbox.ca_bundle)
    tls_sandbox.connect("thulium_tls_unverified")
    with new_dag() as dag:
        ThuliumDeleteRecordsOperator(
            task_id="trusted",
            campaign_id="00001",
            phone_numbers=["48500100200"],
            thulium_conn_id="thulium_tls_ok",
            hook_params=FAST_RETRIES,
        )
        ThuliumDeleteRecordsOperator(
            task_id="untrusted",
            campaign_id="00001",
            phone_numbers=["48500100204"],
            thulium_conn_id="thulium_tls_unverified",
            hook_params=FAST_RETRIES,
        )
    run = run_dag(dag)
    assert task_states(run) == {"trusted": "success", "untrusted": "failed"}
    assert xcom(run, "trusted")["48500100200"][0]["status"] == "REMOVED"
    assert xcom(run, "untrusted")["48500100204"][0]["status"] == "REQUEST_FAILED"
    assert "TLS failed" in xcom(run, "untrusted", "summary")["stopped_by"]
    assert len(tls_sandbox.state.find("00001", "48500100204")) == 1
