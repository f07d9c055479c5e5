"""Every rule input must meet before anything is sent, and the normal form it is sent in.

Internal: the client and the sources apply these; users meet them as
:class:`~airflow_provider_thulium.exceptions.ThuliumValidationError` messages.

Where things live:

- ``phones``: what a phone number is, how it is spelled when sent, and why a text is not one.
- ``records``: the record spec (:class:`RecordSpec`: which keys a call takes), phone lists, records,
  campaign ids and flags checked one by one, each error naming the item and the field.
- ``fast_path``: the same record rules asked of a whole input at once, in a few passes in C; the
  one-by-one check runs only when the answer is no, to name the item.
- ``columns``: a source's chunk as columns, checked column by column, and made into records.
- ``statuses``: status names to the campaign's ids, and the fields a status requires.
- ``options``: the options of an upsert and a sync (``update_fields``, ``max_removals``).
- ``agents``: agent logins checked against the campaign's agents.
"""

from __future__ import annotations

from airflow_provider_thulium.checks.agents import CampaignAgent, check_agent_logins, read_agents
from airflow_provider_thulium.checks.columns import ColumnRows, Columns, columns_in_normal_form
from airflow_provider_thulium.checks.options import parse_max_removals, parse_update_fields
from airflow_provider_thulium.checks.phones import phone_sender, spelling_difference
from airflow_provider_thulium.checks.records import (
    ADD_RECORDS,
    UPDATE_RECORDS,
    RecordSpec,
    RowNames,
    normalize_campaign_id,
    parse_flag,
    parse_phone_numbers,
    parse_records,
)
from airflow_provider_thulium.checks.statuses import CampaignStatus, read_statuses, resolve_status_names

__all__ = [
    "ADD_RECORDS",
    "UPDATE_RECORDS",
    "CampaignAgent",
    "CampaignStatus",
    "ColumnRows",
    "Columns",
    "RecordSpec",
    "RowNames",
    "check_agent_logins",
    "columns_in_normal_form",
    "normalize_campaign_id",
    "parse_flag",
    "parse_max_removals",
    "parse_phone_numbers",
    "parse_records",
    "parse_update_fields",
    "phone_sender",
    "read_agents",
    "read_statuses",
    "resolve_status_names",
    "spelling_difference",
]
