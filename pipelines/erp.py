"""The ``erp`` source (Odoo-shaped): ``res_partner`` and ``res_country`` read straight from its SQL database.

dlt's ``sql_database`` machinery does the work: ``res_partner`` is incremental on ``write_date`` (dlt keeps
the watermark and de-duplicates rows sitting exactly on it) and merged on ``id``; ``res_country`` is a
small reference table replaced on every run. Archived partners (``active = false``) are ordinary rows,
so deletes arrive as flags. The database is any SQLAlchemy URL in ``SOURCES__ERP__CREDENTIALS`` (the
local simulator's SQLite file, or a real Odoo Postgres).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlt
import sqlalchemy as sa
from dlt.sources.sql_database import sql_table

from customer_sync.errors import UserError
from pipelines.http import typed_columns

PARTNER_COLUMNS = {
    "id": {"data_type": "bigint", "nullable": False, "primary_key": True},
    **typed_columns(
        name="text",
        ref="text",
        vat="text",
        email="text",
        phone="text",
        street="text",
        street2="text",
        zip="text",
        city="text",
        state_name="text",
        country_id="bigint",
        is_company="bool",
        parent_id="bigint",
        type="text",
        active="bool",
        create_date="timestamp",
        write_date="timestamp",
    ),
}
COUNTRY_COLUMNS = {
    "id": {"data_type": "bigint", "nullable": False, "primary_key": True},
    **typed_columns(code="text", name="text"),
}
TABLES = ("res_partner", "res_country")
CHUNK_SIZE = 5000


@dlt.source(name="erp", section="erp")
def erp_source(credentials: str = dlt.secrets.value) -> Any:
    """``res_partner`` (incremental on ``write_date``, merge on ``id``) and ``res_country`` (replace)."""
    engine = _engine(credentials)
    partners = sql_table(
        credentials=engine,
        table="res_partner",
        incremental=dlt.sources.incremental("write_date"),
        primary_key="id",
        write_disposition="merge",
        chunk_size=CHUNK_SIZE,
        reflection_level="full",
    )
    partners.apply_hints(columns=PARTNER_COLUMNS)
    countries = sql_table(
        credentials=engine,
        table="res_country",
        primary_key="id",
        write_disposition="replace",
        chunk_size=CHUNK_SIZE,
        reflection_level="full",
    )
    countries.apply_hints(columns=COUNTRY_COLUMNS)
    return partners, countries


def _engine(credentials: str) -> sa.Engine:
    """An engine on the ERP database, refusing to create an empty SQLite file where none exists."""
    try:
        url = sa.engine.make_url(str(credentials))
    except sa.exc.ArgumentError as exc:
        raise UserError("SOURCES__ERP__CREDENTIALS is not a SQLAlchemy database URL") from exc
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        if not url.database or not path.is_file():
            raise UserError(
                f"the ERP database file {path} does not exist; run 'customer-sync simulate start' or set "
                "SOURCES__ERP__CREDENTIALS"
            )
    engine = sa.create_engine(url)
    missing = [table for table in TABLES if not sa.inspect(engine).has_table(table)]
    if missing:
        engine.dispose()
        raise UserError(f"the ERP database has no table(s) {', '.join(missing)}")
    return engine


source = erp_source
