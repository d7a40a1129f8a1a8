"""``customer-sync extract [--source NAME]... [--full-refresh] [--json]``: land the systems into raw."""

from __future__ import annotations

import click

from customer_sync import db as database
from customer_sync.config import load_settings
from customer_sync.extract import SOURCES, ExtractResult, run_extract
from customer_sync.output import emit


@click.command()
@click.option(
    "--source",
    "sources",
    multiple=True,
    type=click.Choice(SOURCES),
    help="Land only this system (repeatable). Default: all of them.",
)
@click.option("--full-refresh", is_flag=True, help="Forget watermarks and cursors, reload everything.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object as the last line.")
def extract(sources: tuple[str, ...], full_refresh: bool, as_json: bool) -> None:
    """Land the source systems into the raw_* schemas with dlt (incremental unless --full-refresh)."""
    settings = load_settings()
    handle = database.ensure_ready(settings)
    result = run_extract(
        settings, handle, list(sources) or None, full_refresh=full_refresh, progress=not as_json
    )
    emit(result.as_dict(), as_json, human=render(result))


def render(result: ExtractResult) -> str:
    """A table: source, table, rows landed, seconds, rows/s; schema changes underneath."""
    lines = [f"{'source':<9} {'table':<16} {'rows':>8} {'seconds':>8} {'rows/s':>9}"]
    for source in result.sources:
        for index, (table, rows) in enumerate(source.tables.items()):
            seconds = f"{source.seconds:8.1f}" if index == 0 else " " * 8
            rate = f"{source.rows_per_second:9.1f}" if index == 0 else " " * 9
            lines.append(f"{source.source:<9} {table:<16} {rows:>8} {seconds} {rate}")
    lines.append(f"{'total':<9} {'':<16} {result.rows:>8} {result.seconds:8.1f}")
    changes = [
        (source.source, change.describe()) for source in result.sources for change in source.schema_changes
    ]
    for name, text in changes:
        lines.append(f"schema change in {name}: {text}")
    return "\n".join(lines)
