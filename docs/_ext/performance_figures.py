"""The performance page's figures, written from a ``make bench`` report (``benchmarks/results/latest.json``).

The page quotes no figure by hand: the build turns the report into Markdown, so what the page says
is what the run measured.
"""

from __future__ import annotations

import re
from typing import Any

# Which per-repeat ratios belong to a target, by a pattern of the target's name in the report.
_RATIO_OF_TARGET = {
    r"^delete: provider wall": "delete_provider_vs_handwritten",
    r"^update: provider wall": "update_provider_vs_handwritten",
    r"^add: provider wall": "add_provider_vs_handwritten",
    r"^delete: provider client CPU": "delete_provider_vs_handwritten_cpu",
    r"^update: provider client CPU": "update_provider_vs_handwritten_cpu",
    r"^add: provider client CPU": "add_provider_vs_handwritten_cpu",
    r"^50 ms latency": "concurrency_1_vs_8",
    r"from CSV, results to a file: time": "source_csv_vs_list",
    r"from CSV, phones spelled .*: time": "source_csv_spelled_vs_csv",
    r"^sync .*: time": "sync_vs_lower_bound",
    r"^export .* to parquet: time": "export_parquet_vs_lower_bound",
    r"^export .* to csv: time": "export_csv_vs_lower_bound",
}
_OPERATIONS = ("delete", "update", "add")


def _megabytes(size: float) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size:,.0f} bytes"


def _range(values: list[float]) -> str:
    return f"{min(values):.2f} to {max(values):.2f}" if len(values) > 1 else "one repeat"


def _targets(report: dict[str, Any]) -> list[str]:
    lines = ["| target | measured (per-repeat range) | |", "| --- | --- | --- |"]
    for target in report["targets"]:
        key = next((k for pattern, k in _RATIO_OF_TARGET.items() if re.search(pattern, target["name"])), None)
        spread = f" ({_range(report['ratio_per_repeat'][key])})" if key in report["ratio_per_repeat"] else ""
        value = f"{target['value']:.0f} MB" if "MB" in target["name"] else f"{target['value']:.2f}"
        verdict = "met" if target["pass"] else "**missed**"
        lines.append(f"| {target['name']} {target['op']} {target['target']:g} | **{value}**{spread} | {verdict} |")
    return lines


def _cases(report: dict[str, Any]) -> list[str]:
    lines = [
        "| case | phones | requests | wall s | client CPU s | sandbox CPU s | input list "
        "| peak memory above rest | XCom `return_value` |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in report["table"]:
        xcom = row.get("xcom_return_value_bytes")
        xcom_text = _megabytes(xcom) if xcom else ""
        if xcom and xcom >= 100_000:
            xcom_text += f" ({xcom / row['records']:.0f} bytes a phone)"
        lines.append(
            f"| {row['label']} | {row['records']:,} | {row['requests']:,} | {row['wall_seconds']:.2f} "
            f"| {row['client_cpu_seconds']:.2f} | {row['server_cpu_seconds']:.2f} "
            f"| {row['input_above_rest_mb']:.0f} MB | {row['peak_rss_above_rest_mb']:.0f} MB | {xcom_text} |"
        )
    return lines


def _runs_table(runs: list[dict[str, Any]], label: Any) -> list[str]:
    lines = [
        "| run | records | requests | wall s | client CPU s | peak memory above rest |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for run in runs:
        lines.append(
            f"| {label(run)} | {run['records']:,} | {run['requests']:,} | {run['wall_seconds']:.2f} "
            f"| {run['client_cpu_seconds']:.2f} | {run['peak_rss_above_rest_mb']:.0f} MB |"
        )
    return lines


def _source(report: dict[str, Any]) -> list[str]:
    source = report.get("source")
    if source is None:  # a report from before the source case
        return []
    runs = [run for runs in source["groups"].values() for run in runs]
    spelled = ""
    if "spelled_time_ratio" in source:  # a report from before the spelled file has none
        settings = ", ".join(f"`{key}={value!r}`" for key, value in source["spelled_hook_params"].items())
        spelled = (
            f" The same file with its phones spelled four ways in rotation (`+48 500 100 201`, `0048500100201`, "
            f"`500100201`, `+48500100201`), read with {settings} so that the same digits are sent, took "
            f"**{source['spelled_time_ratio']:.2f}** times the wall time and **{source['spelled_cpu_ratio']:.2f}** "
            f"times the client CPU of the file already in the campaign's spelling, with a peak of "
            f"{source['spelled_peak_rss_above_rest_mb']:.0f} MB above rest."
        )
    return [
        "",
        f"An add of {source['records']:,} records with results to a JSON Lines file, from a CSV file "
        f"(`FileSource`: read, checked and spooled in the timed part) and from a list built before it: the file "
        f"took **{source['time_ratio']:.2f}** times the list's wall time and **{source['cpu_ratio']:.2f}** times "
        f"its client CPU (medians of the per-repeat ratios), with a peak of "
        f"{source['peak_rss_above_rest_mb']:.0f} MB above rest against the list's "
        f"{source['list_peak_rss_above_rest_mb']:.0f} MB.{spelled} Every run:",
        "",
        *_runs_table(runs, _source_run_label),
    ]


def _source_run_label(run: dict[str, Any]) -> str:
    if not run.get("source_csv"):
        return "from a list"
    if run.get("hook_params"):
        return "from the CSV file, phones spelled four ways (phone_region)"
    return "from a CSV file"


def _sync(report: dict[str, Any]) -> list[str]:
    sync = report.get("sync")
    if sync is None:  # a report from before the sync's cases
        return []
    return [
        "",
        f"The sync, 1 % of the statuses changed: the operator took **{sync['time_ratio']:.2f}** times the wall "
        f"time and **{sync['cpu_ratio']:.2f}** times the client CPU of the hand-written lower bound (reading every "
        "page and sending the known changes; medians of the per-repeat ratios). Every run:",
        "",
        *_runs_table(
            sync["runs"], lambda run: "operator" if run["client"] == "provider" else "lower bound (hand-written)"
        ),
    ]


def _export(report: dict[str, Any]) -> list[str]:
    export = report.get("export")
    if export is None:  # a report from before the export's cases
        return []
    formats = ", ".join(
        f"{form} **{ratio:.2f}** times the wall time and **{export['cpu_ratio'][form]:.2f}** times the client CPU"
        for form, ratio in export["time_ratio"].items()
    )
    return [
        "",
        f"The export of every record of a {export['records']:,}-record campaign, {export['concurrency']} pages in "
        f"flight, against the hand-written lower bound (reading every page at the same concurrency, writing "
        f"nothing; medians of the per-repeat ratios): {formats}. Every run:",
        "",
        *_runs_table(
            export["runs"],
            lambda run: f"operator, {run['format']}" if run["client"] == "provider" else "lower bound (hand-written)",
        ),
    ]


def figures_markdown(report: dict[str, Any], source: str) -> str:
    """The run, its targets, every case and the ratios of ``report``, as Markdown.

    :param report: a report as ``benchmarks/run.py`` writes it.
    :param source: the report's file, named on the page.
    """
    machine, load, ratios = report["machine"], report["load_average_1min"], report["ratios"]
    packages = machine["packages"]
    capacity = report["capacity"]
    cpu = ", ".join(f"{op} **{ratios[f'{op}_provider_vs_handwritten_cpu']:.2f}**" for op in _OPERATIONS)
    latency = ", ".join(
        f"{run['max_concurrent_requests']} at once {run['wall_seconds']:.2f} s" for run in report["latency"]["runs"]
    )
    quick = " A `--quick` run (sizes ten times smaller): not the figures of a release." if report.get("quick") else ""
    lines = [
        f"The run of {report['generated_at'][:10]} (`{source}`): {machine['cpu_model']}, {machine['cpus_usable']} "
        f"cores, Python {machine['python']}, Airflow {packages['apache-airflow']}; {report['repeat']} repeat(s) per "
        f"case; 1-minute load average {load['before']:.1f} before the run and {load['after']:.1f} after.{quick}",
        "",
        *_targets(report),
        "",
        f"Client CPU time, provider / hand-written loop, in the same run (it hardly moves with the load): {cpu}. "
        f"The sandbox answered {capacity['headroom']:.1f} times the request rate the provider's delete needed "
        f"({capacity['requests_per_second']:.0f} requests/s from {capacity['clients']} raw clients), so it is not "
        f"the bottleneck. With {report['latency']['latency_seconds'] * 1000:.0f} ms of latency, "
        f"{report['latency']['records']:,} phones in batches of {report['latency']['max_batch_size']}: {latency}.",
        "",
        f"Every case, the median run of its repeats (the `summary` XCom is about "
        f"{report['table'][0]['xcom_summary_bytes']} bytes in each):",
        "",
        *_cases(report),
        *_source(report),
        *_sync(report),
        *_export(report),
    ]
    return "\n".join(lines) + "\n"
