"""Identity resolution, matching part: the models from int_customer_records to int_customer_matches,
run on a small file source with known truth (tests/python/fixtures/matching.py)."""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations

import pytest

from customer_sync import db as database
from tests.python.fixtures.matching import SCHEMA_PREFIX, MatchingData

IDENTITY = SCHEMA_PREFIX + "identity"


def _rows(db: database.Database, sql: str) -> list[tuple]:
    with database.connect(db) as conn, conn.cursor() as cur:
        cur.execute(sql)
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
        f" (select count(*) from {IDENTITY}.int_customer_blocking_keys where is_oversized_block)",
    )
    assert records == len(matched.truth)
    assert pairs <= 10 * records
    assert oversized == 0


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
