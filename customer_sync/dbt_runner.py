"""The one place that runs dbt: in-process through ``dbt.cli.main.dbtRunner``.

Every invocation connects as ``cs_transformer`` (profiles.yml reads the ``CUSTOMER_SYNC_PG_*`` variables
set here from :func:`customer_sync.commands.db.dbt_env`), and keeps dbt's target and log folders under
``$CUSTOMER_SYNC_HOME/dbt`` so that two homes (two users, two test sessions) never share compiled files.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from customer_sync.config import Settings
from customer_sync.db import Database
from customer_sync.errors import RunFailure

log = logging.getLogger(__name__)

TRANSFORMER_ROLE = "cs_transformer"
FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})
# set for a dbt call: the match parameters are estimated again (macros/matching/training.sql reads it
# only when a model runs, so dbt does not parse the project again as it would for a changed var)
RETRAIN_ENV = {"CUSTOMER_SYNC_RETRAIN_MATCH_PARAMETERS": "true"}
# dbt's log file keeps info and above unless DBT_LOG_LEVEL_FILE says otherwise (debug writes every
# statement dbt runs, and formatting and writing those lines, under the one interpreter lock the threads
# share, took about a second of a 1% build's 30 at 100k persons)
FILE_LOG_LEVEL_VARIABLE = "DBT_LOG_LEVEL_FILE"
DEFAULT_FILE_LOG_LEVEL = "info"
Progress = Callable[[str], None]


@dataclass(frozen=True)
class NodeOutcome:
    """What happened to one dbt node (model, test, seed, snapshot, unit test)."""

    unique_id: str
    status: str
    message: str | None
    rows_affected: int | None
    seconds: float


@dataclass
class DbtRun:
    """The outcome of one dbt command."""

    command: str
    success: bool
    seconds: float
    nodes: list[NodeOutcome] = field(default_factory=list)

    def failed(self) -> list[NodeOutcome]:
        return [node for node in self.nodes if node.status in FAILED_STATUSES]

    def count(self, resource_type: str, status: str | None = None) -> int:
        prefix = f"{resource_type}."
        return sum(
            1 for node in self.nodes if node.unique_id.startswith(prefix) and status in (None, node.status)
        )


def dbt_paths(settings: Settings) -> tuple[Path, Path]:
    """dbt's target and log folders for this home."""
    base = settings.home / "dbt"
    return base / "target", base / "logs"


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of a dbt call, then restore them."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def _progress_callback(progress: Progress | None) -> Callable[[Any], None]:
    """A dbt event callback that reports each finished node to ``progress``."""

    def callback(event: Any) -> None:
        if progress is None or event.info.name != "NodeFinished":
            return
        node_info = event.data.node_info
        status = node_info.node_status or "done"
        progress(f"  {status:<8} {node_info.resource_type} {node_info.node_name}")

    return callback


def _outcomes(result: Any) -> list[NodeOutcome]:
    outcomes = []
    for item in getattr(result, "results", None) or []:
        response = getattr(item, "adapter_response", None) or {}
        rows = response.get("rows_affected") if isinstance(response, dict) else None
        outcomes.append(
            NodeOutcome(
                unique_id=item.node.unique_id,
                status=str(getattr(item.status, "value", item.status)),
                message=item.message,
                rows_affected=rows,
                seconds=float(item.execution_time or 0.0),
            )
        )
    return outcomes


def run_dbt(
    settings: Settings,
    db: Database,
    command: str,
    *,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    dbt_vars: Mapping[str, Any] | None = None,
    extra_args: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    raise_on_failure: bool = True,
    manifest: Any = None,
) -> DbtRun:
    """Run one dbt command (``seed``, ``build``, ``snapshot``, ``run``, ``test`` ...) as cs_transformer.

    ``extra_env``: environment variables for this call only, such as :data:`RETRAIN_ENV`. Unlike
    ``dbt_vars``, a value the models read only when they run does not make dbt parse the whole project
    again (dbt compares the vars with the last parse's; a changed var means a full parse, 4-5 s here).
    ``manifest``: the project as :func:`parse_project` read it, so that dbt does not read it again.

    Raises :class:`RunFailure` naming the failing nodes unless ``raise_on_failure`` is false.
    """
    args = _arguments(settings, command, select, exclude, dbt_vars, extra_args)
    started = time.monotonic()
    outcome = _invoke(db, args, extra_env, progress, manifest)
    run = DbtRun(
        command=command,
        success=bool(outcome.success),
        seconds=time.monotonic() - started,
        nodes=_outcomes(outcome.result),
    )
    if outcome.exception is not None:
        raise RunFailure(f"dbt {command} could not run: {outcome.exception}") from outcome.exception
    if not run.success and raise_on_failure:
        raise RunFailure(_failure_message(run))
    return run


def parse_project(
    settings: Settings,
    db: Database,
    *,
    dbt_vars: Mapping[str, Any] | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> Any:
    """dbt's manifest of the project (``dbt parse``), to look at before a command and hand to it.

    It writes no manifest.json: the command it is handed to writes its own when it ends."""
    args = _arguments(settings, "parse", (), (), dbt_vars, ("--no-write-json",))
    outcome = _invoke(db, args, extra_env, None, None)
    if outcome.exception is not None or not outcome.success:
        raise RunFailure(f"dbt parse failed: {outcome.exception or 'see the dbt log'}")
    return outcome.result


def _arguments(
    settings: Settings,
    command: str,
    select: Sequence[str],
    exclude: Sequence[str],
    dbt_vars: Mapping[str, Any] | None,
    extra_args: Sequence[str],
) -> list[str]:
    target_path, log_path = dbt_paths(settings)
    target_path.mkdir(parents=True, exist_ok=True)
    log_path.mkdir(parents=True, exist_ok=True)
    args = [
        command,
        "--project-dir",
        str(settings.project_dir),
        "--profiles-dir",
        str(settings.project_dir),
        "--target-path",
        str(target_path),
        "--log-path",
        str(log_path),
        "--quiet",
    ]
    if select:
        args += ["--select", *select]
    if exclude:
        args += ["--exclude", *exclude]
    if dbt_vars:
        args += ["--vars", json.dumps(dict(dbt_vars))]
    args += list(extra_args)
    return args


def _invoke(
    db: Database,
    args: list[str],
    extra_env: Mapping[str, str] | None,
    progress: Progress | None,
    manifest: Any,
) -> Any:
    from dbt.cli.main import dbtRunner

    from customer_sync.commands.db import dbt_env

    log.debug("dbt %s", " ".join(args))
    runner = dbtRunner(manifest=manifest, callbacks=[_progress_callback(progress)])
    log_level = {FILE_LOG_LEVEL_VARIABLE: os.environ.get(FILE_LOG_LEVEL_VARIABLE, DEFAULT_FILE_LOG_LEVEL)}
    with _environment({**log_level, **dbt_env(db, TRANSFORMER_ROLE), **(extra_env or {})}):
        return runner.invoke(args)


def _failure_message(run: DbtRun) -> str:
    failed = run.failed()
    if not failed:
        skipped = run.count("model", "skipped") + run.count("test", "skipped")
        return f"dbt {run.command} failed ({skipped} node(s) skipped; see the dbt log for details)"
    shown = [f"{node.unique_id} ({node.status}: {_first_line(node.message)})" for node in failed[:8]]
    more = f" and {len(failed) - 8} more" if len(failed) > 8 else ""
    return f"dbt {run.command} failed on {len(failed)} node(s): " + "; ".join(shown) + more


def _first_line(message: str | None) -> str:
    """The gist of a dbt message: its first two lines ("Database Error in model x" and the error)."""
    lines = [line.strip() for line in (message or "").strip().splitlines() if line.strip()]
    return " ".join(lines[:2])[:300] if lines else "no message"
