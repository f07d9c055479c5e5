"""The parts of pages written at each docs build (under ``docs/_generated/``), from their sources.

No Sphinx here, so that tests can write and check them on any environment.
"""

from __future__ import annotations

import json
from pathlib import Path

from performance_figures import figures_markdown

#: The ``make bench`` report the performance page is written from (``make bench-publish`` copies it).
BENCHMARK_REPORT = "benchmark-results.json"


def write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` unless the file holds it already, so an unchanged page is not rebuilt.

    :param path: the file to write.
    :param text: its content.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def write_generated(docs: Path) -> None:
    """Write the sandbox's demo data and control endpoints, and the performance figures.

    :param docs: the documentation's source folder.
    """
    from airflow_provider_thulium.sandbox.describe import describe_markdown

    generated = docs / "_generated"
    write_if_changed(generated / "sandbox-demo-data.md", describe_markdown().strip() + "\n")
    report = json.loads((docs / BENCHMARK_REPORT).read_text(encoding="utf-8"))
    write_if_changed(generated / "performance-figures.md", figures_markdown(report, f"docs/{BENCHMARK_REPORT}"))
