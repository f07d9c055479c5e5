"""The snippets of docs/guides/sources-and-results.md, run as one DAG against the sandbox."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest

from airflow_provider_thulium.testing import run_dag, task_states, xcom

ROOT = Path(__file__).parents[2]
SNIPPETS = ROOT / "docs" / "snippets" / "sources_and_results.py"

pytestmark = pytest.mark.usefixtures("airflow_db")


def load_dag(path: Path):
    spec = importlib.util.spec_from_file_location(f"docs_snippets_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def test_the_sources_and_results_snippets_run(thulium_sandbox, tmp_path):
    exports, results = tmp_path / "exports", tmp_path / "results"
    exports.mkdir()
    (exports / "do_not_call.csv").write_text(
        "phone_number,source\n48500100201,web\n48999000111,call\n48500100201,app\n"
    )
    (exports / "owners.jsonl").write_text(json.dumps({"msisdn": 48500100204, "owner": "j.doe", "comment": "x"}) + "\n")
    (exports / "new_leads.csv").write_text("phone_number,stage\n48600100001,Contact needed\n")

    run = run_dag(load_dag(SNIPPETS), conf={"exports": str(exports), "results": str(results)})

    assert task_states(run) == {"remove_opt_outs": "success", "update_owners": "success", "add_from_file": "success"}
    (opt_outs,) = results.glob("opt_outs_*.jsonl")
    assert xcom(run, "remove_opt_outs") == str(opt_outs)
    lines = [json.loads(line) for line in opt_outs.read_text().splitlines()]
    assert [(line["phone_number"], line["outcome"]) for line in lines] == [
        ("48500100201", "REMOVED"),
        ("48999000111", "NOT_EXIST"),
    ]
    with (results / "owners.csv").open() as file:
        assert [(row["phone_number"], row["outcome"]) for row in csv.DictReader(file)] == [("48500100204", "UPDATED")]
    assert thulium_sandbox.state.find("00001", "48500100204")[0]["agent_login"] == "j.doe"
    assert xcom(run, "add_from_file") == {"added": 1}
    assert thulium_sandbox.state.find("00001", "48600100001")[0]["status_id"] == 2
