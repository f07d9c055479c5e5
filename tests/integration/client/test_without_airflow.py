"""The client on its own: a delete, a sync and an export against the sandbox with no Airflow module imported.

``make test-without-airflow`` runs this file in an environment where Airflow is not installed
(``THULIUM_WITHOUT_AIRFLOW=1``); the ordinary runs take it with Airflow installed, where the same
errors are also Airflow's fail-fast exceptions.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

from airflow_provider_thulium.client import ThuliumClient
from airflow_provider_thulium.exceptions import ThuliumError, ThuliumSyncGuardError, ThuliumValidationError
from airflow_provider_thulium.sandbox import ThuliumSandbox
from airflow_provider_thulium.settings import ThuliumSettings

WITHOUT_AIRFLOW = os.environ.get("THULIUM_WITHOUT_AIRFLOW") == "1"
CAMPAIGN = "00077"


@pytest.fixture
def client(thulium_sandbox: ThuliumSandbox):
    client = ThuliumClient.for_host(
        thulium_sandbox.url, thulium_sandbox.login, thulium_sandbox.password, ThuliumSettings(timeout=10)
    )
    yield client
    client.close()


def airflow_modules() -> list[str]:
    return [name for name in sys.modules if name == "airflow" or name.startswith("airflow.")]


def test_the_environment_is_the_one_asked_for():
    if not WITHOUT_AIRFLOW:
        pytest.skip("run by make test-without-airflow, in an environment without Airflow")
    assert importlib.util.find_spec("airflow") is None


def test_a_delete_removes_the_records_and_reports_every_phone(client, thulium_sandbox):
    results = client.delete_records("00001", ["48500100201", "48999000111"])
    assert [entry["status"] for entry in results["48500100201"]] == ["REMOVED", "REMOVED"]
    assert results["48999000111"] == [{"http_status": 404, "status": "NOT_EXIST"}]
    assert thulium_sandbox.state.find("00001", "48500100201") == []
    if WITHOUT_AIRFLOW:
        assert airflow_modules() == []


def test_a_sync_adds_updates_and_removes_only_the_changes(client, thulium_sandbox):
    thulium_sandbox.state.add_campaign(CAMPAIGN, "Without Airflow", fields=["crm_id"])
    thulium_sandbox.state.add_records(
        CAMPAIGN,
        [
            {"phone_number": "48600000001", "record_fields": {"crm_id": "A"}},
            {"phone_number": "48600000002", "record_fields": {"crm_id": "B"}},
            {"phone_number": "48600000003", "record_fields": {"crm_id": "C"}},
        ],
    )
    desired = [
        {"phone_number": "48600000001", "record_fields": {"crm_id": "A"}},  # unchanged
        {"phone_number": "48600000002", "record_fields": {"crm_id": "B2"}},  # updated
        {"phone_number": "48600000004", "record_fields": {"crm_id": "D"}},  # added; ...03 removed
    ]
    with pytest.raises(ThuliumSyncGuardError) as refused:
        client.sync_campaign(CAMPAIGN, desired, remove_missing=True, max_removals=0)
    assert refused.value.fail_fast and {r["phone_number"] for r in thulium_sandbox.state.records(CAMPAIGN)} == {
        "48600000001",
        "48600000002",
        "48600000003",
    }

    entries = client.sync_campaign(CAMPAIGN, desired, remove_missing=True, max_removals=1)
    assert {phone: entry["action"] for phone, entry in entries.items()} == {
        "48600000001": "UNCHANGED",
        "48600000002": "UPDATE",
        "48600000003": "REMOVE",
        "48600000004": "ADD",
    }
    stored = {r["phone_number"]: r["record_fields"] for r in thulium_sandbox.state.records(CAMPAIGN)}
    assert stored == {"48600000001": {"crm_id": "A"}, "48600000002": {"crm_id": "B2"}, "48600000004": {"crm_id": "D"}}
    if WITHOUT_AIRFLOW:
        assert airflow_modules() == []


def test_bad_input_is_refused_before_sending_and_says_no_retry_can_fix_it(client, thulium_sandbox):
    before = thulium_sandbox.request_count
    with pytest.raises(ThuliumValidationError, match=r"phone_numbers\[1\]") as refused:
        client.delete_records("00001", ["48500100201", "not a phone"])
    assert refused.value.fail_fast and isinstance(refused.value, ThuliumError)
    assert thulium_sandbox.request_count == before
    if WITHOUT_AIRFLOW:
        assert type(refused.value).__mro__[-3:] == (ValueError, Exception, BaseException, object)[-3:]
    else:
        from airflow.providers.common.compat.sdk import AirflowFailException

        assert isinstance(refused.value, AirflowFailException)


def test_an_export_writes_a_days_records_to_a_local_file(client, thulium_sandbox, tmp_path):
    from airflow_provider_thulium.destinations import FileDestination
    from airflow_provider_thulium.destinations.export import export_records

    path = tmp_path / "outcomes.csv"
    summary = export_records(
        client,
        "00001",
        FileDestination(str(path)),
        columns=["record_id", "call_date"],
        filters={"called_to": "2025-03-08"},
    )
    assert summary["rows"] == 4
    assert path.read_text().splitlines() == [
        "record_id,call_date",
        "1006,2025-03-07T16:40:00+01:00",
        "1007,2025-03-06T12:00:00+01:00",
        "1010,2025-03-08T09:30:00+01:00",
        "1011,2025-03-08T09:40:00+01:00",
    ]
    if WITHOUT_AIRFLOW:
        assert airflow_modules() == []
