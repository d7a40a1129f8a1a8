"""Staging: raw records landed by dlt come out of the stg_ models standardized, flagged and quarantined."""

from __future__ import annotations

from typing import Any

import dlt
import pytest

from customer_sync import db as database
from customer_sync.config import Settings
from customer_sync.dbt_runner import run_dbt

CANONICAL_COLUMNS = [
    "record_id", "source_system", "source_table", "source_record_id", "entity_type",
    "first_name", "last_name", "full_name", "email", "is_email_valid", "phone", "is_phone_valid",
    "company_name", "address_line1", "address_line2", "city", "postcode", "region", "country_code",
    "birth_date", "national_id", "golden_id_in_source", "is_deleted",
    "source_created_at", "source_updated_at", "loaded_at",
]  # fmt: skip
STAGING_MODELS = [
    "stg_crm__contacts", "stg_crm__companies", "stg_billing__customers",
    "stg_support__users", "stg_support__organizations", "stg_erp__partners",
]  # fmt: skip
SEEDS = ["ref_country_codes", "ref_nicknames", "ref_address_abbreviations", "ref_email_provider_rules"]
ISO = "2024-03-01T10:00:00.000Z"


def _contact(record_id: str, **properties: str | None) -> dict[str, Any]:
    return {
        "id": record_id,
        "properties": {"createdate": ISO, "lastmodifieddate": ISO, **properties},
        "createdAt": ISO,
        "updatedAt": ISO,
        "archived": False,
    }


def _raw_records() -> dict[str, dict[str, list[dict[str, Any]]]]:
    contacts = [
        _contact("stg-1", firstname="JOSÉ", lastname="o'neil", email=" John.Smith+News@GMAIL.com ",
                 phone="020 7946 0958", zip="sw1a1aa", country="United Kingdom", date_of_birth="29/02/1980",
                 address="10 downing street"),
        _contact("stg-2", firstname="Bob", lastname="Müller", email="bob@@example", phone="12",
                 zip="D-10115", country="Deutschland", date_of_birth="2023-02-30"),
        _contact("stg-3", firstname=" ", lastname=None, email="x@example.com", country="Atlantis"),
    ]  # fmt: skip
    companies = [_contact("stg-c1", name="ACME GmbH", phone="+49 30 1234567", country="DE")]
    customers = [
        {"id": "cus_stg1", "name": "Acme Widgets Ltd", "email": "billing@acme.example",
         "phone": "(415) 555-0100",
         "address": {"line1": "1 Main Street", "city": "Boston", "postal_code": "2134", "country": "US"},
         "created": 1700000000, "deleted": True},
    ]  # fmt: skip
    users = [
        {"id": 990001, "name": "Smith, Jane", "email": "jane@example.org", "phone": "+33 1 42 68 53 00",
         "external_id": "G0000000042", "organization_id": 990101, "active": True,
         "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-02T00:00:00Z"},
    ]  # fmt: skip
    organizations = [
        {"id": 990101, "name": "Zeta SARL", "external_id": None, "details": None,
         "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"},
    ]  # fmt: skip
    partners = [
        {"id": 990201, "name": "Müller & Söhne GmbH", "ref": None, "vat": "de 123.456.789", "email": None,
         "phone": "030 1234567", "street": "Hauptstraße 5", "street2": None, "zip": "10115", "city": "BERLIN",
         "state_name": None, "country_id": 990301, "is_company": True, "parent_id": None, "active": True,
         "create_date": "2024-01-01 00:00:00", "write_date": "2024-01-01 00:00:00"},
    ]  # fmt: skip
    countries = [{"id": 990301, "code": "DE", "name": "Germany"}]
    return {
        "crm": {"contacts": contacts, "companies": companies},
        "billing": {"customers": customers},
        "support": {"users": users, "organizations": organizations},
        "erp": {"res_partner": partners, "res_country": countries},
    }


def _text_columns(names: list[str]) -> dict[str, dict[str, Any]]:
    return {name: {"data_type": "text", "nullable": True} for name in names}


COLUMN_HINTS = {
    "contacts": _text_columns(
        [
            f"properties__{p}"
            for p in (
                "firstname",
                "lastname",
                "email",
                "phone",
                "mobilephone",
                "company",
                "address",
                "city",
                "state",
                "zip",
                "country",
                "date_of_birth",
                "mdm_golden_id",
            )
        ]  # fmt: skip
    ),
    "companies": _text_columns(
        [
            f"properties__{p}"
            for p in ("name", "phone", "address", "city", "state", "zip", "country", "mdm_golden_id")
        ]
    ),
    "customers": _text_columns(
        [
            "name",
            "email",
            "phone",
            "address__line1",
            "address__line2",
            "address__city",
            "address__state",
            "address__postal_code",
            "address__country",
            "metadata__golden_id",
        ]  # fmt: skip
    ),
    "users": {
        **_text_columns(["name", "email", "phone", "external_id", "details"]),
        "organization_id": {"data_type": "bigint", "nullable": True},
    },
    "organizations": _text_columns(["name", "external_id", "details"]),
    "res_partner": {
        **_text_columns(
            ["name", "ref", "vat", "email", "phone", "street", "street2", "zip", "city", "state_name"]
        ),
        "parent_id": {"data_type": "bigint", "nullable": True},
        "country_id": {"data_type": "bigint", "nullable": True},
    },
}


@pytest.fixture(scope="module")
def staged(settings: Settings, warehouse: database.Database) -> database.Database:
    """The records above landed with dlt as cs_loader, then the staging models built."""
    for system, tables in _raw_records().items():
        for table, rows in tables.items():
            _land(settings, warehouse, system, table, rows)
    run_dbt(settings, warehouse, "build", select=["staging", *SEEDS])
    return warehouse


def _land(
    settings: Settings,
    warehouse: database.Database,
    system: str,
    table: str,
    rows: list[dict[str, Any]],
) -> None:
    pipeline = dlt.pipeline(
        pipeline_name=f"test_staging_{system}",
        destination=dlt.destinations.postgres(warehouse.role_url("cs_loader")),
        dataset_name=f"raw_{system}",
        pipelines_dir=str(settings.home / "dlt_test_staging"),
    )
    resource = dlt.resource(
        rows,
        name=table,
        primary_key="id",
        write_disposition="merge",
        columns=COLUMN_HINTS.get(table),
    )
    pipeline.run(resource)


def _rows(db: database.Database, sql: str) -> list[tuple[Any, ...]]:
    with database.connect(db) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


@pytest.mark.e2e
def test_every_staging_model_has_the_canonical_columns_in_order(staged: database.Database) -> None:
    for model in STAGING_MODELS:
        columns = _rows(
            staged,
            "select column_name from information_schema.columns "
            f"where table_schema = 'staging' and table_name = '{model}' order by ordinal_position",
        )
        assert [name for (name,) in columns] == CANONICAL_COLUMNS, model


@pytest.mark.e2e
def test_contact_fields_are_standardized(staged: database.Database) -> None:
    (row,) = _rows(
        staged,
        "select first_name, last_name, email, is_email_valid, phone, postcode, country_code, "
        "birth_date::text, address_line1 from staging.stg_crm__contacts where source_record_id = 'stg-1'",
    )
    assert row == (
        "José", "O'Neil", "john.smith+news@gmail.com", True, "+442079460958", "SW1A 1AA", "GB", "1980-02-29",
        "10 Downing St",
    )  # fmt: skip
    (keys,) = _rows(
        staged,
        "select email_match_key, first_name_match_key from staging.base_crm__contacts "
        "where source_record_id = 'stg-1'",
    )
    assert keys == ("johnsmith@gmail.com", "jose")


@pytest.mark.e2e
def test_other_sources_are_standardized(staged: database.Database) -> None:
    billing = _rows(
        staged,
        "select entity_type, company_name, phone, postcode, is_deleted from staging.stg_billing__customers "
        "where source_record_id = 'cus_stg1'",
    )
    assert billing == [("company", "Acme Widgets Ltd", "+14155550100", "02134", True)]
    support = _rows(
        staged,
        "select first_name, last_name, company_name, phone, golden_id_in_source "
        "from staging.stg_support__users "
        "where source_record_id = '990001'",
    )
    # no country on the record, but the number is international: its own calling code places it
    assert support == [("Jane", "Smith", "Zeta SARL", "+33142685300", "G0000000042")]
    erp = _rows(
        staged,
        "select entity_type, company_name, phone, address_line1, city, country_code, national_id "
        "from staging.stg_erp__partners where source_record_id = '990201'",
    )
    assert erp == [
        ("company", "Müller & Söhne GmbH", "+49301234567", "Hauptstr 5", "Berlin", "DE", "DE123456789")
    ]


@pytest.mark.e2e
def test_bad_records_stay_in_staging_and_are_quarantined_with_reasons(staged: database.Database) -> None:
    kept = _rows(staged, "select count(*) from staging.stg_crm__contacts where source_record_id like 'stg-%'")
    assert kept == [(3,)]
    reasons = _rows(
        staged,
        "select source_record_id, reason, severity from staging.stg_quarantined_records "
        "where source_system = 'crm' and source_record_id in ('stg-1', 'stg-2', 'stg-3') order by 1, 2",
    )
    assert reasons == [
        ("stg-2", "invalid_email_and_no_phone", "error"),
        ("stg-2", "invalid_phone", "warning"),
        ("stg-2", "unparseable_birth_date", "error"),
        ("stg-3", "no_usable_name", "error"),
        ("stg-3", "unknown_country", "warning"),
    ]


def _row_versions(db: database.Database, model: str) -> dict[str, str]:
    """Record id -> the transaction that wrote the built row (Postgres ``xmin``)."""
    return {rid: xmin for rid, xmin in _rows(db, f"select record_id, xmin::text from staging.{model}")}


@pytest.mark.parametrize(
    ("module", "tables"),
    [("crm", ("contacts", "companies")), ("billing", ("customers",)), ("support", ("organizations",))],
)
def test_the_landed_tables_hashed_by_row_id_get_a_new_row_id_each_time_a_row_lands(
    module: str, tables: tuple[str, ...]
) -> None:
    """The base models of these tables hash only the rows whose dlt row id no built row has
    (landed_row_hash): that holds only while dlt gives a row landed again a new random id, as its merge
    disposition's delete-insert strategy does. An upsert or scd2 strategy would derive the id from the
    key or the row, and a changed record landed again would then keep its id and go unstandardized."""
    import importlib

    from dlt.common.destination.utils import resolve_merge_strategy

    # the strategy as the Postgres destination resolves it (without a destination dlt falls back to
    # its default for any strategy it does not know to be supported)
    postgres = dlt.destinations.postgres("postgresql://unused:unused@127.0.0.1:9/unused").capabilities()
    pipeline_module = importlib.import_module(f"pipelines.{module}")
    schema = pipeline_module.source(base_url="http://127.0.0.1:9", api_token="unused").discover_schema()
    for table in tables:
        assert resolve_merge_strategy(schema.tables, schema.tables[table], postgres) == "delete-insert"


@pytest.mark.e2e
def test_a_build_standardizes_only_changed_records_and_all_after_a_rule_change(
    settings: Settings, staged: database.Database
) -> None:
    contacts = _raw_records()["crm"]["contacts"]
    before = {model: _row_versions(staged, model) for model in ("base_crm__contacts", "base_support__users")}

    # one contact edited, one added; the user's organization renamed (a looked-up value, not the user row)
    edited = {**contacts[0], "properties": {**contacts[0]["properties"], "firstname": "josefina"}}
    added = _contact("stg-4", firstname="Ada", lastname="Lovelace", email="ada@example.org", country="GB")
    _land(settings, staged, "crm", "contacts", [edited, added])
    _land(settings, staged, "support", "organizations", [{**_raw_records()["support"]["organizations"][0],
                                                          "name": "Zeta Conseil SARL"}])  # fmt: skip
    run_dbt(settings, staged, "run", select=["staging"])

    after = _row_versions(staged, "base_crm__contacts")
    rewritten = sorted(rid for rid, xmin in after.items() if before["base_crm__contacts"].get(rid) != xmin)
    assert rewritten == ["crm:contacts:stg-1", "crm:contacts:stg-4"]
    assert _rows(
        staged, "select first_name from staging.stg_crm__contacts where source_record_id = 'stg-1'"
    ) == [("Josefina",)]
    users_after = _row_versions(staged, "base_support__users")
    assert (
        users_after.keys() == before["base_support__users"].keys()
        and users_after != before["base_support__users"]
    )
    assert _rows(
        staged, "select company_name from staging.stg_support__users where source_record_id = '990001'"
    ) == [("Zeta Conseil SARL",)]

    # an analyst changes a rule the standardization reads (a var here; a seed or macro alike): all again
    unchanged = _row_versions(staged, "base_crm__contacts")
    run_dbt(
        settings, staged, "run", select=["base_crm__contacts"], dbt_vars={"address_unit_patterns": ["flat"]}
    )
    assert all(unchanged[rid] != xmin for rid, xmin in _row_versions(staged, "base_crm__contacts").items())

    # a landed row gone (as when a source is re-landed whole without it): the record leaves staging too
    with database.connect(staged, role="cs_loader") as conn, conn.cursor() as cur:
        cur.execute("delete from raw_crm.contacts where id = 'stg-4'")
    run_dbt(settings, staged, "run", select=["staging"])
    built = _row_versions(staged, "base_crm__contacts")
    assert "crm:contacts:stg-4" not in built
    assert {"crm:contacts:stg-1", "crm:contacts:stg-2", "crm:contacts:stg-3"} <= built.keys()


@pytest.mark.e2e
def test_required_columns_are_checked_in_one_scan_that_names_each_null_column(
    settings: Settings, staged: database.Database
) -> None:
    """A staging record's required columns are its base table's rule (the stg_ view selects them as they
    are): a kept base table refuses a null as it is written; without the constraints (as after a
    --full-refresh) the test reads the table once and fails with one row per column that has nulls."""
    from psycopg2 import errors

    select = ["base_crm__contacts,test_name:not_null_columns"]
    passed = run_dbt(settings, staged, "test", select=select)
    assert passed.count("test", "pass") == 1 and not passed.failed()
    update = (
        "update staging.base_crm__contacts set loaded_at = null,"
        " source_system = case when record_id = %s then null else source_system end"
        " where record_id in (%s, %s)"
    )

    with database.connect(staged) as conn, conn.cursor() as cur:
        cur.execute("select record_id, loaded_at from staging.base_crm__contacts order by record_id limit 2")
        saved = cur.fetchall()
    with pytest.raises(errors.NotNullViolation), database.connect(staged) as conn, conn.cursor() as cur:
        cur.execute(update, (saved[0][0], saved[0][0], saved[1][0]))
    with database.connect(staged) as conn, conn.cursor() as cur:
        cur.execute(
            "alter table staging.base_crm__contacts alter column loaded_at drop not null,"
            " alter column source_system drop not null"
        )
        cur.execute(update, (saved[0][0], saved[0][0], saved[1][0]))
    try:
        failed = run_dbt(settings, staged, "test", select=select, raise_on_failure=False)
        # one failing row per column with nulls, however many rows have them
        assert [node.message for node in failed.failed()] == ["Got 2 results, configured to fail if != 0"]
    finally:
        with database.connect(staged) as conn, conn.cursor() as cur:
            for record_id, loaded_at in saved:
                cur.execute(
                    "update staging.base_crm__contacts set loaded_at = %s, source_system = 'crm'"
                    " where record_id = %s",
                    (loaded_at, record_id),
                )
            cur.execute(
                "alter table staging.base_crm__contacts alter column loaded_at set not null,"
                " alter column source_system set not null"
            )


@pytest.mark.e2e
def test_blank_and_malformed_values_fail_the_per_model_checks_that_name_each_column(
    settings: Settings, staged: database.Database
) -> None:
    """not_blank_columns and columns_match_regex check every listed column in one scan of the model;
    a failure has one row per offending column (with a count and, for a pattern, one offending value).
    On a kept base table each is also a check constraint that refuses a bad row as it is written; a
    build puts back a constraint taken off."""
    from psycopg2 import errors

    select = [f"base_crm__contacts,test_name:{name}" for name in ("not_blank_columns", "columns_match_regex")]
    passed = run_dbt(settings, staged, "test", select=select)
    assert passed.count("test", "pass") == 2 and not passed.failed()
    rules = "select conname from pg_constraint where conrelid = 'staging.base_crm__contacts'::regclass"
    rules += " and conname like '%row_rule%' order by 1"
    constraints = _rows(staged, rules)
    assert len(constraints) == 3  # the two tests' and is_phone_valid's (expect_flag_matches_condition)

    with database.connect(staged) as conn, conn.cursor() as cur:
        cur.execute("select record_id, city, email from staging.base_crm__contacts order by 1 limit 2")
        saved = cur.fetchall()
    with pytest.raises(errors.CheckViolation), database.connect(staged) as conn, conn.cursor() as cur:
        cur.execute("update staging.base_crm__contacts set city = ' ' where record_id = %s", (saved[0][0],))
    with database.connect(staged) as conn, conn.cursor() as cur:
        for (name,) in constraints:
            cur.execute(f"alter table staging.base_crm__contacts drop constraint {name}")
        # a blank city and a blank email (blank, and not the email pattern) in one row; an upper-case
        # email in another
        cur.execute(
            "update staging.base_crm__contacts set city = ' ', email = '  ' where record_id = %s",
            (saved[0][0],),
        )
        cur.execute(
            "update staging.base_crm__contacts set email = 'Upper@Example.com' where record_id = %s",
            (saved[1][0],),
        )
    try:
        failed = run_dbt(settings, staged, "test", select=select, raise_on_failure=False)
        messages = {node.unique_id.split(".")[2].split("_base_")[0]: node.message for node in failed.failed()}
        # not blank: city and email (2 columns); pattern: email only (one column, 2 rows)
        assert messages == {
            "not_blank_columns": "Got 2 results, configured to fail if != 0",
            "columns_match_regex": "Got 1 result, configured to fail if != 0",
        }
    finally:
        with database.connect(staged) as conn, conn.cursor() as cur:
            for record_id, city, email in saved:
                cur.execute(
                    "update staging.base_crm__contacts set city = %s, email = %s where record_id = %s",
                    (city, email, record_id),
                )
    run_dbt(settings, staged, "run", select=["base_crm__contacts"])
    assert _rows(staged, rules) == constraints
