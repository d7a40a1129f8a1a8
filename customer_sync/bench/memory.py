"""Peak memory of the process trees a benchmark exercises, sampled in a background thread.

Three groups are watched: the Python process running the benchmark (with any children it forks, such
as dbt threads' helpers), the simulators (every process registered under ``$CUSTOMER_SYNC_HOME/pids``)
and the Postgres server (the postmaster named in ``pgdata/postmaster.pid`` and its backends, which
pgserver daemonizes, so they are not our children).

For each group the sampler records the summed RSS and, where the kernel exposes it, the summed PSS.
Postgres backends all map the same shared buffers, so their RSS sum counts that memory once per
backend; PSS divides shared pages among the processes that map them and is the honest total.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

MB = 1024 * 1024

# A group resolves to the root pids of its process trees at each sample: processes come and go
RootFinder = Callable[[], Iterable[int]]


@dataclass
class GroupPeak:
    """The largest total seen for one group of processes."""

    rss_bytes: int = 0
    pss_bytes: int = 0
    processes: int = 0

    def update(self, rss: int, pss: int, processes: int) -> None:
        self.rss_bytes = max(self.rss_bytes, rss)
        self.pss_bytes = max(self.pss_bytes, pss)
        self.processes = max(self.processes, processes)

    def as_dict(self) -> dict[str, float | int]:
        return {
            "peak_rss_mb": round(self.rss_bytes / MB, 1),
            "peak_pss_mb": round(self.pss_bytes / MB, 1),
            "max_processes": self.processes,
        }


def postmaster_pid(pgdata: Path) -> int | None:
    """The pid of the Postgres server whose data directory is ``pgdata``, if it runs."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if psutil.pid_exists(pid) else None


def registered_pids(pid_dir: Path) -> list[int]:
    """Pids of the long-lived processes the project registered (simulators, schedulers)."""
    pids = []
    for path in sorted(pid_dir.glob("*.pid")) if pid_dir.is_dir() else []:
        with contextlib.suppress(OSError, ValueError):
            pids.append(int(path.read_text().strip()))
    return pids


def process_tree(root: int) -> list[psutil.Process]:
    """``root`` and all its descendants that are alive now."""
    try:
        proc = psutil.Process(root)
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return []


def measure(processes: Iterable[psutil.Process]) -> tuple[int, int, int]:
    """Summed RSS, summed PSS (RSS where PSS is unreadable) and the number of live processes."""
    rss = pss = count = 0
    for proc in processes:
        try:
            info = proc.memory_full_info()
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
        except psutil.AccessDenied:
            with contextlib.suppress(psutil.Error):
                value = proc.memory_info().rss
                rss += value
                pss += value
        except psutil.Error:  # exited between listing and reading
            continue
        count += 1
    return rss, pss, count


@dataclass
class MemorySampler:
    """Samples named groups of process trees every ``interval`` seconds until stopped.

    A process belongs to the first group whose trees contain it, so the Python group (listed last by
    :func:`standard_groups`) never double counts a simulator it started.
    """

    groups: dict[str, RootFinder]
    interval: float = 0.2
    peaks: dict[str, GroupPeak] = field(default_factory=dict)
    samples: int = 0
    _windows: list[dict[str, GroupPeak]] = field(default_factory=list, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def sample(self) -> None:
        """Take one sample of every group now."""
        seen: set[int] = set()
        totals = {}
        for name, finder in self.groups.items():
            members = []
            for root in finder():
                for proc in process_tree(root):
                    if proc.pid not in seen:
                        seen.add(proc.pid)
                        members.append(proc)
            totals[name] = measure(members)
        with self._lock:
            for peaks in (self.peaks, *self._windows):
                for name, (rss, pss, count) in totals.items():
                    peaks.setdefault(name, GroupPeak()).update(rss, pss, count)
            self.samples += 1

    @contextmanager
    def window(self) -> Iterator[dict[str, GroupPeak]]:
        """Peaks seen while the block runs (windows nest: a stage may hold sub-stages)."""
        peaks: dict[str, GroupPeak] = {}
        with self._lock:
            self._windows.append(peaks)
        try:
            self.sample()
            yield peaks
            self.sample()
        finally:
            with self._lock:
                # by identity: two windows may hold equal peaks
                self._windows = [w for w in self._windows if w is not peaks]

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sample()
            except Exception:  # a sampler must never kill the run it measures
                log.exception("memory sample failed")

    def start(self) -> MemorySampler:
        self._stop.clear()
        self.sample()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.sample()

    def __enter__(self) -> MemorySampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def standard_groups(pgdata: Path | None, pid_dir: Path | None) -> dict[str, RootFinder]:
    """Postgres (if embedded), simulators and this Python process, in that order of precedence."""
    groups: dict[str, RootFinder] = {}
    if pgdata is not None:
        groups["postgres"] = lambda: [pid] if (pid := postmaster_pid(pgdata)) else []
    if pid_dir is not None:
        groups["simulators"] = lambda: registered_pids(pid_dir)
    groups["python"] = lambda: [os.getpid()]
    return groups
