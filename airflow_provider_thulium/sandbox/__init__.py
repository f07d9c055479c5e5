"""A local Thulium API server for tests, demos and benchmarks ("the sandbox").

Only the standard library is imported here; ``cryptography`` is loaded when TLS is asked for.

>>> from airflow_provider_thulium.sandbox import ThuliumSandbox
>>> with ThuliumSandbox() as sandbox:  # doctest: +SKIP
...     sandbox.url, sandbox.login, sandbox.password
"""

from __future__ import annotations

from .server import Fault, RequestLog, ThuliumSandbox
from .state import Agent, Campaign, Record, RecordFilter, SandboxState

__all__ = ["Agent", "Campaign", "Fault", "Record", "RecordFilter", "RequestLog", "SandboxState", "ThuliumSandbox"]
