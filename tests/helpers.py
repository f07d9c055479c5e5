"""What many tests share: quick retries, a fresh DAG, a connection from the environment, a raw loopback server."""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import sqlite3
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import DAG

#: Retry settings that keep a test's retries to milliseconds.
FAST_RETRIES: dict[str, Any] = {"backoff": 0.01, "max_backoff": 0.05}

_dag_ids = itertools.count()


def new_dag(**kwargs: Any) -> DAG:
    """A DAG with a unique id, not scheduled, to run with ``run_dag``."""
    return DAG(
        f"thulium_test_{next(_dag_ids)}",
        schedule=None,
        start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
        catchup=False,
        **kwargs,
    )


def set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: Any) -> None:
    """Define an Airflow connection of type thulium in the environment for this test."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "thulium", **fields}))


def crm_database(folder: Path) -> str:
    """The CRM table thulium_crm_sync reads its leads from, in a SQLite file in ``folder``: the JSON of
    the Airflow connection ``crm_db`` (for ``AIRFLOW_CONN_CRM_DB``)."""
    path = folder / "crm.db"
    with sqlite3.connect(path) as db:
        db.executescript((Path(__file__).parents[1] / "dags_examples" / "data" / "crm_leads.sql").read_text())
    return json.dumps({"conn_type": "sqlite", "host": str(path)})


def run_timed_out(dag: DAG) -> Any:
    """Run a DAG whose task hits its ``execution_timeout``; return the DagRun.

    Airflow 2.11's ``dag.test()`` lets the task's timeout escape: the run is then read back.
    """
    from airflow_provider_thulium.testing import latest_run, run_dag

    try:
        return run_dag(dag)
    except BaseException as exc:
        assert type(exc).__name__ == "AirflowTaskTimeout"
        return latest_run(dag.dag_id)


def tries(dag_run: Any) -> dict[str, int]:
    """task_id → the try number the task instance ended on, read from the metadata database."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(TaskInstance).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id).all()
        return {row.task_id: row.try_number for row in rows}


def xcom_rows(dag_run: Any) -> list[tuple[str, int, str]]:
    """Every XCom row of the run as (task_id, map_index, key), read from the metadata database."""
    from airflow.utils.session import create_session

    from airflow_provider_thulium.testing import xcom_model

    model, _ = xcom_model()
    with create_session() as session:
        rows = session.query(model).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id).all()
        return sorted((row.task_id, row.map_index, row.key) for row in rows)


def all_logs(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> str:
    """Everything logged: Airflow 2.11 through logging (caplog), Airflow 3's task logs to stdout (capfd)."""
    out, err = capfd.readouterr()
    lines = [f"{r.name} {r.levelname} {r.getMessage()}" for r in caplog.records]
    lines += ["".join(traceback.format_exception(*r.exc_info)) for r in caplog.records if r.exc_info]
    return "\n".join([*lines, out, err])


# ----------------------------------------------------------------------------- a raw loopback server

#: In an answer script: close the connection here.
CLOSE = object()


@dataclass
class RawRequest:
    """One request a :class:`RawServer` received."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes


class RawServer:
    """A loopback HTTP/1.1 server that answers with exactly the bytes a test scripts, checking nothing.

    For what the sandbox cannot produce: a body trickled one byte at a time, a lying Content-Length,
    a proxy answering 413 to everything, any bytes at all. ``answer`` is called with each request and
    returns the script of the answer: ``bytes`` are sent, a ``float`` is a pause in seconds,
    :data:`CLOSE` closes the connection. Connections are kept alive between answers. Use as a
    context manager; ``url`` is its address, ``requests`` what it received.
    """

    def __init__(self, answer: Callable[[RawRequest], Iterable[Any]]) -> None:
        self.answer = answer
        self.requests: list[RawRequest] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._connections: list[socket.socket] = []
        self._stopped = threading.Event()
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> RawServer:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self._listener.close()
        for connection in list(self._connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self._connections.append(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        reader = connection.makefile("rb")
        try:
            while not self._stopped.is_set():
                request = self._read_request(reader)
                if request is None:
                    return
                self.requests.append(request)
                for step in self.answer(request):
                    if self._stopped.is_set() or step is CLOSE:
                        return
                    if isinstance(step, (int, float)):
                        time.sleep(step)
                    else:
                        connection.sendall(step)
        except OSError:
            return  # the client went away (or shut the socket at its deadline)
        finally:
            with contextlib.suppress(OSError):
                reader.close()
                connection.close()

    @staticmethod
    def _read_request(reader: Any) -> RawRequest | None:
        line = reader.readline()
        if not line:
            return None
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (header := reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = header.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = reader.read(int(headers.get("content-length", "0")))
        return RawRequest(method, target, headers, body)


def http_answer(status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    """A whole HTTP/1.1 answer as bytes, with Content-Length unless ``headers`` set their own framing."""
    fields = {"Content-Type": "application/json", **(headers or {})}
    if "Content-Length" not in fields and "Transfer-Encoding" not in fields:
        fields["Content-Length"] = str(len(body))
    head = f"HTTP/1.1 {status} X\r\n" + "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    return head.encode("latin-1") + b"\r\n" + body


@contextlib.contextmanager
def hook_on_raw_server(
    answer: Callable[[RawRequest], Iterable[Any]],
    password: str = "api_pass",  # noqa: S107 (a test server's)
    **settings: Any,
) -> Iterator[tuple[Any, RawServer]]:
    """A :class:`ThuliumHook` on a :class:`RawServer` through a connection in the environment, and the server."""
    from airflow_provider_thulium.hooks.thulium import ThuliumHook

    with RawServer(answer) as server, pytest.MonkeyPatch.context() as patch:
        set_connection(patch, "thulium_raw", host=server.url, login="api_user", password=password)
        hook = ThuliumHook("thulium_raw", **settings)
        try:
            yield hook, server
        finally:
            hook.close()


# ----------------------------------------------------------------------------- a small disk


@contextlib.contextmanager
def small_disk(folder: Path, size: str = "64k", *, read_only: bool = False) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``folder`` (made if missing), unmounted afterwards, failure or not.

    Skips the test where mounting is not permitted (not root, a container without the right).
    """
    import subprocess

    folder.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, text=True, check=False
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def fill_disk(folder: Path, leave: int = 0) -> None:
    """Fill the disk of ``folder`` with a file until at most ``leave`` bytes are free."""
    import os

    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize
    with open(folder / "filler", "ab") as filler, contextlib.suppress(OSError):
        filler.write(b"\0" * max(0, free - leave))
