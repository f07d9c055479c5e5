"""Every phone's result: the entries DAGs read, the accounting of a run, and the results file.

Internal: what DAGs read of it (entries, summaries, outcome names) is typed in
:mod:`airflow_provider_thulium.outcomes`.

Where things live:

- ``accounting``: :class:`RecordResults`, every phone's entry and outcome in a run, the summary and
  its warnings, the batch log lines, and what a deferral carries over.
- ``results_file``: :class:`ResultsFile`, a run's results written to ``results_path`` (JSON Lines or CSV).
"""

from __future__ import annotations

from airflow_provider_thulium.results.accounting import RecordResults, outcome_counts
from airflow_provider_thulium.results.results_file import ResultsFile, results_format

__all__ = ["RecordResults", "ResultsFile", "outcome_counts", "results_format"]
