"""One authenticated HTTP session to a Thulium account and the request loop with its retries.

Knows nothing of batches or phones: a request goes out, a decoded JSON answer or a
:class:`~airflow_provider_thulium.exceptions.ThuliumError` comes back.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass
from functools import cached_property
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from airflow_provider_thulium import __version__
from airflow_provider_thulium.exceptions import (
    ThuliumConfigurationError,
    ThuliumError,
    ThuliumResponseError,
    ThuliumUnavailableError,
)
from airflow_provider_thulium.privacy import hide_phone_queries_in_urllib3_logs, hide_query
from airflow_provider_thulium.retry import RetryPolicy, retry_after_seconds
from airflow_provider_thulium.settings import ThuliumSettings
from airflow_provider_thulium.status_errors import error_from_answer

# What OpenSSL says when the server answers a TLS hello in plain http (the sandbox, a local server).
_PLAIN_HTTP_ANSWER = re.compile(r"wrong version number|record layer failure|packet length too long", re.IGNORECASE)


@dataclass
class Answer:
    """A decoded answer and what it took to get it."""

    payload: Any
    requests: int
    retries: int


class Transport:
    """The session to one account: Basic auth, the provider's headers, TLS settings, retries.

    :param base_url: the account's API root, ending in ``/api/``.
    :param login: the API user's login.
    :param password: the API user's password.
    :param settings: transport settings.
    :param source: names the configuration in error messages, e.g. ``"Connection 'thulium_default'"``.
    :param log: where retries and warnings are logged.
    """

    def __init__(
        self,
        base_url: str,
        login: str | None,
        password: str | None,
        settings: ThuliumSettings,
        *,
        source: str = "The Thulium client",
        log: logging.Logger | Any = None,
    ) -> None:
        self.base_url = base_url
        self.settings = settings
        self.source = source
        self.log = log or logging.getLogger(__name__)
        self.retry_policy = RetryPolicy.from_settings(settings)
        self._login = login
        self._password = password
        #: Set when the caller stops (a task killed or timed out): requests in flight stop retrying.
        self.abandoned = threading.Event()

    @cached_property
    def session(self) -> requests.Session:
        """The one HTTP session, reused by every request (keep-alive)."""
        if not self._login or not self._password:
            raise ThuliumConfigurationError(f"{self.source} needs the API user's login and password")
        settings = self.settings
        if isinstance(settings.verify, str) and not os.path.exists(settings.verify):
            # requests would raise a bare OSError at the first request.
            raise ThuliumConfigurationError(f'{self.source}: the "verify" CA bundle {settings.verify!r} does not exist')
        hide_phone_queries_in_urllib3_logs()
        try:
            # Basic auth is latin-1 in requests; checked here so the error cannot quote the password.
            f"{self._login}:{self._password}".encode("latin-1")
        except UnicodeEncodeError:
            raise ThuliumConfigurationError(
                f"{self.source}: the login or password holds a character that HTTP Basic auth cannot carry "
                "(only Latin-1); set a password without it for the API user"
            ) from None
        session = requests.Session()
        session.auth = (self._login, self._password)
        # Basic auth needs no cookies; a shared jar would also be written by concurrent workers.
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        session.verify = settings.verify
        session.headers.update(
            {
                "User-Agent": f"airflow-provider-thulium/{__version__} python-requests/{requests.__version__}",
                "Accept": "application/json",
            }
        )
        if settings.accept_language:
            session.headers["Accept-Language"] = settings.accept_language
        # Retries are ours (see request): urllib3's own would hide them from the counts and budget.
        adapter = HTTPAdapter(pool_maxsize=max(10, settings.max_concurrent_requests), max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        if settings.verify is False:
            self.log.warning("TLS certificate verification is off (%s)", self.source)
        return session

    @cached_property
    def _send_settings(self) -> dict[str, Any]:
        """Proxies, CA bundle and the like from the environment, merged once rather than per request.

        ``verify`` is passed explicitly: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override
        ``session.verify`` (psf/requests#3829), which would ignore the connection's CA bundle or
        ``verify=false``; with the default ``True`` those variables still apply.
        """
        return dict(self.session.merge_environment_settings(self.base_url, {}, None, self.settings.verify, None))

    def prepare(self) -> None:
        """Build the session and environment settings now, before threads share them."""
        _ = self.session, self._send_settings

    def close(self) -> None:
        """Close the session's pooled connections."""
        if "session" in self.__dict__:
            self.session.close()
            del self.__dict__["session"]

    def request(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        body: bytes | None = None,
        description: str,
        retry: bool = True,
    ) -> Answer:
        """Send one request, retrying transient failures, and return the decoded JSON answer.

        :param query: an already percent-encoded query string, without ``?``.
        :param description: names the request in errors and logs; holds no phone number.
        :param retry: ``False`` for a single attempt (a connection test).
        """
        headers = {"Content-Type": "application/json"} if body is not None else None
        attempts = self.retry_policy.start(retry=retry)
        while True:
            if self.abandoned.is_set():
                raise ThuliumUnavailableError(f"{description}: abandoned, the caller stopped")
            attempt = attempts.begin()
            retry_after: float | None = None
            try:
                prepared = self.session.prepare_request(
                    requests.Request(method, self.base_url + path, data=body, headers=headers)
                )
                if query:
                    # Already percent-encoded: appended after preparing, so requests and urllib3 do
                    # not re-parse 8 KB of query character by character on every request.
                    prepared.url = f"{prepared.url}?{query}"
                # No redirects: requests would replay a DELETE as a GET on a 301/302.
                response = self.session.send(
                    prepared, timeout=self.settings.timeout, allow_redirects=False, **self._send_settings
                )
            except requests.exceptions.SSLError as exc:
                # A certificate problem does not heal by repeating the request.
                reason = _transport_reason(exc)
                hint = (
                    "The server answered in plain http, not TLS: write http://... in the connection's host."
                    if _PLAIN_HTTP_ANSWER.search(reason)
                    else 'If the account uses a private CA, set the connection extra "verify" to the path of its '
                    "CA bundle."
                )
                raise ThuliumUnavailableError(f"{description}: TLS failed ({reason}). {hint}") from None
            except requests.RequestException as exc:
                # Connection errors, timeouts, a body cut off mid-stream (ChunkedEncodingError), ...
                failure: ThuliumError = ThuliumUnavailableError(
                    f"{description}: no answer from Thulium ({_transport_reason(exc)}); check the account "
                    "address and that Thulium is reachable from the worker"
                )
            else:
                status = response.status_code
                if status >= 300:
                    failure = error_from_answer(status, response.headers, _json_or_none(response), description)
                    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                elif not response.content:
                    # Applied, but nothing to say per phone: every phone gets NO_ANSWER, not a retry.
                    return Answer({}, attempt, attempt - 1)
                else:
                    try:
                        return Answer(response.json(), attempt, attempt - 1)
                    except ValueError:
                        failure = ThuliumResponseError(
                            f"{description}: the answer is not JSON "
                            f"(Content-Type {response.headers.get('Content-Type', 'missing')!r}, "
                            f"{len(response.content)} bytes); a proxy page or a cut-off answer",
                            status_code=status,
                            request_id=response.headers.get("X-Request-Id"),
                        )
            wait = attempts.wait_before_next(failure, retry_after)
            if wait is None:
                if attempts.why_final is not None and retry:
                    failure = type(failure)(
                        f"{failure.reason} [{attempt} attempt(s), {attempts.why_final}]",
                        status_code=failure.status_code,
                        request_id=failure.request_id,
                        api_messages=failure.api_messages,
                    )
                failure.attempts = attempt
                raise failure
            self.log.warning(
                "%s (attempt %d of %d); retrying in %.1f s",
                failure.reason,  # it names the request already
                attempt,
                attempts.max_attempts,
                wait,
            )
            self.abandoned.wait(wait)


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _transport_reason(exc: BaseException) -> str:
    # requests puts the full URL, query string and all, in its messages; the query holds phones.
    reason = exc
    while reason.__context__ is not None and not str(reason):
        reason = reason.__context__
    text = hide_query(str(reason))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
