"""Where a campaign's records go when they are exported: a file or a SQL table, instead of XCom.

Public: :class:`FileDestination` and :class:`SqlDestination`, given to
``ThuliumExportRecordsOperator`` (or ``ThuliumHook.export_records``); :class:`Destination` is
their shared base. The mirror of :mod:`airflow_provider_thulium.sources`.

Where things live:

- ``writers``: :class:`Destination`, :class:`FileDestination` (CSV, JSON Lines or Parquet, local
  or object storage) and :class:`SqlDestination` (a table through a ``DbApiHook``, with a key
  for idempotent re-runs).
- ``file_formats``: CSV, JSON Lines and Parquet written a batch at a time.
- ``record_columns``: which record keys an export writes, under which names, as which types
  (ids as integers, dates as timestamps in the account's time zone).
- ``export``: an export as a whole: the checks, the concurrent read, the write, the summary.
"""

from __future__ import annotations

from airflow_provider_thulium.destinations.writers import Destination, FileDestination, SqlDestination

__all__ = ["Destination", "FileDestination", "SqlDestination"]
