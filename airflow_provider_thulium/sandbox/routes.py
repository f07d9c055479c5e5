"""How an ``/api/`` request reaches the API's semantics: authentication, paths, query parameters.

What each endpoint then does is in :mod:`.api`; reading the request off the wire in :mod:`.handler`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from .answers import Answer, error_answer, json_answer
from .api import (
    DEFAULT_PAGE_LIMIT,
    ApiError,
    parse_record_filter,
)

if TYPE_CHECKING:
    from .interface import SandboxInterface


def _flag(query: dict[str, list[str]], name: str) -> bool:
    # How the server reads a query flag, not user input (that is settings.parse_bool): the vendor
    # documents true/false, so anything else is a 400, which a client bug would then show.
    values = query.get(name)
    if not values:
        return False
    value = values[-1].strip().lower()
    if value in {"true", "1"}:
        return True
    if value in {"false", "0", ""}:
        return False
    raise ApiError(400, f"Invalid value of {name}: expected true or false.")


def _int_param(query: dict[str, list[str]], name: str, default: int) -> int:
    values = query.get(name)
    if not values:
        return default
    try:
        return int(values[-1])
    except ValueError:
        raise ApiError(400, f"{name} must be an integer.") from None


def api_answer(
    sandbox: SandboxInterface,
    method: str,
    path: str,
    query: dict[str, list[str]],
    login: str | None,
    password: str | None,
    body: bytes,
    request_id: str,
    dry_run: bool,
) -> Answer:
    """The answer to an ``/api/`` request, computed by the state's API semantics.

    :param sandbox: the sandbox whose state answers.
    :param method: the request's method.
    :param path: the request's path, without the query.
    :param query: the request's query parameters.
    :param login: the Basic-auth login, or None.
    :param password: the Basic-auth password, or None.
    :param body: the request's raw body.
    :param request_id: the request's id, for the answer's ``X-Request-Id``.
    :param dry_run: compute the answer without applying the change (for faults with ``apply=False``).
    """
    state = sandbox.state
    try:
        if not path.startswith("/api/"):
            raise ApiError(404, "Not found.")
        if login is None or not state.authenticate(login, password):
            raise ApiError(401, "Invalid credentials.")
        parts = [unquote(p) for p in path[len("/api/") :].strip("/").split("/")]
        if method == "GET" and parts == ["outbounds"]:
            state.require(login, "outbounds.list")
            return json_answer(200, state.api_list_campaigns(), request_id)
        if method == "GET" and len(parts) == 3 and parts[0] == "outbounds":
            campaign_id, what = parts[1], parts[2]
            if what == "statuses":
                state.require(login, "records.read")
                return json_answer(200, state.api_statuses(campaign_id), request_id)
            if what == "records":
                state.require(login, "records.read")
                limit = _int_param(query, "limit", DEFAULT_PAGE_LIMIT)
                offset = _int_param(query, "offset", 0)
                wanted = parse_record_filter(query)
                return json_answer(200, state.api_page(campaign_id, limit, offset, wanted), request_id)
            if what == "agents":
                state.require(login, "agents.read")
                return json_answer(200, state.api_agents(campaign_id), request_id)
        if len(parts) == 4 and parts[:2] == ["batch", "outbounds"] and parts[3] == "records":
            campaign_id = parts[2]
            if method == "DELETE":
                state.require(login, "records.delete")
                phones = query.get("phone_number[]")
                if not phones:
                    raise ApiError(400, "The parameter phone_number[] is required.")
                additional = _flag(query, "search_in_additional_numbers")
                result: Any = state.api_delete(campaign_id, phones, additional, dry_run)
                return json_answer(sandbox.batch_status, result, request_id)
            if method == "PUT":
                state.require(login, "records.update")
                additional = _flag(query, "search_in_additional_numbers")
                try:
                    payload = json.loads(body)
                except ValueError:
                    raise ApiError(400, "Invalid JSON body.") from None
                result = state.api_update(campaign_id, payload, additional, dry_run)
                return json_answer(sandbox.batch_status, result, request_id)
            if method == "POST":
                state.require(login, "records.add")
                try:
                    payload = json.loads(body)
                except ValueError:
                    raise ApiError(400, "Invalid JSON body.") from None
                result = state.api_add(campaign_id, payload, dry_run)
                return json_answer(sandbox.batch_status, result, request_id)
        raise ApiError(404, "Not found.")
    except ApiError as error:
        return error_answer(error.status, error.message, request_id)
