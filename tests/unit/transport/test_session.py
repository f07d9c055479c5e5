"""The transport prepares each request once per path, not per request: what it sends is what requests would."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_thulium.settings import ThuliumSettings
from airflow_provider_thulium.transport.session import Transport

JSON = {"Content-Type": "application/json"}


def as_requests_prepares(transport: Transport, method, path, query, body, headers) -> requests.PreparedRequest:
    prepared = transport.session.prepare_request(
        requests.Request(method, transport.base_url + path, data=body, headers=headers)
    )
    if query:
        prepared.url = f"{prepared.url}?{query}"
    return prepared


@pytest.mark.parametrize(
    ("base_url", "settings"),
    [
        ("https://example.thulium.com/api/", ThuliumSettings()),
        ("http://127.0.0.1:8123/api/", ThuliumSettings(accept_language="pl")),
        ("https://bücher.example/api/", ThuliumSettings()),  # a host requests writes in IDNA
    ],
)
@pytest.mark.parametrize(
    ("method", "path", "query", "body", "headers"),
    [
        ("GET", "outbounds", "", None, None),
        ("GET", "outbounds/00042/records", "limit=100&offset=200&status_id%5B%5D=3", None, None),
        ("DELETE", "batch/outbounds/00042/records", "phone_numbers%5B%5D=48500100200", None, None),
        ("POST", "batch/outbounds/00042/records", "", b'[{"phone_number": "48500100200"}]', JSON),
        ("PUT", "batch/outbounds/00042/records", "", b"[]", JSON),
        ("DELETE", "batch/outbounds/00042/records", "", b'{"phone_numbers": ["1"]}', JSON),
        ("GET", "path with spaces/ż", "", None, None),
    ],
)
def test_a_request_is_prepared_as_requests_prepares_it(base_url, settings, method, path, query, body, headers):
    transport = Transport(base_url, "api_user", "s3cret:pass", settings)
    expected = as_requests_prepares(transport, method, path, query, body, headers)
    for _ in range(2):  # the path's URL made, then taken from its cache
        prepared = transport._prepared(method, path, query, body, headers)
        assert (prepared.method, prepared.url, prepared.body) == (expected.method, expected.url, expected.body)
        assert dict(prepared.headers) == dict(expected.headers)
        assert prepared.hooks == expected.hooks
        assert len(prepared._cookies) == len(expected._cookies) == 0
    # Each request has headers of its own: one request's never reach the next.
    prepared.headers["X-Mark"] = "1"
    assert "X-Mark" not in transport._prepared(method, path, query, body, headers).headers
