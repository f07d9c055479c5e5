"""The sandbox in a child process, so that its CPU does not compete with the client's GIL."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import resource
from typing import Any

from inputs import (
    CAMPAIGN,
    phones,
)
from meters import cpu_seconds


def _sandbox_main(conn: Any, fields: list[str]) -> None:
    """Child process: serve a ThuliumSandbox and obey commands from the parent over a pipe."""
    from airflow_provider_thulium.sandbox import ThuliumSandbox

    sandbox = ThuliumSandbox("127.0.0.1", 0, seed="empty", record_requests=False)
    sandbox.start()
    conn.send({"url": sandbox.url, "login": sandbox.login, "password": sandbox.password})
    try:
        while True:
            command, args = conn.recv()
            if command == "stop":
                conn.send("stopped")
                return
            if command == "seed":
                state = sandbox.state
                state.reset("empty")
                state.add_campaign(CAMPAIGN, "Benchmark campaign", fields=fields)
                # records=0 leaves the campaign empty (the add cases); the rest of the state is
                # dropped either way, so each case starts from the same sandbox.
                call_date = args.get("call_date")
                added = state.bulk_add(CAMPAIGN, phones(args["records"]), call_date=call_date) if args["records"] else 0
                sandbox.latency = args.get("latency", 0.0)
                sandbox.clear_requests()
                conn.send({"added": added})
            elif command == "stats":
                usage = resource.getrusage(resource.RUSAGE_SELF)
                with sandbox.state.lock:
                    campaign = sandbox.state.campaigns.get(CAMPAIGN)
                    left = len(campaign.records) if campaign is not None else None
                    updated = (
                        sum(1 for record in campaign.records.values() if record.status_id == 2)
                        if campaign is not None
                        else None
                    )
                    # Records carrying what the add case sends besides the status: an identifier
                    # and both record fields.
                    complete = (
                        sum(
                            1
                            for record in campaign.records.values()
                            if record.identifier is not None and len(record.record_fields) == 2
                        )
                        if campaign is not None
                        else None
                    )
                    # Whether the campaign holds the benchmark's own numbers, each on its own record
                    # (its identifier's): asked for after an add, whose phones may be spelled other ways.
                    as_sent = (
                        sum(
                            1
                            for i, phone in enumerate(phones(left))
                            if len(ids := campaign.by_phone.get(phone, ())) == 1
                            and campaign.records[next(iter(ids))].identifier == f"CRM-{i:07d}"
                        )
                        if args.get("phones") and campaign is not None and left is not None
                        else None
                    )
                conn.send(
                    {
                        "requests": sandbox.request_count,
                        # CPU time at the start and at the end of this command: a case's server CPU
                        # runs from the end of the "stats" before it to the start of the one after,
                        # so counting the records here is not charged to the case.
                        "cpu_seconds": usage.ru_utime + usage.ru_stime,
                        "cpu_seconds_end": cpu_seconds(),
                        "records_left": left,
                        "records_updated": updated,
                        "records_complete": complete,
                        "records_with_their_phone": as_sent,
                    }
                )
            else:
                conn.send({"error": f"unknown command {command!r}"})
    finally:
        sandbox.stop()


class SandboxProcess:
    """The sandbox in a child process, driven over a pipe."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_sandbox_main, args=(child, ["crm_id", "segment"]), daemon=True)
        self._process.start()
        if not self._conn.poll(60):
            raise RuntimeError("the sandbox process did not start")
        info = self._conn.recv()
        self.url: str = info["url"]
        self.login: str = info["login"]
        self.password: str = info["password"]

    def call(self, command: str, **args: Any) -> Any:
        self._conn.send((command, args))
        answer = self._conn.recv()
        if isinstance(answer, dict) and "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    def seed(self, records: int, latency: float = 0.0, call_date: str | None = None) -> None:
        self.call("seed", records=records, latency=latency, call_date=call_date)

    def stats(self, phones: bool = False) -> dict[str, Any]:
        """The sandbox's counts; with ``phones``, also how many records hold their identifier's benchmark number."""
        return self.call("stats", phones=phones)

    def credentials(self) -> dict[str, str]:
        """What a worker needs to reach the sandbox: ``url``, ``login`` and ``password``."""
        return {"url": self.url, "login": self.login, "password": self.password}

    def connection_json(self) -> str:
        return json.dumps({"conn_type": "thulium", "host": self.url, "login": self.login, "password": self.password})

    def stop(self) -> None:
        with contextlib.suppress(OSError, EOFError):
            self.call("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()
