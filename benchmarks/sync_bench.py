"""The sync's benchmark: a campaign made to match a desired set of the same size, 1 % of it changed.

- time: 200,000 desired records against a campaign of 200,000, 2,000 statuses differing, through
  ``ThuliumSyncCampaignOperator(update_fields=["status"]).execute()``, against the lower bound of
  a hand-written ``requests.Session`` loop that reads every page and sends the known changes in
  the provider's batch size (it compares nothing: it is given the changes);
- memory: 1,000,000 against 1,000,000, the desired records read from a CSV file (a ``FileSource``,
  written before the measured part: records given inline as a list are the caller's memory, not the
  plan's), the operator's peak RSS above the interpreter at rest (the file's reading and checking,
  the plan and the run included; "rest" is after the imports, pyarrow's for the CSV reader too).

Each case runs in a fresh process (``run.py --worker``) against the sandbox process of ``run.py``,
which runs them after the other cases (``run.py --only sync`` runs nothing else).
"""

from __future__ import annotations

import contextlib
import csv
import json
import statistics
import time
from pathlib import Path
from typing import Any

from baselines import new_session
from cases import FakeTaskInstance
from inputs import CAMPAIGN, CONN_ID, phones, provider_defaults
from meters import MB, cpu_seconds, current_rss_bytes, peak_rss_bytes
from report import fmt_int
from runner import in_child, pair_ratios, run_worker
from sandbox_process import SandboxProcess

TARGET_VS_LOWER_BOUND = 1.1
TARGET_RSS_MB = 200.0
CHANGED_EVERY = 100  # 1 % of the records: every 100th desired status differs
#: (records of the timed case, records of the memory case, repeats of the timed case)
FULL = (200_000, 1_000_000, 3)
QUICK = (20_000, 100_000, 1)


def desired(count: int) -> list[dict[str, Any]]:
    """The CRM's records: the campaign's status (1, as seeded) but for every 100th, which is moved on to 2."""
    return [
        {"phone_number": phone, "status_id": 2 if i % CHANGED_EVERY == 0 else 1}
        for i, phone in enumerate(phones(count))
    ]


def write_desired_csv(path: Path, count: int) -> None:
    """The records of :func:`desired` as a CRM export file."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["phone_number", "status_id"])
        writer.writerows([record["phone_number"], record["status_id"]] for record in desired(count))


def _case_provider(spec: dict[str, Any]) -> dict[str, Any]:
    from airflow_provider_thulium.operators.thulium import ThuliumSyncCampaignOperator
    from airflow_provider_thulium.sources import FileSource

    source = spec.get("source_csv")
    if source:
        with contextlib.suppress(ImportError):  # the csv module reads the file without it
            # A library, like Airflow: imported before the at-rest measurement (the CSV reader's).
            import pyarrow.compute
            import pyarrow.csv  # noqa: F401
    rest = current_rss_bytes()
    count = spec["records"]
    operator = ThuliumSyncCampaignOperator(
        task_id="bench_sync",
        campaign_id=CAMPAIGN,
        records=FileSource(source) if source else desired(count),
        update_fields=["status"],
        thulium_conn_id=CONN_ID,
        xcom_results="failures",
    )
    ti = FakeTaskInstance()
    cpu, started = cpu_seconds(), time.perf_counter()
    value = operator.execute({"ti": ti})  # type: ignore[arg-type]
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    json.dumps(value)
    summary = ti.xcoms["summary"]
    changed = count // CHANGED_EVERY
    return {
        "wall_seconds": wall,
        "client_cpu_seconds": cpu,
        "requests": summary["requests"],
        "ok": summary["outcomes"] == {"UNCHANGED": count - changed, "UPDATED": changed},
        "rss_rest_bytes": rest,
        "peak_rss_bytes": peak_rss_bytes(),
    }


def _case_lower_bound(spec: dict[str, Any]) -> dict[str, Any]:
    defaults = provider_defaults()
    session = new_session(spec)
    rest = current_rss_bytes()
    count = spec["records"]
    changes = [{"phone_number": p, "status_id": 2} for p in phones(count)[::CHANGED_EVERY]]
    url = f"{spec['url'].rstrip('/')}/api/outbounds/{CAMPAIGN}/records"
    cpu, started = cpu_seconds(), time.perf_counter()
    read, requests_sent, offset = 0, 0, 0
    while True:
        answer = session.get(url, params={"limit": 100, "offset": offset}, timeout=60).json()
        requests_sent += 1
        read += len(answer["result"])
        offset += 100
        if offset >= answer["count"]:
            break
    batch = defaults["max_batch_size"]
    answered = 0
    for start in range(0, len(changes), batch):
        put = session.put(
            f"{spec['url'].rstrip('/')}/api/batch/outbounds/{CAMPAIGN}/records",
            json={"records": changes[start : start + batch]},
            timeout=60,
        )
        requests_sent += 1
        answered += len(put.json())
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    return {
        "wall_seconds": wall,
        "client_cpu_seconds": cpu,
        "requests": requests_sent,
        "ok": read == count and answered == len(changes),
        "rss_rest_bytes": rest,
        "peak_rss_bytes": peak_rss_bytes(),
    }


#: The worker entries of ``run.py --worker``, by the spec's ``client``.
SYNC_CASES = {"sync_provider": _case_provider, "sync_lower_bound": _case_lower_bound}


def _run_case(
    sandbox: SandboxProcess, env: dict[str, str], workdir: Path, client: str, count: int, source_csv: Path | None = None
) -> dict[str, Any]:
    sandbox.seed(count)
    name = f"sync-{client}-{count}"
    spec: dict[str, Any] = {"client": f"sync_{client}", "records": count, **sandbox.credentials()}
    if source_csv is not None:
        spec["source_csv"] = str(source_csv)
    spec["result_path"] = str(workdir / f"{name}.json")
    before = sandbox.stats()
    result = run_worker(spec, workdir / f"{name}.spec.json", env, timeout=1800)
    after = sandbox.stats()
    result.update(
        client=client,
        records=count,
        server_requests=after["requests"] - before["requests"],
        peak_rss_above_rest_mb=(result["peak_rss_bytes"] - result["rss_rest_bytes"]) / MB,
    )
    # The sandbox agrees: exactly the 1 % moved on to status 2, and the client counted every request.
    result["ok"] = bool(
        result["ok"]
        and after["records_updated"] == count // CHANGED_EVERY
        and result["server_requests"] == result["requests"]
    )
    print(
        f"  sync {client:<12} {count:>9,} {result['wall_seconds']:8.2f} s {result['requests']:6d} requests "
        f"peak+{result['peak_rss_above_rest_mb']:6.1f} MB  {'ok' if result['ok'] else 'CHECK FAILED'}",
        flush=True,
    )
    return result


def run_sync_cases(sandbox: SandboxProcess, env: dict[str, str], workdir: Path, quick: bool) -> dict[str, Any]:
    """Run the sync's cases on ``sandbox``; return their runs, ratios and targets (as run.py reports them)."""
    timed, big, repeat = QUICK if quick else FULL
    providers, bounds = [], []
    for _ in range(repeat):
        # Interleaved, so that drift on a shared machine hits the provider and its bound alike.
        providers.append(_run_case(sandbox, env, workdir, "provider", timed))
        bounds.append(_run_case(sandbox, env, workdir, "lower_bound", timed))
    csv_path = workdir / "sync_desired.csv"
    in_child(write_desired_csv, csv_path, big)
    memory = _run_case(sandbox, env, workdir, "provider", big, source_csv=csv_path)
    csv_path.unlink()
    runs = [run for pair in zip(providers, bounds, strict=True) for run in pair] + [memory]
    ratios = pair_ratios(providers, bounds)
    cpu_ratios = pair_ratios(providers, bounds, "client_cpu_seconds")
    ratio = statistics.median(ratios)
    return {
        "runs": runs,
        "ratio_per_repeat": ratios,
        "cpu_ratio_per_repeat": cpu_ratios,
        "time_ratio": ratio,
        "cpu_ratio": statistics.median(cpu_ratios),
        "targets": [
            {
                "name": f"sync {timed:,} vs {timed:,}, 1 % changed: time / read-and-send lower bound",
                "value": ratio,
                "op": "<=",
                "target": TARGET_VS_LOWER_BOUND,
                "pass": ratio <= TARGET_VS_LOWER_BOUND,
            },
            {
                "name": f"sync {big:,} from a CSV file vs {big:,}: peak RSS above interpreter at rest (MB)",
                "value": memory["peak_rss_above_rest_mb"],
                "op": "<=",
                "target": TARGET_RSS_MB,
                "pass": memory["peak_rss_above_rest_mb"] <= TARGET_RSS_MB,
            },
        ],
        "all_checks_ok": all(run["ok"] for run in runs),
    }


def print_sync_report(sync: dict[str, Any]) -> None:
    """The sync's section of the printed report: each run, and the per-repeat ratios."""
    print("Sync: a campaign made to match a desired set of the same size, 1 % of the statuses changed")
    for run in sync["runs"]:
        print(
            f"  {run['client']:<12} {fmt_int(run['records']):>9} {run['wall_seconds']:8.2f} s  "
            f"client CPU {run['client_cpu_seconds']:7.2f} s  {run['requests']:6d} requests  "
            f"peak above rest {run['peak_rss_above_rest_mb']:7.1f} MB"
        )
    print(
        f"  time, provider / lower bound (median of per-repeat ratios): wall {sync['time_ratio']:.2f}, "
        f"client CPU {sync['cpu_ratio']:.2f}"
    )
