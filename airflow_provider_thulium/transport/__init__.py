"""How one request reaches Thulium and comes back: the session, deadlines, retries, and errors by status.

Internal: the client is the way in; nothing here is public API.

Where things live:

- ``session``: :class:`Transport`, the HTTP session (TLS, auth, a deadline per attempt, answer size
  limits) and one request with its retries; :class:`Answer`, a decoded answer.
- ``retry``: :class:`RetryPolicy`, which failures are retried, how long to wait (``Retry-After``
  included) and when to stop.
- ``http_errors``: the one table from an HTTP status to an error class, and the error made from an answer.
"""

from __future__ import annotations

from airflow_provider_thulium.transport.http_errors import error_class_for, error_from_answer
from airflow_provider_thulium.transport.retry import RetryPolicy
from airflow_provider_thulium.transport.session import Answer, Transport, answer_limit

__all__ = ["Answer", "RetryPolicy", "Transport", "answer_limit", "error_class_for", "error_from_answer"]
