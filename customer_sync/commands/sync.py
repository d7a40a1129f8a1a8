"""``customer-sync sync [--target T]... [--dry-run] [--json]``: push golden values back to the systems."""

from __future__ import annotations

from typing import Any

import click

from customer_sync import db as database
from customer_sync.config import load_settings
from customer_sync.errors import RunFailure
from customer_sync.output import emit
from customer_sync.sync.model import TARGETS


@click.command()
@click.option(
    "--target", "targets", multiple=True, type=click.Choice(TARGETS), help="Only this target (repeat)."
)
@click.option(
    "--dry-run", is_flag=True, help="Print the plan (counts per target and field, a sample); write nothing."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object as the last line.")
def sync(targets: tuple[str, ...], dry_run: bool, as_json: bool) -> None:
    """Write the reverse-ETL changes to each target, batched and paced, every operation in ops.sync_*.

    Exit 0 when every target ran (failed operations are retried by later runs, then parked), 1 when a
    target could not run (e.g. another sync of it holds its lock), 2 for bad configuration.
    """
    from customer_sync.sync import run_sync

    settings = load_settings()
    db = database.ensure_ready(settings)
    result = run_sync(settings, db, list(targets) or None, dry_run=dry_run, progress=not as_json)
    summary = result.as_dict()
    emit(summary, as_json, format_summary(summary))
    problems = {**result.errors, **result.refused}
    if problems:
        raise RunFailure("; ".join(f"{target}: {error}" for target, error in problems.items()))


def format_summary(summary: dict[str, Any]) -> str:
    """Human lines: one per target with its counts, and the plan's fields and sample on a dry run."""
    lines = []
    if summary["dry_run"]:
        lines.append("dry run: nothing written")
        for target, plan in summary["plan"].items():
            fields = ", ".join(f"{name} {count}" for name, count in plan["by_field"].items()) or "-"
            lines.append(f"  {target:<8} {plan['planned']:>6} operations  fields: {fields}")
            for op in plan["sample"]:
                changes = ", ".join(
                    f"{name}: {change['old']!r} -> {change['new']!r}"
                    for name, change in op["changes"].items()
                )
                lines.append(f"      {op['object_type']} {op['record_id']} ({op['customer_id']}): {changes}")
        return "\n".join(lines)
    lines.append(f"sync run {summary['run_id']}: {summary['status']} in {summary['seconds']:.1f}s")
    header = ("planned", "applied", "skipped", "deferred", "failed", "parked")
    lines.append(f"  {'target':<8} " + " ".join(f"{name:>8}" for name in header))
    for target, counts in summary["sync"].items():
        if counts.get("refused"):
            lines.append(f"  {target:<8} refused: {counts['refused']}")
            continue
        lines.append(f"  {target:<8} " + " ".join(f"{counts[name]:>8}" for name in header))
    for target, error in summary.get("errors", {}).items():
        lines.append(f"  {target}: error: {error}")
    return "\n".join(lines)
