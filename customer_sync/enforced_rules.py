"""The data tests whose rule a kept table already enforces, which a scheduled build need not run.

An incremental model's table is kept from build to build, and with it the rules Postgres checks on
every row written to it: the not-null and check constraints ``enforce_required_columns`` makes from the
model's ``not_null_columns``, ``accepted_values`` and row rule tests (``not_blank_columns``,
``columns_match_regex``, ``columns_values_in_set``, ``expect_flag_matches_condition``: a check
constraint commented with the test's unique id), and the unique indexes ``create_unique_key_index``
makes for its keys (macros/enforce_required_columns.sql, macros/matching/indexes.sql). A test of such a
rule cannot fail.
It still costs a dbt node, about 50 ms of dbt's Python under the interpreter lock both threads share.

:func:`enforced_rule_tests` names the tests whose rule the catalog holds *before* the build, on the
table of an incremental model or of a source (dlt lands an id declared not nullable as a NOT NULL
column; the build never writes a source). A build that is not a full refresh keeps that table, its
indexes and the constraints of the rules its tests still state (``enforce_required_columns`` drops only
the rules no test states any more), and a row breaking one fails the model's own build. The build that
adds a rule, a full refresh (which makes a new table with none) and a first build read the table through
the test, as before. The lookups are the ones the tests make (macros/tests/generic_tests.sql).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg2.extensions

Table = tuple[str, str]

_NOT_NULL = """
    select namespace.nspname, class.relname, attribute.attname
    from pg_catalog.pg_attribute as attribute
    join pg_catalog.pg_class as class on class.oid = attribute.attrelid
    join pg_catalog.pg_namespace as namespace on namespace.oid = class.relnamespace
    where
        (namespace.nspname, class.relname) in (select * from unnest(%(schemas)s::text[], %(tables)s::text[]))
        and attribute.attnum > 0
        and not attribute.attisdropped
        and attribute.attnotnull
"""
# valid unique indexes with no expression and no predicate, as unique_key_is_enforced accepts them
_UNIQUE_KEYS = """
    select
        namespace.nspname,
        class.relname,
        array(
            select key_column.attname
            from unnest(cast(unique_index.indkey as int2[])) with ordinality as indexed (attnum, position)
            join pg_catalog.pg_attribute as key_column
                on key_column.attrelid = unique_index.indrelid and key_column.attnum = indexed.attnum
            where indexed.position <= unique_index.indnkeyatts
        )
    from pg_catalog.pg_index as unique_index
    join pg_catalog.pg_class as class on class.oid = unique_index.indrelid
    join pg_catalog.pg_namespace as namespace on namespace.oid = class.relnamespace
    where
        (namespace.nspname, class.relname) in (select * from unnest(%(schemas)s::text[], %(tables)s::text[]))
        and unique_index.indisunique
        and unique_index.indisvalid
        and unique_index.indpred is null
        and unique_index.indexprs is null
"""
_CHECKS = """
    select
        namespace.nspname,
        class.relname,
        value_check.conname,
        pg_catalog.obj_description(value_check.oid, 'pg_constraint')
    from pg_catalog.pg_constraint as value_check
    join pg_catalog.pg_class as class on class.oid = value_check.conrelid
    join pg_catalog.pg_namespace as namespace on namespace.oid = class.relnamespace
    where
        (namespace.nspname, class.relname) in (select * from unnest(%(schemas)s::text[], %(tables)s::text[]))
        and value_check.contype = 'c'
        and value_check.convalidated
"""


@dataclass
class Catalog:
    """The rules some tables enforce: not-null columns, unique keys, validated check constraints."""

    not_null: set[tuple[str, str, str]] = field(default_factory=set)
    unique_keys: dict[Table, list[frozenset[str]]] = field(default_factory=dict)
    checks: set[tuple[str, str, str]] = field(default_factory=set)
    # (schema, table, test unique id) of each row rule constraint, from its comment
    rule_owners: set[tuple[str, str, str]] = field(default_factory=set)

    def columns_not_null(self, table: Table, columns: Iterable[str]) -> bool:
        return all((*table, column) in self.not_null for column in columns)

    def key_is_unique(self, table: Table, columns: Iterable[str]) -> bool:
        """Whether a unique index's key lies within ``columns`` (so no two rows repeat their values)."""
        wanted = set(columns)
        return any(key <= wanted for key in self.unique_keys.get(table, []))


def read_catalog(cur: psycopg2.extensions.cursor, tables: Iterable[Table]) -> Catalog:
    """The rules ``tables`` (schema, name) enforce now; a table not built yet has none."""
    listed = sorted(set(tables))
    params = {"schemas": [schema for schema, _ in listed], "tables": [name for _, name in listed]}
    catalog = Catalog()
    cur.execute(_NOT_NULL, params)
    catalog.not_null = {(schema, table, column) for schema, table, column in cur.fetchall()}
    cur.execute(_UNIQUE_KEYS, params)
    for schema, table, key in cur.fetchall():
        catalog.unique_keys.setdefault((schema, table), []).append(frozenset(key))
    cur.execute(_CHECKS, params)
    for schema, table, name, owner in cur.fetchall():
        catalog.checks.add((schema, table, name))
        if owner:
            catalog.rule_owners.add((schema, table, owner))
    return catalog


def accepted_values_constraint(column: str, values: Sequence[Any], quote: bool = True) -> str:
    """The name ``accepted_values_constraint`` (macros/enforce_required_columns.sql) gives the check
    constraint holding ``column`` to ``values``: the column and a digest of the values' SQL list."""
    items = [("'" + str(value).replace("'", "''") + "'") if quote else str(value) for value in values]
    digest = hashlib.md5(", ".join(items).encode()).hexdigest()  # a name, not a secret
    return f"{column}__accepted_values__{digest[:12]}"


def kept_tables(manifest: Any) -> dict[str, Table]:
    """The tables a build keeps (schema, name), by the unique id of their node: the incremental models'
    and the sources' (landed before the build, never written by it)."""
    tables = {
        unique_id: (node.schema, node.alias)
        for unique_id, node in manifest.nodes.items()
        if node.resource_type == "model" and node.config.materialized == "incremental"
    }
    tables.update({unique_id: (node.schema, node.identifier) for unique_id, node in manifest.sources.items()})
    return tables


def node_of_test(test: Any) -> str | None:
    """The unique id of the model, seed, snapshot or source a generic test is attached to (a source's
    test names it as its one parent), or None for a singular test."""
    attached = getattr(test, "attached_node", None)
    if attached:
        return str(attached)
    parents = test.depends_on.nodes
    if getattr(test, "test_metadata", None) is not None and len(parents) == 1:
        return str(parents[0]) if parents[0].startswith("source.") else None
    return None


def rule_is_enforced(test: Any, table: Table, catalog: Catalog) -> bool:
    """Whether ``catalog`` holds the rule of ``test`` (a dbt test node) on ``table``."""
    metadata = getattr(test, "test_metadata", None)
    if metadata is None or test.config.where:
        return False
    arguments = metadata.kwargs
    name = metadata.name
    if name == "not_null_columns":
        return catalog.columns_not_null(table, arguments.get("columns") or [None])
    if name == "not_null":
        return catalog.columns_not_null(table, [arguments.get("column_name")])
    if name == "unique":  # nulls are not compared: the index is enough
        return catalog.key_is_unique(table, [arguments.get("column_name")])
    if name == "unique_combination_of_columns":  # rows with nulls in the key count as equal: not null too
        columns = arguments.get("combination_of_columns") or []
        return catalog.key_is_unique(table, columns) and catalog.columns_not_null(table, columns)
    if name == "accepted_values":
        check = accepted_values_constraint(
            arguments.get("column_name"), arguments.get("values") or [], arguments.get("quote", True)
        )
        return (*table, check) in catalog.checks
    # a row rule (not_blank_columns, columns_match_regex, ...): a check constraint names the test
    return (*table, test.unique_id) in catalog.rule_owners


def enforced_rule_tests(manifest: Any, cur: psycopg2.extensions.cursor) -> list[str]:
    """The names of the data tests whose rule the table of their incremental model or source enforces
    now."""
    tables = kept_tables(manifest)
    catalog = read_catalog(cur, tables.values())
    tests = [node for node in manifest.nodes.values() if node.resource_type == "test"]
    tested = {test.unique_id: node_of_test(test) for test in tests}
    return sorted(
        test.name
        for test in tests
        if tested[test.unique_id] in tables
        and rule_is_enforced(test, tables[tested[test.unique_id]], catalog)
    )
