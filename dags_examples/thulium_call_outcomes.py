"""Call outcomes into the warehouse: each morning, yesterday's outcomes of a campaign into a SQL table,
and a report once the campaign has been called through.

Shows: ``ThuliumExportRecordsOperator`` reading one day's calls (``called_from`` / ``called_to``
rendered from the run's data interval) into a ``SqlDestination`` with a ``key``, so a re-run or a
backfill of the same day replaces its rows instead of adding them, and a record called again has its
one row updated; pages read four at a time and written as they come, the records never in XCom (the
task returns where they went and how many); ``ThuliumCampaignSensor`` waiting, in reschedule mode,
until at most 20 records are still to be called; and a report that counts the table's rows per
outcome (counts only: no phone number in a log or an XCom). The warehouse is the Airflow SQL
connection ``warehouse`` (SQLite in the tests, PostgreSQL in the system test).
"""

from __future__ import annotations

from datetime import datetime

from airflow.providers.common.compat.sdk import DAG, BaseHook, task

from airflow_provider_thulium.destinations import SqlDestination
from airflow_provider_thulium.operators.thulium import ThuliumExportRecordsOperator
from airflow_provider_thulium.sensors.thulium import ThuliumCampaignSensor

try:  # Airflow 3
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow 2.11
    from airflow.timetables.interval import CronDataIntervalTimetable  # type: ignore[no-redef]

CAMPAIGN_ID = "00001"

# [START howto_call_outcomes_dag]
with DAG(
    dag_id="thulium_call_outcomes",
    # Every morning at 06:00 UTC, for the interval that ends then: data_interval_start is yesterday
    # 06:00, so "data_interval_start | ds" is yesterday, on Airflow 3 and 2.11 alike. Thulium dates
    # calls in the account's time zone: schedule the run after the account's day has ended.
    schedule=CronDataIntervalTimetable("0 6 * * *", timezone="UTC"),
    start_date=datetime(2025, 3, 1),
    catchup=False,
    tags=["thulium", "example"],
    # Another day, loaded by hand: trigger with {"day": "YYYY-MM-DD"} (Airflow 3 dates the interval of a
    # run triggered by hand from the moment it is triggered, whatever its logical date).
    params={"day": ""},
):
    export_outcomes = ThuliumExportRecordsOperator(
        task_id="export_outcomes",
        campaign_id=CAMPAIGN_ID,
        # One day of calls: the records whose last call was yesterday (dates are inclusive days).
        filters={
            "called_from": "{{ params.day or data_interval_start | ds }}",
            "called_to": "{{ params.day or data_interval_start | ds }}",
        },
        # Record key → column; only these are written.
        columns={
            "record_id": "record_id",
            "phone_number": "phone_number",
            "status": "outcome",
            "system_status": "system_status",
            "call_date": "called_at",
            "agent_login": "agent_login",
            "last_note": "note",
        },
        # Created when missing; a row whose record_id is written again is replaced.
        destination=SqlDestination(conn_id="warehouse", table="call_outcomes", key="record_id"),
        hook_params={"max_concurrent_requests": 4},
    )
    # [END howto_call_outcomes_dag]

    # [START howto_campaign_sensor]
    called_through = ThuliumCampaignSensor(
        task_id="wait_until_called_through",
        campaign_id=CAMPAIGN_ID,
        max_records=20,  # done when at most 20 records are still to be called
        poke_interval=600,
        timeout=8 * 3600,  # then the task fails, without its retries
        mode="reschedule",  # the worker slot is free between pokes; or deferrable=True
    )
    # [END howto_campaign_sensor]

    @task
    def report_outcomes() -> dict[str, int]:
        """The warehouse's outcomes so far, counted per outcome (counts only: no phone number)."""
        warehouse = BaseHook.get_connection("warehouse").get_hook()
        rows = warehouse.get_records("SELECT outcome, COUNT(*) FROM call_outcomes GROUP BY outcome ORDER BY outcome")
        counts = {str(outcome): int(count) for outcome, count in rows}
        print(f"call_outcomes: {sum(counts.values())} row(s) by outcome: {counts}")
        return counts

    [export_outcomes, called_through] >> report_outcomes()
