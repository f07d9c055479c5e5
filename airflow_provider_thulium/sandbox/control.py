"""The control endpoints under ``/_sandbox/``: their list, who may call them, and what they do."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from .answers import Answer, error_answer, json_answer
from .faults import Fault

if TYPE_CHECKING:
    from email.message import Message

    from .interface import SandboxInterface

_HOST_PORT_RE = re.compile(r"[0-9]{1,5}")


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


def control_refusal(headers: Message, method: str, body: bytes) -> str | None:
    """Why a control request is refused, or None.

    The control endpoints have no authentication, so they only answer requests that a web page
    in a browser cannot make: the ``Host`` must be a loopback name or address (a page on
    another site that rebinds its DNS name to 127.0.0.1 still sends its own name), and a
    request with a body, or a POST, must say ``Content-Type: application/json`` (a
    cross-origin form post cannot, and a script cannot without the server's consent).

    :param headers: the request's headers.
    :param method: the request's method.
    :param body: the request's raw body.
    """
    host = headers.get("Host")
    if not _is_loopback_host(host):
        shown = "no Host header" if host is None else f"Host {host[:100]!r}"
        return (
            "The sandbox's control endpoints answer only requests to a loopback name or address "
            f"(Host localhost, 127.0.0.1 or [::1], with or without a port); this request has {shown}."
        )
    if body or method in {"POST", "PUT", "PATCH"}:
        content_type = headers.get("Content-Type")
        media = (content_type or "").split(";")[0].strip().lower()
        if media != "application/json":
            shown = "none" if content_type is None else repr(content_type[:100])
            return (
                "The sandbox's control endpoints take only Content-Type: application/json for a request "
                f"with a body or a POST; this request has {shown}."
            )
    return None


def control_answer(
    sandbox: SandboxInterface, headers: Message, method: str, path: str, body: bytes, request_id: str
) -> Answer:
    """The unauthenticated ``/_sandbox/`` endpoints (:data:`CONTROL_ENDPOINTS`).

    :param sandbox: the sandbox to show or change.
    :param headers: the request's headers (see :func:`control_refusal`).
    :param method: the request's method.
    :param path: the request's path, without the query.
    :param body: the request's raw body.
    :param request_id: the request's id, for the answer's ``X-Request-Id``.
    """
    refusal = control_refusal(headers, method, body)
    if refusal is not None:
        return error_answer(403, refusal, request_id)
    state = sandbox.state
    rest = path[len("/_sandbox") :].strip("/")
    parts = [unquote(part) for part in rest.split("/")] if rest else []
    try:
        payload = json.loads(body) if body.strip() else None
    except ValueError:
        return error_answer(400, "Invalid JSON body.", request_id)
    options = payload if isinstance(payload, dict) else {}
    try:
        if parts == [] and method == "GET":
            listing = [{"method": m, "path": p, "description": d} for m, p, d in CONTROL_ENDPOINTS]
            return json_answer(200, listing, request_id)
        if parts == ["state"] and method == "GET":
            return json_answer(200, state.snapshot(), request_id)
        if parts == ["requests"] and method == "GET":
            return json_answer(200, [r.to_json() for r in sandbox.requests], request_id)
        if parts == ["requests"] and method == "DELETE":
            sandbox.clear_requests()
            return json_answer(200, {"cleared": True}, request_id)
        if parts == ["faults"]:
            if method == "GET":
                return json_answer(200, [f.to_json() for f in sandbox.faults], request_id)
            if method == "POST":
                items = payload if isinstance(payload, list) else [payload]
                faults = [Fault.from_json(item) for item in items]
                for fault in faults:
                    sandbox.add_fault(fault)
                return json_answer(200, {"added": len(faults)}, request_id)
            if method == "DELETE":
                sandbox.clear_faults()
                return json_answer(200, {"cleared": True}, request_id)
        if parts == ["reset"] and method == "POST":
            seed = options.get("seed", "demo")
            sandbox.reset(seed)
            return json_answer(200, {"seed": seed}, request_id)
        if parts == ["clock"] and method == "POST":
            if "now" not in options:
                raise ValueError('expected {"now": "YYYY-MM-DD hh:mm"} or {"now": null}')
            state.set_clock(options["now"])
            return json_answer(200, {"now": state.now(), "frozen": options["now"] is not None}, request_id)
        if parts == ["campaigns"] and method == "POST":
            campaign = state.add_campaign(
                str(options.get("id", "")),
                str(options.get("name", "")),
                fields=options.get("fields") or (),
                statuses=options.get("statuses"),
                agents=options.get("agents"),
            )
            return json_answer(200, {"id": campaign.id}, request_id)
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
            return json_answer(200, agent.to_json(), request_id)
        if len(parts) == 3 and parts[0] == "campaigns":
            campaign_id, what = parts[1], parts[2]
            if what == "records" and method == "GET":
                return json_answer(200, state.records(campaign_id), request_id)
            if what == "records" and method == "POST":
                if not isinstance(payload, list):
                    raise ValueError("expected a JSON list of records")
                ids = state.add_records(campaign_id, payload)
                return json_answer(200, {"added": len(ids), "record_ids": ids}, request_id)
            if what == "bulk" and method == "POST":
                added = state.bulk_add(
                    campaign_id,
                    _bulk_phones(options),
                    status_id=options.get("status_id"),
                    create_date=options.get("create_date"),
                    call_date=options.get("call_date"),
                )
                return json_answer(200, {"added": added}, request_id)
            if what == "in_call" and method == "GET":
                return json_answer(200, state.in_call(campaign_id), request_id)
            if what == "in_call" and method == "POST":
                phone = options.get("phone_number")
                if not isinstance(phone, str):
                    raise ValueError('expected {"phone_number": "...", "in_call": true}')
                matched = state.set_in_call(campaign_id, phone, bool(options.get("in_call", True)))
                return json_answer(200, {"matched": matched}, request_id)
    except KeyError as error:
        return error_answer(404, str(error.args[0] if error.args else error), request_id)
    except (ValueError, TypeError) as error:
        return error_answer(400, str(error), request_id)
    return error_answer(404, "Not found: GET /_sandbox/ lists the control endpoints.", request_id)
