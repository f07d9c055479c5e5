"""The sandbox's own capacity: raw ``http.client`` processes sending the provider's DELETE batches."""

from __future__ import annotations

import base64
import http.client
import multiprocessing
import socket
import time
from typing import Any
from urllib.parse import quote, urlsplit

from inputs import (
    CAMPAIGN,
    Sizes,
    phones,
    provider_defaults,
)
from sandbox_process import SandboxProcess


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
