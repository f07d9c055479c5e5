"""Records and phone numbers read from a SQL query or a file, instead of a list passed through XCom.

Public: :class:`SqlSource` and :class:`FileSource`, given wherever a records call takes its input.

Where things live:

- ``readers``: :class:`Source` (read once, a chunk at a time, each chunk checked and spooled),
  :class:`SqlSource`, :class:`FileSource`, and the paths (local or object storage) they read.
- ``file_formats``: CSV (by pyarrow where installed and every line is plain, else the csv module,
  strictly), JSON Lines and Parquet, read as chunks of columns.
- ``failures``: a library's error while reading (a torn CSV, text not UTF-8, a Parquet file cut
  short, a SQL error) as a message naming the file or query, the row and the column.
- ``spool``: checked input in a local scratch file, read back a chunk or a batch at a time.
- ``gc_pause``: the cycle collector held off while a source is read.
"""

from __future__ import annotations

from airflow_provider_thulium.sources.readers import FileSource, Source, SqlSource

__all__ = ["FileSource", "Source", "SqlSource"]
