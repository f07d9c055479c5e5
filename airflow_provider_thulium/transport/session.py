"""One authenticated HTTP session to a Thulium account and the request loop with its retries.

Knows nothing of batches or phones: a request goes out, a decoded JSON answer or a
:class:`~airflow_provider_thulium.exceptions.ThuliumError` comes back, and nothing else: whatever
the server does, an attempt ends within ``timeout`` and reads at most its answer limit.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import msgspec
import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from airflow_provider_thulium import __version__
from airflow_provider_thulium.exceptions import (
    ThuliumAnswerTooLargeError,
    ThuliumConfigurationError,
    ThuliumError,
    ThuliumResponseError,
    ThuliumUnavailableError,
)
from airflow_provider_thulium.privacy import Secret, hide_phone_queries_in_urllib3_logs, hide_query, safe_server_text
from airflow_provider_thulium.settings import ThuliumSettings
from airflow_provider_thulium.transport.http_errors import error_from_answer
from airflow_provider_thulium.transport.retry import RetryPolicy, retry_after_seconds

# What OpenSSL says when the server answers a TLS hello in plain http (the sandbox, a local server).
_PLAIN_HTTP_ANSWER = re.compile(r"wrong version number|record layer failure|packet length too long", re.IGNORECASE)
#: An answer's size limit when ``max_answer_bytes`` is not set: a base (error pages, the campaign
#: list) plus an allowance per phone of a batch. A delete answers about 60 bytes per record found
#: (docs/thulium-api.md, "DELETE"), so 4 KiB is some 70 records a phone on average over the batch.
ANSWER_BASE_BYTES = 1 << 20
ANSWER_BYTES_PER_PHONE = 4 << 10
#: The most of a failed answer's body read for Thulium's error messages; the status says the rest.
_ERROR_BODY_BYTES = 64 << 10
_CHUNK_BYTES = 64 << 10


def answer_limit(settings: ThuliumSettings, phones: int = 0) -> int:
    """The largest answer read for a request carrying ``phones`` phone numbers."""
    if settings.max_answer_bytes is not None:
        return settings.max_answer_bytes
    return ANSWER_BASE_BYTES + ANSWER_BYTES_PER_PHONE * phones


@dataclass
class Answer:
    """A decoded answer and what it took to get it."""

    payload: Any
    requests: int
    retries: int
    #: An earlier attempt failed in a way that may have followed Thulium applying it (a lost,
    #: late, cut-off or unreadable answer, a 5xx): this answer may describe a repeat.
    maybe_applied_before: bool = False


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
        self._secret = Secret(password, login)
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
        adapter = _DeadlineAdapter(pool_maxsize=max(10, settings.max_concurrent_requests), max_retries=0)
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
        ``verify=false``; with the default ``True`` those variables still apply, so the bundle they
        name is checked here (requests would raise a bare ``OSError`` at the first request).
        """
        merged = dict(self.session.merge_environment_settings(self.base_url, {}, True, self.settings.verify, None))
        bundle = merged.get("verify")
        if self.base_url.startswith("https:") and isinstance(bundle, str) and not os.path.exists(bundle):
            raise ThuliumConfigurationError(
                f"{self.source}: the CA bundle {bundle!r} named by the REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE "
                'environment variable does not exist; fix the variable, or set the connection extra "verify"'
            )
        return merged

    @cached_property
    def _template(self) -> requests.PreparedRequest:
        """A request as the session prepares it (its headers, Basic auth's header, its hooks), made once."""
        return self.session.prepare_request(requests.Request("GET", self.base_url))

    @cached_property
    def _urls(self) -> dict[str, str]:
        """Each path's URL as requests prepares it, once per path."""
        return {}

    def _prepared(
        self, method: str, path: str, query: str, body: bytes | None, headers: dict[str, str] | None
    ) -> requests.PreparedRequest:
        """The request as ``session.prepare_request`` would make it, without its cost on every request.

        Preparing merges the session's settings into each request, about 150 µs of pure Python: a
        tenth of a page read's CPU. What it gives never changes here (no cookies are kept, the
        headers and auth are fixed at construction), so it is done once and copied; a test holds
        the two equal. The query, already percent-encoded, is appended as it is.
        """
        url = self._urls.get(path)
        if url is None:
            request = requests.Request("GET", self.base_url + path)
            url = self._urls[path] = str(self.session.prepare_request(request).url)
        template = self._template
        prepared = requests.PreparedRequest()
        prepared.method = method
        prepared.url = f"{url}?{query}" if query else url
        prepared.headers = template.headers.copy()
        if headers:
            prepared.headers.update(headers)
        if body is not None:
            prepared.headers["Content-Length"] = str(len(body))
        elif method not in ("GET", "HEAD"):
            prepared.headers["Content-Length"] = "0"
        prepared.body = body
        prepared.hooks = template.hooks
        prepared._cookies = template._cookies  # type: ignore[attr-defined]  # empty; a redirect's copy reads it
        return prepared

    def prepare(self) -> None:
        """Build the session and environment settings now, before threads share them.

        Raises :class:`ThuliumConfigurationError` for what would otherwise fail at the first request
        (no login or password, a missing CA bundle): a run checks this before it sends anything.
        """
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
        budget_deadline: float | None = None,
        max_answer_bytes: int | None = None,
    ) -> Answer:
        """Send one request, retrying transient failures, and return the decoded JSON answer.

        :param query: an already percent-encoded query string, without ``?``.
        :param description: names the request in errors and logs; holds no phone number.
        :param retry: ``False`` for a single attempt (a connection test).
        :param budget_deadline: the end of a retry budget already running (the halves of a split
            batch share their batch's); default: ``retry_budget`` from now.
        :param max_answer_bytes: the largest answer read (see :func:`answer_limit`); default: the
            limit of a request without phones.
        """
        headers = {"Content-Type": "application/json"} if body is not None else None
        limit = max_answer_bytes if max_answer_bytes is not None else answer_limit(self.settings)
        attempts = self.retry_policy.start(retry=retry, deadline=budget_deadline)
        maybe_applied = False
        while True:
            if self.abandoned.is_set():
                raise ThuliumUnavailableError(f"{description}: abandoned, the caller stopped")
            attempt = attempts.begin()
            retry_after: float | None = None
            try:
                status, answer_headers, content = self._attempt(method, path, query, body, headers, limit, description)
                # Headers reach messages too (the request id, Content-Type): the password is cut from them.
                if self._secret and any(self._secret.in_text(value) for value in answer_headers.values()):
                    answer_headers = CaseInsensitiveDict(
                        {k: self._secret.removed(v) for k, v in answer_headers.items()}
                    )
            except ThuliumError as exc:
                if not exc.retryable:
                    exc.attempts = attempt
                    raise
                failure = exc
            else:
                if status >= 300:
                    failure = error_from_answer(
                        status, answer_headers, _json_or_none(content, self._secret), description
                    )
                    retry_after = retry_after_seconds(answer_headers.get("Retry-After"))
                elif not content:
                    # Applied, but nothing to say per phone: every phone gets NO_ANSWER, not a retry.
                    return Answer({}, attempt, attempt - 1, maybe_applied)
                else:
                    try:
                        return Answer(_decode_json(content, self._secret), attempt, attempt - 1, maybe_applied)
                    except (ValueError, RecursionError) as exc:
                        why = "nested too deeply" if isinstance(exc, RecursionError) else "not JSON"
                        failure = ThuliumResponseError(
                            f"{description}: the answer is {why} "
                            f"(Content-Type {safe_server_text(answer_headers.get('Content-Type', 'missing'), 60)!r}, "
                            f"{len(content)} bytes); a proxy page or a cut-off answer",
                            status_code=status,
                            request_id=answer_headers.get("X-Request-Id"),
                        )
            # A 429 says the request was not served; anything else may have followed Thulium applying it.
            maybe_applied = maybe_applied or failure.status_code != 429
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

    def _attempt(
        self,
        method: str,
        path: str,
        query: str,
        body: bytes | None,
        headers: dict[str, str] | None,
        limit: int,
        description: str,
    ) -> tuple[int, Mapping[str, str], bytes | bytearray | None]:
        """One attempt: the status, the headers and the body (``None``: a failed answer's body left unread).

        Ends within ``timeout`` from connecting to the answer's last byte: ``timeout`` bounds each
        socket operation, and at the attempt's deadline its connection is shut, which ends a read
        however slowly the server trickles headers or body.
        """
        timeout = self.settings.timeout
        deadline = _AttemptDeadline(timeout)
        _current.deadline = deadline
        try:
            prepared = self._prepared(method, path, query, body, headers)
            # No redirects: requests would replay a DELETE as a GET on a 301/302.
            response = self.session.send(
                prepared, timeout=(timeout, timeout), allow_redirects=False, **self._send_settings
            )
            try:
                status = response.status_code
                content: bytes | bytearray | None
                if status >= 300:
                    try:
                        content = _read_body(response, min(limit, _ERROR_BODY_BYTES), deadline.at)
                    except Exception:
                        content = None  # too large, cut off or late: the status tells what failed
                else:
                    content = _read_body(response, limit, deadline.at)
                if deadline.expired:
                    # The connection was shut under a read: what looks complete may be cut short.
                    raise _Late
            finally:
                response.close()
        except _TooLarge as exc:
            raise ThuliumAnswerTooLargeError(
                f"{description}: the answer is larger than the limit of {limit} bytes ({exc}); refused without "
                'reading it all. If Thulium\'s answers really are this large, raise the setting "max_answer_bytes"',
                status_code=exc.status,
            ) from None
        except ThuliumError:
            raise  # the session could not be built (credentials, CA bundle): nothing was sent
        except Exception as exc:
            raise self._attempt_failure(exc, deadline.expired, description) from None
        finally:
            deadline.end()
            _current.deadline = None
        return status, response.headers, content

    def _attempt_failure(self, exc: Exception, late: bool, description: str) -> ThuliumError:
        """The error an attempt's exception becomes."""
        if late or isinstance(exc, _Late):
            return ThuliumUnavailableError(
                f"{description}: no complete answer within the timeout ({self.settings.timeout:g} s); "
                "Thulium or the network is slow, or a proxy holds the connection"
            )
        if isinstance(exc, requests.exceptions.SSLError):
            reason = _transport_reason(exc, self._secret)
            hint = (
                "The server answered in plain http, not TLS: write http://... in the connection's host."
                if _PLAIN_HTTP_ANSWER.search(reason)
                else 'If the account uses a private CA, set the connection extra "verify" to the path of its CA bundle.'
            )
            failure = ThuliumUnavailableError(f"{description}: TLS failed ({reason}). {hint}")
            failure.retryable = False  # a certificate problem does not heal by repeating the request
            return failure
        if isinstance(exc, _CONFIGURATION_ERRORS):
            # The address or a proxy from the environment is unusable: the same on every attempt.
            return ThuliumConfigurationError(
                f"{description}: {_transport_reason(exc, self._secret)}; check the address and proxies"
            )
        if isinstance(exc, requests.RequestException):
            # Connection errors, timeouts, a body cut off mid-stream (ChunkedEncodingError), ...
            return ThuliumUnavailableError(
                f"{description}: no answer from Thulium ({_transport_reason(exc, self._secret)}); check the account "
                "address and that Thulium is reachable from the worker"
            )
        # Anything else (a malformed proxy URL urllib3 refuses, an OSError...): reported, not retried.
        return ThuliumError(f"{description}: unexpected {_transport_reason(exc, self._secret)}")


# requests' errors that say the request could not even be built: not worth repeating.
_CONFIGURATION_ERRORS = (
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidProxyURL,
)


class _TooLarge(Exception):  # an internal signal; never leaves this module
    def __init__(self, size: str, status: int) -> None:
        super().__init__(size)
        self.status = status


class _Late(Exception):  # an internal signal; never leaves this module
    pass


def _read_body(response: requests.Response, limit: int, deadline: float) -> bytearray:
    """The answer's body (decoded from its Content-Encoding), read in chunks; over ``limit`` bytes: ``_TooLarge``.

    A declared ``Content-Length`` over the limit is refused before reading; the bytes that arrive
    are counted too (a chunked answer declares none, a compressed one may grow).
    """
    declared = _content_length(response.headers.get("Content-Length"))
    if declared is not None and declared > limit:
        raise _TooLarge(f"it declared Content-Length {declared}", response.status_code)
    body = bytearray()
    for chunk in response.iter_content(_CHUNK_BYTES):
        body += chunk
        if len(body) > limit:
            raise _TooLarge("more than that arrived", response.status_code)
        if time.monotonic() > deadline:
            raise _Late
    return body


def _content_length(value: str | None) -> int | None:
    """The largest length a ``Content-Length`` header declares (it may repeat), or ``None``."""
    if not value:
        return None
    lengths = [int(part) for part in value.split(",") if part.strip().isdigit() and len(part.strip()) < 20]
    return max(lengths, default=None)


_MSGSPEC_DECODE = msgspec.json.Decoder().decode


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _decode_json(content: bytes | bytearray, secret: Secret) -> Any:
    # msgspec reads an answer two to three times faster than the json module, and refuses NaN and
    # Infinity as we do. What it cannot read (a lone surrogate escape, a number out of float range,
    # malformed text) goes to the json module, so an answer means the same whichever read it.
    try:
        payload = _MSGSPEC_DECODE(content)
    except (msgspec.DecodeError, RecursionError):
        # Strict: NaN and Infinity are not JSON, and Thulium never sends them.
        payload = json.loads(content, parse_constant=_refuse_constant)
    # The password, echoed by a server, never reaches a result, a message or a log line.
    return secret.removed(payload) if secret.in_bytes(content) else payload


def _json_or_none(content: bytes | bytearray | None, secret: Secret) -> Any:
    if not content:
        return None
    try:
        return _decode_json(content, secret)
    except (ValueError, RecursionError):
        return None


def _transport_reason(exc: BaseException, secret: Secret) -> str:
    # requests puts the full URL, query string and all, in its messages; the query holds phones.
    # The rest may quote the server (a status line, a header): one line, numbers masked.
    reason = exc
    while reason.__context__ is not None and not str(reason):
        reason = reason.__context__
    text = safe_server_text(hide_query(secret.removed(str(reason))), limit=300)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ----------------------------------------------------------------------------- the attempt deadline

#: The deadline of the attempt this thread is making, for the connection pools to attach it to
#: the connection the attempt uses.
_current = threading.local()


class _AttemptDeadline:
    """The end of one attempt: when it comes, the attempt's connection is shut down.

    ``timeout`` alone bounds each socket operation, not their sum: a server sending one byte
    every second would keep a read going for ever. Shutting the socket down ends whatever read
    is under way (headers or body, plain or TLS); the attempt then fails as a timeout.
    """

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.expired = False
        self.ended = False
        self._lock = threading.Lock()
        self._connection: Any = None
        _WATCHDOG.arm(self, self.at)

    def watch(self, connection: Any) -> None:
        """Note the connection the attempt is using (called by the pool as the request goes out)."""
        with self._lock:
            self._connection = connection
            # A kept-alive connection serves one attempt after another: the mark says whose it is now.
            connection._thulium_deadline = self

    def end(self) -> None:
        """The attempt is over: the deadline no longer applies."""
        with self._lock:
            self.ended = True

    def expire(self) -> bool:
        """Shut the attempt's connection; ``False`` when it has none yet (a name lookup, a connect)."""
        with self._lock:
            if self.ended:
                return True
            self.expired = True
            connection = self._connection
            sock = getattr(connection, "sock", None)
            if sock is None or getattr(connection, "_thulium_deadline", None) is not self:
                return False
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)
            return True


class _Watchdog:
    """One thread for the deadlines of every attempt in the process: it sleeps until the nearest.

    (A timer thread per attempt would cost more than the rest of a request to a nearby server.)
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every deadline and the thread (in a forked child, which has neither)."""
        self._wake = threading.Condition()
        self._due: list[tuple[float, int, _AttemptDeadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, deadline: _AttemptDeadline, at: float) -> None:
        with self._wake:
            heapq.heappush(self._due, (at, next(self._order), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="thulium-deadlines", daemon=True)
                self._thread.start()
            elif self._due[0][2] is deadline:
                self._wake.notify()  # sooner than what the thread sleeps towards

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._due or (self._due[0][0] > time.monotonic() and not self._due[0][2].ended):
                    self._wake.wait(None if not self._due else self._due[0][0] - time.monotonic())
                _, _, deadline = heapq.heappop(self._due)
            if not deadline.expire():
                # Not connected yet: look again shortly (the connect itself is bounded by the timeout).
                self.arm(deadline, time.monotonic() + 0.05)


_WATCHDOG = _Watchdog()
# A forked child (Airflow runs tasks in one) has neither the thread nor a usable lock: start afresh.
os.register_at_fork(after_in_child=_WATCHDOG.reset)


def _watch_connection(connection: Any) -> None:
    deadline = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.watch(connection)


class _WatchedHTTPPool(HTTPConnectionPool):
    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        _watch_connection(conn)
        return super()._make_request(conn, *args, **kwargs)


class _WatchedHTTPSPool(HTTPSConnectionPool):
    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        _watch_connection(conn)
        return super()._make_request(conn, *args, **kwargs)


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _DeadlineAdapter(HTTPAdapter):
    """An adapter whose connection pools let an attempt's deadline find its connection.

    SOCKS proxies keep urllib3's own pools: there, ``timeout`` bounds each socket operation only.
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager
