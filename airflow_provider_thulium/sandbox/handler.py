"""The HTTP layer: the threaded server and the handler that reads requests and writes answers.

The server speaks HTTP/1.1 with keep-alive, as the real API behind its reverse proxy does, and
adds the proxy's usual limits (8 KiB request line, 1 MiB body). A request is read here, then
answered by :mod:`.control` (``/_sandbox/``) or :mod:`.routes` (``/api/``), shaped by a fault
(:mod:`.faults`) when one fires.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import socket
import socketserver
import ssl
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from .answers import Answer, error_answer, status_phrase
from .control import control_answer
from .faults import Fault, fault_answer
from .request_log import RequestLog
from .routes import api_answer

if TYPE_CHECKING:
    from .interface import SandboxInterface

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


class SandboxServer(ThreadingHTTPServer):
    """The threaded HTTP(S) server of one sandbox, which can close its kept-alive connections.

    :param address: ``(host, port)`` to listen on; a host with ``:`` is IPv6.
    :param sandbox: what requests read and change (see :class:`~.interface.SandboxInterface`).
    :param ssl_context: serve TLS with this context, or plain HTTP with None.
    :param log_request: called with every request but the control ones, to count and log it.
    :param pick_fault: called with an ``/api/`` request's method and path; returns the fault that
        fires on it (counted as fired), or None.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        sandbox: SandboxInterface,
        ssl_context: ssl.SSLContext | None,
        *,
        log_request: Callable[[RequestLog], None],
        pick_fault: Callable[[str, str], Fault | None],
    ) -> None:
        self.sandbox = sandbox
        self.log_request = log_request
        self.pick_fault = pick_fault
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
    def _sandbox_server(self) -> SandboxServer:
        server = self.server
        assert isinstance(server, SandboxServer)
        return server

    @property
    def sandbox(self) -> SandboxInterface:
        return self._sandbox_server.sandbox

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log lines of http.server."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer protocol errors found by http.server with the API's error body, then close."""
        self.close_connection = True
        self._send(error_answer(code, message or status_phrase(code), uuid.uuid4().hex))

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
        self._sandbox_server.log_request(
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
        self._send(error_answer(414, "Request-URI Too Large.", request_id))
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
        server = self._sandbox_server
        sandbox = server.sandbox
        method = self.command
        split = urlsplit(self.path)
        path = split.path
        query = parse_qs(split.query, keep_blank_values=True)
        login, password = self._credentials()
        request_id = uuid.uuid4().hex

        def log(status: int, body: bytes = b"", declared: int = 0) -> None:
            server.log_request(
                RequestLog(method, path, query, login, status, line_bytes, declared, body),
            )

        control = path == "/_sandbox" or path.startswith("/_sandbox/")
        if self.headers.get("Transfer-Encoding"):
            # Every client this sandbox serves sends Content-Length; chunked bodies are not needed.
            self.close_connection = True
            if not control:
                log(411)
            self._send(error_answer(411, "Length Required.", request_id))
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
            self._send(error_answer(400, "Invalid Content-Length.", request_id))
            return
        if declared > MAX_BODY:
            self.close_connection = True
            if not control:
                log(413, declared=declared)
            self._send(error_answer(413, "Request Entity Too Large.", request_id))
            self._linger()
            return
        body = self.rfile.read(declared) if declared else b""
        if len(body) < declared:
            self.close_connection = True
            return

        if control:
            self._send(control_answer(self.sandbox, self.headers, method, path, body, request_id))
            return

        is_api = path.startswith("/api/")
        fault = server.pick_fault(method, path) if is_api else None
        answer: Answer | None
        try:
            if fault is not None and fault.action is not None:
                fault.action(sandbox)
            answer = self._answer(method, path, query, login, password, body, request_id, fault)
        except Exception:
            # A bug in the sandbox or in a test's fault action: show it, answer like a server would.
            traceback.print_exc()
            answer = error_answer(500, "Internal sandbox error.", request_id)

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
    ) -> Answer | None:
        def real(dry_run: bool = False) -> Answer:
            return api_answer(self.sandbox, method, path, query, login, password, body, request_id, dry_run)

        if fault is None:
            return real()
        return fault_answer(fault, real, request_id)

    def _send(self, answer: Answer) -> None:
        lines = [
            f"HTTP/1.1 {answer.status} {status_phrase(answer.status)}",
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
