"""Landing the ERP (dlt sql_database on an Odoo-shaped SQLite) and reporting schema changes."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import dlt
import pytest

from customer_sync import db as database
from customer_sync.errors import UserError
from customer_sync.extract import land_source
from pipelines.erp import erp_source
from tests.python.fixtures.landing import erp_time, fetch_rows

Factory = Callable[[str], dlt.Pipeline]


def test_erp_lands_all_then_only_changes(
    erp_database: Path, scratch_pipeline: Factory, warehouse: database.Database
) -> None:
    pipeline = scratch_pipeline("erp")
    credentials = f"sqlite:///{erp_database}"

    first = land_source(pipeline, erp_source(credentials=credentials), "erp")
    assert first.tables == {"res_partner": 50, "res_country": 3}
    landed = fetch_rows(warehouse, "select count(*), count(distinct id) from raw_test_erp.res_partner")
    assert landed == [(50, 50)]

    second = land_source(pipeline, erp_source(credentials=credentials), "erp")
    assert second.tables["res_partner"] == 0

    with sqlite3.connect(erp_database) as conn:
        conn.executemany(
            "update res_partner set name = ?, write_date = ? where id = ?",
            [(f"Renamed {pid}", erp_time(1000 + pid), pid) for pid in (3, 17, 42)],
        )
        conn.execute("update res_partner set active = 0, write_date = ? where id = 8", (erp_time(2000),))
    third = land_source(pipeline, erp_source(credentials=credentials), "erp")
    assert third.tables["res_partner"] == 4
    rows = fetch_rows(
        warehouse, "select id, name, active from raw_test_erp.res_partner where id in (3, 8, 17, 42)"
    )
    assert sorted(rows) == [
        (3, "Renamed 3", True),
        (8, "Partner 8", False),
        (17, "Renamed 17", True),
        (42, "Renamed 42", True),
    ]
    assert fetch_rows(warehouse, "select count(*) from raw_test_erp.res_partner") == [(50,)]


def test_erp_new_column_is_reported_as_a_schema_change(erp_database: Path, scratch_pipeline: Factory) -> None:
    pipeline = scratch_pipeline("erp_evolve")
    credentials = f"sqlite:///{erp_database}"
    land_source(pipeline, erp_source(credentials=credentials), "erp")
    with sqlite3.connect(erp_database) as conn:
        conn.execute("alter table res_partner add column website varchar")
        conn.execute(
            "update res_partner set website = 'https://p1.example', write_date = ? where id = 1",
            (erp_time(5000),),
        )
    result = land_source(pipeline, erp_source(credentials=credentials), "erp")
    assert result.tables["res_partner"] == 1
    assert [(c.table, c.column, c.variant) for c in result.schema_changes] == [
        ("res_partner", "website", False)
    ]


def test_a_type_change_lands_in_a_variant_column_and_is_reported(
    scratch_pipeline: Factory, warehouse: database.Database
) -> None:
    pipeline = scratch_pipeline("variant")

    @dlt.resource(name="things", primary_key="id", write_disposition="merge")
    def things(rows: list[dict]) -> list[dict]:
        return rows

    land_source(pipeline, things([{"id": 1, "size": 5}]), "variant")
    result = land_source(pipeline, things([{"id": 2, "size": "five"}]), "variant")
    assert [(c.column, c.variant) for c in result.schema_changes] == [("size__v_text", True)]
    rows = fetch_rows(warehouse, "select id, size, size__v_text from raw_test_variant.things order by id")
    assert rows == [(1, 5, None), (2, None, "five")]


def test_missing_erp_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        erp_source(credentials=f"sqlite:///{tmp_path / 'nope.sqlite'}")
    assert not (tmp_path / "nope.sqlite").exists()
