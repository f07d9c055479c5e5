"""An export: a campaign's records matching filters, read page by page into a destination, and its summary.

Everything is checked before the first request (the filters, the columns, the destination's
names); then pages are read up to ``max_concurrent_requests`` at a time and written as they come
(:meth:`~airflow_provider_thulium.client.ThuliumClient.read_records`), so memory holds the pages in
flight and one batch. The summary says where the rows went and how many, never the records.
"""

from __future__ import annotations

import time
from dataclasses import fields
from typing import Any

from airflow_provider_thulium.checks.records import normalize_campaign_id
from airflow_provider_thulium.client import ThuliumClient
from airflow_provider_thulium.destinations.record_columns import ExportColumns
from airflow_provider_thulium.destinations.writers import Destination
from airflow_provider_thulium.exceptions import ThuliumValidationError
from airflow_provider_thulium.outcomes import ExportSummary
from airflow_provider_thulium.reading.pages import RecordFilter
from airflow_provider_thulium.sources.gc_pause import gc_paused

#: The keyword filters of ``iter_records``, as an export's ``filters`` names them.
FILTER_NAMES = tuple(item.name for item in fields(RecordFilter))


def check_filters(filters: object) -> RecordFilter:
    """An export's ``filters`` (the keyword filters of ``iter_records``), checked; a bad one is named.

    :param filters: a mapping of filter name → value, or ``None`` for every record.
    """
    if filters is None:
        return RecordFilter()
    if not isinstance(filters, dict):
        raise ThuliumValidationError(
            f"filters: expected a mapping of filter name → value, got {type(filters).__name__}"
        )
    unknown = [name for name in filters if name not in FILTER_NAMES]
    if unknown:
        raise ThuliumValidationError(
            f"filters: {', '.join(map(repr, unknown))} is not a filter; known: {', '.join(FILTER_NAMES)}"
        )
    return RecordFilter.from_arguments(**filters)


def applied(record_filter: RecordFilter) -> dict[str, Any]:
    """The filters set, as the summary shows them: ``{"called_from": "2025-03-08", "system_statuses": ["NO_CALL"]}``.

    :param record_filter: the checked filters.
    """
    shown: dict[str, Any] = {}
    for name in FILTER_NAMES:
        value = getattr(record_filter, name)
        if value:
            shown[name] = list(value) if isinstance(value, tuple) else value
    return shown


def export_records(
    client: ThuliumClient,
    campaign_id: str | int,
    destination: Destination,
    *,
    columns: object = None,
    filters: object = None,
) -> ExportSummary:
    """Write the campaign's records matching ``filters`` to ``destination``; return where and how many.

    :param client: the client to read with.
    :param campaign_id: five-character campaign id, or an int that is zero-padded.
    :param destination: where the rows go.
    :param columns: record key → column name, or a list of record keys (default: every key of
        :class:`~airflow_provider_thulium.outcomes.CampaignRecord` but ``record_fields``).
    :param filters: the keyword filters of ``iter_records`` as a mapping, or ``None``.
    """
    if not isinstance(destination, Destination):
        raise ThuliumValidationError(
            f"destination: expected a FileDestination or a SqlDestination, got {type(destination).__name__}"
        )
    campaign = normalize_campaign_id(campaign_id)
    record_filter = check_filters(filters)
    export_columns = ExportColumns.from_argument(columns, client.account_timezone)
    file_format = destination.format
    destination.check(export_columns)
    client.transport.prepare()  # credentials and the like: nothing is written when they are unusable
    started = time.monotonic()
    read = client.read_records(campaign, **(filters or {}))  # type: ignore[arg-type]  # checked above
    # Every page makes a hundred short-lived dicts with no reference cycles, freed as each batch is
    # written; left on, the cyclic collector would walk the task's whole heap again and again.
    with gc_paused():
        rows = destination.write(read.records, export_columns)
    summary: ExportSummary = {
        "campaign_id": campaign,
        "destination": destination.describe(),
        "format": file_format,
        "rows": rows,
        "columns": list(export_columns.names),
        "filters": applied(record_filter),
        "requests": read.pages,
        "duration_seconds": round(time.monotonic() - started, 3),
    }
    summary.update(destination.location())  # type: ignore[typeddict-item]
    client.log.info(
        "exported %d record(s) of campaign %s%s to %s in %.1f s (%d page(s) read)",
        rows,
        campaign,
        f" ({', '.join(f'{k}={v}' for k, v in summary['filters'].items())})" if summary["filters"] else "",
        destination.describe(),
        summary["duration_seconds"],
        read.pages,
    )
    return summary


__all__ = ["FILTER_NAMES", "applied", "check_filters", "export_records"]
