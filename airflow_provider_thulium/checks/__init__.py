"""Every rule input must meet before anything is sent, and the normal form it is sent in.

Internal: the client and the sources apply these; users meet them as
:class:`~airflow_provider_thulium.exceptions.ThuliumValidationError` messages.

Where things live:

- ``spec``: which keys a call's records may hold (:class:`RecordSpec`, ``UPDATE_RECORDS``,
  ``ADD_RECORDS``) and the field sets behind them.
- ``phones``: what a phone number is, how it is spelled when sent, and why a text is not one.
- ``numbering``: one phone however it is written, by a region's numbering plan (``phone_region``,
  libphonenumber's rules): :class:`PhoneNumbering`, a phone's identity and its spelling when sent.
- ``rules``: each record key's rule, once (``FIELD_RULES``): a value made normal one by one,
  raising the error that names it, and a whole column known to be normal already.
- ``records``: phone lists, records, campaign ids and flags checked one by one, each error naming
  the item and the field; records are first offered to the whole-input check.
- ``normal_form``: whether a whole input (a list of dicts, or a source's chunk of columns) is
  already in normal form, a column at a time by the rules, in a few passes in C; the one-by-one
  check runs only when the answer is no, to name the item.
- ``columns``: a source's chunk kept as columns, made into records, and encoded batch by batch.
- ``statuses``: status names to the campaign's ids, and the fields a status requires.
- ``options``: the options of an upsert and a sync (``update_fields``, ``max_removals``).
- ``agents``: agent logins checked against the campaign's agents.
"""

from __future__ import annotations

from airflow_provider_thulium.checks.agents import CampaignAgent, check_agent_logins, read_agents
from airflow_provider_thulium.checks.columns import ColumnRows, Columns, records_from_columns
from airflow_provider_thulium.checks.normal_form import columns_in_normal_form
from airflow_provider_thulium.checks.numbering import PhoneNumbering, numbering_for
from airflow_provider_thulium.checks.options import parse_max_removals, parse_update_fields
from airflow_provider_thulium.checks.phones import phone_sender, spelling_difference
from airflow_provider_thulium.checks.records import (
    RowNames,
    normalize_campaign_id,
    parse_flag,
    parse_phone_numbers,
    parse_records,
)
from airflow_provider_thulium.checks.spec import (
    ADD_ONLY_FIELDS,
    ADD_RECORDS,
    EDITABLE_FIELDS,
    STATUS_NAME_FIELD,
    UPDATE_RECORDS,
    RecordSpec,
)
from airflow_provider_thulium.checks.statuses import CampaignStatus, read_statuses, resolve_status_names

__all__ = [
    "ADD_ONLY_FIELDS",
    "ADD_RECORDS",
    "EDITABLE_FIELDS",
    "STATUS_NAME_FIELD",
    "UPDATE_RECORDS",
    "CampaignAgent",
    "CampaignStatus",
    "ColumnRows",
    "Columns",
    "PhoneNumbering",
    "RecordSpec",
    "RowNames",
    "check_agent_logins",
    "columns_in_normal_form",
    "normalize_campaign_id",
    "numbering_for",
    "parse_flag",
    "parse_max_removals",
    "parse_phone_numbers",
    "parse_records",
    "parse_update_fields",
    "phone_sender",
    "read_agents",
    "read_statuses",
    "records_from_columns",
    "resolve_status_names",
    "spelling_difference",
]
