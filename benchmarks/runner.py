"""Running one case: seed the sandbox, start a fresh worker process, check the result and the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inputs import (
    CONN_ID,
    SEEDED,
)
from meters import MB
from sandbox_process import SandboxProcess

#: The script a case's worker process runs (``run.py --worker SPEC``).
RUN_PY = Path(__file__).resolve().parent / "run.py"


def pair_ratios(runs: list[dict[str, Any]], baselines: list[dict[str, Any]], key: str = "wall_seconds") -> list[float]:
    """Each repeat's run divided by the same repeat's baseline run."""
    return [run[key] / baseline[key] for run, baseline in zip(runs, baselines, strict=True)]


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median wall time (the lower middle one of an even count)."""
    ordered = sorted(runs, key=lambda r: r["wall_seconds"])
    return ordered[(len(ordered) - 1) // 2]


def bench_env(sandbox: SandboxProcess, workdir: Path) -> dict[str, str]:
    """The workers' environment: a throwaway AIRFLOW_HOME in ``workdir`` and the sandbox as the connection."""
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


def in_child(function: Any, *args: Any) -> None:
    """Call ``function(*args)`` in a spawned process and wait: for building a large input file.

    The orchestrating process stays small: a worker's ``ru_maxrss`` starts from this process's RSS
    (Linux carries the high-water mark across fork and exec). Workers read their own peak
    (``VmHWM``, see :func:`meters.peak_rss_bytes`), so this keeps the fallback honest elsewhere.
    """
    import multiprocessing

    process = multiprocessing.get_context("spawn").Process(target=function, args=args)
    process.start()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"{getattr(function, '__name__', function)} failed in its process ({process.exitcode})")


def run_worker(spec: dict[str, Any], spec_path: Path, env: dict[str, str], timeout: float = 600) -> dict[str, Any]:
    """Run ``spec`` in a fresh ``run.py --worker`` process; return what it wrote to ``spec["result_path"]``."""
    spec_path.write_text(json.dumps(spec))
    process = subprocess.run(
        [sys.executable, str(RUN_PY), "--worker", str(spec_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if process.returncode != 0:
        sys.stderr.write(process.stdout[-4000:] + process.stderr[-4000:])
        raise RuntimeError(f"case {spec_path.stem} failed (exit {process.returncode})")
    result: dict[str, Any] = json.loads(Path(spec["result_path"]).read_text())
    return result


@dataclass
class Runner:
    sandbox: SandboxProcess
    env: dict[str, str]
    workdir: Path
    profile_dir: Path | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)

    def run(self, name: str, client: str, operation: str, records: int, **extra: Any) -> dict[str, Any]:
        latency = extra.pop("latency", 0.0)
        self.sandbox.seed(records if SEEDED[operation] else 0, latency=latency)
        spec = {
            "client": client,
            "operation": operation,
            "records": records,
            **self.sandbox.credentials(),
            "result_path": str(self.workdir / f"{name}.result.json"),
            **extra,
        }
        if self.profile_dir is not None and client == "provider":
            spec["profile"] = str(self.profile_dir / f"profile-{name}.txt")
        before = self.sandbox.stats()
        load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        result = run_worker(spec, self.workdir / f"{name}.spec.json", self.env)
        after = self.sandbox.stats(phones=operation == "add")
        server_requests = after["requests"] - before["requests"]
        expected_left = 0 if operation == "delete" else records  # an add: every record added
        result.update(
            name=name,
            client=client,
            operation=operation,
            records=records,
            latency_seconds=latency,
            load_average_1min_before=load_before,
            server_requests=server_requests,
            server_cpu_seconds=after["cpu_seconds"] - before["cpu_seconds_end"],
            records_per_second=records / result["wall_seconds"],
            peak_rss_above_rest_mb=(result["peak_rss_bytes"] - result["rss_rest_bytes"]) / MB,
            peak_rss_execute_above_rest_mb=(result["peak_rss_execute_bytes"] - result["rss_rest_bytes"]) / MB,
            input_above_rest_mb=(result["rss_input_bytes"] - result["rss_rest_bytes"]) / MB,
            **{k: v for k, v in extra.items() if k != "profile"},
        )
        server_ok = (
            after["records_left"] == expected_left
            and (operation == "delete" or after["records_updated"] == records)
            and (operation != "add" or after["records_complete"] == after["records_with_their_phone"] == records)
        )
        result["ok"] = bool(result["ok"] and server_ok and server_requests == result["requests"])
        self.runs.append(result)
        status = "ok" if result["ok"] else "CHECK FAILED"
        print(
            f"  {name:<28} {result['wall_seconds']:8.2f} s  {result['requests']:6d} requests  {status}",
            flush=True,
        )
        return result
