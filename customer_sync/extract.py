"""Landing: run the dlt pipelines of the source systems (and of CSV files) into the raw schemas.

Each system has its own pipeline (``customer_sync_<system>``, dataset ``raw_<system>``) with its state
(watermarks, cursors) under ``$CUSTOMER_SYNC_HOME/dlt`` and mirrored in the destination, and loads as the
``cs_loader`` role. A run killed half-way is finished by the next one: dlt loads pending packages
first, and the state of a source only moves when its package is loaded.

The systems land concurrently, one thread per source (``CUSTOMER_SYNC_EXTRACT_PARALLELISM`` at a time,
default all of them; 1 lands them one after another in the calling thread). Each source keeps its own
pipeline, working directory, connections and client-side pacing, so they share nothing but the process.
A source that fails does not stop the others: every source runs to its end, then the run raises one
error naming each source that failed (and the ones that landed).
"""

from __future__ import annotations

import importlib
import logging
import os
import queue
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.common.destination.exceptions import DestinationTerminalException
from dlt.pipeline.exceptions import PipelineStepFailed

from customer_sync import credentials
from customer_sync.config import Settings
from customer_sync.db import Database
from customer_sync.errors import CustomerSyncError, RunFailure, UserError

logger = logging.getLogger(__name__)

SOURCES = ("crm", "billing", "support", "erp")
# how many sources land at once; unset: all of them, 1: one after another
PARALLELISM_VARIABLE = "CUSTOMER_SYNC_EXTRACT_PARALLELISM"
# how often the waiting thread wakes up to redraw progress (and to notice Ctrl-C)
POLL_SECONDS = 0.5
# a column dlt adds when a value does not fit the column's type: <column>__v_<type>
VARIANT_COLUMN = re.compile(r"__v_[a-z]+$")


@dataclass
class SchemaChange:
    """A column that appeared in an existing table during a run."""

    table: str
    column: str
    data_type: str | None
    variant: bool

    def describe(self) -> str:
        kind = "variant column (a value did not fit the column's type)" if self.variant else "new column"
        return f"{self.table}.{self.column}: {kind}, {self.data_type}"


@dataclass
class SourceResult:
    """What one source landed in one run."""

    source: str
    tables: dict[str, int]
    seconds: float
    schema_changes: list[SchemaChange] = field(default_factory=list)
    nested_tables: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    @property
    def rows_per_second(self) -> float:
        return round(self.rows / self.seconds, 1) if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "tables": dict(self.tables),
            "nested_tables": dict(self.nested_tables),
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "rows_per_second": self.rows_per_second,
            "schema_changes": [change.describe() for change in self.schema_changes],
        }


@dataclass
class ExtractResult:
    """What a run of ``extract`` landed, per source.

    ``seconds`` is the run's wall-clock time when it was measured (``wall_seconds``): with sources landing
    concurrently it is less than the sum of the sources' own times.
    """

    sources: list[SourceResult]
    wall_seconds: float | None = None
    parallelism: int = 1

    @property
    def rows(self) -> int:
        return sum(result.rows for result in self.sources)

    @property
    def seconds(self) -> float:
        if self.wall_seconds is not None:
            return self.wall_seconds
        return sum(result.seconds for result in self.sources)

    def source(self, name: str) -> SourceResult:
        return next(result for result in self.sources if result.source == name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sources": {result.source: result.as_dict() for result in self.sources},
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "parallelism": self.parallelism,
        }


@dataclass(frozen=True)
class FileLandResult:
    """A CSV landed into ``schema``: every input row is landed or quarantined."""

    rows_in: int
    landed: int
    quarantined: int
    schema: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows_in": self.rows_in,
            "landed": self.landed,
            "quarantined": self.quarantined,
            "schema": self.schema,
        }


def make_pipeline(settings: Settings, db: Database, name: str, dataset: str, progress: bool) -> dlt.Pipeline:
    """The dlt pipeline of one source, loading as ``cs_loader`` into ``dataset``."""
    pipelines_dir = settings.home / "dlt"
    pipelines_dir.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name=f"customer_sync_{name}",
        pipelines_dir=str(pipelines_dir),
        destination=dlt.destinations.postgres(db.role_url("cs_loader")),
        dataset_name=dataset,
        # bars redraw many times a second: on a terminal only (logs get the per-source summary)
        progress="tqdm" if progress and sys.stderr.isatty() else None,
    )


def check_sources(sources: list[str] | None) -> list[str]:
    """The sources to run, in their fixed order; an unknown name is a ``UserError``."""
    if not sources:
        return list(SOURCES)
    unknown = sorted(set(sources) - set(SOURCES))
    if unknown:
        raise UserError(f"unknown source(s) {', '.join(unknown)}; known: {', '.join(SOURCES)}")
    return [name for name in SOURCES if name in sources]


def extract_parallelism(sources: int, parallelism: int | None = None) -> int:
    """How many of ``sources`` land at once: ``parallelism`` if given, else
    ``CUSTOMER_SYNC_EXTRACT_PARALLELISM``, else all of them; never more than there are sources."""
    wrong = f"{PARALLELISM_VARIABLE} must be a whole number of at least 1 (1 = one source at a time)"
    if parallelism is None:
        text = os.environ.get(PARALLELISM_VARIABLE, "").strip()
        if not text:
            return max(sources, 1)
        try:
            parallelism = int(text)
        except ValueError:
            raise UserError(wrong) from None
    if parallelism < 1:
        raise UserError(wrong)
    return max(min(parallelism, sources), 1)


def run_extract(
    settings: Settings,
    db: Database,
    sources: list[str] | None = None,
    full_refresh: bool = False,
    progress: bool = True,
    parallelism: int | None = None,
) -> ExtractResult:
    """Land ``sources`` (default: all systems) incrementally, or from scratch with ``full_refresh``.

    ``parallelism`` sources land at once (default: ``CUSTOMER_SYNC_EXTRACT_PARALLELISM``, else all).
    Every source runs even when another fails; failures are raised together at the end.
    """
    names = check_sources(sources)
    workers = extract_parallelism(len(names), parallelism)
    for name in names:
        importlib.import_module(f"pipelines.{name}")  # imported here, once, not raced by the threads
    started = time.monotonic()
    with credentials.simulator_credentials(settings, names):
        if workers == 1:
            outcomes = {name: _attempt(settings, db, name, full_refresh, progress) for name in names}
        else:
            outcomes = _run_concurrently(settings, db, names, full_refresh, progress, workers)
    wall = time.monotonic() - started
    results = [outcome for outcome in outcomes.values() if isinstance(outcome, SourceResult)]
    failures = {name: outcome for name, outcome in outcomes.items() if isinstance(outcome, Exception)}
    if failures:
        raise _failed(failures, results)
    return ExtractResult(sources=results, wall_seconds=wall, parallelism=workers)


Outcome = SourceResult | Exception


def _attempt(settings: Settings, db: Database, name: str, full_refresh: bool, progress: bool) -> Outcome:
    """One source's result, or the error that stopped it (logged with the source's name)."""
    try:
        return _run_source(settings, db, name, full_refresh, progress)
    except Exception as exc:  # collected: the other sources still run, the run raises at its end
        logger.warning("extract %s failed: %s", name, exc, exc_info=logger.isEnabledFor(logging.DEBUG))
        return exc


def _run_concurrently(
    settings: Settings, db: Database, names: list[str], full_refresh: bool, progress: bool, workers: int
) -> dict[str, Outcome]:
    """Land ``names`` on ``workers`` threads, each source in a thread of its own from start to end.

    The threads are daemons: on Ctrl-C the process exits without waiting for them, which leaves the
    sources where a killed run leaves them (the next run finishes their pending packages).
    """
    todo: queue.SimpleQueue[str] = queue.SimpleQueue()
    for name in names:
        todo.put(name)
    # (source, None) when it starts, (source, outcome) when it ends
    events: queue.SimpleQueue[tuple[str, Outcome | None]] = queue.SimpleQueue()

    def work() -> None:
        while True:
            try:
                name = todo.get_nowait()
            except queue.Empty:
                return
            events.put((name, None))
            outcome: Outcome = RunFailure(f"extract {name} stopped before it finished")
            try:
                # per-pipeline progress bars would redraw over each other: the waiting thread shows one
                outcome = _attempt(settings, db, name, full_refresh, progress=False)
            finally:
                events.put((name, outcome))  # whatever happens, the waiting thread hears the end

    for index in range(workers):
        threading.Thread(target=work, name=f"extract-{index + 1}", daemon=True).start()
    show = _progress_display(len(names)) if progress and sys.stderr.isatty() else _no_progress
    outcomes: dict[str, Outcome] = {}
    running: list[str] = []
    try:
        while len(outcomes) < len(names):
            try:
                name, outcome = events.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            if outcome is None:
                running.append(name)
            else:
                running.remove(name)
                outcomes[name] = outcome
            show(name, outcome, running)
    finally:
        show("", None, [])
    return {name: outcomes[name] for name in names}


# (source that started or ended, its outcome when it ended, sources running now); ("", None, []) closes
ProgressDisplay = Callable[[str, Outcome | None, list[str]], None]


def _no_progress(name: str, outcome: Outcome | None, running: list[str]) -> None:
    return None


def _progress_display(total: int) -> ProgressDisplay:
    """One bar of sources finished, the running ones as its postfix, a line per source that landed
    (a failure is logged as a warning when it happens and raised at the end)."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc="extract", unit="source", file=sys.stderr, leave=False)

    def show(name: str, outcome: Outcome | None, running: list[str]) -> None:
        if not name:
            bar.close()
            return
        if isinstance(outcome, SourceResult):
            bar.write(
                f"extract {name}: {outcome.rows:,} rows in {outcome.seconds:.1f} s "
                f"({outcome.rows_per_second:,.0f} rows/s)",
                file=sys.stderr,
            )
        if outcome is not None:
            bar.update(1)
        bar.set_postfix_str(f"running: {', '.join(running)}" if running else "")

    return show


def _failed(failures: dict[str, Exception], landed: list[SourceResult]) -> Exception:
    """One error for the sources that failed, naming each; a user error only if all of them are."""
    messages = []
    for name, exc in failures.items():
        if isinstance(exc, CustomerSyncError):
            messages.append(str(exc))  # these name their source already
        else:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            messages.append(f"extract {name} failed: {exc.__class__.__name__}: {first}".rstrip(": "))
    if landed:
        done = ", ".join(f"{result.source} ({result.rows:,} rows)" for result in landed)
        messages.append(f"landed: {done}")
    message = "; ".join(messages)
    kind = UserError if all(isinstance(exc, UserError) for exc in failures.values()) else RunFailure
    error = kind(message)
    error.__cause__ = next(iter(failures.values()))
    return error


def _run_source(
    settings: Settings, db: Database, name: str, full_refresh: bool, progress: bool
) -> SourceResult:
    module = importlib.import_module(f"pipelines.{name}")
    pipeline = make_pipeline(settings, db, name, f"raw_{name}", progress)
    try:
        source = module.source()
    except ConfigFieldMissingException as exc:
        raise UserError(_missing_config_message(name, exc)) from exc
    return land_source(pipeline, source, name, full_refresh)


def land_source(pipeline: dlt.Pipeline, source: Any, name: str, full_refresh: bool = False) -> SourceResult:
    """Run ``source`` through ``pipeline``; what landed per table, how long it took, what changed."""
    _drop_committed_extracts(pipeline, name)
    before = _columns(pipeline)
    started = time.monotonic()
    logger.info("extract %s: start%s", name, " (full refresh)" if full_refresh else "")
    try:
        _run_pipeline(pipeline, source, name, full_refresh)
    except PipelineStepFailed as exc:
        raise _step_error(name, exc) from exc
    seconds = time.monotonic() - started
    result = _source_result(name, pipeline, before, seconds)
    for change in result.schema_changes:
        logger.warning("extract %s: schema change %s", name, change.describe())
    logger.info("extract %s: %d rows in %.1f s", name, result.rows, seconds)
    return result


def _run_pipeline(pipeline: dlt.Pipeline, source: Any, name: str, full_refresh: bool) -> None:
    """Run ``source``; dlt first finishes the packages a killed run left (and then stops there).

    A kill between the destination's commit of a load job and dlt's record of it leaves a job that dlt
    runs again when it resumes the package: its rows are inserted a second time and the staging
    table's unique ``_dlt_id`` key refuses them, every time (a terminal error). Such a package is
    aborted (dlt rewinds the pipeline state to where the package began, so nothing it carried is lost)
    and the source is extracted again, from scratch when the aborted package was a full refresh that
    had already emptied the tables. Other failures are raised as they are."""
    resumed = set(pipeline.list_normalized_load_packages())
    try:
        pipeline.run(source, refresh="drop_data" if full_refresh else None)
        return
    except PipelineStepFailed as exc:
        terminal = any(isinstance(cause, DestinationTerminalException) for cause in _causes(exc))
        if exc.step != "load" or exc.load_id not in resumed or not terminal:
            raise  # a new package, or an error that may pass (the database is down): as before
        package = pipeline.get_load_package_state(exc.load_id)
        refreshed = bool(package.get("truncated_tables") or package.get("dropped_tables"))
        logger.warning(
            "extract %s: the package %s left by a killed run cannot be finished (%s); it is aborted"
            " and the source extracted again%s",
            name,
            exc.load_id,
            _root_message(exc),
            " from scratch" if refreshed else "",
        )
        pipeline.abort_packages()
    pipeline.run(source, refresh="drop_data" if full_refresh or refreshed else None)


def _drop_committed_extracts(pipeline: dlt.Pipeline, name: str) -> None:
    """Finish what a run killed during dlt's normalize commit left: once a package is normalized, dlt
    deletes its extracted copy, and a kill in the middle of that delete leaves part of the copy behind.
    The next run would normalize that part again and fail; the package itself is safe in the load
    storage, so the leftover is deleted as dlt would have."""
    committed = {*pipeline.list_normalized_load_packages(), *pipeline.list_completed_load_packages()}
    for load_id in pipeline.list_extracted_load_packages():
        if load_id in committed:
            logger.warning("extract %s: removing the leftover extracted copy of package %s", name, load_id)
            # dlt's own storage does the delete: the same call its normalize step makes
            pipeline._get_normalize_storage().extracted_packages.delete_package(load_id)


def land_file(
    settings: Settings, db: Database, csv_path: Path, mapping_path: Path, name: str
) -> FileLandResult:
    """Land one CSV with its mapping into ``raw_file_<name>`` (``records`` + ``quarantine``), replacing
    what an earlier landing under the same name left there."""
    from pipelines import file as file_pipeline

    file_pipeline.check_name(name)
    mapping = file_pipeline.load_mapping(Path(mapping_path))
    rows = file_pipeline.read_file(Path(csv_path), mapping)
    schema = f"raw_file_{name}"
    pipeline = make_pipeline(settings, db, f"file_{name}", schema, progress=False)
    try:
        pipeline.run(file_pipeline.file_source(rows), refresh="drop_data")
    except PipelineStepFailed as exc:
        raise _step_error(f"file {name}", exc) from exc
    result = FileLandResult(
        rows_in=rows.rows_in, landed=len(rows.records), quarantined=len(rows.quarantine), schema=schema
    )
    logger.info("landed %s: %s", csv_path, result.as_dict())
    return result


# --- results ---------------------------------------------------------------------------------------


def _columns(pipeline: dlt.Pipeline) -> dict[str, set[str]]:
    """The data tables and their columns of the pipeline's schema before a run (empty on the first)."""
    if not pipeline.default_schema_name:
        return {}
    schema = pipeline.default_schema
    return {table["name"]: set(table.get("columns", {})) for table in schema.data_tables()}


def _source_result(
    name: str, pipeline: dlt.Pipeline, before: dict[str, set[str]], seconds: float
) -> SourceResult:
    schema = pipeline.default_schema
    tables = {table["name"]: table for table in schema.data_tables()}
    normalize = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
    counts: dict[str, int] = dict(normalize.row_counts) if normalize else {}
    roots: dict[str, int] = {}
    nested: dict[str, int] = {}
    for table_name, table in tables.items():
        target = nested if table.get("parent") else roots
        target[table_name] = int(counts.get(table_name, 0))
    changes: list[SchemaChange] = []
    for table_name, known in before.items():
        for column, spec in tables.get(table_name, {}).get("columns", {}).items():
            if column not in known:
                variant = bool(VARIANT_COLUMN.search(column))
                changes.append(SchemaChange(table_name, column, spec.get("data_type"), variant))
    return SourceResult(
        source=name, tables=roots, seconds=seconds, schema_changes=changes, nested_tables=nested
    )


# --- errors ----------------------------------------------------------------------------------------


def _missing_config_message(name: str, exc: ConfigFieldMissingException) -> str:
    fields = ", ".join(f"SOURCES__{name.upper()}__{field_name.upper()}" for field_name in exc.fields)
    return (
        f"source {name} is not configured: set {fields} (env vars or .dlt/secrets.toml), "
        "or run 'customer-sync simulate start' to use the local simulators"
    )


def _step_error(name: str, exc: PipelineStepFailed) -> Exception:
    """A user error hidden in dlt's wrapping, or a one-line run failure naming the root cause."""
    for cause in _causes(exc):
        if isinstance(cause, UserError):
            return UserError(f"source {name}: {cause}")
        if isinstance(cause, ConfigFieldMissingException):
            return UserError(_missing_config_message(name, cause))
    root = _causes(exc)[-1]
    status = getattr(getattr(root, "response", None), "status_code", None)
    if status in (401, 403):
        return UserError(f"source {name}: the system rejected the credentials (HTTP {status})")
    return RunFailure(f"extract {name} failed in dlt's {exc.step} step: {_root_message(exc)}")


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and the chain of exceptions behind it, the root cause last."""
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and cause not in chain:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    return chain


def _root_message(exc: BaseException) -> str:
    """The root cause's class and the first line of its message."""
    root = _causes(exc)[-1]
    first = str(root).strip().splitlines()[0] if str(root).strip() else root.__class__.__name__
    return f"{root.__class__.__name__}: {first}"
