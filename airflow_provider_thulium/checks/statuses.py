"""A campaign's statuses: read from the API, and names in records turned into ids before sending.

In Thulium a record's status is per campaign (``GET outbounds/:id/statuses``, docs/thulium-api.md,
"Statuses"), so the same name has a different id in each campaign. Records may name a status
(``"status": "Not interested"``) or a system status shared by exactly one of the campaign's
statuses (``"status": "NO_CALL"``); both become ``status_id`` here.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any, TypedDict

from airflow_provider_thulium.checks.records import item_name
from airflow_provider_thulium.checks.spec import STATUS_NAME_FIELD
from airflow_provider_thulium.exceptions import ThuliumResponseError, ThuliumValidationError
from airflow_provider_thulium.privacy import mask_phone, safe_server_text
from airflow_provider_thulium.reading.pages import whole_number

#: System statuses whose records need more fields (docs/thulium-api.md, "PUT" and "POST").
REQUIRED_BY_SYSTEM_STATUS: dict[str, tuple[str, ...]] = {
    "MY_RECORD": ("agent_login", "next_call_date"),
    "CALL_NO_SOONER_THAN": ("next_call_date",),
}


class CampaignStatus(TypedDict):
    """One status of a campaign."""

    status_id: int
    name: str
    system_status: str
    dictionary_status_id: int | None


def read_statuses(payload: Any, description: str) -> list[CampaignStatus]:
    """The statuses from an answer of ``GET outbounds/:id/statuses`` (``status_id`` arrives as a string).

    ``status_id`` must be an integer or a digit string, ``name`` and ``system_status`` strings;
    anything else is a :class:`ThuliumResponseError` naming the status and the field.

    :param payload: the decoded answer.
    :param description: the request, as error messages name it.
    """
    if not isinstance(payload, list):
        raise ThuliumResponseError(f"{description} answered {type(payload).__name__} instead of a list of statuses")
    statuses: list[CampaignStatus] = []
    for index, item in enumerate(payload):
        if not isinstance(item, dict):
            raise ThuliumResponseError(f"{description} answered status {index} as {type(item).__name__}, not an object")
        dictionary_id = item.get("dictionary_status_id")
        statuses.append(
            {
                "status_id": _whole(item.get("status_id"), "status_id", index, description),
                "name": _text(item.get("name"), "name", index, description),
                "system_status": _text(item.get("system_status"), "system_status", index, description),
                "dictionary_status_id": None
                if dictionary_id in (None, "")
                else _whole(dictionary_id, "dictionary_status_id", index, description),
            }
        )
    return statuses


def _whole(value: object, field: str, index: int, description: str) -> int:
    number = whole_number(value)
    if number is not None:
        return number
    raise ThuliumResponseError(
        f"{description} answered status {index} with {field} {safe_server_text(value, 60)}: not a whole number"
    )


def _text(value: object, field: str, index: int, description: str) -> str:
    if isinstance(value, str):
        return value
    raise ThuliumResponseError(
        f"{description} answered status {index} with {field} {safe_server_text(value, 60)}: not a string"
    )


def _shown(name: object) -> str:
    # A status name in a message: a server's text (or a caller's), quoted, short, numbers masked.
    return "'" + safe_server_text(name, 60) + "'"


def _listing(statuses: Sequence[CampaignStatus]) -> str:
    return (
        "; ".join(f"{s['status_id']} {_shown(s['name'])} ({_shown(s['system_status'])[1:-1]})" for s in statuses)
        or "none"
    )


def name_key(name: str) -> str:
    """A status name as it is compared: Unicode NFC, surrounding spaces dropped, case-folded.

    :param name: a status's name, or a name a record gives.
    """
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).strip().casefold())


def status_lookup(statuses: Sequence[CampaignStatus]) -> dict[str, list[CampaignStatus]]:
    """Each usable name → the statuses it may mean; more than one makes the name ambiguous.

    A value may be a status's name or the system status of a status; names are compared by
    :func:`name_key`. A value that is one status's name and another status's system status is
    ambiguous, as is a name or system status shared by several statuses.

    :param statuses: the campaign's statuses.
    """
    lookup: dict[str, list[CampaignStatus]] = {}
    for status in statuses:
        for key in {name_key(status["name"]), name_key(status["system_status"])}:
            lookup.setdefault(key, []).append(status)
    return lookup


def resolve_status_names(
    records: list[dict[str, Any]], statuses: Sequence[CampaignStatus], campaign_id: str, field: str = "records"
) -> list[dict[str, Any]]:
    """Records with each ``status`` name replaced by its ``status_id``, and the status's requirements checked.

    Raises :class:`ThuliumValidationError` listing the campaign's statuses for an unknown name, the
    statuses an ambiguous name may mean, or a record missing a field its status requires.

    :param records: the checked records; those naming a ``status`` are copied, not changed.
    :param statuses: the campaign's statuses.
    :param campaign_id: the campaign, as messages name it.
    :param field: the input's name in messages (``records``, or a source's description).
    """
    lookup = status_lookup(statuses)
    by_id = {status["status_id"]: status for status in statuses}
    resolved: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        name = record.get(STATUS_NAME_FIELD)
        if name is None:
            status = by_id.get(record["status_id"]) if "status_id" in record else None
            if status is not None:
                _check_requirements(record, status, item_name(field, index), campaign_id)
            resolved.append(record)
            continue
        where = f"{item_name(field, index)} (phone {mask_phone(record['phone_number'])}).status"
        candidates = lookup.get(name_key(str(name)), [])
        if not candidates:
            raise ThuliumValidationError(
                f"{where}: campaign {campaign_id} has no status {_shown(name)}; its statuses: {_listing(statuses)}"
            )
        if len(candidates) > 1:
            raise ThuliumValidationError(
                f"{where}: {_shown(name)} names several statuses of campaign {campaign_id} (as a name or a system "
                f"status): {_listing(candidates)}; give status_id or a status name instead"
            )
        status = candidates[0]
        clean = {key: value for key, value in record.items() if key != STATUS_NAME_FIELD}
        clean["status_id"] = status["status_id"]
        _check_requirements(clean, status, item_name(field, index), campaign_id)
        resolved.append(clean)
    return resolved


def _check_requirements(record: dict[str, Any], status: CampaignStatus, where: str, campaign_id: str) -> None:
    missing = [key for key in REQUIRED_BY_SYSTEM_STATUS.get(status["system_status"], ()) if not record.get(key)]
    if missing:
        raise ThuliumValidationError(
            f"{where} (phone {mask_phone(record['phone_number'])}): status {_shown(status['name'])} of campaign "
            f"{campaign_id} is {status['system_status']}, which needs {' and '.join(missing)}"
        )
