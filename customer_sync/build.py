"""Build the golden records: ``dbt seed`` (when a seed file changed), then ``dbt build`` (models,
snapshots, data and unit tests).

Both run in-process as cs_transformer through :mod:`customer_sync.dbt_runner`; the counts in the
result are read back from the warehouse after the run.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import click
import psycopg2.extensions

from customer_sync import db as database
from customer_sync import seeds
from customer_sync.config import Settings
from customer_sync.dbt_runner import DbtRun, Progress, parse_project, run_dbt
from customer_sync.enforced_rules import enforced_rule_tests

log = logging.getLogger(__name__)

SNAPSHOT_TABLES = ("dim_customer_snapshot", "customer_xref_snapshot")
# The tests of the seeds alone (defined in seeds/*.yml, every parent a seed): run by the build that
# loads the seeds, skipped by the builds after it (the tables are the files they tested). `cautious`
# keeps the tests defined there that also read a model (staging's country codes in ref_country_codes).
SEED_TESTS_SKIPPED = ["--exclude", "path:seeds", "--indirect-selection", "cautious"]
HISTORY_EVENTS = ("merge", "split", "move")


@dataclass
class BuildResult:
    """What a build produced (counts are of the built tables) and how long each step took."""

    records: int = 0
    candidate_pairs: int = 0
    matches: int = 0
    customers: int = 0
    merges: int = 0
    splits: int = 0
    moves: int = 0
    snapshot_rows_added: int = 0
    models: int = 0
    tests: int = 0
    tests_enforced_by_tables: int = 0
    unit_tests: int = 0
    seconds: float = 0.0
    step_seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        return (
            f"built {self.customers} customers from {self.records} records "
            f"({self.candidate_pairs} candidate pairs, {self.matches} matches); "
            f"{self.merges} merges, {self.splits} splits, {self.moves} moves; "
            f"{self.snapshot_rows_added} snapshot rows added; "
            f"{self.models} models, {self.tests} tests ({self.tests_enforced_by_tables} more enforced by the "
            f"tables), {self.unit_tests} unit tests in {self.seconds:.1f} s"
        )


def stderr_progress(message: str) -> None:
    """Progress for a person waiting: one line per finished dbt node, on stderr; in a log (not a
    terminal) only the steps and the nodes that did not pass."""
    quiet = not sys.stderr.isatty() and message.lstrip().startswith(("pass ", "success ", "skip "))
    if not quiet:
        click.echo(message, err=True)


def count_rows(cur: psycopg2.extensions.cursor, schema: str, table: str, where: str = "") -> int:
    """Rows of ``schema.table`` (0 when it does not exist yet)."""
    cur.execute("select to_regclass(%s)", (f'"{schema}"."{table}"',))
    if cur.fetchone()[0] is None:
        return 0
    cur.execute(f'select count(*) from "{schema}"."{table}" {where}')
    return int(cur.fetchone()[0])


def _history_counts(cur: psycopg2.extensions.cursor, prefix: str) -> dict[str, int]:
    return {
        event: count_rows(cur, f"{prefix}identity", "customer_id_history", f"where event_type = '{event}'")
        for event in HISTORY_EVENTS
    }


def _snapshot_rows(cur: psycopg2.extensions.cursor, prefix: str) -> int:
    return sum(count_rows(cur, f"{prefix}snapshots", table) for table in SNAPSHOT_TABLES)


def _mark_seeds_loaded(db: database.Database, prefix: str, tables: list[str], digest: str) -> None:
    with database.connect(db, role="cs_transformer") as conn, conn.cursor() as cur:
        seeds.mark_seeds_loaded(cur, f"{prefix}staging", tables, digest)


def run_scheduled_build(
    settings: Settings, db: database.Database, progress: bool | Progress = True
) -> BuildResult:
    """The build of a scheduled cycle (``customer-sync run``, and the bench as it times one): the data
    tests, but not the unit tests (they test the SQL, not the data: ``customer-sync build`` and CI run
    them) nor the data tests whose rule a kept table enforces (:mod:`customer_sync.enforced_rules`)."""
    return run_build(settings, db, progress=progress, unit_tests=False, enforced_tests=False)


def missing_snapshots(run: DbtRun) -> list[str]:
    """The project's snapshots (SNAPSHOT_TABLES) that ``run`` did not include, as names."""
    included = {
        node.unique_id.rsplit(".", 1)[-1] for node in run.nodes if node.unique_id.startswith("snapshot.")
    }
    return [name for name in SNAPSHOT_TABLES if name not in included]


def run_build(
    settings: Settings,
    db: database.Database,
    progress: bool | Progress = True,
    *,
    dbt_vars: Mapping[str, Any] | None = None,
    select: Sequence[str] = (),
    snapshot: bool = True,
    unit_tests: bool = True,
    enforced_tests: bool = True,
    reseed: bool = False,
    extra_build_args: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
) -> BuildResult:
    """Seed, build and snapshot; ``select`` limits the build (e.g. to the models one file source needs).

    ``unit_tests=False`` leaves out the dbt unit tests: they test the SQL on fixed rows, not the data, so
    they belong to development and CI (``customer-sync build``, ``make test``), and a scheduled cycle,
    whose SQL they already passed, skips them (as dbt advises for production runs).

    ``enforced_tests=False`` leaves out the data tests whose rule the table of their incremental model
    enforces before the build (:mod:`customer_sync.enforced_rules`): Postgres checks those rules on
    every row the build writes, so the tests cannot fail. A scheduled cycle leaves them out; a full
    refresh runs them all (its tables are new).

    The seed tables are reloaded only when a seed file or ``dbt_project.yml`` changed since they were
    loaded (:mod:`customer_sync.seeds`), or when ``reseed`` is true.

    ``progress`` is True (lines on stderr), False (silent) or a callable taking one line.
    ``extra_env``: environment variables for the dbt calls (:func:`customer_sync.dbt_runner.run_dbt`).
    """
    report: Progress | None = stderr_progress if progress is True else (progress or None)
    prefix = str((dbt_vars or {}).get("schema_prefix", ""))
    started = time.monotonic()
    seed_tables = [path.stem for path in seeds.seed_files(settings.project_dir)]
    digest = seeds.seed_digest(settings.project_dir)
    with database.connect(db, role="cs_transformer") as conn, conn.cursor() as cur:
        history_before = _history_counts(cur, prefix)
        snapshot_before = _snapshot_rows(cur, prefix)
        seeds_current = not reseed and seeds.seeds_loaded(cur, f"{prefix}staging", seed_tables, digest)

    result = BuildResult()
    steps: list[DbtRun] = []
    if seeds_current:
        if report:
            report("dbt seed: skipped, the seed tables hold the seed files as they are")
    else:
        if report:
            report("dbt seed")
        # seeds are small: reload them from scratch, so a seed whose columns changed never fails the build
        steps.append(
            run_dbt(
                settings,
                db,
                "seed",
                dbt_vars=dbt_vars,
                extra_args=["--full-refresh"],
                extra_env=extra_env,
                progress=report,
            )
        )
        if select:  # a partial build may not run the seeds' tests: the next whole build does
            _mark_seeds_loaded(db, prefix, seed_tables, digest)
    if report:
        report("dbt build")
    # snapshots build inside `dbt build`, after the marts they copy have passed their tests, and their own
    # tests run after them (so a first build on an empty warehouse never tests a snapshot not yet taken)
    skipped = [] if unit_tests else ["--exclude-resource-type", "unit_test"]
    if seeds_current and not select:
        skipped += SEED_TESTS_SKIPPED
    selected = list(select)
    manifest = None
    if not enforced_tests and "--full-refresh" not in extra_build_args:
        manifest = parse_project(settings, db, dbt_vars=dbt_vars, extra_env=extra_env)
        with database.connect(db, role="cs_transformer") as conn, conn.cursor() as cur:
            enforced = enforced_rule_tests(manifest, cur)
        result.tests_enforced_by_tables = len(enforced)
        if enforced:
            skipped += ["--exclude", *enforced]
    if not snapshot:
        skipped += ["--exclude-resource-type", "snapshot", "--exclude", "path:snapshots"]
    elif selected:  # a partial build still snapshots the marts it built
        selected += list(SNAPSHOT_TABLES)
    steps.append(
        run_dbt(
            settings,
            db,
            "build",
            select=selected,
            dbt_vars=dbt_vars,
            extra_args=["--exclude-resource-type", "seed", *skipped, *extra_build_args],
            extra_env=extra_env,
            progress=report,
            manifest=manifest,
        )
    )

    build_run = steps[-1]
    if not seeds_current and not select:
        # marked once the seeds' tests passed: a build after a failed one loads and tests them again
        _mark_seeds_loaded(db, prefix, seed_tables, digest)
    missing = missing_snapshots(build_run) if snapshot else []
    if missing:
        # dbt's partial parsing was seen to drop a snapshot from the project for hours of cycles, with no
        # error: history silently not taken. Take the missing ones now, from a full parse
        log.warning("dbt build ran no %s: taking them from a full parse", ", ".join(missing))
        if report:
            report(f"dbt build ran no {', '.join(missing)}: taking them from a full parse")
        steps.append(
            run_dbt(
                settings,
                db,
                "build",
                select=missing,
                dbt_vars=dbt_vars,
                extra_args=["--no-partial-parse"],
                extra_env=extra_env,
                progress=report,
            )
        )
    result.models = build_run.count("model")
    result.tests = build_run.count("test")
    result.unit_tests = build_run.count("unit_test")
    for run in steps:
        result.step_seconds[run.command] = round(result.step_seconds.get(run.command, 0.0) + run.seconds, 2)
    with database.connect(db, role="cs_transformer") as conn, conn.cursor() as cur:
        identity, marts = f"{prefix}identity", f"{prefix}marts"
        result.records = count_rows(cur, identity, "int_customer_records")
        result.candidate_pairs = count_rows(cur, identity, "int_customer_pairs")
        result.matches = count_rows(cur, identity, "int_customer_matches")
        result.customers = count_rows(cur, marts, "dim_customer")
        history_after = _history_counts(cur, prefix)
        result.merges = history_after["merge"] - history_before["merge"]
        result.splits = history_after["split"] - history_before["split"]
        result.moves = history_after["move"] - history_before["move"]
        result.snapshot_rows_added = _snapshot_rows(cur, prefix) - snapshot_before
    result.seconds = round(time.monotonic() - started, 2)
    log.info("build: %s", result.describe())
    return result
