"""Every connection the documentation shows works as written, with the versions the constraints pin.

The forms are read from the pages themselves (an ``AIRFLOW_CONN_…='…'`` line, the ``airflow
connections`` commands), so a page cannot show a form no test has tried. Only what points at the
user's own systems is replaced: the host and credentials by the sandbox's, a SQLite path by a file here.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from airflow_provider_thulium.hooks.thulium import ThuliumHook
from airflow_provider_thulium.sources import SqlSource

ROOT = Path(__file__).parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
ENV_FORM = re.compile(r"AIRFLOW_CONN_(?P<id>[A-Z0-9_]+)='(?P<value>[^']+)'")


def documented_env_forms() -> list[tuple[str, str, str]]:
    """(page, conn id, value) of every ``AIRFLOW_CONN_…='…'`` in the pages, newlines as a shell keeps them."""
    forms = []
    for page in PAGES:
        for match in ENV_FORM.finditer(page.read_text(encoding="utf-8")):
            forms.append((page.relative_to(ROOT).as_posix(), match["id"], match["value"]))
    return forms


def test_the_pages_show_each_kind_of_form():
    kinds = {
        ("json" if value.lstrip().startswith("{") else urlsplit(value).scheme) for _, _, value in documented_env_forms()
    }
    assert {"json", "thulium"} <= kinds
    assert any(json.loads(value)["conn_type"] == "sqlite" for _, _, value in documented_env_forms() if "{" in value)


def pointed_at(value: str, sandbox) -> str:
    """The documented form with the host and credentials replaced by the sandbox's; the rest as written."""
    if value.lstrip().startswith("{"):
        fields = json.loads(value)
        fields.update(host=f"http://127.0.0.1:{sandbox.port}", login=sandbox.login, password=sandbox.password)
        return json.dumps(fields)
    parts = urlsplit(value)
    return urlunsplit(parts._replace(netloc=f"{sandbox.login}:{sandbox.password}@127.0.0.1:{sandbox.port}"))


@pytest.mark.parametrize(
    ("page", "conn_id", "value"),
    [form for form in documented_env_forms() if "sqlite" not in form[2]],
    ids=lambda item: item if isinstance(item, str) and len(item) < 40 else None,
)
def test_a_documented_thulium_connection_connects(thulium_sandbox, monkeypatch, page, conn_id, value):
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id}", pointed_at(value, thulium_sandbox))
    hook = ThuliumHook(conn_id.lower())
    assert hook.test_connection() == (True, "Connected to Thulium: the API user can list campaigns."), page


@pytest.mark.parametrize(("page", "conn_id", "value"), [form for form in documented_env_forms() if "sqlite" in form[2]])
def test_a_documented_sqlite_connection_reads_a_table(tmp_path, monkeypatch, page, conn_id, value):
    database = tmp_path / "crm.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE leads (phone_number TEXT)")
        db.executemany("INSERT INTO leads VALUES (?)", [("48500100201",), ("48500100202",)])
    fields = json.loads(value)
    fields["host"] = str(database)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id}", json.dumps(fields))
    source = SqlSource(conn_id.lower(), "SELECT phone_number FROM leads ORDER BY phone_number")
    phones, spool = source.read_phones()
    try:
        assert list(phones) == ["48500100201", "48500100202"], page
    finally:
        spool.close()


def documented_cli_lines() -> list[str]:
    """The ``airflow connections …`` commands of the getting-started page, continuation lines joined."""
    text = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8").replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip().startswith(("airflow connections", "export "))]


@pytest.mark.usefixtures("airflow_db")
def test_the_documented_cli_commands_add_and_test_a_connection(thulium_sandbox, tmp_path):
    lines = [line for line in documented_cli_lines() if "connections" in line or "TEST_CONNECTION" in line]
    assert [line.split()[:3] for line in lines if line.startswith("airflow")] == [
        ["airflow", "connections", "add"],
        ["airflow", "connections", "test"],
    ]
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW_CONN_")}
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)  # the CLI as a user runs it
    airflow = str(Path(sys.executable).with_name("airflow"))
    for line in lines:
        words = shlex.split(line.split(" #", 1)[0])
        if words[0] == "export":
            name, _, value = words[1].partition("=")
            env[name] = value
            continue
        words = [airflow, *words[1:]]
        for option, replacement in (
            ("--conn-host", f"http://127.0.0.1:{thulium_sandbox.port}"),
            ("--conn-login", thulium_sandbox.login),
            ("--conn-password", thulium_sandbox.password),
        ):
            if option in words:
                words[words.index(option) + 1] = replacement
        done = subprocess.run(words, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (line, done.stdout[-2000:], done.stderr[-2000:])
    assert "Connection success!" in done.stdout
    subprocess.run([airflow, "connections", "delete", "thulium_default"], env=env, capture_output=True, timeout=300)
