"""``customer-sync evaluate``: pairwise and B-cubed accuracy of identity resolution on a labelled file."""

from __future__ import annotations

from pathlib import Path

import click

from customer_sync import db as database
from customer_sync.config import load_settings
from customer_sync.output import emit, info


@click.command()
@click.argument("records", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--mapping",
    "mapping",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Mapping YAML of the file's columns to canonical fields (the truth column must not be mapped).",
)
@click.option("--truth", "truth_column", required=True, help="Column holding the true entity of each row.")
@click.option("--keep", is_flag=True, help="Keep the evaluation's schemas for inspection.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the result as one JSON object (last stdout line)."
)
@click.option("--progress/--no-progress", default=False, help="Show dbt progress on stderr.")
def evaluate(
    records: Path, mapping: Path, truth_column: str, keep: bool, as_json: bool, progress: bool
) -> None:
    """Resolve RECORDS.csv in schemas of its own and score it against its truth column."""
    from customer_sync.evaluate import evaluate as run_evaluation

    settings = load_settings()
    db = database.ensure_ready(settings)
    info(f"evaluating {records} on {db.describe()}", as_json)
    result = run_evaluation(settings, db, records, mapping, truth_column, keep=keep, progress=progress)
    emit(result.as_dict(), as_json, result.describe())
