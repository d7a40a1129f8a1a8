"""``customer-sync bench``: measure a full cycle at N persons (and compare the resolution with Splink)."""

from __future__ import annotations

import logging
import shlex
import sys
from pathlib import Path

import click

from customer_sync.config import load_settings
from customer_sync.errors import UserError
from customer_sync.output import emit, info


def _side_by_side(ctx: click.Context, results: tuple[Path, ...]) -> None:
    """Print the sizes table of earlier runs' results; a run option given with them is a mistake."""
    from customer_sync.bench.sizes import load_results, sizes_markdown

    given = [
        param.opts[0]
        for param in ctx.command.params
        if param.name not in (None, "results")
        and ctx.get_parameter_source(param.name) is not click.core.ParameterSource.DEFAULT
    ]
    if given:
        raise UserError(f"bench results are put side by side without running: drop {', '.join(given)}")
    click.echo(sizes_markdown(load_results(results)))


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@click.command()
@click.option("--persons", type=int, default=10_000, show_default=True, help="Persons to generate.")
@click.option("--seed", type=int, default=42, show_default=True, help="Generator seed.")
@click.option(
    "--stages",
    default="land,build,sync,incremental",
    show_default=True,
    help="Comma list of stages: land, build, sync, incremental (each needs the one before it).",
)
@click.option("--compare", default="", help="Also resolve the same records with: splink.")
@click.option(
    "--fast-limits",
    is_flag=True,
    help="Simulators without the real APIs' rate limits (default: real ones).",
)
@click.option(
    "--edit-share",
    type=float,
    default=0.01,
    show_default=True,
    help="Share of the records the incremental stage changes.",
)
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Times the resolution alone and Splink are each run, in turns; the median run is reported.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the result as one JSON object (last stdout line)."
)
@click.argument("results", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def bench(
    ctx: click.Context,
    results: tuple[Path, ...],
    persons: int,
    seed: int,
    stages: str,
    compare: str,
    fast_limits: bool,
    edit_share: float,
    repeat: int,
    as_json: bool,
) -> None:
    """Generate N persons, run land, build and sync against the simulators, and report per stage the
    wall time, records/s and peak memory of Python, Postgres and the simulators, plus precision, recall
    and F1 against the generator's truth.

    The run replaces the simulators' data and the warehouse's tables in CUSTOMER_SYNC_HOME: point it at
    a home of its own.

    Given RESULTS (files with the JSON of earlier runs at different sizes), it runs nothing and prints
    them side by side instead: each stage's time and memory per size and the growth from one size to
    the next.
    """
    if results:
        _side_by_side(ctx, results)
        return
    from customer_sync.bench.runner import BenchOptions, check_options, run_bench

    chosen, compared = _split(stages), _split(compare)
    check_options(persons, chosen, compared, edit_share, repeat)
    verbose = bool((ctx.find_root().obj or {}).get("verbose"))
    if not verbose:
        # Splink warns about every parameter EM could not estimate; the report says what matters
        logging.getLogger("splink").setLevel(logging.ERROR)
    settings = load_settings()
    options = BenchOptions(
        persons=persons,
        seed=seed,
        stages=chosen,
        compare=compared,
        fast_limits=fast_limits,
        edit_share=edit_share,
        repeat=repeat,
        command="customer-sync bench " + shlex.join(sys.argv[2:] if len(sys.argv) > 2 else []),
    )
    info(f"bench in {settings.home}: {persons:,} persons, stages {', '.join(chosen)}", as_json)
    report = run_bench(settings, options, progress=lambda message: info(message, as_json))
    emit(report.as_dict(), as_json, report.to_markdown())
