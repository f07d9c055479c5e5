"""The files a run reads and writes besides its input: local paths and object storage, written whole or not at all.

Internal: the results file (``results_path``) and the sync's state file (``state_path``) are
written through here, and sources open their files through here.

Where things live:

- ``paths``: :func:`local_path` and :func:`open_path` (a local path or ``file://`` URL opened
  directly, anything else through Airflow's ``ObjectStoragePath``), :func:`same_file`, and
  :func:`paths_read`, the files an input is read from.
- ``writing``: :func:`check_writable`, a file to write checked before any request (not an input,
  its folder there or made, writable, room for it), and :func:`write_atomically`, a file written
  beside its place and moved over it, so a kill or a full disk leaves the previous one.
"""

from __future__ import annotations

from airflow_provider_thulium.files.paths import local_path, open_path, paths_read, same_file
from airflow_provider_thulium.files.writing import check_writable, write_atomically

__all__ = ["check_writable", "local_path", "open_path", "paths_read", "same_file", "write_atomically"]
