"""Making a campaign match a desired set of records: a plan (ADD / UPDATE / UNCHANGED / REMOVE), then only the changes.

The plan reads the campaign once and compares, per phone, the fields the caller owns
(``update_fields``); the changes are then sent with the add, update and delete calls under one
:class:`~airflow_provider_thulium.runs.records_run.OutcomePolicy`, as any other run. Memory: given as a
list, the desired records are referenced (they are in memory already), with one small code per phone
(keyed by its digits); read from a source (a spool on disk), they are not made whole while the
campaign is read: about 40 bytes a phone (its digits as a number, its position, its phone and owned
values as ``marshal`` bytes, a one-byte code), the spool read again for the adds, updates and
entries. Then the edits themselves; the campaign's records are read a few pages at a time and not kept.
"""

from __future__ import annotations

import logging
import marshal
import math
import re
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from airflow_provider_thulium.calls.operations import ADD, DELETE, UPDATE, Operation
from airflow_provider_thulium.checks.numbering import PhoneNumbering, digits_key
from airflow_provider_thulium.checks.phones import PHONE
from airflow_provider_thulium.exceptions import ThuliumError, ThuliumPhoneFailuresError, ThuliumSyncGuardError
from airflow_provider_thulium.outcomes import ADDED, UPDATED, RunSummary, SyncPlanCounts, SyncSummary
from airflow_provider_thulium.privacy import mask_phone
from airflow_provider_thulium.results.batch_log import outcome_counts
from airflow_provider_thulium.runs.records_run import OutcomePolicy, RecordsRun, Waiter
from airflow_provider_thulium.sync.state import SyncState, fingerprint

#: The plan's actions, as each phone's ``return_value`` entry names them.
ACTION_ADD = "ADD"
ACTION_UPDATE = "UPDATE"
ACTION_UNCHANGED = "UNCHANGED"
ACTION_REMOVE = "REMOVE"
#: ``summary["guard"]``: the plan is within the removal guard, or it was refused (nothing sent).
GUARD_PASSED = "passed"
GUARD_REFUSED = "refused"
#: What a sync owns on records already in the campaign unless told otherwise.
DEFAULT_UPDATE_FIELDS = ("record_fields",)
#: At most this fraction of the campaign's records may be removed unless told otherwise.
DEFAULT_MAX_REMOVALS = 0.1

# One byte per desired phone: what the plan does with it (_UNMET: not met in the campaign yet).
_NEW, _DIFFERS, _UNREADABLE, _UNCHANGED, _DUPLICATE, _EXCLUDED, _UNMET = range(7)
#: Each editable field → the key of the records answer that shows it (``None``: never shown).
_SHOWN_AS: dict[str, str | None] = {
    "status_id": "status_id",
    "agent_login": "agent_login",
    "next_call_date": "next_call_date",
    "record_fields": "record_fields",
    "dictionary_status_id": None,
}
#: The keys of the vendor's documented records answer (docs/thulium-api.md, "Paged records"): what
#: a plan assumes is shown when the campaign is empty and no record shows the real answer.
DOCUMENTED_ANSWER_KEYS = frozenset(
    {
        "record_id",
        "phone_number",
        "system_status",
        "status",
        "status_id",
        "call_date",
        "create_date",
        "next_call_date",
        "agent_name",
        "agent_login",
        "last_note",
        "identifier",
        "order",
    }
)
UNREADABLE_REASON = "an owned field Thulium's records answer does not show was sent, as it cannot be compared"
EXCLUDED_REASON = "the phone is excluded (exclude): never added or updated, removed from the campaign"
DUPLICATE_REASON = "several records in the campaign hold this phone: it cannot be edited by phone and was left"
#: The entry of a phone the plan leaves as it is (with no reason to say).
UNCHANGED_ENTRY: dict[str, Any] = {"action": ACTION_UNCHANGED}
# A phone as a campaign may show it: digits in groups joined by spaces, dots, dashes, slashes, parentheses.
_SPELLED = re.compile(r"\+?[0-9(][0-9 ()./-]*")
_NOT_DIGITS = re.compile(r"[^0-9]+")
_MISSING = object()


def _same(name: str, wanted: Any, current: Any) -> bool:
    if name == "record_fields":
        # An edit merges record_fields (docs/thulium-api.md, "PUT"): only the given keys count.
        return isinstance(current, dict) and all(
            key in current and _same_value(value, current[key]) for key, value in wanted.items()
        )
    return _same_value(wanted, current)


def _same_value(wanted: Any, current: Any) -> bool:
    # The answer may show numbers as text ("status_id": "3"): compared as the text they print as.
    return bool(wanted == current or str(wanted) == str(current))


@dataclass
class SyncPlan:
    """What a sync will do, per phone; computed from one read of the campaign, before any write.

    :param campaign_id: the campaign.
    :param records: the desired records, checked (status names resolved), in input order.
    :param owned: the fields the caller owns on records already in the campaign.
    :param campaign_count: the campaign's records when its first page was read.
    :param codes: digits of each desired phone → what the plan does with it.
    :param edits: digits of a phone → the edit to send (``phone_number`` and the owned fields that differ).
    :param removes: phones of records not desired, as the campaign stores them (with ``remove_missing``).
    :param records_read: the records read from the campaign.
    :param read_requests: the requests that read them.
    :param fingerprints: digits of a phone → the fingerprint to record once its owned values are
        confirmed applied (with ``state_path``).
    :param notes: warnings about the plan, for the summary and the log.
    :param state: the fingerprints file the plan read (``state_path``), written when the run ends.
    """

    campaign_id: str
    records: Collection[dict[str, Any]]
    owned: frozenset[str]
    campaign_count: int
    # The codes are the module's _NEW... constants: small ints, which Python shares, so a million
    # phones cost the dict alone (or, for a spooled source, about 40 bytes a phone: _SpooledCodes).
    codes: Mapping[str, int] = field(default_factory=dict)
    edits: dict[str, dict[str, Any]] = field(default_factory=dict)
    removes: list[str] = field(default_factory=list)
    records_read: int = 0
    read_requests: int = 0
    fingerprints: dict[str, int] | None = None
    notes: list[str] = field(default_factory=list)
    state: SyncState | None = None
    #: A desired (checked) phone's identity: its digits, or with ``phone_region`` its international form.
    key: Callable[[str], str] = digits_key
    #: The identities of the excluded phones found in the desired records or the campaign (``exclude``).
    excluded: set[str] = field(default_factory=set)
    #: The removals of excluded phones (a legal duty: not counted against ``max_removals``).
    excluded_removes: set[str] = field(default_factory=set)
    #: Digits of a phone to update → what the campaign's record shows now for each field the edit
    #: changes and the answer shows (for ``record_fields``, the keys the edit gives that it holds).
    current: dict[str, dict[str, Any]] = field(default_factory=dict)

    def adds(self) -> list[dict[str, Any]]:
        """The records to add, in input order."""
        codes = self.codes
        key = self.key
        return [record for record in self.records if codes[key(record["phone_number"])] == _NEW]

    def updates(self) -> list[dict[str, Any]]:
        """The edits to send, in input order."""
        edits, key = self.edits, self.key
        return [edits[digits] for record in self.records if (digits := key(record["phone_number"])) in edits]

    def counts(self) -> SyncPlanCounts:
        """The plan's counts, as the ``summary`` XCom's ``plan`` shows them."""
        codes = self.codes.tally() if isinstance(self.codes, _SpooledCodes) else Counter(self.codes.values())
        return {
            "add": codes[_NEW],
            "update": codes[_DIFFERS] + codes[_UNREADABLE],
            "update_unreadable": codes[_UNREADABLE],
            "remove": len(self.removes),
            "unchanged": codes[_UNCHANGED] + codes[_DUPLICATE],
            "duplicates": codes[_DUPLICATE],
            "excluded": len(self.excluded),
            "desired": len(self.records),
            "campaign_records": self.campaign_count,
        }

    def describe(self) -> str:
        """The counts as one log-safe line."""
        counts = self.counts()
        return (
            f"add {counts['add']}, update {counts['update']} ({counts['update_unreadable']} for fields the records "
            f"answer does not show), remove {counts['remove']}, unchanged {counts['unchanged']} "
            f"({counts['duplicates']} held by several records); campaign {self.campaign_id} holds "
            f"{counts['campaign_records']} record(s), {counts['desired']} desired"
        )

    def entries(
        self,
        add: dict[str, Any] | None = None,
        update: dict[str, Any] | None = None,
        delete: dict[str, Any] | None = None,
        only: Collection[str] | None = None,
    ) -> dict[str, Any]:
        """Every phone's ``return_value`` entry, desired phones in input order then the removed ones,
        with the calls' results (none in a dry run); with ``only``, just those phones' entries.

        :param add: phone → the add call's result.
        :param update: phone → the update call's result.
        :param delete: phone → the delete call's result.
        :param only: the phones whose entries are wanted (default: every phone).
        """
        add, update, delete = add or {}, update or {}, delete or {}
        entries = {}
        for record in self.records:
            phone = record["phone_number"]
            if only is None or phone in only:
                digits = self.key(phone)
                entries[phone] = self.entry(digits, (add if self.codes[digits] == _NEW else update).get(phone))
        excluded = self.excluded_removes
        for phone in self.removes:
            if only is None or phone in only:
                entries[phone] = {"action": ACTION_REMOVE, "result": delete.get(phone)}
                if phone in excluded:
                    entries[phone] = {"action": ACTION_REMOVE, "excluded": True, "result": delete.get(phone)}
        return entries

    def summary(
        self, parts: Sequence[RunSummary] = (), dry_run: bool = False, guard: str = GUARD_PASSED
    ) -> SyncSummary:
        """The calls' summaries as one (none when nothing was sent), with the plan's counts under ``plan``.

        When nothing was sent (a dry run, a plan the guard refused), ``succeeded`` and ``failed`` are 0.

        :param parts: the summaries of the calls made.
        :param dry_run: whether the run was a dry run (``summary["dry_run"]``).
        :param guard: ``"passed"`` or ``"refused"`` (``summary["guard"]``).
        """
        counts = self.counts()
        outcomes: Counter[str] = Counter()
        for part in parts:
            outcomes.update(part["outcomes"])
        if parts and counts["unchanged"]:
            outcomes[ACTION_UNCHANGED] = counts["unchanged"]
        failed = [phone for part in parts for phone in part["failed_phones"]]
        phones = len(self.records) + len(self.removes)
        return {
            "operation": "sync",
            "campaign_id": self.campaign_id,
            "phones": phones,
            # Nothing sent (a dry run, a refused plan): no phone succeeded, none failed.
            "succeeded": phones - len(failed) if parts else 0,
            "failed": len(failed),
            "outcomes": dict(sorted(outcomes.items())),
            "failed_phones": failed,
            "batches": sum(part["batches"] for part in parts),
            "requests": self.read_requests + sum(part["requests"] for part in parts),
            "retries": sum(part["retries"] for part in parts),
            "duration_seconds": max((part["duration_seconds"] for part in parts), default=0.0),
            "stopped_by": next((part["stopped_by"] for part in parts if part["stopped_by"]), None),
            "unmatched_answers": sum(part["unmatched_answers"] for part in parts),
            "after_lost_answer": sum(part["after_lost_answer"] for part in parts),
            "warnings": self.notes + [warning for part in parts for warning in part["warnings"]],
            "plan": counts,
            "dry_run": dry_run,
            "guard": guard,
        }

    def entry(self, digits: str, result: Any = None) -> dict[str, Any]:
        """A desired phone's ``return_value`` entry (by its digits): its action, and its call's result.

        :param digits: the phone's digits (without ``+``).
        :param result: its call's result, if a call was made.
        """
        code = self.codes[digits]
        if code == _UNCHANGED:
            return UNCHANGED_ENTRY
        if code == _DUPLICATE:
            return {"action": ACTION_UNCHANGED, "reason": DUPLICATE_REASON}
        if code == _EXCLUDED:
            return {"action": ACTION_UNCHANGED, "excluded": True, "reason": EXCLUDED_REASON}
        if code == _NEW:
            return {"action": ACTION_ADD, "result": result}
        edit = self.edits[digits]
        entry: dict[str, Any] = {
            "action": ACTION_UPDATE,
            "fields": sorted(key for key in edit if key != "phone_number"),
        }
        if digits in self.current:
            entry["current"] = self.current[digits]
        if code == _UNREADABLE:
            entry["reason"] = UNREADABLE_REASON
        entry["result"] = result
        return entry


def build_plan(
    campaign_id: str,
    records: Collection[dict[str, Any]],
    owned: frozenset[str],
    campaign_count: int | None,
    campaign_records: Iterable[dict[str, Any]],
    *,
    remove_missing: bool = False,
    state: SyncState | None = None,
    numbering: PhoneNumbering | None = None,
    exclude: Collection[str] = (),
) -> SyncPlan:
    """Compare the desired records with the campaign's, phone by phone (matched on their digits).

    :param campaign_id: the campaign.
    :param records: the desired records, checked, in input order.
    :param owned: the fields the caller owns on records already in the campaign.
    :param campaign_count: the campaign's records at the first page read, or ``None`` when the server
        gave no usable count (the records read are counted instead).
    :param campaign_records: the campaign's records, read as they are iterated.
    :param remove_missing: plan the removal of the campaign's records whose phone is not desired.
    :param state: the fingerprints of earlier syncs, or ``None``.
    :param numbering: the numbering plan of ``phone_region``: the campaign's phones are read by it, so a
        phone matches whatever spelling the campaign stores it in.
    :param exclude: the identities (see :attr:`SyncPlan.key`) of phones never added or updated, and
        removed from the campaign whatever ``remove_missing`` says.
    """
    plan = SyncPlan(campaign_id, records, owned, campaign_count or 0, state=state)
    stored_key = _campaign_digits
    if numbering is not None:
        plan.key, stored_key = numbering.sent_key, numbering.key
    key = plan.key
    plan.fingerprints = {} if state is not None else None
    codes: dict[str, Any] | _SpooledCodes
    wanted_by_digits: Callable[[str], Any]
    if isinstance(records, Sequence):
        # Digits → the desired record until the campaign's record is met, then the code: one dict
        # serves as the index and as the codes, holding references to records in memory already.
        codes = {key(record["phone_number"]): record for record in records}
        wanted_by_digits = codes.get
    else:  # read from a spool: kept compact, not made whole
        codes = _SpooledCodes(records, key, owned)
        wanted_by_digits = codes.wanted
    excluded = exclude if isinstance(exclude, (set, frozenset)) else set(exclude)
    for digits in excluded:
        if digits in codes:
            codes[digits] = _EXCLUDED
            plan.excluded.add(digits)
    edits = plan.edits
    shown: frozenset[str] | None = None
    removing: set[str] = set()
    read = unremovable = 0
    example = ""
    for current in campaign_records:
        read += 1
        phone = current.get("phone_number") if type(current) is dict else None
        if type(phone) is not str:  # the answer's form; a number given as an int is read too
            if not isinstance(phone, int) or isinstance(phone, bool):
                unremovable += remove_missing
                continue
            phone = str(phone)
        if shown is None:
            shown = frozenset(current)
        phone = phone.strip()
        digits = stored_key(phone)
        wanted = wanted_by_digits(digits) if digits else None
        if digits in excluded or (wanted is None and remove_missing):
            if digits not in removing:
                if not PHONE.fullmatch(phone):
                    # Sent as it is, such a text could match what it should not (docs/reliability.md): never sent.
                    unremovable += 1
                    example = example or phone
                    continue
                removing.add(digits)
                plan.removes.append(phone)
                if digits in excluded:
                    plan.excluded_removes.add(phone)
                    plan.excluded.add(digits)
        elif wanted is None:
            pass  # neither desired nor to remove: left as it is
        elif isinstance(wanted, dict):
            codes[digits] = _compare(plan, wanted, digits, current, state)
        else:  # a second record with this phone
            codes[digits] = _DUPLICATE
            edits.pop(digits, None)
    if unremovable:
        plan.notes.append(
            f"{unremovable} record(s) of campaign {campaign_id} to remove hold a phone that is not written as "
            f"1-20 digits with an optional leading + (e.g. {mask_phone(example) if example else 'none at all'}): "
            "a delete by phone cannot remove them safely, so the plan cannot remove them; remove them in Thulium"
        )
    plan.records_read = read
    if isinstance(codes, _SpooledCodes):
        codes.unmet_are_new()
    else:
        for digits, wanted in codes.items():
            if isinstance(wanted, dict):
                codes[digits] = _NEW
    plan.codes = codes
    # A phone never seen is added; what an add would show is judged from the answer's keys.
    shown = shown or DOCUMENTED_ANSWER_KEYS
    hidden = [name for name in owned if _SHOWN_AS[name] not in shown]
    if plan.fingerprints is not None and hidden:
        for record in records:
            digits = key(record["phone_number"])
            if codes[digits] == _NEW:
                plan.fingerprints[digits] = fingerprint(record, hidden)
    if campaign_count is None:
        plan.campaign_count = read  # the server gave no usable count: what was read is the campaign
    elif plan.records_read != campaign_count:
        plan.notes.append(
            f"campaign {campaign_id} changed while it was read ({campaign_count} record(s) counted, "
            f"{plan.records_read} read): the plan may add a record already there (answered ALREADY_EXISTS, "
            "left as it is) or miss one to remove; the next run catches up"
        )
    duplicates = plan.counts()["duplicates"]
    if duplicates:
        first = next(digits for record in records if codes[digits := key(record["phone_number"])] == _DUPLICATE)
        plan.notes.append(
            f"{duplicates} desired phone(s) are held by several records of campaign {campaign_id} (e.g. "
            f"{mask_phone(first)}): an edit by phone cannot tell them apart, so they were left as they are; "
            "remove the extra records in Thulium"
        )
    return plan


class _SpooledCodes(Mapping[str, int]):
    """Digits of each desired phone → its code, for desired records read from a spool (not in memory).

    Each phone's digits as a number in one sorted array, its record's position in input order beside
    it, and the record's owned values (and its phone, where it is not written as its digits) as
    ``marshal`` bytes in one buffer: about 40 bytes a phone, where a dict of the digits and the
    records would take hundreds. ``marshal`` gives back equal values of the same types, so a
    comparison of the unpacked record is the record's own; a record with a value it cannot write (a
    subclass of a built-in type) is kept whole.

    :param records: the desired records, checked; their phones' identities are distinct (the check
        refuses a phone given twice), else the last record of an identity is the one compared.
    :param key: a desired phone's identity.
    :param owned: the fields the caller owns.
    """

    def __init__(self, records: Iterable[dict[str, Any]], key: Callable[[str], str], owned: frozenset[str]) -> None:
        self._names = tuple(sorted(owned))
        self._given: dict[int, tuple[str, ...]] = {}  # the bits of the owned fields a record gives → their names
        self._data = bytearray()
        self._ends = array("Q")
        self._whole: dict[int, dict[str, Any]] = {}
        self._others: dict[str, int] = {}  # identities that are no number of up to 18 digits → position
        numbers = array("q")
        for position, record in enumerate(records):
            phone = record["phone_number"]
            digits = key(phone)
            number = _as_number(digits)
            if number is None:
                self._others[digits] = position
            numbers.append(-1 if number is None else number)
            self._pack(position, record, None if phone == digits else phone)
        self._numbers = array("q", sorted(number for number in numbers if number >= 0))
        for at in reversed(range(1, len(self._numbers))):
            if self._numbers[at] == self._numbers[at - 1]:
                del self._numbers[at]
        self._positions = array("q", bytes(8 * len(self._numbers)))
        for position, number in enumerate(numbers):
            if number >= 0:
                self._positions[bisect_left(self._numbers, number)] = position
        self._codes = bytearray([_UNMET]) * len(numbers)
        # The plan sets a phone's code right after it asked for its record: found once, not twice.
        self._last: tuple[str, int | None] = ("", None)

    def _pack(self, position: int, record: dict[str, Any], phone: str | None) -> None:
        given = 0
        values = []
        for bit, name in enumerate(self._names):
            if name in record:
                given |= 1 << bit
                values.append(record[name])
        try:
            self._data += marshal.dumps((phone, given, *values))
        except ValueError:
            self._whole[position] = record
        self._ends.append(len(self._data))

    def _position(self, digits: str) -> int | None:
        last, position = self._last
        if digits is last:
            return position
        number = _as_number(digits)
        if number is None:
            position = self._others.get(digits)
        else:
            at = bisect_left(self._numbers, number)
            position = self._positions[at] if at < len(self._numbers) and self._numbers[at] == number else None
        self._last = (digits, position)
        return position

    def wanted(self, digits: str) -> dict[str, Any] | int | None:
        """The desired record of a phone not met yet (its phone and the owned fields it gives), the
        code of one met, or ``None`` for a phone not desired."""
        position = self._position(digits)
        if position is None:
            return None
        if self._codes[position] != _UNMET:
            return self._codes[position]
        if position in self._whole:
            return self._whole[position]
        start = self._ends[position - 1] if position else 0
        phone, given, *values = marshal.loads(self._data[start : self._ends[position]])  # noqa: S302  # our own bytes
        names = self._given.get(given)
        if names is None:
            names = self._given[given] = tuple(name for bit, name in enumerate(self._names) if given >> bit & 1)
        record = {"phone_number": digits if phone is None else phone}
        record.update(zip(names, values, strict=True))
        return record

    def unmet_are_new(self) -> None:
        """Once the campaign is read: a phone not met in it is added."""
        self._codes = self._codes.replace(bytes([_UNMET]), bytes([_NEW]))

    def tally(self) -> Counter[int]:
        """How many phones have each code."""
        tally = Counter(map(self._codes.__getitem__, self._positions))  # lazily: a position is an int made anew
        tally.update(map(self._codes.__getitem__, self._others.values()))
        return tally

    def __getitem__(self, digits: str) -> int:
        position = self._position(digits)
        if position is None:
            raise KeyError(digits)
        return self._codes[position]

    def __setitem__(self, digits: str, code: int) -> None:
        position = self._position(digits)
        if position is None:
            raise KeyError(digits)
        self._codes[position] = code

    def __iter__(self) -> Iterator[str]:
        for number in self._numbers:
            yield str(number)[1:]
        yield from self._others

    def __len__(self) -> int:
        return len(self._numbers) + len(self._others)


def _as_number(digits: str) -> int | None:
    """A phone's identity of up to 18 digits as a number (a leading 1 keeps leading zeros apart: 18
    digits and the 1 fit a signed 64-bit int), else ``None``."""
    return int("1" + digits) if len(digits) <= 18 and digits.isascii() and digits.isdigit() else None


def _campaign_digits(phone: str) -> str:
    """A campaign's phone (stripped) matched without a region: its digits, however it is spelled."""
    digits = phone.lstrip("+")
    return digits if digits.isascii() and digits.isdigit() else _spelled_digits(phone)


def _spelled_digits(phone: str) -> str:
    """The digits of a phone shown with separators (``+48 500-100 200``, ``(48) 500 100 200``), or ``""``
    for a text that is no phone number (letters, wildcards, lists, nothing)."""
    if not _SPELLED.fullmatch(phone):
        return ""
    digits = _NOT_DIGITS.sub("", phone)
    return digits if 0 < len(digits) <= 20 else ""


def _compare(
    plan: SyncPlan, record: dict[str, Any], digits: str, current: dict[str, Any], state: SyncState | None
) -> int:
    edit: dict[str, Any] | None = None
    shown: dict[str, Any] | None = None
    unreadable: list[str] = []
    for name in plan.owned:
        wanted = record.get(name, _MISSING)
        if wanted is _MISSING:
            continue  # not given: this record does not say what the field should be
        key = _SHOWN_AS[name]
        if key is None or key not in current:
            unreadable.append(name)
            continue
        have = current[key]
        # Equal as they are is by far the common case: decided without a call.
        if wanted != have and not _same(name, wanted, have):
            edit = edit or {"phone_number": record["phone_number"]}
            edit[name] = wanted
            shown = shown or {}
            if name == "record_fields" and isinstance(have, dict):
                shown[name] = {key: have[key] for key in wanted if key in have}
            else:
                shown[name] = have
    code = _DIFFERS if edit else _UNCHANGED
    if unreadable:
        applied = fingerprint(record, unreadable) if state is not None else None
        if applied is not None and plan.fingerprints is not None:
            plan.fingerprints[digits] = applied
        if applied is None or state is None or state.get(digits) != applied:
            edit = edit or {"phone_number": record["phone_number"]}
            edit.update((name, record[name]) for name in unreadable)
            code = _UNREADABLE
    if edit:
        plan.edits[digits] = edit
    if shown:
        plan.current[digits] = shown
    return code


def check_guard(plan: SyncPlan, max_removals: int | float) -> None:
    """Refuse a plan before any write: an empty desired set for a campaign that is not empty, or too many removals.

    :param plan: the plan to check.
    :param max_removals: an int, or a float below 1 as a fraction of the campaign's records.
    """
    counts = plan.counts()
    summary = (
        f"plan: add {counts['add']}, update {counts['update']}, remove {counts['remove']}, "
        f"unchanged {counts['unchanged']}"
    )
    # Of the records the plan read, not of the count the server claimed: a count that lies high
    # must not widen the guard (a read that ends early is an error, see reading/campaign.py).
    held = min(plan.campaign_count, plan.records_read) if plan.records_read else plan.campaign_count
    if not plan.records and held:
        raise ThuliumSyncGuardError(
            f"sync of campaign {plan.campaign_id}: no desired records, while the campaign holds "
            f"{held}; refused before any write (a query that returned nothing must not empty a "
            f"campaign). To empty it, remove its records with ThuliumDeleteRecordsOperator ({summary})",
            dict(counts),
        )
    # A fraction of the records as a decimal, not a binary float: 0.29 of 100 allows 29, not 28.
    limit = max_removals if isinstance(max_removals, int) else math.floor(Decimal(repr(max_removals)) * held)
    removals = len(plan.removes) - len(plan.excluded_removes)  # removing excluded phones is a duty
    if removals > limit:
        allowed = f"{max_removals}" if isinstance(max_removals, int) else f"{max_removals:g} of the campaign = {limit}"
        raise ThuliumSyncGuardError(
            f"sync of campaign {plan.campaign_id}: the plan removes {removals} phone(s) of the campaign's "
            f"{held} record(s), more than max_removals allows ({allowed}); refused before any write "
            f"({summary}). Check "
            "the desired records; raise max_removals if this is meant",
            dict(counts),
        )


#: Builds a run of one of the plan's calls, under the caller's policy: (operation, phones, items,
#: what to call when one of its sends is interrupted) → a run that has sent nothing.
StartRun = Callable[[Operation, list[str], list[Any], Callable[[RecordsRun], None]], RecordsRun]


class SyncRun:
    """Sends a plan's changes, adds then edits then removals, and puts every phone's result together.

    :param plan: the plan.
    :param start: builds the run of one call (the client's, under the caller's policy).
    :param policy: the outcome policy the three calls share.
    :param log: where progress is logged.
    :param on_interrupted: called with this run when a send is interrupted, after every phone got its
        result (an operator pushes its XComs there).
    :param failures_only: conclude with the failed phones' entries only (``xcom_results="failures"``):
        a million unchanged phones then need no entry built.

    The plan's fingerprints file (``state_path``) is written when the run ends, failed or not.
    """

    def __init__(
        self,
        plan: SyncPlan,
        start: StartRun,
        policy: OutcomePolicy,
        log: logging.Logger | Any,
        *,
        on_interrupted: Callable[[SyncRun], None] | None = None,
        failures_only: bool = False,
    ) -> None:
        self.plan = plan
        self.policy = policy
        self.log = log
        self._on_interrupted = on_interrupted
        self.failures_only = failures_only
        adds, updates = plan.adds(), plan.updates()
        self.parts: list[tuple[RecordsRun, Sequence[Any]]] = [
            (start(ADD, [r["phone_number"] for r in adds], adds, self._interrupted), adds),
            (start(UPDATE, [r["phone_number"] for r in updates], updates, self._interrupted), updates),
            (start(DELETE, plan.removes, plan.removes, self._interrupted), plan.removes),
        ]

    @property
    def runs(self) -> list[RecordsRun]:
        """The add, update and delete runs."""
        return [run for run, _ in self.parts]

    def apply(self, wait: Waiter | None = None) -> None:
        """Send each call's items, removals first; a call stopped by an error leaves later ones ``NOT_SENT``.

        Removals go first because some are a legal duty (``exclude``, a do-not-call list): an add or an
        update that Thulium refuses must not leave an opted-out number in the dialler.

        :param wait: how to wait before trying removals whose record was in a call again (default: sleep).
        """
        if self.plan.state is not None:
            # The room the state file will need, now that the phones are known: before any write.
            self.plan.state.check(phones=len(self.plan.records))
        add, update, delete = self.parts
        for run, items in (delete, add, update):
            if any(earlier.results.stop_error is not None for earlier in self.runs):
                return
            run.send(items)
            run.retry_calls_in_progress(wait)

    def conclude(self) -> tuple[dict[str, Any], SyncSummary, ThuliumError | None]:
        """Every phone's entry (action and result), the summary with the plan, and the error to raise (or ``None``).

        The error is the one that stopped a call, else a :class:`ThuliumPhoneFailuresError` when the
        policy fails on failed phones; either way its ``results`` hold the entries
        (only the failed phones' with ``failures_only``).
        """
        errors = [run.conclude()[2] for run in self.runs if run.results.results]
        summary = self.summary()
        add, update, delete = (run.results.results for run in self.runs)
        only = set(summary["failed_phones"]) if self.failures_only else None
        entries = self.plan.entries(add, update, delete, only=only)
        state_error = self._save_state_or_say_why(summary)
        self.log.info("SYNC of campaign %s done: %s", self.plan.campaign_id, outcome_counts(summary["outcomes"]))
        stopping = [error for error in errors if error is not None and not isinstance(error, ThuliumPhoneFailuresError)]
        error: ThuliumError | None = stopping[0] if stopping else state_error
        if error is None and self.policy.fail_on_failed_phones and summary["failed"]:
            lines = [line for run in self.runs for line in run.results.failure_lines()][:5]
            error = ThuliumPhoneFailuresError(
                f"sync of campaign {self.plan.campaign_id}: {summary['failed']} of {summary['phones']} phone(s) "
                f"failed ({outcome_counts(summary['outcomes'])}). First failures: {'; '.join(lines)}"
            )
        if error is not None:
            error.results = entries
        return entries, summary, error

    def entries(self) -> dict[str, Any]:
        """Every phone's entry: desired phones in input order, then the removed ones."""
        return self.plan.entries(*(run.results.results for run in self.runs))

    def summary(self) -> SyncSummary:
        """The three calls' summaries as one, with the plan's counts under ``plan``."""
        return self.plan.summary([run.results.summary() for run in self.runs])

    def _save_state_or_say_why(self, summary: SyncSummary) -> ThuliumError | None:
        """Save the state file; when it cannot be written, the summary's warnings say so and the error is returned."""
        try:
            self.save_state()
        except ThuliumError as exc:
            # The changes were sent: the results still go out, and the task fails with this error.
            summary["warnings"].append(f"{exc}; the next run sends the owned fields it cannot compare once again")
            self.log.warning("%s", exc)
            return exc
        return None

    def save_state(self) -> None:
        """Record the fingerprints of what Thulium confirmed; phones not confirmed keep their earlier one."""
        plan, state = self.plan, self.plan.state
        if state is None or plan.fingerprints is None:
            return
        add, update = (run.results.outcomes for run in self.runs[:2])
        kept: dict[str, int] = {}
        for record in plan.records:
            phone = record["phone_number"]
            digits = plan.key(phone)
            code = plan.codes[digits]
            wanted = plan.fingerprints.get(digits)
            confirmed = (
                code == _UNCHANGED
                or (code == _NEW and add.get(phone) == ADDED)
                or (code in (_DIFFERS, _UNREADABLE) and update.get(phone) == UPDATED)
            )
            value = wanted if confirmed else state.get(digits)
            if value is not None and code not in (_DUPLICATE, _EXCLUDED):
                kept[digits] = value
        state.save(kept, self.log)

    def _interrupted(self, _run: RecordsRun) -> None:
        for run in self.runs:
            run.results.finish(interrupted=True)
        try:
            self.save_state()
        except ThuliumError as exc:
            self.log.warning("%s", exc)  # the run is being stopped: its own error is the one raised
        if self._on_interrupted is not None:
            self._on_interrupted(self)
