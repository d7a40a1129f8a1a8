"""Bench results at several sizes side by side: each stage's time and memory per size, and the growth
from one size to the next (``customer-sync bench RESULT.json ...``).

A result is the JSON object ``customer-sync bench --json`` prints as its last line; a file may hold the
whole stdout of a run. The results are ordered by persons. A stage a run did not measure shows ``-``, and
so does a growth factor with either side missing: nothing is filled in.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from customer_sync.bench.report import MEMORY_GROUPS
from customer_sync.errors import UserError

# the stages in the order a run takes them; `generate` and `simulate` are the bench's own set-up
TIMED_STAGES = ("generate", "land", "build", "sync", "identity", "splink", "incremental")
Result = dict[str, Any]
Cell = Callable[[Result], float | None]


def load_results(paths: Sequence[Path]) -> list[Result]:
    """The bench results in ``paths``, smallest size first. Raises :class:`UserError` for a file that holds
    no bench result, or for two results of the same size (which one would be meant is not knowable)."""
    results = [_load(path) for path in paths]
    sizes = [result["persons"] for result in results]
    repeated = sorted({size for size in sizes if sizes.count(size) > 1})
    if repeated:
        raise UserError(f"more than one result for {', '.join(f'{size:,}' for size in repeated)} persons")
    return sorted(results, key=lambda result: result["persons"])


def _load(path: Path) -> Result:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    try:
        result = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: the last line is not a bench JSON result ({error})") from error
    if not isinstance(result, dict) or "persons" not in result or "stages" not in result:
        raise UserError(f"{path}: not a bench JSON result (no persons and stages)")
    return result


def sizes_markdown(results: Sequence[Result]) -> str:
    """Markdown tables: seconds per stage, peak memory per stage and process group, the resolution
    against Splink, and the commands and machines that produced each column."""
    if not results:
        raise UserError("no bench results to put side by side")
    head = _header(results)
    sections = [
        "Seconds per stage (wall time)",
        *head,
        *(_row(stage, results, _stage_value(stage, "seconds")) for stage in _stages(results)),
        _row("full cycle (land + build + sync)", results, _full_cycle),
        _row("1% cycle / full cycle", results, _field("incremental_share"), share=True, growth=False),
        "",
        "Peak memory per stage, PSS in MB: the three groups' peaks added (an upper bound of the total at any",
        "one time), then Postgres + the bench's Python + the simulators",
        *head,
        *(_memory_row(stage, results) for stage in _stages(results)),
        "",
        "Resolution against Splink on the same standardized records",
        *head,
        _row("records", results, _field("records"), digits=0),
        _row("F1", results, _field("f1"), digits=4, growth=False),
        _row("Splink F1", results, _field("splink_f1"), digits=4, growth=False),
        _row("identity seconds", results, _field("seconds_identity")),
        _row("Splink's own seconds", results, _field("splink_seconds")),
        _row("identity / Splink's own", results, _field("identity_to_splink"), digits=2, growth=False),
        "",
        *(
            f"- {result['persons']:,} persons: `{result.get('command', '?')}`; {_machine(result)}"
            for result in results
        ),
    ]
    return "\n".join(sections)


def _header(results: Sequence[Result]) -> list[str]:
    sizes = [f"{result['persons']:,}" for result in results]
    growth = [f"{small} to {large}" for small, large in zip(sizes, sizes[1:], strict=False)]
    columns = ["", *sizes, *(f"growth {pair}" for pair in growth)]
    return ["", "| " + " | ".join(columns) + " |", "|---|" + "---:|" * (len(columns) - 1)]


def _stages(results: Sequence[Result]) -> list[str]:
    present = {name for result in results for name in result["stages"]}
    return [stage for stage in TIMED_STAGES if stage in present]


def _row(
    label: str,
    results: Sequence[Result],
    cell: Cell,
    *,
    digits: int = 1,
    share: bool = False,
    growth: bool = True,
) -> str:
    values = [cell(result) for result in results]
    shown = [_format(value, digits, share) for value in values]
    factors = [
        _factor(small, large) if growth else "" for small, large in zip(values, values[1:], strict=False)
    ]
    return "| " + " | ".join([label, *shown, *factors]) + " |"


def _format(value: float | None, digits: int, share: bool) -> str:
    if value is None:
        return "-"
    if share:
        return f"{value:.2%}"
    return f"{value:,.{digits}f}"


def _factor(small: float | None, large: float | None) -> str:
    if small is None or large is None or small <= 0:
        return "-"
    return f"{large / small:.1f}x"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _field(name: str) -> Cell:
    return lambda result: _number(result.get(name))


def _stage_value(stage: str, name: str) -> Cell:
    return lambda result: _number(result["stages"].get(stage, {}).get(name))


def _peaks(result: Result, stage: str) -> list[float | None]:
    """The stage's peak PSS per process group, in MEMORY_GROUPS order (None where not measured)."""
    memory = result["stages"].get(stage, {}).get("memory", {})
    return [_number(memory.get(group, {}).get("peak_pss_mb")) for group in MEMORY_GROUPS]


def _memory_row(stage: str, results: Sequence[Result]) -> str:
    """One stage's memory per size: the groups' peaks added, with the three parts in Postgres, Python,
    simulators order; growth on the added peaks."""
    order = [MEMORY_GROUPS.index(group) for group in ("postgres", "python", "simulators")]
    totals: list[float | None] = []
    shown: list[str] = []
    for result in results:
        peaks = _peaks(result, stage)
        known = [value for value in peaks if value is not None]
        total = sum(known) if known else None
        totals.append(total)
        parts = " + ".join("-" if peaks[i] is None else f"{peaks[i]:,.0f}" for i in order)
        shown.append("-" if total is None else f"{total:,.0f} ({parts})")
    factors = [_factor(small, large) for small, large in zip(totals, totals[1:], strict=False)]
    return "| " + " | ".join([stage, *shown, *factors]) + " |"


def _full_cycle(result: Result) -> float | None:
    """Land + build + sync, only when the run measured all three (a run without its sync has no cycle)."""
    parts = [_stage_value(stage, "seconds")(result) for stage in ("land", "build", "sync")]
    return sum(value for value in parts if value is not None) if None not in parts else None


def _machine(result: Result) -> str:
    machine = result.get("machine") or {}
    if not machine:
        return "machine not recorded"
    return (
        f"{machine.get('nproc')} CPUs ({machine.get('cpu_model')}), {machine.get('ram_gb')} GB RAM, "
        f"Postgres {machine.get('postgres')}, Python {machine.get('python')}"
    )
