"""Run the sandbox as a process: ``python -m airflow_provider_thulium.sandbox --help``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from .server import ThuliumSandbox


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_thulium.sandbox",
        description="Serve a local stand-in for the Thulium API until SIGTERM or Ctrl-C.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on, 0 for any (default 8080)")
    parser.add_argument("--seed", choices=["demo", "empty"], default="demo", help="initial data")
    parser.add_argument("--latency", type=float, default=0.0, metavar="SECONDS", help="sleep before every API answer")
    parser.add_argument("--https", action="store_true", help="serve TLS with a generated CA")
    parser.add_argument(
        "--batch-status", type=int, choices=[200, 207], default=207, help="overall status of batch answers"
    )
    parser.add_argument(
        "--no-record-requests",
        action="store_true",
        help="do not keep a log of requests (for long runs)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Start the sandbox, print how to connect to it, and serve until told to stop."""
    args = _parser().parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    sandbox = ThuliumSandbox(
        args.host,
        args.port,
        tls=args.https,
        batch_status=args.batch_status,
        latency=args.latency,
        record_requests=not args.no_record_requests,
        seed=args.seed,
    )
    sandbox.start()
    try:
        # A sandbox with TLS is only usable with its CA, so the printed connection carries it.
        extra = {"verify": sandbox.ca_bundle} if sandbox.ca_bundle else {}
        print(f"Thulium sandbox listening on {sandbox.url} (API root {sandbox.url}/api/)")
        print(f"URL: {sandbox.url}")
        print(f"Login: {sandbox.login}")
        print(f"Password: {sandbox.password}")
        if sandbox.ca_bundle:
            print(f"CA bundle: {sandbox.ca_bundle}")
        print(f"AIRFLOW_CONN_THULIUM_DEFAULT={sandbox.connection_json(**extra)}")
        sys.stdout.flush()
        # Waiting in short steps keeps the main thread responsive to signals on every platform.
        while not stop.wait(0.2):
            pass
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
