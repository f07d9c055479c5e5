"""Reading a campaign's records back: filters, pages, and a concurrent read of every page.

Internal: the client's ``iter_records``, ``count_records`` and the sync's read use these.

Where things live:

- ``pages``: :class:`RecordFilter` (the keyword filters of ``GET outbounds/:id/records``), one page
  read from an answer, and the key that tells two records apart.
- ``campaign``: :class:`CampaignRead`, the pages of a whole campaign (or of the records matching
  filters) read a few at a time.
"""

from __future__ import annotations

from airflow_provider_thulium.reading.campaign import CampaignRead, concurrent_pages, read_pages
from airflow_provider_thulium.reading.pages import PAGE_SIZE, RecordFilter, read_page, record_key

__all__ = ["PAGE_SIZE", "CampaignRead", "RecordFilter", "concurrent_pages", "read_page", "read_pages", "record_key"]
