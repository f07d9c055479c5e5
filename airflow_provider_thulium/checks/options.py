"""The sync's options as users give them: the fields the caller owns, and the limit on removals."""

from __future__ import annotations

import math

from airflow_provider_thulium.checks.records import as_sequence, parse_flag
from airflow_provider_thulium.checks.spec import EDITABLE_FIELDS, STATUS_NAME_FIELD
from airflow_provider_thulium.exceptions import ThuliumValidationError


def parse_update_fields(value: object, field: str = "update_fields") -> frozenset[str]:
    """The fields a caller owns on records already in a campaign: editable fields, ``status`` naming ``status_id``.

    Accepts a list or tuple of names, or one name, or names separated by commas (a rendered template).

    :param value: the names as given.
    :param field: the parameter's name, for the error message.
    """
    if isinstance(value, str):
        value = [name.strip() for name in value.split(",") if name.strip()]
    value = as_sequence(value)
    if not isinstance(value, (list, tuple, frozenset, set)):
        raise ThuliumValidationError(f"{field}: expected a list of field names, got {type(value).__name__}")
    editable = sorted(EDITABLE_FIELDS - {"phone_number"})
    owned = set()
    for name in value:
        if name == STATUS_NAME_FIELD:
            name = "status_id"
        if not isinstance(name, str) or name not in editable:
            raise ThuliumValidationError(
                f"{field}: {name!r} is not a field an edit can change; use some of {', '.join(editable)} "
                f"(or {STATUS_NAME_FIELD!r} for status_id)"
            )
        owned.add(name)
    return frozenset(owned)


def parse_max_removals(value: object, field: str = "max_removals") -> int | float:
    """A removal limit: a whole number of phones, or a fraction (0 to below 1) of the campaign's records.

    :param value: the limit as given (a number, or its text from a template).
    :param field: the parameter's name, for the error message.
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text) if text.isdigit() else float(text)
        except ValueError:
            raise ThuliumValidationError(f"{field}: expected a number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ThuliumValidationError(
            f"{field}: expected a whole number of records or a fraction below 1 (0.1 = 10 %), got {value!r}"
        )
    if isinstance(value, float) and value >= 1:
        if not value.is_integer():
            raise ThuliumValidationError(
                f"{field}: {value!r} is neither a fraction below 1 nor a whole number of records"
            )
        return int(value)
    return value


def parse_dry_run(value: object, field: str = "dry_run") -> bool:
    """Whether a sync is a dry run, from a bool or a template's text; a blank text is refused.

    Other flags read an empty template result as "not set", that is ``False``; for ``dry_run`` that
    would turn a dry run whose template rendered nothing into a real one.

    :param value: the flag as given.
    :param field: the parameter's name, for the error message.
    """
    if isinstance(value, str) and not value.strip():
        raise ThuliumValidationError(
            f"{field}: the template rendered an empty text; render true or false (a blank dry_run is not read as "
            "false: that would run for real a sync meant to write nothing)"
        )
    return parse_flag(value, field)
