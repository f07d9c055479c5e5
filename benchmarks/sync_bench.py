"""The sync's benchmark: a campaign made to match a desired set of the same size, 1 % of it changed.

- time: 200,000 desired records against a campaign of 200,000, 2,000 statuses differing, through
  ``ThuliumSyncCampaignOperator(update_fields=["status"]).execute()``, against the lower bound of
  a hand-written ``requests.Session`` loop that reads every page and sends the known changes in
  the provider's batch size (it compares nothing: it is given the changes);
- memory: 1,000,000 against 1,000,000, the operator's peak RSS above the interpreter at rest
  (the desired records, the plan and the run included).

Each case runs in a fresh process against the sandbox process of ``run.py``. Standalone:
``python benchmarks/sync_bench.py [--quick]``; ``run.py`` runs it too (``run.py --only-sync``
runs nothing else).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from run import (
    CAMPAIGN,
    CONN_ID,
    MB,
    SandboxProcess,
    _FakeTaskInstance,
    _session,
    cpu_seconds,
    current_rss_bytes,
    peak_rss_bytes,
    phones,
    provider_defaults,
)

TARGET_VS_LOWER_BOUND = 1.1
TARGET_RSS_MB = 400.0
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


def _case_provider(spec: dict[str, Any]) -> dict[str, Any]:
    from airflow_provider_thulium.operators.thulium import ThuliumSyncCampaignOperator

    rest = current_rss_bytes()
    count = spec["records"]
    operator = ThuliumSyncCampaignOperator(
        task_id="bench_sync",
        campaign_id=CAMPAIGN,
        records=desired(count),
        update_fields=["status"],
        thulium_conn_id=CONN_ID,
        xcom_results="failures",
    )
    ti = _FakeTaskInstance()
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
    session = _session(spec)
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


_CASES = {"provider": _case_provider, "lower_bound": _case_lower_bound}


def _run_case(sandbox: SandboxProcess, env: dict[str, str], workdir: Path, client: str, count: int) -> dict[str, Any]:
    sandbox.seed(count)
    spec = {"client": client, "records": count, "url": sandbox.url, "login": sandbox.login}
    spec |= {"password": sandbox.password, "result_path": str(workdir / f"sync-{client}-{count}.json")}
    spec_path = workdir / f"sync-{client}-{count}.spec.json"
    spec_path.write_text(json.dumps(spec))
    before = sandbox.stats()
    process = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", str(spec_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if process.returncode != 0:
        sys.stderr.write(process.stdout[-4000:] + process.stderr[-4000:])
        raise RuntimeError(f"sync case {client} {count} failed (exit {process.returncode})")
    result: dict[str, Any] = json.loads(Path(spec["result_path"]).read_text())
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
    ratios, runs = [], []
    for _ in range(repeat):
        # Interleaved, so that drift on a shared machine hits the provider and its bound alike.
        provider = _run_case(sandbox, env, workdir, "provider", timed)
        bound = _run_case(sandbox, env, workdir, "lower_bound", timed)
        runs += [provider, bound]
        ratios.append(provider["wall_seconds"] / bound["wall_seconds"])
    memory = _run_case(sandbox, env, workdir, "provider", big)
    runs.append(memory)
    ratio = statistics.median(ratios)
    return {
        "runs": runs,
        "ratio_per_repeat": ratios,
        "targets": [
            {
                "name": f"sync {timed:,} vs {timed:,}, 1 % changed: time / read-and-send lower bound",
                "value": ratio,
                "op": "<=",
                "target": TARGET_VS_LOWER_BOUND,
                "pass": ratio <= TARGET_VS_LOWER_BOUND,
            },
            {
                "name": f"sync {big:,} vs {big:,}: peak RSS above interpreter at rest (MB)",
                "value": memory["peak_rss_above_rest_mb"],
                "op": "<=",
                "target": TARGET_RSS_MB,
                "pass": memory["peak_rss_above_rest_mb"] <= TARGET_RSS_MB,
            },
        ],
        "all_checks_ok": all(run["ok"] for run in runs),
    }


def bench_env(sandbox: SandboxProcess, workdir: Path) -> dict[str, str]:
    """The workers' environment: a throwaway AIRFLOW_HOME and the sandbox as the connection."""
    home = workdir / "airflow-home"
    (home / "dags").mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        f"AIRFLOW_CONN_{CONN_ID.upper()}": sandbox.connection_json(),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10x smaller sizes, one run")
    parser.add_argument("--worker", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        spec = json.loads(Path(args.worker).read_text())
        Path(spec["result_path"]).write_text(json.dumps(_CASES[spec["client"]](spec)))
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="thulium-sync-bench-"))
    sandbox = SandboxProcess()
    try:
        report = run_sync_cases(sandbox, bench_env(sandbox, workdir), workdir, args.quick)
    finally:
        sandbox.stop()
    for target in report["targets"]:
        verdict = "PASS" if target["pass"] else "FAIL"
        print(f"  [{verdict}] {target['name']:<70} {target['value']:>8.2f} {target['op']} {target['target']:g}")
    print("  per repeat: " + " ".join(f"{value:.2f}" for value in report["ratio_per_repeat"]))
    return 0 if report["all_checks_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
