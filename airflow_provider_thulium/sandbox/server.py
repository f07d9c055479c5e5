"""The HTTP side of the Thulium sandbox: a threaded server on loopback with scriptable faults.

The server speaks HTTP/1.1 with keep-alive, as the real API behind its reverse proxy does, and
adds the proxy's usual limits (8 KiB request line, 1 MiB body). Faults let a test make chosen
requests fail in the ways a real network and proxy fail: error statuses with ``Retry-After``,
dropped connections, slow answers that still apply, HTML error pages and cut-off JSON.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import email.utils
import ipaddress
import json
import math
import re
import shutil
import socket
import socketserver
import ssl
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .state import (
    DEFAULT_LOGIN,
    DEFAULT_PAGE_LIMIT,
    DEFAULT_PASSWORD,
    ApiError,
    SandboxState,
    parse_record_filter,
)

#: A request line longer than this (without CRLF) is answered 414, as nginx does by default.
MAX_REQUEST_LINE = 8192
#: A body longer than this is answered 413 (nginx's default ``client_max_body_size``).
MAX_BODY = 1_048_576

# How much of a request line is kept in memory; anything longer is only counted.
_LINE_READ = 65537
# Bounds on reading and discarding what a rejected client still sends, so that closing the
# connection does not reset it before the client has read the answer.
_LINGER_SECONDS = 2.0
_LINGER_BYTES = 64 * 1_048_576

_FAULT_KEYS = frozenset(
    {"status", "times", "after", "method", "path", "retry_after", "delay", "drop", "apply", "body", "truncate"}
)
_SECONDS_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_METHOD_RE = re.compile(r"[A-Za-z]+")
_HOST_PORT_RE = re.compile(r"[0-9]{1,5}")


def retry_after_value(value: Any) -> str:
    """``value`` as a ``Retry-After`` header value, or ``ValueError`` with what is wrong.

    Accepted: a number of seconds, 0 or more (an int, a float or a string of digits such as
    ``"2"`` or ``"0.5"``), or an HTTP date such as ``"Wed, 21 Oct 2015 07:28:00 GMT"``. Anything
    with control characters (CR/LF would let a test inject headers) or outside printable ASCII is
    refused, as is anything else a client could not parse as either form.
    """
    expected = (
        "retry_after must be a number of seconds (0 or more) or an HTTP date such as 'Wed, 21 Oct 2015 07:28:00 GMT'"
    )
    if isinstance(value, bool):
        raise ValueError(f"{expected}, got {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{expected}, got {value!r}")
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if not isinstance(value, str):
        raise ValueError(f"{expected}, got {type(value).__name__}")
    if any(not " " <= char <= "~" for char in value):
        raise ValueError(f"{expected}, without control or non-ASCII characters; got {value!r}")
    text = value.strip()
    if _SECONDS_RE.fullmatch(text):
        return text
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        parsed = None
    if parsed is None:
        raise ValueError(f"{expected}, got {value!r}")
    return text


def _check_number(name: str, value: Any, *, integer: bool) -> None:
    kinds = int if integer else int | float
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value) or value < 0:
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{name} must be {kind}, 0 or more, got {value!r}")


@dataclass
class Fault:
    """A scripted misbehaviour of the sandbox for matching ``/api/`` requests.

    Faults are checked in the order they were added; the first one whose ``method`` and
    ``path`` match and that has not fired ``times`` times yet fires, once it has let ``after``
    matching requests through. What a fault does, in order of precedence:

    - ``drop``: close the connection without answering (the change is applied first unless
      ``apply=False``);
    - ``body``: answer this raw text (status ``status`` or 200) instead of the real answer
      (applied first unless ``apply=False``);
    - ``status``: answer this status with the API's error body; the change is NOT applied;
    - ``truncate``: answer the real JSON cut in half (with ``apply=False`` the answer is computed
      without applying the change);
    - ``delay``: sleep this long before answering, after applying the change;
    - ``action``: called with the :class:`ThuliumSandbox` when the fault fires, before the
      request is served, e.g. to rotate a password or delete a campaign. With nothing else set,
      the request is then served normally, so the action can make this very request fail.

    ``retry_after`` adds a ``Retry-After`` header to whatever is answered: seconds (number or
    digits) or an HTTP date, checked when the fault is made (see :func:`retry_after_value`), as
    is every other value: a fault that cannot be served raises ``ValueError`` at once rather
    than breaking the request it fires on.
    """

    status: int | None = None
    times: int = 1
    after: int = 0
    method: str | None = None
    path: str | None = None
    retry_after: str | float | None = None
    delay: float = 0.0
    drop: bool = False
    apply: bool = True
    body: str | None = None
    truncate: bool = False
    action: Callable[[Any], None] | None = None
    fired: int = field(default=0, init=False)
    skipped: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.status is not None and (
            isinstance(self.status, bool) or not isinstance(self.status, int) or not 100 <= self.status <= 599
        ):
            raise ValueError(f"status must be an HTTP status from 100 to 599, got {self.status!r}")
        _check_number("times", self.times, integer=True)
        _check_number("after", self.after, integer=True)
        _check_number("delay", self.delay, integer=False)
        if self.method is not None and (not isinstance(self.method, str) or not _METHOD_RE.fullmatch(self.method)):
            raise ValueError(f"method must be an HTTP method such as 'DELETE', got {self.method!r}")
        if self.path is not None and not isinstance(self.path, str):
            raise ValueError(f"path must be a string, got {self.path!r}")
        if self.body is not None and not isinstance(self.body, str):
            raise ValueError(f"body must be a string, got {type(self.body).__name__}")
        for name in ("drop", "apply", "truncate"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.action is not None and not callable(self.action):
            raise ValueError("action must be callable")
        if self.retry_after is not None:
            self.retry_after = retry_after_value(self.retry_after)

    def matches(self, method: str, path: str) -> bool:
        """Whether a request with this method and path (no query) is one this fault targets."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path is None or self.path in path

    @classmethod
    def from_json(cls, data: Any) -> Fault:
        """Build a fault from a JSON object (as posted to ``/_sandbox/faults``; no ``action``)."""
        if not isinstance(data, dict):
            raise ValueError("a fault must be a JSON object")
        unknown = set(data) - _FAULT_KEYS
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        """The fault as JSON-able data (its action shown only as present or not)."""
        data: dict[str, Any] = {key: getattr(self, key) for key in sorted(_FAULT_KEYS)}
        data["action"] = self.action is not None
        data["fired"] = self.fired
        return data


@dataclass
class RequestLog:
    """One request as the sandbox received it.

    ``status`` is the status answered, or 0 when the connection was dropped. The body is kept
    raw and parsed on first access to :attr:`body`, so that logging hundreds of 1 MiB bodies
    during a benchmark does not cost a parsed copy of each.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    user: str | None
    status: int
    request_line_bytes: int
    body_bytes: int
    raw_body: bytes = field(default=b"", repr=False)

    @cached_property
    def body(self) -> Any:
        """The body parsed as JSON, or None when it was empty or not JSON."""
        if not self.raw_body:
            return None
        try:
            return json.loads(self.raw_body)
        except ValueError:
            return None

    def to_json(self) -> dict[str, Any]:
        """The entry as JSON-able data."""
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "user": self.user,
            "body": self.body,
            "status": self.status,
            "request_line_bytes": self.request_line_bytes,
            "body_bytes": self.body_bytes,
        }


@dataclass
class _Answer:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


def _json_answer(status: int, data: Any, request_id: str) -> _Answer:
    body = json.dumps(data, separators=(",", ":")).encode()
    return _Answer(status, body, headers=[("X-Request-Id", request_id)])


def _error_answer(status: int, message: str, request_id: str) -> _Answer:
    data = {"request_id": request_id, "errors": [{"message": message, "code": status}]}
    answer = _json_answer(status, data, request_id)
    if status == 401:
        answer.headers.append(("WWW-Authenticate", 'Basic realm="Thulium API"'))
    return answer


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _content_type_of(text: str) -> str:
    try:
        json.loads(text)
    except ValueError:
        stripped = text.lstrip()
        return "text/html; charset=utf-8" if stripped.startswith("<") else "text/plain; charset=utf-8"
    return "application/json"


def _flag(query: dict[str, list[str]], name: str) -> bool:
    # How the server reads a query flag, not user input (that is settings.parse_bool): the vendor
    # documents true/false, so anything else is a 400, which a client bug would then show.
    values = query.get(name)
    if not values:
        return False
    value = values[-1].strip().lower()
    if value in {"true", "1"}:
        return True
    if value in {"false", "0", ""}:
        return False
    raise ApiError(400, f"Invalid value of {name}: expected true or false.")


def _int_param(query: dict[str, list[str]], name: str, default: int) -> int:
    values = query.get(name)
    if not values:
        return default
    try:
        return int(values[-1])
    except ValueError:
        raise ApiError(400, f"{name} must be an integer.") from None


#: ``(method, path, what it does)`` of the control endpoints, as ``GET /_sandbox/`` lists them.
#: They answer only a loopback ``Host`` and, for a body or a POST, ``Content-Type: application/json``.
CONTROL_ENDPOINTS: tuple[tuple[str, str, str], ...] = (
    ("GET", "/_sandbox/", "this list"),
    (
        "GET",
        "/_sandbox/state",
        "the whole state: users (no passwords), agents, campaigns (statuses, agents, records), clock",
    ),
    ("GET", "/_sandbox/requests", "the log of /api/ requests, oldest first"),
    ("DELETE", "/_sandbox/requests", "clear the request log"),
    ("GET", "/_sandbox/faults", "the scheduled faults, with how often each fired"),
    ("POST", "/_sandbox/faults", "add faults: one object or a list, with the keys of Fault (no action)"),
    ("DELETE", "/_sandbox/faults", "remove every fault"),
    ("POST", "/_sandbox/reset", 'restore a seed and forget faults and the log: {"seed": "demo"} or {"seed": "empty"}'),
    (
        "POST",
        "/_sandbox/clock",
        'freeze the clock that dates added records: {"now": "YYYY-MM-DD hh:mm"}; {"now": null} unfreezes',
    ),
    (
        "POST",
        "/_sandbox/campaigns",
        'create a campaign: {"id": "00010", "name": "...", "fields": [], "statuses": [], "agents": []}',
    ),
    (
        "POST",
        "/_sandbox/agents",
        'add an agent: {"login": "...", "name": "...", "number": "...", "active": true, "campaigns": []}',
    ),
    ("GET", "/_sandbox/campaigns/{id}/records", "every record of a campaign, as the sandbox keeps it"),
    ("POST", "/_sandbox/campaigns/{id}/records", "add records: a list of objects with the keys of Record"),
    (
        "POST",
        "/_sandbox/campaigns/{id}/bulk",
        'add plain records fast: {"phones": [...]} or {"count": N, "first_phone": "48700000000"}; '
        'optional "status_id", "create_date", "call_date"',
    ),
    ("GET", "/_sandbox/campaigns/{id}/in_call", "the records whose call is in progress"),
    ("POST", "/_sandbox/campaigns/{id}/in_call", 'start or end calls: {"phone_number": "...", "in_call": true}'),
)

#: The most records one bulk control request may generate from a count.
_MAX_BULK_COUNT = 2_000_000


def _bulk_phones(options: dict[str, Any]) -> list[str]:
    """The phones of a bulk control request: a list, or ``count`` numbers from ``first_phone`` on."""
    phones = options.get("phones")
    if phones is not None:
        if not isinstance(phones, list) or not all(isinstance(p, str) for p in phones):
            raise ValueError('"phones" must be a list of strings')
        return phones
    count = options.get("count")
    first = str(options.get("first_phone", "48700000000"))
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= _MAX_BULK_COUNT:
        raise ValueError(f'expected "phones": [...] or "count": 0 to {_MAX_BULK_COUNT}')
    if not first.isascii() or not first.isdigit():
        raise ValueError('"first_phone" must be digits')
    start = int(first)
    return [str(start + n).zfill(len(first)) for n in range(count)]


def _is_loopback_host(value: str | None) -> bool:
    """Whether a ``Host`` header names loopback: ``localhost``, ``127.x.x.x`` or ``[::1]``, any port."""
    if not value:
        return False
    host = value.strip()
    if host.startswith("["):
        name, bracket, port = host[1:].partition("]")
        if not bracket or (port and not (port.startswith(":") and _HOST_PORT_RE.fullmatch(port[1:]))):
            return False
        try:
            return ipaddress.IPv6Address(name).is_loopback
        except ValueError:
            return False
    name, colon, port = host.partition(":")
    if colon and not _HOST_PORT_RE.fullmatch(port):
        return False
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.IPv4Address(name).is_loopback
    except ValueError:
        return False


def is_loopback_address(host: str) -> bool:
    """Whether a listening address (or name) is loopback only; ``0.0.0.0`` and ``::`` are not."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        sandbox: ThuliumSandbox,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self.sandbox = sandbox
        self.ssl_context = ssl_context
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can take seconds without DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        # http.server writes status line, headers and body in separate writes in places; without
        # TCP_NODELAY, Nagle plus the client's delayed ACK add ~40 ms to an answer.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_context is not None:
            # The handshake is left to the handler thread so a slow client cannot stall accept().
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        with self.connections_lock:
            self.connections.add(sock)
        return sock, address

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake every handler blocked on a kept-alive connection, so that stop() really stops."""
        with self.connections_lock:
            connections = list(self.connections)
        for sock in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        # Clients going away, TLS clients rejecting the certificate and idle timeouts are normal.
        if isinstance(error, OSError | ssl.SSLError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ThuliumSandbox/1.0"
    # Idle keep-alive connections are closed after this, so abandoned clients free their thread.
    timeout = 120.0

    @property
    def sandbox(self) -> ThuliumSandbox:
        server = self.server
        assert isinstance(server, _Server)
        return server.sandbox

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log lines of http.server."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer protocol errors found by http.server with the API's error body, then close."""
        self.close_connection = True
        self._send(_error_answer(code, message or _phrase(code), uuid.uuid4().hex))

    # ----------------------------------------------------------------- request reading

    def handle_one_request(self) -> None:
        try:
            raw = self.rfile.readline(_LINE_READ)
        except OSError:
            self.close_connection = True
            return
        if not raw:
            self.close_connection = True
            return
        line_bytes = len(raw)
        tail = raw
        if not raw.endswith(b"\n"):
            if len(raw) < _LINE_READ:
                # The client closed in the middle of a request line.
                self.close_connection = True
                return
            while tail and not tail.endswith(b"\n") and line_bytes < _LINGER_BYTES:
                tail = self.rfile.readline(_LINE_READ)
                line_bytes += len(tail)
        line_bytes -= len(tail) - len(tail.rstrip(b"\r\n"))
        if line_bytes > MAX_REQUEST_LINE:
            self._reject_line(raw, line_bytes)
            return
        self.raw_requestline = raw
        if not self.parse_request():
            return
        try:
            self._serve(line_bytes)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _reject_line(self, raw: bytes, line_bytes: int) -> None:
        text = raw.decode("latin-1").rstrip("\r\n")
        method, _, rest = text.partition(" ")
        target = rest.rsplit(" ", 1)[0] if rest.endswith(("HTTP/1.1", "HTTP/1.0")) else rest
        split = urlsplit(target)
        self.close_connection = True
        request_id = uuid.uuid4().hex
        self.sandbox._record(
            RequestLog(
                method=method,
                path=split.path,
                query=parse_qs(split.query, keep_blank_values=True),
                user=None,
                status=414,
                request_line_bytes=line_bytes,
                body_bytes=0,
            )
        )
        self._send(_error_answer(414, "Request-URI Too Large.", request_id))
        self._linger()

    def _linger(self) -> None:
        """Read and discard what the client still sends, then let the connection close.

        Closing a socket with unread data makes the kernel reset the connection, and the reset can
        reach the client before it has read the 413/414 answer. Proxies linger the same way.
        """
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.settimeout(0.2)
            deadline = time.monotonic() + _LINGER_SECONDS
            received = 0
            while time.monotonic() < deadline and received < _LINGER_BYTES:
                try:
                    chunk = self.connection.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                received += len(chunk)

    def _credentials(self) -> tuple[str | None, str | None]:
        header = self.headers.get("Authorization")
        if not header:
            return None, None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None, None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        login, sep, password = decoded.partition(":")
        return login, (password if sep else None)

    # ----------------------------------------------------------------- request serving

    def _serve(self, line_bytes: int) -> None:
        sandbox = self.sandbox
        method = self.command
        split = urlsplit(self.path)
        path = split.path
        query = parse_qs(split.query, keep_blank_values=True)
        login, password = self._credentials()
        request_id = uuid.uuid4().hex

        def log(status: int, body: bytes = b"", declared: int = 0) -> None:
            sandbox._record(
                RequestLog(method, path, query, login, status, line_bytes, declared, body),
            )

        control = path == "/_sandbox" or path.startswith("/_sandbox/")
        if self.headers.get("Transfer-Encoding"):
            # Every client this sandbox serves sends Content-Length; chunked bodies are not needed.
            self.close_connection = True
            if not control:
                log(411)
            self._send(_error_answer(411, "Length Required.", request_id))
            self._linger()
            return
        try:
            declared = int(self.headers.get("Content-Length") or 0)
            if declared < 0:
                raise ValueError(declared)
        except ValueError:
            self.close_connection = True
            if not control:
                log(400)
            self._send(_error_answer(400, "Invalid Content-Length.", request_id))
            return
        if declared > MAX_BODY:
            self.close_connection = True
            if not control:
                log(413, declared=declared)
            self._send(_error_answer(413, "Request Entity Too Large.", request_id))
            self._linger()
            return
        body = self.rfile.read(declared) if declared else b""
        if len(body) < declared:
            self.close_connection = True
            return

        if control:
            self._send(self._control(method, path, body, request_id))
            return

        is_api = path.startswith("/api/")
        fault = sandbox._pick_fault(method, path) if is_api else None
        answer: _Answer | None
        try:
            if fault is not None and fault.action is not None:
                fault.action(sandbox)
            answer = self._answer(method, path, query, login, password, body, request_id, fault)
        except Exception:
            # A bug in the sandbox or in a test's fault action: show it, answer like a server would.
            traceback.print_exc()
            answer = _error_answer(500, "Internal sandbox error.", request_id)

        pause = (sandbox.latency if is_api else 0.0) + (fault.delay if fault is not None else 0.0)
        if pause > 0:
            time.sleep(pause)
        # Logged before answering, so a client that has its answer always finds the entry.
        if answer is None:
            log(0, body, declared)
            self.close_connection = True
            return
        log(answer.status, body, declared)
        self._send(answer)

    def _answer(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        login: str | None,
        password: str | None,
        body: bytes,
        request_id: str,
        fault: Fault | None,
    ) -> _Answer | None:
        def real(dry_run: bool = False) -> _Answer:
            return self._api(method, path, query, login, password, body, request_id, dry_run)

        if fault is None:
            return real()
        answer: _Answer | None
        if fault.drop:
            if fault.apply:
                real()
            return None
        if fault.body is not None:
            if fault.apply:
                real()
            answer = _Answer(
                fault.status or 200,
                fault.body.encode(),
                _content_type_of(fault.body),
                [("X-Request-Id", request_id)],
            )
        elif fault.status is not None:
            answer = _error_answer(fault.status, f"{_phrase(fault.status)} (sandbox fault).", request_id)
        else:
            answer = real(dry_run=fault.truncate and not fault.apply)
            if fault.truncate:
                answer.body = answer.body[: len(answer.body) // 2]
        if fault.retry_after is not None:
            answer.headers.append(("Retry-After", str(fault.retry_after)))
        return answer

    def _api(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        login: str | None,
        password: str | None,
        body: bytes,
        request_id: str,
        dry_run: bool,
    ) -> _Answer:
        sandbox = self.sandbox
        state = sandbox.state
        try:
            if not path.startswith("/api/"):
                raise ApiError(404, "Not found.")
            if login is None or not state.authenticate(login, password):
                raise ApiError(401, "Invalid credentials.")
            parts = [unquote(p) for p in path[len("/api/") :].strip("/").split("/")]
            if method == "GET" and parts == ["outbounds"]:
                state.require(login, "outbounds.list")
                return _json_answer(200, state.api_list_campaigns(), request_id)
            if method == "GET" and len(parts) == 3 and parts[0] == "outbounds":
                campaign_id, what = parts[1], parts[2]
                if what == "statuses":
                    state.require(login, "records.read")
                    return _json_answer(200, state.api_statuses(campaign_id), request_id)
                if what == "records":
                    state.require(login, "records.read")
                    limit = _int_param(query, "limit", DEFAULT_PAGE_LIMIT)
                    offset = _int_param(query, "offset", 0)
                    wanted = parse_record_filter(query)
                    return _json_answer(200, state.api_page(campaign_id, limit, offset, wanted), request_id)
                if what == "agents":
                    state.require(login, "agents.read")
                    return _json_answer(200, state.api_agents(campaign_id), request_id)
            if len(parts) == 4 and parts[:2] == ["batch", "outbounds"] and parts[3] == "records":
                campaign_id = parts[2]
                if method == "DELETE":
                    state.require(login, "records.delete")
                    phones = query.get("phone_number[]")
                    if not phones:
                        raise ApiError(400, "The parameter phone_number[] is required.")
                    additional = _flag(query, "search_in_additional_numbers")
                    result: Any = state.api_delete(campaign_id, phones, additional, dry_run)
                    return _json_answer(sandbox.batch_status, result, request_id)
                if method == "PUT":
                    state.require(login, "records.update")
                    additional = _flag(query, "search_in_additional_numbers")
                    try:
                        payload = json.loads(body)
                    except ValueError:
                        raise ApiError(400, "Invalid JSON body.") from None
                    result = state.api_update(campaign_id, payload, additional, dry_run)
                    return _json_answer(sandbox.batch_status, result, request_id)
                if method == "POST":
                    state.require(login, "records.add")
                    try:
                        payload = json.loads(body)
                    except ValueError:
                        raise ApiError(400, "Invalid JSON body.") from None
                    result = state.api_add(campaign_id, payload, dry_run)
                    return _json_answer(sandbox.batch_status, result, request_id)
            raise ApiError(404, "Not found.")
        except ApiError as error:
            return _error_answer(error.status, error.message, request_id)

    def _control_refusal(self, method: str, body: bytes) -> str | None:
        """Why a control request is refused, or None.

        The control endpoints have no authentication, so they only answer requests that a web page
        in a browser cannot make: the ``Host`` must be a loopback name or address (a page on
        another site that rebinds its DNS name to 127.0.0.1 still sends its own name), and a
        request with a body, or a POST, must say ``Content-Type: application/json`` (a
        cross-origin form post cannot, and a script cannot without the server's consent).
        """
        host = self.headers.get("Host")
        if not _is_loopback_host(host):
            shown = "no Host header" if host is None else f"Host {host[:100]!r}"
            return (
                "The sandbox's control endpoints answer only requests to a loopback name or address "
                f"(Host localhost, 127.0.0.1 or [::1], with or without a port); this request has {shown}."
            )
        if body or method in {"POST", "PUT", "PATCH"}:
            content_type = self.headers.get("Content-Type")
            media = (content_type or "").split(";")[0].strip().lower()
            if media != "application/json":
                shown = "none" if content_type is None else repr(content_type[:100])
                return (
                    "The sandbox's control endpoints take only Content-Type: application/json for a request "
                    f"with a body or a POST; this request has {shown}."
                )
        return None

    def _control(self, method: str, path: str, body: bytes, request_id: str) -> _Answer:
        """The unauthenticated ``/_sandbox/`` endpoints (:data:`CONTROL_ENDPOINTS`)."""
        refusal = self._control_refusal(method, body)
        if refusal is not None:
            return _error_answer(403, refusal, request_id)
        sandbox = self.sandbox
        state = sandbox.state
        rest = path[len("/_sandbox") :].strip("/")
        parts = [unquote(part) for part in rest.split("/")] if rest else []
        try:
            payload = json.loads(body) if body.strip() else None
        except ValueError:
            return _error_answer(400, "Invalid JSON body.", request_id)
        options = payload if isinstance(payload, dict) else {}
        try:
            if parts == [] and method == "GET":
                listing = [{"method": m, "path": p, "description": d} for m, p, d in CONTROL_ENDPOINTS]
                return _json_answer(200, listing, request_id)
            if parts == ["state"] and method == "GET":
                return _json_answer(200, state.snapshot(), request_id)
            if parts == ["requests"] and method == "GET":
                return _json_answer(200, [r.to_json() for r in sandbox.requests], request_id)
            if parts == ["requests"] and method == "DELETE":
                sandbox.clear_requests()
                return _json_answer(200, {"cleared": True}, request_id)
            if parts == ["faults"]:
                if method == "GET":
                    return _json_answer(200, [f.to_json() for f in sandbox.faults], request_id)
                if method == "POST":
                    items = payload if isinstance(payload, list) else [payload]
                    faults = [Fault.from_json(item) for item in items]
                    for fault in faults:
                        sandbox.add_fault(fault)
                    return _json_answer(200, {"added": len(faults)}, request_id)
                if method == "DELETE":
                    sandbox.clear_faults()
                    return _json_answer(200, {"cleared": True}, request_id)
            if parts == ["reset"] and method == "POST":
                seed = options.get("seed", "demo")
                sandbox.reset(seed)
                return _json_answer(200, {"seed": seed}, request_id)
            if parts == ["clock"] and method == "POST":
                if "now" not in options:
                    raise ValueError('expected {"now": "YYYY-MM-DD hh:mm"} or {"now": null}')
                state.set_clock(options["now"])
                return _json_answer(200, {"now": state.now(), "frozen": options["now"] is not None}, request_id)
            if parts == ["campaigns"] and method == "POST":
                campaign = state.add_campaign(
                    str(options.get("id", "")),
                    str(options.get("name", "")),
                    fields=options.get("fields") or (),
                    statuses=options.get("statuses"),
                    agents=options.get("agents"),
                )
                return _json_answer(200, {"id": campaign.id}, request_id)
            if parts == ["agents"] and method == "POST":
                if not isinstance(options.get("login"), str):
                    raise ValueError('expected {"login": "...", ...}')
                agent = state.add_agent(
                    options["login"],
                    str(options.get("name", "")),
                    number=str(options.get("number", "")),
                    agent_id=options.get("agent_id"),
                    active=bool(options.get("active", True)),
                    campaigns=options.get("campaigns"),
                    active_in_outbound=bool(options.get("active_in_outbound", True)),
                )
                return _json_answer(200, agent.to_json(), request_id)
            if len(parts) == 3 and parts[0] == "campaigns":
                campaign_id, what = parts[1], parts[2]
                if what == "records" and method == "GET":
                    return _json_answer(200, state.records(campaign_id), request_id)
                if what == "records" and method == "POST":
                    if not isinstance(payload, list):
                        raise ValueError("expected a JSON list of records")
                    ids = state.add_records(campaign_id, payload)
                    return _json_answer(200, {"added": len(ids), "record_ids": ids}, request_id)
                if what == "bulk" and method == "POST":
                    added = state.bulk_add(
                        campaign_id,
                        _bulk_phones(options),
                        status_id=options.get("status_id"),
                        create_date=options.get("create_date"),
                        call_date=options.get("call_date"),
                    )
                    return _json_answer(200, {"added": added}, request_id)
                if what == "in_call" and method == "GET":
                    return _json_answer(200, state.in_call(campaign_id), request_id)
                if what == "in_call" and method == "POST":
                    phone = options.get("phone_number")
                    if not isinstance(phone, str):
                        raise ValueError('expected {"phone_number": "...", "in_call": true}')
                    matched = state.set_in_call(campaign_id, phone, bool(options.get("in_call", True)))
                    return _json_answer(200, {"matched": matched}, request_id)
        except KeyError as error:
            return _error_answer(404, str(error.args[0] if error.args else error), request_id)
        except (ValueError, TypeError) as error:
            return _error_answer(400, str(error), request_id)
        return _error_answer(404, "Not found: GET /_sandbox/ lists the control endpoints.", request_id)

    def _send(self, answer: _Answer) -> None:
        lines = [
            f"HTTP/1.1 {answer.status} {_phrase(answer.status)}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {answer.content_type}",
            f"Content-Length: {len(answer.body)}",
        ]
        lines += [f"{name}: {value}" for name, value in answer.headers]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        # One write for head and body: one segment on the wire for small answers.
        self.wfile.write(head + answer.body)


def _write_tls_files(directory: str, host: str) -> tuple[str, str, str]:
    """Create a throwaway CA and a server certificate for loopback; returns (ca, cert, key) paths."""
    # Imported here: cryptography is only needed when a test asks for TLS.
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    valid_from = now - datetime.timedelta(minutes=5)
    valid_to = now + datetime.timedelta(days=7)

    def key_usage(*, cert_sign: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=cert_sign,
            crl_sign=cert_sign,
            encipher_only=False,
            decipher_only=False,
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Thulium sandbox test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_to)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    try:
        extra_name: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        extra_name = x509.DNSName(host)
    if extra_name not in names:
        names.append(extra_name)

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_to)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    ca_path = f"{directory}/ca.pem"
    cert_path = f"{directory}/server.pem"
    key_path = f"{directory}/server-key.pem"
    with open(ca_path, "wb") as handle:
        handle.write(ca_cert.public_bytes(serialization.Encoding.PEM))
    with open(cert_path, "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as handle:
        handle.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return ca_path, cert_path, key_path


class ThuliumSandbox:
    """A local stand-in for the Thulium API, served over HTTP(S) on loopback.

    :param host: address to listen on. Anything but loopback (see :attr:`is_loopback`) lets
        others use the fixed demo credentials; the control endpoints still answer only requests
        whose ``Host`` is loopback.
    :param port: port to listen on; 0 picks a free one (see :attr:`url`).
    :param tls: serve https with a freshly generated CA (see :attr:`ca_bundle`).
    :param batch_status: overall status of batch answers, 207 (default) or 200; the vendor
        documents neither for sure, so clients must accept both.
    :param latency: seconds to sleep before every ``/api/`` answer (after applying the change).
    :param record_requests: keep a :class:`RequestLog` per request (see :attr:`requests`).
    :param seed: ``"demo"`` for the demo data set or ``"empty"``.
    :param show_record_fields: show ``record_fields`` in ``GET outbounds/:id/records`` (``False``: the
        vendor's documented answer, which has none); :attr:`SandboxState.show_record_fields` changes it later.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tls: bool = False,
        batch_status: int = 207,
        latency: float = 0.0,
        record_requests: bool = True,
        seed: str = "demo",
        show_record_fields: bool = True,
    ) -> None:
        if batch_status not in (200, 207):
            raise ValueError(f"batch_status must be 200 or 207, got {batch_status}")
        self.host = host
        self._port = port
        self.tls = tls
        self.batch_status = batch_status
        self.latency = latency
        self.record_requests = record_requests
        self._state = SandboxState(seed)
        self._state.show_record_fields = show_record_fields
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._requests: list[RequestLog] = []
        self._request_count = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._tls_dir: str | None = None
        self._ca_bundle: str | None = None

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> ThuliumSandbox:
        """Bind and start serving in a background thread; returns the sandbox itself."""
        if self._server is not None:
            return self
        context: ssl.SSLContext | None = None
        if self.tls:
            self._tls_dir = tempfile.mkdtemp(prefix="thulium-sandbox-tls-")
            ca_path, cert_path, key_path = _write_tls_files(self._tls_dir, self.host)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert_path, key_path)
            self._ca_bundle = ca_path
        try:
            server = _Server((self.host, self._port), self, context)
        except BaseException:
            if self._tls_dir is not None:
                shutil.rmtree(self._tls_dir, ignore_errors=True)
                self._tls_dir = self._ca_bundle = None
            raise
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"thulium-sandbox-{server.server_port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and remove the TLS files (safe to call twice)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._tls_dir is not None:
            shutil.rmtree(self._tls_dir, ignore_errors=True)
            self._tls_dir = None

    def __enter__(self) -> ThuliumSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ----------------------------------------------------------------- addresses and credentials

    @property
    def port(self) -> int:
        """The port served on (only known once started when 0 was asked)."""
        if self._server is None:
            raise RuntimeError("the sandbox is not running: call start() first")
        return self._server.server_port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (the API is under ``/api/``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def login(self) -> str:
        """Login of the default API user (all permissions)."""
        return DEFAULT_LOGIN

    @property
    def password(self) -> str:
        """Current password of the default API user."""
        with self._state.lock:
            entry = self._state.users.get(DEFAULT_LOGIN)
        return entry[0] if entry is not None else DEFAULT_PASSWORD

    @property
    def ca_bundle(self) -> str | None:
        """Path of the CA certificate (PEM) to verify the sandbox with, when serving TLS."""
        return self._ca_bundle

    @property
    def state(self) -> SandboxState:
        """The data and API semantics behind the server."""
        return self._state

    @property
    def is_loopback(self) -> bool:
        """Whether the sandbox listens on loopback only (not e.g. on ``0.0.0.0``)."""
        return is_loopback_address(self.host)

    def connection_json(self, **extra: Any) -> str:
        """An Airflow connection in JSON form, for ``AIRFLOW_CONN_<ID>``.

        ``extra`` becomes the connection's extras. ``verify`` is not added for TLS on purpose:
        pass ``verify=sandbox.ca_bundle`` when the client should trust the sandbox's CA. A plain
        http sandbox on a non-loopback address gets ``"allow_http": true`` (unless ``extra``
        says otherwise): the provider refuses plain http to such a host without it.
        """
        if not self.tls and not self.is_loopback:
            extra = {"allow_http": True, **extra}
        data: dict[str, Any] = {
            "conn_type": "thulium",
            "host": self.url,
            "login": self.login,
            "password": self.password,
        }
        if extra:
            data["extra"] = extra
        return json.dumps(data)

    def reset(self, seed: str = "demo") -> None:
        """Restore the state to ``seed`` and forget faults and logged requests."""
        self._state.reset(seed)
        self.clear_faults()
        self.clear_requests()

    # ----------------------------------------------------------------- faults and request log

    def add_fault(self, fault: Fault) -> Fault:
        """Schedule a fault (checked after the ones already added); returns it."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        """The scheduled faults (a copy of the list; the faults themselves are live)."""
        with self._lock:
            return list(self._faults)

    @property
    def requests(self) -> list[RequestLog]:
        """Logged requests, oldest first (a copy). Control endpoints are not logged."""
        with self._lock:
            return list(self._requests)

    @property
    def request_count(self) -> int:
        """How many requests were received (other than control ones), logged or not."""
        with self._lock:
            return self._request_count

    def clear_requests(self) -> None:
        """Forget logged requests and reset :attr:`request_count`."""
        with self._lock:
            self._requests.clear()
            self._request_count = 0

    def _record(self, entry: RequestLog) -> None:
        with self._lock:
            self._request_count += 1
            if self.record_requests:
                self._requests.append(entry)

    def _pick_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.fired >= fault.times or not fault.matches(method, path):
                    continue
                if fault.skipped < fault.after:
                    fault.skipped += 1
                    continue
                fault.fired += 1
                return fault
        return None
