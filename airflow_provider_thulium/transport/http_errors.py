"""Which error a failed HTTP answer from Thulium becomes: one table, status → class and hint.

The class decides the rest: whether the request is retried (``retryable``) and whether the run
stops at it (``batch_local``). Adding a status means adding one row here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_thulium.exceptions import (
    ThuliumAuthenticationError,
    ThuliumConfigurationError,
    ThuliumError,
    ThuliumNotFoundError,
    ThuliumPermissionError,
    ThuliumRequestRejectedError,
    ThuliumUnavailableError,
)

# docs/thulium-api.md, "Response codes". 429 and 5xx are not documented by Thulium, but proxies in
# front of any account answer them ("Rate limits"); both batch calls are idempotent, so a repeat is safe.
ERRORS_BY_STATUS: dict[int, tuple[type[ThuliumError], str]] = {
    400: (ThuliumRequestRejectedError, "Thulium rejected the request as invalid"),
    401: (
        ThuliumAuthenticationError,
        "Thulium rejected the API user's credentials; check the connection's login and password "
        "(an API user from Administration > Users > API users)",
    ),
    403: (
        ThuliumPermissionError,
        "the API user lacks permission for this method; grant it under Administration > Users > API users",
    ),
    404: (ThuliumNotFoundError, "not found; check that the campaign id exists on this account"),
    410: (ThuliumNotFoundError, "permanently deleted; check the campaign id"),
    413: (ThuliumRequestRejectedError, "the request body is too large for the server; lower max_body_bytes"),
    414: (ThuliumRequestRejectedError, "the request line is too long for the server; lower max_request_line_bytes"),
    429: (ThuliumUnavailableError, "Thulium or a proxy is limiting the request rate"),
    500: (ThuliumUnavailableError, "Thulium or a proxy in front of it failed"),
    502: (ThuliumUnavailableError, "a proxy in front of Thulium got no good answer from it"),
    503: (ThuliumUnavailableError, "Thulium or a proxy in front of it is unavailable"),
    504: (ThuliumUnavailableError, "a proxy in front of Thulium timed out waiting for it"),
}

_REDIRECT = (
    ThuliumConfigurationError,
    "the address answered with a redirect; set the connection's host to the account's final address",
)
_OTHER_SERVER_ERROR = (ThuliumUnavailableError, "Thulium or a proxy in front of it failed")
_OTHER_CLIENT_ERROR = (ThuliumRequestRejectedError, "Thulium rejected the request")


def error_class_for(status: int) -> tuple[type[ThuliumError], str]:
    """The error class and hint for a status that is not a success."""
    known = ERRORS_BY_STATUS.get(status)
    if known is not None:
        return known
    if status < 400:
        return _REDIRECT
    return _OTHER_SERVER_ERROR if status >= 500 else _OTHER_CLIENT_ERROR


def error_from_answer(status: int, headers: Mapping[str, str], payload: Any, description: str) -> ThuliumError:
    """Build the error for a failed answer, with Thulium's ``request_id`` and messages.

    :param payload: the decoded JSON body, or ``None`` when it was not JSON. Thulium's error body is
        ``{"request_id": …, "errors": [{"message": …, "code": N}]}`` (docs/thulium-api.md, "Response codes").
    """
    request_id = _text(headers.get("X-Request-Id"))
    messages: list[str] = []
    if isinstance(payload, dict):
        request_id = _text(payload.get("request_id")) or request_id
        errors = payload.get("errors")
        for error in errors[:_MAX_MESSAGES] if isinstance(errors, list) else []:
            message = _text(error.get("message")) if isinstance(error, dict) else None
            if message:
                code = _text(error.get("code"))
                messages.append(message + (f" [code {code}]" if code is not None else ""))
    cls, hint = error_class_for(status)
    return cls(f"{description}: {hint}", status_code=status, request_id=request_id, api_messages=messages)


#: Thulium's error messages kept from one answer (a hostile server could send a million).
_MAX_MESSAGES = 20


def _text(value: Any) -> str | None:
    """A text field of the server's answer as a string, or ``None`` when absent or not text.

    A server may send any JSON where a string is documented; only strings and numbers are taken
    (``str()`` of a deeply nested list would raise ``RecursionError``).
    """
    if isinstance(value, str):
        return value or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None
