"""``customer-sync bench``: one full cycle at N persons, measured stage by stage.

Stages, in order (each optional, but each needs the one before it):

- ``land``: start the simulators with N generated persons and land every system from scratch;
- ``build``: dbt builds staging, identity resolution, marts and reverse-ETL plans; the resolution
  (``marts.customer_xref``) is then scored against the generator's truth, kept in this process;
- ``sync``: push the planned changes back to the systems;
- ``incremental``: change 1% of the records in the systems as people would, then run one more cycle
  (extract, build, sync) and compare its time with the full cycle's.

With ``compare=("splink",)`` Splink resolves the same standardized records after the build.
Memory is sampled throughout (see :mod:`customer_sync.bench.memory`).
"""

from __future__ import annotations

import importlib
import logging
import os
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from customer_sync import db as database
from customer_sync.bench import resolution
from customer_sync.bench.machine import describe_machine
from customer_sync.bench.memory import MemorySampler, standard_groups
from customer_sync.bench.metrics import score_clusters
from customer_sync.bench.report import BenchReport
from customer_sync.bench.stages import StageResult, median_of_runs, stage
from customer_sync.config import Settings
from customer_sync.errors import CustomerSyncError, RunFailure, UserError

log = logging.getLogger(__name__)

STAGES = ("land", "build", "sync", "incremental")
# stage -> the stage whose output it needs
REQUIRES = {"build": "land", "sync": "build", "incremental": "build"}
COMPARES = ("splink",)
# the resolution: every model between the standardized records and the clusters (records excluded)
IDENTITY_SELECTOR = "int_customer_records+,+int_customer_clusters"
SOURCE_VARIABLE_PREFIX = "SOURCES__"
# the person tables the incremental stage's edits change, per system
EDITED_TABLES = {"crm": "contacts", "billing": "customers", "support": "users", "erp": "res_partner"}
# small reference tables landed whole on every run (not customer records)
REFERENCE_TABLES = {("erp", "res_country")}
Progress = Callable[[str], None]


@dataclass(frozen=True)
class BenchOptions:
    """What to measure."""

    persons: int
    seed: int = 42
    stages: tuple[str, ...] = STAGES
    compare: tuple[str, ...] = ()
    fast_limits: bool = False
    edit_share: float = 0.01
    # times the resolution alone (and Splink) is run and timed; the median is reported
    repeat: int = 3
    command: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def check_options(
    persons: int, stages: Sequence[str], compare: Sequence[str], edit_share: float, repeat: int = 1
) -> None:
    """Raise a ``UserError`` for options that cannot be run as given."""
    if persons < 1:
        raise UserError("--persons must be at least 1")
    if repeat < 1:
        raise UserError("--repeat must be at least 1")
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        raise UserError(f"unknown stage(s) {', '.join(unknown)}; known: {', '.join(STAGES)}")
    if not stages:
        raise UserError(f"no stage to run; give --stages with some of {', '.join(STAGES)}")
    for name in stages:
        needed = REQUIRES.get(name)
        if needed and needed not in stages:
            raise UserError(f"stage '{name}' needs stage '{needed}' in the same run")
    bad = sorted(set(compare) - set(COMPARES))
    if bad:
        raise UserError(f"unknown comparison(s) {', '.join(bad)}; known: {', '.join(COMPARES)}")
    if compare and "build" not in stages:
        raise UserError("--compare needs the 'build' stage (it resolves the records the build standardized)")
    if not 0 < edit_share <= 1:
        raise UserError("--edit-share must be between 0 (exclusive) and 1")


def _module(name: str) -> Any:
    """Import a sibling layer; a missing one is a failure of this install, said in one line."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise RunFailure(f"bench needs {name}, which cannot be imported: {exc}") from exc


def _as_dict(result: Any) -> dict[str, Any]:
    return result.as_dict() if hasattr(result, "as_dict") else {}


def _postgres_version(db: database.Database) -> str | None:
    with database.connect(db) as conn, conn.cursor() as cur:
        cur.execute("show server_version")
        row = cur.fetchone()
    return str(row[0]) if row else None


class Bench:
    """One benchmark run: holds the warehouse handle, the sampler and the report being filled."""

    def __init__(self, settings: Settings, options: BenchOptions, progress: Progress) -> None:
        self.settings = settings
        self.options = options
        self.progress = progress
        self.db: database.Database | None = None
        self.sampler: MemorySampler | None = None
        self.truth: dict[str, str] = {}
        self.edits: list[dict[str, Any]] = []
        self.report = BenchReport(persons=options.persons, seed=options.seed, command=options.command)

    # --- the run ---------------------------------------------------------------------------------

    def run(self) -> BenchReport:
        opts = self.options
        self.db = database.ensure_ready(self.settings)
        self.report.machine = describe_machine(_postgres_version(self.db))
        pgdata = self.settings.pgdata if self.db.embedded else None
        self.sampler = MemorySampler(standard_groups(pgdata, self.settings.home / "pids"))
        if not self.db.embedded:
            self.report.notes.append("external Postgres: its memory is not measured")
        controls = _module("customer_sync.simulators.control")
        with self.sampler, _own_simulators_only():
            try:
                # stopped before their storage is replaced
                controls.stop(self.settings)
                self._generate()
                self._start_simulators(controls)
                if "land" in opts.stages:
                    self._land()
                    if "incremental" in opts.stages:
                        # nothing changed since: an incremental extract must land nothing
                        self._land("unchanged_land", full_refresh=False)
                if "build" in opts.stages:
                    self._build("build")
                    self._score()
                    self._resolve_repeatedly()
                if "sync" in opts.stages:
                    self._sync("sync")
                if "incremental" in opts.stages:
                    self._incremental(controls)
            except CustomerSyncError:
                # what was measured before the failure is still worth seeing
                done = ", ".join(s.name for s in self.report.stages) or "nothing"
                self.progress(f"bench stopped by a failure; measured so far: {done}")
                if self.report.stages:
                    self.progress(self.report.to_markdown())
                raise
            finally:
                controls.stop(self.settings)
        return self.report

    def _record(self, result: StageResult) -> None:
        self.report.stages.append(result)
        rate = result.records_per_second
        rate_text = f", {rate:,.0f} records/s" if rate else ""
        self.progress(f"{result.name}: {result.seconds:,.1f} s{rate_text}")

    def _generate(self) -> None:
        """The persons of this run, generated and loaded into the simulators' storage by a child
        process (customer_sync.bench.systems): the truth and the planned edits come back, the records
        stay out of this process, whose memory the later stages measure."""
        systems = _module("customer_sync.bench.systems")
        opts = self.options
        self.progress(f"generating {opts.persons:,} persons (seed {opts.seed})")
        edit_share = opts.edit_share if "incremental" in opts.stages else None
        with stage("generate", self.sampler) as result:
            prepared = systems.prepare_systems(self.settings, opts.persons, opts.seed, edit_share)
            self.truth = prepared.truth
            self.edits = prepared.edits
            result.records = len(self.truth)
            result.details = {
                "noise": prepared.noise,
                "counts": prepared.counts,
                "generate_seconds": round(prepared.generate_seconds, 3),
                "load_seconds": round(prepared.load_seconds, 3),
            }
        self.report.records = len(self.truth)
        self._record(result)

    def _start_simulators(self, controls: Any) -> None:
        """Start the services on the data the generate stage loaded."""
        opts = self.options
        limits = "fast" if opts.fast_limits else "real"
        self.progress(f"starting the simulators ({limits} rate limits)")
        with stage("simulate", self.sampler) as result:
            started = controls.start(self.settings, opts.persons, opts.seed, fast=opts.fast_limits)
            if started.generated:
                raise RunFailure("the simulators generated their data again instead of serving the bench's")
            result.records = len(self.truth)
            result.details = {"rate_limits": limits}
        self._record(result)

    def _land(self, name: str = "land", full_refresh: bool = True) -> StageResult:
        extract = _module("customer_sync.extract")
        assert self.db is not None
        with stage(name, self.sampler) as result:
            landed = extract.run_extract(self.settings, self.db, full_refresh=full_refresh, progress=False)
            result.records = landed.rows
            result.details = _as_dict(landed)
        self._record(result)
        return result

    def _build(self, name: str) -> StageResult:
        build = _module("customer_sync.build")
        assert self.db is not None
        with stage(name, self.sampler) as result:
            built = build.run_scheduled_build(self.settings, self.db, progress=False)  # as a cycle builds
            result.details = _as_dict(built)
            result.records = _built_records(result.details)
        self._record(result)
        return result

    def _resolve_repeatedly(self) -> None:
        """Time the resolution alone, and Splink's on the same records, ``repeat`` times each, in turns.

        One run on a 2-core virtual machine can be a quarter faster or slower than the next one of the
        same work, so a single pair of runs says little about the ratio of the two; taking turns means a
        slow spell of the machine falls on both. The stages report the median run.
        """
        with_splink = "splink" in self.options.compare
        identity_runs: list[StageResult] = []
        splink_runs: list[StageResult] = []
        for round_no in range(1, self.options.repeat + 1):
            if self.options.repeat > 1:
                self.progress(f"resolution round {round_no} of {self.options.repeat}")
            identity_runs.append(self._identity())
            if with_splink:
                splink_runs.append(self._splink(score=round_no == 1))
        identity = median_of_runs(identity_runs)
        self._record(identity)
        self.report.seconds_identity = identity.seconds
        if with_splink and self.report.splink is not None:
            self._record(median_of_runs(splink_runs))
            # Splink's own seconds (without the read) are in each run's summary
            splink_seconds = [run.details["seconds"] for run in splink_runs]
            self.report.splink["seconds"] = round(statistics.median(splink_seconds), 3)
            self.report.splink["runs_seconds"] = splink_seconds

    def _identity(self) -> StageResult:
        """One timed run of the resolution alone: the matching models from the standardized records to
        the clusters.

        They are rebuilt from the same ``int_customer_records`` table Splink reads (tables, so the rebuild
        changes nothing), which makes ``seconds_identity`` and Splink's seconds cover the same work. The
        match parameters are estimated again (a build keeps trained ones), as Splink estimates its own,
        and the incremental models (blocking keys, pair comparisons) are rebuilt whole
        (``--full-refresh``): every record is blocked and every pair compared, as Splink does.
        """
        from customer_sync.dbt_runner import RETRAIN_ENV, run_dbt

        assert self.db is not None
        with stage("identity", self.sampler) as result:
            run = run_dbt(
                self.settings,
                self.db,
                "run",
                select=[IDENTITY_SELECTOR],
                exclude=["int_customer_records"],
                extra_env=RETRAIN_ENV,
                extra_args=["--full-refresh"],
            )
            result.records = self.report.stage("build").records if self.report.stage("build") else None
            result.details = {"models": run.count("model"), "dbt_seconds": round(run.seconds, 3)}
        self.progress(f"identity run: {result.seconds:,.1f} s")
        return result

    def _score(self) -> None:
        assert self.db is not None
        predicted = resolution.read_xref(self.db)
        self.report.accuracy = score_clusters(predicted, self.truth)
        self.report.coverage = resolution.coverage(predicted, self.truth).as_dict()
        acc = self.report.accuracy
        self.progress(
            f"customer-sync: precision {acc.precision:.4f}, recall {acc.recall:.4f}, F1 {acc.f1:.4f}"
        )

    def _splink(self, score: bool) -> StageResult:
        """One timed Splink run on the standardized records (the stage includes the read from Postgres;
        Splink's own seconds are in its details). ``score``: also score its clusters and keep its
        summary (the first run)."""
        from customer_sync.bench import splink_compare

        assert self.db is not None
        self.progress("Splink: resolving the same standardized records")
        with stage("splink", self.sampler) as result:
            started = time.perf_counter()
            rows = resolution.read_standardized_records(self.db, splink_compare.RECORD_KEY_COLUMNS.values())
            frame = splink_compare.frame_from_records(rows)
            del rows
            read_seconds = time.perf_counter() - started
            try:
                outcome = splink_compare.run_splink(frame, seed=self.options.seed)
            except Exception as exc:  # Splink's own failures: one line, the measured stages kept
                raise RunFailure(f"Splink failed: {exc.__class__.__name__}: {str(exc)[:300]}") from exc
            result.records = frame.num_rows
            result.details = {"read_seconds": round(read_seconds, 3), **outcome.summary()}
        self.progress(f"Splink run: {result.seconds:,.1f} s ({outcome.seconds:,.1f} s without the read)")
        if not score:
            return result
        self.report.splink = outcome.summary()
        self.report.splink_accuracy = score_clusters(outcome.clusters, self.truth)
        self.report.splink_sweep = {
            str(threshold): {
                key: round(value, 4)
                for key, value in score_clusters(clusters, self.truth).as_dict().items()
                if key in ("precision", "recall", "f1", "bcubed_f1")
            }
            for threshold, clusters in outcome.threshold_sweep.items()
        }
        acc = self.report.splink_accuracy
        self.progress(f"Splink: precision {acc.precision:.4f}, recall {acc.recall:.4f}, F1 {acc.f1:.4f}")
        return result

    def _sync(self, name: str) -> StageResult:
        """Push the planned changes back, through the reverse-ETL's own benchmark (ops/s per target)."""
        sync = _module("customer_sync.sync")
        assert self.db is not None
        with stage(name, self.sampler) as result:
            pushed = sync.run_benchmark(self.settings, self.db, progress=False)
            result.details = pushed
            result.records = sum(int(t.get("operations", 0)) for t in pushed.get("targets", {}).values())
        if pushed.get("status") != "succeeded":
            self.report.notes.append(f"{name}: sync run {pushed.get('run_id')} ended {pushed.get('status')}")
        self._record(result)
        return result

    def _cycle(self, name: str) -> None:
        """One extract (incremental), build and sync (when measured), as the scheduled job runs it."""
        with stage(name, self.sampler) as result:
            steps = [self._land(f"{name}_land", full_refresh=False), self._build(f"{name}_build")]
            if "sync" in self.options.stages:
                steps.append(self._sync(f"{name}_sync"))
            result.records = steps[0].records
            result.details = {"steps": {step.name: round(step.seconds, 3) for step in steps}}
        self._record(result)

    def _incremental(self, controls: Any) -> None:
        """Change a share of the records as people would, then time one more cycle.

        The first sync writes a golden id into nearly every record, and each system then reports those
        records as modified, so the cycle right after it re-lands them all. That echo is measured as
        its own ``settle`` cycle first, and what that cycle's sync wrote is landed after it
        (``settle_echo_land``); the ``incremental`` cycle then sees only the people's edits, and reports
        whether the extract landed exactly the edited records.
        """
        if "sync" in self.options.stages:
            self.progress("settle: one cycle to land the echo of the first sync's write-back")
            # once the systems show the sync's writes: the settle sync must then find nothing to write
            self._wait_until_visible(controls)
            self._cycle("settle")
            # what the settle cycle's own sync wrote comes back once more (once the systems show it); land
            # it before the edits so that the incremental cycle sees the people's edits alone
            self._wait_until_visible(controls)
            self._land("settle_echo_land", full_refresh=False)
        self.progress(
            f"incremental: {len(self.edits):,} edits ({self.options.edit_share:.0%} of the records)"
        )
        applied, refused = self._apply_edits(controls)
        self._wait_until_visible(controls)
        self._cycle("incremental")
        kinds: dict[str, int] = {}
        for edit in self.edits:
            kinds[edit["kind"]] = kinds.get(edit["kind"], 0) + 1
        incremental = self.report.stage("incremental")
        landed = self.report.stage("incremental_land")
        unchanged = self.report.stage("unchanged_land")
        assert incremental is not None and landed is not None and unchanged is not None
        edited = edited_records(applied)
        incremental.details.update(
            {
                "edits": len(applied),
                "edit_kinds": kinds,
                "edited_records": edited,
                "landed_person_rows": landed_rows(landed.details, EDITED_TABLES),
                "unchanged_land_rows": landed_rows(unchanged.details),
                "refused_edits": len(refused),
                "refused_examples": refused[:5],
            }
        )
        self.progress(
            f"an extract with nothing changed landed {landed_rows(unchanged.details):,} customer rows; "
            f"after edits to {edited:,} records one landed {landed_rows(landed.details, EDITED_TABLES):,}"
        )

    def _wait_until_visible(self, controls: Any) -> None:
        """Wait out the systems' own visibility lag before the cycle (not counted in it), as a scheduled
        cycle would: Zendesk's export never returns the last minute, the search indexes lag a moment. An
        extract right after the edits would leave those edits for the next cycle, not lose them."""
        config = controls.get_config(self.settings, "support")
        lag = max(float(config.get("export_hide_seconds", 0)), float(config.get("search_lag_ms", 0)) / 1000)
        if lag > 0:
            self.progress(f"waiting {lag + 2:.0f} s until the systems show the last writes (their lag)")
            time.sleep(lag + 2)

    def _apply_edits(self, controls: Any) -> tuple[list[dict[str, Any]], list[str]]:
        """Apply the planned edits one by one. The plan was made from the records as generated; since
        then the sync rewrote some of them, so a system may refuse an edit as it would refuse a person
        (an email another contact now has): that edit is counted as refused, and the others go on."""
        applied, refused = controls.apply_edits_each(self.settings, self.edits)
        if refused:
            total = len(self.edits)
            self.progress(f"{len(refused):,} of {total:,} edits refused by the systems, e.g. {refused[0]}")
        return applied, refused


@contextmanager
def _own_simulators_only() -> Iterator[None]:
    """Forget connector settings from the environment for the run, so that landing reads the simulators
    this benchmark started (whose truth it holds), never a system configured for everyday use."""
    saved = {key: value for key, value in os.environ.items() if key.startswith(SOURCE_VARIABLE_PREFIX)}
    for key in saved:
        del os.environ[key]
    try:
        yield
    finally:
        for key in [k for k in os.environ if k.startswith(SOURCE_VARIABLE_PREFIX)]:
            del os.environ[key]
        os.environ.update(saved)


def edited_records(applied: Sequence[dict[str, Any]]) -> int:
    """Distinct records the applied edits changed (several edits may hit one record)."""
    return len({(e["system"], e.get("table"), str(e["id"])) for e in applied if e.get("id")})


def landed_rows(details: dict[str, Any], tables: Mapping[str, str] | None = None) -> int:
    """Rows an extract landed into ``tables`` (system -> table; default: every customer table, that is
    all but the reference tables replaced whole on every run)."""
    total = 0
    for system, source in details.get("sources", {}).items():
        for table, rows in {**source.get("tables", {}), **source.get("nested_tables", {})}.items():
            if tables is None:
                wanted = (system, table) not in REFERENCE_TABLES
            else:
                wanted = tables.get(system) == table
            total += int(rows) if wanted else 0
    return total


def _built_records(details: dict[str, Any]) -> int | None:
    value = details.get("records")
    return int(value) if isinstance(value, int | float) else None


def run_bench(settings: Settings, options: BenchOptions, progress: Progress | None = None) -> BenchReport:
    """Run the benchmark described by ``options`` in ``settings``' home and return what it measured."""
    check_options(options.persons, options.stages, options.compare, options.edit_share)
    return Bench(settings, options, progress or (lambda message: log.info(message))).run()
