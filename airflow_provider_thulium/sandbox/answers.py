"""The answers the sandbox sends: the JSON body, the API's error body and the status phrase."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any


@dataclass
class Answer:
    """What the server sends back: status, body, content type and headers beyond the usual ones."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_answer(status: int, data: Any, request_id: str) -> Answer:
    """``data`` as a compact JSON answer carrying the request's ``X-Request-Id``."""
    body = json.dumps(data, separators=(",", ":")).encode()
    return Answer(status, body, headers=[("X-Request-Id", request_id)])


def error_answer(status: int, message: str, request_id: str) -> Answer:
    """The API's error body for ``status`` and ``message`` (a 401 also asks for Basic auth)."""
    data = {"request_id": request_id, "errors": [{"message": message, "code": status}]}
    answer = json_answer(status, data, request_id)
    if status == 401:
        answer.headers.append(("WWW-Authenticate", 'Basic realm="Thulium API"'))
    return answer


def status_phrase(status: int) -> str:
    """The reason phrase of an HTTP status, ``"Unknown"`` for one the standard library does not know."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def content_type_of(text: str) -> str:
    """The content type to serve raw ``text`` with: JSON if it parses, else HTML or plain text."""
    try:
        json.loads(text)
    except ValueError:
        stripped = text.lstrip()
        return "text/html; charset=utf-8" if stripped.startswith("<") else "text/plain; charset=utf-8"
    return "application/json"
