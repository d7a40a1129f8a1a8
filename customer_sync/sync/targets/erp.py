"""The ERP (Odoo res.partner) over SQL: re-read with a select, write in one transaction per batch.

Odoo keeps ``write_date`` on every change, so each update is conditional on the write_date re-read
just before: a partner changed in between is not overwritten (the operation is deferred). Columns are
written as Odoo stores them: ``country_id`` is the res_country id (many2one), text columns as text.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from customer_sync.sync.model import CurrentRecord, Operation, WriteOutcome, time_ms

log = logging.getLogger(__name__)

WRITABLE = (
    "ref",
    "name",
    "email",
    "phone",
    "street",
    "street2",
    "zip",
    "city",
    "state_name",
    "country_id",
    "vat",
)
INTEGER_COLUMNS = ("country_id",)


class ErpClient:
    name = "erp"
    batch_size = 200

    def __init__(self, url: str) -> None:
        connect_args = {"timeout": 30} if url.startswith("sqlite") else {}
        self.engine = sa.create_engine(url, connect_args=connect_args)
        self._statements = 0
        # null-safe equality: SQLite spells it IS, Postgres (a real Odoo database) IS NOT DISTINCT FROM
        self._null_safe_equal = "is" if self.engine.dialect.name == "sqlite" else "is not distinct from"

    def prepare(self, ops: Iterable[Operation]) -> None:
        """Nothing to set up: ``ref`` is a standard res.partner column."""

    def read(self, ops: list[Operation]) -> dict[tuple[str, str], CurrentRecord]:
        ids = [int(op.record_id) for op in ops]
        query = sa.text(
            f"select id, active, write_date, {', '.join(WRITABLE)} from res_partner where id in :ids"
        ).bindparams(sa.bindparam("ids", expanding=True))
        with self.engine.connect() as conn:
            rows = conn.execute(query, {"ids": ids}).mappings().all()
        self._statements += 1
        return {("res_partner", str(row["id"])): _record(row) for row in rows}

    def write(
        self, ops: list[Operation], current: dict[tuple[str, str], CurrentRecord]
    ) -> dict[int, WriteOutcome]:
        outcomes: dict[int, WriteOutcome] = {}
        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0).strftime("%Y-%m-%d %H:%M:%S")
        try:
            with self.engine.begin() as conn:
                for op in ops:
                    seen = current[op.key].version
                    columns = [name for name in op.new_values if name in WRITABLE]
                    assignments = ", ".join(f"{name} = :v_{name}" for name in columns)
                    params: dict[str, Any] = {
                        f"v_{name}": _value(name, op.new_values[name]) for name in columns
                    }
                    params.update(id=int(op.record_id), now=now, seen=seen)
                    result = conn.execute(
                        sa.text(
                            f"update res_partner set {assignments}, write_date = :now "
                            f"where id = :id and write_date {self._null_safe_equal} :seen"
                        ),
                        params,
                    )
                    self._statements += 1
                    if result.rowcount == 1:
                        outcomes[op.op_id or 0] = WriteOutcome("applied")
                    else:
                        outcomes[op.op_id or 0] = WriteOutcome(
                            "conflict", "partner changed in the ERP between re-read and write"
                        )
        except sa.exc.OperationalError as exc:
            # the transaction rolled back: nothing of this batch was written
            log.warning("erp: batch rolled back: %s", exc)
            return {op.op_id or 0: WriteOutcome("ambiguous", str(exc)[:300]) for op in ops}
        return outcomes

    def requests_sent(self) -> int:
        return self._statements

    def close(self) -> None:
        self.engine.dispose()


def _record(row: Any) -> CurrentRecord:
    values = {
        name: (None if row[name] is None or row[name] is False else str(row[name])) for name in WRITABLE
    }
    return CurrentRecord(
        values=values,
        updated_ms=time_ms(row["write_date"]),
        exists=bool(row["active"]) if row["active"] is not None else True,
        version=row["write_date"],
    )


def _value(name: str, value: str) -> Any:
    return int(value) if name in INTEGER_COLUMNS else value
