"""Settings: one merge of defaults < extras < arguments, one boolean parser, the account address."""

from __future__ import annotations

import pytest

from airflow_provider_thulium.checks.records import parse_flag
from airflow_provider_thulium.exceptions import ThuliumConfigurationError, ThuliumValidationError
from airflow_provider_thulium.settings import ThuliumSettings, api_base_url, parse_bool


@pytest.mark.parametrize("word", ["true", "True", " YES ", "on", "1", True])
def test_true_words(word):
    assert parse_bool(word) is True


@pytest.mark.parametrize("word", ["false", "False", "no", "OFF", "0", False])
def test_false_words(word):
    assert parse_bool(word) is False


@pytest.mark.parametrize("value", ["maybe", "", 1, None, 0.0, "truee"])
def test_anything_else_is_not_a_boolean(value):
    with pytest.raises(ValueError, match="expected true or false"):
        parse_bool(value)


def test_settings_and_operator_flags_read_the_same_words():
    for word in ["yes", "no", "on", "off", "TRUE", "0"]:
        assert ThuliumSettings.merge({"allow_http": word}).allow_http is parse_flag(word, "flag")
    assert parse_flag("", "flag") is False  # an empty template result
    with pytest.raises(ThuliumValidationError, match="search_in_additional_numbers"):
        parse_flag("maybe", "search_in_additional_numbers")
    with pytest.raises(ThuliumConfigurationError, match="allow_http"):
        ThuliumSettings.merge({"allow_http": "maybe"})


def test_later_layers_win_and_none_or_blank_means_not_set():
    settings = ThuliumSettings.merge({"timeout": "10", "max_retries": 2}, {"timeout": None, "max_retries": " "})
    assert (settings.timeout, settings.max_retries) == (10.0, 2)
    assert ThuliumSettings.merge({"timeout": 10}, {"timeout": 3}).timeout == 3.0


def test_defaults_are_listed_from_the_class():
    defaults = ThuliumSettings.defaults()
    assert defaults["timeout"] == ThuliumSettings().timeout == 30.0
    assert set(defaults) == set(ThuliumSettings.__dataclass_fields__)


@pytest.mark.parametrize("value", ["nan", "inf", float("nan"), float("-inf"), "-1", True, "ten", 1e400])
def test_non_finite_negative_and_non_numbers_are_refused(value):
    with pytest.raises(ThuliumConfigurationError, match="max_retry_after"):
        ThuliumSettings.merge({"max_retry_after": value})


def test_unknown_setting_names_the_known_ones():
    with pytest.raises(ThuliumConfigurationError, match=r"Unknown Thulium setting 'retries'.*max_retries"):
        ThuliumSettings.merge({"retries": 3})


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("acme.thulium.com", None, "https://acme.thulium.com/api/"),
        ("https://acme.thulium.com/api", None, "https://acme.thulium.com/api/"),
        ("https://acme.thulium.com/api/", None, "https://acme.thulium.com/api/"),
        ("http://127.0.0.1", 8765, "http://127.0.0.1:8765/api/"),
        ("http://[::1]:9000/", None, "http://[::1]:9000/api/"),
        # Loopback without a scheme (a thulium://user:pass@127.0.0.1:8080 URI): plain http, as the sandbox.
        ("127.0.0.1", 8080, "http://127.0.0.1:8080/api/"),
        ("localhost:8080", None, "http://localhost:8080/api/"),
        ("https://127.0.0.1", 8443, "https://127.0.0.1:8443/api/"),
        ("localhost.example.com", None, "https://localhost.example.com/api/"),
    ],
)
def test_account_address_forms(host, port, url):
    assert api_base_url(host, port, allow_http=False, source="Connection 'x'") == url


def test_plain_http_to_a_remote_host_needs_allow_http():
    with pytest.raises(ThuliumConfigurationError, match=r"Connection 'x' uses plain http.*allow_http"):
        api_base_url("http://acme.thulium.com", None, allow_http=False, source="Connection 'x'")
    assert api_base_url("http://acme.thulium.com", None, allow_http=True, source="x") == "http://acme.thulium.com/api/"


def test_missing_host_names_the_source():
    with pytest.raises(ThuliumConfigurationError, match="Connection 'x' has no host"):
        api_base_url("  ", None, allow_http=False, source="Connection 'x'")


@pytest.mark.parametrize(
    ("host", "port", "problem"),
    [
        ("http:/evil.com", None, "starts with a scheme"),
        ("http:evil.com", None, "starts with a scheme"),
        ("HTTPS:evil.com", None, "starts with a scheme"),
        ("acme.thulium.com:abc", None, "port 'abc'"),
        ("acme.thulium.com:99999", None, "port '99999'"),
        ("https://acme.thulium.com:0", None, "port '0'"),
        ("https://acme.thulium.com:+443", None, "port '+443'"),
        ("https://acme.thulium.com:" + "9" * 5000, None, "not a number from 1 to 65535"),
        ("https://acme.thulium.com:", None, "port ''"),
        ("acme.thulium.com", 99999, "port 99999"),
        ("https://api_user:secret@acme.thulium.com", None, "credentials"),
        ("https://acme.thulium.com/api?x=1", None, "query"),
        ("acme\n.thulium.com", None, "control characters"),
        ("acme thulium.com", None, "whitespace"),
        ("https://acme..thulium.com", None, "not a valid host name"),
        ("https://-acme.thulium.com", None, "not a valid host name"),
        ("http://[::1", None, "not a URL"),
        ("https://[::zz]/api", None, "IPv6"),
        ("ftp://acme.thulium.com", None, "scheme 'ftp'"),
    ],
)
def test_a_malformed_host_is_a_configuration_error_naming_the_field(host, port, problem):
    with pytest.raises(ThuliumConfigurationError) as caught:
        api_base_url(host, port, allow_http=True, source="Connection 'x'")
    message = str(caught.value)
    assert message.startswith("Connection 'x'") and problem in message
    assert "host" in message or "port" in message
    assert "secret" not in message


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("acme.thulium.com:8443", "https://acme.thulium.com:8443/api/"),
        ("HTTPS://Acme.Thulium.com/api", "https://acme.thulium.com/api/"),
        ("acme.thulium.com.", "https://acme.thulium.com/api/"),
        ("https://café.example.com", "https://xn--caf-dma.example.com/api/"),
        ("http://localhost:8080", "http://localhost:8080/api/"),
    ],
)
def test_well_formed_hosts_are_normalised(host, url):
    assert api_base_url(host, None, allow_http=False, source="x") == url


def test_max_answer_bytes_follows_the_request_unless_set():
    assert ThuliumSettings().max_answer_bytes is None
    assert ThuliumSettings.merge({"max_answer_bytes": "2000000"}).max_answer_bytes == 2_000_000
    for bad in ("nan", "inf", 10, "lots"):
        with pytest.raises(ThuliumConfigurationError, match="max_answer_bytes"):
            ThuliumSettings.merge({"max_answer_bytes": bad})
