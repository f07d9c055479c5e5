"""The log the sandbox keeps of the ``/api/`` requests it received (see ``ThuliumSandbox.requests``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any


@dataclass
class RequestLog:
    """One request as the sandbox received it.

    ``status`` is the status answered, or 0 when the connection was dropped. The body is kept
    raw and parsed on first access to :attr:`body`, so that logging hundreds of 1 MiB bodies
    during a benchmark does not cost a parsed copy of each.

    :param method: the HTTP method.
    :param path: the path, without the query.
    :param query: the query's parameters.
    :param user: the Basic-auth login, if any.
    :param status: the status answered; 0 when the connection was dropped.
    :param request_line_bytes: the request line's size.
    :param body_bytes: the body's size.
    :param raw_body: the body as received.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    user: str | None
    status: int
    request_line_bytes: int
    body_bytes: int
    raw_body: bytes = field(default=b"", repr=False)

    @cached_property
    def body(self) -> Any:
        """The body parsed as JSON, or None when it was empty or not JSON."""
        if not self.raw_body:
            return None
        try:
            return json.loads(self.raw_body)
        except ValueError:
            return None

    def to_json(self) -> dict[str, Any]:
        """The entry as JSON-able data."""
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "user": self.user,
            "body": self.body,
            "status": self.status,
            "request_line_bytes": self.request_line_bytes,
            "body_bytes": self.body_bytes,
        }
