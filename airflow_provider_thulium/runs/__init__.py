"""A run: one call's whole input sent under one outcome policy, concluded with results or an error.

Internal: the client starts runs; the operators resume them after a deferral.

Where things live:

- ``records_run``: :class:`RecordsRun` (send, upsert edits, calls-in-progress tries, conclude) and
  :class:`OutcomePolicy` (which outcomes fail a run, what an add does with an existing phone).
"""

from __future__ import annotations

from airflow_provider_thulium.runs.records_run import OutcomePolicy, RecordsRun, Waiter

__all__ = ["OutcomePolicy", "RecordsRun", "Waiter"]
