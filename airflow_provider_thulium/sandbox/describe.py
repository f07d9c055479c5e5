"""The demo data set and the control endpoints as Markdown, for the docs and ``--describe``.

Generated from the seed itself, so the documentation cannot drift from what the sandbox serves
(the docs build includes this output in the sandbox reference).
"""

from __future__ import annotations

import re
from typing import Any

from .control import CONTROL_ENDPOINTS
from .seeds import DEFAULT_LOGIN, DEFAULT_PASSWORD, LIMITED_LOGIN, LIMITED_PASSWORD
from .state import SandboxState

_JSON_SPAN = re.compile(r"\{[^{}]*\}")


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None or value == "" or value == [] or value == {}:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"`{k}`={v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value).replace("|", "\\|")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def describe_markdown() -> str:
    """The demo seed (credentials, agents, campaigns with statuses and records) and the control
    endpoints, as Markdown."""
    state = SandboxState("demo")
    snapshot = state.snapshot()
    users = snapshot["users"]
    out: list[str] = ['### Demo data (`seed="demo"`)', ""]
    out += _table(
        ["API user", "password", "permissions"],
        [
            [f"`{DEFAULT_LOGIN}`", f"`{DEFAULT_PASSWORD}`", "all"],
            [f"`{LIMITED_LOGIN}`", f"`{LIMITED_PASSWORD}`", ", ".join(users[LIMITED_LOGIN]["permissions"])],
        ],
    )
    out += ["", "Agents of the account (in every seed; a campaign created without `agents` gets them all):", ""]
    out += _table(
        ["login", "name", "number", "agent_id", "active"],
        [[f"`{a['login']}`", a["name"], a["number"], a["agent_id"], a["active"]] for a in snapshot["agents"]],
    )
    for campaign_id, campaign in snapshot["campaigns"].items():
        statuses = {s["status_id"]: s for s in campaign["statuses"]}
        agents = ", ".join(
            f"`{a['login']}`" + ("" if a["active_in_outbound"] else " (not active in the campaign)")
            for a in campaign["agents"]
        )
        fields = ", ".join(f"`{f}`" for f in campaign["fields"])
        out += ["", f"**Campaign `{campaign_id}`** ({campaign['name']}): record fields {fields}; agents {agents}.", ""]
        out += _table(
            ["status_id", "system_status", "name", "dictionary_status_id"],
            [
                [s["status_id"], f"`{s['system_status']}`", s["name"], s["dictionary_status_id"]]
                for s in campaign["statuses"]
            ],
        )
        out.append("")
        rows = []
        for r in campaign["records"]:
            status = statuses.get(str(r["status_id"]))
            notes = []
            if r["additional_numbers"]:
                notes.append("additional " + ", ".join(r["additional_numbers"]))
            if r["in_call"]:
                notes.append("**call in progress**")
            if r["last_note"]:
                notes.append(f"last note “{r['last_note']}”")
            rows.append(
                [
                    r["record_id"],
                    r["phone_number"],
                    f"{r['status_id']} {status['name'] if status else ''}".strip(),
                    r["create_date"],
                    r["call_date"],
                    r["agent_login"],
                    r["next_call_date"],
                    r["identifier"],
                    r["order"],
                    r["record_fields"],
                    "; ".join(notes),
                ]
            )
        out += _table(
            [
                "record_id",
                "phone",
                "status",
                "created",
                "called",
                "agent",
                "next call",
                "identifier",
                "order",
                "fields",
                "other",
            ],
            rows,
        )
    out += ["", "### Control endpoints", ""]
    out += [
        "No authentication; they answer only a loopback `Host` (`localhost`, `127.x.x.x`, `[::1]`, any port)",
        "and, for a request with a body or a POST, only `Content-Type: application/json` (otherwise 403).",
        "",
    ]
    out += _table(
        ["method", "path", "what it does"],
        [[m, f"`{p}`", _JSON_SPAN.sub(lambda j: f"`{j.group(0)}`", d)] for m, p, d in CONTROL_ENDPOINTS],
    )
    return "\n".join(out) + "\n"
