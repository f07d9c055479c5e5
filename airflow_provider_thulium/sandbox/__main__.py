"""Run the sandbox as a process: ``python -m airflow_provider_thulium.sandbox --help``."""

from __future__ import annotations

import argparse
import errno
import shlex
import signal
import sys
import threading
from types import FrameType

from .server import ThuliumSandbox

#: Not 8080: that is the default port of Airflow's API server (and of many other dev servers).
DEFAULT_PORT = 8765


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_thulium.sandbox",
        description="Serve a local stand-in for the Thulium API until SIGTERM or Ctrl-C.",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; anything but loopback exposes the demo credentials)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port to listen on, 0 for any free port (default {DEFAULT_PORT}; 8080 is Airflow's API server)",
    )
    parser.add_argument("--seed", choices=["demo", "empty"], default="demo", help="initial data")
    parser.add_argument("--latency", type=float, default=0.0, metavar="SECONDS", help="sleep before every API answer")
    parser.add_argument("--https", action="store_true", help="serve TLS with a generated CA")
    parser.add_argument(
        "--batch-status", type=int, choices=[200, 207], default=207, help="overall status of batch answers"
    )
    parser.add_argument(
        "--hide-record-fields",
        action="store_true",
        help="leave record_fields out of the paged records answer, as the vendor's documented answer does",
    )
    parser.add_argument(
        "--no-record-requests",
        action="store_true",
        help="do not keep a log of requests (for long runs)",
    )
    parser.add_argument(
        "--describe",
        action="store_true",
        help="print the demo data and the control endpoints (Markdown) and exit",
    )
    return parser


def _non_loopback_warning(sandbox: ThuliumSandbox) -> str:
    transport = "TLS with a throwaway CA" if sandbox.tls else "plain HTTP, no TLS (--https serves TLS)"
    lines = [
        f"WARNING: the Thulium sandbox listens on {sandbox.host}, which is NOT loopback only.",
        f"WARNING: anyone who can reach port {sandbox.port} here can use its API with the fixed demo",
        f"WARNING: credentials ({sandbox.login} / {sandbox.password}), over {transport}, and its",
        "WARNING: unauthenticated /_sandbox/ control endpoints by sending a loopback Host header.",
        "WARNING: It is a test tool, not a server: prefer --host 127.0.0.1 (the default), stop it when done.",
    ]
    if not sandbox.tls:
        lines.append(
            'WARNING: The connection below sets "allow_http": true, without which the provider refuses plain http '
            "to a host that is not loopback."
        )
    if sandbox.host in {"0.0.0.0", "::"}:
        lines.append(
            f"WARNING: {sandbox.host} means every interface: from another machine, use this machine's address."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Start the sandbox, print how to connect to it, and serve until told to stop."""
    args = _parser().parse_args(argv)
    if args.describe:
        from .describe import describe_markdown

        print(describe_markdown(), end="")
        return 0
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
        show_record_fields=not args.hide_record_fields,
        seed=args.seed,
    )
    try:
        sandbox.start()
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            message = f"port {args.port} on {args.host} is in use; pass --port N (or 0 for any free port)"
        else:
            message = f"cannot listen on {args.host} port {args.port}: {error.strerror or error}"
        print(f"error: {message}", file=sys.stderr)
        return 2
    try:
        if not sandbox.is_loopback:
            print(_non_loopback_warning(sandbox), file=sys.stderr)
            sys.stderr.flush()
        # A sandbox with TLS is only usable with its CA, so the printed connection carries it.
        extra = {"verify": sandbox.ca_bundle} if sandbox.ca_bundle else {}
        print(f"Thulium sandbox listening on {sandbox.url} (API root {sandbox.url}/api/)")
        print(f"URL: {sandbox.url}")
        print(f"Login: {sandbox.login}")
        print(f"Password: {sandbox.password}")
        if sandbox.ca_bundle:
            print(f"CA bundle: {sandbox.ca_bundle}")
        print(f"Control: GET {sandbox.url}/_sandbox/ lists the control endpoints (Host must be loopback)")
        # Quoted for a shell: the line can be pasted as it is.
        print(f"export AIRFLOW_CONN_THULIUM_DEFAULT={shlex.quote(sandbox.connection_json(**extra))}")
        sys.stdout.flush()
        # Waiting in short steps keeps the main thread responsive to signals on every platform.
        while not stop.wait(0.2):
            pass
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
