"""What a case measures of its own process: resident memory (now and at peak) and CPU time."""

from __future__ import annotations

import resource
import sys


def _rss_unit() -> int:
    # ru_maxrss is in kilobytes on Linux, bytes on macOS.
    return 1 if sys.platform == "darwin" else 1024


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _rss_unit()


def current_rss_bytes() -> int:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return peak_rss_bytes()


MB = 1024 * 1024


def cpu_seconds() -> float:
    """CPU time of this process so far, all threads, user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
