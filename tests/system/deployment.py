"""A production-shaped Airflow 3 for the system test: PostgreSQL and one process per Airflow component.

Everything runs on loopback, in a throwaway folder, on free ports. :class:`Processes` starts each
server in its own session and stops the whole process group, so nothing outlives the test, on
failure too.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from typing import Any

AIRFLOW = str(Path(sys.executable).parent / "airflow")
COMPONENTS = ("scheduler", "triggerer", "dag_processor")


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(what: str, check: Callable[[], Any], timeout: float, interval: float = 0.25) -> Any:
    """Call ``check`` until it returns something truthy; raise naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:.0f} s for {what}")
        time.sleep(interval)


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


class Processes:
    """Servers started in their own sessions; :meth:`stop_all` ends each whole process group."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[tuple[str, subprocess.Popen[bytes], signal.Signals]] = []

    def start(
        self, name: str, argv: list[str], *, stop_signal: signal.Signals = signal.SIGTERM, **kwargs: Any
    ) -> subprocess.Popen[bytes]:
        with (self.log_dir / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **kwargs)
        self.started.append((name, process, stop_signal))
        return process

    def stop(self, name: str, timeout: float = 20.0) -> None:
        """Stop one server's whole process group (SIGTERM, then SIGKILL after ``timeout``)."""
        (entry,) = [entry for entry in self.started if entry[0] == name]
        _, process, stop_signal = entry
        _signal_group(process, stop_signal)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
        _signal_group(process, signal.SIGKILL)
        process.wait()
        self.started.remove(entry)

    def check_alive(self) -> None:
        for name, process, _ in self.started:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail(self.log_dir / f'{name}.log')}")

    def stop_all(self, timeout: float = 20.0) -> None:
        """Signal every group (last started first), wait, then kill what is left."""
        for _, process, stop_signal in reversed(self.started):
            if process.poll() is None:
                _signal_group(process, stop_signal)
        deadline = time.monotonic() + timeout
        for _, process, _ in reversed(self.started):
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            # Children of a component (task runners, a trigger runner) may outlive their parent.
            _signal_group(process, signal.SIGKILL)
            process.wait()
        self.started.clear()

    def logs(self) -> str:
        names = [name for name, _, _ in self.started]
        return "\n".join(f"--- {name} (last lines)\n{tail(self.log_dir / f'{name}.log')}" for name in names)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


class Postgres:
    """Debian's PostgreSQL server on a fresh data folder; as the ``postgres`` user when run as root."""

    def __init__(self, base: Path, processes: Processes) -> None:
        self.base = base
        self.processes = processes
        self.port = 0
        self.bin_dir = self.find_bin_dir()

    @staticmethod
    def find_bin_dir() -> Path:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
        if not found:
            raise RuntimeError("no PostgreSQL server in /usr/lib/postgresql: `apt-get install -y postgresql`")
        return found[-1].parent

    def _as_server_user(self) -> dict[str, Any]:
        """Popen arguments that drop root (PostgreSQL refuses to run as root)."""
        if os.geteuid() != 0:
            return {}
        return {"user": "postgres", "group": "postgres", "extra_groups": []}

    def start(self) -> str:
        """Initialise, start and create the ``airflow`` database; return its SQLAlchemy URL."""
        data = self.base / "pgdata"
        data.mkdir()
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chmod(self.base, 0o755)  # noqa: S103 (the server user must reach its data folder)
            os.chown(data, entry.pw_uid, entry.pw_gid)
        env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"}
        initdb = [str(self.bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8"]
        subprocess.run(
            [*initdb, "--locale=C", "--no-sync"], env=env, check=True, capture_output=True, **self._as_server_user()
        )
        self.port = free_port()
        settings = ["listen_addresses=127.0.0.1", "fsync=off", "synchronous_commit=off", "full_page_writes=off"]
        argv = [str(self.bin_dir / "postgres"), "-D", str(data), "-p", str(self.port), "-k", str(data)]
        for setting in settings:
            argv += ["-c", setting]
        # SIGINT is PostgreSQL's fast shutdown: it does not wait for clients to disconnect.
        self.processes.start("postgres", argv, stop_signal=signal.SIGINT, env=env, **self._as_server_user())
        wait_for("PostgreSQL to accept connections", self._accepts, timeout=30)
        import psycopg2  # the `system` extra; imported here so that collecting this module needs no driver

        with closing(psycopg2.connect(self.dsn("postgres"))) as conn:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute("CREATE DATABASE airflow")
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/airflow"

    def create_sql_connection(self, conn_id: str, script: Path) -> tuple[str, str]:
        """A database named ``conn_id`` holding what ``script`` creates, as an Airflow connection:
        ``(AIRFLOW_CONN_<ID>, its JSON)``, for DAGs reading from a SQL source."""
        import psycopg2

        with closing(psycopg2.connect(self.dsn("postgres"))) as conn:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{conn_id}"')
        with closing(psycopg2.connect(self.dsn(conn_id))) as conn, conn.cursor() as cursor:
            cursor.execute(script.read_text())
            conn.commit()
        connection = {"conn_type": "postgres", "host": "127.0.0.1", "port": self.port, "login": "postgres"}
        return f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({**connection, "schema": conn_id})

    def dsn(self, database: str = "airflow") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def _accepts(self) -> bool:
        import psycopg2

        self.processes.check_alive()
        try:
            psycopg2.connect(self.dsn("postgres"), connect_timeout=2).close()
        except psycopg2.OperationalError:
            return False
        return True

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        import psycopg2

        with closing(psycopg2.connect(self.dsn())) as conn, conn.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()


class Airflow:
    """``airflow db migrate``, then api-server, scheduler, dag-processor and triggerer as separate processes."""

    def __init__(
        self, base: Path, processes: Processes, database_url: str, extra_env: dict[str, str], dag_folders: list[Path]
    ) -> None:
        self.home = base / "airflow-home"
        self.dags = base / "dags"
        self.processes = processes
        self.api_port = free_port()
        self.home.mkdir()
        self.dags.mkdir()
        for folder in dag_folders:
            shutil.copytree(folder, self.dags, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
        env.update(
            {
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                # Runs come only from `airflow dags trigger`: the examples' schedules must not add any.
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
                "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
                # The log servers of the workers and the triggerer default to fixed ports (8793, 8794).
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                **extra_env,
            }
        )
        self.env = env

    def run(self, *args: str, timeout: float = 300) -> str:
        """Run an ``airflow`` command to completion; its output, or an error that holds it."""
        done = subprocess.run([AIRFLOW, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start(self) -> None:
        self.run("db", "migrate")
        start = self.processes.start
        start("api-server", [AIRFLOW, "api-server", "-H", "127.0.0.1", "-p", str(self.api_port)], env=self.env)
        for component in ("scheduler", "dag-processor", "triggerer"):
            start(component, [AIRFLOW, component], env=self.env)
        wait_for("the scheduler, triggerer and dag-processor to report healthy", self._healthy, timeout=120, interval=1)

    def restart_scheduler(self, **env: str) -> None:
        """Replace the scheduler by one with these settings added (``AIRFLOW__SCHEDULER__…="…"``)."""
        self.processes.stop("scheduler")
        self.env.update(env)
        self.processes.start("scheduler", [AIRFLOW, "scheduler"], env=self.env)
        wait_for("the new scheduler to report healthy", self._healthy, timeout=120, interval=1)

    def health(self) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.api_port}/api/v2/monitor/health"
        with urllib.request.urlopen(url, timeout=5) as answer:
            return json.load(answer)

    def _healthy(self) -> bool:
        self.processes.check_alive()
        try:
            health = self.health()
        except OSError:
            return False
        return all((health.get(name) or {}).get("status") == "healthy" for name in COMPONENTS)


@contextmanager
def deployment(
    base: Path, extra_env: dict[str, str], dag_folders: list[Path], sql_connections: dict[str, Path] | None = None
) -> Iterator[tuple[Postgres, Airflow]]:
    """PostgreSQL and a running Airflow with ``dag_folders`` copied into its DAGs folder; everything
    stopped on the way out, whatever happened: Airflow's processes first, then the database.

    :param sql_connections: connection id → a SQL script: a database of that name in the same
        PostgreSQL server, loaded with the script, given to Airflow as that connection.
    """
    log_dir = base / "process-logs"
    log_dir.mkdir()
    database, servers = Processes(log_dir), Processes(log_dir)
    try:
        postgres = Postgres(base, database)
        database_url = postgres.start()
        extra_env = dict(extra_env)
        for conn_id, script in (sql_connections or {}).items():
            name, connection = postgres.create_sql_connection(conn_id, script)
            extra_env[name] = connection
        airflow = Airflow(base, servers, database_url, extra_env, dag_folders)
        airflow.start()
        yield postgres, airflow
    except BaseException:
        print(database.logs() + "\n" + servers.logs())
        raise
    finally:
        servers.stop_all()
        database.stop_all()
        shutil.rmtree(base / "pgdata", ignore_errors=True)
