"""Whether the warehouse's seed tables were loaded from the seed files as they are now.

``dbt seed --full-refresh`` drops and reloads every seed table, which costs a dbt invocation (seconds)
on every cycle although seeds change only when someone edits a file under ``seeds/``. After a load, each
seed table gets a comment holding a digest of the seed files and ``dbt_project.yml``; a build skips the
load when every seed table carries the current digest. A reload drops the tables, and with them the
comments, so a digest is never left on a table it does not describe; a table missing or without the
comment means "load".
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import psycopg2.extensions
from psycopg2 import sql

COMMENT_PREFIX = "customer-sync seed digest "


def seed_files(project_dir: Path) -> list[Path]:
    """The seed CSV files, in a stable order."""
    return sorted((project_dir / "seeds").glob("*.csv"))


def seed_digest(project_dir: Path) -> str:
    """sha256 of every file under ``seeds/`` (data and yml: columns, types) and of ``dbt_project.yml``."""
    digest = hashlib.sha256()
    inputs = sorted(path for path in (project_dir / "seeds").rglob("*") if path.is_file())
    for path in [*inputs, project_dir / "dbt_project.yml"]:
        digest.update(str(path.relative_to(project_dir)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def seeds_loaded(cur: psycopg2.extensions.cursor, schema: str, tables: list[str], digest: str) -> bool:
    """True when every table in ``tables`` exists in ``schema`` with the comment of ``digest``."""
    cur.execute(
        """
        select count(*)
        from pg_catalog.pg_class as c
        inner join pg_catalog.pg_namespace as n on c.relnamespace = n.oid
        where n.nspname = %s
          and c.relname = any(%s)
          and obj_description(c.oid, 'pg_class') = %s
        """,
        (schema, tables, COMMENT_PREFIX + digest),
    )
    return int(cur.fetchone()[0]) == len(tables)


def mark_seeds_loaded(cur: psycopg2.extensions.cursor, schema: str, tables: list[str], digest: str) -> None:
    """Comment each seed table with ``digest`` (after a successful load)."""
    for table in tables:
        cur.execute(
            sql.SQL("comment on table {}.{} is {}").format(
                sql.Identifier(schema), sql.Identifier(table), sql.Literal(COMMENT_PREFIX + digest)
            )
        )
