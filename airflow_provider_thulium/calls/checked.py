"""A records call whose input passed every check: what the run factory sends and the sync planner compares."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from airflow_provider_thulium.calls.operations import Operation


@dataclass(frozen=True)
class CheckedCall:
    """A records call whose input passed every check: ready to send.

    :param operation: the call.
    :param campaign_id: the five-character campaign id.
    :param phones: every input phone, in input order, each once.
    :param items: what is sent: phones or normalised records (a list, or a
        :class:`~airflow_provider_thulium.sources.spool.Spool` of a source's).
    :param search_in_additional_numbers: the flag, as a bool.
    """

    operation: Operation
    campaign_id: str
    phones: Collection[str]
    items: Collection[Any]
    search_in_additional_numbers: bool


__all__ = ["CheckedCall"]
