"""The lowest versions pyproject.toml allows, for `make test-floors`; the floors are written only there.

    python scripts/floors.py pins            # apache-airflow==2.11.0 ... (one argument each, for pip)
    python scripts/floors.py python          # 3.10 (from requires-python)
    python scripts/floors.py check PYTHON    # PYTHON's environment holds exactly those floors
    python scripts/floors.py without-airflow # requests msgspec ... (the dependencies that are not Airflow's)

Every direct dependency must have a ``>=`` floor: a dependency without one cannot be tested at
its lowest version, so this script refuses it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import tomllib

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
_FLOOR = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*>=\s*([0-9][0-9A-Za-z.]*)\s*(?:,.*)?$")


def floors() -> dict[str, str]:
    """Distribution name → lowest allowed version, for every direct dependency."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    result = {}
    for requirement in project["dependencies"]:
        match = _FLOOR.match(requirement.split(";")[0])
        if match is None:
            raise SystemExit(f"pyproject.toml: {requirement!r} has no '>=' floor to test")
        result[match.group(1)] = match.group(2)
    return result


def python_floor() -> str:
    """The lowest Python ``requires-python`` allows, e.g. ``3.10``."""
    spec = tomllib.loads(PYPROJECT.read_text())["project"]["requires-python"]
    match = re.fullmatch(r"\s*>=\s*(\d+\.\d+)\s*", spec)
    if match is None:
        raise SystemExit(f"pyproject.toml: requires-python {spec!r} is not of the form '>=X.Y'")
    return match.group(1)


def check(python: str) -> int:
    """Compare the versions installed for ``python`` with the floors; print them; 1 if one differs."""
    wrong = 0
    probe = "import importlib.metadata as m, platform, sys; print(platform.python_version())"
    probe += "; [print(m.version(name)) for name in sys.argv[1:]]"
    wanted = floors()
    answer = subprocess.run([python, "-c", probe, *wanted], capture_output=True, text=True, check=True)
    version, *installed = answer.stdout.split()
    print(f"Python {version} (floor {python_floor()})")
    for (name, floor), got in zip(wanted.items(), installed, strict=True):
        ok = got == floor
        wrong += not ok
        print(f"{name}=={got}" + ("" if ok else f"  (expected the floor {floor})"))
    return 1 if wrong else 0


def main(argv: list[str]) -> int:
    if argv == ["pins"]:
        print(" ".join(f"{name}=={version}" for name, version in floors().items()))
        return 0
    if argv == ["without-airflow"]:
        print(" ".join(name for name in floors() if not name.startswith("apache-airflow")))
        return 0
    if argv == ["python"]:
        print(python_floor())
        return 0
    if len(argv) == 2 and argv[0] == "check":
        return check(argv[1])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
