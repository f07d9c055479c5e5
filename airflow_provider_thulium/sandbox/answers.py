"""The answers the sandbox sends: the JSON body, the API's error body and the status phrase."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any


@dataclass
class _Answer:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


def _json_answer(status: int, data: Any, request_id: str) -> _Answer:
    body = json.dumps(data, separators=(",", ":")).encode()
    return _Answer(status, body, headers=[("X-Request-Id", request_id)])


def _error_answer(status: int, message: str, request_id: str) -> _Answer:
    data = {"request_id": request_id, "errors": [{"message": message, "code": status}]}
    answer = _json_answer(status, data, request_id)
    if status == 401:
        answer.headers.append(("WWW-Authenticate", 'Basic realm="Thulium API"'))
    return answer


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _content_type_of(text: str) -> str:
    try:
        json.loads(text)
    except ValueError:
        stripped = text.lstrip()
        return "text/html; charset=utf-8" if stripped.startswith("<") else "text/plain; charset=utf-8"
    return "application/json"
