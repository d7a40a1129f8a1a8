"""Timing one benchmark stage: wall seconds, throughput and the memory peaks seen meanwhile."""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from customer_sync.bench.memory import MemorySampler

log = logging.getLogger(__name__)


@dataclass
class StageResult:
    """What one stage cost. ``records`` is the number of records the stage processed."""

    name: str
    seconds: float = 0.0
    records: int | None = None
    memory: dict[str, dict[str, float | int]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def records_per_second(self) -> float | None:
        if self.records is None or self.seconds <= 0:
            return None
        return self.records / self.seconds

    def peak_mb(self, group: str, measure: str = "peak_pss_mb") -> float | None:
        value = self.memory.get(group, {}).get(measure)
        return float(value) if value is not None else None

    def as_dict(self) -> dict[str, Any]:
        rate = self.records_per_second
        return {
            "name": self.name,
            "seconds": round(self.seconds, 3),
            "records": self.records,
            "records_per_second": round(rate, 1) if rate is not None else None,
            "memory": self.memory,
            "details": self.details,
        }


@contextmanager
def stage(name: str, sampler: MemorySampler | None) -> Iterator[StageResult]:
    """Time the block and collect the memory peaks of its duration into a :class:`StageResult`.

    The block sets ``records`` (and any ``details``) on the result it is given.
    """
    result = StageResult(name=name)
    log.info("stage %s: started", name)
    with sampler.window() if sampler is not None else nullcontext({}) as peaks:
        started = time.perf_counter()
        try:
            yield result
        finally:
            result.seconds = time.perf_counter() - started
    result.memory = {group: peak.as_dict() for group, peak in peaks.items()}
    log.info("stage %s: %.2f s", name, result.seconds)


def median_of_runs(runs: list[StageResult]) -> StageResult:
    """One result for a stage run several times: the median seconds (a single run on a shared machine
    can be a quarter slower or faster than the next), the highest memory peaks, the first run's records
    and details, and every run's seconds in ``details["runs_seconds"]``."""
    if not runs:
        raise ValueError("median_of_runs needs at least one run")
    first = runs[0]
    memory: dict[str, dict[str, float | int]] = {}
    for run in runs:
        for group, peaks in run.memory.items():
            merged = memory.setdefault(group, {})
            for measure, value in peaks.items():
                merged[measure] = max(merged.get(measure, value), value)
    return StageResult(
        name=first.name,
        seconds=statistics.median(run.seconds for run in runs),
        records=first.records,
        memory=memory,
        details={**first.details, "runs_seconds": [round(run.seconds, 3) for run in runs]},
    )
