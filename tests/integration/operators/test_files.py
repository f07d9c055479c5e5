"""Results and state files in real task runs: checked before any request, written whole, reported either way.

One test per finding of the probe of the files a run writes: a ``results_path`` that is the
input's own file (it was overwritten), a state or results file that cannot be written (changes
were sent, then a plain ``OSError`` failed the task with no XCom and Airflow's retry sent it all
again), a disk that fills after the check (a small tmpfs, skipped where mounting is not
permitted), a run the guard stopped (yesterday's results stayed in place), a dry run whose
template rendered nothing (it ran for real). Tasks have ``retries=2`` with a one-second delay:
a fail-fast error ends on try 1.
"""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_thulium.operators.thulium import ThuliumDeleteRecordsOperator, ThuliumSyncCampaignOperator
from airflow_provider_thulium.sandbox import Fault
from airflow_provider_thulium.sources import FileSource
from airflow_provider_thulium.testing import run_dag, task_states, xcom
from tests.helpers import all_logs, fill_disk, new_dag, small_disk, tries

pytestmark = pytest.mark.usefixtures("airflow_db")

RETRIES: dict[str, Any] = {"retries": 2, "retry_delay": timedelta(seconds=1)}
# Demo campaign 00001: 48500100200 ... 48500100211.
IN_CAMPAIGN = [f"485001002{n:02d}" for n in range(12)]


def writes(sandbox: Any) -> list[Any]:
    return [request for request in sandbox.requests if request.method != "GET"]


def leads_csv(path: Path, phones: list[str]) -> Path:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["phone_number"])
        writer.writerows([phone] for phone in phones)
    return path


def one_task(operator: type, **kwargs: Any) -> Any:
    with new_dag() as dag:
        operator(task_id="task", campaign_id="00001", **RETRIES, **kwargs)
    return dag


def failed_on_try_one(run: Any) -> None:
    assert task_states(run) == {"task": "failed"}
    assert tries(run) == {"task": 1}


# ----------------------------------------------------------------------------- 4. the input's own file


@pytest.mark.parametrize("operator", ["delete", "sync results", "sync state"])
def test_4_a_results_or_state_path_that_is_the_input_file_is_refused_before_any_request(
    thulium_sandbox, tmp_path, operator, caplog, capfd
):
    # The finding: results_path equal to the FileSource's path overwrote the user's input, and succeeded.
    source = leads_csv(tmp_path / "leads.csv", IN_CAMPAIGN[:3])
    before = source.read_bytes()
    if operator == "delete":
        dag = one_task(ThuliumDeleteRecordsOperator, phone_numbers=FileSource(str(source)), results_path=str(source))
    elif operator == "sync results":
        dag = one_task(
            ThuliumSyncCampaignOperator, records=FileSource(f"file://{source}"), results_path=str(source.resolve())
        )
    else:
        dag = one_task(ThuliumSyncCampaignOperator, records=FileSource(str(source)), state_path=str(source))
    run = run_dag(dag)

    failed_on_try_one(run)
    assert thulium_sandbox.requests == []
    assert source.read_bytes() == before
    assert "is the file the input is read from" in all_logs(caplog, capfd)


# ----------------------------------------------------------------------------- 5. a file that cannot be written


@pytest.mark.parametrize("setting", ["results_path", "state_path"])
def test_5_a_parent_that_is_a_file_fails_on_try_one_before_any_request(thulium_sandbox, tmp_path, setting):
    # The finding: the changes were sent, then a plain OSError failed the task with no XCom, retried.
    (tmp_path / "plain").write_text("a file, not a folder")
    path = tmp_path / "plain" / ("results.jsonl" if setting == "results_path" else "state.tsv")
    run = run_dag(
        one_task(
            ThuliumSyncCampaignOperator,
            records=[{"phone_number": "48600100999"}],
            **{setting: str(path)},
        )
    )
    failed_on_try_one(run)
    assert thulium_sandbox.requests == []


def test_5_missing_folders_are_made_for_both_files(thulium_sandbox, tmp_path):
    results_path, state_path = tmp_path / "a" / "results.jsonl", tmp_path / "b" / "c" / "state.tsv"
    run = run_dag(
        one_task(
            ThuliumSyncCampaignOperator,
            records=[{"phone_number": "48600100999"}],
            results_path=str(results_path),
            state_path=str(state_path),
        )
    )
    assert task_states(run) == {"task": "success"}
    assert json.loads(results_path.read_text())["outcome"] == "ADDED"
    assert state_path.read_text().startswith('{"format": "thulium-sync-state/1"')


def test_5_a_full_disk_is_refused_before_any_request(thulium_sandbox, tmp_path, caplog, capfd):
    with small_disk(tmp_path / "disk", "64k") as disk:
        phones = [f"4860{n:07d}" for n in range(3000)]  # some 300 KB of results: more than the disk holds
        run = run_dag(
            one_task(
                ThuliumDeleteRecordsOperator,
                phone_numbers=phones,
                results_path=str(disk / "removed.jsonl"),
            )
        )
        failed_on_try_one(run)
        assert writes(thulium_sandbox) == []
        assert "its disk has" in all_logs(caplog, capfd)


@pytest.mark.parametrize("operator", ["delete", "sync"])
def test_5_6_a_disk_that_fills_after_the_check_keeps_yesterdays_file_and_every_result_goes_to_xcom(
    thulium_sandbox, tmp_path, operator
):
    with small_disk(tmp_path / "disk", "256k") as disk:
        results_path = disk / "results.jsonl"
        results_path.write_text('{"phone_number": "48500100200", "outcome": "REMOVED"}\n')  # yesterday's
        yesterday = results_path.read_bytes()
        # The disk fills while the batch is answered: after the check, before the file is written.
        thulium_sandbox.add_fault(Fault(method="DELETE", action=lambda sandbox: fill_disk(disk)))
        phones = ["48500100200", "48500100202", "48500100204", "48500100206"]  # none of them in a call
        if operator == "delete":
            dag = one_task(ThuliumDeleteRecordsOperator, phone_numbers=phones, results_path=str(results_path))
        else:
            dag = one_task(
                ThuliumSyncCampaignOperator,
                records=[{"phone_number": phone} for phone in IN_CAMPAIGN if phone not in phones],
                remove_missing=True,
                max_removals=4,
                results_path=str(results_path),
            )
        run = run_dag(dag)

        failed_on_try_one(run)
        assert results_path.read_bytes() == yesterday
        summary = xcom(run, "task", "summary")
        assert "results_path" not in summary
        assert any("cannot be written: the disk is full" in warning for warning in summary["warnings"])
        results = xcom(run, "task")
        removed = {phone for phone, entry in results.items() if "REMOVED" in json.dumps(entry)}
        assert removed == set(phones)
        assert all(thulium_sandbox.state.find("00001", phone) == [] for phone in phones)


def test_5_a_state_file_that_cannot_be_written_after_the_run_fails_on_try_one_with_every_result(
    thulium_sandbox, tmp_path
):
    with small_disk(tmp_path / "disk", "64k") as disk:
        state_path = disk / "state.tsv"
        thulium_sandbox.add_fault(Fault(method="POST", action=lambda sandbox: fill_disk(disk)))
        run = run_dag(
            one_task(
                ThuliumSyncCampaignOperator,
                records=[{"phone_number": "48600100999", "record_fields": {"crm_id": "C-9"}}],
                state_path=str(state_path),
            )
        )
        failed_on_try_one(run)
        summary = xcom(run, "task", "summary")
        assert summary["outcomes"] == {"ADDED": 1}
        assert any("state_path" in warning and "the disk is full" in warning for warning in summary["warnings"])
        assert xcom(run, "task")["48600100999"]["result"]["status"] == "ADDED"
        assert not state_path.exists()


# ----------------------------------------------------------------------------- 12. the guard, a blank dry run


def test_12_a_run_the_guard_stopped_writes_todays_plan_not_yesterdays_results(thulium_sandbox, tmp_path):
    results_path = tmp_path / "results.jsonl"
    results_path.write_text('{"phone_number": "48500100200", "outcome": "REMOVED", "succeeded": true}\n')
    run = run_dag(
        one_task(
            ThuliumSyncCampaignOperator,
            records=[{"phone_number": IN_CAMPAIGN[0]}],
            remove_missing=True,
            results_path=str(results_path),
        )
    )
    failed_on_try_one(run)
    assert writes(thulium_sandbox) == []
    lines = [json.loads(line) for line in results_path.read_text().splitlines()]
    assert {line["outcome"] for line in lines} == {"UNCHANGED", "REMOVE"}
    assert not any(line["succeeded"] for line in lines)
    summary = xcom(run, "task", "summary")
    assert summary["results_path"] == str(results_path) and "max_removals" in summary["stopped_by"]


def test_12_a_dry_run_whose_template_rendered_nothing_is_refused(thulium_sandbox):
    # The finding: dry_run="{{ params.preview }}" rendering to "" ran for real.
    run = run_dag(
        one_task(
            ThuliumSyncCampaignOperator,
            records=[{"phone_number": "48600100999"}],
            dry_run="{{ params.preview }}",
            params={"preview": ""},
        )
    )
    failed_on_try_one(run)
    assert writes(thulium_sandbox) == []
