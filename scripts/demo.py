"""`make demo`: the example DAGs in a real Airflow, against the sandbox, with what they did to the campaign.

Starts the sandbox as its own process, makes a throwaway AIRFLOW_HOME with SQLite, migrates it,
runs each example DAG with ``airflow dags test``, reads task states and XComs back from the
metadata database (``airflow dags test`` exits 0 even when a task fails), prints per-phone
results and the campaign before and after, and stops everything it started. Exits non-zero if
any task ended in a state other than the expected one.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGN = "00001"
AIRFLOW = str(Path(sys.executable).parent / "airflow")
#: Run options of DAGs whose window the demo data must fall in: thulium_call_outcomes exports one day's
#: calls (by default the day before its run), and the demo campaign's calls were made on 2025-03-08.
RUN_OPTIONS = {"thulium_call_outcomes": ["--conf", json.dumps({"day": "2025-03-08"})]}


def example_dag_ids() -> list[str]:
    """Every example DAG in dags_examples/, by the ``dag_id="…"`` each file gives its DAGs (one or more)."""
    files = sorted((ROOT / "dags_examples").glob("thulium_*.py"))
    return sorted(dag_id for path in files for dag_id in re.findall(r'dag_id="([^"]+)"', path.read_text()))


def start_sandbox(env: dict[str, str]) -> tuple[subprocess.Popen[str], str, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_thulium.sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    url = connection = ""
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("URL: "):
            url = line.split(" ", 1)[1].strip()
        if line.startswith("export AIRFLOW_CONN_THULIUM_DEFAULT="):
            connection = shlex.split(line.split("=", 1)[1])[0]
            break
    if not url or not connection:
        process.terminate()
        raise SystemExit("the sandbox did not start")
    return process, url, connection


def campaign_records(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/_sandbox/campaigns/{CAMPAIGN}/records", timeout=10) as answer:  # noqa: S310
        return json.load(answer)


def show_campaign(title: str, records: list[dict[str, Any]]) -> None:
    from airflow_provider_thulium.privacy import mask_phone

    print(f"\n{title}: campaign {CAMPAIGN}, {len(records)} records")
    print(f"  {'id':>5}  {'phone':<6} {'status':>6}  {'agent':<8} {'next call':<16}  fields")
    for record in records:
        print(
            f"  {record['record_id']:>5}  {mask_phone(record['phone_number']):<6} {record['status_id']:>6}  "
            f"{record.get('agent_login') or '':<8} {record.get('next_call_date') or '':<16}  "
            f"{record.get('record_fields') or ''}{'  (in a call)' if record.get('in_call') else ''}"
        )


def show_dag_run(dag_id: str) -> list[str]:
    """Print task states and per-phone results of the DAG's latest run; return unexpected states."""
    from airflow_provider_thulium.privacy import mask_phone
    from airflow_provider_thulium.testing import latest_run, task_states, xcoms

    run = latest_run(dag_id)
    if run is None:
        return [f"{dag_id}: no run recorded"]
    print(f"\n== {dag_id}: run {run.state}")
    problems = []
    for name, state in sorted(task_states(run).items()):
        print(f"  task {name:<26} {state}")
        if state not in ("success", "skipped"):
            problems.append(f"{dag_id}.{name} ended {state}")
    results_by_task = xcoms(run, "return_value")
    for name, value in results_by_task.items():
        if isinstance(value, dict) and "rows" in value and "destination" in value:  # an export's summary
            print(f"  {name}: {value['rows']} record(s) of campaign {value['campaign_id']} to {value['destination']}")
    for name, summary in xcoms(run, "summary").items():
        print(
            f"  {name}: {summary['operation']} in campaign {summary['campaign_id']}: "
            f"{summary['outcomes']}, {summary['requests']} request(s), {summary['retries']} retries"
        )
        results = results_by_task.get(name)
        if isinstance(results, str):
            print(f"      every phone's result in {results}")
            continue
        for phone, entry in (results or {}).items():
            items = entry if isinstance(entry, list) else [entry]
            shown = ", ".join(
                f"{item.get('status') or 'HTTP ' + str(item.get('http_status'))}"
                + (f" ({item['message']})" if item.get("message") else "")
                for item in items
            )
            print(f"      {mask_phone(phone):<6} {shown}")
    return problems


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="thulium-demo-airflow-home-"))
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags_examples"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "THULIUM_REPORT_DIR": str(home / "reports"),
    }
    # thulium_crm_sync reads its leads from a CRM database: here a SQLite file holding its table.
    crm_db = home / "crm.db"
    with sqlite3.connect(crm_db) as db:
        db.executescript((ROOT / "dags_examples" / "data" / "crm_leads.sql").read_text())
    env["AIRFLOW_CONN_CRM_DB"] = json.dumps({"conn_type": "sqlite", "host": str(crm_db)})
    # thulium_call_outcomes loads call outcomes into a warehouse: here a SQLite file (the table is created).
    env["AIRFLOW_CONN_WAREHOUSE"] = json.dumps({"conn_type": "sqlite", "host": str(home / "warehouse.db")})
    sandbox, url, connection = start_sandbox(env)
    env["AIRFLOW_CONN_THULIUM_DEFAULT"] = connection
    os.environ.update(env)
    log_path = home / "airflow-dags-test.log"
    problems: list[str] = []
    try:
        print(f"Thulium sandbox at {url}; Airflow home {home} (SQLite)")
        with log_path.open("w") as log:
            subprocess.run([AIRFLOW, "db", "migrate"], env=env, stdout=log, stderr=log, check=True)
            before = campaign_records(url)
            for dag_id in example_dag_ids():
                print(f"running airflow dags test {dag_id} ...", flush=True)
                options = RUN_OPTIONS.get(dag_id, [])
                subprocess.run([AIRFLOW, "dags", "test", dag_id, *options], env=env, stdout=log, stderr=log, check=True)
        show_campaign("Before", before)
        for dag_id in example_dag_ids():
            problems += show_dag_run(dag_id)
        show_campaign("After", campaign_records(url))
        report = home / "reports" / "thulium_opt_out_report.csv"
        if report.exists():
            print(f"\nOpt-out report file: {report}")
    except subprocess.CalledProcessError as exc:
        problems.append(f"{' '.join(exc.cmd)} exited {exc.returncode}")
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    if problems:
        print("\nDemo FAILED:\n  " + "\n  ".join(problems) + f"\nAirflow output: {log_path}")
        return 1
    print("\nDemo finished: every task ended as expected.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
