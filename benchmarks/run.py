"""Benchmarks of the Thulium provider against the local sandbox (``make bench``).

The orchestrating process imports only the standard library. The sandbox runs in a child process
(so its CPU does not compete with the client's GIL), and every measured case runs in a fresh
child process of its own, so that its peak RSS is that case's own. See benchmarks/README.md.

Usage: ``.venv/bin/python benchmarks/run.py [--quick] [--json PATH] [--repeat N] [--profile]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from cases import worker_main
from report import RESULTS, print_report
from suite import run_benchmarks


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
    parser.add_argument("--worker", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args.worker)
    started = time.monotonic()
    report = run_benchmarks(args)
    report["total_seconds"] = time.monotonic() - started
    print_report(report)
    default = RESULTS / ("latest-quick.json" if args.quick else "latest.json")
    path = Path(args.json) if args.json else default
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(f"\nJSON written to {path} (whole run {report['total_seconds']:.0f} s)")
    return 0 if report["all_checks_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
