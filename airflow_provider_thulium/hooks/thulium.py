"""ThuliumHook: the connection to one Thulium account and the batch calls on its outbound campaigns."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from functools import cached_property
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import requests
from requests.adapters import HTTPAdapter

from airflow_provider_thulium import __version__
from airflow_provider_thulium.exceptions import (
    ThuliumAuthenticationError,
    ThuliumConfigurationError,
    ThuliumError,
    ThuliumNotFoundError,
    ThuliumPermissionError,
    ThuliumRequestRejectedError,
    ThuliumResponseError,
    ThuliumUnavailableError,
)
from airflow_provider_thulium.get_provider_info import (
    CONNECTION_EXTRA_FIELDS,
    CONNECTION_FIELD_BEHAVIOUR,
    connection_placeholders,
)
from airflow_provider_thulium.privacy import mask_numbers
from airflow_provider_thulium.results import DELETE, UPDATE, RecordResults
from airflow_provider_thulium.validation import (
    normalize_campaign_id,
    parse_flag,
    parse_phone_numbers,
    parse_records,
    resolve_timezone,
)
from airflow_provider_thulium.version_compat import BaseHook

# Statuses worth another attempt: 429 and 5xx come from overload or from a proxy in front of the
# account (CONTRACT: "Rate limits"); both batch calls are idempotent, so a repeat is safe.
_RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
_QUERY_STRING = re.compile(r"\?[^\s'\"]*")
_PHONE_PARAM = "phone_number%5B%5D="
# One encoder for every body: json.dumps with options builds a new encoder per call.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class _HidePhoneQueries(logging.Filter):
    """Cut the query string out of urllib3's DEBUG lines about our DELETE batches.

    urllib3 logs every request's full URL at DEBUG, and a DELETE batch carries every phone number
    in its query string (CONTRACT: DELETE); with task logging at DEBUG they would all land in the
    task log. Only lines holding our phone parameter are touched.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and _PHONE_PARAM in record.msg:
            record.msg = _QUERY_STRING.sub("?…", record.msg)
        if isinstance(record.args, tuple) and any(isinstance(a, str) and _PHONE_PARAM in a for a in record.args):
            record.args = tuple(
                _QUERY_STRING.sub("?…", a) if isinstance(a, str) and _PHONE_PARAM in a else a for a in record.args
            )
        return True


def _hide_phone_queries_in_urllib3_logs() -> None:
    urllib3_log = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(existing, _HidePhoneQueries) for existing in urllib3_log.filters):
        urllib3_log.addFilter(_HidePhoneQueries())


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "1", "yes", "on", "false", "0", "no", "off"}:
        return value.strip().lower() in {"true", "1", "yes", "on"}
    raise ThuliumConfigurationError(f"Thulium setting {name!r}: expected true or false, got {value!r}")


def _as_verify(name: str, value: Any) -> bool | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip():
        text = value.strip()
        return _as_bool(name, text) if text.lower() in {"true", "false", "1", "0", "yes", "no"} else text
    raise ThuliumConfigurationError(f"Thulium setting {name!r}: expected true, false or a CA bundle path")


def _as_number(minimum: float, integer: bool) -> Callable[[str, Any], Any]:
    def convert(name: str, value: Any) -> Any:
        try:
            number = (int if integer else float)(value)
        except (TypeError, ValueError):
            number = None
        if isinstance(value, bool) or number is None or number < minimum:
            kind = "an integer" if integer else "a number"
            raise ThuliumConfigurationError(f"Thulium setting {name!r}: expected {kind} >= {minimum}, got {value!r}")
        return number

    return convert


def _as_text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ThuliumConfigurationError(f"Thulium setting {name!r}: expected a non-empty string")
    return value.strip()


@dataclass(frozen=True)
class ThuliumSettings:
    """Transport settings of a hook: defaults, overridden by connection extras, overridden by hook arguments.

    :param timeout: seconds to wait for each answer.
    :param verify: verify TLS certificates (``True``), don't (``False``), or the path of a CA bundle.
    :param max_retries: retries of one request after a timeout, dropped connection, 429 or 5xx.
    :param backoff: seconds before the first retry; doubled for each further one, with jitter.
    :param max_backoff: the longest wait between two attempts of our own choosing.
    :param max_retry_after: the longest ``Retry-After`` honoured; a longer one is cut to this.
    :param retry_budget: seconds one batch may spend on all its attempts and waits together.
    :param max_concurrent_requests: batches in flight at once.
    :param max_batch_size: records (phones) per request at most.
    :param max_request_line_bytes: request-line size a DELETE batch stays under (proxies answer 414 above 8 KiB).
    :param max_body_bytes: body size a PUT batch stays under (proxies commonly answer 413 above 1 MiB).
    :param accept_language: ``Accept-Language`` for Thulium's error texts (``en`` or ``pl``).
    :param timezone: the account's time zone, for converting aware ``next_call_date`` values.
    :param allow_http: allow plain ``http://`` to a host that is not loopback.
    """

    timeout: float = 30.0
    verify: bool | str = True
    max_retries: int = 5
    backoff: float = 1.0
    max_backoff: float = 30.0
    max_retry_after: float = 120.0
    retry_budget: float = 300.0
    max_concurrent_requests: int = 1
    max_batch_size: int = 1000
    max_request_line_bytes: int = 8000
    max_body_bytes: int = 1_000_000
    accept_language: str | None = None
    timezone: str = "Europe/Warsaw"
    allow_http: bool = False

    @classmethod
    def merge(cls, *layers: dict[str, Any]) -> ThuliumSettings:
        """Return settings from layers of values, later layers winning; ``None`` means "not set"."""
        values: dict[str, Any] = {}
        for layer in layers:
            for name, value in layer.items():
                if value is None or (isinstance(value, str) and not value.strip()):
                    continue
                convert = _SETTING_CONVERTERS.get(name)
                if convert is None:
                    raise ThuliumConfigurationError(
                        f"Unknown Thulium setting {name!r}; known: {', '.join(sorted(_SETTING_CONVERTERS))}"
                    )
                values[name] = convert(name, value)
        settings = cls(**values)
        if settings.max_concurrent_requests < 1 or settings.max_batch_size < 1:
            raise ThuliumConfigurationError("max_concurrent_requests and max_batch_size must be at least 1")
        return settings


_SETTING_CONVERTERS: dict[str, Callable[[str, Any], Any]] = {
    "timeout": _as_number(0.001, integer=False),
    "verify": _as_verify,
    "max_retries": _as_number(0, integer=True),
    "backoff": _as_number(0, integer=False),
    "max_backoff": _as_number(0, integer=False),
    "max_retry_after": _as_number(0, integer=False),
    "retry_budget": _as_number(0, integer=False),
    "max_concurrent_requests": _as_number(1, integer=True),
    "max_batch_size": _as_number(1, integer=True),
    "max_request_line_bytes": _as_number(256, integer=True),
    "max_body_bytes": _as_number(256, integer=True),
    "accept_language": _as_text,
    "timezone": _as_text,
    "allow_http": _as_bool,
}


@dataclass
class BatchResult:
    """What one batch of a call came to: Thulium's per-phone answer, or the error that ended it.

    :param phones: the phone numbers the batch carried, in input order.
    :param answer: Thulium's answer object (phone → result), or ``None`` when the batch failed.
    :param error: the error that ended the batch after retries, or ``None``.
    :param requests: HTTP requests made for this batch (retries and 413/414 splits included).
    :param retries: how many of those were retries.
    :param seconds: wall time spent on the batch.
    """

    phones: list[str]
    answer: dict[str, Any] | None
    error: ThuliumError | None
    requests: int
    retries: int
    seconds: float


@dataclass(frozen=True)
class _Batch:
    phones: list[str]
    query: str
    items: Sequence[Any]  # what the batch was built from: phones (delete) or records (update)
    rebuild: Callable[[Sequence[Any]], _Batch]  # a batch of the same call from a slice of `items`
    body: bytes | None = None


@dataclass
class _Answer:
    payload: Any
    requests: int
    retries: int


class ThuliumHook(BaseHook):
    """Talk to one Thulium account: remove and update records of outbound campaigns.

    The connection's host is the account's address (``acme.thulium.com``, https assumed, or a URL
    with scheme, with or without the ``/api`` suffix); login and password are an API user's.
    Settings (see :class:`ThuliumSettings`) come from defaults, then the connection's extras, then
    these arguments.

    :param thulium_conn_id: the Airflow connection to use.
    :param timeout: seconds to wait for each answer (default 30).
    :param verify: ``True``, ``False`` or a CA bundle path (default ``True``).
    :param max_retries: retries of one request (default 5).
    :param max_concurrent_requests: batches in flight at once (default 1).
    :param settings: any other :class:`ThuliumSettings` field, e.g. ``retry_budget=60``.
    """

    conn_name_attr = "thulium_conn_id"
    default_conn_name = "thulium_default"
    conn_type = "thulium"
    hook_name = "Thulium"

    def __init__(
        self,
        thulium_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        verify: bool | str | None = None,
        max_retries: int | None = None,
        max_concurrent_requests: int | None = None,
        **settings: Any,
    ) -> None:
        super().__init__()
        self.thulium_conn_id = thulium_conn_id
        # Set when a caller stops reading a batch stream, so worker threads stop retrying.
        self._abandoned = threading.Event()
        self._overrides: dict[str, Any] = {
            "timeout": timeout,
            "verify": verify,
            "max_retries": max_retries,
            "max_concurrent_requests": max_concurrent_requests,
            **settings,
        }

    # -- connection form (Airflow < 3.2 reads these; newer versions read get_provider_info) --

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields of the Thulium connection form."""
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import StringField

        return {
            name: StringField(
                lazy_gettext(field["label"]), widget=BS3TextFieldWidget(), description=field["description"]
            )
            for name, field in CONNECTION_EXTRA_FIELDS.items()
        }

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabel, hide and fill in the standard fields of the connection form."""
        return {
            "hidden_fields": list(CONNECTION_FIELD_BEHAVIOUR["hidden-fields"]),
            "relabeling": dict(CONNECTION_FIELD_BEHAVIOUR["relabeling"]),
            "placeholders": connection_placeholders(),
        }

    # -- connection --

    @cached_property
    def _connection(self) -> Any:
        return self.get_connection(self.thulium_conn_id)

    @cached_property
    def settings(self) -> ThuliumSettings:
        """The settings in force: defaults < connection extras < hook arguments."""
        extras = dict(self._connection.extra_dejson or {})
        # Forms of Airflow before 2.3 stored extras with this prefix; accept both spellings.
        prefix = f"extra__{self.conn_type}__"
        extras = {key.removeprefix(prefix): value for key, value in extras.items()}
        return ThuliumSettings.merge(extras, self._overrides)

    @cached_property
    def account_timezone(self) -> ZoneInfo:
        """The account's time zone (``timezone`` setting), used for aware ``next_call_date`` values."""
        return resolve_timezone(self.settings.timezone)

    @cached_property
    def base_url(self) -> str:
        """The account's API root, ending in ``/api/``."""
        conn = self._connection
        host = (conn.host or "").strip()
        if not host:
            raise ThuliumConfigurationError(
                f"Connection {self.thulium_conn_id!r} has no host: set it to the account's address, "
                "e.g. acme.thulium.com"
            )
        if "://" not in host:
            host = "https://" + host
        parts = urlsplit(host)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ThuliumConfigurationError(
                f"Connection {self.thulium_conn_id!r}: host must be an https address such as https://acme.thulium.com"
            )
        netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        port = parts.port or conn.port
        if port:
            netloc += f":{port}"
        if parts.scheme == "http" and not self.settings.allow_http and not _is_loopback(parts.hostname):
            raise ThuliumConfigurationError(
                f"Connection {self.thulium_conn_id!r} uses plain http to {parts.hostname}: the API user's "
                "password would cross the network unencrypted. Use https, or set the extra "
                '"allow_http": true if this is intended.'
            )
        path = parts.path.rstrip("/")
        if not path.endswith("/api"):
            path += "/api"
        return f"{parts.scheme}://{netloc}{path}/"

    @cached_property
    def session(self) -> requests.Session:
        """The one HTTP session of this hook, reused by every request (keep-alive)."""
        conn = self._connection
        if not conn.login or not conn.password:
            raise ThuliumConfigurationError(
                f"Connection {self.thulium_conn_id!r} needs the API user's login and password"
            )
        settings = self.settings
        if isinstance(settings.verify, str) and not os.path.exists(settings.verify):
            # requests would raise a bare OSError at the first request.
            raise ThuliumConfigurationError(
                f'Connection {self.thulium_conn_id!r}: the "verify" CA bundle {settings.verify!r} does not exist'
            )
        _hide_phone_queries_in_urllib3_logs()
        try:
            # Basic auth is latin-1 in requests; checked here so the error cannot quote the password.
            f"{conn.login}:{conn.password}".encode("latin-1")
        except UnicodeEncodeError:
            raise ThuliumConfigurationError(
                f"Connection {self.thulium_conn_id!r}: the login or password holds a character that HTTP "
                "Basic auth cannot carry (only Latin-1); set a password without it for the API user"
            ) from None
        session = requests.Session()
        session.auth = (conn.login, conn.password)
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
        # Retries are ours (see _request): urllib3's own would hide them from the counts and budget.
        adapter = HTTPAdapter(pool_maxsize=max(10, settings.max_concurrent_requests), max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        if settings.verify is False:
            self.log.warning("TLS certificate verification is off for connection %s", self.thulium_conn_id)
        return session

    @cached_property
    def _send_settings(self) -> dict[str, Any]:
        """Proxies, CA bundle and the like from the environment, merged once rather than per request.

        ``verify`` is passed explicitly: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override
        ``session.verify`` (psf/requests#3829), which would ignore the connection's CA bundle or
        ``verify=false``; with the default ``True`` those variables still apply.
        """
        return dict(self.session.merge_environment_settings(self.base_url, {}, None, self.settings.verify, None))

    def get_conn(self) -> requests.Session:
        """Return the hook's :class:`requests.Session` (authenticated, with the provider's headers)."""
        return self.session

    def close(self) -> None:
        """Close the session's pooled connections."""
        if "session" in self.__dict__:
            self.session.close()
            del self.__dict__["session"]

    # -- API calls --

    def list_campaigns(self) -> list[dict[str, Any]]:
        """Return the account's outbound campaigns (``GET outbounds``)."""
        answer = self._request("GET", "outbounds", description="GET outbounds")
        if not isinstance(answer.payload, list):
            raise ThuliumResponseError("GET outbounds answered something other than a list of campaigns")
        return answer.payload

    def test_connection(self) -> tuple[bool, str]:
        """Check the address, TLS and credentials with one read-only call (``GET outbounds``)."""
        try:
            self._request("GET", "outbounds", description="GET outbounds", retry=False)
        except ThuliumPermissionError:
            return True, (
                "The credentials work, but this API user may not list campaigns (GET outbounds answered 403); "
                "check its permissions for the record methods you will call."
            )
        except ThuliumError as exc:
            return False, str(exc)
        return True, "Connected to Thulium: the API user can list campaigns."

    def delete_records(
        self,
        campaign_id: str | int,
        phone_numbers: Iterable[str | int] | str,
        search_in_additional_numbers: bool = False,
    ) -> dict[str, list[dict[str, Any]]]:
        """Remove records from a campaign by phone number (``DELETE batch/outbounds/:id/records``).

        Splits the numbers into as many requests as the request-line limit needs and merges the
        answers. Every record found for a number is removed; a record in a call is not
        (status ``CALL_IN_PROGRESS``).

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param phone_numbers: the numbers (str or int), or one string of them separated by commas or spaces.
        :param search_in_additional_numbers: also match records by their additional numbers.
        :return: phone → list of results, in the API's shape, one key per distinct input phone.
            A phone Thulium left out of its answer gets a client-side entry with ``"http_status": None``
            and ``"status": "NO_ANSWER"``.
        :raises ThuliumValidationError: before any request, when the input is invalid.
        :raises ThuliumError: the first batch error that survived the retries, once the run is over;
            its ``results`` hold every phone's result, so what was applied is known.
        """
        campaign = normalize_campaign_id(campaign_id)
        phones = parse_phone_numbers(phone_numbers)
        results = RecordResults(DELETE, campaign, phones, self.log)
        return self._collect(results, self.stream_delete_records(campaign, phones, search_in_additional_numbers))

    def update_records(
        self,
        campaign_id: str | int,
        records: Sequence[dict[str, Any]] | str,
        search_in_additional_numbers: bool = False,
    ) -> dict[str, dict[str, Any]]:
        """Edit records of a campaign (``PUT batch/outbounds/:id/records``).

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param records: dicts with ``phone_number`` and any of ``status_id``, ``dictionary_status_id``,
            ``agent_login``, ``next_call_date`` (``YYYY-MM-DD hh:mm`` or a datetime), ``record_fields``;
            or a JSON string of such a list.
        :param search_in_additional_numbers: also match records by their additional numbers.
        :return: phone → one result, in the API's shape (``{"http_status": 204}`` on success).
        :raises ThuliumValidationError: before any request, when the input is invalid.
        :raises ThuliumError: the first batch error that survived the retries, once the run is over;
            its ``results`` hold every phone's result, so what was applied is known.
        """
        campaign = normalize_campaign_id(campaign_id)
        clean = parse_records(records, self.account_timezone)
        results = RecordResults(UPDATE, campaign, [record["phone_number"] for record in clean], self.log)
        return self._collect(results, self.stream_update_records(campaign, clean, search_in_additional_numbers))

    @staticmethod
    def _collect(results: RecordResults, batches: Generator[BatchResult, None, None]) -> dict[str, Any]:
        # The whole stream is read even after a failed batch: batches already on the wire were
        # sent, and their answers belong in the results the error carries.
        first_error: ThuliumError | None = None
        with closing(batches):
            for batch in batches:
                results.add_batch(batch)
                first_error = first_error or batch.error
        entries = results.finish()
        if first_error is not None:
            first_error.results = entries
            raise first_error
        return entries

    def stream_delete_records(
        self, campaign_id: str, phones: Sequence[str], search_in_additional_numbers: bool = False
    ) -> Generator[BatchResult, None, None]:
        """Send validated phone numbers for removal in batches; yield each batch's result in input order.

        The lower-level form of :meth:`delete_records` for callers that keep going after a failed
        batch. It stops after a batch that failed for a reason later batches would share
        (credentials, permission, unknown campaign, server unavailable, unreadable answers).
        A caller that stops reading early should close the iterator (``contextlib.closing``): that
        cancels the batch queued to be sent next and stops retries of those in flight.
        """
        path = f"batch/outbounds/{campaign_id}/records"
        search = parse_flag(search_in_additional_numbers, "search_in_additional_numbers")
        flag = "search_in_additional_numbers=true&" if search else ""
        return self._stream("DELETE", path, self._delete_batches(path, phones, flag))

    def stream_update_records(
        self, campaign_id: str, records: Sequence[dict[str, Any]], search_in_additional_numbers: bool = False
    ) -> Generator[BatchResult, None, None]:
        """Send validated records in batches; yield each batch's result in input order.

        The lower-level form of :meth:`update_records`; it stops as :meth:`stream_delete_records` does.
        """
        path = f"batch/outbounds/{campaign_id}/records"
        search = parse_flag(search_in_additional_numbers, "search_in_additional_numbers")
        query = "search_in_additional_numbers=true" if search else ""
        return self._stream("PUT", path, self._update_batches(records, query))

    # -- batching --

    def _delete_batches(self, path: str, phones: Sequence[str], flag: str) -> Iterator[_Batch]:
        # DELETE carries every number in the query string (CONTRACT: DELETE), so the request line
        # "DELETE /api/<path>?<query> HTTP/1.1" must stay under the proxy limit.
        settings = self.settings
        fixed = len(f"DELETE {urlsplit(self.base_url).path}{path}?{flag} HTTP/1.1")

        def build(batch: Sequence[Any]) -> _Batch:
            query = flag + "&".join(_PHONE_PARAM + quote(phone, safe="") for phone in batch)
            return _Batch(list(batch), query, batch, build)

        batch: list[str] = []
        size = fixed
        for phone in phones:
            part = len(_PHONE_PARAM) + len(quote(phone, safe="")) + 1
            if batch and (size + part > settings.max_request_line_bytes or len(batch) >= settings.max_batch_size):
                yield build(batch)
                batch, size = [], fixed
            batch.append(phone)
            size += part
        if batch:
            yield build(batch)

    def _update_batches(self, records: Sequence[dict[str, Any]], query: str) -> Iterator[_Batch]:
        settings = self.settings

        def build(batch: Sequence[Any]) -> _Batch:
            body = _JSON.encode({"records": list(batch)}).encode()
            return _Batch([record["phone_number"] for record in batch], query, batch, build, body)

        # One encoder call per batch of max_batch_size; the rare batch whose body comes out over
        # max_body_bytes is halved when it is sent (see _send_batch).
        for start in range(0, len(records), settings.max_batch_size):
            yield build(records[start : start + settings.max_batch_size])

    def _stream(self, method: str, path: str, batches: Iterator[_Batch]) -> Generator[BatchResult, None, None]:
        # Built here, before any worker thread, so threads never race to create them.
        _ = self.session, self._send_settings
        limit = self.settings.max_concurrent_requests
        # At most `limit` requests in flight (one worker each) and one batch queued behind them, so
        # a worker starts the next request the moment an answer is in instead of waiting for this
        # thread to hand it over; meanwhile this thread builds the batch after it and the caller
        # records the answer. Results are handed back in input order.
        pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="thulium")
        self._abandoned.clear()
        run_ended = threading.Event()

        def send(batch: _Batch) -> list[BatchResult]:
            if run_ended.is_set():
                return []  # queued behind the batch that ended the run: not sent, its phones stay NOT_SENT
            results = self._send_batch(method, path, batch)
            if any(result.error is not None and not result.error.batch_local for result in results):
                run_ended.set()
            return results

        build_error: Exception | None = None

        def submit_next() -> None:
            nonlocal build_error
            if run_ended.is_set() or build_error is not None:
                return
            try:
                batch = next(batches, None)
            except Exception as exc:  # e.g. a body that cannot be encoded: raised after the sent batches' answers
                build_error = exc
                return
            if batch is not None:
                pending.append(pool.submit(send, batch))

        finished = False
        try:
            pending: deque[Future[list[BatchResult]]] = deque()
            for _ in range(limit + 1):
                submit_next()
            while pending:
                results = pending.popleft().result()
                submit_next()
                # Batches already in flight when the run ended were sent: their answers are reported.
                yield from results
            finished = True
            if build_error is not None:
                raise build_error
        finally:
            # A caller that stops reading (a task killed or timed out) must not wait here for the
            # batches still in flight and their retries.
            if not finished:
                self._abandoned.set()  # requests in flight give up instead of retrying
            pool.shutdown(wait=finished, cancel_futures=True)

    def _send_batch(self, method: str, path: str, batch: _Batch) -> list[BatchResult]:
        """Send one batch; a batch a proxy finds too large (413/414) is halved and each half sent."""
        started = time.monotonic()
        description = f"{method} {path} ({len(batch.phones)} phone numbers)"
        if batch.body is not None and len(batch.body) > self.settings.max_body_bytes and len(batch.items) > 1:
            return self._send_halves(method, path, batch)
        try:
            answer = self._request(method, path, query=batch.query, body=batch.body, description=description)
        except ThuliumRequestRejectedError as exc:
            if exc.status_code in (413, 414) and len(batch.items) > 1:
                # A proxy in front of the account has a lower limit than the batch was sized for.
                self.log.warning("%s answered %s; splitting the batch in two", description, exc.status_code)
                results = self._send_halves(method, path, batch)
                results[0].requests += 1  # the rejected request
                return results
            return [BatchResult(batch.phones, None, exc, 1, 0, time.monotonic() - started)]
        except ThuliumError as exc:
            return [BatchResult(batch.phones, None, exc, exc.attempts, exc.attempts - 1, time.monotonic() - started)]
        except Exception as exc:
            # Whatever else went wrong, the batch still gets a result and the run stops cleanly,
            # so every phone is accounted for in XCom.
            error = ThuliumError(f"{description}: unexpected {type(exc).__name__}: {mask_numbers(str(exc))}")
            return [BatchResult(batch.phones, None, error, 1, 0, time.monotonic() - started)]
        seconds = time.monotonic() - started
        if not isinstance(answer.payload, dict):
            error = ThuliumResponseError(
                f"{description} answered {type(answer.payload).__name__} instead of an object keyed by phone number"
            )
            return [BatchResult(batch.phones, None, error, answer.requests, answer.retries, seconds)]
        return [BatchResult(batch.phones, answer.payload, None, answer.requests, answer.retries, seconds)]

    def _send_halves(self, method: str, path: str, batch: _Batch) -> list[BatchResult]:
        middle = len(batch.items) // 2
        halves = (batch.rebuild(batch.items[:middle]), batch.rebuild(batch.items[middle:]))
        return [result for half in halves for result in self._send_batch(method, path, half)]

    # -- transport --

    def _request(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        body: bytes | None = None,
        description: str,
        retry: bool = True,
    ) -> _Answer:
        """Send one request, retrying transient failures, and return the decoded JSON answer."""
        settings = self.settings
        headers = {"Content-Type": "application/json"} if body is not None else None
        deadline = time.monotonic() + settings.retry_budget
        max_attempts = 1 + (settings.max_retries if retry else 0)
        attempt = 0
        while True:
            if self._abandoned.is_set():
                raise ThuliumUnavailableError(f"{description}: abandoned, the caller stopped")
            attempt += 1
            wait: float | None = None
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
                    prepared, timeout=settings.timeout, allow_redirects=False, **self._send_settings
                )
            except requests.exceptions.SSLError as exc:
                raise ThuliumUnavailableError(
                    f"{description}: TLS failed ({_transport_reason(exc)}). If the account uses a private CA, "
                    'set the connection extra "verify" to the path of its CA bundle.'
                ) from None
            except requests.RequestException as exc:
                # Connection errors, timeouts, a body cut off mid-stream (ChunkedEncodingError), ...
                failure: ThuliumError = ThuliumUnavailableError(
                    f"{description}: no answer from Thulium ({_transport_reason(exc)}); check the account "
                    "address and that Thulium is reachable from the worker"
                )
            else:
                status = response.status_code
                if status in _RETRYABLE_STATUSES:
                    failure = _error_from_response(response, description)
                    wait = _retry_after_seconds(response.headers.get("Retry-After"))
                elif status >= 300:
                    error = _error_from_response(response, description)
                    error.attempts = attempt
                    raise error
                elif not response.content:
                    # Applied, but nothing to say per phone: every phone gets NO_ANSWER, not a retry.
                    return _Answer({}, attempt, attempt - 1)
                else:
                    try:
                        return _Answer(response.json(), attempt, attempt - 1)
                    except ValueError:
                        failure = ThuliumResponseError(
                            f"{description}: the answer is not JSON "
                            f"(Content-Type {response.headers.get('Content-Type', 'missing')!r}, "
                            f"{len(response.content)} bytes); a proxy page or a cut-off answer",
                            status_code=status,
                            request_id=response.headers.get("X-Request-Id"),
                        )
            if wait is None:
                step = min(settings.max_backoff, settings.backoff * 2 ** (attempt - 1))
                wait = step / 2 + random.uniform(0, step / 2)
            else:
                wait = min(wait, settings.max_retry_after)
            remaining = deadline - time.monotonic()
            if attempt >= max_attempts or wait > remaining:
                why = "no retries left" if attempt >= max_attempts else "the retry budget is spent"
                if retry:
                    failure = type(failure)(
                        f"{failure.reason} [{attempt} attempt(s), {why}]",
                        status_code=failure.status_code,
                        request_id=failure.request_id,
                        api_messages=failure.api_messages,
                    )
                failure.attempts = attempt
                raise failure
            self.log.warning(
                "%s failed (attempt %d of %d), retrying in %.1f s: %s",
                description,
                attempt,
                max_attempts,
                wait,
                failure.reason,
            )
            self._abandoned.wait(wait)


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _transport_reason(exc: BaseException) -> str:
    # requests puts the full URL, query string and all, in its messages; the query holds phones.
    reason = exc
    while reason.__context__ is not None and not str(reason):
        reason = reason.__context__
    text = _QUERY_STRING.sub("?…", str(reason))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (a number of seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


_ERRORS_BY_STATUS: dict[int, tuple[type[ThuliumError], str]] = {
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
}


def _error_from_response(response: requests.Response, description: str) -> ThuliumError:
    """Build the error for a failed answer, with Thulium's request_id and messages."""
    request_id = response.headers.get("X-Request-Id")
    messages: list[str] = []
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        request_id = str(payload.get("request_id") or request_id or "") or None
        for error in payload.get("errors") or []:
            if isinstance(error, dict) and error.get("message"):
                code = f" [code {error['code']}]" if error.get("code") is not None else ""
                messages.append(f"{error['message']}{code}")
    status = response.status_code
    cls, hint = _ERRORS_BY_STATUS.get(status, (None, ""))  # type: ignore[assignment]
    if cls is None:
        if status < 400:
            cls, hint = (
                ThuliumConfigurationError,
                "the address answered with a redirect; set the connection's host to the account's final address",
            )
        elif status >= 500:
            cls, hint = ThuliumUnavailableError, "Thulium or a proxy in front of it failed"
        else:
            cls, hint = ThuliumRequestRejectedError, "Thulium rejected the request"
    return cls(f"{description}: {hint}", status_code=status, request_id=request_id, api_messages=messages)


__all__ = ["BatchResult", "ThuliumHook", "ThuliumSettings"]
