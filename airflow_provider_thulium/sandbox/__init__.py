"""A local Thulium API server for tests, demos and benchmarks ("the sandbox").

Only the standard library is imported here; ``cryptography`` is loaded when TLS is asked for.

Where things live: ``server`` (:class:`ThuliumSandbox`: start, stop, faults and the request log),
``handler`` (HTTP: reading requests, writing answers, the proxy's limits), ``routes`` (``/api/``
paths to the API's semantics), ``api`` (what each endpoint does: permissions, reads, batch delete,
update, add), ``state`` (:class:`SandboxState` and its set-up helpers), ``records`` (campaigns,
records, statuses, agents, filters), ``seeds`` (users, agents, demo campaigns), ``faults``
(:class:`Fault` and how it shapes an answer), ``control`` (the ``/_sandbox/`` endpoints),
``interface`` (what ``handler``, ``routes`` and ``control`` use of the sandbox), ``answers`` (JSON
and error bodies), ``request_log``, ``tls``, ``describe`` (the Markdown reference),
``pytest_plugin`` (the fixtures) and ``__main__`` (the CLI).

>>> from airflow_provider_thulium.sandbox import ThuliumSandbox
>>> with ThuliumSandbox() as sandbox:  # doctest: +SKIP
...     sandbox.url, sandbox.login, sandbox.password
"""

from __future__ import annotations

from .faults import Fault
from .records import Agent, Campaign, Record, RecordFilter
from .request_log import RequestLog
from .server import ThuliumSandbox
from .state import SandboxState

__all__ = ["Agent", "Campaign", "Fault", "Record", "RecordFilter", "RequestLog", "SandboxState", "ThuliumSandbox"]
