"""Background processes the project starts (simulators, scheduled runs), tracked by pid files.

Every long-lived process the project starts writes ``$CUSTOMER_SYNC_HOME/pids/<name>.pid``, so that
``customer-sync down`` can stop all of them and leave nothing running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import psutil

from customer_sync.config import Settings


def pid_dir(settings: Settings) -> Path:
    path = settings.home / "pids"
    path.mkdir(parents=True, exist_ok=True)
    return path


def register(settings: Settings, name: str, pid: int) -> Path:
    """Record a started process under ``name``."""
    path = pid_dir(settings) / f"{name}.pid"
    path.write_text(str(pid))
    return path


def running_pid(settings: Settings, name: str) -> int | None:
    """The pid registered as ``name`` if that process is alive, else None (stale files are removed)."""
    path = pid_dir(settings) / f"{name}.pid"
    if not path.exists():
        return None
    try:
        pid = int(path.read_text().strip())
    except ValueError:
        path.unlink(missing_ok=True)
        return None
    if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        return pid
    path.unlink(missing_ok=True)
    return None


def stop(settings: Settings, name: str, timeout: float = 10.0) -> bool:
    """Stop the process registered as ``name`` (and its children). Returns whether it was running."""
    pid = running_pid(settings, name)
    path = pid_dir(settings) / f"{name}.pid"
    if pid is None:
        return False
    proc = psutil.Process(pid)
    family = [proc, *proc.children(recursive=True)]
    for member in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs(family, timeout=timeout)
    for member in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    path.unlink(missing_ok=True)
    return True


def stop_all(settings: Settings) -> list[str]:
    """Stop every registered process; one line per process stopped."""
    lines = []
    for path in sorted(pid_dir(settings).glob("*.pid")):
        name = path.stem
        if stop(settings, name):
            lines.append(f"stopped {name}")
    return lines


def wait_for(predicate, timeout: float, interval: float = 0.1) -> bool:  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
