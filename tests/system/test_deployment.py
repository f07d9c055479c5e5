"""Every example DAG in a production-shaped Airflow 3 against the sandbox.

PostgreSQL as the metadata database; ``airflow db migrate``; api-server, scheduler, dag-processor
and triggerer as separate processes with the LocalExecutor; the Thulium sandbox (in this process)
as the ``thulium_default`` connection through ``AIRFLOW_CONN_THULIUM_DEFAULT``. Each DAG of
``dags_examples/`` (found in the folder, so a new example is included) is triggered with
``airflow dags trigger`` on a freshly reset sandbox; the test then reads task states and XComs back
from PostgreSQL and compares them with the sandbox's records. A DAG scheduled on an asset is left
to the scheduler instead, which runs it on its producer's asset event.

Run it with ``make test-system``.
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_thulium.sandbox import Fault, ThuliumSandbox
from tests.system.deployment import Airflow, Postgres, deployment, wait_for

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "dags_examples"
DEFERRABLE_DAG = "thulium_deferrable_delete"
WAIT_TRIGGER = "airflow.providers.standard.triggers.temporal.DateTimeTrigger"  # Airflow 3's own time trigger
RUN_TIMEOUT = 180.0


def dag_files(folder: Path) -> list[Path]:
    """The files Airflow would parse, by its own safe-mode rule: they mention both "airflow" and "dag"."""
    return [p for p in sorted(folder.glob("*.py")) if all(w in p.read_text().lower() for w in ("airflow", "dag"))]


@dataclass
class Run:
    """What one DAG run left in the metadata database."""

    dag_id: str
    run_id: str
    state: str = ""
    seconds: float = 0.0
    states: dict[str, str] = field(default_factory=dict)  # "task" or "task[map_index]" → final state
    seen: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # every state polled
    triggers: set[tuple[str, bool]] = field(default_factory=set)  # (classpath, claimed by a triggerer)
    xcoms: dict[tuple[str, int, str], Any] = field(default_factory=dict)


def _name(task_id: str, map_index: int) -> str:
    return task_id if map_index < 0 else f"{task_id}[{map_index}]"


def _json(value: Any) -> Any:
    """An XCom value as stored by Airflow 3 (JSON; a JSON text inside it on some versions)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def wait_until_parsed(postgres: Postgres, airflow: Airflow, files: list[Path]) -> dict[Path, list[str]]:
    """File → its DAG ids, once the dag-processor has stored every file; fails on an import error."""

    def parsed() -> dict[Path, list[str]] | None:
        errors = postgres.query("SELECT filename, stacktrace FROM import_error")
        assert not errors, f"DAG import errors: {errors}"
        by_file: dict[Path, list[str]] = defaultdict(list)
        for dag_id, fileloc in postgres.query("SELECT dag_id, fileloc FROM dag"):
            by_file[Path(fileloc)].append(dag_id)
        airflow.processes.check_alive()
        return dict(by_file) if all(by_file.get(airflow.dags / f.name) for f in files) else None

    found = wait_for("the dag-processor to store every DAG file", parsed, timeout=120, interval=1)
    return {f: sorted(found[airflow.dags / f.name]) for f in files}


def trigger_and_wait(postgres: Postgres, airflow: Airflow, dag_id: str, *options: str) -> Run:
    run = Run(dag_id, f"system__{dag_id}__{time.time_ns()}")
    started = time.monotonic()
    airflow.run("dags", "trigger", dag_id, "--run-id", run.run_id, *options)
    return wait_for_run(postgres, airflow, run, started)


def asset_event_payloads(postgres: Postgres, run: Run) -> list[Any]:
    """The ``extra`` of the asset events the run was created for (a watcher's holds its trigger's payload)."""
    rows = postgres.query(
        "SELECT e.extra FROM dagrun_asset_event d JOIN asset_event e ON e.id = d.event_id"
        " JOIN dag_run r ON r.id = d.dag_run_id WHERE r.dag_id = %s AND r.run_id = %s",
        run.dag_id,
        run.run_id,
    )
    return [_json(extra) for (extra,) in rows]


def wait_for_asset_triggered_run(postgres: Postgres, airflow: Airflow, dag_id: str) -> Run:
    """The run the scheduler creates for ``dag_id`` after an asset event it is scheduled on, once it ends."""
    started = time.monotonic()

    def created() -> str | None:
        airflow.processes.check_alive()
        rows = postgres.query("SELECT run_id FROM dag_run WHERE dag_id = %s AND run_type = 'asset_triggered'", dag_id)
        return rows[0][0] if rows else None

    run_id = wait_for(f"the scheduler to run {dag_id} on its asset", created, timeout=RUN_TIMEOUT, interval=0.5)
    return wait_for_run(postgres, airflow, Run(dag_id, run_id), started)


def event_sources(postgres: Postgres, run: Run) -> set[str]:
    """The DAGs whose asset events the run was created for."""
    rows = postgres.query(
        "SELECT e.source_dag_id FROM dagrun_asset_event d JOIN asset_event e ON e.id = d.event_id"
        " JOIN dag_run r ON r.id = d.dag_run_id WHERE r.dag_id = %s AND r.run_id = %s",
        run.dag_id,
        run.run_id,
    )
    return {source for (source,) in rows}


def wait_for_run(postgres: Postgres, airflow: Airflow, run: Run, started: float) -> Run:
    """Poll the run until it ends, recording task states and triggers; then read its XComs."""
    dag_id = run.dag_id
    deadline = started + RUN_TIMEOUT
    while True:
        (state,) = postgres.query("SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", dag_id, run.run_id)[0]
        # Rebuilt on each poll: a mapped task's placeholder row is replaced when it expands.
        run.states = {
            _name(task_id, map_index): str(ti_state)
            for task_id, map_index, ti_state in postgres.query(
                "SELECT task_id, map_index, state FROM task_instance WHERE dag_id = %s AND run_id = %s",
                dag_id,
                run.run_id,
            )
        }
        for name, ti_state in run.states.items():
            run.seen[name].add(ti_state)
        for classpath, triggerer_id in postgres.query(
            "SELECT t.classpath, t.triggerer_id FROM task_instance ti JOIN trigger t ON t.id = ti.trigger_id"
            " WHERE ti.dag_id = %s AND ti.run_id = %s",
            dag_id,
            run.run_id,
        ):
            run.triggers.add((classpath, triggerer_id is not None))
        if state in ("success", "failed"):
            run.state = state
            break
        airflow.processes.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{dag_id}: run still {state} after {RUN_TIMEOUT:.0f} s; tasks {run.states}")
        time.sleep(0.25)
    run.seconds = time.monotonic() - started
    for task_id, map_index, key, value in postgres.query(
        "SELECT task_id, map_index, key, value FROM xcom WHERE dag_id = %s AND run_id = %s", dag_id, run.run_id
    ):
        run.xcoms[(task_id, map_index, key)] = _json(value)
    return run


def check_any_run(run: Run, sandbox: ThuliumSandbox) -> None:
    """What must hold for every DAG: all tasks done, and XCom agrees with the sandbox's records."""
    assert run.state == "success", f"{run.dag_id}: run {run.state}, tasks {run.states}"
    assert run.states and set(run.states.values()) <= {"success", "skipped"}, f"{run.dag_id}: {run.states}"
    for (task_id, map_index, key), summary in run.xcoms.items():
        if key != "summary":
            continue
        where = f"{run.dag_id}.{_name(task_id, map_index)}"
        results = run.xcoms[(task_id, map_index, "return_value")]
        if "results_path" in summary:
            assert results == summary["results_path"], where  # the results are in that file
            continue
        if summary.get("dry_run"):
            assert (summary["succeeded"], summary["failed"]) == (0, 0), where  # a plan: nothing applied
            assert len(results) == summary["phones"], where  # every planned phone has its entry
            continue
        assert summary["succeeded"] + summary["failed"] == summary["phones"], where
        assert set(summary["failed_phones"]) <= set(results), where
        campaign = summary["campaign_id"]
        for phone, result in results.items():
            records = sandbox.state.find(campaign, phone, additional=True)
            if summary["operation"] == "delete" and all(entry["status"] == "REMOVED" for entry in result):
                assert records == [], f"{where}: {phone} is REMOVED in XCom but still in campaign {campaign}"
            if summary["operation"] == "update" and str(result.get("http_status")).startswith("2"):
                assert records, f"{where}: {phone} was updated but has no record in campaign {campaign}"


def prepare_deferrable(sandbox: ThuliumSandbox) -> None:
    """Record 48500100203 is in a call at the first DELETE; the call ends when the retry arrives."""
    sandbox.add_fault(
        Fault(method="DELETE", after=1, action=lambda s: s.state.set_in_call("00001", "48500100203", False))
    )


def check_opt_out(run: Run, sandbox: ThuliumSandbox, report_dir: Path) -> None:
    assert run.states == {"read_opt_outs": "success", "remove_opt_outs": "success", "report_outcomes": "success"}
    results = run.xcoms[("remove_opt_outs", -1, "return_value")]
    assert [entry["status"] for entry in results["48500100201"]] == ["REMOVED", "REMOVED"]
    assert results["48999000111"][0]["status"] == "NOT_EXIST"
    assert (report_dir / "thulium_opt_out_report.csv").exists()


def check_crm(run: Run, sandbox: ThuliumSandbox, report_dir: Path) -> None:
    assert run.states["all_synced"] == "skipped" and run.states["follow_up_failures"] == "success"
    assert run.xcoms[("follow_up_failures", -1, "return_value")][0]["message"] == "Record not found."
    (record,) = sandbox.state.find("00001", "48500100207")
    assert (record["status_id"], record["agent_login"]) == (4, "j.doe")


def check_crm_sync(run: Run, sandbox: ThuliumSandbox, report_dir: Path) -> None:
    # The leads came from PostgreSQL (SqlSource on the crm_db connection); results went to a file.
    assert run.states == {"results_files": "success", "sync_campaign": "success", "report_campaign": "success"}
    summary = run.xcoms[("sync_campaign", -1, "summary")]
    assert summary["dry_run"] is False and summary["plan"]["excluded"] == 1
    assert run.xcoms[("sync_campaign", -1, "return_value")] == str(report_dir / "crm_sync_leads.csv")
    with (report_dir / "crm_sync_leads.csv").open() as file:
        synced = {row["phone_number"]: row["outcome"] for row in csv.DictReader(file)}
    assert synced == {phone: "ADDED" for phone in ("48600100300", "48600100301", "48600100302", "48600100303")} | {
        "48600100201": "UPDATED",
        "48500100200": "REMOVED",
        "48600100200": "REMOVED",  # the opt-out (exclude)
    }
    (called_back,) = sandbox.state.find("00002", "48600100302")
    assert (called_back["status_id"], called_back["next_call_date"]) == (23, "2030-08-01 09:00")  # a timestamp
    (edited,) = sandbox.state.find("00002", "48600100201")
    assert (edited["status_id"], edited["record_fields"]) == (22, {"crm_id": "C-1014"})  # the agent's status kept
    assert sandbox.state.find("00002", "48600100200") == []
    assert (report_dir / "thulium_campaign_00002.csv").exists()


def check_scale_out(run: Run, sandbox: ThuliumSandbox, report_dir: Path) -> None:
    assert run.xcoms[("total", -1, "return_value")] == {"NOT_EXIST": 2, "REMOVED": 7}  # both mapped tasks
    assert sandbox.state.find("00002", "48500100200") == []


def check_deferrable(run: Run, sandbox: ThuliumSandbox, report_dir: Path) -> None:
    assert run.states == {"delete_in_call": "success"}
    assert "deferred" in run.seen["delete_in_call"], f"never seen deferred: {run.seen}"
    assert (WAIT_TRIGGER, True) in run.triggers, f"the trigger was not taken by a triggerer: {run.triggers}"
    results = run.xcoms[("delete_in_call", -1, "return_value")]
    assert results["48500100203"][0]["status"] == "REMOVED"
    summary = run.xcoms[("delete_in_call", -1, "summary")]
    assert (summary["requests"], summary["batches"]) == (2, 2)
    deletes = [r for r in sandbox.requests if r.method == "DELETE"]
    assert [r.query["phone_number[]"] for r in deletes] == [["48500100203", "48500100204"], ["48500100203"]]
    assert sandbox.state.find("00001", "48500100203") == []


def check_campaign_producer(run: Run, sandbox: ThuliumSandbox, report_dir: Path) -> None:
    added = run.xcoms[("add_leads", -1, "return_value")]
    assert {entry["status"] for entry in added.values()} == {"ADDED"}


def warehouse_rows(postgres: Postgres) -> list[tuple[Any, ...]]:
    """thulium_call_outcomes' table in the PostgreSQL database of the ``warehouse`` connection."""
    from contextlib import closing

    import psycopg2

    with closing(psycopg2.connect(postgres.dsn("warehouse"))) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT record_id, outcome, called_at, note FROM call_outcomes ORDER BY record_id")
        return cursor.fetchall()


def check_call_outcomes(run: Run, sandbox: ThuliumSandbox, report_dir: Path) -> None:
    assert run.states == {
        "export_outcomes": "success",
        "wait_until_called_through": "success",
        "report_outcomes": "success",
    }
    summary = run.xcoms[("export_outcomes", -1, "return_value")]
    assert summary["filters"] == {"called_from": "2025-03-08", "called_to": "2025-03-08"}
    assert (summary["rows"], summary["table"], summary["conn_id"]) == (2, "call_outcomes", "warehouse")
    assert run.xcoms[("report_outcomes", -1, "return_value")] == {"Call back later": 1, "Not interested": 1}


def check_campaign_called_through(run: Run, sandbox: ThuliumSandbox, report_dir: Path) -> None:
    assert run.states == {"export_final_outcomes": "success"}
    with (report_dir / "campaign_00002_final_outcomes.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert [row["phone_number"] for row in rows] == [r["phone_number"] for r in sandbox.state.records("00002")]
    assert {row["status"] for row in rows} == {"Not interested"}


def call_campaign_00002_through(sandbox: ThuliumSandbox) -> None:
    """The dialler works through campaign 00002: every record ends "Not interested" (NO_CALL)."""
    for record in sandbox.state.records("00002"):
        sandbox.state.update_record("00002", record["record_id"], status_id=25, call_date="2025-03-12 11:00")


def check_campaign_report(run: Run, sandbox: ThuliumSandbox, report_dir: Path) -> None:
    assert run.states == {"report_statuses": "success"}
    counts = run.xcoms[("report_statuses", -1, "return_value")]
    assert counts and all(isinstance(count, int) for count in counts.values()), counts


# DAGs scheduled on an asset → the DAG whose run records its event. The scheduler creates their runs
# (not `airflow dags trigger`), which it does only with job scheduling on: after every other DAG ran.
ASSET_TRIGGERED = {"thulium_campaign_report": "thulium_campaign_producer"}
# DAGs scheduled on an asset an AssetWatcher feeds → what makes its trigger fire (in the triggerer,
# which has run the watcher's trigger since the DAG was parsed: it has seen the campaign with records
# left to call on every reset, and fires when they are gone).
WATCHED = {"thulium_campaign_called_through": call_campaign_00002_through}
# `airflow dags trigger` options: the day of the demo data's calls (Airflow 3 dates a run triggered by hand
# from now, so the example DAG takes a day in its conf).
TRIGGER_OPTIONS = {"thulium_call_outcomes": ("--conf", json.dumps({"day": "2025-03-08"}))}

# Set-up and checks for the DAGs known today; a DAG added later gets the checks of check_any_run.
PREPARE: dict[str, Callable[[ThuliumSandbox], None]] = {DEFERRABLE_DAG: prepare_deferrable}
CHECKS: dict[str, Callable[[Run, ThuliumSandbox, Path], None]] = {
    "thulium_opt_out_sync": check_opt_out,
    "thulium_crm_status_sync": check_crm,
    "thulium_crm_sync": check_crm_sync,
    "thulium_scale_out": check_scale_out,
    "thulium_campaign_producer": check_campaign_producer,
    "thulium_campaign_report": check_campaign_report,
    DEFERRABLE_DAG: check_deferrable,
    "thulium_call_outcomes": check_call_outcomes,
    "thulium_campaign_called_through": check_campaign_called_through,
}


def rerun_call_outcomes_with_a_changed_outcome(postgres: Postgres, airflow: Airflow, sandbox: ThuliumSandbox) -> str:
    """The same day again after record 1011 was called again that day: its one row is replaced (the key)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    warsaw = ZoneInfo("Europe/Warsaw")
    first = warehouse_rows(postgres)
    assert first == [
        (1010, "Not interested", datetime(2025, 3, 8, 9, 30, tzinfo=warsaw), "Has a contract elsewhere."),
        (1011, "Call back later", datetime(2025, 3, 8, 9, 40, tzinfo=warsaw), "Call after payday."),
    ]
    sandbox.state.update_record("00001", 1011, status_id=9, call_date="2025-03-08 18:05", last_note="No.")
    run = trigger_and_wait(postgres, airflow, "thulium_call_outcomes", *TRIGGER_OPTIONS["thulium_call_outcomes"])
    assert run.state == "success", run.states
    assert warehouse_rows(postgres) == [
        first[0],
        (1011, "Not interested", datetime(2025, 3, 8, 18, 5, tzinfo=warsaw), "No."),
    ]
    return f"thulium_call_outcomes again, outcome changed: {run.state} in {run.seconds:.1f} s (one row replaced)"


def test_every_dag_runs_in_a_production_shaped_airflow() -> None:
    files = dag_files(EXAMPLES)
    assert len(files) >= 3
    base = Path(tempfile.mkdtemp(prefix="thulium-system-"))
    report_dir = base / "reports"
    timings: list[str] = []
    started = time.monotonic()
    try:
        with ThuliumSandbox() as sandbox:
            extra_env = {
                "AIRFLOW_CONN_THULIUM_DEFAULT": sandbox.connection_json(),
                "THULIUM_REPORT_DIR": str(report_dir),
            }
            warehouse = base / "warehouse.sql"
            warehouse.write_text("SELECT 1")  # thulium_call_outcomes creates its table
            crm = {
                "crm_db": EXAMPLES / "data" / "crm_leads.sql",  # thulium_crm_sync's leads, in PostgreSQL
                "warehouse": warehouse,  # thulium_call_outcomes' outcomes, in PostgreSQL
            }
            with deployment(base, extra_env, [EXAMPLES], crm) as (postgres, airflow):
                up = time.monotonic() - started
                timings.append(f"PostgreSQL, db migrate, 4 Airflow processes healthy: {up:.1f} s")
                dags_by_file = wait_until_parsed(postgres, airflow, files)
                dag_ids = [dag_id for f in files for dag_id in dags_by_file[f]]
                assert DEFERRABLE_DAG in dag_ids and "thulium_opt_out_sync" in dag_ids
                assert set(ASSET_TRIGGERED.items()) <= {(c, p) for c in dag_ids for p in dag_ids}
                assert set(WATCHED) <= set(dag_ids)
                for dag_id in [dag_id for dag_id in dag_ids if dag_id not in ASSET_TRIGGERED and dag_id not in WATCHED]:
                    sandbox.reset()
                    PREPARE.get(dag_id, lambda s: None)(sandbox)
                    run = trigger_and_wait(postgres, airflow, dag_id, *TRIGGER_OPTIONS.get(dag_id, ()))
                    check_any_run(run, sandbox)
                    CHECKS.get(dag_id, lambda *a: None)(run, sandbox, report_dir)
                    timings.append(f"{dag_id}: {run.state} in {run.seconds:.1f} s, tasks {run.states}")
                    if dag_id == "thulium_call_outcomes":
                        timings.append(rerun_call_outcomes_with_a_changed_outcome(postgres, airflow, sandbox))
                # Job scheduling would also start the time-scheduled DAGs: all but the asset-scheduled
                # ones are paused first. Their producers' asset events are queued already.
                consumers = "|".join([*ASSET_TRIGGERED, *WATCHED])
                airflow.run("dags", "pause", f"^(?!({consumers})$)", "--treat-dag-id-as-regex", "-y")
                airflow.restart_scheduler(AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="True")
                for dag_id, producer in ASSET_TRIGGERED.items():
                    run = wait_for_asset_triggered_run(postgres, airflow, dag_id)
                    assert event_sources(postgres, run) == {producer}, f"{dag_id}: not run on {producer}'s event"
                    check_any_run(run, sandbox)
                    CHECKS.get(dag_id, lambda *a: None)(run, sandbox, report_dir)
                    timings.append(f"{dag_id} (on {producer}'s asset event): {run.state} in {run.seconds:.1f} s")
                for dag_id, make_it_fire in WATCHED.items():
                    sandbox.reset()
                    make_it_fire(sandbox)
                    run = wait_for_asset_triggered_run(postgres, airflow, dag_id)
                    assert event_sources(postgres, run) == {None}, f"{dag_id}: not run on a watcher's event"
                    (extra,) = asset_event_payloads(postgres, run)
                    payload = extra["payload"]
                    assert extra["from_trigger"] is True and payload["status"] == "success", extra
                    assert (payload["campaign_id"], payload["records"]) == ("00002", 0), payload
                    assert "4860" not in json.dumps(extra), "a phone number in the asset event"
                    check_any_run(run, sandbox)
                    CHECKS.get(dag_id, lambda *a: None)(run, sandbox, report_dir)
                    timings.append(f"{dag_id} (on its AssetWatcher's event): {run.state} in {run.seconds:.1f} s")
    finally:
        shutil.rmtree(base, ignore_errors=True)
        timings.append(f"total {time.monotonic() - started:.1f} s")
        print("\n" + "\n".join(timings))
