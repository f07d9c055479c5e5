"""The sandbox as a whole: :class:`ThuliumSandbox` starts the server, holds the state, faults and log.

Faults let a test make chosen requests fail in the ways a real network and proxy fail: error
statuses with ``Retry-After``, dropped connections, slow answers that still apply, HTML error pages
and cut-off JSON (see :class:`Fault`). The HTTP layer is in :mod:`.handler`.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import ssl
import tempfile
import threading
from types import TracebackType
from typing import Any

from .control import CONTROL_ENDPOINTS
from .faults import Fault, retry_after_value
from .handler import MAX_BODY, MAX_REQUEST_LINE, SandboxServer
from .request_log import RequestLog
from .seeds import DEFAULT_LOGIN, DEFAULT_PASSWORD
from .state import SandboxState
from .tls import write_tls_files

# The names other modules and earlier versions import from here.
__all__ = [
    "CONTROL_ENDPOINTS",
    "MAX_BODY",
    "MAX_REQUEST_LINE",
    "Fault",
    "RequestLog",
    "ThuliumSandbox",
    "is_loopback_address",
    "retry_after_value",
]


def is_loopback_address(host: str) -> bool:
    """Whether a listening address (or name) is loopback only; ``0.0.0.0`` and ``::`` are not."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
        self._server: SandboxServer | None = None
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
            ca_path, cert_path, key_path = write_tls_files(self._tls_dir, self.host)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert_path, key_path)
            self._ca_bundle = ca_path
        try:
            server = SandboxServer(
                (self.host, self._port), self, context, log_request=self._record, pick_fault=self._pick_fault
            )
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

        :param extra: the connection's extras.
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
        """Restore the state to ``seed`` and forget faults and logged requests.

        :param seed: ``"demo"`` or ``"empty"``.
        """
        self._state.reset(seed)
        self.clear_faults()
        self.clear_requests()

    # ----------------------------------------------------------------- faults and request log

    def add_fault(self, fault: Fault) -> Fault:
        """Schedule a fault (checked after the ones already added); returns it.

        :param fault: the fault.
        """
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
