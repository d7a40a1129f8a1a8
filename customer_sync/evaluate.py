"""Measure identity resolution on a labelled file: ``customer-sync evaluate RECORDS.csv --truth COLUMN``.

The file is landed through :func:`customer_sync.extract.land_file` into a schema of its own
(``raw_file_eval_<token>``) and resolved by the identity models built with ``schema_prefix
eval_<token>_``, so the main golden data is never touched. The truth column never reaches the models:
the mapping may not name it, and right after landing it is moved out of the raw ``_extra`` column into
memory. Everything the evaluation created is dropped afterwards unless ``keep`` is set.
"""

from __future__ import annotations

import csv
import logging
import secrets
import shutil
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from customer_sync import db as database
from customer_sync.build import run_build
from customer_sync.config import Settings
from customer_sync.dbt_runner import Progress
from customer_sync.errors import RunFailure, UserError

log = logging.getLogger(__name__)

# the models an evaluation needs: the file's staging model and everything identity builds on it
EVAL_SELECT = ("+customer_xref", "+dim_customer")
DBT_LAYERS = ("staging", "identity", "marts", "snapshots", "reverse_etl")


@dataclass(frozen=True)
class PairCounts:
    """Pair counts of a predicted clustering against the truth."""

    true_positive_pairs: int
    predicted_pairs: int
    true_pairs: int

    @property
    def precision(self) -> float:
        return self.true_positive_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.true_positive_pairs / self.true_pairs if self.true_pairs else 1.0


@dataclass(frozen=True)
class EvaluationResult:
    """Accuracy of one evaluation and what it covered."""

    precision: float
    recall: float
    f1: float
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    records_in: int
    records: int
    quarantined: int
    true_clusters: int
    predicted_clusters: int
    true_pairs: int
    predicted_pairs: int
    true_positive_pairs: int
    seconds: float
    schema_prefix: str
    kept: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def kept_schemas(self) -> str:
        return f"raw_file_{self.schema_prefix.rstrip('_')}, {self.schema_prefix}<layer>"

    def describe(self) -> str:
        return "\n".join(
            [
                f"pairwise   precision {self.precision:.4f}  recall {self.recall:.4f}  F1 {self.f1:.4f}",
                f"B-cubed    precision {self.bcubed_precision:.4f}  recall {self.bcubed_recall:.4f}  "
                f"F1 {self.bcubed_f1:.4f}",
                f"records    {self.records_in} in, {self.records} resolved, {self.quarantined} quarantined",
                f"clusters   {self.true_clusters} true, {self.predicted_clusters} predicted "
                f"({self.true_positive_pairs} of {self.predicted_pairs} predicted pairs correct, "
                f"{self.true_pairs} true pairs)",
                f"time       {self.seconds:.1f} s"
                + (
                    f"  (kept schemas {self.schema_prefix}*, raw_file_{self.schema_prefix[:-1]})"
                    if self.kept
                    else ""
                ),
            ]
        )


def f1_score(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _pairs(size: int) -> int:
    return size * (size - 1) // 2


def pair_counts(predicted: Mapping[str, str], truth: Mapping[str, str]) -> PairCounts:
    """Pairwise counts over the records present in both mappings (record -> cluster label)."""
    records = predicted.keys() & truth.keys()
    cells = Counter((predicted[r], truth[r]) for r in records)
    predicted_sizes = Counter(predicted[r] for r in records)
    true_sizes = Counter(truth[r] for r in records)
    return PairCounts(
        true_positive_pairs=sum(_pairs(n) for n in cells.values()),
        predicted_pairs=sum(_pairs(n) for n in predicted_sizes.values()),
        true_pairs=sum(_pairs(n) for n in true_sizes.values()),
    )


def bcubed(predicted: Mapping[str, str], truth: Mapping[str, str]) -> tuple[float, float]:
    """B-cubed precision and recall: per record, the share of its predicted (true) cluster that is right."""
    records = predicted.keys() & truth.keys()
    if not records:
        return 1.0, 1.0
    cells = Counter((predicted[r], truth[r]) for r in records)
    predicted_sizes = Counter(predicted[r] for r in records)
    true_sizes = Counter(truth[r] for r in records)
    precision = sum(cells[(predicted[r], truth[r])] / predicted_sizes[predicted[r]] for r in records)
    recall = sum(cells[(predicted[r], truth[r])] / true_sizes[truth[r]] for r in records)
    return precision / len(records), recall / len(records)


def _check_truth_column(csv_path: Path, mapping_path: Path, truth_column: str) -> None:
    """The truth column must be in the file and must not feed any canonical field."""
    from pipelines import file as file_pipeline

    mapping = file_pipeline.load_mapping(mapping_path)
    if truth_column == mapping.id_column:
        raise UserError(
            f"--truth {truth_column!r} is the mapping's id column; name the column holding the truth"
        )
    leaking = sorted(name for name, rule in mapping.fields.items() if truth_column in rule.columns)
    if leaking:
        raise UserError(
            f"mapping {mapping_path} feeds the truth column {truth_column!r} into {', '.join(leaking)}; "
            "the truth must not be visible to matching"
        )
    try:
        with csv_path.open(encoding=mapping.encoding, errors="replace", newline="") as handle:
            header = next(csv.reader(handle, delimiter=mapping.delimiter), [])
    except FileNotFoundError as exc:
        raise UserError(f"records file {csv_path} not found") from exc
    if truth_column not in [column.strip() for column in header]:
        raise UserError(f"truth column {truth_column!r} is not in the header of {csv_path}")


def _take_truth(db: database.Database, schema: str, truth_column: str) -> dict[str, str]:
    """Move the truth out of the landed records: return it, and strip it from ``_extra``."""
    with database.connect(db, role="cs_loader") as conn, conn.cursor() as cur:
        cur.execute(f'select record_id, _extra ->> %s from "{schema}".records', (truth_column,))
        truth = {str(record_id): value for record_id, value in cur.fetchall() if value not in (None, "")}
        cur.execute(
            f"update \"{schema}\".records set _extra = nullif(_extra - %s, '{{}}'::jsonb) where _extra ? %s",
            (truth_column, truth_column),
        )
    return truth


def _predicted(db: database.Database, prefix: str) -> dict[str, str]:
    with database.connect(db, role="cs_transformer") as conn, conn.cursor() as cur:
        cur.execute(f'select source_record_id, customer_id from "{prefix}marts".customer_xref')
        return {str(record_id): customer_id for record_id, customer_id in cur.fetchall()}


def cleanup(settings: Settings, db: database.Database, token: str) -> None:
    """Drop every schema the evaluation ``eval_<token>`` created, and its dlt pipeline state."""
    schemas = [f"raw_file_eval_{token}", *(f"eval_{token}_{layer}" for layer in DBT_LAYERS)]
    with database.connect(db, autocommit=True) as conn, conn.cursor() as cur:
        for schema in schemas:
            cur.execute(f'drop schema if exists "{schema}" cascade')
    shutil.rmtree(settings.home / "dlt" / f"customer_sync_file_eval_{token}", ignore_errors=True)


def evaluate(
    settings: Settings,
    db: database.Database,
    csv_path: Path,
    mapping_path: Path,
    truth_column: str,
    *,
    keep: bool = False,
    progress: bool | Progress = False,
    dbt_vars: Mapping[str, Any] | None = None,
) -> EvaluationResult:
    """Land, resolve and score ``csv_path`` against its ``truth_column``; clean up unless ``keep``."""
    from customer_sync.extract import land_file

    csv_path, mapping_path = Path(csv_path), Path(mapping_path)
    _check_truth_column(csv_path, mapping_path, truth_column)
    token = secrets.token_hex(4)
    name = f"eval_{token}"
    prefix = f"{name}_"
    started = time.monotonic()
    try:
        landed = land_file(settings, db, csv_path, mapping_path, name)
        truth = _take_truth(db, landed.schema, truth_column)
        build_vars = {
            **(dbt_vars or {}),
            # its own schemas, so nothing trained is there to keep; said outright all the same
            "retrain_match_parameters": True,
            "schema_prefix": prefix,
            "file_source_schema": landed.schema,
            "record_sources": ["stg_file__records"],
        }
        run_build(
            settings,
            db,
            progress=progress,
            dbt_vars=build_vars,
            select=EVAL_SELECT,
            snapshot=False,
            extra_build_args=("--indirect-selection", "cautious"),
        )
        predicted = _predicted(db, prefix)
    finally:
        if not keep:
            cleanup(settings, db, token)
    if not predicted:
        raise RunFailure(f"no record of {csv_path} was resolved ({landed.quarantined} quarantined)")
    counts = pair_counts(predicted, truth)
    b_precision, b_recall = bcubed(predicted, truth)
    scored = predicted.keys() & truth.keys()
    unlabelled = len(predicted) - len(scored)
    if len(scored) < len(predicted) / 2:
        raise RunFailure(
            f"only {len(scored)} of {len(predicted)} resolved records have a value in {truth_column!r}; "
            "the file's ids and the resolved records do not line up"
        )
    if unlabelled:
        log.warning("%d resolved records have no truth value and are not scored", unlabelled)
    return EvaluationResult(
        precision=round(counts.precision, 6),
        recall=round(counts.recall, 6),
        f1=round(f1_score(counts.precision, counts.recall), 6),
        bcubed_precision=round(b_precision, 6),
        bcubed_recall=round(b_recall, 6),
        bcubed_f1=round(f1_score(b_precision, b_recall), 6),
        records_in=landed.rows_in,
        records=len(predicted),
        quarantined=landed.quarantined,
        true_clusters=len({truth[r] for r in scored}),
        predicted_clusters=len({predicted[r] for r in scored}),
        true_pairs=counts.true_pairs,
        predicted_pairs=counts.predicted_pairs,
        true_positive_pairs=counts.true_positive_pairs,
        seconds=round(time.monotonic() - started, 2),
        schema_prefix=prefix,
        kept=keep,
    )
