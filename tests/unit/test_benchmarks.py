"""`make bench` can start: every benchmark module imports (a renamed name cannot break it unnoticed)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"


MODULES = sorted(path.stem for path in BENCHMARKS.glob("*.py"))


@pytest.mark.parametrize("module", MODULES)
def test_a_benchmark_module_imports(module, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    try:
        assert importlib.import_module(module).__name__ == module
    finally:  # their top-level names (report, cases...) must not stay importable for other tests
        for name in MODULES:
            sys.modules.pop(name, None)
