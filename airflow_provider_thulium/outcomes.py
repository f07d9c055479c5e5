"""The shapes a DAG reads: each phone's result and the summary of a run, as mypy-checked ``TypedDict`` classes.

A records call returns (and its operator pushes as ``return_value``) an object keyed by phone
number, in the API's own shape for that call; the ``summary`` XCom is a :class:`RunSummary`.
A phone Thulium gave no answer about gets a client-side entry: ``http_status`` is ``None`` and
``status`` is one of :data:`CLIENT_STATUSES`.
"""

from __future__ import annotations

from typing import TypedDict

#: Client-side statuses, for phones Thulium gave no answer about (``http_status`` is then ``None``).
NOT_SENT = "NOT_SENT"  # the run stopped before this phone's request was sent
REQUEST_FAILED = "REQUEST_FAILED"  # its request failed for good; it may or may not have been applied
NO_ANSWER = "NO_ANSWER"  # the request succeeded but the answer left this phone out
INTERRUPTED = "INTERRUPTED"  # the task was stopped before an answer came; it may have been applied
#: Thulium's answer about this phone contradicts itself (``message`` says how): a failure.
CONTRADICTORY_ANSWER = "CONTRADICTORY_ANSWER"
CLIENT_STATUSES = frozenset({NOT_SENT, REQUEST_FAILED, NO_ANSWER, INTERRUPTED, CONTRADICTORY_ANSWER})

#: Statuses Thulium answers for a delete (docs/thulium-api.md, "DELETE").
REMOVED = "REMOVED"
NOT_EXIST = "NOT_EXIST"
CALL_IN_PROGRESS = "CALL_IN_PROGRESS"
#: The outcome of a successful edit (Thulium answers only ``http_status`` 2xx).
UPDATED = "UPDATED"
#: Statuses Thulium answers for an add (docs/thulium-api.md, "POST").
ADDED = "ADDED"
ALREADY_EXISTS = "ALREADY_EXISTS"
ADD_FAILED = "FAILED"
#: An add's phone whose record existed and whose edit (``on_existing="update"``) failed.
UPDATE_FAILED = "UPDATE_FAILED"


class _DeleteEntryKeys(TypedDict):
    http_status: int | None
    status: str


class DeleteEntry(_DeleteEntryKeys, total=False):
    """One record's result of a delete; a phone's result is a list of these (one per record found)."""

    record_id: int
    message: str


class _UpdateEntryKeys(TypedDict):
    http_status: int | None


class UpdateEntry(_UpdateEntryKeys, total=False):
    """A phone's result of an update: ``{"http_status": 204}`` on success."""

    status: str  # client-side entries only
    message: str
    #: When Thulium answered several objects for one phone: all of them (``http_status`` is the worst).
    results: list[dict[str, object]]


class _AddEntryKeys(TypedDict):
    http_status: int | None
    status: str


class AddEntry(_AddEntryKeys, total=False):
    """A phone's result of an add: ``{"http_status": 201, "record_id": 111, "status": "ADDED"}``.

    ``status`` is ``ADDED``, ``ALREADY_EXISTS`` (``record_id`` is the existing record), ``FAILED``
    (with ``message``), or after an upsert ``UPDATED`` / ``UPDATE_FAILED``; or a client-side status.
    """

    record_id: int
    message: str
    #: When Thulium answered several objects for one phone: all of them.
    results: list[dict[str, object]]
    #: Every record id the answer gave for this phone, when it gave more than one.
    record_ids: list[object]
    #: ``ALREADY_EXISTS`` answered a retry after a lost answer: the record may be this run's own
    #: add, so it counts as a success whatever ``on_existing`` says.
    after_lost_answer: bool


DeleteResults = dict[str, list[DeleteEntry]]
UpdateResults = dict[str, UpdateEntry]
AddResults = dict[str, AddEntry]


class _RunSummaryKeys(TypedDict):
    operation: str  # "delete", "update" or "add"
    campaign_id: str
    phones: int  # distinct input phones; each has a result
    succeeded: int
    failed: int
    outcomes: dict[str, int]  # outcome name (REMOVED, NOT_EXIST, UPDATED, HTTP_400, NOT_SENT, ...) → phones
    failed_phones: list[str]  # in input order (full numbers: XCom only)
    batches: int
    requests: int  # HTTP requests, retries and splits included
    retries: int
    duration_seconds: float
    stopped_by: str | None  # the error that ended the run early, if one did
    unmatched_answers: int  # answer keys that matched no phone sent
    after_lost_answer: int  # phones whose ALREADY_EXISTS answered a retry after a lost answer (see AddEntry)
    warnings: list[str]  # outcomes that look like a mistake rather than a normal day (also logged)


class RunSummary(_RunSummaryKeys, total=False):
    """The ``summary`` XCom: what a run of a records call came to."""

    results_path: str  # where every phone's result was written, when the operator was given results_path


class SyncPlanCounts(TypedDict):
    """A sync's plan in counts (the ``summary`` XCom's ``plan``)."""

    add: int  # desired phones not in the campaign
    update: int  # in it, with an owned field that differs or cannot be read
    update_unreadable: int  # of those, the ones sent because an owned field cannot be read back
    remove: int  # phones of records not desired (remove_missing)
    unchanged: int  # in it and as desired, duplicates included
    duplicates: int  # desired phones held by several records: left, as an edit by phone cannot pick one
    excluded: int  # excluded phones (exclude) found in the desired records or the campaign
    desired: int  # desired records
    campaign_records: int  # the campaign's records when it was read


class SyncSummary(RunSummary):
    """The ``summary`` XCom of a sync: the three calls' summaries as one (``operation`` is ``"sync"``), and the plan."""

    plan: SyncPlanCounts
    dry_run: bool  # the plan only: nothing was sent but reads
    guard: str  # "passed", or "refused" (too many removals, or no desired records): nothing was sent
