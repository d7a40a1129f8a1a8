"""Identity resolution, matching part: the models from int_customer_records to int_customer_matches,
run on a small file source with known truth (tests/python/fixtures/matching.py)."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from itertools import combinations
from typing import Any

import pytest

from customer_sync import db as database
from customer_sync.config import Settings
from customer_sync.dbt_runner import dbt_paths, parse_project, run_dbt
from customer_sync.enforced_rules import enforced_rule_tests, node_of_test
from tests.python.fixtures.matching import MATCHING_VARS, SCHEMA_PREFIX, MatchingData

IDENTITY = SCHEMA_PREFIX + "identity"


def _rows(db: database.Database, sql: str, params: tuple = ()) -> list[tuple]:
    with database.connect(db) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _components(records: list[str], edges: list[tuple[str, str]]) -> dict[str, str]:
    parent = {record: record for record in records}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for left, right in edges:
        parent[find(left)] = find(right)
    return {record: find(record) for record in records}


def _pairs(labels: dict[str, str]) -> set[tuple[str, str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for record, label in labels.items():
        groups[label].append(record)
    return {pair for members in groups.values() for pair in combinations(sorted(members), 2)}


@pytest.fixture(scope="module")
def resolved(matched: MatchingData, warehouse: database.Database) -> dict[str, str]:
    # the warehouse's record ids are <system>:<file>:<id>; the truth knows each record by the file's own id
    file_id = dict(
        _rows(warehouse, f"select record_id, source_record_id from {IDENTITY}.int_customer_records")
    )
    edges = _rows(warehouse, f"select record_id_l, record_id_r from {IDENTITY}.int_customer_matches")
    return _components(list(file_id.values()), [(file_id[left], file_id[right]) for left, right in edges])


@pytest.mark.e2e
def test_pairwise_precision_and_recall(matched: MatchingData, resolved: dict[str, str]) -> None:
    predicted, true = _pairs(resolved), _pairs(matched.truth)
    found = predicted & true
    precision, recall = len(found) / len(predicted), len(found) / len(true)
    assert precision >= 0.97, f"precision {precision:.3f}: {sorted(predicted - true)[:5]}"
    assert recall >= 0.97, f"recall {recall:.3f}: {sorted(true - predicted)[:5]}"


@pytest.mark.e2e
def test_households_stay_apart(matched: MatchingData, resolved: dict[str, str]) -> None:
    """People sharing an email, a last name and an address but not a first name are not merged."""
    merged = [pair for pair in matched.households if resolved[pair[0]] == resolved[pair[1]]]
    assert merged == []


@pytest.mark.e2e
@pytest.mark.parametrize("kind", ["nickname", "typo", "swapped", "gmail_dots", "moved", "missing_email"])
def test_each_kind_of_noise_is_matched(kind: str, matched: MatchingData, resolved: dict[str, str]) -> None:
    noisy = [record for record, noise in matched.noise.items() if noise == kind]
    assert noisy, f"the fixture has no {kind} copies"
    first_copy = {}
    for record, entity in matched.truth.items():
        first_copy.setdefault(entity, record)
    missed = [r for r in noisy if resolved[r] != resolved[first_copy[matched.truth[r]]]]
    assert len(missed) <= 0.05 * len(noisy), f"{kind}: {len(missed)}/{len(noisy)} missed, e.g. {missed[:3]}"


@pytest.mark.e2e
def test_blocking_keeps_pairs_near_linear(matched: MatchingData, warehouse: database.Database) -> None:
    ((records, pairs, oversized),) = _rows(
        warehouse,
        f"select (select count(*) from {IDENTITY}.int_customer_records),"
        f" (select count(*) from {IDENTITY}.int_customer_pairs),"
        f" (select count(*) from {IDENTITY}.int_customer_oversized_blocks where is_oversized_block)",
    )
    assert records == len(matched.truth)
    assert pairs <= 10 * records
    assert oversized == 0


@pytest.mark.e2e
def test_a_run_drops_the_table_of_a_retired_model(
    matched: MatchingData, settings: Settings, warehouse: database.Database
) -> None:
    # int_customer_blocks, as a warehouse built before its rename to int_customer_oversized_blocks has it
    with database.connect(warehouse) as conn, conn.cursor() as cur:
        cur.execute(f"create table {IDENTITY}.int_customer_blocks as select 1 as block_size")
    _run_models(settings, warehouse, "int_customer_oversized_blocks")
    ((retired, kept),) = _rows(
        warehouse,
        f"select to_regclass('{IDENTITY}.int_customer_blocks'),"
        f" to_regclass('{IDENTITY}.int_customer_oversized_blocks')",
    )
    assert retired is None and kept is not None


@pytest.mark.e2e
def test_estimated_parameters_are_plausible(matched: MatchingData, warehouse: database.Database) -> None:
    weights = {
        (comparison, level): (m, u, weight)
        for comparison, level, m, u, weight in _rows(
            warehouse,
            "select comparison, comparison_level, m_probability, u_probability, match_weight"
            f" from {IDENTITY}.int_customer_match_parameters where entity_type = 'person'",
        )
    }
    for comparison, top_level in [("first_name", 4), ("last_name", 4), ("email", 3), ("location", 4)]:
        m, u, weight = weights[(comparison, top_level)]
        assert m > 0.5 and weight > 2, (comparison, m, u, weight)
        assert weights[(comparison, 0)][2] < 0, comparison
    # u follows how common a value is: the fixture draws 5 of every 7 first names from 5 common names,
    # so two random people share a first name far more often than a last name
    assert weights[("last_name", 4)][1] < 0.05 < weights[("first_name", 4)][1] < 0.2
    # conflicting birth dates veto a match whatever else agrees
    assert weights[("birth_date", 0)][2] < -50


def _one_edit_apart(left: str, right: str) -> bool:
    """Damerau distance at most one, by its definition."""
    if left == right:
        return True
    if len(left) == len(right):
        differ = [i for i, (a, b) in enumerate(zip(left, right, strict=True)) if a != b]
        swapped = (
            len(differ) == 2
            and differ[1] == differ[0] + 1
            and (left[differ[0]], left[differ[1]]) == (right[differ[1]], right[differ[0]])
        )
        return len(differ) == 1 or swapped
    longer, shorter = (left, right) if len(left) > len(right) else (right, left)
    return len(longer) == len(shorter) + 1 and any(
        longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer))
    )


def _ngrams(text: str, n: int = 2) -> set[str]:
    padded = f" {text} "
    return {padded[i : i + n] for i in range(len(text) + 3 - n)}


def _jaccard(left: set[str], right: set[str]) -> float:
    return len(left & right) / len(left | right) if left | right else 0.0


def _edited(rng: random.Random, text: str, alphabet: str) -> str:
    """The text after zero to two random edits (substitution, insertion, deletion, transposition)."""
    for _ in range(rng.choice((0, 1, 1, 2))):
        i = rng.randrange(len(text) + 1)
        kind = rng.choice(("substitute", "insert", "delete", "transpose"))
        if kind == "insert" or not text:
            text = text[:i] + rng.choice(alphabet) + text[i:]
        elif kind == "transpose" and len(text) > 1:
            i = min(i, len(text) - 2)
            text = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        elif kind == "delete":
            text = text[: min(i, len(text) - 1)] + text[min(i, len(text) - 1) + 1 :]
        else:
            i = min(i, len(text) - 1)
            text = text[:i] + rng.choice(alphabet) + text[i + 1 :]
    return text


@pytest.mark.e2e
def test_similarity_functions_agree_with_their_definitions(
    matched: MatchingData, warehouse: database.Database
) -> None:
    """The PL/pgSQL similarity functions (macros/matching/similarity_functions.sql) against Python
    definitions, on random strings and their near copies: accents and CJK letters, words, empty
    strings, repeated letters."""
    rng = random.Random(7)
    alphabet = "aabeilnorst  é中"
    lefts = ["", "a", "ab", "ba", "aaa"] + [
        "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 14))) for _ in range(3000)
    ]
    rights = ["", "b", "ba", "ab", "aa"] + [_edited(rng, left, alphabet) for left in lefts[5:]]
    rows = _rows(
        warehouse,
        f"select {IDENTITY}.within_one_edit(l, r), {IDENTITY}.ngram_jaccard(l, r, 2),"
        f" {IDENTITY}.grams_jaccard(string_to_array(lg, '|'), string_to_array(rg, '|')),"
        f" {IDENTITY}.token_jaccard(l, r)"
        " from unnest(%s::text[], %s::text[], %s::text[], %s::text[]) with ordinality as t (l, r, lg, rg, n)"
        " order by n",
        (
            lefts,
            rights,
            ["|".join(sorted(_ngrams(left))) for left in lefts],
            ["|".join(sorted(_ngrams(right))) for right in rights],
        ),
    )
    assert len(rows) == len(lefts)
    within = 0
    for left, right, (one_edit, ngram, grams, tokens) in zip(lefts, rights, rows, strict=True):
        assert one_edit == _one_edit_apart(left, right), (left, right)
        expected_grams = _jaccard(_ngrams(left), _ngrams(right))
        assert float(ngram) == pytest.approx(expected_grams, abs=1e-12), (left, right)
        assert float(grams) == pytest.approx(expected_grams, abs=1e-12), (left, right)
        words = _jaccard(set(left.split(" ")) - {""}, set(right.split(" ")) - {""})
        assert float(tokens) == pytest.approx(words, abs=1e-12), (left, right)
        within += one_edit
    # the near copies hold both answers in number
    assert 0.3 < within / len(rows) < 0.9


def _row_versions(db: database.Database, table: str, *key_columns: str) -> dict[tuple, str]:
    """Each row's key -> the transaction that wrote the row (Postgres ``xmin``)."""
    rows = _rows(db, f"select {', '.join(key_columns)}, xmin::text from {IDENTITY}.{table}")
    return {row[:-1]: row[-1] for row in rows}


def _comparison_versions(db: database.Database) -> dict[tuple, str]:
    return _row_versions(db, "int_customer_pair_comparisons", "record_id_l", "record_id_r")


def _record_versions(db: database.Database) -> dict[tuple, str]:
    return _row_versions(db, "int_customer_records", "record_id")


def _contents(db: database.Database, table: str, *build_columns: str) -> set[tuple]:
    """Every row of an identity table, without the columns that say how and when it was built (the
    fingerprint of the SQL that computed it, a build time)."""
    columns = [
        name
        for (name,) in _rows(
            db,
            f"select column_name from information_schema.columns where table_schema = '{IDENTITY}'"
            f" and table_name = '{table}' and column_name <> all(%s)",
            (list(build_columns),),
        )
    ]
    # as text: an array (a record's name grams) would come back as a list, which a set cannot hold
    as_text = ", ".join(f"{column}::text" for column in columns)
    return set(_rows(db, f"select {as_text} from {IDENTITY}.{table}"))


def _run_models(
    settings: Settings,
    warehouse: database.Database,
    *models: str,
    full_refresh: bool = False,
    dbt_vars: dict | None = None,
) -> None:
    run_dbt(
        settings,
        warehouse,
        "run",
        select=list(models),
        dbt_vars={**MATCHING_VARS, **(dbt_vars or {})},
        extra_args=["--full-refresh"] if full_refresh else [],
    )


def _index_names(db: database.Database, table: str) -> set[str]:
    sql = "select indexname from pg_indexes where schemaname = %s and tablename = %s"
    rows = _rows(db, sql, (IDENTITY, table))
    return {name for (name,) in rows}


@pytest.mark.e2e
def test_a_full_refresh_leaves_the_indexes_to_the_next_build(
    matched: MatchingData, settings: Settings, warehouse: database.Database
) -> None:
    """The incremental builds' indexes (macros/matching/indexes.sql) are made by a build that keeps the
    table, never by a --full-refresh, which replaces it: the next build makes them, whatever the last."""
    table = "int_customer_blocking_keys"
    _run_models(settings, warehouse, table)
    indexes = _index_names(warehouse, table)
    assert {f"{table}__blocking_key__idx", f"{table}__record_id__blocking_rule__key"} <= indexes
    for _ in range(2):  # twice: the first replaces a table with indexes, the second one without
        _run_models(settings, warehouse, table, full_refresh=True)
        assert _index_names(warehouse, table) == set()
    _run_models(settings, warehouse, table)
    assert _index_names(warehouse, table) == indexes
    # the keys rebuilt whole carry a new keyed_at: the pairs are found again from them, as a build would
    _run_models(settings, warehouse, *PAIRING[2:], "int_customer_pair_comparisons")


# the tests that read the catalog, not the table, where the table's constraints state their rule
CATALOG_CHECKED_TESTS = ("not_null_columns", "accepted_values", "unique_combination_of_columns")


def _constraints(db: database.Database, table: str) -> tuple[set[str], set[str]]:
    """The table's not-null columns and the names of its check constraints."""
    relation = f"{IDENTITY}.{table}"
    not_null = _rows(
        db,
        "select attname from pg_attribute where attrelid = to_regclass(%s) and attnum > 0"
        " and not attisdropped and attnotnull",
        (relation,),
    )
    checks = _rows(
        db,
        "select conname from pg_constraint where conrelid = to_regclass(%s) and contype = 'c'",
        (relation,),
    )
    return {name for (name,) in not_null}, {name for (name,) in checks}


@pytest.mark.e2e
def test_an_incremental_tables_column_rules_are_its_constraints_and_its_tests_read_none_of_it(
    matched: MatchingData, settings: Settings, warehouse: database.Database
) -> None:
    """An incremental model's not_null_columns and accepted_values tests become not-null and check
    constraints of its table (macros/enforce_required_columns.sql): Postgres refuses a breaking row as it
    is written, and the tests (unique keys too, by their unique index) read the catalog, not the table.
    A constraint no test states any more is taken off by the next build; a --full-refresh leaves them
    all to the next build."""
    from psycopg2 import errors

    table = "int_customer_blocking_keys"
    _run_models(settings, warehouse, table)
    required = {"record_id", "entity_type", "blocking_rule", "blocking_key", "entered_hash", "recorded_at"}
    not_null, checks = _constraints(warehouse, table)
    assert required <= not_null
    [rule_check] = [name for name in checks if name.startswith("blocking_rule__accepted_values__")]

    # rows breaking a rule are refused as they are written
    for column, value, error in (
        ("blocking_rule", "'no_such_rule'", errors.CheckViolation),
        ("blocking_key", "null", errors.NotNullViolation),
    ):
        with pytest.raises(error), database.connect(warehouse) as conn, conn.cursor() as cur:
            cur.execute(
                f"update {IDENTITY}.{table} set {column} = {value}"
                f" where record_id = (select min(record_id) from {IDENTITY}.{table})"
            )

    # the tests pass, and their plans never run a scan of the table
    passed = run_dbt(settings, warehouse, "test", select=[table], dbt_vars=MATCHING_VARS)
    assert not passed.failed() and passed.count("test", "pass") >= 4
    target, _ = dbt_paths(settings)
    manifest = json.loads((target / "manifest.json").read_text())
    catalog_only = [
        node["compiled_code"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        and node.get("attached_node") == f"model.customer_sync.{table}"
        and node["test_metadata"]["name"] in CATALOG_CHECKED_TESTS
    ]
    assert len(catalog_only) == 3
    for sql in catalog_only:
        plan = "\n".join(row for (row,) in _rows(warehouse, f"explain (analyze, costs off) {sql}"))
        scans = [line for line in plan.splitlines() if f"Scan on {table}" in line]
        assert scans and all("never executed" in line for line in scans), plan

    # a constraint lost (a required column left nullable), and rules the yml no longer states (a check
    # for other values; a not-null column that no test requires): the next build puts each right
    records = "int_customer_records"
    with database.connect(warehouse) as conn, conn.cursor() as cur:
        cur.execute(
            f"alter table {IDENTITY}.{table} alter column blocking_key drop not null,"
            " add constraint blocking_rule__accepted_values__0123456789ab check (blocking_rule <> 'x')"
        )
        cur.execute(f"alter table {IDENTITY}.{records} alter column source_record_id set not null")
    _run_models(settings, warehouse, records, table)
    assert _constraints(warehouse, table) == (not_null, {rule_check})
    assert "source_record_id" not in _constraints(warehouse, records)[0]

    # a --full-refresh replaces the table without them (as without its indexes); the next build adds them
    _run_models(settings, warehouse, table, full_refresh=True)
    assert _constraints(warehouse, table) == (set(), set())
    _run_models(settings, warehouse, table)
    assert _constraints(warehouse, table) == (not_null, {rule_check})
    # the keys rebuilt whole carry a new keyed_at: the pairs are found again from them, as a build would
    _run_models(settings, warehouse, *PAIRING[2:], "int_customer_pair_comparisons")


@pytest.mark.e2e
def test_a_cycle_leaves_out_a_test_only_while_the_table_enforces_its_rule(
    matched: MatchingData, settings: Settings, warehouse: database.Database
) -> None:
    """A scheduled build leaves out the tests whose rule an incremental model's kept table enforces
    before it starts (customer_sync.enforced_rules): the names of the check constraints agree with the
    macro's, a rule taken off the table brings its test back, and so does a --full-refresh (a new table
    with no constraints), until a build puts the rules back. Tests of tables rebuilt whole, and tests of
    rules no constraint states (relationships), always run."""
    table = "int_customer_blocking_keys"
    model = f"model.customer_sync.{table}"
    manifest = parse_project(settings, warehouse, dbt_vars=MATCHING_VARS)
    rule_tests = {
        node.test_metadata.name: node.name
        for node in manifest.nodes.values()
        if node.resource_type == "test" and getattr(node, "attached_node", None) == model
    }

    def enforced() -> set[str]:
        with database.connect(warehouse) as conn, conn.cursor() as cur:
            return set(enforced_rule_tests(manifest, cur))

    _run_models(settings, warehouse, table)
    names = enforced()
    by_rule = {rule: rule_tests[rule] in names for rule in CATALOG_CHECKED_TESTS + ("relationships",)}
    assert by_rule == {**{rule: True for rule in CATALOG_CHECKED_TESTS}, "relationships": False}
    kept = {uid for uid, node in manifest.nodes.items() if node.config.materialized == "incremental"}
    for node in manifest.nodes.values():
        if node.name in names:  # a kept table's: an incremental model's or a source's
            assert node_of_test(node) in kept | manifest.sources.keys(), node.name

    with database.connect(warehouse) as conn, conn.cursor() as cur:
        cur.execute(f"alter table {IDENTITY}.{table} alter column blocking_key drop not null")
    assert rule_tests["not_null_columns"] not in enforced()
    assert rule_tests["accepted_values"] in enforced()

    _run_models(settings, warehouse, table, full_refresh=True)
    assert not enforced() & set(rule_tests.values())
    _run_models(settings, warehouse, table)
    assert enforced() == names
    # the keys rebuilt whole carry a new keyed_at: the pairs are found again from them, as a build would
    _run_models(settings, warehouse, *PAIRING[2:], "int_customer_pair_comparisons")


BASE_RECORDS = SCHEMA_PREFIX + "staging.base_file__records"


def _delete_in_its_system(cur: Any, record_id: str) -> None:
    """The record is deleted in its system, as its landed row says: the next build of the entered records
    deletes it there (and logs it: macros/record_key_log.sql)."""
    cur.execute(f"update {BASE_RECORDS} set is_deleted = true where record_id = %s", (record_id,))


def _restore_in_its_system(db: database.Database, record_id: str) -> None:
    with database.connect(db) as conn, conn.cursor() as cur:
        cur.execute(f"update {BASE_RECORDS} set is_deleted = false where record_id = %s", (record_id,))


@pytest.mark.e2e
def test_a_build_keys_only_the_records_whose_entered_rows_changed(
    matched: MatchingData, settings: Settings, warehouse: database.Database
) -> None:
    before = _record_versions(warehouse)
    _run_models(settings, warehouse, "int_customer_records")
    assert _record_versions(warehouse) == before, "nothing changed, yet records were keyed again"

    # one person's last name changes, another is no longer entered, a third is named like a company; a
    # changed entered row is stamped (entered_at) as a build of int_customer_entered_records stamps it
    persons = _rows(
        warehouse,
        f"select record_id from {IDENTITY}.int_customer_records"
        " where entity_type = 'person' order by record_id",
    )
    edited, gone, company = (record_id for (record_id,) in persons[:3])
    with database.connect(warehouse) as conn, conn.cursor() as cur:
        _delete_in_its_system(cur, gone)
    try:
        # a build of the entered records deletes the gone one (a build of them would undo the edits below)
        _run_models(settings, warehouse, "int_customer_entered_records")
        with database.connect(warehouse) as conn, conn.cursor() as cur:
            cur.execute(
                f"update {IDENTITY}.int_customer_entered_records"
                " set last_name = 'Quistorp', entered_at = now() where record_id = %s",
                (edited,),
            )
            cur.execute(
                f"update {IDENTITY}.int_customer_entered_records"
                " set company_name = null, first_name = null, last_name = null,"
                " full_name = 'Quist Holdings GmbH', entered_at = now() where record_id = %s",
                (company,),
            )
        _run_models(settings, warehouse, "int_customer_records")
        after = _record_versions(warehouse)
        assert {record for record, xmin in after.items() if before.get(record) != xmin} == {
            (edited,),
            (company,),
        }
        assert after.keys() == before.keys() - {(gone,)}
        keys = dict(
            _rows(
                warehouse,
                f"select record_id, concat_ws('|', entity_type, last_name_key, company_key)"
                f" from {IDENTITY}.int_customer_records where record_id in (%s, %s)",
                (edited, company),
            )
        )
        assert keys == {edited: "person|quistorp", company: "company|quist"}
        incremental = _contents(warehouse, "int_customer_records", "keyed_by", "recorded_at")
        _run_models(settings, warehouse, "int_customer_records", full_refresh=True)
        assert incremental == _contents(warehouse, "int_customer_records", "keyed_by", "recorded_at")
    finally:
        _restore_in_its_system(warehouse, gone)
        _run_models(
            settings,
            warehouse,
            "int_customer_entered_records",
            "int_customer_records",
            full_refresh=True,
        )


RECORD_CHAIN = ("int_customer_entered_records", "int_customer_records", "int_customer_blocking_keys")


@pytest.mark.e2e
def test_a_record_that_leaves_goes_downstream_by_the_log_or_by_reading_both_tables_when_it_cannot_say(
    matched: MatchingData, settings: Settings, warehouse: database.Database
) -> None:
    """The entered records and the records log each record id they delete (macros/record_key_log.sql),
    and the tables that read them take the ids from the log: a row the log never named stays, and the
    relationships test names it; once the log cannot say (the records built whole), both tables are
    read whole and it goes."""
    log = f"{IDENTITY}.record_key_log"
    keys_of = (
        f"select distinct record_id from {IDENTITY}.int_customer_blocking_keys where record_id in (%s, %s)"
    )
    _run_models(settings, warehouse, *RECORD_CHAIN)
    ((gone,),) = _rows(
        warehouse,
        f"select record_id from {IDENTITY}.int_customer_records where entity_type = 'person'"
        " order by record_id desc limit 1",
    )
    ghost = "file:ghost:1"
    with database.connect(warehouse) as conn, conn.cursor() as cur:
        _delete_in_its_system(cur, gone)
        # the keys of a record that no table ever had: the log cannot name it
        cur.execute(
            f"insert into {IDENTITY}.int_customer_blocking_keys select %s, entity_type, blocking_rule,"
            " blocking_key, entered_hash, recorded_at, keyed_at, blocked_by"
            f" from {IDENTITY}.int_customer_blocking_keys where record_id = %s",
            (ghost, gone),
        )
    try:
        _run_models(settings, warehouse, *RECORD_CHAIN)
        deleted = f"select model from {log} where event = 'deleted' and record_id = %s"
        logged = _rows(warehouse, deleted, (gone,))
        assert sorted(logged) == [("int_customer_entered_records",), ("int_customer_records",)]
        compared = set(_rows(warehouse, f"select model from {log} where event = 'compared'"))
        assert {("int_customer_blocking_keys",), ("int_customer_records",)} <= compared
        assert _rows(warehouse, keys_of, (gone, ghost)) == [(ghost,)], "by the log: the gone keys only"

        checked = run_dbt(
            settings,
            warehouse,
            "test",
            select=["int_customer_blocking_keys,test_name:relationships"],
            dbt_vars=MATCHING_VARS,
            raise_on_failure=False,
        )
        assert [node.unique_id.split(".")[2] for node in checked.failed()] == [
            "relationships_int_customer_blocking_keys_record_id__record_id__ref_int_customer_records_"
        ]

        _run_models(settings, warehouse, "int_customer_records", full_refresh=True)
        _run_models(settings, warehouse, "int_customer_blocking_keys")
        assert _rows(warehouse, keys_of, (gone, ghost)) == [], "read whole after the records were rebuilt"
    finally:
        _restore_in_its_system(warehouse, gone)
        _run_models(settings, warehouse, *RECORD_CHAIN, full_refresh=True)


PAIRING = (
    "int_customer_records",
    "int_customer_blocking_keys",
    "int_customer_oversized_blocks",
    "int_customer_pairs",
)


def _pair_versions(db: database.Database) -> dict[tuple, str]:
    return _row_versions(db, "int_customer_pairs", "record_id_l", "record_id_r")


def _pairs_as_rebuilt(
    settings: Settings, warehouse: database.Database, dbt_vars: dict | None = None
) -> tuple[set[tuple], set[tuple]]:
    """The pairs as built, then as a build of the pairs alone from scratch finds them (the table is
    left so)."""
    built = _contents(warehouse, "int_customer_pairs", "paired_at", "paired_by")
    _run_models(settings, warehouse, "int_customer_pairs", full_refresh=True, dbt_vars=dbt_vars)
    return built, _contents(warehouse, "int_customer_pairs", "paired_at", "paired_by")


MAX_BLOCK_SIZE = 50  # var('max_block_size') in dbt_project.yml
# every block of two records or more and its size, counted from the keys
_BLOCK_SIZES = (
    f"select entity_type, blocking_rule, blocking_key, count(*) as block_size"
    f" from {IDENTITY}.int_customer_blocking_keys group by 1, 2, 3 having count(*) > 1"
)


def _oversized(db: database.Database) -> set[tuple]:
    """The blocks int_customer_oversized_blocks holds as oversized, with their size."""
    return set(
        _rows(
            db,
            f"select entity_type, blocking_rule, blocking_key, block_size"
            f" from {IDENTITY}.int_customer_oversized_blocks where is_oversized_block",
        )
    )


def _all_held(db: database.Database) -> list[tuple]:
    return _rows(
        db,
        f"select entity_type, blocking_rule, blocking_key, is_oversized_block"
        f" from {IDENTITY}.int_customer_oversized_blocks",
    )


def _oversized_by_count(db: database.Database, cap: int) -> set[tuple]:
    """The blocks of more than ``cap`` records, counted whole from the keys."""
    return set(_rows(db, f"select * from ({_BLOCK_SIZES}) as blocks where block_size > %s", (cap,)))


@pytest.mark.e2e
def test_a_build_pairs_again_only_the_records_whose_keys_or_blocks_changed(
    matched: MatchingData, settings: Settings, warehouse: database.Database
) -> None:
    # the test before rebuilt int_customer_records whole: every record is stamped anew (recorded_at), and
    # the next build keys and pairs each again, as after any --full-refresh of the records
    _run_models(settings, warehouse, *PAIRING)
    before = _pair_versions(warehouse)
    _run_models(settings, warehouse, *PAIRING)
    assert _pair_versions(warehouse) == before, "nothing changed, yet records were paired again"

    # one record takes the email of a record it shared no pair with (a new pair, by email); another is
    # no longer entered (its pairs go); the changed entered row is stamped as a build stamps it
    paired = {record for pair in before for record in pair}
    emails = dict(
        _rows(
            warehouse,
            f"select record_id, email from {IDENTITY}.int_customer_entered_records"
            " where email is not null and entity_type = 'person' order by record_id",
        )
    )
    edited, gone = sorted(paired & emails.keys())[:2]
    partner = next(
        record
        for record in sorted(paired & emails.keys(), reverse=True)
        if (min(edited, record), max(edited, record)) not in before and emails[record] != emails[edited]
    )
    with database.connect(warehouse) as conn, conn.cursor() as cur:
        _delete_in_its_system(cur, gone)
    try:
        # a build of the entered records deletes the gone one (a build of them would undo the edit below)
        _run_models(settings, warehouse, "int_customer_entered_records")
        with database.connect(warehouse) as conn, conn.cursor() as cur:
            cur.execute(
                f"update {IDENTITY}.int_customer_entered_records set email = %s, entered_at = now()"
                " where record_id = %s",
                (emails[partner], edited),
            )
        _run_models(settings, warehouse, *PAIRING)
        after = _pair_versions(warehouse)
        rewritten = {pair for pair, xmin in after.items() if before.get(pair) != xmin}
        assert rewritten and all(edited in pair for pair in rewritten), rewritten
        assert (min(edited, partner), max(edited, partner)) in rewritten
        assert not any(gone in pair for pair in after)
        assert {pair for pair in before if gone not in pair and edited not in pair} <= after.keys()
        incremental, rebuilt = _pairs_as_rebuilt(settings, warehouse)
        assert incremental == rebuilt

        # a smaller block limit makes the largest usable blocks oversized: their records, whose keys did
        # not change, lose the pairs only those blocks gave them; and get them back with the limit
        (largest,) = _rows(
            warehouse,
            f"select max(block_size) from ({_BLOCK_SIZES}) as blocks where block_size <= %s",
            (MAX_BLOCK_SIZE,),
        )[0]
        assert largest >= 3, "the fixture has no block of three records"
        smaller = {"max_block_size": largest - 1}
        _run_models(settings, warehouse, *PAIRING[2:], dbt_vars=smaller)
        assert _oversized(warehouse) == _oversized_by_count(warehouse, largest - 1)
        limited, rebuilt = _pairs_as_rebuilt(settings, warehouse, dbt_vars=smaller)
        assert limited == rebuilt and len(limited) < len(incremental)
        _run_models(settings, warehouse, *PAIRING[2:])
        assert _oversized(warehouse) == _oversized_by_count(warehouse, MAX_BLOCK_SIZE)
        restored, rebuilt = _pairs_as_rebuilt(settings, warehouse)
        assert restored == rebuilt == incremental

        # with the cap at an email block's size, a record that takes that email makes the block
        # oversized, counted again from the changed keys alone; and usable again once it leaves
        email_block, size = _rows(
            warehouse,
            f"select blocking_key, block_size from ({_BLOCK_SIZES}) as blocks"
            " where blocking_rule = 'email' and entity_type = 'person' order by block_size desc, blocking_key"
            " limit 1",
        )[0]
        at_cap = {"max_block_size": size}
        _run_models(settings, warehouse, *PAIRING[2:], dbt_vars=at_cap)
        assert email_block not in {block[2] for block in _oversized(warehouse)}
        members = _rows(
            warehouse,
            f"select record_id from {IDENTITY}.int_customer_blocking_keys"
            " where entity_type = 'person' and blocking_rule = 'email' and blocking_key = %s",
            (email_block,),
        )
        entered_email = f"select record_id, email from {IDENTITY}.int_customer_entered_records"
        (_, block_email), (joiner, joiner_email) = (
            _rows(warehouse, f"{entered_email} where record_id = %s", members[0])[0],
            _rows(
                warehouse,
                f"{entered_email} where entity_type = 'person' and email is not null"
                " and record_id <> all(%s) order by record_id limit 1",
                ([member for (member,) in members],),
            )[0],
        )
        for email, is_oversized in ((block_email, True), (joiner_email, False)):
            with database.connect(warehouse) as conn, conn.cursor() as cur:
                cur.execute(
                    f"update {IDENTITY}.int_customer_entered_records set email = %s, entered_at = now()"
                    " where record_id = %s",
                    (email, joiner),
                )
            _run_models(settings, warehouse, *PAIRING, dbt_vars=at_cap)
            assert _oversized(warehouse) == _oversized_by_count(warehouse, size)
            held = {block[:3]: block[3] for block in _all_held(warehouse)}
            assert held[("person", "email", email_block)] is is_oversized, "then kept, usable again"
            counted, rebuilt = _pairs_as_rebuilt(settings, warehouse, dbt_vars=at_cap)
            assert counted == rebuilt
    finally:
        _restore_in_its_system(warehouse, gone)
        _run_models(
            settings,
            warehouse,
            "int_customer_entered_records",
            *PAIRING,
            full_refresh=True,
        )


# last in the module: it edits the identity tables, and puts them back as built at the end
@pytest.mark.e2e
def test_a_build_compares_only_the_pairs_found_again(
    matched: MatchingData, settings: Settings, warehouse: database.Database
) -> None:
    def compare(full_refresh: bool = False) -> None:
        _run_models(settings, warehouse, "int_customer_pair_comparisons", full_refresh=full_refresh)

    compare()  # the pairs as the tests before this one left them (built whole: all found again)
    before = _comparison_versions(warehouse)
    compare()
    assert _comparison_versions(warehouse) == before, "nothing changed, yet pairs were compared again"

    # one record's first name changes, one pair is no longer a candidate, another is found by one more rule.
    # They change as a build of int_customer_records and int_customer_pairs changes them: the record's
    # keys, and each pair of it, found again, stamped with the pairing build's time (as is the pair
    # found by one more rule)
    pairs = sorted(before)
    edited = pairs[0]
    gone, refound = [pair for pair in pairs if edited[0] not in pair][:2]
    with database.connect(warehouse) as conn, conn.cursor() as cur:
        cur.execute(
            f"update {IDENTITY}.int_customer_records set first_name_key = first_name_key || 'x',"
            # the grams of the new key, as char_ngrams cuts them (the right side reads the old key)
            " first_name_grams = case when first_name_key is not null then array("
            "select distinct substr(' ' || first_name_key || 'x ', position_no, 2)"
            " from generate_series(1, length(first_name_key) + 2) as position_no order by 1) end"
            " where record_id = %s",
            (edited[0],),
        )
        cur.execute(
            f"update {IDENTITY}.int_customer_pairs set paired_at = now()"
            " where record_id_l = %s or record_id_r = %s",
            (edited[0], edited[0]),
        )
        cur.execute(
            f"delete from {IDENTITY}.int_customer_pairs where record_id_l = %s and record_id_r = %s", gone
        )
        cur.execute(
            f"update {IDENTITY}.int_customer_pairs set blocking_rules = blocking_rules || ',phone',"
            " paired_at = now() where record_id_l = %s and record_id_r = %s",
            refound,
        )
    try:
        compare()
        after = _comparison_versions(warehouse)
        rewritten = {pair for pair, xmin in after.items() if before.get(pair) != xmin}
        assert rewritten == {pair for pair in before if edited[0] in pair} | {refound}
        assert gone not in after and after.keys() == before.keys() - {gone}
        incremental = _contents(warehouse, "int_customer_pair_comparisons", "compared_by")
        compare(full_refresh=True)
        assert incremental == _contents(warehouse, "int_customer_pair_comparisons", "compared_by")

        # a pair gone with a record keyed again after the newest pair compared is found by its record, not
        # by comparing every comparison with every pair: here the comparisons do not outnumber the pairs
        # (one comparison was taken out), so only the pre-hook that looks up the re-keyed records deletes it
        compare()  # extends the rebuilt table: its newest pair is the newest compared
        dropped, missing = sorted(_comparison_versions(warehouse))[:2]
        with database.connect(warehouse) as conn, conn.cursor() as cur:
            cur.execute(
                f"update {IDENTITY}.int_customer_blocking_keys set keyed_at = now() where record_id = %s",
                (dropped[0],),
            )
            cur.execute(
                f"delete from {IDENTITY}.int_customer_pairs where record_id_l = %s and record_id_r = %s",
                dropped,
            )
            cur.execute(
                f"delete from {IDENTITY}.int_customer_pair_comparisons"
                " where record_id_l = %s and record_id_r = %s",
                missing,
            )
        kept = _comparison_versions(warehouse)
        compare()
        assert _comparison_versions(warehouse) == {p: x for p, x in kept.items() if p != dropped}
    finally:
        _run_models(
            settings,
            warehouse,
            "int_customer_records",
            "int_customer_pairs",
            "int_customer_pair_comparisons",
            full_refresh=True,
        )
