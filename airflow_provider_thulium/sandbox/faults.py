"""Faults: the scripted misbehaviours of the sandbox, and how one shapes the answer it fires on.

A :class:`Fault` is checked when it is made; :func:`fault_answer` applies it to a request.
"""

from __future__ import annotations

import email.utils
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .answers import Answer, content_type_of, error_answer, status_phrase

_FAULT_KEYS = frozenset(
    {"status", "times", "after", "method", "path", "retry_after", "delay", "drop", "apply", "body", "truncate"}
)
_SECONDS_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_METHOD_RE = re.compile(r"[A-Za-z]+")


def retry_after_value(value: Any) -> str:
    """``value`` as a ``Retry-After`` header value, or ``ValueError`` with what is wrong.

    Accepted: a number of seconds, 0 or more (an int, a float or a string of digits such as
    ``"2"`` or ``"0.5"``), or an HTTP date such as ``"Wed, 21 Oct 2015 07:28:00 GMT"``. Anything
    with control characters (CR/LF would let a test inject headers) or outside printable ASCII is
    refused, as is anything else a client could not parse as either form.
    """
    expected = (
        "retry_after must be a number of seconds (0 or more) or an HTTP date such as 'Wed, 21 Oct 2015 07:28:00 GMT'"
    )
    if isinstance(value, bool):
        raise ValueError(f"{expected}, got {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{expected}, got {value!r}")
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if not isinstance(value, str):
        raise ValueError(f"{expected}, got {type(value).__name__}")
    if any(not " " <= char <= "~" for char in value):
        raise ValueError(f"{expected}, without control or non-ASCII characters; got {value!r}")
    text = value.strip()
    if _SECONDS_RE.fullmatch(text):
        return text
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        parsed = None
    if parsed is None:
        raise ValueError(f"{expected}, got {value!r}")
    return text


def _check_number(name: str, value: Any, *, integer: bool) -> None:
    kinds = int if integer else int | float
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value) or value < 0:
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{name} must be {kind}, 0 or more, got {value!r}")


@dataclass
class Fault:
    """A scripted misbehaviour of the sandbox for matching ``/api/`` requests.

    Faults are checked in the order they were added; the first one whose ``method`` and
    ``path`` match and that has not fired ``times`` times yet fires, once it has let ``after``
    matching requests through. What a fault does, in order of precedence:

    - ``drop``: close the connection without answering (the change is applied first unless
      ``apply=False``);
    - ``body``: answer this raw text (status ``status`` or 200) instead of the real answer
      (applied first unless ``apply=False``);
    - ``status``: answer this status with the API's error body; the change is NOT applied;
    - ``truncate``: answer the real JSON cut in half (with ``apply=False`` the answer is computed
      without applying the change);
    - ``delay``: sleep this long before answering, after applying the change;
    - ``action``: called with the :class:`ThuliumSandbox` when the fault fires, before the
      request is served, e.g. to rotate a password or delete a campaign. With nothing else set,
      the request is then served normally, so the action can make this very request fail.

    ``retry_after`` adds a ``Retry-After`` header to whatever is answered: seconds (number or
    digits) or an HTTP date, checked when the fault is made (see :func:`retry_after_value`), as
    is every other value: a fault that cannot be served raises ``ValueError`` at once rather
    than breaking the request it fires on.

    :param status: answer this status with the API's error body (the change is not applied).
    :param times: how many times the fault fires.
    :param after: how many matching requests it lets through first.
    :param method: the HTTP method it targets (default: any).
    :param path: a part of the path it targets, e.g. ``batch/outbounds`` (default: any).
    :param retry_after: a ``Retry-After`` header: seconds, or an HTTP date.
    :param delay: seconds to sleep before answering, after applying the change.
    :param drop: close the connection without answering.
    :param apply: whether ``drop``, ``body`` and ``truncate`` apply the change first.
    :param body: answer this raw text instead of the real answer.
    :param truncate: answer the real JSON cut in half.
    :param action: called with the sandbox when the fault fires, before the request is served.
    """

    status: int | None = None
    times: int = 1
    after: int = 0
    method: str | None = None
    path: str | None = None
    retry_after: str | float | None = None
    delay: float = 0.0
    drop: bool = False
    apply: bool = True
    body: str | None = None
    truncate: bool = False
    action: Callable[[Any], None] | None = None
    fired: int = field(default=0, init=False)
    skipped: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.status is not None and (
            isinstance(self.status, bool) or not isinstance(self.status, int) or not 100 <= self.status <= 599
        ):
            raise ValueError(f"status must be an HTTP status from 100 to 599, got {self.status!r}")
        _check_number("times", self.times, integer=True)
        _check_number("after", self.after, integer=True)
        _check_number("delay", self.delay, integer=False)
        if self.method is not None and (not isinstance(self.method, str) or not _METHOD_RE.fullmatch(self.method)):
            raise ValueError(f"method must be an HTTP method such as 'DELETE', got {self.method!r}")
        if self.path is not None and not isinstance(self.path, str):
            raise ValueError(f"path must be a string, got {self.path!r}")
        if self.body is not None and not isinstance(self.body, str):
            raise ValueError(f"body must be a string, got {type(self.body).__name__}")
        for name in ("drop", "apply", "truncate"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.action is not None and not callable(self.action):
            raise ValueError("action must be callable")
        if self.retry_after is not None:
            self.retry_after = retry_after_value(self.retry_after)

    def matches(self, method: str, path: str) -> bool:
        """Whether a request with this method and path (no query) is one this fault targets.

        :param method: the request's method.
        :param path: the request's path, without the query.
        """
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path is None or self.path in path

    @classmethod
    def from_json(cls, data: Any) -> Fault:
        """Build a fault from a JSON object (as posted to ``/_sandbox/faults``; no ``action``).

        :param data: the fault's keys and values.
        """
        if not isinstance(data, dict):
            raise ValueError("a fault must be a JSON object")
        unknown = set(data) - _FAULT_KEYS
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        """The fault as JSON-able data (its action shown only as present or not)."""
        data: dict[str, Any] = {key: getattr(self, key) for key in sorted(_FAULT_KEYS)}
        data["action"] = self.action is not None
        data["fired"] = self.fired
        return data


def fault_answer(fault: Fault, real: Callable[..., Answer], request_id: str) -> Answer | None:
    """The answer to a request ``fault`` fired on (None: drop the connection).

    :param fault: the fault that fired.
    :param real: computes the real answer, applying the change unless called with ``dry_run=True``.
    :param request_id: the request's id, for the answer's ``X-Request-Id``.
    """
    answer: Answer | None
    if fault.drop:
        if fault.apply:
            real()
        return None
    if fault.body is not None:
        if fault.apply:
            real()
        answer = Answer(
            fault.status or 200,
            fault.body.encode(),
            content_type_of(fault.body),
            [("X-Request-Id", request_id)],
        )
    elif fault.status is not None:
        answer = error_answer(fault.status, f"{status_phrase(fault.status)} (sandbox fault).", request_id)
    else:
        answer = real(dry_run=fault.truncate and not fault.apply)
        if fault.truncate:
            answer.body = answer.body[: len(answer.body) // 2]
    if fault.retry_after is not None:
        answer.headers.append(("Retry-After", str(fault.retry_after)))
    return answer
