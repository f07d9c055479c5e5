"""The source case: an add of ``source_records`` records from a CSV file (a ``FileSource``) with results
to a JSON Lines file, against the same records from an in-memory list (results to a file too); and
the same file with its phones spelled four ways, read with ``phone_region``, against the plain file.

The list is built in the worker before the timed part; the files' reading and checking are timed.
"""

from __future__ import annotations

import statistics
from typing import Any

from inputs import Sizes, write_add_csv, write_spelled_csv
from report import fmt_int
from runner import Runner, in_child, median_run, pair_ratios

#: A source file with results to a file, against the same records from a list.
TARGET_SOURCE_VS_LIST = 1.1
#: Peak RSS above the interpreter at rest with a source and a results file.
TARGET_SOURCE_RSS_MB = 200.0
#: The file with its phones spelled four ways, read with ``phone_region``, against the same file
#: already in the campaign's spelling.
TARGET_SPELLED_VS_PLAIN = 1.1
#: Peak RSS above the interpreter at rest of the spelled file read with ``phone_region``.
TARGET_SPELLED_RSS_MB = 200.0
#: How the spelled file is read: each spelling is one number of the region, sent as the plain file's digits.
SPELLED_HOOK_PARAMS = {"phone_region": "PL", "phone_format": "digits"}


def _target(name: str, value: float, goal: float) -> dict[str, Any]:
    return {"name": name, "value": value, "op": "<=", "target": goal, "pass": value <= goal}


def run_source_case(runner: Runner, sizes: Sizes, repeat: int) -> dict[str, Any]:
    """Add the records from a CSV file, from a list and from the spelled CSV file, ``repeat`` times
    interleaved; their ratios and targets."""
    n = sizes.source_records
    csv_path = runner.workdir / "crm_export.csv"
    spelled_path = runner.workdir / "crm_export_spelled.csv"
    in_child(write_add_csv, csv_path, n)
    in_child(write_spelled_csv, spelled_path, n)
    cases: dict[str, dict[str, Any]] = {
        "add_source_csv": {"source_csv": str(csv_path)},
        "add_source_list": {},
        "add_source_csv_spelled": {"source_csv": str(spelled_path), "hook_params": SPELLED_HOOK_PARAMS},
    }
    groups: dict[str, list[dict[str, Any]]] = {key: [] for key in cases}
    for i in range(repeat):
        # Interleaved, so that drift on a shared machine hits the files and the list alike.
        for key, extra in cases.items():
            results_path = runner.workdir / f"{key}_{i + 1}.jsonl"
            groups[key].append(
                runner.run(f"{key}_{i + 1}", "provider", "add", n, results_path=str(results_path), **extra)
            )
            results_path.unlink(missing_ok=True)
    csv_path.unlink()
    spelled_path.unlink()
    ratios = pair_ratios(groups["add_source_csv"], groups["add_source_list"])
    cpu_ratios = pair_ratios(groups["add_source_csv"], groups["add_source_list"], "client_cpu_seconds")
    spelled_ratios = pair_ratios(groups["add_source_csv_spelled"], groups["add_source_csv"])
    spelled_cpu_ratios = pair_ratios(groups["add_source_csv_spelled"], groups["add_source_csv"], "client_cpu_seconds")
    time_ratio = statistics.median(ratios)
    spelled_time_ratio = statistics.median(spelled_ratios)
    rss = median_run(groups["add_source_csv"])["peak_rss_above_rest_mb"]
    spelled_rss = median_run(groups["add_source_csv_spelled"])["peak_rss_above_rest_mb"]
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
        "spelled_hook_params": SPELLED_HOOK_PARAMS,
        "spelled_ratio_per_repeat": spelled_ratios,
        "spelled_cpu_ratio_per_repeat": spelled_cpu_ratios,
        "spelled_time_ratio": spelled_time_ratio,
        "spelled_cpu_ratio": statistics.median(spelled_cpu_ratios),
        "spelled_peak_rss_above_rest_mb": spelled_rss,
        "targets": [
            _target(f"add {n_text} from CSV, results to a file: time / from a list", time_ratio, TARGET_SOURCE_VS_LIST),
            _target(f"add {n_text} from CSV, results to a file: peak RSS above rest (MB)", rss, TARGET_SOURCE_RSS_MB),
            _target(
                f"add {n_text} from CSV, phones spelled 4 ways, phone_region: time / from CSV as sent",
                spelled_time_ratio,
                TARGET_SPELLED_VS_PLAIN,
            ),
            _target(
                f"add {n_text} from CSV, phones spelled 4 ways, phone_region: peak RSS above rest (MB)",
                spelled_rss,
                TARGET_SPELLED_RSS_MB,
            ),
        ],
        "all_checks_ok": all(run["ok"] for runs in groups.values() for run in runs),
    }


def print_source_report(source: dict[str, Any]) -> None:
    """The source case's section of the printed report: each run, and the ratios."""
    print(
        f"Add {fmt_int(source['records'])} records with results to a JSON Lines file: from a CSV file vs a list, "
        "and from the CSV file with its phones spelled four ways (phone_region) vs as sent"
    )
    for key, runs in source["groups"].items():
        for run in runs:
            print(
                f"  {key:<22} {run['wall_seconds']:8.2f} s  client CPU {run['client_cpu_seconds']:7.2f} s  "
                f"input {run['input_above_rest_mb']:7.1f} MB  peak above rest {run['peak_rss_above_rest_mb']:7.1f} MB"
                f"  {'ok' if run['ok'] else 'CHECK FAILED'}"
            )
    print(
        f"  time, CSV file / list (median of per-repeat ratios): wall {source['time_ratio']:.2f}, "
        f"client CPU {source['cpu_ratio']:.2f}"
    )
    if "spelled_time_ratio" in source:
        settings = ", ".join(f"{key}={value}" for key, value in source["spelled_hook_params"].items())
        print(
            f"  time, spelled CSV file ({settings}) / CSV file as sent (median of per-repeat ratios): "
            f"wall {source['spelled_time_ratio']:.2f}, client CPU {source['spelled_cpu_ratio']:.2f}"
        )
