"""Making a campaign match the CRM: a plan, its guard, the run of its changes, and what it last applied.

Internal apart from :class:`SyncPlan`, which ``plan_sync`` returns.

Where things live:

- ``plan``: :class:`SyncPlan` (ADD / UPDATE / UNCHANGED / REMOVE per phone), how it is built from
  the desired records and the campaign's pages, the removal guard, and :class:`SyncRun`.
- ``planner``: :class:`SyncPlanner`, which checks the desired records, reads the campaign once and
  builds the plan (the client's ``plan_sync``).
- ``state``: :class:`SyncState`, what a sync last applied per phone (``state_path``), for the fields
  the records answer does not show.
"""

from __future__ import annotations

from airflow_provider_thulium.sync.plan import (
    DEFAULT_MAX_REMOVALS,
    DEFAULT_UPDATE_FIELDS,
    GUARD_PASSED,
    GUARD_REFUSED,
    SyncPlan,
    SyncRun,
    build_plan,
    check_guard,
)
from airflow_provider_thulium.sync.planner import SyncPlanner
from airflow_provider_thulium.sync.state import SyncState, state_file

__all__ = [
    "DEFAULT_MAX_REMOVALS",
    "DEFAULT_UPDATE_FIELDS",
    "GUARD_PASSED",
    "GUARD_REFUSED",
    "SyncPlan",
    "SyncPlanner",
    "SyncRun",
    "SyncState",
    "build_plan",
    "check_guard",
    "state_file",
]
