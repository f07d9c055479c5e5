"""The sandbox's seeds: the users, agents and demo campaigns a fresh state starts with.

:func:`~.describe.describe_markdown` renders this data for the README and ``--describe``.
"""

from __future__ import annotations

from typing import Any

from .records import DEFAULT_STATUSES

#: The statuses of the demo campaign ``00002``: other ids than ``00001``'s, as status ids belong
#: to a campaign.
SECOND_CAMPAIGN_STATUSES: tuple[tuple[str, str, str, int | None], ...] = (
    ("21", "TO_CALL", "New lead", None),
    ("22", "CALL", "Interested", 2),
    ("23", "CALL_NO_SOONER_THAN", "Call back later", None),
    ("24", "MY_RECORD", "My record", None),
    ("25", "NO_CALL", "Not interested", 5),
    ("26", "NO_CALL", "Do not call", None),
    ("27", "ABANDONED_AFTER_N_TRIES", "Unreachable", None),
    ("28", "IN_PROGRESS", "In progress", None),
)

DEFAULT_LOGIN = "api_user"
DEFAULT_PASSWORD = "api_pass"
LIMITED_LOGIN = "limited_user"
LIMITED_PASSWORD = "limited_pass"
LIMITED_PERMISSIONS = frozenset({"records.delete", "records.update"})

#: ``(login, name, number, agent_id, active)`` of the account's agents, in every seed.
DEFAULT_AGENTS: tuple[tuple[str, str, str, int, bool], ...] = (
    ("j.doe", "John Doe", "101", 1020, True),
    ("a.smith", "Anna Smith", "102", 1021, True),
    ("m.nowak", "Marta Nowak", "103", 1022, True),
    ("k.kowalski", "Krzysztof Kowalski", "104", 1023, False),
)

#: The id of the first record a fresh state adds. Arbitrary: starting above 1 makes ids easy to tell
#: apart from counts.
FIRST_RECORD_ID = 1001


#: The demo data set (``seed="demo"``), as ``(campaign id, name, fields, statuses, agents, records)``;
#: agents are ``(login, active_in_outbound)``. Record ids are given in order from 1001 on.
DEMO_CAMPAIGNS: tuple[
    tuple[
        str,
        str,
        tuple[str, ...],
        tuple[tuple[str, str, str, int | None], ...],
        tuple[tuple[str, bool], ...],
        tuple[dict[str, Any], ...],
    ],
    ...,
] = (
    (
        "00001",
        "Demo outbound campaign",
        ("crm_id", "segment", "note"),
        DEFAULT_STATUSES,
        (("j.doe", True), ("a.smith", True), ("m.nowak", False)),
        (
            {
                "phone_number": "48500100200",
                "identifier": "C-1000",
                "order": 50,
                "create_date": "2025-03-03 09:00",
                "record_fields": {"crm_id": "C-1000", "segment": "retail"},
            },
            {"phone_number": "48500100201", "create_date": "2025-03-03 09:05", "record_fields": {"crm_id": "C-1001"}},
            {"phone_number": "48500100201", "create_date": "2025-03-03 09:10", "record_fields": {"crm_id": "C-1002"}},
            {"phone_number": "48500100202", "additional_numbers": ["48500100299"], "create_date": "2025-03-04 11:30"},
            {
                "phone_number": "48500100203",
                "in_call": True,
                "status_id": 7,
                "create_date": "2025-03-04 11:45",
                "call_date": "2025-03-10 10:15",
            },
            {
                "phone_number": "48500100204",
                "status_id": 2,
                "create_date": "2025-03-05 08:20",
                "call_date": "2025-03-07 16:40",
                "last_note": "Asked for an offer by e-mail.",
            },
            {
                "phone_number": "48500100205",
                "status_id": 4,
                "agent_login": "j.doe",
                "next_call_date": "2030-01-15 10:30",
                "create_date": "2025-03-05 08:25",
                "call_date": "2025-03-06 12:00",
                "last_note": "Prefers mornings.",
            },
            {"phone_number": "48500100206", "create_date": "2025-03-06 10:00"},
            {"phone_number": "48500100207", "create_date": "2025-03-06 10:05"},
            {
                "phone_number": "48500100208",
                "status_id": 9,
                "create_date": "2025-03-07 14:00",
                "call_date": "2025-03-08 09:30",
                "last_note": "Has a contract elsewhere.",
            },
            {
                "phone_number": "48500100209",
                "status_id": 5,
                "next_call_date": "2030-02-01 09:00",
                "create_date": "2025-03-07 14:05",
                "call_date": "2025-03-08 09:40",
                "last_note": "Call after payday.",
            },
            {
                "phone_number": "48500100210",
                "order": 10,
                "create_date": "2025-03-07 14:10",
                "record_fields": {"segment": "vip"},
            },
        ),
    ),
    (
        "00002",
        "Second campaign",
        ("crm_id",),
        SECOND_CAMPAIGN_STATUSES,
        (("j.doe", True), ("m.nowak", True), ("k.kowalski", False)),
        (
            {"phone_number": "48600100200", "create_date": "2025-03-10 12:00"},
            {
                "phone_number": "48600100201",
                "status_id": 22,
                "create_date": "2025-03-10 12:01",
                "call_date": "2025-03-11 15:20",
                "last_note": "Wants a call back.",
            },
            # The same number as a record of 00001: tests can see the campaigns are kept apart.
            {"phone_number": "48500100200", "create_date": "2025-03-11 09:00"},
        ),
    ),
)
