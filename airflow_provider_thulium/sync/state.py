"""What a sync last applied, per phone: fingerprints of owned values Thulium's records answer does not show.

The three-way idea of ``kubectl apply``: a field the campaign's records answer does not carry
(``dictionary_status_id`` always, ``record_fields`` in the vendor's documented answer,
docs/thulium-api.md "Paged records") cannot be compared with the campaign, so it is compared with
what this sync applied last time instead. Only values Thulium confirmed are recorded; a change
made by hand in Thulium to such a field is not seen.

The file is text: a JSON header line, then one ``<digits>\\t<fingerprint>`` line per phone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping
from itertools import islice
from pathlib import Path
from typing import Any

from airflow_provider_thulium.exceptions import ThuliumValidationError
from airflow_provider_thulium.files.paths import local_path
from airflow_provider_thulium.files.writing import check_writable, write_atomically

FORMAT = "thulium-sync-state/1"
#: Bytes a phone's line takes at most (20 digits, a tab, 16 hex digits, a line end): the room a state file needs.
LINE_BYTES = 38


def fingerprint(record: Mapping[str, Any], fields: Iterable[str]) -> int:
    """A 64-bit fingerprint of ``record``'s values of ``fields`` (names included, so another set differs).

    :param record: the record, as sent.
    :param fields: the owned fields the fingerprint covers.
    """
    values = [[name, record[name]] for name in sorted(fields) if name in record]
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def as_path(path: Any) -> Any:
    """The state file as a path: an ``ObjectStoragePath`` (anything with ``open``) as it is, text as a local path.

    :param path: the ``state_path`` given.
    """
    if isinstance(path, (str, os.PathLike)):
        return Path(path)
    if not callable(getattr(path, "open", None)):
        raise ThuliumValidationError(f"state_path: expected a path, got {type(path).__name__}")
    return path


def state_file(text: str) -> Any:
    """A rendered ``state_path``: a local file as a path, an object-storage URL as an ``ObjectStoragePath``.

    :param text: the path or URL; blank for none.
    """
    if not text.strip():
        return None
    local = local_path(text)
    if local is not None:
        return local
    # Imported here, where it is used: object storage is a large import a local file need not pay.
    from airflow_provider_thulium.version_compat import ObjectStoragePath

    return ObjectStoragePath(text)


def _fingerprint(digits: str, value: str) -> int:
    """A state line's fingerprint; ``ValueError`` for a line this provider does not write."""
    if not (digits.isascii() and digits.isdigit() and len(value) == 16):
        raise ValueError(digits)
    return int(value, 16)


class SyncState:
    """The fingerprints of one campaign's sync, read from and written to ``path``.

    :param path: the state file (a local path or an ``ObjectStoragePath``).
    :param campaign_id: the campaign; a file written for another campaign is refused.
    :param fingerprints: digits of a phone → the fingerprint last confirmed applied.
    """

    def __init__(self, path: Any, campaign_id: str, fingerprints: dict[str, int] | None = None) -> None:
        self.path = as_path(path)
        self.campaign_id = campaign_id
        self.fingerprints = fingerprints or {}

    @classmethod
    def load(cls, path: Any, campaign_id: str) -> SyncState:
        """Read the state file; a missing file is an empty state (the first run).

        :param path: the state file (a local path or an ``ObjectStoragePath``).
        :param campaign_id: the campaign; a file written for another campaign is refused.
        """
        path = as_path(path)
        if not path.exists():
            return cls(path, campaign_id)
        if path.is_dir():
            raise ThuliumValidationError(f"state_path: {path} is a folder; name a file in it")
        fingerprints: dict[str, int] = {}
        number = 1
        try:
            with path.open("r", encoding="utf-8") as file:
                try:
                    header = json.loads(file.readline() or "{}")
                except ValueError:
                    header = {}
                if not isinstance(header, dict) or header.get("format") != FORMAT:
                    raise ThuliumValidationError(f"state_path: {path} is not a sync state file ({FORMAT})")
                if header.get("campaign_id") != campaign_id:
                    raise ThuliumValidationError(
                        f"state_path: {path} holds the state of campaign {header.get('campaign_id')}, not "
                        f"{campaign_id}; give each campaign its own file"
                    )
                for number, line in enumerate(file, start=2):  # noqa: B007  # the number names a bad line
                    digits, _, value = line.rstrip("\n").partition("\t")
                    if not digits and not value:
                        continue
                    fingerprints[digits] = _fingerprint(digits, value)
        except ThuliumValidationError:
            raise
        except ValueError:
            # A line that is not "<digits>\t<16 hex digits>", or text that is not UTF-8: the file was
            # damaged or edited. A retry would read it again; without it, the fields are sent once more.
            raise ThuliumValidationError(
                f"state_path: {path}, line {number}: not a line this provider writes (<digits>, a tab, 16 hex "
                "digits); the file was damaged or edited. Delete it: the next run sends the owned fields once "
                "again and writes it anew"
            ) from None
        return cls(path, campaign_id, fingerprints)

    def get(self, digits: str) -> int | None:
        """The fingerprint last confirmed applied for a phone (by its digits), or ``None``.

        :param digits: the phone's digits (without ``+``).
        """
        return self.fingerprints.get(digits)

    def check(self, reads: Any = (), phones: int = 0) -> None:
        """Check before any request that the file can be written when the run ends.

        :param reads: the files the input is read from (writing one of them is refused).
        :param phones: the phones it may hold, for the room it needs (0: not known yet).
        :raises ThuliumValidationError: the file is one the input is read from.
        :raises ThuliumConfigurationError: it cannot be written.
        """
        check_writable(self.path, None, "state_path", reads=reads, size=phones * LINE_BYTES)

    def save(self, fingerprints: Mapping[str, int], log: logging.Logger | Any) -> None:
        """Replace the file with ``fingerprints``, whole or not at all (written beside it, then moved over it).

        :param fingerprints: digits of a phone → the fingerprint confirmed applied.
        :param log: where the count of phones recorded is logged.
        :raises ThuliumConfigurationError: the file could not be written; the previous one is as it was.
        """

        def fill(file: Any) -> None:
            file.write((json.dumps({"format": FORMAT, "campaign_id": self.campaign_id}) + "\n").encode())
            lines = iter(fingerprints.items())
            while chunk := "".join(f"{digits}\t{value:016x}\n" for digits, value in islice(lines, 10_000)):
                file.write(chunk.encode())

        write_atomically(self.path, None, "state_path", fill)
        self.fingerprints = dict(fingerprints)
        log.info("sync state: %d phone(s) recorded in %s", len(fingerprints), self.path)
