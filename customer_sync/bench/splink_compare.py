"""Splink (DuckDB backend) on the same standardized records our identity models match.

The configuration mirrors ours in spirit, so the comparison is about the method, not the inputs:

- **Inputs**: the match keys of ``identity.int_customer_records`` (folded names, provider-folded email,
  phone digits, postcode key, folded city and street lines, birth date) — the same standardization.
- **Blocking** (pairs to score): same email; same phone; same last name and postcode; same first name
  and birth date; same last name and birth date; same company name and city; same full name and
  country. Every rule also requires the same entity type (person/company), as ours does.
- **Comparisons**: first and last name (Splink's name comparison: exact, Jaro-Winkler 0.92/0.88/0.7;
  term-frequency adjusted for last names), company name (Jaro-Winkler 0.9/0.7), email (exact, username,
  fuzzy), phone (exact, Levenshtein 1/2), postcode (exact, Levenshtein 1), city (exact, term-frequency
  adjusted), street lines (Jaro-Winkler 0.9/0.7), birth date (exact, one edit, within 1 month / 1 year /
  10 years).
- **Training**: the prior from deterministic rules (same email; same names and birth date) at an assumed
  recall of 0.7; u by random sampling (``U_MAX_PAIRS`` pairs, seeded); m by two EM sessions, blocked on
  email and on last name + birth date, so that every comparison is estimated in at least one of them
  (a session whose rule yields no pair, as in very small data, is skipped and reported).
  The sessions keep the prior fixed (Splink adjusts it for the session's blocking rule): a block that
  holds only true matches, common in small data, would otherwise drive it to 1 and its weight to
  infinity, which Splink 5 turns into invalid SQL.
- **Decision**: pairs at match probability >= ``CLUSTER_THRESHOLD`` (0.9, a match weight of about 3.2)
  are linked and clustered by connected components. 0.9 is Splink's documented default example and
  was fixed before looking at any result; :attr:`SplinkResult.threshold_sweep` reports other thresholds
  so the choice can be judged, but the headline number never picks its threshold from the truth.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

log = logging.getLogger(__name__)

# splink column -> type; the frame Splink reads has exactly these columns
SPLINK_COLUMNS: dict[str, str] = {
    "record_id": "string",
    "entity_type": "string",
    "first_name": "string",
    "last_name": "string",
    "full_name": "string",
    "company_name": "string",
    "email": "string",
    "phone": "string",
    "postcode": "string",
    "city": "string",
    "address": "string",
    "country_code": "string",
    "birth_date": "date",
}

# int_customer_records column for each splink column
RECORD_KEY_COLUMNS: dict[str, str] = {
    "record_id": "record_id",
    "entity_type": "entity_type",
    "first_name": "first_name_key",
    "last_name": "last_name_key",
    "full_name": "name_key",
    "company_name": "company_key",
    "email": "email_key",
    "phone": "phone_digits",
    "postcode": "postcode_key",
    "city": "city_key",
    "address": "address_key",
    "country_code": "country_code",
    "birth_date": "birth_date",
}

PREDICT_THRESHOLD = 0.5
CLUSTER_THRESHOLD = 0.9
SWEEP_THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99)
U_MAX_PAIRS = 2e6
PRIOR_RECALL = 0.7
# EM sessions: name -> blocking columns (entity type is always added)
EM_SESSIONS: dict[str, tuple[str, ...]] = {
    "email": ("email",),
    "last name + birth date": ("last_name", "birth_date"),
}


@dataclass
class SplinkResult:
    """Splink's clusters and what they cost."""

    clusters: dict[str, str]
    threshold: float
    seconds: float
    phase_seconds: dict[str, float]
    scored_pairs: int
    threshold_sweep: dict[float, dict[str, str]] = field(default_factory=dict)
    version: str = ""
    skipped_em_sessions: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "seconds": round(self.seconds, 3),
            "phase_seconds": {k: round(v, 3) for k, v in self.phase_seconds.items()},
            "scored_pairs": self.scored_pairs,
            "clusters": len(set(self.clusters.values())),
            "version": self.version,
            "skipped_em_sessions": self.skipped_em_sessions,
        }


def settings_creator() -> Any:
    """The documented Splink model (see the module docstring)."""
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    def same(*columns: str) -> Any:
        return block_on("entity_type", *columns)

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_id",
        blocking_rules_to_generate_predictions=[
            same("email"),
            same("phone"),
            same("last_name", "postcode"),
            same("first_name", "birth_date"),
            same("last_name", "birth_date"),
            same("company_name", "city"),
            same("full_name", "country_code"),
        ],
        comparisons=[
            cl.NameComparison("first_name"),
            cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("company_name", [0.9, 0.7]),
            cl.EmailComparison("email"),
            cl.LevenshteinAtThresholds("phone", [1, 2]),
            cl.LevenshteinAtThresholds("postcode", [1]),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("address", [0.9, 0.7]),
            cl.DateOfBirthComparison("birth_date", input_is_string=False),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def frame_from_records(
    rows: Iterable[Mapping[str, Any]], key_columns: Mapping[str, str] | None = None
) -> Any:
    """A pyarrow table with :data:`SPLINK_COLUMNS`, taking each from ``key_columns`` of the rows.

    Empty strings become nulls (Splink treats null as "no evidence", an empty string as a value).
    """
    import pyarrow as pa

    mapping = dict(key_columns or RECORD_KEY_COLUMNS)
    columns: dict[str, list[Any]] = {name: [] for name in SPLINK_COLUMNS}
    for row in rows:
        for name in SPLINK_COLUMNS:
            value = row.get(mapping.get(name, name))
            if isinstance(value, str):
                value = value.strip() or None
            if name == "birth_date" and isinstance(value, str):
                value = date.fromisoformat(value[:10])
            columns[name].append(value)
    types = {"string": pa.string(), "date": pa.date32()}
    schema = pa.schema([(name, types[kind]) for name, kind in SPLINK_COLUMNS.items()])
    return pa.table(columns, schema=schema)


def _clusters(con: Any, table: str) -> dict[str, str]:
    return {str(r): str(c) for r, c in con.execute(f"select record_id, cluster_id from {table}").fetchall()}


def run_splink(
    frame: Any,
    seed: int = 42,
    threshold: float = CLUSTER_THRESHOLD,
    sweep: Sequence[float] = SWEEP_THRESHOLDS,
    u_max_pairs: float = U_MAX_PAIRS,
) -> SplinkResult:
    """Train, predict and cluster ``frame`` (see :func:`frame_from_records`) with Splink on DuckDB."""
    import duckdb
    import splink
    from splink import DuckDBAPI, Linker, block_on
    from splink.internals.exceptions import EMTrainingException

    phases: dict[str, float] = {}
    started = time.perf_counter()
    con = duckdb.connect(":memory:")
    try:
        con.register("bench_input", frame)
        con.execute("create table bench_records as select * from bench_input")
        con.unregister("bench_input")
        db_api = DuckDBAPI(connection=con)
        records = db_api.register("bench_records")
        linker = Linker(records, settings_creator(), log_level=None)
        phases["load"] = time.perf_counter() - started

        mark = time.perf_counter()
        linker.training.estimate_probability_two_random_records_match(
            [
                block_on("entity_type", "email"),
                block_on("entity_type", "first_name", "last_name", "birth_date"),
            ],
            recall=PRIOR_RECALL,
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=u_max_pairs, seed=seed)
        skipped = []
        for name, rule in EM_SESSIONS.items():
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    block_on("entity_type", *rule), fix_probability_two_random_records_match=True
                )
            except EMTrainingException:  # no pair shares these values: nothing to learn from
                log.warning("splink: EM session blocked on %s found no pairs; skipped", name)
                skipped.append(name)
        phases["train"] = time.perf_counter() - mark

        mark = time.perf_counter()
        lowest = min([threshold, *sweep])
        predictions = linker.inference.predict(threshold_match_probability=min(lowest, PREDICT_THRESHOLD))
        # fetchall: duckdb refuses new work on a connection with an unfinished result
        scored_pairs = int(con.execute(f"select count(*) from {predictions.physical_name}").fetchall()[0][0])
        phases["predict"] = time.perf_counter() - mark

        mark = time.perf_counter()
        clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=threshold
        )
        clusters = _clusters(con, clustered.physical_name)
        phases["cluster"] = time.perf_counter() - mark
        seconds = time.perf_counter() - started

        swept: dict[float, dict[str, str]] = {}
        for value in sweep:
            if value == threshold:
                swept[value] = clusters
                continue
            other = linker.clustering.cluster_pairwise_predictions_at_threshold(
                predictions, threshold_match_probability=value
            )
            swept[value] = _clusters(con, other.physical_name)
    finally:
        con.close()
    log.info("splink: %d records, %d scored pairs, %.1f s", len(clusters), scored_pairs, seconds)
    return SplinkResult(
        clusters=clusters,
        threshold=threshold,
        seconds=seconds,
        phase_seconds=phases,
        scored_pairs=scored_pairs,
        threshold_sweep=swept,
        version=splink.__version__,
        skipped_em_sessions=skipped,
    )
