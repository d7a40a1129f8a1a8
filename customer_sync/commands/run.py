"""``customer-sync run [--every DURATION]`` and ``customer-sync demo``: full cycles, once or on a schedule."""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
import time
from types import FrameType
from typing import Any

import click

from customer_sync import db as database
from customer_sync import processes
from customer_sync.config import Settings, load_settings
from customer_sync.errors import RunFailure, UserError
from customer_sync.output import emit, info

log = logging.getLogger(__name__)

DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d)?\s*$", re.IGNORECASE)
UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """'90', '30s', '15m', '1h', '1d' -> seconds; anything else is a UserError."""
    match = DURATION.match(text)
    if not match:
        raise UserError(f"--every {text!r}: use a number with a unit, e.g. 30s, 15m, 1h")
    seconds = float(match.group(1)) * UNIT_SECONDS[(match.group(2) or "s").lower()]
    if seconds <= 0:
        raise UserError("--every must be longer than 0 seconds")
    return seconds


@click.command()
@click.option("--every", "every", default=None, help="Run a cycle every DURATION (e.g. 15m) until stopped.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per cycle as the last line.")
def run(every: str | None, as_json: bool) -> None:
    """One full cycle (extract, build with snapshots, sync), or one every DURATION until stopped.

    Exit codes for cron: 0 every step ran, 1 a step failed (see the JSON's failed_step and
    ops.cycle_runs), 2 bad configuration. With --every the scheduler is stopped by 'customer-sync down'
    (or SIGTERM/Ctrl-C) and exits with the code of its last cycle.
    """
    interval = parse_duration(every) if every else None
    settings = load_settings()
    db = database.ensure_ready(settings)
    if interval is None:
        _finish(_one_cycle(settings, db, as_json), as_json)
        return
    exit_code = _schedule(settings, db, interval, as_json)
    if exit_code == 2:
        raise UserError("the scheduler stopped: bad configuration (see the last cycle's error)")
    if exit_code:
        raise RunFailure("the last scheduled cycle failed (see ops.cycle_runs)")


def _one_cycle(
    settings: Settings, db: database.Database, as_json: bool, full_refresh: bool = False
) -> dict[str, Any]:
    from customer_sync.orchestrate import run_cycle

    cycle = run_cycle(
        settings, db, progress=not as_json, say=lambda msg: info(msg, as_json), full_refresh=full_refresh
    )
    result = cycle.as_dict()
    result["exit_code"] = cycle.exit_code
    return result


def _finish(result: dict[str, Any], as_json: bool, extra: str = "") -> None:
    emit(result, as_json, extra + format_cycle(result))
    if result["exit_code"] == 2:
        raise UserError(f"{result['failed_step']}: {result['error']}")
    if result["exit_code"]:
        raise RunFailure(f"{result['failed_step']} failed: {result['error']}")


def _schedule(settings: Settings, db: database.Database, interval: float, as_json: bool) -> int:
    """Cycles every ``interval`` seconds (start to start) until SIGTERM/SIGINT; the last cycle's exit code."""
    if processes.running_pid(settings, "scheduler") not in (None, os.getpid()):
        raise RunFailure("a scheduler already runs in this home; stop it with 'customer-sync down'")
    processes.register(settings, "scheduler", os.getpid())
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        info(f"received signal {signum}: stopping after the current cycle", as_json)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    exit_code = 0
    try:
        while not stop.is_set():
            started = time.monotonic()
            result = _one_cycle(settings, db, as_json)
            exit_code = result["exit_code"]
            emit(result, as_json, format_cycle(result))
            if exit_code == 2:
                break  # bad configuration does not fix itself: stop instead of failing every interval
            stop.wait(max(0.0, interval - (time.monotonic() - started)))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        (processes.pid_dir(settings) / "scheduler.pid").unlink(missing_ok=True)
    return exit_code


@click.command()
@click.option("--persons", default=1000, show_default=True, type=click.IntRange(10, 2_000_000))
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object as the last line.")
def demo(persons: int, seed: int, as_json: bool) -> None:
    """Start the simulators with generated customers and run one full cycle from nothing.

    The simulators run with fast rate limits so the demo does not wait on them; 'customer-sync run'
    and 'customer-sync bench' against simulators started without --fast see the real limits.
    """
    from customer_sync.simulators import control

    settings = load_settings()
    db = database.ensure_ready(settings)
    info(f"starting simulators with {persons} generated persons (seed {seed}), fast rate limits", as_json)
    control.stop(settings)
    started = control.start(settings, persons=persons, seed=seed, fast=True)
    if started.noise_report and not as_json:
        info(started.noise_report)
    # new data in the systems: land it from scratch rather than on top of an older generation
    result = _one_cycle(settings, db, as_json, full_refresh=started.generated)
    result["persons"] = persons
    result["seed"] = seed
    result["rate_limits"] = "fast (raised for the demo; real limits with 'customer-sync simulate start')"
    note = (
        f"demo: {persons} persons, seed {seed}; simulators use FAST rate limits (not the real APIs' limits)\n"
        "stop everything with 'customer-sync down'\n"
    )
    _finish(result, as_json, note)


def format_cycle(result: dict[str, Any]) -> str:
    """Human summary of a cycle: status, per-step headline numbers, the sync table."""
    lines = [f"cycle {result['cycle_id']}: {result['status']} in {result['seconds']:.1f}s"]
    extract = result.get("extract") or {}
    if extract:
        lines.append(f"  extract: {extract.get('rows', 0)} rows landed")
    build = result.get("build") or {}
    if build:
        shown = {k: v for k, v in build.items() if isinstance(v, int | float) and not isinstance(v, bool)}
        lines.append("  build: " + ", ".join(f"{k} {v}" for k, v in shown.items()))
    for target, counts in (result.get("sync") or {}).items():
        lines.append(
            f"  sync {target:<8} planned {counts.get('planned', 0)}, applied {counts.get('applied', 0)}, "
            f"skipped {counts.get('skipped', 0)}, deferred {counts.get('deferred', 0)}, "
            f"failed {counts.get('failed', 0)}"
        )
    if result.get("failed_step"):
        lines.append(f"  FAILED at {result['failed_step']}: {result['error']}")
    return "\n".join(lines)
