"""The source case: an add of ``source_records`` records from a CSV file (a ``FileSource``) with results
to a JSON Lines file, against the same records from an in-memory list (results to a file too).

The list is built in the worker before the timed part; the file's reading and checking are timed.
"""

from __future__ import annotations

import statistics
from typing import Any

from inputs import Sizes, write_add_csv
from report import fmt_int
from runner import Runner, median_run, pair_ratios

#: A source file with results to a file, against the same records from a list.
TARGET_SOURCE_VS_LIST = 1.1
#: Peak RSS above the interpreter at rest with a source and a results file.
TARGET_SOURCE_RSS_MB = 200.0


def run_source_case(runner: Runner, sizes: Sizes, repeat: int) -> dict[str, Any]:
    """Add the records from a CSV file and from a list, ``repeat`` times interleaved; their ratios and targets."""
    n = sizes.source_records
    csv_path = runner.workdir / "crm_export.csv"
    write_add_csv(csv_path, n)
    groups: dict[str, list[dict[str, Any]]] = {"add_source_csv": [], "add_source_list": []}
    for i in range(repeat):
        # Interleaved, so that drift on a shared machine hits the file and the list alike.
        for key, extra in (("add_source_csv", {"source_csv": str(csv_path)}), ("add_source_list", {})):
            results_path = runner.workdir / f"{key}_{i + 1}.jsonl"
            groups[key].append(
                runner.run(f"{key}_{i + 1}", "provider", "add", n, results_path=str(results_path), **extra)
            )
            results_path.unlink(missing_ok=True)
    csv_path.unlink()
    ratios = pair_ratios(groups["add_source_csv"], groups["add_source_list"])
    cpu_ratios = pair_ratios(groups["add_source_csv"], groups["add_source_list"], "client_cpu_seconds")
    time_ratio = statistics.median(ratios)
    rss = median_run(groups["add_source_csv"])["peak_rss_above_rest_mb"]
    n_text = fmt_int(n)
    return {
        "records": n,
        "groups": groups,
        "ratio_per_repeat": ratios,
        "cpu_ratio_per_repeat": cpu_ratios,
        "time_ratio": time_ratio,
        "cpu_ratio": statistics.median(cpu_ratios),
        "peak_rss_above_rest_mb": rss,
        "list_peak_rss_above_rest_mb": median_run(groups["add_source_list"])["peak_rss_above_rest_mb"],
        "targets": [
            {
                "name": f"add {n_text} from CSV, results to a file: time / from a list",
                "value": time_ratio,
                "op": "<=",
                "target": TARGET_SOURCE_VS_LIST,
                "pass": time_ratio <= TARGET_SOURCE_VS_LIST,
            },
            {
                "name": f"add {n_text} from CSV, results to a file: peak RSS above rest (MB)",
                "value": rss,
                "op": "<=",
                "target": TARGET_SOURCE_RSS_MB,
                "pass": rss <= TARGET_SOURCE_RSS_MB,
            },
        ],
        "all_checks_ok": all(run["ok"] for runs in groups.values() for run in runs),
    }


def print_source_report(source: dict[str, Any]) -> None:
    """The source case's section of the printed report: each run, and the ratios."""
    print(f"Add {fmt_int(source['records'])} records with results to a JSON Lines file: from a CSV file vs a list")
    for key, runs in source["groups"].items():
        for run in runs:
            print(
                f"  {key:<16} {run['wall_seconds']:8.2f} s  client CPU {run['client_cpu_seconds']:7.2f} s  "
                f"input {run['input_above_rest_mb']:7.1f} MB  peak above rest {run['peak_rss_above_rest_mb']:7.1f} MB"
            )
    print(
        f"  time, CSV file / list (median of per-repeat ratios): wall {source['time_ratio']:.2f}, "
        f"client CPU {source['cpu_ratio']:.2f}"
    )
