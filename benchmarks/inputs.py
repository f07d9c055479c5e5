"""What the benchmark cases send and find: sizes, phone numbers, records, and the outcome expected."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

CAMPAIGN = "00042"
CONN_ID = "thulium_bench"


def provider_defaults() -> dict[str, Any]:
    """The provider's default settings; the hand-written baselines batch by the same limits.

    Imported when asked for, in the process that needs them: the orchestrator stays stdlib-only.
    """
    from airflow_provider_thulium.settings import ThuliumSettings

    return ThuliumSettings.defaults()


@dataclass(frozen=True)
class Sizes:
    records: int  # delete / update / add cases
    naive_sample: int  # one request per phone
    latency_records: int
    latency_batch: int
    latency_seconds: float
    capacity_records: int
    capacity_clients: int
    source_records: int  # an add from a CSV file with results to a file


FULL = Sizes(100_000, 2_000, 20_000, 250, 0.05, 200_000, 4, 1_000_000)
QUICK = Sizes(10_000, 200, 2_000, 25, 0.05, 20_000, 4, 100_000)


def phones(count: int) -> list[str]:
    """The benchmark's phone numbers: distinct 11-digit Polish-looking numbers."""
    return [f"48{500_000_000 + i}" for i in range(count)]


_SEGMENTS = ("retail", "vip", "smb", "corporate")
#: The add input as a CRM export file's columns → record keys (the others keep their names).
SOURCE_COLUMNS = {"crm_id": "record_fields.crm_id", "segment": "record_fields.segment"}


def update_records(count: int) -> list[dict[str, Any]]:
    """The update input: a status and two record fields per phone."""
    return [
        {"phone_number": phone, "status_id": 2, "record_fields": {"crm_id": f"C-{i:07d}", "segment": _SEGMENTS[i % 4]}}
        for i, phone in enumerate(phones(count))
    ]


def add_records(count: int) -> list[dict[str, Any]]:
    """The add input: records as a CRM export gives them, a status, an identifier and two record fields each."""
    return [
        {
            "phone_number": phone,
            "status_id": 2,
            "identifier": f"CRM-{i:07d}",
            "record_fields": {"crm_id": f"C-{i:07d}", "segment": _SEGMENTS[i % 4]},
        }
        for i, phone in enumerate(phones(count))
    ]


def spelled_phones(count: int) -> list[str]:
    """The numbers of :func:`phones` as people write them, four ways in rotation.

    International with separators, with the ``00`` prefix, national (the region's own), and
    international without separators: read with ``phone_region="PL"``, each is its number of
    :func:`phones`, so sent as ``phone_format="digits"`` it is the same digits.
    """
    spelled = []
    for i, phone in enumerate(phones(count)):
        national = phone[2:]
        way = i % 4
        if way == 0:
            spelled.append(f"+48 {national[:3]} {national[3:6]} {national[6:]}")
        elif way == 1:
            spelled.append("0048" + national)
        elif way == 2:
            spelled.append(national)
        else:
            spelled.append("+48" + national)
    return spelled


def write_add_csv(path: Path, count: int, *, spelled: bool = False) -> None:
    """The add input as a CRM export file: the records of :func:`add_records`, read with :data:`SOURCE_COLUMNS`.

    :param spelled: the phones as :func:`spelled_phones` writes them, not as sent.
    """
    import csv

    numbers = spelled_phones(count) if spelled else phones(count)
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["phone_number", "status_id", "identifier", "crm_id", "segment"])
        for i, phone in enumerate(numbers):
            writer.writerow([phone, 2, f"CRM-{i:07d}", f"C-{i:07d}", _SEGMENTS[i % 4]])


def write_spelled_csv(path: Path, count: int) -> None:
    """:func:`write_add_csv` with the phones spelled four ways (a function of its own, to run in a process)."""
    write_add_csv(path, count, spelled=True)


def case_input(operation: str, count: int) -> list[Any]:
    """What a case sends: phone numbers for a delete, records for an update or an add."""
    if operation == "delete":
        return phones(count)
    return update_records(count) if operation == "update" else add_records(count)


#: What the sandbox holds for CAMPAIGN before each case: the records to delete or update, or
#: nothing (an add must find an empty campaign, so that every record is really ADDED).
SEEDED = {"delete": True, "update": True, "add": False}
#: The outcome every phone must have.
SUCCESS = {"delete": "REMOVED", "update": "UPDATED", "add": "ADDED"}
