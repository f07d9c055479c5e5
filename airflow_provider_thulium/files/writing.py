"""Files a run writes when it ends (the results file, the sync's state file): checked first, written whole.

A run applies its changes before it writes these files, so whatever can be known about them is
checked before the first request: the file is not one the input is read from, it is not a
folder, its folder exists (or is made) and takes a new file, and a local disk has room for it.
The write itself goes to a temporary file beside the target, flushed to disk, then moved over the
target in one step: a task killed mid-write, or a disk that fills, leaves the previous file as it
was, never a truncated one. Object storage writes an object whole on close (an upload); an upload
that fails is discarded where the file system allows it.

Every failure is a :class:`~airflow_provider_thulium.exceptions.ThuliumConfigurationError` naming
the setting, the path and the cause: fail-fast, as a retry of the task would meet the same folder
or disk, and after a run it would send the run's changes again.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Callable, Iterable
from typing import IO, Any

from airflow_provider_thulium.exceptions import ThuliumConfigurationError, ThuliumValidationError
from airflow_provider_thulium.files.paths import local_path, open_path, same_file
from airflow_provider_thulium.privacy import hide_url_credentials

_CAUSES = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOENT: "its folder does not exist",
    errno.ENOTDIR: "a folder on its path is a file",
    errno.EEXIST: "a folder on its path is a file",  # os.makedirs over a file
    errno.EISDIR: "it is a folder",
}


def check_writable(path: Any, conn_id: str | None, setting: str, *, reads: Iterable[Any] = (), size: int = 0) -> None:
    """Check, before any request, that a file can be written at ``path`` when the run ends.

    A missing folder is made (as the write would make it). Object storage is checked only against
    the files read: its buckets answer at the write.

    :param path: the file to write (a path, a URL or an ``ObjectStoragePath``).
    :param conn_id: the connection for object storage.
    :param setting: names the setting in messages (``"results_path"``, ``"state_path"``).
    :param reads: the files the run reads its input from: writing one of them is refused.
    :param size: about how many bytes the file will take; a local disk with less room is refused.
    :raises ThuliumValidationError: the file is one the input is read from.
    :raises ThuliumConfigurationError: it cannot be written (a folder, a parent that is a file, a
        read-only or full disk, no permission).
    """
    shown = hide_url_credentials(str(path))
    for read in reads:
        if same_file(path, read):
            raise ThuliumValidationError(
                f"{setting}: {shown} is the file the input is read from; writing it would overwrite your input. "
                f"Give {setting} another path"
            )
    local = local_path(path, conn_id)
    if local is None:
        return
    if os.path.isdir(local):
        raise ThuliumConfigurationError(f"{setting}: {shown} is a folder; name a file in it")
    folder = os.path.dirname(os.path.abspath(local))
    try:
        os.makedirs(folder, exist_ok=True)
        # A file made and removed in the folder: a read-only or full disk, or a folder this worker
        # may not write, answers here rather than after the run.
        handle, probe = _new_file(folder, local, ".check")
        try:
            os.write(handle, b"\n")
        finally:
            os.close(handle)
            os.unlink(probe)
        room = _room(folder)
    except OSError as exc:
        raise _unwritable(setting, shown, exc, "checked before any request; nothing was sent") from None
    if room is not None and size > room:
        raise ThuliumConfigurationError(
            f"{setting}: {shown} needs about {_size(size)} and its disk has {_size(room)} free; "
            "checked before any request; nothing was sent. Free some room or write elsewhere"
        )


def write_atomically(path: Any, conn_id: str | None, setting: str, fill: Callable[[IO[bytes]], None]) -> None:
    """Write a file whole or not at all: ``fill`` writes into a temporary file beside it, which then replaces it.

    :param path: the file (a path, a URL or an ``ObjectStoragePath``).
    :param conn_id: the connection for object storage.
    :param setting: names the setting in messages.
    :param fill: writes the file's bytes to the binary file it is given.
    :raises ThuliumConfigurationError: the file could not be written; the previous one is as it was.
    """
    shown = hide_url_credentials(str(path))
    local = local_path(path, conn_id)
    if local is None:
        _write_object(path, conn_id, setting, shown, fill)
        return
    # Through a symbolic link to the file it names: the link stays, as an in-place write kept it.
    local = os.path.realpath(local)
    folder = os.path.dirname(local)
    temporary = None
    try:
        os.makedirs(folder, exist_ok=True)
        # A unique name per writer: two runs writing one file never take each other's temporary file.
        handle, temporary = _new_file(folder, local, ".partial")
        with os.fdopen(handle, "wb") as file:
            fill(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, local)
        temporary = None
        _sync_folder(folder)
    except OSError as exc:
        raise _unwritable(setting, shown, exc, "the previous file, if any, is as it was") from None
    finally:
        if temporary is not None:
            # A disk gone read-only keeps the temporary file, named .<file>.<random>.partial.
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _write_object(path: Any, conn_id: str | None, setting: str, shown: str, fill: Callable[[IO[bytes]], None]) -> None:
    try:
        file = open_path(path, conn_id, "wb")
    except OSError as exc:
        raise _unwritable(setting, shown, exc, "nothing was written") from None
    try:
        fill(file)
    except BaseException as exc:
        # fsspec's close() would upload what was written so far: an upload is discarded instead.
        discard = getattr(file, "discard", None)
        if callable(discard):
            discard()
        else:
            file.close()
        if isinstance(exc, OSError):
            raise _unwritable(setting, shown, exc, "the upload was discarded") from None
        raise
    try:
        file.close()
    except OSError as exc:
        raise _unwritable(setting, shown, exc, "the upload failed") from None


def _new_file(folder: str, target: str, suffix: str) -> tuple[int, str]:
    """A new file beside ``target``, named ``.<name>.<random><suffix>``, with the mode the umask gives."""
    while True:
        name = os.path.join(folder, f".{os.path.basename(target)}.{secrets.token_hex(4)}{suffix}")
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), name
        except FileExistsError:
            continue


def _room(folder: str) -> int | None:
    """Bytes free to this process on the disk of ``folder``, where the system says."""
    if not hasattr(os, "statvfs"):
        return None
    stat = os.statvfs(folder)
    return stat.f_bavail * stat.f_frsize


def _sync_folder(folder: str) -> None:
    """Make the rename durable (a crash after it must not bring back the old file), where the system allows."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass  # some file systems cannot sync a folder; the rename is done either way
    finally:
        os.close(handle)


def _unwritable(setting: str, shown: str, exc: OSError, after: str) -> ThuliumConfigurationError:
    cause = _CAUSES.get(exc.errno or 0) or (exc.strerror or type(exc).__name__)
    return ThuliumConfigurationError(f"{setting}: {shown} cannot be written: {cause} ({after})")


def _size(count: int) -> str:
    return f"{count / 2**20:.1f} MiB" if count >= 2**20 else f"{max(1, count // 1024)} KiB"


__all__ = ["check_writable", "write_atomically"]
