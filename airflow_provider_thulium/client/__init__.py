"""The Thulium API as Python calls, without Airflow: :class:`ThuliumClient`.

Public: :class:`ThuliumClient` (scripts and tests build one with ``ThuliumClient.for_host``;
:class:`~airflow_provider_thulium.hooks.thulium.ThuliumHook` builds one from a connection), and the
types its calls take and return: :class:`CheckedCall`, :class:`OutcomePolicy`, :class:`BatchResult`,
:class:`RecordFilter`, :class:`CampaignRead`, :class:`CampaignStatus`, :class:`CampaignAgent` and
:class:`SyncPlan` (each defined in the internal package whose job it is). The parts the client
builds (:class:`~airflow_provider_thulium.client.checker.InputChecker`,
:class:`~airflow_provider_thulium.client.runs.RunFactory`) are internal.

Where things live:

- ``facade``: :class:`ThuliumClient`, the one object callers hold: the account's reads, and the
  records and sync calls, each handed to the part below whose job it is.
- ``checker``: :class:`InputChecker`, a call's input checked in full before its first request
  (status names resolved, agent logins checked, the connection prepared), and how phones compare
  with the campaign's spelling.
- ``runs``: :class:`RunFactory`, the runs of checked calls and of sync plans, built with all they
  need, and the stream of a call's batches.

:class:`CheckedCall` lives in :mod:`airflow_provider_thulium.calls.checked`; the sync's planner in
:mod:`airflow_provider_thulium.sync.planner`.
"""

from __future__ import annotations

from airflow_provider_thulium.calls.batching import BatchResult
from airflow_provider_thulium.calls.checked import CheckedCall
from airflow_provider_thulium.checks.agents import CampaignAgent
from airflow_provider_thulium.checks.statuses import CampaignStatus
from airflow_provider_thulium.client.facade import ThuliumClient
from airflow_provider_thulium.reading.campaign import CampaignRead
from airflow_provider_thulium.reading.pages import RecordFilter
from airflow_provider_thulium.runs.records_run import OutcomePolicy
from airflow_provider_thulium.sync.plan import SyncPlan

__all__ = [
    "BatchResult",
    "CampaignAgent",
    "CampaignRead",
    "CampaignStatus",
    "CheckedCall",
    "OutcomePolicy",
    "RecordFilter",
    "SyncPlan",
    "ThuliumClient",
]
