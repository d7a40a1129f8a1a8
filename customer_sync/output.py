"""Printing results: human lines, and with ``--json`` one JSON object as the last line of stdout."""

from __future__ import annotations

import json
from typing import Any

import click


def emit(result: dict[str, Any], as_json: bool, human: str | None = None) -> None:
    """Print ``human`` (if given) and, with ``as_json``, the result as the final stdout line."""
    if human and not as_json:
        click.echo(human)
    if as_json:
        click.echo(json.dumps(result, default=str, sort_keys=True))


def info(message: str, as_json: bool = False) -> None:
    """Progress for a person: stderr when stdout is reserved for JSON."""
    click.echo(message, err=as_json)
