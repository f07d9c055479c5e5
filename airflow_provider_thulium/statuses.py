"""A campaign's statuses: read from the API, and names in records turned into ids before sending.

In Thulium a record's status is per campaign (``GET outbounds/:id/statuses``, docs/thulium-api.md,
"Statuses"), so the same name has a different id in each campaign. Records may name a status
(``"status": "Not interested"``) or a system status shared by exactly one of the campaign's
statuses (``"status": "NO_CALL"``); both become ``status_id`` here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict

from airflow_provider_thulium.exceptions import ThuliumResponseError, ThuliumValidationError
from airflow_provider_thulium.privacy import mask_phone
from airflow_provider_thulium.validation import STATUS_NAME_FIELD, item_name

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
    """The statuses from an answer of ``GET outbounds/:id/statuses`` (``status_id`` arrives as a string)."""
    if not isinstance(payload, list):
        raise ThuliumResponseError(f"{description} answered {type(payload).__name__} instead of a list of statuses")
    statuses: list[CampaignStatus] = []
    for item in payload:
        try:
            dictionary_id = item.get("dictionary_status_id")
            statuses.append(
                {
                    "status_id": int(item["status_id"]),
                    "name": str(item["name"]),
                    "system_status": str(item["system_status"]),
                    "dictionary_status_id": None if dictionary_id in (None, "") else int(dictionary_id),
                }
            )
        except (AttributeError, KeyError, TypeError, ValueError):
            raise ThuliumResponseError(
                f"{description} answered a status without a usable id, name or system status"
            ) from None
    return statuses


def _listing(statuses: Sequence[CampaignStatus]) -> str:
    return "; ".join(f"{s['status_id']} {s['name']!r} ({s['system_status']})" for s in statuses) or "none"


def status_lookup(statuses: Sequence[CampaignStatus]) -> dict[str, CampaignStatus | None]:
    """Each usable name → its status; ``None`` marks a name shared by several statuses (ambiguous).

    A status's own name wins over a system status of the same spelling; names are matched without
    regard to case and surrounding spaces.
    """
    by_name: dict[str, CampaignStatus | None] = {}
    for status in statuses:
        key = status["name"].strip().casefold()
        by_name[key] = None if key in by_name else status
    by_system: dict[str, CampaignStatus | None] = {}
    for status in statuses:
        key = status["system_status"].strip().casefold()
        by_system[key] = None if key in by_system else status
    return {**by_system, **by_name}


def resolve_status_names(
    records: list[dict[str, Any]], statuses: Sequence[CampaignStatus], campaign_id: str, field: str = "records"
) -> list[dict[str, Any]]:
    """Records with each ``status`` name replaced by its ``status_id``, and the status's requirements checked.

    Raises :class:`ThuliumValidationError` listing the campaign's statuses for an unknown or
    ambiguous name, or a record missing a field its status requires.
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
        key = str(name).strip().casefold()
        if key not in lookup:
            raise ThuliumValidationError(
                f"{where}: campaign {campaign_id} has no status {name!r}; its statuses: {_listing(statuses)}"
            )
        status = lookup[key]
        if status is None:
            raise ThuliumValidationError(
                f"{where}: {name!r} names several statuses of campaign {campaign_id}; give status_id or a status "
                f"name instead. Its statuses: {_listing(statuses)}"
            )
        clean = {key: value for key, value in record.items() if key != STATUS_NAME_FIELD}
        clean["status_id"] = status["status_id"]
        _check_requirements(clean, status, item_name(field, index), campaign_id)
        resolved.append(clean)
    return resolved


def _check_requirements(record: dict[str, Any], status: CampaignStatus, where: str, campaign_id: str) -> None:
    missing = [key for key in REQUIRED_BY_SYSTEM_STATUS.get(status["system_status"], ()) if not record.get(key)]
    if missing:
        raise ThuliumValidationError(
            f"{where} (phone {mask_phone(record['phone_number'])}): status {status['name']!r} of campaign "
            f"{campaign_id} is {status['system_status']}, which needs {' and '.join(missing)}"
        )
