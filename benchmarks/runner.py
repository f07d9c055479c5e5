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
    SEEDED,
)
from meters import MB
from sandbox_process import SandboxProcess

#: The script a case's worker process runs (``run.py --worker SPEC``).
RUN_PY = Path(__file__).resolve().parent / "run.py"


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
            "url": self.sandbox.url,
            "login": self.sandbox.login,
            "password": self.sandbox.password,
            "result_path": str(self.workdir / f"{name}.result.json"),
            **extra,
        }
        if self.profile_dir is not None and client == "provider":
            spec["profile"] = str(self.profile_dir / f"profile-{name}.txt")
        spec_path = self.workdir / f"{name}.spec.json"
        spec_path.write_text(json.dumps(spec))
        before = self.sandbox.stats()
        load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        process = subprocess.run(
            [sys.executable, str(RUN_PY), "--worker", str(spec_path)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if process.returncode != 0:
            sys.stderr.write(process.stdout[-4000:] + process.stderr[-4000:])
            raise RuntimeError(f"case {name} failed (exit {process.returncode})")
        result = json.loads(Path(spec["result_path"]).read_text())
        after = self.sandbox.stats()
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
            and (operation != "add" or after["records_complete"] == records)
        )
        result["ok"] = bool(result["ok"] and server_ok and server_requests == result["requests"])
        self.runs.append(result)
        status = "ok" if result["ok"] else "CHECK FAILED"
        print(
            f"  {name:<28} {result['wall_seconds']:8.2f} s  {result['requests']:6d} requests  {status}",
            flush=True,
        )
        return result
