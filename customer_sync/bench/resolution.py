"""Reading a resolution out of the warehouse and the truth out of the generator, joined in Python.

The truth never enters the warehouse: the benchmark keeps it in this process and only reads the
warehouse's answer (``marts.customer_xref``) and its standardized records
(``identity.int_customer_records``, for Splink).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from customer_sync.db import Database, connect

log = logging.getLogger(__name__)

FETCH_ROWS = 20_000


def record_id(source_system: str, source_table: str, source_record_id: object) -> str:
    """The canonical record id (docs/contracts.md section 4)."""
    return f"{source_system}:{source_table}:{source_record_id}"


def truth_by_record(truth_rows: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """record id -> true entity id, from the generator's truth rows."""
    return {
        record_id(row["source_system"], row["source_table"], row["source_record_id"]): str(row["entity_id"])
        for row in truth_rows
    }


@dataclass(frozen=True)
class Coverage:
    """How the predicted and the true record sets overlap."""

    truth_records: int
    resolved_records: int
    scored_records: int

    def as_dict(self) -> dict[str, int]:
        return {
            "truth_records": self.truth_records,
            "resolved_records": self.resolved_records,
            "scored_records": self.scored_records,
            "resolved_without_truth": self.resolved_records - self.scored_records,
            "truth_not_resolved": self.truth_records - self.scored_records,
        }


def coverage(predicted: Mapping[str, str], truth: Mapping[str, str]) -> Coverage:
    return Coverage(len(truth), len(predicted), len(predicted.keys() & truth.keys()))


def _stream(db: Database, role: str, sql: str) -> Iterator[tuple[Any, ...]]:
    """Rows of ``sql`` through a server-side cursor, so a million records never sit twice in memory."""
    with connect(db, role) as conn, conn.cursor(name="bench_read") as cur:
        cur.itersize = FETCH_ROWS
        cur.execute(sql)
        yield from cur


def read_xref(db: Database) -> dict[str, str]:
    """record id -> golden customer id, from ``marts.customer_xref`` (read as the BI role)."""
    sql = "select record_id, customer_id from marts.customer_xref"
    return {str(rid): str(cid) for rid, cid in _stream(db, "bi_reader", sql)}


def read_standardized_records(db: Database, columns: Iterable[str]) -> list[dict[str, Any]]:
    """The standardized records with their match keys, as the identity models see them."""
    names = list(dict.fromkeys(columns))
    sql = f"select {', '.join(names)} from identity.int_customer_records"
    return [dict(zip(names, row, strict=True)) for row in _stream(db, "cs_transformer", sql)]
