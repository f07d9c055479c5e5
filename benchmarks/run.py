"""Benchmarks of the Thulium provider against the local sandbox (``make bench``).

The orchestrating process imports only the standard library. The sandbox runs in a child process
(so its CPU does not compete with the client's GIL), and every measured case runs in a fresh
child process of its own, so that its peak RSS is that case's own. See benchmarks/README.md.

Usage: ``.venv/bin/python benchmarks/run.py [--quick] [--json PATH] [--repeat N] [--profile]``
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import multiprocessing
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CAMPAIGN = "00042"
CONN_ID = "thulium_bench"

TARGET_VS_HANDWRITTEN = 1.3
TARGET_VS_NAIVE = 20.0
TARGET_CONCURRENCY = 5.0
TARGET_RSS_MB = 200.0


def provider_defaults() -> dict[str, Any]:
    """The provider's default settings; the hand-written baselines batch by the same limits.

    Imported when asked for, in the process that needs them: the orchestrator stays stdlib-only.
    """
    from airflow_provider_thulium.settings import ThuliumSettings

    return ThuliumSettings.defaults()


@dataclass(frozen=True)
class Sizes:
    records: int  # delete / update / add cases
    naive_sample: int  # one request per phone
    latency_records: int
    latency_batch: int
    latency_seconds: float
    capacity_records: int
    capacity_clients: int


FULL = Sizes(100_000, 2_000, 20_000, 250, 0.05, 200_000, 4)
QUICK = Sizes(10_000, 200, 2_000, 25, 0.05, 20_000, 4)


def phones(count: int) -> list[str]:
    """The benchmark's phone numbers: distinct 11-digit Polish-looking numbers."""
    return [f"48{500_000_000 + i}" for i in range(count)]


def update_records(count: int) -> list[dict[str, Any]]:
    """The update input: a status and two record fields per phone."""
    segments = ("retail", "vip", "smb", "corporate")
    return [
        {"phone_number": phone, "status_id": 2, "record_fields": {"crm_id": f"C-{i:07d}", "segment": segments[i % 4]}}
        for i, phone in enumerate(phones(count))
    ]


def add_records(count: int) -> list[dict[str, Any]]:
    """The add input: records as a CRM export gives them, a status, an identifier and two record fields each."""
    segments = ("retail", "vip", "smb", "corporate")
    return [
        {
            "phone_number": phone,
            "status_id": 2,
            "identifier": f"CRM-{i:07d}",
            "record_fields": {"crm_id": f"C-{i:07d}", "segment": segments[i % 4]},
        }
        for i, phone in enumerate(phones(count))
    ]


def case_input(operation: str, count: int) -> list[Any]:
    """What a case sends: phone numbers for a delete, records for an update or an add."""
    if operation == "delete":
        return phones(count)
    return update_records(count) if operation == "update" else add_records(count)


#: What the sandbox holds for CAMPAIGN before each case: the records to delete or update, or
#: nothing (an add must find an empty campaign, so that every record is really ADDED).
SEEDED = {"delete": True, "update": True, "add": False}
#: The outcome every phone must have.
SUCCESS = {"delete": "REMOVED", "update": "UPDATED", "add": "ADDED"}

# --------------------------------------------------------------------------- memory


def _rss_unit() -> int:
    # ru_maxrss is in kilobytes on Linux, bytes on macOS.
    return 1 if sys.platform == "darwin" else 1024


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _rss_unit()


def current_rss_bytes() -> int:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return peak_rss_bytes()


MB = 1024 * 1024


def cpu_seconds() -> float:
    """CPU time of this process so far, all threads, user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --------------------------------------------------------------------------- the sandbox process


def _sandbox_main(conn: Any, fields: list[str]) -> None:
    """Child process: serve a ThuliumSandbox and obey commands from the parent over a pipe."""
    from airflow_provider_thulium.sandbox import ThuliumSandbox

    sandbox = ThuliumSandbox("127.0.0.1", 0, seed="empty", record_requests=False)
    sandbox.start()
    conn.send({"url": sandbox.url, "login": sandbox.login, "password": sandbox.password})
    try:
        while True:
            command, args = conn.recv()
            if command == "stop":
                conn.send("stopped")
                return
            if command == "seed":
                state = sandbox.state
                state.reset("empty")
                state.add_campaign(CAMPAIGN, "Benchmark campaign", fields=fields)
                # records=0 leaves the campaign empty (the add cases); the rest of the state is
                # dropped either way, so each case starts from the same sandbox.
                added = state.bulk_add(CAMPAIGN, phones(args["records"])) if args["records"] else 0
                sandbox.latency = args.get("latency", 0.0)
                sandbox.clear_requests()
                conn.send({"added": added})
            elif command == "stats":
                usage = resource.getrusage(resource.RUSAGE_SELF)
                with sandbox.state.lock:
                    campaign = sandbox.state.campaigns.get(CAMPAIGN)
                    left = len(campaign.records) if campaign is not None else None
                    updated = (
                        sum(1 for record in campaign.records.values() if record.status_id == 2)
                        if campaign is not None
                        else None
                    )
                    # Records carrying what the add case sends besides the status: an identifier
                    # and both record fields.
                    complete = (
                        sum(
                            1
                            for record in campaign.records.values()
                            if record.identifier is not None and len(record.record_fields) == 2
                        )
                        if campaign is not None
                        else None
                    )
                conn.send(
                    {
                        "requests": sandbox.request_count,
                        # CPU time at the start and at the end of this command: a case's server CPU
                        # runs from the end of the "stats" before it to the start of the one after,
                        # so counting the records here is not charged to the case.
                        "cpu_seconds": usage.ru_utime + usage.ru_stime,
                        "cpu_seconds_end": cpu_seconds(),
                        "records_left": left,
                        "records_updated": updated,
                        "records_complete": complete,
                    }
                )
            else:
                conn.send({"error": f"unknown command {command!r}"})
    finally:
        sandbox.stop()


class SandboxProcess:
    """The sandbox in a child process, driven over a pipe."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_sandbox_main, args=(child, ["crm_id", "segment"]), daemon=True)
        self._process.start()
        if not self._conn.poll(60):
            raise RuntimeError("the sandbox process did not start")
        info = self._conn.recv()
        self.url: str = info["url"]
        self.login: str = info["login"]
        self.password: str = info["password"]

    def call(self, command: str, **args: Any) -> Any:
        self._conn.send((command, args))
        answer = self._conn.recv()
        if isinstance(answer, dict) and "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    def seed(self, records: int, latency: float = 0.0) -> None:
        self.call("seed", records=records, latency=latency)

    def stats(self) -> dict[str, Any]:
        return self.call("stats")

    def connection_json(self) -> str:
        return json.dumps({"conn_type": "thulium", "host": self.url, "login": self.login, "password": self.password})

    def stop(self) -> None:
        with contextlib.suppress(OSError, EOFError):
            self.call("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()


# --------------------------------------------------------------------------- measured cases (child processes)


class _FakeTaskInstance:
    """Just enough of a TaskInstance for execute(): xcom_push keeps what was pushed."""

    def __init__(self) -> None:
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any, **kwargs: Any) -> None:
        self.xcoms[key] = value


def _case_provider(spec: dict[str, Any]) -> dict[str, Any]:
    """Through the operator's code path: ThuliumDelete/Update/AddRecordsOperator(...).execute(context)."""
    from airflow_provider_thulium.operators.thulium import (
        ThuliumAddRecordsOperator,
        ThuliumDeleteRecordsOperator,
        ThuliumUpdateRecordsOperator,
    )

    rest_rss, rest_peak = current_rss_bytes(), peak_rss_bytes()
    count = spec["records"]
    common = {
        "campaign_id": CAMPAIGN,
        "thulium_conn_id": CONN_ID,
        "xcom_results": spec.get("xcom_results", "all"),
        "hook_params": spec.get("hook_params") or {},
    }
    if spec["operation"] == "delete":
        operator: Any = ThuliumDeleteRecordsOperator(task_id="bench_delete", phone_numbers=phones(count), **common)
    elif spec["operation"] == "update":
        operator = ThuliumUpdateRecordsOperator(task_id="bench_update", records=update_records(count), **common)
    else:
        operator = ThuliumAddRecordsOperator(task_id="bench_add", records=add_records(count), **common)
    input_rss = current_rss_bytes()
    ti = _FakeTaskInstance()
    context = {"ti": ti}
    profiler = None
    if spec.get("profile"):
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    cpu, started = cpu_seconds(), time.perf_counter()
    value = operator.execute(context)  # type: ignore[arg-type]
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    if profiler is not None:
        profiler.disable()
    peak_execute = peak_rss_bytes()
    ti.xcoms.setdefault("return_value", value)
    # What a task runner does next: serialise the XComs (JSON here, as an approximation).
    return_bytes = len(json.dumps(ti.xcoms["return_value"]).encode())
    summary = ti.xcoms["summary"]
    summary_bytes = len(json.dumps(summary).encode())
    peak_xcom = peak_rss_bytes()
    if profiler is not None:
        import io
        import pstats

        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
        out.write("\n\n")
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
        Path(spec["profile"]).write_text(out.getvalue())
    success = SUCCESS[spec["operation"]]
    return {
        "wall_seconds": wall,
        "client_cpu_seconds": cpu,
        "requests": summary["requests"],
        "batches": summary["batches"],
        "retries": summary["retries"],
        "outcomes": summary["outcomes"],
        "ok": summary["outcomes"] == {success: count} and summary["stopped_by"] is None,
        "rss_rest_bytes": rest_rss,
        "peak_rss_rest_bytes": rest_peak,
        "rss_input_bytes": input_rss,
        "peak_rss_execute_bytes": peak_execute,
        "peak_rss_bytes": peak_xcom,
        "xcom_return_value_bytes": return_bytes,
        "xcom_summary_bytes": summary_bytes,
    }


def _session(spec: dict[str, Any]) -> Any:
    import requests  # imported before the at-rest measurement by the callers; a no-op here

    session = requests.Session()
    session.auth = (spec["login"], spec["password"])
    session.headers["Accept"] = "application/json"
    return session


def _case_handwritten(spec: dict[str, Any]) -> dict[str, Any]:
    """The floor for a Python client: a requests.Session loop with the provider's batch sizes."""
    import requests  # noqa: F401 - before the at-rest measurement, as the provider case imports Airflow first

    defaults = provider_defaults()  # before the at-rest measurement too
    rest_rss, rest_peak = current_rss_bytes(), peak_rss_bytes()
    count = spec["records"]
    items: list[Any] = case_input(spec["operation"], count)
    input_rss = current_rss_bytes()
    session = _session(spec)
    path = f"/api/batch/outbounds/{CAMPAIGN}/records"
    url = spec["url"] + path
    merged: dict[str, Any] = {}
    sent = 0
    cpu, started = cpu_seconds(), time.perf_counter()
    max_line, max_batch, max_body = (
        defaults["max_request_line_bytes"],
        defaults["max_batch_size"],
        defaults["max_body_bytes"],
    )
    if spec["operation"] == "delete":
        # As many phones per request as fit in the request-line limit, at most max_batch_size.
        fixed = len(f"DELETE {path}? HTTP/1.1")
        parts: list[str] = []
        size = fixed
        for phone in items:
            part = "phone_number%5B%5D=" + quote(phone, safe="")
            if parts and (size + len(part) + 1 > max_line or len(parts) >= max_batch):
                response = session.delete(url + "?" + "&".join(parts))
                response.raise_for_status()
                merged.update(response.json())
                sent += 1
                parts, size = [], fixed
            parts.append(part)
            size += len(part) + 1
        if parts:
            response = session.delete(url + "?" + "&".join(parts))
            response.raise_for_status()
            merged.update(response.json())
            sent += 1
    else:
        # max_batch_size records per request; each body stays below the byte limit, so these are
        # the provider's batches. An update is a PUT, an add a POST of the same body shape.
        headers = {"Content-Type": "application/json"}
        send = session.put if spec["operation"] == "update" else session.post
        for start in range(0, count, max_batch):
            body = json.dumps({"records": items[start : start + max_batch]}, separators=(",", ":")).encode()
            assert len(body) <= max_body
            response = send(url, data=body, headers=headers)
            response.raise_for_status()
            merged.update(response.json())
            sent += 1
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    peak = peak_rss_bytes()
    if spec["operation"] == "delete":
        ok = len(merged) == count and all(entry[0].get("status") == "REMOVED" for entry in merged.values())
    elif spec["operation"] == "update":
        ok = len(merged) == count and all(entry.get("http_status") == 204 for entry in merged.values())
    else:
        ok = len(merged) == count and all(
            entry.get("http_status") == 201 and entry.get("status") == "ADDED" for entry in merged.values()
        )
    return {
        "wall_seconds": wall,
        "client_cpu_seconds": cpu,
        "requests": sent,
        "ok": ok,
        "rss_rest_bytes": rest_rss,
        "peak_rss_rest_bytes": rest_peak,
        "rss_input_bytes": input_rss,
        "peak_rss_execute_bytes": peak,
        "peak_rss_bytes": peak,
    }


def _case_naive(spec: dict[str, Any]) -> dict[str, Any]:
    """One DELETE per phone, through a keep-alive requests.Session (the kind variant of a naive loop)."""
    import requests  # noqa: F401 - before the at-rest measurement

    rest_rss, rest_peak = current_rss_bytes(), peak_rss_bytes()
    count = spec["records"]
    items = phones(count)
    session = _session(spec)
    url = spec["url"] + f"/api/batch/outbounds/{CAMPAIGN}/records"
    merged: dict[str, Any] = {}
    cpu, started = cpu_seconds(), time.perf_counter()
    for phone in items:
        response = session.delete(url, params={"phone_number[]": phone})
        response.raise_for_status()
        merged.update(response.json())
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    peak = peak_rss_bytes()
    return {
        "wall_seconds": wall,
        "client_cpu_seconds": cpu,
        "requests": count,
        "ok": len(merged) == count and all(entry[0].get("status") == "REMOVED" for entry in merged.values()),
        "rss_rest_bytes": rest_rss,
        "peak_rss_rest_bytes": rest_peak,
        "rss_input_bytes": rest_rss,
        "peak_rss_execute_bytes": peak,
        "peak_rss_bytes": peak,
    }


_CASES = {"provider": _case_provider, "handwritten": _case_handwritten, "naive": _case_naive}


def worker_main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    result = _CASES[spec["client"]](spec)
    Path(spec["result_path"]).write_text(json.dumps(result))
    return 0


# --------------------------------------------------------------------------- sandbox capacity (raw clients)


def _raw_client(
    url: str, auth: str, path: str, queries: list[str], ready: Any, start: Any, results: Any
) -> None:  # pragma: no cover - runs in a child process
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    conn.connect()
    assert conn.sock is not None
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    headers = {"Authorization": auth, "Accept": "application/json"}
    ready.put(True)
    start.wait()
    began = time.monotonic()
    received = 0
    bad = 0
    for query in queries:
        conn.request("DELETE", f"{path}?{query}", headers=headers)
        response = conn.getresponse()
        received += len(response.read())
        if response.status not in (200, 207):
            bad += 1
    ended = time.monotonic()
    conn.close()
    results.put({"began": began, "ended": ended, "requests": len(queries), "bytes": received, "bad": bad})


def delete_queries(items: list[str]) -> list[str]:
    """The provider's DELETE batching (its request-line and batch-size limits) as query strings."""
    defaults = provider_defaults()
    max_line, max_batch = defaults["max_request_line_bytes"], defaults["max_batch_size"]
    path = f"/api/batch/outbounds/{CAMPAIGN}/records"
    fixed = len(f"DELETE {path}? HTTP/1.1")
    queries: list[str] = []
    parts: list[str] = []
    size = fixed
    for phone in items:
        part = "phone_number%5B%5D=" + quote(phone, safe="")
        if parts and (size + len(part) + 1 > max_line or len(parts) >= max_batch):
            queries.append("&".join(parts))
            parts, size = [], fixed
        parts.append(part)
        size += len(part) + 1
    if parts:
        queries.append("&".join(parts))
    return queries


def measure_capacity(sandbox: SandboxProcess, sizes: Sizes) -> dict[str, Any]:
    sandbox.seed(sizes.capacity_records)
    queries = delete_queries(phones(sizes.capacity_records))
    ctx = multiprocessing.get_context("spawn")
    ready, start, results = ctx.Queue(), ctx.Event(), ctx.Queue()
    auth = "Basic " + base64.b64encode(f"{sandbox.login}:{sandbox.password}".encode()).decode()
    path = f"/api/batch/outbounds/{CAMPAIGN}/records"
    k = sizes.capacity_clients
    processes = [
        ctx.Process(target=_raw_client, args=(sandbox.url, auth, path, queries[i::k], ready, start, results))
        for i in range(k)
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready.get(timeout=60)
    before = sandbox.stats()
    start.set()
    outcomes = [results.get(timeout=300) for _ in processes]
    after = sandbox.stats()
    for process in processes:
        process.join(10)
    seconds = max(o["ended"] for o in outcomes) - min(o["began"] for o in outcomes)
    total = sum(o["requests"] for o in outcomes)
    return {
        "clients": k,
        "requests": total,
        "phones": sizes.capacity_records,
        "seconds": seconds,
        "requests_per_second": total / seconds,
        "phones_per_second": sizes.capacity_records / seconds,
        "server_cpu_seconds": after["cpu_seconds"] - before["cpu_seconds_end"],
        "bad_answers": sum(o["bad"] for o in outcomes),
        "records_left": after["records_left"],
        "ok": after["records_left"] == 0 and not sum(o["bad"] for o in outcomes),
    }


# --------------------------------------------------------------------------- orchestration


@dataclass
class Runner:
    sandbox: SandboxProcess
    env: dict[str, str]
    workdir: Path
    profile_dir: Path | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)

    def run(self, name: str, client: str, operation: str, records: int, **extra: Any) -> dict[str, Any]:
        latency = extra.pop("latency", 0.0)
        self.sandbox.seed(records if SEEDED[operation] else 0, latency=latency)
        spec = {
            "client": client,
            "operation": operation,
            "records": records,
            "url": self.sandbox.url,
            "login": self.sandbox.login,
            "password": self.sandbox.password,
            "result_path": str(self.workdir / f"{name}.result.json"),
            **extra,
        }
        if self.profile_dir is not None and client == "provider":
            spec["profile"] = str(self.profile_dir / f"profile-{name}.txt")
        spec_path = self.workdir / f"{name}.spec.json"
        spec_path.write_text(json.dumps(spec))
        before = self.sandbox.stats()
        load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        process = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--worker", str(spec_path)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if process.returncode != 0:
            sys.stderr.write(process.stdout[-4000:] + process.stderr[-4000:])
            raise RuntimeError(f"case {name} failed (exit {process.returncode})")
        result = json.loads(Path(spec["result_path"]).read_text())
        after = self.sandbox.stats()
        server_requests = after["requests"] - before["requests"]
        expected_left = 0 if operation == "delete" else records  # an add: every record added
        result.update(
            name=name,
            client=client,
            operation=operation,
            records=records,
            latency_seconds=latency,
            load_average_1min_before=load_before,
            server_requests=server_requests,
            server_cpu_seconds=after["cpu_seconds"] - before["cpu_seconds_end"],
            records_per_second=records / result["wall_seconds"],
            peak_rss_above_rest_mb=(result["peak_rss_bytes"] - result["rss_rest_bytes"]) / MB,
            peak_rss_execute_above_rest_mb=(result["peak_rss_execute_bytes"] - result["rss_rest_bytes"]) / MB,
            input_above_rest_mb=(result["rss_input_bytes"] - result["rss_rest_bytes"]) / MB,
            **{k: v for k, v in extra.items() if k != "profile"},
        )
        server_ok = (
            after["records_left"] == expected_left
            and (operation == "delete" or after["records_updated"] == records)
            and (operation != "add" or after["records_complete"] == records)
        )
        result["ok"] = bool(result["ok"] and server_ok and server_requests == result["requests"])
        self.runs.append(result)
        status = "ok" if result["ok"] else "CHECK FAILED"
        print(
            f"  {name:<28} {result['wall_seconds']:8.2f} s  {result['requests']:6d} requests  {status}",
            flush=True,
        )
        return result


def _pair_ratios(runs: list[dict[str, Any]], baselines: list[dict[str, Any]], key: str = "wall_seconds") -> list[float]:
    """Each repeat's run divided by the same repeat's baseline run."""
    return [run[key] / baseline[key] for run, baseline in zip(runs, baselines, strict=True)]


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda r: r["wall_seconds"])
    return ordered[(len(ordered) - 1) // 2]


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }
    if hasattr(os, "sched_getaffinity"):
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = subprocess.run(
        [
            sys.executable,
            "-c",
            "import importlib.metadata as m, json; "
            "print(json.dumps({p: m.version(p) for p in "
            "('apache-airflow', 'airflow-provider-thulium', 'requests', 'urllib3')}))",
        ],
        capture_output=True,
        text=True,
    )
    if versions.returncode == 0:
        info["packages"] = json.loads(versions.stdout)
    return info


def _fmt_int(value: float) -> str:
    return f"{value:,.0f}"


def print_report(report: dict[str, Any]) -> None:
    m = report["machine"]
    print()
    print(
        "Thulium provider benchmarks"
        + (" (QUICK: sizes 10x smaller, targets are set for full sizes)" if report["quick"] else "")
    )
    print(
        f"machine: {m['cpu_count']} CPUs ({m.get('cpus_usable', '?')} usable), {m.get('cpu_model', '?')}; "
        f"Python {m['implementation']} {m['python']}; {m['platform']}"
    )
    if "packages" in m:
        print("packages: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()))
    print(
        f"repeats per timed case: {report['repeat']} (median wall time shown; each run in a fresh process); "
        "ratios to a baseline are the median of per-repeat ratios"
    )
    print()
    header = (
        f"{'case':<34} {'records':>8} {'wall s':>7} {'records/s':>10} {'requests':>8} "
        f"{'cli CPU s':>9} {'srv CPU s':>9} {'rest MB':>8} {'input MB':>8} {'peak+MB':>8} {'XCom bytes':>11}"
    )
    print(header)
    print("-" * len(header))
    for row in report["table"]:
        xcom = row.get("xcom_return_value_bytes")
        label = row["label"]
        print(
            f"{label:<34} {_fmt_int(row['records']):>8} {row['wall_seconds']:>7.2f} "
            f"{_fmt_int(row['records_per_second']):>10} {row['requests']:>8} "
            f"{row['client_cpu_seconds']:>9.2f} {row['server_cpu_seconds']:>9.2f} {row['rss_rest_bytes'] / MB:>8.1f} "
            f"{row['input_above_rest_mb']:>8.1f} {row['peak_rss_above_rest_mb']:>8.1f} "
            f"{_fmt_int(xcom) if xcom is not None else '-':>11}"
        )
    naive = report["naive_extrapolated"]
    print(
        f"{'  naive, EXTRAPOLATED to ' + _fmt_int(naive['records']):<34} {_fmt_int(naive['records']):>8} "
        f"{naive['wall_seconds']:>7.1f} {_fmt_int(naive['records_per_second']):>10} {naive['requests']:>8}"
        "   (extrapolated from the sample's rate, not measured)"
    )
    print()
    print(
        "rest MB = RSS after imports, before the work; input MB = RSS added by building the input list; "
        "peak+MB = peak RSS above rest\n(input, work, and JSON-serialising the XComs included); "
        "cli CPU s / srv CPU s = CPU time the client / the sandbox process spent on the timed work."
    )
    print()
    lat = report["latency"]
    print(
        f"Latency: sandbox adds {lat['latency_seconds'] * 1000:.0f} ms to every answer; delete of "
        f"{_fmt_int(lat['records'])} numbers, max_batch_size {lat['max_batch_size']}"
    )
    print(f"{'max_concurrent_requests':>24} {'wall s':>8} {'records/s':>10} {'requests':>9} {'speed-up':>9}")
    for row in lat["runs"]:
        speedup = lat["runs"][0]["wall_seconds"] / row["wall_seconds"]
        print(
            f"{row['max_concurrent_requests']:>24} {row['wall_seconds']:>8.2f} "
            f"{_fmt_int(row['records_per_second']):>10} {row['requests']:>9} {speedup:>8.2f}x"
        )
    print()
    cap = report["capacity"]
    print(
        f"Sandbox capacity: {cap['clients']} raw http.client processes, {_fmt_int(cap['phones'])} numbers in "
        f"{cap['requests']} DELETE batches: {cap['seconds']:.2f} s = {_fmt_int(cap['requests_per_second'])} "
        f"requests/s ({_fmt_int(cap['phones_per_second'])} numbers/s), sandbox CPU {cap['server_cpu_seconds']:.2f} s"
    )
    print(
        f"Provider delete needed {_fmt_int(cap['provider_requests_per_second'])} requests/s: the sandbox has "
        f"{cap['headroom']:.1f}x that (sandbox CPU was {cap['provider_server_busy'] * 100:.0f}% of the provider's "
        "wall time)"
    )
    print()
    print("Targets")
    for target in report["targets"]:
        print(
            f"  [{'PASS' if target['pass'] else 'FAIL'}] {target['name']:<62} {target['value']:>8.2f} "
            f"{target['op']} {target['target']:g}"
        )
    for key, values in report["ratio_per_repeat"].items():
        print(f"  per repeat, {key}: " + " ".join(f"{value:.2f}" for value in values))
    r = report["ratios"]
    print(
        f"  info: client CPU time, provider / hand-written (insensitive to other load): delete "
        f"{r['delete_provider_vs_handwritten_cpu']:.2f}, update {r['update_provider_vs_handwritten_cpu']:.2f}, "
        f"add {r['add_provider_vs_handwritten_cpu']:.2f}"
    )
    load = report["load_average_1min"]
    if load["before"] is not None:
        print(
            f"  info: 1-min load average {load['before']:.2f} before, {load['after']:.2f} after, on "
            f"{report['machine']['cpu_count']} CPUs (other work on the machine makes wall times noisy)"
        )
    if not report["all_checks_ok"]:
        print("\nWARNING: a correctness check failed (see 'ok' in the JSON): a result or the sandbox state was off.")


def run_benchmarks(args: argparse.Namespace) -> dict[str, Any]:
    sizes = QUICK if args.quick else FULL
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else 5)
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    workdir = Path(tempfile.mkdtemp(prefix="thulium-bench-"))
    airflow_home = workdir / "airflow-home"
    (airflow_home / "dags").mkdir(parents=True)
    print("machine info ...", flush=True)
    machine = machine_info()
    print("starting the sandbox process ...", flush=True)
    sandbox = SandboxProcess()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(airflow_home / "dags"),
        f"AIRFLOW_CONN_{CONN_ID.upper()}": sandbox.connection_json(),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    profile_dir = RESULTS if args.profile else None
    runner = Runner(sandbox, env, workdir, profile_dir)
    n = sizes.records
    try:
        print(f"sandbox at {sandbox.url}; running cases (each in a fresh process):", flush=True)
        # Warm-up: the first airflow import in a fresh AIRFLOW_HOME writes its config; not measured.
        runner.run("warmup", "provider", "delete", min(n, 1000))
        runner.runs.clear()

        groups: dict[str, list[dict[str, Any]]] = {}
        for op in ("delete", "update", "add"):
            for i in range(repeat):
                # Interleaved, so that drift on a shared machine hits provider and baseline alike.
                for key, client in ((f"{op}_provider", "provider"), (f"{op}_handwritten", "handwritten")):
                    groups.setdefault(key, []).append(runner.run(f"{key}_{i + 1}", client, op, n))
            groups[f"{op}_provider_failures"] = [
                runner.run(f"{op}_provider_failures", "provider", op, n, xcom_results="failures")
            ]
        groups["delete_naive"] = [runner.run("delete_naive_sample", "naive", "delete", sizes.naive_sample)]

        by_concurrency: dict[int, list[dict[str, Any]]] = {1: [], 4: [], 8: []}
        for i in range(repeat):
            for concurrency, runs in by_concurrency.items():
                runs.append(
                    runner.run(
                        f"latency_c{concurrency}_{i + 1}",
                        "provider",
                        "delete",
                        sizes.latency_records,
                        latency=sizes.latency_seconds,
                        hook_params={"max_concurrent_requests": concurrency, "max_batch_size": sizes.latency_batch},
                        max_concurrent_requests=concurrency,
                    )
                )
        latency_runs = [_median_run(runs) for runs in by_concurrency.values()]
        print("  sandbox capacity (raw clients) ...", flush=True)
        capacity = measure_capacity(sandbox, sizes)
        from sync_bench import run_sync_cases  # here: sync_bench imports this module

        print("  sync (benchmarks/sync_bench.py) ...", flush=True)
        sync = run_sync_cases(sandbox, env, workdir, args.quick)
    finally:
        sandbox.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    med = {key: _median_run(runs) for key, runs in groups.items()}
    for key, runs in groups.items():
        med[key] = {**med[key], "wall_seconds_all_runs": [r["wall_seconds"] for r in runs]}
    labels = {
        "delete_provider": "delete: provider operator",
        "delete_provider_failures": "delete: provider, xcom 'failures'",
        "delete_handwritten": "delete: hand-written Session loop",
        "delete_naive": "delete: naive 1 request/phone",
        "update_provider": "update: provider operator",
        "update_provider_failures": "update: provider, xcom 'failures'",
        "update_handwritten": "update: hand-written Session loop",
        "add_provider": "add: provider operator",
        "add_provider_failures": "add: provider, xcom 'failures'",
        "add_handwritten": "add: hand-written Session loop",
    }
    order = list(labels)
    table = [{"label": labels[key], "key": key, **med[key]} for key in order]
    naive = med["delete_naive"]
    naive_extrapolated = {
        "records": n,
        "requests": n,
        "records_per_second": naive["records_per_second"],
        "wall_seconds": n / naive["records_per_second"],
        "extrapolated_from_sample": naive["records"],
    }
    provider_delete = med["delete_provider"]
    capacity["provider_requests_per_second"] = provider_delete["requests"] / provider_delete["wall_seconds"]
    capacity["headroom"] = capacity["requests_per_second"] / capacity["provider_requests_per_second"]
    capacity["provider_server_busy"] = provider_delete["server_cpu_seconds"] / provider_delete["wall_seconds"]

    # Ratios of a provider case to its baseline are the median of per-repeat ratios: the two runs of
    # a repeat are back to back, so a shift in the machine's speed between repeats (common on a
    # shared VM) changes both and cancels out, where a ratio of two separate medians would not.
    pairs = {
        "delete_provider_vs_handwritten": _pair_ratios(groups["delete_provider"], groups["delete_handwritten"]),
        "update_provider_vs_handwritten": _pair_ratios(groups["update_provider"], groups["update_handwritten"]),
        "add_provider_vs_handwritten": _pair_ratios(groups["add_provider"], groups["add_handwritten"]),
        "concurrency_1_vs_8": _pair_ratios(by_concurrency[1], by_concurrency[8]),
        "delete_provider_vs_handwritten_cpu": _pair_ratios(
            groups["delete_provider"], groups["delete_handwritten"], "client_cpu_seconds"
        ),
        "update_provider_vs_handwritten_cpu": _pair_ratios(
            groups["update_provider"], groups["update_handwritten"], "client_cpu_seconds"
        ),
        "add_provider_vs_handwritten_cpu": _pair_ratios(
            groups["add_provider"], groups["add_handwritten"], "client_cpu_seconds"
        ),
    }
    ratios = {
        **{key: statistics.median(values) for key, values in pairs.items()},
        "naive_vs_provider_delete": naive_extrapolated["wall_seconds"] / provider_delete["wall_seconds"],
        "delete_peak_rss_above_rest_mb": provider_delete["peak_rss_above_rest_mb"],
        "update_peak_rss_above_rest_mb": med["update_provider"]["peak_rss_above_rest_mb"],
        "add_peak_rss_above_rest_mb": med["add_provider"]["peak_rss_above_rest_mb"],
        "sandbox_capacity_vs_provider_need": capacity["headroom"],
    }

    def target(name: str, value: float, op: str, goal: float) -> dict[str, Any]:
        passed = value <= goal if op == "<=" else value >= goal
        return {"name": name, "value": value, "op": op, "target": goal, "pass": passed}

    n_text = _fmt_int(n)
    targets = [
        target(
            "delete: provider wall time / hand-written loop",
            ratios["delete_provider_vs_handwritten"],
            "<=",
            TARGET_VS_HANDWRITTEN,
        ),
        target(
            "update: provider wall time / hand-written loop",
            ratios["update_provider_vs_handwritten"],
            "<=",
            TARGET_VS_HANDWRITTEN,
        ),
        target(
            "add: provider wall time / hand-written loop",
            ratios["add_provider_vs_handwritten"],
            "<=",
            TARGET_VS_HANDWRITTEN,
        ),
        target(
            f"delete: naive per-phone time (extrapolated) / provider, {n_text}",
            ratios["naive_vs_provider_delete"],
            ">=",
            TARGET_VS_NAIVE,
        ),
        target(
            f"{sizes.latency_seconds * 1000:.0f} ms latency: concurrency 1 time / concurrency 8 time",
            ratios["concurrency_1_vs_8"],
            ">=",
            TARGET_CONCURRENCY,
        ),
        target(
            f"delete {n_text} phones: peak RSS above interpreter at rest (MB)",
            ratios["delete_peak_rss_above_rest_mb"],
            "<=",
            TARGET_RSS_MB,
        ),
        target(
            f"update {n_text} records: peak RSS above interpreter at rest (MB)",
            ratios["update_peak_rss_above_rest_mb"],
            "<=",
            TARGET_RSS_MB,
        ),
        target(
            f"add {n_text} records: peak RSS above interpreter at rest (MB)",
            ratios["add_peak_rss_above_rest_mb"],
            "<=",
            TARGET_RSS_MB,
        ),
    ]
    targets += sync["targets"]
    all_runs = runner.runs
    return {
        "quick": bool(args.quick),
        "repeat": repeat,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine,
        "sizes": sizes.__dict__,
        "table": table,
        "naive_extrapolated": naive_extrapolated,
        "latency": {
            "latency_seconds": sizes.latency_seconds,
            "records": sizes.latency_records,
            "max_batch_size": sizes.latency_batch,
            "runs": latency_runs,
        },
        "capacity": capacity,
        "ratios": ratios,
        "ratio_per_repeat": pairs,
        "targets": targets,
        "all_targets_pass": all(t["pass"] for t in targets),
        "load_average_1min": {
            "before": load_before,
            "after": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        },
        "all_checks_ok": all(r["ok"] for r in all_runs) and capacity["ok"] and sync["all_checks_ok"],
        "sync": sync,
        "runs": all_runs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10x smaller sizes, one run per case (smoke check)")
    parser.add_argument(
        "--json", metavar="PATH", help="where to write the JSON (default benchmarks/results/latest.json)"
    )
    parser.add_argument(
        "--repeat", type=int, help="runs per provider/hand-written and latency case (default 5, 1 with --quick)"
    )
    parser.add_argument("--profile", action="store_true", help="write cProfile output of provider cases to results/")
    parser.add_argument("--only-sync", action="store_true", help="run only the sync's cases (sync_bench.py)")
    parser.add_argument("--worker", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args.worker)
    if args.only_sync:
        from sync_bench import main as sync_main

        return sync_main(["--quick"] if args.quick else [])
    started = time.monotonic()
    report = run_benchmarks(args)
    report["total_seconds"] = time.monotonic() - started
    print_report(report)
    default = RESULTS / ("latest-quick.json" if args.quick else "latest.json")
    path = Path(args.json) if args.json else default
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(f"\nJSON written to {path} (whole run {report['total_seconds']:.0f} s)")
    return 0 if report["all_checks_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
