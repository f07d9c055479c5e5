"""The built sdist and wheel are what a package index should get, and the wheel works once installed.

Run by ``make test-packaging`` after ``make dist``; ``THULIUM_DIST_DIR`` names the folder that
holds exactly one sdist and one wheel.
"""

from __future__ import annotations

import email.parser
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from airflow_provider_thulium import __version__

pytestmark = pytest.mark.packaging

PACKAGE = "airflow_provider_thulium"
JUNK = re.compile(
    r"(^|/)(\.venv[^/]*|__pycache__|\.mypy_cache|\.ruff_cache|\.pytest_cache|\.git|dist|build|node_modules)(/|$)"
    r"|\.py[co]$|(^|/)benchmarks/results(/|$)|(^|/)docs/_(build|generated)(/|$)"
)
RELATIVE_LINK = re.compile(r"\]\((?!https?://|mailto:|#)[^)]*\)")


def one(dist_dir: Path, pattern: str) -> Path:
    (found,) = dist_dir.glob(pattern)
    return found


def test_the_sdist_holds_the_sources_and_no_development_files(dist_dir):
    with tarfile.open(one(dist_dir, "*.tar.gz")) as sdist:
        names = [name.split("/", 1)[1] for name in sdist.getnames() if "/" in name]
    junk = [name for name in names if JUNK.search(name)]
    assert junk == []
    for needed in ("PKG-INFO", "pyproject.toml", "LICENSE", "README.md", "CHANGELOG.md", f"{PACKAGE}/py.typed"):
        assert needed in names


def test_the_wheel_holds_the_package_licence_and_entry_points(dist_dir):
    with zipfile.ZipFile(one(dist_dir, "*.whl")) as wheel:
        names = wheel.namelist()
        info = f"{PACKAGE}-{__version__}.dist-info"
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
        licence = wheel.read(f"{info}/licenses/LICENSE").decode()
    assert all(name.startswith((f"{PACKAGE}/", f"{info}/")) for name in names), names
    assert not [name for name in names if JUNK.search(name)]
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    assert "END OF TERMS AND CONDITIONS" in licence  # the full text, not a notice
    assert "[apache_airflow_provider]" in entry_points and "[pytest11]" in entry_points


def test_the_long_description_renders_without_relative_links(dist_dir):
    import readme_renderer.markdown

    with zipfile.ZipFile(one(dist_dir, "*.whl")) as wheel:
        metadata = email.parser.Parser().parsestr(wheel.read(f"{PACKAGE}-{__version__}.dist-info/METADATA").decode())
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["Description-Content-Type"] == "text/markdown"
    description = str(metadata.get_payload())
    assert description.startswith("# airflow-provider-thulium")
    assert "## 0.1.0" in description  # the changelog follows the README
    assert RELATIVE_LINK.findall(description) == []
    assert "`docs/connection-form.png` in the source distribution" in description
    html = readme_renderer.markdown.render(description)
    assert html is not None and re.search(r"<h2[^>]*>Install", html) and "<table>" in html
    assert not re.search(r'<img[^>]+src="(?!https?://)', html)


def test_the_installed_wheel_is_found_by_airflow(dist_dir, tmp_path):
    """A fresh virtual environment with Airflow and the wheel (not the checkout), used from elsewhere."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    airflow = f"apache-airflow=={importlib.metadata.version('apache-airflow')}"
    pip = [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, str(one(dist_dir, "*.whl")), airflow], check=True, cwd=tmp_path, timeout=600)

    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "PYTHON"))}
    env.update({"AIRFLOW_HOME": str(tmp_path / "airflow-home"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"})
    listed = subprocess.run(
        [str(venv / "bin" / "airflow"), "providers", "list", "--output", "json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    listing = json.loads(listed.stdout[listed.stdout.index("[") :])
    providers = {item["package_name"]: item["version"] for item in listing}
    assert providers.get("airflow-provider-thulium") == __version__, providers

    probe = (
        "import airflow_provider_thulium.hooks.thulium as m; "
        "print(m.__file__); print(m.ThuliumHook.conn_type, m.ThuliumHook.hook_name)"
    )
    imported = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    location, hook = imported.stdout.strip().splitlines()[-2:]
    assert Path(location).is_relative_to(venv / "lib"), location  # the wheel's copy, not the checkout
    assert hook == "thulium Thulium"


def readme_install_command() -> str:
    """The one command of the README's "Install" section."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Install", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    (command,) = block.strip().splitlines()
    return command


def test_the_readmes_install_command_installs_a_clone_beside_airflow(dist_dir, tmp_path):
    """The README's install, run as written in a copy of the sources, into a venv that already has Airflow."""
    command = readme_install_command()
    assert command.startswith("pip install ")
    with tarfile.open(one(dist_dir, "*.tar.gz")) as sdist:
        sdist.extractall(tmp_path / "clone", filter="data")
    (clone,) = (tmp_path / "clone").iterdir()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {
        **os.environ,
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    airflow = f"apache-airflow=={importlib.metadata.version('apache-airflow')}"
    subprocess.run(["pip", "install", "--quiet", airflow], check=True, env=env, timeout=600)
    subprocess.run(command, shell=True, check=True, cwd=clone, env=env, timeout=600)  # noqa: S602  # the README's text

    probe = (
        "import importlib.metadata as m, pyarrow, airflow.providers.common.sql, airflow_provider_thulium.sources as s; "
        "print(m.version('airflow-provider-thulium'), m.version('apache-airflow'), s.__file__)"
    )
    answer = subprocess.run(["python", "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    # Airflow may log to stdout when imported; the probe's own line is the last.
    version, airflow_version, location = answer.stdout.strip().splitlines()[-1].split()
    assert (version, airflow_version) == (__version__, importlib.metadata.version("apache-airflow"))
    assert Path(location).is_relative_to(venv / "lib"), location  # installed, not imported from the copy
