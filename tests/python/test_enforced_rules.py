"""Which data tests a kept table's constraints make redundant (customer_sync.enforced_rules), on a
manifest and a catalog written out by hand; test_matching.py checks the same against dbt and Postgres."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from customer_sync.enforced_rules import Catalog, enforced_rule_tests, node_of_test, rule_is_enforced

RECORDS = ("identity", "int_customer_records")
CONTACTS = ("raw_crm", "contacts")


def _test(name: str, kind: str | None, parents: list[str], attached: str | None = None, **kwargs: Any) -> Any:
    metadata = SimpleNamespace(name=kind, kwargs=kwargs) if kind else None
    return SimpleNamespace(
        unique_id=f"test.customer_sync.{name}",
        name=name,
        resource_type="test",
        attached_node=attached,
        test_metadata=metadata,
        depends_on=SimpleNamespace(nodes=parents),
        config=SimpleNamespace(where=None),
    )


def test_a_sources_test_is_attached_to_its_one_parent_and_a_singular_test_to_none() -> None:
    source = "source.customer_sync.raw_crm.contacts"
    model = "model.customer_sync.int_customer_records"
    assert node_of_test(_test("n", "not_null", [source], column_name="id")) == source
    assert node_of_test(_test("u", "unique", [model], attached=model, column_name="record_id")) == model
    assert node_of_test(_test("s", None, [model, "model.customer_sync.dim_customer"])) is None


def test_each_rule_counts_as_enforced_only_when_the_catalog_holds_all_of_it() -> None:
    catalog = Catalog(
        not_null={(*RECORDS, "record_id"), (*RECORDS, "entity_type")},
        unique_keys={RECORDS: [frozenset({"record_id"})]},
        checks={(*RECORDS, "row_check")},
        rule_owners={(*RECORDS, "test.customer_sync.blank")},
    )
    model = "model.customer_sync.int_customer_records"

    def enforced(kind: str | None, name: str = "t", **kwargs: Any) -> bool:
        return rule_is_enforced(_test(name, kind, [model], attached=model, **kwargs), RECORDS, catalog)

    assert enforced("not_null_columns", columns=["record_id", "entity_type"])
    assert not enforced("not_null_columns", columns=["record_id", "source_system"])
    assert enforced("unique", column_name="record_id")
    # rows with nulls in the key count as equal: the key's columns must be not null too
    assert enforced("unique_combination_of_columns", combination_of_columns=["record_id", "entity_type"])
    assert not enforced("unique_combination_of_columns", combination_of_columns=["record_id", "is_deleted"])
    assert not enforced("unique", column_name="entity_type")
    # a row rule is enforced by the check constraint that names the test in its comment
    assert enforced("not_blank_columns", name="blank", columns=["city"])
    assert not enforced("not_blank_columns", name="other", columns=["city"])
    assert not enforced("relationships", column_name="record_id", to="ref('x')", field="record_id")
    assert not enforced(None)
    where = _test("w", "not_null_columns", [model], attached=model, columns=["record_id"])
    where.config.where = "is_deleted"
    assert not rule_is_enforced(where, RECORDS, catalog)


def test_only_the_tests_of_kept_tables_are_left_out() -> None:
    """A table model is rebuilt by the build (its constraints are not yet there); a source and an
    incremental model are kept, so a rule their table holds before the build still holds after it."""
    nodes = {
        "model.customer_sync.int_customer_records": SimpleNamespace(
            resource_type="model",
            config=SimpleNamespace(materialized="incremental"),
            schema=RECORDS[0],
            alias=RECORDS[1],
        ),
        "model.customer_sync.int_customer_clusters": SimpleNamespace(
            resource_type="model",
            config=SimpleNamespace(materialized="table"),
            schema="identity",
            alias="int_customer_clusters",
        ),
    }
    tests = [
        _test(
            "records_key",
            "not_null_columns",
            [m := "model.customer_sync.int_customer_records"],
            attached=m,
            columns=["record_id"],
        ),
        _test(
            "clusters_key",
            "not_null_columns",
            [c := "model.customer_sync.int_customer_clusters"],
            attached=c,
            columns=["record_id"],
        ),
        _test("source_id", "not_null", ["source.customer_sync.raw_crm.contacts"], column_name="id"),
        _test("source_unique", "unique", ["source.customer_sync.raw_crm.contacts"], column_name="id"),
    ]
    nodes.update({test.unique_id: test for test in tests})
    sources = {
        "source.customer_sync.raw_crm.contacts": SimpleNamespace(schema=CONTACTS[0], identifier=CONTACTS[1])
    }
    manifest = SimpleNamespace(nodes=nodes, sources=sources)

    class Cursor:
        """Answers read_catalog's three queries: not-null columns, unique keys, check constraints."""

        def __init__(self) -> None:
            self.answers = [
                [
                    (*RECORDS, "record_id"),
                    ("identity", "int_customer_clusters", "record_id"),
                    (*CONTACTS, "id"),
                ],
                [],
                [],
            ]

        def execute(self, sql: str, params: Any) -> None:
            assert ("int_customer_clusters" in params["tables"]) is False

        def fetchall(self) -> list[Any]:
            return self.answers.pop(0)

    assert enforced_rule_tests(manifest, Cursor()) == ["records_key", "source_id"]
