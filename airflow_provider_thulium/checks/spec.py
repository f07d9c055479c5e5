"""Which keys a records call takes: the API's editable and add-only fields, and a status by its name."""

from __future__ import annotations

from dataclasses import dataclass

#: The fields a record of ``PUT batch/outbounds/:id/records`` may hold (docs/thulium-api.md, "PUT").
EDITABLE_FIELDS = frozenset(
    {"phone_number", "status_id", "dictionary_status_id", "agent_login", "next_call_date", "record_fields"}
)
#: Fields only ``POST batch/outbounds/:id/records`` takes (docs/thulium-api.md, "POST").
ADD_ONLY_FIELDS = frozenset({"identifier", "order"})
#: A status by its name instead of ``status_id``; resolved through the campaign's statuses before sending.
STATUS_NAME_FIELD = "status"


@dataclass(frozen=True)
class RecordSpec:
    """What a call's records may hold.

    :param fields: the keys the API takes.
    :param needs_change: a record must hold something besides ``phone_number`` (an edit does; an add does not).
    :param duplicate_hint: what to do about a phone given twice, for the error message.
    """

    fields: frozenset[str]
    needs_change: bool
    duplicate_hint: str

    @property
    def accepted(self) -> frozenset[str]:
        """The keys a caller may give: the API's, and a status name."""
        return self.fields | {STATUS_NAME_FIELD}


UPDATE_RECORDS = RecordSpec(EDITABLE_FIELDS, True, "merge the two edits into one record")
ADD_RECORDS = RecordSpec(
    EDITABLE_FIELDS | ADD_ONLY_FIELDS, False, "the API cannot add one number twice; keep one of the two records"
)
