"""Every phone's result: the entries DAGs read, the accounting of a run, and the results file.

Internal: what DAGs read of it (entries, summaries, outcome names) is typed in
:mod:`airflow_provider_thulium.outcomes`.

Where things live:

- ``accounting``: :class:`RecordResults`, every phone's entry and outcome in a run, the summary and
  its warnings; what a run says it is doing comes in through its methods.
- ``batch_log``: :class:`BatchLog`, the per-batch log line (outcome counts, a few failed phones
  masked), and :func:`outcome_counts`, the outcome counts as log-safe text.
- ``writer``: :class:`ResultsWriter`, what of a run goes to its results file and when (each batch's
  lines as it is answered, the phones a later try may change again at the end).
- ``results_file``: :class:`ResultsFile`, the file at ``results_path`` (JSON Lines or CSV), written
  whole when the run ends, and :func:`check_results_path`, the check of it before the run.
- ``deferral``: :class:`DeferralState`, what a run's results carry across a deferral, as JSON.
"""

from __future__ import annotations

from airflow_provider_thulium.results.accounting import RecordResults
from airflow_provider_thulium.results.batch_log import BatchLog, outcome_counts
from airflow_provider_thulium.results.deferral import DeferralState
from airflow_provider_thulium.results.results_file import ResultsFile, check_results_path, results_format
from airflow_provider_thulium.results.writer import ResultsWriter

__all__ = [
    "BatchLog",
    "DeferralState",
    "RecordResults",
    "ResultsFile",
    "ResultsWriter",
    "check_results_path",
    "outcome_counts",
    "results_format",
]
