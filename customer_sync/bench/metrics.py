"""Accuracy of a resolution against the truth, from the pairwise and B-cubed functions of
:mod:`customer_sync.evaluate` (one implementation of the metrics for the whole project).

Both inputs map a record id to a cluster label (a predicted customer id, a true entity id). Only records
present in both are scored; the caller reports how many were left out on either side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from customer_sync.evaluate import bcubed, f1_score, pair_counts


@dataclass(frozen=True)
class Accuracy:
    """How well predicted clusters reproduce the true entities."""

    records: int
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    precision: float
    recall: float
    f1: float
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def score_clusters(predicted: Mapping[str, str], truth: Mapping[str, str]) -> Accuracy:
    """Score ``predicted`` (record id -> cluster) against ``truth`` (record id -> entity)."""
    pairs = pair_counts(predicted, truth)
    bcubed_precision, bcubed_recall = bcubed(predicted, truth)
    return Accuracy(
        records=len(predicted.keys() & truth.keys()),
        true_pairs=pairs.true_pairs,
        predicted_pairs=pairs.predicted_pairs,
        correct_pairs=pairs.true_positive_pairs,
        precision=pairs.precision,
        recall=pairs.recall,
        f1=f1_score(pairs.precision, pairs.recall),
        bcubed_precision=bcubed_precision,
        bcubed_recall=bcubed_recall,
        bcubed_f1=f1_score(bcubed_precision, bcubed_recall),
    )
