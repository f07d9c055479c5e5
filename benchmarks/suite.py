"""The suite: which cases run in which order, their medians and ratios, and the targets they are held to."""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from capacity import measure_capacity
from export_bench import run_export_cases
from inputs import (
    FULL,
    QUICK,
)
from report import RESULTS, fmt_int, machine_info
from runner import Runner, bench_env, median_run, pair_ratios
from sandbox_process import SandboxProcess
from source_case import run_source_case
from sync_bench import run_sync_cases

TARGET_VS_HANDWRITTEN = 1.05
TARGET_CPU_VS_HANDWRITTEN = 1.3
TARGET_VS_NAIVE = 20.0
TARGET_CONCURRENCY = 5.0
TARGET_RSS_MB = 200.0


def _load() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def start_runner(profile: bool) -> Runner:
    """A scratch folder, the sandbox process, and the runner of cases, warmed up."""
    workdir = Path(tempfile.mkdtemp(prefix="thulium-bench-"))
    print("starting the sandbox process ...", flush=True)
    sandbox = SandboxProcess()
    if profile:
        RESULTS.mkdir(parents=True, exist_ok=True)
    runner = Runner(sandbox, bench_env(sandbox, workdir), workdir, RESULTS if profile else None)
    print(f"sandbox at {sandbox.url}; running cases (each in a fresh process):", flush=True)
    # Warm-up: the first airflow import in a fresh AIRFLOW_HOME writes its config; not measured.
    runner.run("warmup", "provider", "delete", 1000)
    runner.runs.clear()
    return runner


def stop_runner(runner: Runner) -> None:
    """Stop the sandbox process and delete the scratch folder."""
    runner.sandbox.stop()
    shutil.rmtree(runner.workdir, ignore_errors=True)


def run_only(args: argparse.Namespace) -> dict[str, Any]:
    """``--only source``, ``--only sync`` or ``--only export``: that case alone, reported as in the full run."""
    sizes = QUICK if args.quick else FULL
    load_before = _load()
    machine = machine_info()
    runner = start_runner(args.profile)
    report: dict[str, Any] = {"quick": bool(args.quick), "machine": machine, "only": args.only}
    try:
        if args.only == "source":
            repeat = args.repeat if args.repeat is not None else (1 if args.quick else 3)
            report["source"] = run_source_case(runner, sizes, repeat)
        elif args.only == "sync":
            report["sync"] = run_sync_cases(runner.sandbox, runner.env, runner.workdir, args.quick)
        else:
            report["export"] = run_export_cases(runner.sandbox, runner.env, runner.workdir, args.quick)
    finally:
        stop_runner(runner)
    part = report[args.only]
    report.update(
        generated_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        targets=part["targets"],
        all_targets_pass=all(t["pass"] for t in part["targets"]),
        all_checks_ok=part["all_checks_ok"],
        load_average_1min={"before": load_before, "after": _load()},
    )
    return report


def run_benchmarks(args: argparse.Namespace) -> dict[str, Any]:
    sizes = QUICK if args.quick else FULL
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else 5)
    load_before = _load()
    print("machine info ...", flush=True)
    machine = machine_info()
    runner = start_runner(args.profile)
    sandbox = runner.sandbox
    n = sizes.records
    try:
        groups: dict[str, list[dict[str, Any]]] = {}
        for op in ("delete", "update", "add"):
            for i in range(repeat):
                # Interleaved, so that drift on a shared machine hits provider and baseline alike.
                for key, client in ((f"{op}_provider", "provider"), (f"{op}_handwritten", "handwritten")):
                    groups.setdefault(key, []).append(runner.run(f"{key}_{i + 1}", client, op, n))
            groups[f"{op}_provider_failures"] = [
                runner.run(f"{op}_provider_failures", "provider", op, n, xcom_results="failures")
            ]
        groups["delete_naive"] = [runner.run("delete_naive_sample", "naive", "delete", sizes.naive_sample)]

        by_concurrency: dict[int, list[dict[str, Any]]] = {1: [], 4: [], 8: []}
        for i in range(repeat):
            for concurrency, runs in by_concurrency.items():
                runs.append(
                    runner.run(
                        f"latency_c{concurrency}_{i + 1}",
                        "provider",
                        "delete",
                        sizes.latency_records,
                        latency=sizes.latency_seconds,
                        hook_params={"max_concurrent_requests": concurrency, "max_batch_size": sizes.latency_batch},
                        max_concurrent_requests=concurrency,
                    )
                )
        latency_runs = [median_run(runs) for runs in by_concurrency.values()]
        print("  sandbox capacity (raw clients) ...", flush=True)
        capacity = measure_capacity(sandbox, sizes)
        print("  the source case (benchmarks/source_case.py) ...", flush=True)
        source = run_source_case(runner, sizes, repeat)
        print("  the sync (benchmarks/sync_bench.py) ...", flush=True)
        sync = run_sync_cases(sandbox, runner.env, runner.workdir, args.quick)
        print("  the export (benchmarks/export_bench.py) ...", flush=True)
        export = run_export_cases(sandbox, runner.env, runner.workdir, args.quick)
    finally:
        stop_runner(runner)

    med = {key: median_run(runs) for key, runs in groups.items()}
    for key, runs in groups.items():
        med[key] = {**med[key], "wall_seconds_all_runs": [r["wall_seconds"] for r in runs]}
    labels = {
        "delete_provider": "delete: provider operator",
        "delete_provider_failures": "delete: provider, xcom 'failures'",
        "delete_handwritten": "delete: hand-written Session loop",
        "delete_naive": "delete: naive 1 request/phone",
        "update_provider": "update: provider operator",
        "update_provider_failures": "update: provider, xcom 'failures'",
        "update_handwritten": "update: hand-written Session loop",
        "add_provider": "add: provider operator",
        "add_provider_failures": "add: provider, xcom 'failures'",
        "add_handwritten": "add: hand-written Session loop",
    }
    order = list(labels)
    table = [{"label": labels[key], "key": key, **med[key]} for key in order]
    naive = med["delete_naive"]
    naive_extrapolated = {
        "records": n,
        "requests": n,
        "records_per_second": naive["records_per_second"],
        "wall_seconds": n / naive["records_per_second"],
        "extrapolated_from_sample": naive["records"],
    }
    provider_delete = med["delete_provider"]
    capacity["provider_requests_per_second"] = provider_delete["requests"] / provider_delete["wall_seconds"]
    capacity["headroom"] = capacity["requests_per_second"] / capacity["provider_requests_per_second"]
    capacity["provider_server_busy"] = provider_delete["server_cpu_seconds"] / provider_delete["wall_seconds"]

    # Ratios of a provider case to its baseline are the median of per-repeat ratios: the two runs of
    # a repeat are back to back, so a shift in the machine's speed between repeats (common on a
    # shared VM) changes both and cancels out, where a ratio of two separate medians would not.
    pairs = {
        "delete_provider_vs_handwritten": pair_ratios(groups["delete_provider"], groups["delete_handwritten"]),
        "update_provider_vs_handwritten": pair_ratios(groups["update_provider"], groups["update_handwritten"]),
        "add_provider_vs_handwritten": pair_ratios(groups["add_provider"], groups["add_handwritten"]),
        "concurrency_1_vs_8": pair_ratios(by_concurrency[1], by_concurrency[8]),
        "delete_provider_vs_handwritten_cpu": pair_ratios(
            groups["delete_provider"], groups["delete_handwritten"], "client_cpu_seconds"
        ),
        "update_provider_vs_handwritten_cpu": pair_ratios(
            groups["update_provider"], groups["update_handwritten"], "client_cpu_seconds"
        ),
        "add_provider_vs_handwritten_cpu": pair_ratios(
            groups["add_provider"], groups["add_handwritten"], "client_cpu_seconds"
        ),
        "source_csv_vs_list": source["ratio_per_repeat"],
        "source_csv_vs_list_cpu": source["cpu_ratio_per_repeat"],
        "source_csv_spelled_vs_csv": source["spelled_ratio_per_repeat"],
        "source_csv_spelled_vs_csv_cpu": source["spelled_cpu_ratio_per_repeat"],
        "sync_vs_lower_bound": sync["ratio_per_repeat"],
        "sync_vs_lower_bound_cpu": sync["cpu_ratio_per_repeat"],
        **{f"export_{form}_vs_lower_bound": values for form, values in export["ratio_per_repeat"].items()},
        **{f"export_{form}_vs_lower_bound_cpu": values for form, values in export["cpu_ratio_per_repeat"].items()},
    }
    ratios = {
        **{key: statistics.median(values) for key, values in pairs.items()},
        "naive_vs_provider_delete": naive_extrapolated["wall_seconds"] / provider_delete["wall_seconds"],
        "delete_peak_rss_above_rest_mb": provider_delete["peak_rss_above_rest_mb"],
        "update_peak_rss_above_rest_mb": med["update_provider"]["peak_rss_above_rest_mb"],
        "add_peak_rss_above_rest_mb": med["add_provider"]["peak_rss_above_rest_mb"],
        "sandbox_capacity_vs_provider_need": capacity["headroom"],
    }

    def target(name: str, value: float, op: str, goal: float) -> dict[str, Any]:
        passed = value <= goal if op == "<=" else value >= goal
        return {"name": name, "value": value, "op": op, "target": goal, "pass": passed}

    n_text = fmt_int(n)
    targets = [
        target(
            "delete: provider wall time / hand-written loop",
            ratios["delete_provider_vs_handwritten"],
            "<=",
            TARGET_VS_HANDWRITTEN,
        ),
        target(
            "update: provider wall time / hand-written loop",
            ratios["update_provider_vs_handwritten"],
            "<=",
            TARGET_VS_HANDWRITTEN,
        ),
        target(
            "add: provider wall time / hand-written loop",
            ratios["add_provider_vs_handwritten"],
            "<=",
            TARGET_VS_HANDWRITTEN,
        ),
        *(
            target(
                f"{op}: provider client CPU / hand-written loop",
                ratios[f"{op}_provider_vs_handwritten_cpu"],
                "<=",
                TARGET_CPU_VS_HANDWRITTEN,
            )
            for op in ("delete", "update", "add")
        ),
        target(
            f"delete: naive per-phone time (extrapolated) / provider, {n_text}",
            ratios["naive_vs_provider_delete"],
            ">=",
            TARGET_VS_NAIVE,
        ),
        target(
            f"{sizes.latency_seconds * 1000:.0f} ms latency: concurrency 1 time / concurrency 8 time",
            ratios["concurrency_1_vs_8"],
            ">=",
            TARGET_CONCURRENCY,
        ),
        target(
            f"delete {n_text} phones: peak RSS above interpreter at rest (MB)",
            ratios["delete_peak_rss_above_rest_mb"],
            "<=",
            TARGET_RSS_MB,
        ),
        target(
            f"update {n_text} records: peak RSS above interpreter at rest (MB)",
            ratios["update_peak_rss_above_rest_mb"],
            "<=",
            TARGET_RSS_MB,
        ),
        target(
            f"add {n_text} records: peak RSS above interpreter at rest (MB)",
            ratios["add_peak_rss_above_rest_mb"],
            "<=",
            TARGET_RSS_MB,
        ),
        *source["targets"],
        *sync["targets"],
        *export["targets"],
    ]
    all_runs = runner.runs
    return {
        "quick": bool(args.quick),
        "repeat": repeat,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine,
        "sizes": sizes.__dict__,
        "table": table,
        "naive_extrapolated": naive_extrapolated,
        "latency": {
            "latency_seconds": sizes.latency_seconds,
            "records": sizes.latency_records,
            "max_batch_size": sizes.latency_batch,
            "runs": latency_runs,
        },
        "capacity": capacity,
        "ratios": ratios,
        "ratio_per_repeat": pairs,
        "targets": targets,
        "all_targets_pass": all(t["pass"] for t in targets),
        "load_average_1min": {
            "before": load_before,
            "after": _load(),
        },
        "all_checks_ok": all(r["ok"] for r in all_runs)
        and capacity["ok"]
        and sync["all_checks_ok"]
        and export["all_checks_ok"],
        "source": source,
        "sync": sync,
        "export": export,
        "runs": all_runs,
    }
