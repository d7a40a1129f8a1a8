"""The ERP simulator: an Odoo-shaped SQL database (``erp.sqlite``, tables ``res_partner``, ``res_country``).

Connectors read and write it with SQL, as they would an Odoo Postgres (APIS.md section 4):

- ``res_partner`` has Odoo's column names (``ref`` holds the golden id and is *not* unique; ``country_id``
  is a many2one to ``res_country``; ``is_company``, ``parent_id``, ``type``, ``active``);
- ``create_date`` and ``write_date`` are naive UTC timestamps, maintained by the database itself: a write
  that does not set ``write_date`` gets it moved by a trigger, as Odoo's ORM does on every write;
- archiving is ``active = false`` (Odoo's UI never deletes a partner that has history);
- every insert, update and delete is recorded in ``sim_write_log`` by triggers (edits made through
  :func:`apply_edit`, which stand for a person using Odoo, are not: the log is for connector writes).

``sim_*`` tables are the simulator's own bookkeeping and not part of the Odoo schema.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from customer_sync.simulators import storage

PARTNER_COLUMNS = (
    "id", "name", "ref", "vat", "email", "phone", "street", "street2", "zip", "city", "state_name",
    "country_id", "is_company", "parent_id", "type", "active", "create_date", "write_date",
)  # fmt: skip
WRITABLE = set(PARTNER_COLUMNS) - {"id", "create_date", "write_date"}
NOW_SQL = "(strftime('%Y-%m-%d %H:%M:%f', 'now') || '000')"
ROW_JSON = "json_object(" + ", ".join(f"'{c}', new.{c}" for c in PARTNER_COLUMNS) + ")"
NOT_EDITING = "(select editing from sim_flags) = 0"

DDL = [
    """create table res_country (
        id integer primary key,
        code varchar(2) not null unique,
        name varchar not null
    )""",
    f"""create table res_partner (
        id integer primary key autoincrement,
        name varchar,
        ref varchar,
        vat varchar,
        email varchar,
        phone varchar,
        street varchar,
        street2 varchar,
        zip varchar,
        city varchar,
        state_name varchar,
        country_id integer references res_country (id),
        is_company boolean not null default 0,
        parent_id integer references res_partner (id),
        type varchar not null default 'contact',
        active boolean not null default 1,
        create_date timestamp not null default {NOW_SQL},
        write_date timestamp not null default {NOW_SQL}
    )""",
    "create index res_partner_ref_index on res_partner (ref)",
    "create index res_partner_write_date_index on res_partner (write_date, id)",
    "create table sim_flags (editing integer not null)",
    "insert into sim_flags (editing) values (0)",
    """create table sim_write_log (
        seq integer primary key autoincrement,
        logged_at text not null,
        method text not null,
        path text not null,
        body text,
        changed text not null
    )""",
    # Odoo moves write_date on every write; SQL writers that leave it alone get it moved here
    f"""create trigger res_partner_touch after update on res_partner
        for each row when new.write_date is old.write_date
        begin
            update res_partner set write_date = {NOW_SQL} where id = new.id;
        end""",
    f"""create trigger res_partner_log_insert after insert on res_partner
        for each row when {NOT_EDITING}
        begin
            insert into sim_write_log (logged_at, method, path, body, changed)
            values ({NOW_SQL}, 'INSERT', 'res_partner', {ROW_JSON}, json_array(new.id));
        end""",
    f"""create trigger res_partner_log_update after update on res_partner
        for each row when {NOT_EDITING} and new.write_date is not old.write_date
        begin
            insert into sim_write_log (logged_at, method, path, body, changed)
            values ({NOW_SQL}, 'UPDATE', 'res_partner', {ROW_JSON}, json_array(new.id));
        end""",
    f"""create trigger res_partner_log_delete after delete on res_partner
        for each row when {NOT_EDITING}
        begin
            insert into sim_write_log (logged_at, method, path, body, changed)
            values ({NOW_SQL}, 'DELETE', 'res_partner', json_object('id', old.id), json_array(old.id));
        end""",
]


def create(path: Path) -> None:
    path.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("pragma journal_mode = wal")
        conn.execute("begin")
        for statement in DDL:
            conn.execute(statement)
        conn.execute("commit")
    finally:
        conn.close()


def sqlalchemy_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _timestamp(value: Any) -> str | None:
    """Odoo datetimes: naive UTC ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def load(conn: storage.Connection, partners: list[dict[str, Any]], countries: list[dict[str, Any]]) -> None:
    """Store generated rows as they are; the load itself is not a connector write, so it is not logged."""
    conn.execute("update sim_flags set editing = 1")
    conn.executemany(
        "insert into res_country (id, code, name) values (?, ?, ?)",
        [(c["id"], c["code"], c["name"]) for c in countries],
    )
    # parents first, so that parent_id always points at an existing row
    ordered = sorted(partners, key=lambda p: (p.get("parent_id") is not None, p["id"]))
    placeholders = ", ".join("?" * len(PARTNER_COLUMNS))
    conn.executemany(
        f"insert into res_partner ({', '.join(PARTNER_COLUMNS)}) values ({placeholders})",
        [
            tuple(
                _timestamp(p.get(c)) if c in ("create_date", "write_date") else _sql_value(p.get(c))
                for c in PARTNER_COLUMNS
            )
            for p in ordered
        ],
    )
    conn.execute("update sim_flags set editing = 0")


def _sql_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    return value


def connect(directory: Path) -> Any:
    return storage.connect(directory, "erp")


def apply_edit(directory: Path, edit: dict[str, Any]) -> list[str]:
    """Edit as a person in Odoo's UI: ``write_date`` moves; a delete archives (``active = false``)."""
    op = edit.get("op", "update")
    values = dict(edit.get("set", {}))
    with connect(directory) as conn:
        if "country_code" in values:
            code = values.pop("country_code")
            row = conn.execute("select id from res_country where code = ?", (str(code).upper(),)).fetchone()
            if row is None and code:
                raise ValueError(f"unknown country code {code!r}")
            values["country_id"] = row["id"] if row else None
        unknown = set(values) - WRITABLE
        if unknown:
            raise ValueError(f"res_partner has no writable column(s) {sorted(unknown)}")
        conn.execute("update sim_flags set editing = 1")
        try:
            if op == "create":
                columns = list(values)
                cursor = conn.execute(
                    f"insert into res_partner ({', '.join(columns)})"
                    f" values ({', '.join('?' * len(columns))})",
                    [_sql_value(values[c]) for c in columns],
                )
                return [str(cursor.lastrowid)]
            partner_id = int(edit["id"])
            current = conn.execute("select * from res_partner where id = ?", (partner_id,)).fetchone()
            if current is None:
                raise KeyError(f"erp res_partner {partner_id} not found")
            if op == "delete":
                values = {"active": False}
            changes = {k: v for k, v in values.items() if current[k] != _sql_value(v)}
            if not changes:
                return []
            assignments = ", ".join(f"{column} = ?" for column in changes)
            conn.execute(
                f"update res_partner set {assignments} where id = ?",
                [*(_sql_value(v) for v in changes.values()), partner_id],
            )
            return [str(partner_id)]
        finally:
            conn.execute("update sim_flags set editing = 0")


def dump(directory: Path, table: str) -> list[dict[str, Any]]:
    if table not in ("res_partner", "res_country"):
        raise ValueError("table must be res_partner or res_country")
    with connect(directory) as conn:
        rows = conn.execute(f"select * from {table} order by id").fetchall()
    records = [dict(r) for r in rows]
    if table == "res_partner":
        for record in records:
            record["is_company"] = bool(record["is_company"])
            record["active"] = bool(record["active"])
    return records


def writes(directory: Path) -> list[dict[str, Any]]:
    with connect(directory) as conn:
        rows = conn.execute("select * from sim_write_log order by seq").fetchall()
    return [
        {
            "seq": r["seq"],
            "logged_at": r["logged_at"],
            "system": "erp",
            "method": r["method"],
            "path": r["path"],
            "body": r["body"],
            "changed": [str(i) for i in json.loads(r["changed"])],
            "status": None,
            "idempotency_key": None,
            "fault": None,
        }
        for r in rows
    ]


def counts(directory: Path) -> dict[str, int]:
    with connect(directory) as conn:
        return {
            table: conn.execute(f"select count(*) as n from {table}").fetchone()["n"]
            for table in ("res_partner", "res_country")
        }
