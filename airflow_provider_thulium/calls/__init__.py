"""The records calls as values, their batches, and how batches are sent.

Internal: the client, the runs and the sync use these; :class:`CheckedCall` is public as
``airflow_provider_thulium.client.CheckedCall``.

Where things live:

- ``operations``: :class:`Operation` values (``DELETE``, ``UPDATE``, ``ADD``, ``EDIT_EXISTING``):
  each call's input, batches, answer shape and success outcomes. A new API call is a new value here.
- ``batching``: input cut into requests under the request-line and body limits; :class:`Batch`,
  :class:`BatchResult` and the JSON encoding.
- ``sending``: batches on a bounded thread pool, results in input order, a 413/414 answer halved.
- ``checked``: :class:`CheckedCall`, a call whose input passed every check: ready to send.
"""

from __future__ import annotations

from airflow_provider_thulium.calls.batching import Batch, BatchResult, encode_lines
from airflow_provider_thulium.calls.checked import CheckedCall
from airflow_provider_thulium.calls.operations import ADD, DELETE, EDIT_EXISTING, UPDATE, Operation
from airflow_provider_thulium.calls.sending import OnSend, stream_batches

__all__ = [
    "ADD",
    "DELETE",
    "EDIT_EXISTING",
    "UPDATE",
    "Batch",
    "BatchResult",
    "CheckedCall",
    "OnSend",
    "Operation",
    "encode_lines",
    "stream_batches",
]
