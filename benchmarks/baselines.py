"""The baselines the provider is measured against: a hand-written ``requests`` loop and a naive one.

Each runs in a fresh child process, as the provider's case does (see :mod:`cases`).
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

from inputs import (
    CAMPAIGN,
    case_input,
    phones,
    provider_defaults,
)
from meters import cpu_seconds, current_rss_bytes, peak_rss_bytes


def new_session(spec: dict[str, Any]) -> Any:
    """A requests.Session logged in to the sandbox of ``spec``, as the hand-written loops use one."""
    import requests  # imported before the at-rest measurement by the callers; a no-op here

    session = requests.Session()
    session.auth = (spec["login"], spec["password"])
    session.headers["Accept"] = "application/json"
    return session


def case_handwritten(spec: dict[str, Any]) -> dict[str, Any]:
    """The floor for a Python client: a requests.Session loop with the provider's batch sizes."""
    import requests  # noqa: F401 - before the at-rest measurement, as the provider case imports Airflow first

    defaults = provider_defaults()  # before the at-rest measurement too
    rest_rss, rest_peak = current_rss_bytes(), peak_rss_bytes()
    count = spec["records"]
    items: list[Any] = case_input(spec["operation"], count)
    input_rss = current_rss_bytes()
    session = new_session(spec)
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


def case_naive(spec: dict[str, Any]) -> dict[str, Any]:
    """One DELETE per phone, through a keep-alive requests.Session (the kind variant of a naive loop)."""
    import requests  # noqa: F401 - before the at-rest measurement

    rest_rss, rest_peak = current_rss_bytes(), peak_rss_bytes()
    count = spec["records"]
    items = phones(count)
    session = new_session(spec)
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
