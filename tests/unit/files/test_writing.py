"""Files written when a run ends: checked before it, written whole or not at all (no server).

The results file and the sync's state file against what broke them: a kill or a full disk in the
middle of a write (the previous file must stay whole), two syncs saving one state file at once,
a folder that does not exist, a parent that is a file, a read-only or full disk on a small tmpfs
(skipped where mounting is not permitted), and a target that is the input's own file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from airflow_provider_thulium.exceptions import ThuliumConfigurationError, ThuliumValidationError
from airflow_provider_thulium.results.results_file import ResultsFile
from airflow_provider_thulium.sync.state import SyncState
from tests.helpers import fill_disk, small_disk

ROOT = Path(__file__).parents[3]


class _Log:
    def info(self, *args: object) -> None:
        pass


def _results(path: Path, phones: int, outcome: str = "REMOVED") -> ResultsFile:
    file = ResultsFile(str(path))
    file.add((f"4860{n:07d}", [{"http_status": 200, "status": outcome}], outcome, True) for n in range(phones))
    return file


def test_6_a_kill_in_the_middle_of_writing_the_results_file_leaves_the_previous_one(tmp_path):
    # The finding: the results file was written in place; a kill left a truncated file where the
    # previous good one was. The writer here is stopped (SIGKILL) half way through its copy.
    target = tmp_path / "results.jsonl"
    previous = _results(target, 10)
    previous.write({})
    previous.close()
    before = target.read_bytes()
    script = textwrap.dedent(
        f"""
        import shutil, sys, time
        from airflow_provider_thulium.results import results_file

        def half_then_hang(source, target, length=0):
            target.write(source.read(50_000))
            target.flush()
            print("half", flush=True)
            time.sleep(60)

        results_file.shutil.copyfileobj = half_then_hang
        file = results_file.ResultsFile({str(target)!r})
        file.add((f"4870{{n:07d}}", {{"http_status": 204}}, "UPDATED", True) for n in range(5000))
        file.write({{}})
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env, cwd=ROOT)
    try:
        assert writer.stdout is not None
        assert b"half\n" in iter(writer.stdout.readline, b"")  # lines before it are Airflow's logging
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(10)
    assert target.read_bytes() == before


def test_6_a_disk_that_fills_in_the_middle_of_a_write_leaves_the_previous_file(tmp_path):
    with small_disk(tmp_path / "disk", "64k") as disk:
        target = disk / "results.jsonl"
        previous = _results(target, 20)
        previous.write({})
        before = target.read_bytes()
        bigger = _results(target, 2000)  # some 200 KB: more than the disk holds
        with pytest.raises(ThuliumConfigurationError, match=r"results_path: .* cannot be written: the disk is full"):
            bigger.write({})
        assert target.read_bytes() == before
        assert [name for name in os.listdir(disk) if name.endswith(".partial")] == []


def test_5_two_syncs_saving_one_state_file_at_once_never_fail(tmp_path):
    # The finding: 7 of 40 saves failed (both wrote one "<file>.partial" and moved it).
    path = tmp_path / "state.tsv"
    failures: list[BaseException] = []

    def save(n: int) -> None:
        try:
            SyncState(path, "00001").save({f"4860{k:07d}": n for k in range(2000)}, _Log())
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=save, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    state = SyncState.load(path, "00001")
    assert len(state.fingerprints) == 2000 and len(set(state.fingerprints.values())) == 1


@pytest.mark.parametrize("kind", ["missing folder", "parent is a file", "a folder", "the input"])
def test_5_a_target_is_checked_before_any_request(tmp_path, kind):
    source = tmp_path / "leads.csv"
    source.write_text("phone_number\n48600000001\n")
    (tmp_path / "plain").write_text("a file")
    path = {
        "missing folder": tmp_path / "new" / "deeper" / "state.tsv",
        "parent is a file": tmp_path / "plain" / "state.tsv",
        "a folder": tmp_path,
        "the input": tmp_path / "." / "leads.csv",
    }[kind]
    state = SyncState(path, "00001")
    if kind == "missing folder":
        state.check(reads=[source])
        assert path.parent.is_dir() and list(path.parent.iterdir()) == []  # made, and the probe removed
        return
    error = ThuliumValidationError if kind == "the input" else ThuliumConfigurationError
    says = {
        "parent is a file": "a folder on its path is a file",
        "a folder": "is a folder; name a file in it",
        "the input": "is the file the input is read from",
    }[kind]
    with pytest.raises(error, match=says):
        state.check(reads=[str(source)])


def test_5_a_read_only_disk_and_a_full_one_are_refused_before_any_request(tmp_path):
    read_only = pytest.raises(ThuliumConfigurationError, match=r"the file system is read-only .*nothing was sent")
    with small_disk(tmp_path / "ro", "64k", read_only=True) as disk, read_only:
        SyncState(disk / "state.tsv", "00001").check()
    with small_disk(tmp_path / "full", "64k") as disk:
        with pytest.raises(ThuliumConfigurationError, match=r"needs about 1\.8 MiB and its disk has .* free"):
            SyncState(disk / "state.tsv", "00001").check(phones=50_000)
        fill_disk(disk)
        with pytest.raises(ThuliumConfigurationError, match="the disk is full"):
            SyncState(disk / "state.tsv", "00001").check()


def test_the_mode_of_a_new_file_follows_the_umask(tmp_path):
    path = tmp_path / "results.jsonl"
    file = _results(path, 1)
    old = os.umask(0o022)
    try:
        file.write({})
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
    assert json.loads(path.read_text())["outcome"] == "REMOVED"
    assert time.time() - path.stat().st_mtime < 60


def test_a_results_path_that_is_a_symbolic_link_writes_the_file_it_names(tmp_path):
    real = tmp_path / "store" / "results.jsonl"
    real.parent.mkdir()
    real.write_text("yesterday\n")
    link = tmp_path / "results.jsonl"
    link.symlink_to(real)
    _results(link, 3).write({})
    assert link.is_symlink() and len(real.read_text().splitlines()) == 3
