"""Benchmarks of the Thulium provider against the local sandbox (``make bench``).

The orchestrating process imports only the standard library. The sandbox runs in a child process
(so its CPU does not compete with the client's GIL), and every measured case runs in a fresh
child process of its own, so that its peak RSS is that case's own. See benchmarks/README.md.

Usage: ``.venv/bin/python benchmarks/run.py [--quick] [--json PATH] [--repeat N] [--profile]
[--only source|sync|export]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from cases import CASES, worker_main
from export_bench import EXPORT_CASES, print_export_report
from report import RESULTS, print_report, print_targets
from source_case import print_source_report
from suite import run_benchmarks, run_only
from sync_bench import SYNC_CASES, print_sync_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10x smaller sizes, one run per case (smoke check)")
    parser.add_argument(
        "--json", metavar="PATH", help="where to write the JSON (default benchmarks/results/latest.json)"
    )
    parser.add_argument(
        "--repeat", type=int, help="runs per provider/hand-written and latency case (default 5, 1 with --quick)"
    )
    parser.add_argument("--profile", action="store_true", help="write cProfile output of provider cases to results/")
    parser.add_argument(
        "--only",
        choices=["source", "sync", "export"],
        help="run only this case: 'source' = the add from a CSV file with results to a file "
        "(writes results/latest-source.json), 'sync' = the sync's cases (results/latest-sync.json), "
        "'export' = the export's cases (results/latest-export.json)",
    )
    parser.add_argument("--worker", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args.worker, {**CASES, **SYNC_CASES, **EXPORT_CASES})
    started = time.monotonic()
    report = run_only(args) if args.only else run_benchmarks(args)
    report["total_seconds"] = time.monotonic() - started
    if not args.only:
        print_report(report)
    if "source" in report:
        print()
        print_source_report(report["source"])
    if "sync" in report:
        print()
        print_sync_report(report["sync"])
    if "export" in report:
        print()
        print_export_report(report["export"])
    print_targets(report)
    name = f"latest-{args.only}" if args.only else "latest"
    default = RESULTS / (f"{name}-quick.json" if args.quick else f"{name}.json")
    path = Path(args.json) if args.json else default
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(f"\nJSON written to {path} (whole run {report['total_seconds']:.0f} s)")
    return 0 if report["all_checks_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
