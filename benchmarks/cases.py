"""The provider's measured case, run in a fresh child process (``run.py --worker``), and the worker entry.

The baselines it is compared with are in :mod:`baselines`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from baselines import case_handwritten, case_naive
from inputs import (
    CAMPAIGN,
    CONN_ID,
    SOURCE_COLUMNS,
    SUCCESS,
    add_records,
    phones,
    update_records,
)
from meters import cpu_seconds, current_rss_bytes, peak_rss_bytes


class FakeTaskInstance:
    """Just enough of a TaskInstance for execute(): xcom_push keeps what was pushed."""

    def __init__(self) -> None:
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any, **kwargs: Any) -> None:
        self.xcoms[key] = value


def _case_provider(spec: dict[str, Any]) -> dict[str, Any]:
    """Through the operator's code path: ThuliumDelete/Update/AddRecordsOperator(...).execute(context)."""
    from airflow_provider_thulium.operators.thulium import (
        ThuliumAddRecordsOperator,
        ThuliumDeleteRecordsOperator,
        ThuliumUpdateRecordsOperator,
    )
    from airflow_provider_thulium.sources import FileSource

    rest_rss, rest_peak = current_rss_bytes(), peak_rss_bytes()
    count = spec["records"]
    common = {
        "campaign_id": CAMPAIGN,
        "thulium_conn_id": CONN_ID,
        "xcom_results": spec.get("xcom_results", "all"),
        "hook_params": spec.get("hook_params") or {},
        "results_path": spec.get("results_path"),
    }
    if spec["operation"] == "delete":
        operator: Any = ThuliumDeleteRecordsOperator(task_id="bench_delete", phone_numbers=phones(count), **common)
    elif spec["operation"] == "update":
        operator = ThuliumUpdateRecordsOperator(task_id="bench_update", records=update_records(count), **common)
    else:
        # The source case: the same records from a CRM export file, read (and checked) in the timed part.
        records: Any = FileSource(spec["source_csv"], columns=SOURCE_COLUMNS) if spec.get("source_csv") else None
        operator = ThuliumAddRecordsOperator(task_id="bench_add", records=records or add_records(count), **common)
    input_rss = current_rss_bytes()
    ti = FakeTaskInstance()
    context = {"ti": ti}
    profiler = None
    if spec.get("profile"):
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    cpu, started = cpu_seconds(), time.perf_counter()
    value = operator.execute(context)  # type: ignore[arg-type]
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    if profiler is not None:
        profiler.disable()
    peak_execute = peak_rss_bytes()
    ti.xcoms.setdefault("return_value", value)
    # What a task runner does next: serialise the XComs (JSON here, as an approximation).
    return_bytes = len(json.dumps(ti.xcoms["return_value"]).encode())
    summary = ti.xcoms["summary"]
    summary_bytes = len(json.dumps(summary).encode())
    peak_xcom = peak_rss_bytes()
    if profiler is not None:
        import io
        import pstats

        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
        out.write("\n\n")
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
        Path(spec["profile"]).write_text(out.getvalue())
    success = SUCCESS[spec["operation"]]
    return {
        "wall_seconds": wall,
        "client_cpu_seconds": cpu,
        "requests": summary["requests"],
        "batches": summary["batches"],
        "retries": summary["retries"],
        "outcomes": summary["outcomes"],
        "ok": summary["outcomes"] == {success: count} and summary["stopped_by"] is None,
        "rss_rest_bytes": rest_rss,
        "peak_rss_rest_bytes": rest_peak,
        "rss_input_bytes": input_rss,
        "peak_rss_execute_bytes": peak_execute,
        "peak_rss_bytes": peak_xcom,
        "xcom_return_value_bytes": return_bytes,
        "xcom_summary_bytes": summary_bytes,
    }


#: The worker entries of ``run.py --worker``, by the spec's ``client``.
CASES = {"provider": _case_provider, "handwritten": case_handwritten, "naive": case_naive}


def worker_main(spec_path: str, cases: dict[str, Callable[[dict[str, Any]], dict[str, Any]]]) -> int:
    """Run the case ``spec_path`` describes with its entry in ``cases``; write its result where the spec says."""
    spec = json.loads(Path(spec_path).read_text())
    result = cases[spec["client"]](spec)
    Path(spec["result_path"]).write_text(json.dumps(result))
    return 0
