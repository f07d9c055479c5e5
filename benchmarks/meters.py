"""What a case measures of its own process: resident memory (now and at peak) and CPU time."""

from __future__ import annotations

import resource
import sys


def _rss_unit() -> int:
    # ru_maxrss is in kilobytes on Linux, bytes on macOS.
    return 1 if sys.platform == "darwin" else 1024


def peak_rss_bytes() -> int:
    """This process's peak resident memory: on Linux its own image's (``VmHWM``), else ``ru_maxrss``.

    ``ru_maxrss`` keeps the high-water mark of the process image before ``exec``: a worker started
    by a large orchestrator would report the orchestrator's size as its own peak.
    """
    return _status_bytes("VmHWM:") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _rss_unit()


def current_rss_bytes() -> int:
    return _status_bytes("VmRSS:") or peak_rss_bytes()


def _status_bytes(field: str) -> int:
    """A memory line of /proc/self/status in bytes; 0 where there is none (not Linux)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


MB = 1024 * 1024


def cpu_seconds() -> float:
    """CPU time of this process so far, all threads, user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
