"""The Thulium API as Python calls, without Airflow: :class:`ThuliumClient`.

Public: :class:`ThuliumClient` (scripts and tests build one with ``ThuliumClient.for_host``;
:class:`~airflow_provider_thulium.hooks.thulium.ThuliumHook` builds one from a connection) and
:class:`CheckedCall`.

Where things live:

- ``facade``: :class:`ThuliumClient`, the one object callers hold.
"""

from __future__ import annotations

from airflow_provider_thulium.client.facade import CheckedCall, ThuliumClient

__all__ = ["CheckedCall", "ThuliumClient"]
