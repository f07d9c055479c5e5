"""Where a file is: a local path, a ``file://`` URL, or object storage through Airflow's ``ObjectStoragePath``."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname


def local_path(path: Any, conn_id: str | None = None) -> str | None:
    """The local file a path or ``file://`` URL names, or ``None`` for object storage.

    Local files are opened directly: ``ObjectStoragePath`` of older Airflow versions refuses some
    ``file://`` URLs, and a local file needs no connection.

    :param path: a path or URL.
    :param conn_id: the connection given for it; with one, the URL goes through object storage.
    """
    text = str(path)
    if "://" not in text:
        return text
    parts = urlsplit(text)
    if parts.scheme == "file" and not conn_id and parts.netloc in ("", "localhost"):
        return url2pathname(parts.path)
    return None


def open_path(path: Any, conn_id: str | None, mode: str) -> Any:
    """Open a local path or an object-storage URL (``file://``, ``s3://``...) in binary ``mode``.

    :param path: a path or URL (or an ``ObjectStoragePath``).
    :param conn_id: the connection for object storage.
    :param mode: ``"rb"`` or ``"wb"``.
    """
    local = local_path(path, conn_id)
    if local is not None:
        return open(local, mode)  # the caller's context manager closes it
    if callable(getattr(path, "open", None)) and not isinstance(path, str):
        return path.open(mode)
    from airflow_provider_thulium.version_compat import ObjectStoragePath

    return ObjectStoragePath(str(path), conn_id=conn_id).open(mode)


def same_file(first: Any, second: Any) -> bool:
    """Whether two paths name one file: local ones as the files they resolve to (links followed),
    others by their URL, case-insensitive in scheme and host.

    :param first: a path or URL.
    :param second: another.
    """
    here, there = local_path(first), local_path(second)
    if here is not None and there is not None:
        try:
            return os.path.samefile(here, there)
        except OSError:  # one of them does not exist (yet)
            return os.path.realpath(here) == os.path.realpath(there)
    if here is not None or there is not None:
        return False
    return _url_key(str(first)) == _url_key(str(second))


def _url_key(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.hostname or "", parts.path.rstrip("/")


def paths_read(value: Any) -> list[Any]:
    """The files an input is read from: a file source's path (anything with ``path``), else none.

    :param value: a call's input: a list, a source...
    """
    path = getattr(value, "path", None)
    return [path] if isinstance(path, (str, os.PathLike)) or callable(getattr(path, "open", None)) else []


__all__ = ["local_path", "open_path", "paths_read", "same_file"]
