"""The export's benchmark: every record of a 1,000,000-record campaign to Parquet and to CSV.

- time: ``ThuliumExportRecordsOperator(destination=FileDestination(...parquet|csv),
  hook_params={"max_concurrent_requests": 4}).execute()`` against the lower bound of a hand-written
  ``requests.Session`` loop that reads every page (100 a page) at the same concurrency, decodes it
  and counts its records, writing nothing. Five interleaved repeats (a repeat: Parquet, the
  bound, then CSV); target: the median per-repeat ratio <= 1.1 for each format;
- memory: the same runs' peak RSS above the interpreter at rest; target <= 150 MB.

Each run is checked: the summary's and the file's row counts are the campaign's, and the sandbox's
request count is the client's. Each case runs in a fresh process (``run.py --worker``) against the
sandbox process of ``run.py``; ``run.py --only export`` runs nothing else.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from baselines import new_session
from cases import FakeTaskInstance
from inputs import CAMPAIGN, CONN_ID
from meters import MB, cpu_seconds, current_rss_bytes, peak_rss_bytes
from report import fmt_int
from runner import pair_ratios, run_worker
from sandbox_process import SandboxProcess

TARGET_VS_LOWER_BOUND = 1.1
TARGET_RSS_MB = 150.0
CONCURRENCY = 4
FORMATS = ("parquet", "csv")
#: Every seeded record's last call (as the API writes it): every record has all three dates to convert.
CALL_DATE = "2025-03-08 10:15"
#: (records, repeats)
FULL = (1_000_000, 5)
QUICK = (100_000, 1)


def _case_provider(spec: dict[str, Any]) -> dict[str, Any]:
    from airflow_provider_thulium.destinations import FileDestination
    from airflow_provider_thulium.operators.thulium import ThuliumExportRecordsOperator

    path = Path(spec["path"])
    if path.suffix == ".parquet":
        import pyarrow.parquet  # noqa: F401  # a library, like Airflow: imported before the at-rest measurement

    rest = current_rss_bytes()
    operator = ThuliumExportRecordsOperator(
        task_id="bench_export",
        campaign_id=CAMPAIGN,
        destination=FileDestination(str(path)),
        hook_params={"max_concurrent_requests": spec["concurrency"]},
        thulium_conn_id=CONN_ID,
    )
    cpu, started = cpu_seconds(), time.perf_counter()
    summary = operator.execute({"ti": FakeTaskInstance()})  # type: ignore[arg-type]
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    peak = peak_rss_bytes()
    return {
        "wall_seconds": wall,
        "client_cpu_seconds": cpu,
        "requests": summary["requests"],
        "ok": summary["rows"] == spec["records"] == _rows_in(path),
        "rss_rest_bytes": rest,
        "peak_rss_bytes": peak,
        "file_bytes": path.stat().st_size,
    }


def _rows_in(path: Path) -> int:
    """The rows of the written file (not timed; after the peak RSS was read)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as parquet

        return int(parquet.ParquetFile(path).metadata.num_rows)
    with path.open("rb") as file:
        return sum(1 for _ in file) - 1  # the header


def _case_lower_bound(spec: dict[str, Any]) -> dict[str, Any]:
    session = new_session(spec)
    rest = current_rss_bytes()
    count = spec["records"]
    url = f"{spec['url'].rstrip('/')}/api/outbounds/{CAMPAIGN}/records"

    def page(offset: int) -> int:
        return len(session.get(url, params={"limit": 100, "offset": offset}, timeout=60).json()["result"])

    cpu, started = cpu_seconds(), time.perf_counter()
    with ThreadPoolExecutor(spec["concurrency"]) as pool:
        read = sum(pool.map(page, range(0, count, 100)))
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    return {
        "wall_seconds": wall,
        "client_cpu_seconds": cpu,
        "requests": -(-count // 100),
        "ok": read == count,
        "rss_rest_bytes": rest,
        "peak_rss_bytes": peak_rss_bytes(),
    }


#: The worker entries of ``run.py --worker``, by the spec's ``client``.
EXPORT_CASES = {"export_provider": _case_provider, "export_lower_bound": _case_lower_bound}


def _run_case(
    sandbox: SandboxProcess, env: dict[str, str], workdir: Path, client: str, count: int, file_format: str = ""
) -> dict[str, Any]:
    name = f"export-{client}-{file_format or 'read'}-{count}"
    spec = {
        "client": f"export_{client}",
        "records": count,
        "concurrency": CONCURRENCY,
        "path": str(workdir / f"{name}.{file_format}"),
        **sandbox.credentials(),
        "result_path": str(workdir / f"{name}.json"),
    }
    before = sandbox.stats()
    result = run_worker(spec, workdir / f"{name}.spec.json", env, timeout=1800)
    after = sandbox.stats()
    Path(spec["path"]).unlink(missing_ok=True)
    result.update(
        client=client,
        format=file_format or None,
        records=count,
        server_requests=after["requests"] - before["requests"],
        peak_rss_above_rest_mb=(result["peak_rss_bytes"] - result["rss_rest_bytes"]) / MB,
    )
    result["ok"] = bool(result["ok"] and result["server_requests"] == result["requests"])
    print(
        f"  export {client:<12} {file_format or '(read only)':<12} {count:>9,} {result['wall_seconds']:8.2f} s "
        f"{result['requests']:6d} requests peak+{result['peak_rss_above_rest_mb']:6.1f} MB  "
        f"{'ok' if result['ok'] else 'CHECK FAILED'}",
        flush=True,
    )
    return result


def run_export_cases(sandbox: SandboxProcess, env: dict[str, str], workdir: Path, quick: bool) -> dict[str, Any]:
    """Run the export's cases on ``sandbox``; return their runs, ratios and targets (as run.py reports them)."""
    count, repeat = QUICK if quick else FULL
    sandbox.seed(count, call_date=CALL_DATE)  # read only: one seed serves every run
    bounds: list[dict[str, Any]] = []
    providers: dict[str, list[dict[str, Any]]] = {file_format: [] for file_format in FORMATS}
    first, second = FORMATS
    for _ in range(repeat):
        # Interleaved, the bound between the two formats, so that drift on a shared machine hits each
        # export and the bound it is divided by alike.
        providers[first].append(_run_case(sandbox, env, workdir, "provider", count, first))
        bounds.append(_run_case(sandbox, env, workdir, "lower_bound", count))
        providers[second].append(_run_case(sandbox, env, workdir, "provider", count, second))
    ratios = {file_format: pair_ratios(runs, bounds) for file_format, runs in providers.items()}
    cpu_ratios = {form: pair_ratios(runs, bounds, "client_cpu_seconds") for form, runs in providers.items()}
    rss = {file_format: max(run["peak_rss_above_rest_mb"] for run in runs) for file_format, runs in providers.items()}
    n = fmt_int(count)
    targets = []
    for file_format in FORMATS:
        ratio = statistics.median(ratios[file_format])
        targets.append(
            {
                "name": f"export {n} records to {file_format}: time / read-every-page lower bound",
                "value": ratio,
                "op": "<=",
                "target": TARGET_VS_LOWER_BOUND,
                "pass": ratio <= TARGET_VS_LOWER_BOUND,
            }
        )
        targets.append(
            {
                "name": f"export {n} records to {file_format}: peak RSS above interpreter at rest (MB)",
                "value": rss[file_format],
                "op": "<=",
                "target": TARGET_RSS_MB,
                "pass": rss[file_format] <= TARGET_RSS_MB,
            }
        )
    runs = [*bounds, *(run for runs in providers.values() for run in runs)]
    return {
        "records": count,
        "concurrency": CONCURRENCY,
        "runs": runs,
        "ratio_per_repeat": ratios,
        "cpu_ratio_per_repeat": cpu_ratios,
        "time_ratio": {file_format: statistics.median(values) for file_format, values in ratios.items()},
        "cpu_ratio": {file_format: statistics.median(values) for file_format, values in cpu_ratios.items()},
        "peak_rss_above_rest_mb": rss,
        "targets": targets,
        "all_checks_ok": all(run["ok"] for run in runs),
    }


def print_export_report(export: dict[str, Any]) -> None:
    """The export's section of the printed report: each run, and the per-repeat ratios."""
    print(
        f"Export: every record of a {fmt_int(export['records'])}-record campaign to a file, "
        f"{export['concurrency']} pages in flight, vs reading every page by hand at the same concurrency"
    )
    for run in export["runs"]:
        print(
            f"  {run['client']:<12} {run['format'] or '(read only)':<12} {run['wall_seconds']:8.2f} s  "
            f"client CPU {run['client_cpu_seconds']:7.2f} s  {run['requests']:6d} requests  "
            f"peak above rest {run['peak_rss_above_rest_mb']:7.1f} MB"
        )
    for file_format, ratio in export["time_ratio"].items():
        print(
            f"  {file_format}: time / lower bound (median of per-repeat ratios): wall {ratio:.2f}, "
            f"client CPU {export['cpu_ratio'][file_format]:.2f}"
        )
