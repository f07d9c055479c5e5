"""The sandbox's neighbouring endpoints (batch add, statuses, agents, paged records) and the PUT's
per-record rules, over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from airflow_provider_thulium.sandbox import Fault, ThuliumSandbox

CAMPAIGN = "00001"
SECOND = "00002"
NOW = "2025-04-01 12:30"


@pytest.fixture
def sandbox() -> Iterator[ThuliumSandbox]:
    with ThuliumSandbox() as running:
        running.state.set_clock(NOW)
        yield running


@pytest.fixture
def session(sandbox: ThuliumSandbox) -> requests.Session:
    client = requests.Session()
    client.auth = (sandbox.login, sandbox.password)
    return client


def api(sandbox: ThuliumSandbox, path: str) -> str:
    return f"{sandbox.url}/api/{path}"


def add(
    session: requests.Session, sandbox: ThuliumSandbox, records: list[Any], campaign: str = CAMPAIGN
) -> requests.Response:
    return session.post(api(sandbox, f"batch/outbounds/{campaign}/records"), json={"records": records}, timeout=10)


def put(
    session: requests.Session, sandbox: ThuliumSandbox, records: list[dict[str, Any]], campaign: str = CAMPAIGN
) -> requests.Response:
    return session.put(api(sandbox, f"batch/outbounds/{campaign}/records"), json={"records": records}, timeout=10)


def page(session: requests.Session, sandbox: ThuliumSandbox, campaign: str = CAMPAIGN, **params: Any) -> Any:
    answer = session.get(api(sandbox, f"outbounds/{campaign}/records"), params=params, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def assert_error_body(response: requests.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["request_id"] == response.headers["X-Request-Id"]
    assert body["errors"][0]["code"] == status
    message: str = body["errors"][0]["message"]
    return message


# ---------------------------------------------------------------------------- POST (batch add)


def test_add_answers_added_already_exists_and_failed_per_phone(
    session: requests.Session, sandbox: ThuliumSandbox
) -> None:
    answer = add(
        session,
        sandbox,
        [
            {
                "phone_number": "48511100001",
                "identifier": "X-1",
                "order": 50,
                "record_fields": {"crm_id": "C-9", "note": ""},
            },
            {
                "phone_number": 48511100002,
                "status_id": "4",
                "agent_login": "j.doe",
                "next_call_date": "2030-05-05 10:00",
            },
            {"phone_number": "48500100200", "status_id": 2},
            {"phone_number": "48500100201"},
            {"phone_number": "+48511100003", "agent_login": "nobody"},
            {
                "phone_number": "48511100004",
                "status_id": 5,
                "next_call_date": "2030-05-06 11:00",
                "dictionary_status_id": 3,
            },
        ],
    )
    assert answer.status_code == 207
    body = answer.json()
    # Keys are the numbers as sent (an int number becomes its digits), in the order sent.
    assert list(body) == ["48511100001", "48511100002", "48500100200", "48500100201", "+48511100003", "48511100004"]
    assert body["48511100001"] == {"http_status": 201, "record_id": 1016, "status": "ADDED"}
    assert body["48511100002"] == {"http_status": 201, "record_id": 1017, "status": "ADDED"}
    assert body["48500100200"] == {"http_status": 400, "record_id": 1001, "status": "ALREADY_EXISTS"}
    # A number held by two records answers with the first of them.
    assert body["48500100201"] == {"http_status": 400, "record_id": 1002, "status": "ALREADY_EXISTS"}
    assert body["+48511100003"] == {"http_status": 400, "status": "FAILED", "message": "Agent not found."}
    assert body["48511100004"] == {"http_status": 201, "record_id": 1018, "status": "ADDED"}

    first = sandbox.state.record(CAMPAIGN, 1016)
    assert first["status_id"] == 1  # the campaign's TO_CALL status
    assert (first["identifier"], first["order"], first["create_date"]) == ("X-1", 50, NOW)
    assert first["record_fields"] == {"crm_id": "C-9", "note": ""}
    assert first["call_date"] is None
    second = sandbox.state.find(CAMPAIGN, "48511100002")[0]
    assert (second["status_id"], second["agent_login"], second["next_call_date"]) == (4, "j.doe", "2030-05-05 10:00")
    assert sandbox.state.record(CAMPAIGN, 1018)["dictionary_status_id"] == 3
    assert sandbox.state.find(CAMPAIGN, "+48511100003") == []
    assert len(sandbox.state.records(CAMPAIGN)) == 15

    # The same request again: everything already there, nothing added.
    again = add(session, sandbox, [{"phone_number": "48511100001"}, {"phone_number": "48511100004"}]).json()
    assert again == {
        "48511100001": {"http_status": 400, "record_id": 1016, "status": "ALREADY_EXISTS"},
        "48511100004": {"http_status": 400, "record_id": 1018, "status": "ALREADY_EXISTS"},
    }


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"agent_login": "nobody"}, "Agent not found."),
        ({"agent_login": "k.kowalski"}, "Agent not found."),  # an agent of the account, not of this campaign
        ({"agent_login": 7}, "Agent not found."),
        ({"record_fields": {"colour": "red"}}, "Unknown record field: colour."),
        ({"record_fields": ["crm_id"]}, "record_fields must be an object."),
        ({"status_id": 99}, "Status not found."),
        ({"status_id": "21"}, "Status not found."),  # a status of the other campaign
        ({"status_id": True}, "Status not found."),
        ({"status_id": 4, "next_call_date": "2030-01-01 10:00"}, "agent_login is required for the status MY_RECORD."),
        ({"status_id": 4, "agent_login": "j.doe"}, "next_call_date is required for the status MY_RECORD."),
        ({"status_id": "5"}, "next_call_date is required for the status CALL_NO_SOONER_THAN."),
        ({"status_id": 5, "next_call_date": None}, "next_call_date is required for the status CALL_NO_SOONER_THAN."),
        ({"next_call_date": "2030-01-01T10:00"}, "Invalid next_call_date: expected the format YYYY-MM-DD hh:mm."),
        ({"next_call_date": "2030-02-30 10:00"}, "Invalid next_call_date: expected the format YYYY-MM-DD hh:mm."),
        ({"dictionary_status_id": "x"}, "Invalid dictionary_status_id."),
        ({"order": "first"}, "Invalid order."),
        ({"order": -1}, "Invalid order."),
        ({"identifier": {"id": 1}}, "Invalid identifier."),
        ({"colour": "red"}, "Unknown parameter: colour."),
        ({"in_call": True}, "Unknown parameter: in_call."),
    ],
)
def test_add_failures(session: requests.Session, sandbox: ThuliumSandbox, record: dict[str, Any], message: str) -> None:
    before = sandbox.state.records(CAMPAIGN)
    answer = add(session, sandbox, [{"phone_number": "48511100001", **record}])
    assert answer.status_code == 207
    assert answer.json() == {"48511100001": {"http_status": 400, "status": "FAILED", "message": message}}
    assert sandbox.state.records(CAMPAIGN) == before


@pytest.mark.parametrize("phone", ["", "48 500", "485-001", "phone", "+", "1" * 21])
def test_add_rejects_numbers_that_are_not_numbers(
    session: requests.Session, sandbox: ThuliumSandbox, phone: str
) -> None:
    answer = add(session, sandbox, [{"phone_number": phone}])
    assert answer.json() == {phone: {"http_status": 400, "status": "FAILED", "message": "Invalid phone_number."}}


def test_add_follows_the_campaigns_own_statuses_and_agents(session: requests.Session, sandbox: ThuliumSandbox) -> None:
    answer = add(
        session,
        sandbox,
        [
            {"phone_number": "48611100001"},
            {
                "phone_number": "48611100002",
                "status_id": 24,
                "agent_login": "m.nowak",
                "next_call_date": "2030-01-01 08:00",
            },
            {"phone_number": "48611100003", "agent_login": "a.smith"},  # not an agent of 00002
            {"phone_number": "48611100004", "record_fields": {"segment": "vip"}},  # 00002 has only crm_id
        ],
        campaign=SECOND,
    ).json()
    assert [entry["status"] for entry in answer.values()] == ["ADDED", "ADDED", "FAILED", "FAILED"]
    assert answer["48611100004"]["message"] == "Unknown record field: segment."
    assert sandbox.state.find(SECOND, "48611100001")[0]["status_id"] == 21  # 00002's TO_CALL status


def test_add_refuses_a_number_twice_in_one_request(session: requests.Session, sandbox: ThuliumSandbox) -> None:
    before = sandbox.state.records(CAMPAIGN)
    records = [{"phone_number": "48511100001"}, {"phone_number": "48511100002"}, {"phone_number": 48511100001}]
    message = assert_error_body(add(session, sandbox, records), 400)
    assert "Duplicated numbers cannot be added" in message
    assert sandbox.state.records(CAMPAIGN) == before


def test_add_whole_request_errors(session: requests.Session, sandbox: ThuliumSandbox) -> None:
    url = api(sandbox, f"batch/outbounds/{CAMPAIGN}/records")
    assert_error_body(session.post(url, data=b"{nope", headers={"Content-Type": "application/json"}, timeout=10), 400)
    assert_error_body(session.post(url, json=[{"phone_number": "1"}], timeout=10), 400)
    assert_error_body(session.post(url, json={"records": [{"status_id": 1}]}, timeout=10), 400)
    assert assert_error_body(add(session, sandbox, [], campaign="99999"), 404) == "Outbound campaign not found."
    assert add(session, sandbox, []).json() == {}
    limited = requests.post(url, json={"records": []}, auth=("limited_user", "limited_pass"), timeout=10)
    assert assert_error_body(limited, 403) == "Permission denied for this API method."
    assert_error_body(requests.post(url, json={"records": []}, timeout=10), 401)


def test_add_honours_batch_status_200() -> None:
    with ThuliumSandbox(batch_status=200) as sandbox:
        answer = requests.post(
            api(sandbox, f"batch/outbounds/{CAMPAIGN}/records"),
            json={"records": [{"phone_number": "48511100001"}]},
            auth=(sandbox.login, sandbox.password),
            timeout=10,
        )
        assert answer.status_code == 200
        assert answer.json()["48511100001"]["status"] == "ADDED"


def test_add_is_logged_and_faults_match_it_by_method_and_path(
    session: requests.Session, sandbox: ThuliumSandbox
) -> None:
    put_only = sandbox.add_fault(Fault(status=500, method="PUT"))
    post_fault = sandbox.add_fault(Fault(status=503, method="post", path="/batch/outbounds/", retry_after="1"))
    refused = add(session, sandbox, [{"phone_number": "48511100001"}])
    assert_error_body(refused, 503)
    assert refused.headers["Retry-After"] == "1"
    assert sandbox.state.find(CAMPAIGN, "48511100001") == []  # a status fault does not apply
    assert (put_only.fired, post_fault.fired) == (0, 1)

    sandbox.add_fault(Fault(method="POST", truncate=True, apply=False))
    cut = add(session, sandbox, [{"phone_number": "48511100001"}])
    assert cut.text == '{"48511100001":{"http_status":201,"record_id":1016,"status":"ADDED"}}'[: len(cut.text)]
    with pytest.raises(ValueError):
        cut.json()
    assert sandbox.state.find(CAMPAIGN, "48511100001") == []  # computed, not applied

    sandbox.add_fault(Fault(method="POST", drop=True))
    with pytest.raises(requests.ConnectionError):
        add(session, sandbox, [{"phone_number": "48511100001"}])
    assert len(sandbox.state.find(CAMPAIGN, "48511100001")) == 1  # applied, then dropped
    # The id a dry run showed is the one the record got.
    assert sandbox.state.find(CAMPAIGN, "48511100001")[0]["record_id"] == 1016

    log = sandbox.requests
    assert [(entry.method, entry.status) for entry in log] == [("POST", 503), ("POST", 207), ("POST", 0)]
    assert log[0].path == f"/api/batch/outbounds/{CAMPAIGN}/records"
    assert log[0].body == {"records": [{"phone_number": "48511100001"}]}


# ---------------------------------------------------------------------------- PUT rules


@pytest.mark.parametrize(
    ("campaign", "record", "message"),
    [
        # 48500100205 is MY_RECORD (j.doe, next call 2030-01-15 10:30): keeping the status must keep both.
        (CAMPAIGN, {"phone_number": "48500100205", "agent_login": None}, "agent_login is required"),
        (CAMPAIGN, {"phone_number": "48500100205", "next_call_date": None}, "next_call_date is required"),
        # 48500100209 is CALL_NO_SOONER_THAN.
        (CAMPAIGN, {"phone_number": "48500100209", "next_call_date": None}, "CALL_NO_SOONER_THAN"),
        (CAMPAIGN, {"phone_number": "48500100200", "agent_login": "k.kowalski"}, "Agent not found."),
        (CAMPAIGN, {"phone_number": "48500100200", "status_id": "9 "}, None),
        (CAMPAIGN, {"phone_number": "48500100200", "agent_login": "m.nowak"}, None),  # inactive in it, still its agent
        (SECOND, {"phone_number": "48600100200", "status_id": 4}, "Status not found."),
        (SECOND, {"phone_number": "48600100200", "agent_login": "a.smith"}, "Agent not found."),
        (SECOND, {"phone_number": "48600100200", "record_fields": {"note": "x"}}, "Unknown record field: note."),
        (
            SECOND,
            {
                "phone_number": "48600100200",
                "status_id": 24,
                "agent_login": "j.doe",
                "next_call_date": "2030-01-01 08:00",
            },
            None,
        ),
    ],
)
def test_update_per_record_rules(
    session: requests.Session, sandbox: ThuliumSandbox, campaign: str, record: dict[str, Any], message: str | None
) -> None:
    before = sandbox.state.records(campaign)
    result = put(session, sandbox, [record], campaign=campaign).json()[record["phone_number"]]
    if message is None:
        assert result == {"http_status": 204}
        assert sandbox.state.records(campaign) != before
    else:
        assert result["http_status"] == 400
        assert message in result["message"]
        assert sandbox.state.records(campaign) == before


def test_update_of_a_my_record_keeping_its_agent_and_date(session: requests.Session, sandbox: ThuliumSandbox) -> None:
    answer = put(session, sandbox, [{"phone_number": "48500100205", "record_fields": {"note": "ok"}}]).json()
    assert answer == {"48500100205": {"http_status": 204}}
    # Leaving MY_RECORD for a status without requirements may drop the agent.
    answer = put(session, sandbox, [{"phone_number": "48500100205", "status_id": 2, "agent_login": None}]).json()
    assert answer == {"48500100205": {"http_status": 204}}


# ---------------------------------------------------------------------------- statuses and agents


def test_statuses(session: requests.Session, sandbox: ThuliumSandbox) -> None:
    statuses = session.get(api(sandbox, f"outbounds/{CAMPAIGN}/statuses"), timeout=10).json()
    assert statuses[:2] == [
        {"system_status": "TO_CALL", "status_id": "1", "dictionary_status_id": None, "name": "New"},
        {"system_status": "CALL", "status_id": "2", "dictionary_status_id": 2, "name": "Contact needed"},
    ]
    assert all(set(s) == {"system_status", "status_id", "dictionary_status_id", "name"} for s in statuses)
    assert all(isinstance(s["status_id"], str) for s in statuses)
    by_id = {s["status_id"]: s["system_status"] for s in statuses}
    # The ids the seed, the example DAGs and the tests rely on keep their system statuses.
    assert {k: by_id[k] for k in "1234579"} == {
        "1": "TO_CALL",
        "2": "CALL",
        "3": "NO_CALL",
        "4": "MY_RECORD",
        "5": "CALL_NO_SOONER_THAN",
        "7": "IN_PROGRESS",
        "9": "NO_CALL",
    }
    assert sorted(s["name"] for s in statuses if s["system_status"] == "NO_CALL") == ["Do not call", "Not interested"]
    assert set(by_id.values()) == {
        "TO_CALL",
        "IN_PROGRESS",
        "CALL",
        "MY_RECORD",
        "NO_CALL",
        "ABANDONED_AFTER_N_TRIES",
        "CALL_NO_SOONER_THAN",
        "CALL_PROGRESSIVE",
    }
    second = session.get(api(sandbox, f"outbounds/{SECOND}/statuses"), timeout=10).json()
    assert [s["status_id"] for s in second] == [str(n) for n in range(21, 29)]
    assert sum(s["system_status"] == "NO_CALL" for s in second) == 2
    assert_error_body(session.get(api(sandbox, "outbounds/99999/statuses"), timeout=10), 404)


def test_agents(session: requests.Session, sandbox: ThuliumSandbox) -> None:
    agents = session.get(api(sandbox, f"outbounds/{CAMPAIGN}/agents"), timeout=10)
    assert agents.status_code == 200
    assert agents.json() == [
        {"login": "j.doe", "number": "101", "active": True, "active_in_outbound": True, "agent_id": 1020},
        {"login": "a.smith", "number": "102", "active": True, "active_in_outbound": True, "agent_id": 1021},
        {"login": "m.nowak", "number": "103", "active": True, "active_in_outbound": False, "agent_id": 1022},
    ]
    second = session.get(api(sandbox, f"outbounds/{SECOND}/agents"), timeout=10).json()
    assert [(a["login"], a["active"], a["active_in_outbound"]) for a in second] == [
        ("j.doe", True, True),
        ("m.nowak", True, True),
        ("k.kowalski", False, False),
    ]
    assert_error_body(session.get(api(sandbox, "outbounds/99999/agents"), timeout=10), 404)
    limited = requests.get(api(sandbox, f"outbounds/{CAMPAIGN}/agents"), auth=("limited_user", "limited_pass"))
    assert_error_body(limited, 403)


# ---------------------------------------------------------------------------- GET records


def test_records_page_shape(session: requests.Session, sandbox: ThuliumSandbox) -> None:
    body = page(session, sandbox)
    assert body["count"] == 12 and len(body["result"]) == 12  # default limit 100
    assert [r["record_id"] for r in body["result"]] == list(range(1001, 1013))
    assert body["result"][6] == {
        "record_id": 1007,
        "phone_number": "48500100205",
        "system_status": "MY_RECORD",
        "status": "My record",
        "status_id": 4,
        "call_date": "2025-03-06 12:00",
        "create_date": "2025-03-05 08:25",
        "next_call_date": "2030-01-15 10:30",
        "agent_name": "John Doe",
        "agent_login": "j.doe",
        "last_note": "Prefers mornings.",
        "identifier": "",
        "order": "",
        "record_fields": {},
    }
    fresh = body["result"][7]
    assert (fresh["call_date"], fresh["next_call_date"], fresh["agent_name"], fresh["agent_login"]) == ("", "", "", "")
    assert (body["result"][0]["identifier"], body["result"][0]["order"]) == ("C-1000", 50)


def test_records_paging_over_several_pages(session: requests.Session, sandbox: ThuliumSandbox) -> None:
    sandbox.state.add_campaign("00010", "Paging")
    assert sandbox.state.bulk_add("00010", (f"4870{n:07d}" for n in range(250)), create_date="2025-05-01 08:00") == 250
    seen: list[str] = []
    counts = set()
    for offset in range(0, 300, 100):
        body = page(session, sandbox, "00010", limit=100, offset=offset)
        counts.add(body["count"])
        seen += [r["phone_number"] for r in body["result"]]
    assert counts == {250}
    assert seen == [f"4870{n:07d}" for n in range(250)]  # in the order added, none skipped or repeated
    assert page(session, sandbox, "00010", limit=7, offset=245)["result"][-1]["phone_number"] == "48700000249"
    assert page(session, sandbox, "00010", offset=1000) == {"count": 250, "result": []}

    # Records removed between two pages shift what the next offset sees (documented as unknown).
    first = page(session, sandbox, "00010", limit=10, offset=0)["result"]
    session.delete(
        api(sandbox, "batch/outbounds/00010/records"), params={"phone_number[]": [first[0]["phone_number"]]}, timeout=10
    )
    second = page(session, sandbox, "00010", limit=10, offset=10)
    assert second["count"] == 249
    assert second["result"][0]["phone_number"] == "48700000011"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": 101}, "limit must be between 1 and 100."),
        ({"limit": 0}, "limit must be between 1 and 100."),
        ({"limit": -5}, "limit must be between 1 and 100."),
        ({"limit": "ten"}, "limit must be an integer."),
        ({"offset": -1}, "offset must not be negative."),
        ({"offset": "1.5"}, "offset must be an integer."),
        ({"create_date_from": "2025-3-1"}, "Invalid create_date_from: expected the format YYYY-MM-DD."),
        ({"create_date_to": "2025-02-30"}, "Invalid create_date_to: expected the format YYYY-MM-DD."),
        ({"call_date_from": "2025-03-01 10:00"}, "Invalid call_date_from: expected the format YYYY-MM-DD."),
        ({"call_date_to": "yesterday"}, "Invalid call_date_to: expected the format YYYY-MM-DD."),
        ({"status_id[]": "new"}, "Invalid status_id[]: expected integers."),
        ({"system_status[]": "DONE"}, "Invalid system_status[]"),
    ],
)
def test_records_bad_queries(
    session: requests.Session, sandbox: ThuliumSandbox, params: dict[str, Any], message: str
) -> None:
    answer = session.get(api(sandbox, f"outbounds/{CAMPAIGN}/records"), params=params, timeout=10)
    assert message in assert_error_body(answer, 400)


def test_records_unknown_campaign_and_permissions(session: requests.Session, sandbox: ThuliumSandbox) -> None:
    assert_error_body(session.get(api(sandbox, "outbounds/99999/records"), timeout=10), 404)
    limited = requests.get(api(sandbox, f"outbounds/{CAMPAIGN}/records"), auth=("limited_user", "limited_pass"))
    assert_error_body(limited, 403)


def ids(body: dict[str, Any]) -> list[int]:
    return [r["record_id"] for r in body["result"]]


def test_records_filters(session: requests.Session, sandbox: ThuliumSandbox) -> None:
    no_call = page(session, sandbox, **{"system_status[]": "NO_CALL"})
    assert (no_call["count"], ids(no_call)) == (1, [1010])
    assert no_call["result"][0]["status"] == "Not interested"
    several = page(session, sandbox, **{"system_status[]": ["NO_CALL", "MY_RECORD", "IN_PROGRESS"]})
    assert ids(several) == [1005, 1007, 1010]
    assert ids(page(session, sandbox, **{"status_id[]": ["2", "5"]})) == [1006, 1011]
    assert page(session, sandbox, **{"status_id[]": "3"}) == {"count": 0, "result": []}
    # Days are inclusive on both ends.
    assert ids(page(session, sandbox, create_date_from="2025-03-05", create_date_to="2025-03-06")) == [
        1006,
        1007,
        1008,
        1009,
    ]
    assert ids(page(session, sandbox, create_date_from="2025-03-07")) == [1010, 1011, 1012]
    assert ids(page(session, sandbox, create_date_to="2025-03-03")) == [1001, 1002, 1003]
    # Records never called do not match a call date filter.
    assert ids(page(session, sandbox, call_date_from="2025-03-01")) == [1005, 1006, 1007, 1010, 1011]
    assert ids(page(session, sandbox, call_date_from="2025-03-08", call_date_to="2025-03-08")) == [1010, 1011]
    assert ids(page(session, sandbox, call_date_to="2025-03-07")) == [1006, 1007]
    # Filters combine, count is the matching total, and paging works within the matches.
    combined = page(session, sandbox, limit=1, offset=1, create_date_from="2025-03-04", **{"status_id[]": ["1", "7"]})
    assert (combined["count"], ids(combined)) == (5, [1005])
    assert page(session, sandbox, create_date_from="2025-03-08", create_date_to="2025-03-01")["count"] == 0
    # Unknown parameters are ignored, as a web API does (a client sending "status_id" unbracketed sees no filter).
    assert page(session, sandbox, status_id="2")["count"] == 12

    # A change between two identical queries shows in the second.
    put(session, sandbox, [{"phone_number": "48500100200", "status_id": 3}])
    assert ids(page(session, sandbox, **{"system_status[]": "NO_CALL"})) == [1001, 1010]
    add(session, sandbox, [{"phone_number": "48511100001", "status_id": 3}])
    latest = page(session, sandbox, **{"system_status[]": "NO_CALL"})
    assert ids(latest) == [1001, 1010, 1016]
    assert latest["result"][-1]["create_date"] == NOW
    assert ids(page(session, sandbox, create_date_from="2025-04-01", create_date_to="2025-04-01")) == [1016]


# ---------------------------------------------------------------------------- control-side helpers


def test_state_helpers(sandbox: ThuliumSandbox) -> None:
    state = sandbox.state
    state.add_agent("p.zielinski", "Piotr Zielinski", number="105", campaigns=[SECOND], active_in_outbound=False)
    assert state.campaign_agents(SECOND)[-1] == {
        "login": "p.zielinski",
        "number": "105",
        "active": True,
        "active_in_outbound": False,
        "agent_id": 1024,
    }
    assert [a["login"] for a in state.campaign_agents(CAMPAIGN)] == ["j.doe", "a.smith", "m.nowak"]
    assert state.add_status(CAMPAIGN, "CALL", "Second try") == "10"
    assert state.statuses(CAMPAIGN)[-1] == {
        "system_status": "CALL",
        "status_id": "10",
        "dictionary_status_id": None,
        "name": "Second try",
    }
    with pytest.raises(ValueError):
        state.add_status(CAMPAIGN, "DONE", "x")
    with pytest.raises(ValueError):
        state.add_status(CAMPAIGN, "CALL", "x", status_id=2)

    assert [r["phone_number"] for r in state.in_call(CAMPAIGN)] == ["48500100203"]
    state.set_clock("2025-06-01 07:00")
    assert state.set_in_call(CAMPAIGN, "48500100206") == 1
    assert state.find(CAMPAIGN, "48500100206")[0]["call_date"] == "2025-06-01 07:00"
    assert [r["record_id"] for r in state.in_call(CAMPAIGN)] == [1005, 1008]

    changed = state.update_record(CAMPAIGN, 1008, call_date="2025-06-02 08:00", last_note="Busy.", in_call=False)
    assert (changed["call_date"], changed["last_note"], changed["in_call"]) == ("2025-06-02 08:00", "Busy.", False)
    with pytest.raises(ValueError):
        state.update_record(CAMPAIGN, 1008, phone_number="1")
    with pytest.raises(ValueError):
        state.update_record(CAMPAIGN, 1008, call_date="tomorrow")
    with pytest.raises(KeyError):
        state.record(CAMPAIGN, 1)

    state.add_campaign("00011", "Bulk", agents=["j.doe"])
    assert state.bulk_add("00011", ["1", "2"], status_id=3, call_date="2025-01-01 00:00") == 2
    assert [(r["status_id"], r["create_date"], r["call_date"]) for r in state.records("00011")] == [
        (3, "2025-06-01 07:00", "2025-01-01 00:00")
    ] * 2
    with pytest.raises(ValueError):
        state.add_campaign("00012", "x", agents=["nobody"])
    state.set_clock(None)
    assert state.now() != "2025-06-01 07:00"
