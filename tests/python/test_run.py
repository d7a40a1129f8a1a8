"""``customer-sync run`` and the cycle: steps in order, failures recorded with the step, exit codes for
cron, and the scheduler's lifecycle (pid registered for ``down``, stops on SIGTERM).

The steps themselves are stood in for here (their own areas test them); the cycle, its ledger row and
the command are real, against the session's warehouse.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from typing import Any

import pytest

from customer_sync import db as database
from customer_sync import orchestrate, processes
from customer_sync.cli import main
from customer_sync.commands import run as run_command
from customer_sync.config import Settings
from customer_sync.errors import RunFailure, UserError


class FakeSteps:
    """Stand-ins for extract, build and sync that record their calls and can fail on demand."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fail: dict[str, Exception] | None = None) -> None:
        self.calls: list[str] = []
        self.fail = fail or {}

        def step(name: str, result: dict[str, Any]):  # type: ignore[no-untyped-def]
            def run(*_args: Any, **_kwargs: Any) -> Any:
                self.calls.append(name)
                if name in self.fail:
                    raise self.fail[name]
                return type("Result", (), {"as_dict": lambda _self: result})()

            return run

        import customer_sync.build
        import customer_sync.extract

        monkeypatch.setattr(customer_sync.extract, "run_extract", step("extract", {"rows": 7}))
        monkeypatch.setattr(customer_sync.build, "run_build", step("build", {"customers": 3}))

        def sync(*_args: Any, **_kwargs: Any) -> Any:
            self.calls.append("sync")
            if "sync" in self.fail:
                raise self.fail["sync"]
            return type(
                "Result",
                (),
                {
                    "status": "succeeded",
                    "errors": {},
                    "refused": {},
                    "as_dict": lambda _self: {"run_id": "r", "sync": {"crm": {"planned": 1, "applied": 1}}},
                },
            )()

        monkeypatch.setattr(orchestrate, "run_sync", sync)


def cycle_row(db: database.Database, cycle_id: str) -> tuple[Any, ...]:
    with database.connect(db) as conn, conn.cursor() as cur:
        cur.execute(
            "select status, failed_step, error, steps from ops.cycle_runs where cycle_id = %s", (cycle_id,)
        )
        return cur.fetchone()


def test_cycle_runs_steps_in_order_and_records_them(
    settings: Settings, warehouse: database.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = FakeSteps(monkeypatch)
    cycle = orchestrate.run_cycle(settings, warehouse, progress=False)
    assert steps.calls == ["extract", "build", "sync"]
    assert cycle.exit_code == 0 and cycle.status == "succeeded"
    result = cycle.as_dict()
    assert result["extract"] == {"rows": 7} and result["build"] == {"customers": 3}
    assert result["sync"] == {"crm": {"planned": 1, "applied": 1}}
    status, failed_step, _, recorded = cycle_row(warehouse, cycle.cycle_id)
    assert (status, failed_step) == ("succeeded", None)
    assert set(recorded) == {"extract", "build", "sync"}


@pytest.mark.parametrize(
    ("error", "exit_code"), [(RunFailure("dbt build failed"), 1), (UserError("no endpoint for crm"), 2)]
)
def test_failed_step_stops_the_cycle_with_its_exit_code(
    settings: Settings,
    warehouse: database.Database,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    exit_code: int,
) -> None:
    steps = FakeSteps(monkeypatch, fail={"build": error})
    cycle = orchestrate.run_cycle(settings, warehouse, progress=False)
    assert steps.calls == ["extract", "build"], "nothing is synced from a failed build"
    assert cycle.exit_code == exit_code
    status, failed_step, message, _ = cycle_row(warehouse, cycle.cycle_id)
    assert (status, failed_step) == ("failed", "build") and str(error) in message


def test_run_command_exit_codes_and_json(
    settings: Settings,
    warehouse: database.Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    FakeSteps(monkeypatch, fail={"extract": RunFailure("crm unreachable")})
    with pytest.raises(SystemExit) as exited:
        main(["run", "--json"])
    assert exited.value.code == 1
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["failed_step"] == "extract" and out["status"] == "failed" and out["sync"] is None
    with pytest.raises(SystemExit) as exited:
        main(["run", "--every", "soon"])
    assert exited.value.code == 2


def test_scheduler_registers_runs_cycles_and_stops_on_sigterm(
    settings: Settings, warehouse: database.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = FakeSteps(monkeypatch)
    seen_pid: list[int | None] = []

    def stop_after_three_cycles() -> None:
        while steps.calls.count("sync") < 3:
            threading.Event().wait(0.05)
        seen_pid.append(processes.running_pid(settings, "scheduler"))
        os.kill(os.getpid(), signal.SIGTERM)  # what 'customer-sync down' sends

    previous_handler = signal.getsignal(signal.SIGTERM)
    watcher = threading.Thread(target=stop_after_three_cycles, daemon=True)
    watcher.start()
    exit_code = run_command._schedule(settings, warehouse, interval=0.1, as_json=True)
    watcher.join(timeout=5)
    assert exit_code == 0
    assert seen_pid == [os.getpid()], "the scheduler is registered for 'customer-sync down'"
    assert processes.running_pid(settings, "scheduler") is None, "and unregistered when it stops"
    assert steps.calls.count("sync") >= 3
    assert signal.getsignal(signal.SIGTERM) is previous_handler, "the signal handlers are restored"
