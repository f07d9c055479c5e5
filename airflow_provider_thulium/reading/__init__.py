"""Reading a campaign's records back: filters, pages, and a concurrent read of every page.

Internal: the client's ``iter_records``, ``count_records`` and the sync's read use these.

Where things live:

- ``pages``: :class:`RecordFilter` (the keyword filters of ``GET outbounds/:id/records``), one page
  read from an answer, and the key that tells two records apart.
- ``campaign``: :func:`read_pages`, the one read of a campaign's records (every page, a few at a
  time when the count allows, each record once, an end whatever the server answers), and :class:`CampaignRead`.
- ``seen``: :class:`SeenRecords`, the records a read has given already, kept compactly for the whole read.
"""

from __future__ import annotations

from airflow_provider_thulium.reading.campaign import CampaignRead, PageReader, read_pages
from airflow_provider_thulium.reading.pages import PAGE_SIZE, RecordFilter, read_page, record_key
from airflow_provider_thulium.reading.seen import SeenRecords

__all__ = [
    "PAGE_SIZE",
    "CampaignRead",
    "PageReader",
    "RecordFilter",
    "SeenRecords",
    "read_page",
    "read_pages",
    "record_key",
]
