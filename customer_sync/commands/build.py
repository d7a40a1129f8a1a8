"""``customer-sync build``: seed, build and snapshot the golden records."""

from __future__ import annotations

import click

from customer_sync import db as database
from customer_sync.config import load_settings
from customer_sync.output import emit, info


@click.command()
@click.option(
    "--json", "as_json", is_flag=True, help="Print the counts as one JSON object (last stdout line)."
)
@click.option("--quiet", "-q", is_flag=True, help="No per-node progress lines.")
@click.option(
    "--retrain",
    is_flag=True,
    help="Estimate the match parameters (u, m) again instead of keeping the trained ones.",
)
@click.option(
    "--reseed",
    is_flag=True,
    help="Reload the seed tables even when the seed files did not change since they were loaded.",
)
def build(as_json: bool, quiet: bool, retrain: bool, reseed: bool) -> None:
    """Run dbt seed (when a seed file changed), build (models, data tests, unit tests) and snapshot."""
    from customer_sync.build import run_build
    from customer_sync.dbt_runner import RETRAIN_ENV

    settings = load_settings()
    db = database.ensure_ready(settings)
    info(f"building on {db.describe()}", as_json)
    result = run_build(
        settings, db, progress=not quiet, extra_env=RETRAIN_ENV if retrain else None, reseed=reseed
    )
    emit(result.as_dict(), as_json, result.describe())
