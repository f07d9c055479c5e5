"""The shapes a DAG reads: each phone's result and the summary of a run, as mypy-checked ``TypedDict`` classes.

A records call returns (and its operator pushes as ``return_value``) an object keyed by phone
number, in the API's own shape for that call; the ``summary`` XCom is a :class:`RunSummary`.
A phone Thulium gave no answer about gets a client-side entry: ``http_status`` is ``None`` and
``status`` is one of :data:`CLIENT_STATUSES`.

A campaign's record as it is read back (``ThuliumHook.iter_records``) is a :class:`CampaignRecord`;
an export of records into a file or a table returns an :class:`ExportSummary`.
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


class _CampaignRecordKeys(TypedDict):
    record_id: int
    phone_number: str
    system_status: str
    status: str
    status_id: int | str
    call_date: str
    create_date: str
    next_call_date: str
    agent_name: str
    agent_login: str
    last_note: str
    identifier: str
    order: int | str


class CampaignRecord(_CampaignRecordKeys, total=False):
    """One record of a campaign as ``GET outbounds/:id/records`` answers it and ``iter_records`` yields it.

    Values come as Thulium sends them: a value the record does not have is ``""``, not ``None``;
    dates are text ``"YYYY-MM-DD hh:mm"`` (minutes, no seconds) in the account's local time, with
    no time zone written (the connection's ``timezone``, ``Europe/Warsaw`` unless set). An export
    (:class:`~airflow_provider_thulium.destinations.FileDestination`,
    :class:`~airflow_provider_thulium.destinations.SqlDestination`) writes them typed: ids as
    integers, dates as timestamps in that time zone, ``""`` as no value.

    **Documented** means the vendor's reference shows the key in its example answer of this call
    (docs/thulium-api.md, "Paged records"); **inferred** means its meaning is read from the key's
    name, from the same key in the add and edit calls, and from how the filters treat it.

    - ``record_id`` (int) — the record's id in Thulium. Documented; the delete and add answers
      name records by it too.
    - ``phone_number`` (str) — the number the record is called on, as the campaign stores it.
      Documented.
    - ``system_status`` (str) — the system status of the record's status (``TO_CALL``, ``CALL``,
      ``NO_CALL``...; the list is in ``docs/thulium-api.md``, "Statuses"). Documented.
    - ``status`` (str) — the **name** of the record's status, as shown in Thulium and answered by
      ``GET outbounds/:id/statuses`` (e.g. ``"Not interested"``), not an id. Documented key; that it
      is the name is inferred from the vendor's example (``"Do not call"`` with ``status_id`` 5).
    - ``status_id`` (int) — the id of the record's status in this campaign. Documented as an int;
      the statuses call answers ids as strings, so a digit string is possible (an export writes
      an int either way).
    - ``call_date`` (str) — when the record was **last** called, ``""`` if never. Documented key;
      inferred meaning: the ``call_date_from`` / ``call_date_to`` filters match it, so a record
      called again later leaves an earlier day's window.
    - ``create_date`` (str) — when the record was added to the campaign. Documented key; inferred
      meaning (the ``create_date_from`` / ``create_date_to`` filters).
    - ``next_call_date`` (str) — when the record is to be called next (set by an agent, a
      callback or the edit call), ``""`` if not set. Documented key, and the format of the add and
      edit calls.
    - ``agent_name`` (str), ``agent_login`` (str) — the agent the record is assigned to, ``""`` if
      none. Documented keys; ``agent_login`` is the login the add and edit calls take, the name is
      inferred to be that agent's display name.
    - ``last_note`` (str) — the note of the record's last call. Documented key; inferred meaning.
    - ``identifier`` (str) — the record's id in your own system, as the add call set it; ``""``
      if none. Documented.
    - ``order`` (int, or ``""``) — the record's priority, as the add call set it. Documented.
    - ``record_fields`` (dict) — the campaign's field values. **Not documented** for this call:
      the vendor's example answer has none, so it may be missing; the sandbox sends it unless
      started with ``--hide-record-fields``. Do not depend on it.

    Keys the vendor adds later come through ``iter_records`` as they are; an export writes only
    the keys above (and ``record_fields.<name>`` when named in ``columns``).
    """

    record_fields: dict[str, object]


class _ExportSummaryKeys(TypedDict):
    campaign_id: str
    destination: str  # where the rows went, as a person reads it: "file /data/x.csv", "table t on connection 'dwh'"
    format: str  # "csv", "jsonl", "parquet" or "sql"
    rows: int  # rows written: one per record read
    columns: list[str]  # the destination's columns, in order
    filters: dict[str, object]  # the filters the read applied (days as "YYYY-MM-DD"); {} for every record
    requests: int  # pages read (HTTP requests, retries not counted)
    duration_seconds: float


class ExportSummary(_ExportSummaryKeys, total=False):
    """What an export returns (and ``ThuliumExportRecordsOperator`` pushes as ``return_value``):
    where the rows went and how many, never the records themselves."""

    path: str  # a file destination's path or URL
    table: str  # a SQL destination's table
    conn_id: str  # a SQL destination's connection, or an object store's
    key: list[str]  # a SQL destination's key columns: rows with the same key were replaced
