"""The bench's persons, generated in a child process that loads them into the simulators' storage.

Only what the bench keeps comes back: the truth (record id -> person) and the planned edits. The
generated records themselves never enter the bench's process. Once freed there, their memory stayed
with the process (at 100k persons 450 of 500 MB: the allocator keeps pages that a few surviving
objects pin), so every later stage measured the generator's leftovers with the pipeline's own memory:
about 4.4 GB of the bench process's peak at 1M persons.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from customer_sync.config import Settings


@dataclass(frozen=True)
class PreparedSystems:
    """What the child hands back: the truth, the planned edits and what loading the systems cost."""

    truth: dict[str, str]
    edits: list[dict[str, Any]]
    noise: dict[str, Any]
    counts: dict[str, int]
    generate_seconds: float
    load_seconds: float


def prepare_systems(settings: Settings, persons: int, seed: int, edit_share: float | None) -> PreparedSystems:
    """Generate ``persons`` (``seed``) in a child process and load them into the simulators' storage
    (which must be stopped); ``edit_share``: also plan edits of that share of the records."""
    # spawned, not forked: the bench's memory sampler runs in a thread, and a forked child would
    # inherit the locks it may hold
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_prepare, settings, persons, seed, edit_share).result()


def _prepare(settings: Settings, persons: int, seed: int, edit_share: float | None) -> PreparedSystems:
    from customer_sync.bench.resolution import truth_by_record
    from customer_sync.generate import generate, plan_edits
    from customer_sync.simulators.control import load_data
    from customer_sync.simulators.edits import to_edit

    started = time.perf_counter()
    data = generate(persons, seed)
    truth = truth_by_record(data.truth)
    edits: list[dict[str, Any]] = []
    if edit_share is not None:
        # planned from the records as generated: the truth is needed for typo fixes
        count = max(1, round(len(truth) * edit_share))
        edits = [to_edit(edit) for edit in plan_edits(data, count, seed)]
    generated = time.perf_counter()
    counts = load_data(settings, persons, seed, data)
    return PreparedSystems(
        truth=truth,
        edits=edits,
        noise=data.noise_stats(),
        counts=dict(counts),
        generate_seconds=generated - started,
        load_seconds=time.perf_counter() - generated,
    )
