"""Reporting: the machine a run was on, the table printed, and where the JSON goes."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from meters import MB

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }
    if hasattr(os, "sched_getaffinity"):
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = subprocess.run(
        [
            sys.executable,
            "-c",
            "import importlib.metadata as m, json; "
            "print(json.dumps({p: m.version(p) for p in "
            "('apache-airflow', 'airflow-provider-thulium', 'requests', 'urllib3')}))",
        ],
        capture_output=True,
        text=True,
    )
    if versions.returncode == 0:
        info["packages"] = json.loads(versions.stdout)
    return info


def fmt_int(value: float) -> str:
    """``value`` rounded, with thousands separated: ``1,000,000``."""
    return f"{value:,.0f}"


def print_report(report: dict[str, Any]) -> None:
    m = report["machine"]
    print()
    print(
        "Thulium provider benchmarks"
        + (" (QUICK: sizes 10x smaller, targets are set for full sizes)" if report["quick"] else "")
    )
    print(
        f"machine: {m['cpu_count']} CPUs ({m.get('cpus_usable', '?')} usable), {m.get('cpu_model', '?')}; "
        f"Python {m['implementation']} {m['python']}; {m['platform']}"
    )
    if "packages" in m:
        print("packages: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()))
    print(
        f"repeats per timed case: {report['repeat']} (median wall time shown; each run in a fresh process); "
        "ratios to a baseline are the median of per-repeat ratios"
    )
    print()
    header = (
        f"{'case':<34} {'records':>8} {'wall s':>7} {'records/s':>10} {'requests':>8} "
        f"{'cli CPU s':>9} {'srv CPU s':>9} {'rest MB':>8} {'input MB':>8} {'peak+MB':>8} {'XCom bytes':>11}"
    )
    print(header)
    print("-" * len(header))
    for row in report["table"]:
        xcom = row.get("xcom_return_value_bytes")
        label = row["label"]
        print(
            f"{label:<34} {fmt_int(row['records']):>8} {row['wall_seconds']:>7.2f} "
            f"{fmt_int(row['records_per_second']):>10} {row['requests']:>8} "
            f"{row['client_cpu_seconds']:>9.2f} {row['server_cpu_seconds']:>9.2f} {row['rss_rest_bytes'] / MB:>8.1f} "
            f"{row['input_above_rest_mb']:>8.1f} {row['peak_rss_above_rest_mb']:>8.1f} "
            f"{fmt_int(xcom) if xcom is not None else '-':>11}"
        )
    naive = report["naive_extrapolated"]
    print(
        f"{'  naive, EXTRAPOLATED to ' + fmt_int(naive['records']):<34} {fmt_int(naive['records']):>8} "
        f"{naive['wall_seconds']:>7.1f} {fmt_int(naive['records_per_second']):>10} {naive['requests']:>8}"
        "   (extrapolated from the sample's rate, not measured)"
    )
    print()
    print(
        "rest MB = RSS after imports, before the work; input MB = RSS added by building the input list; "
        "peak+MB = peak RSS above rest\n(input, work, and JSON-serialising the XComs included); "
        "cli CPU s / srv CPU s = CPU time the client / the sandbox process spent on the timed work."
    )
    print()
    lat = report["latency"]
    print(
        f"Latency: sandbox adds {lat['latency_seconds'] * 1000:.0f} ms to every answer; delete of "
        f"{fmt_int(lat['records'])} numbers, max_batch_size {lat['max_batch_size']}"
    )
    print(f"{'max_concurrent_requests':>24} {'wall s':>8} {'records/s':>10} {'requests':>9} {'speed-up':>9}")
    for row in lat["runs"]:
        speedup = lat["runs"][0]["wall_seconds"] / row["wall_seconds"]
        print(
            f"{row['max_concurrent_requests']:>24} {row['wall_seconds']:>8.2f} "
            f"{fmt_int(row['records_per_second']):>10} {row['requests']:>9} {speedup:>8.2f}x"
        )
    print()
    cap = report["capacity"]
    print(
        f"Sandbox capacity: {cap['clients']} raw http.client processes, {fmt_int(cap['phones'])} numbers in "
        f"{cap['requests']} DELETE batches: {cap['seconds']:.2f} s = {fmt_int(cap['requests_per_second'])} "
        f"requests/s ({fmt_int(cap['phones_per_second'])} numbers/s), sandbox CPU {cap['server_cpu_seconds']:.2f} s"
    )
    print(
        f"Provider delete needed {fmt_int(cap['provider_requests_per_second'])} requests/s: the sandbox has "
        f"{cap['headroom']:.1f}x that (sandbox CPU was {cap['provider_server_busy'] * 100:.0f}% of the provider's "
        "wall time)"
    )


def print_targets(report: dict[str, Any]) -> None:
    """The targets (PASS/FAIL), the per-repeat ratios, the client CPU ratios and the load."""
    print()
    print("Targets")
    for target in report["targets"]:
        print(
            f"  [{'PASS' if target['pass'] else 'FAIL'}] {target['name']:<72} {target['value']:>8.2f} "
            f"{target['op']} {target['target']:g}"
        )
    for key, values in report.get("ratio_per_repeat", {}).items():
        print(f"  per repeat, {key}: " + " ".join(f"{value:.2f}" for value in values))
    load = report["load_average_1min"]
    if load["before"] is not None:
        print(
            f"  info: 1-min load average {load['before']:.2f} before, {load['after']:.2f} after, on "
            f"{report['machine']['cpu_count']} CPUs (other work on the machine makes wall times noisy)"
        )
    if not report["all_checks_ok"]:
        print("\nWARNING: a correctness check failed (see 'ok' in the JSON): a result or the sandbox state was off.")
