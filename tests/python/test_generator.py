"""The generator: deterministic, realistic overlap and noise, native shapes, truth, CSV and edits."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from customer_sync.errors import UserError
from customer_sync.generate import NICKNAMES, NOISE_KINDS, GeneratedData, generate, plan_edits
from customer_sync.generate.countries import COUNTRIES, lookup_country
from customer_sync.generate.data import CSV_COLUMNS, record_key
from customer_sync.generate.names import fold_accents

PERSONS = 2000
SEED = 20240611

ISO_MS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ISO_S_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
E164 = re.compile(r"^\+[1-9]\d{7,14}$")


@pytest.fixture(scope="module")
def data() -> GeneratedData:
    return generate(PERSONS, SEED)


@pytest.fixture(scope="module")
def truth_by_key(data: GeneratedData) -> dict[str, str]:
    return data.entity_of()


def _key(system: str, table: str, record: dict) -> str:
    return record_key(system, table, str(record["id"]))


def test_same_seed_gives_identical_data_and_stats(data: GeneratedData) -> None:
    again = generate(PERSONS, SEED)
    assert again.fingerprint() == data.fingerprint()
    assert json.dumps(again.noise_stats(), sort_keys=True) == json.dumps(data.noise_stats(), sort_keys=True)
    assert generate(300, SEED + 1).fingerprint() != generate(300, SEED).fingerprint()


def test_bad_person_count_is_a_user_error() -> None:
    with pytest.raises(UserError, match="persons"):
        generate(0, 1)


def test_truth_covers_every_record_exactly_once(data: GeneratedData) -> None:
    keys = [_key(system, table, record) for system, table, record in data.records()]
    truth_keys = [
        record_key(t["source_system"], t["source_table"], t["source_record_id"]) for t in data.truth
    ]
    assert len(keys) == len(set(keys)), "native ids must be unique per system and table"
    assert Counter(truth_keys) == Counter(keys)
    assert set(data.noise) == set(keys)
    entities = {t["entity_id"] for t in data.truth}
    assert sum(e.startswith("P") for e in entities) == PERSONS
    assert all(re.fullmatch(r"[PC]\d{6}", e) for e in entities)


def test_truth_never_appears_in_native_records(data: GeneratedData) -> None:
    blob = json.dumps([r for _, _, r in data.records()], default=str)
    assert not re.search(r'"[PC]\d{6}"', blob)


def test_overlap_shares_match_the_brief(data: GeneratedData) -> None:
    stats = data.noise_stats()
    shares = stats["person_share_per_system"]
    for system, expected in {"crm": 0.70, "billing": 0.50, "support": 0.40, "erp": 0.30}.items():
        assert abs(shares[system] - expected) < 0.05, (system, shares[system])
    by_count = stats["persons_by_number_of_systems"]
    assert by_count[1] > 0.2 * PERSONS and by_count[4] > 0.02 * PERSONS
    records = stats["records_per_table"]
    for table in ("crm.companies", "support.organizations", "billing.customers"):
        assert records[table] > 0
    assert any(p["is_company"] for p in data.erp_partners)
    assert stats["true_pairs_within_system"]["crm"] > 0
    assert all(n > 0 for n in stats["true_pairs_across_systems"].values())


def test_every_noise_kind_occurs_and_noise_is_realistic(data: GeneratedData) -> None:
    stats = data.noise_stats()
    for kind in NOISE_KINDS:
        assert stats["noise_share"][kind] > 0, kind
    assert 0.2 <= stats["share_content_noisy"] <= 0.4
    assert 0.005 <= stats["share_heavily_noisy"] <= 0.05
    counted = Counter(kind for kinds in data.noise.values() for kind in kinds)
    total = len(data.truth)
    for kind, share in stats["noise_share"].items():
        assert share == round(counted[kind] / total, 4)


def test_pair_counts_agree_with_truth(data: GeneratedData) -> None:
    per_entity: dict[str, list[str]] = defaultdict(list)
    for row in data.truth:
        per_entity[row["entity_id"]].append(row["source_system"])
    pairs = sum(len(s) * (len(s) - 1) // 2 for s in per_entity.values())
    assert data.noise_stats()["true_pairs_total"] == pairs


def _person_fields(system: str, record: dict) -> dict:
    if system == "crm":
        p = record["properties"]
        return {
            "name": " ".join(x for x in (p["firstname"], p["lastname"]) if x),
            "first": p["firstname"],
            "email": p["email"],
            "phone": p["phone"] or p["mobilephone"],
        }
    return {
        "name": record["name"],
        "first": (record["name"] or "").split(" ")[0],
        "email": record["email"],
        "phone": record["phone"],
    }


def test_noise_tags_agree_with_the_records(data: GeneratedData, truth_by_key: dict[str, str]) -> None:
    people = {p.entity_id: p for p in data.people}
    checked = Counter()
    for system, table, record in data.records():
        key = _key(system, table, record)
        kinds = data.noise[key]
        person = people.get(truth_by_key[key])
        if person is None:
            continue
        fields = _person_fields(system, record)
        assert fields["name"], key
        assert fields["email"] or fields["phone"], f"{key} has neither email nor phone"
        if "email_missing" in kinds:
            assert fields["email"] is None
            checked["email_missing"] += 1
        if "phone_missing" in kinds:
            assert fields["phone"] is None
            checked["phone_missing"] += 1
        if "nickname" in kinds and "name_swapped" not in kinds and "name_case_whitespace" not in kinds:
            first = fold_accents(fields["first"].split(" ")[0]).lower()
            assert first in NICKNAMES or "name_typo" in kinds, key
            checked["nickname"] += 1
        if not {"email_missing", "email_variant", "email_other"} & set(kinds):
            assert fields["email"] == person.email, key
            checked["email_clean"] += 1
    assert min(checked.values()) > 5, checked


def test_moved_people_show_the_new_address_in_the_newest_copy(data: GeneratedData) -> None:
    moved = {p.entity_id: p for p in data.people if p.moved_at and len(p.addresses) == 2}
    assert moved
    # every copy's last modification time and whether it is tagged as showing the old address
    updated: dict[str, list[tuple[datetime, bool, str]]] = defaultdict(list)
    keyed = data.entity_of()
    for system, table, record in data.records():
        entity = keyed[_key(system, table, record)]
        if entity not in moved:
            continue
        when = _updated_at(system, record)
        updated[entity].append((when, "moved_old_address" in data.noise[_key(system, table, record)], system))
    straddling = 0
    for entity, copies in updated.items():
        person = moved[entity]
        old = [c for c in copies if c[1]]
        for when, _, _ in old:
            assert when < person.moved_at.replace(tzinfo=None)
        newest = max(copies)
        assert not newest[1], f"{entity}: the newest copy must carry the new address"
        straddling += bool(old)
    assert straddling > 0.5 * len(updated)


def _updated_at(system: str, record: dict) -> datetime:
    if system == "crm":
        return datetime.strptime(record["updatedAt"], "%Y-%m-%dT%H:%M:%S.%fZ")
    if system == "billing":
        return datetime.fromtimestamp(record["created"], UTC).replace(tzinfo=None)
    if system == "support":
        return datetime.strptime(record["updated_at"], "%Y-%m-%dT%H:%M:%SZ")
    return record["write_date"]


def test_households_share_contact_details_but_are_different_people(data: GeneratedData) -> None:
    by_email: dict[str, set[str]] = defaultdict(set)
    for person in data.people:
        by_email[person.email].add(person.entity_id)
    shared = [ids for ids in by_email.values() if len(ids) > 1]
    assert shared, "some households share one email"
    households = Counter(p.household_id for p in data.people if p.household_id)
    assert households and max(households.values()) >= 2


def test_hubspot_shapes(data: GeneratedData) -> None:
    emails = Counter()
    for record in data.crm_contacts + data.crm_companies:
        assert record["id"].isdigit() and record["properties"]["hs_object_id"] == record["id"]
        assert ISO_MS_Z.match(record["createdAt"]) and ISO_MS_Z.match(record["updatedAt"])
        assert record["archived"] is False
        assert all(v is None or isinstance(v, str) for v in record["properties"].values())
    for record in data.crm_contacts:
        props = record["properties"]
        assert set(props) >= {
            "firstname",
            "lastname",
            "email",
            "date_of_birth",
            "lastmodifieddate",
            "createdate",
        }
        assert props["lastmodifieddate"] == record["updatedAt"]
        if props["date_of_birth"]:
            datetime.strptime(props["date_of_birth"], "%Y-%m-%d")
        if props["email"]:
            emails[props["email"].lower()] += 1
    assert max(emails.values()) == 1, "HubSpot refuses a second contact with the same email"
    assert all("hs_lastmodifieddate" in c["properties"] for c in data.crm_companies)


def test_stripe_shapes(data: GeneratedData) -> None:
    for record in data.billing_customers:
        assert re.fullmatch(r"cus_[A-Za-z0-9]{14}", record["id"])
        assert record["object"] == "customer" and isinstance(record["created"], int)
        assert record["metadata"] == {} and record["livemode"] is False
        if record["address"]:
            assert record["address"]["country"] in COUNTRIES
            assert set(record["address"]) == {"line1", "line2", "city", "state", "postal_code", "country"}


def test_zendesk_shapes(data: GeneratedData) -> None:
    org_ids = {o["id"] for o in data.support_organizations}
    emails = Counter()
    for record in data.support_users:
        assert isinstance(record["id"], int) and record["role"] == "end-user"
        assert ISO_S_Z.match(record["created_at"]) and ISO_S_Z.match(record["updated_at"])
        assert record["phone"] is None or E164.match(record["phone"])
        assert record["organization_id"] is None or record["organization_id"] in org_ids
        if record["email"]:
            emails[record["email"].lower()] += 1
    assert max(emails.values()) == 1
    assert any(r["organization_id"] for r in data.support_users)
    assert all(isinstance(o["domain_names"], list) for o in data.support_organizations)


def test_zendesk_organization_names_are_unique_as_zendesk_requires() -> None:
    # 20k persons: enough companies that some share a name (5 clashes in 698 organizations, seed 42)
    organizations = generate(20_000, 42).support_organizations
    names = Counter((o["name"] or "").strip().lower() for o in organizations)
    assert max(names.values()) == 1
    assert any(name.endswith(" 2") for name in names)  # a clash was told apart, not dropped


def test_odoo_shapes(data: GeneratedData) -> None:
    country_ids = {c["id"] for c in data.erp_countries}
    companies = {p["id"] for p in data.erp_partners if p["is_company"]}
    for record in data.erp_partners:
        assert isinstance(record["id"], int)
        for column in ("create_date", "write_date"):
            assert isinstance(record[column], datetime) and record[column].tzinfo is None
        assert record["create_date"] <= record["write_date"]
        assert record["country_id"] is None or record["country_id"] in country_ids
        assert record["parent_id"] is None or record["parent_id"] in companies
    assert any(p["parent_id"] for p in data.erp_partners)
    assert any(p["vat"] for p in data.erp_partners if not p["is_company"])
    assert {c["code"] for c in data.erp_countries} == set(COUNTRIES)


def test_countries_scripts_and_accents(data: GeneratedData) -> None:
    countries = Counter(p.country for p in data.people)
    assert {"US", "GB", "AU", "DE", "FR", "CA", "NL", "ES", "IT"} <= set(countries)
    names = [p.first_name + p.last_name for p in data.people]
    assert any(re.search(r"[\u0370-\u03ff]", n) for n in names), "Greek"
    assert any(re.search(r"[\u0400-\u04ff]", n) for n in names), "Cyrillic"
    assert any(re.search(r"[\u4e00-\u9fff]", n) for n in names), "CJK"
    assert any(fold_accents(n) != n and n.isascii() is False for n in names if n.isalpha())
    crm_countries = {r["properties"]["country"] for r in data.crm_contacts if r["properties"]["country"]}
    assert all(lookup_country(c) for c in crm_countries), "every spelling maps back to a code"
    assert len(crm_countries) > len({lookup_country(c) for c in crm_countries})


def test_phone_numbers_fit_the_numbering_plan(data: GeneratedData) -> None:
    for person in data.people:
        plan = COUNTRIES[person.country].phone
        nsn = person.phone.nsn
        if nsn.startswith(plan.mobile_prefixes):
            assert len(nsn) == plan.mobile_length, person
        else:
            assert nsn.startswith(plan.landline_prefixes) and len(nsn) == plan.landline_length, person


def test_csv_and_mapping_round_trip(data: GeneratedData, tmp_path: Path) -> None:
    csv_path = data.to_csv(tmp_path / "people.csv")
    mapping_path = data.write_mapping(tmp_path / "people.yml")
    with csv_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == len(data.truth)
    truth = data.entity_of()
    assert all(truth[row["record_id"]] == row["entity_id"] for row in rows)
    assert any(row["first_name"] and row["source_system"] == "crm" for row in rows)
    assert any(row["national_id"] for row in rows)
    mapping = yaml.safe_load(mapping_path.read_text(encoding="utf-8"))
    assert mapping["id"] == "record_id"
    for spec in mapping["fields"].values():
        column = spec if isinstance(spec, str) else spec["column"]
        assert column in CSV_COLUMNS and column != "entity_id"
    file_source = pytest.importorskip("pipelines.file")
    parsed = file_source.load_mapping(mapping_path)
    assert parsed.id_column == "record_id"
    truth_path = data.write_truth(tmp_path / "truth.csv")
    assert len(truth_path.read_text(encoding="utf-8").splitlines()) == len(data.truth) + 1


def test_plan_edits_is_deterministic_and_realistic(data: GeneratedData) -> None:
    edits = plan_edits(data, 60, seed=5)
    assert edits == plan_edits(data, 60, seed=5)
    assert len(edits) == 60
    kinds = Counter(e.kind for e in edits)
    assert {"move", "email_change", "delete"} <= set(kinds)
    ids = {(s, t): {str(r["id"]) for r in getattr(data, a)} for (s, t), a in _ATTRS.items()}
    for edit in edits:
        assert edit.record_id in ids[(edit.system, edit.table)]
        if edit.kind == "delete":
            assert edit.changes == {}
        elif edit.kind == "move" and edit.system == "erp":
            assert edit.changes["street"] and edit.changes["country_id"]
        elif edit.kind == "move" and edit.system == "billing":
            assert edit.changes["address"]["country"] in COUNTRIES
        elif edit.kind == "email_change":
            assert "@" in edit.changes["email"]


def test_typo_fix_restores_the_true_name(data: GeneratedData) -> None:
    fixes = [e for e in plan_edits(data, len(data.truth), seed=1) if e.kind == "typo_fix"]
    assert fixes
    people = {p.entity_id: p for p in data.people}
    truth = data.entity_of()
    for edit in fixes:
        person = people[truth[record_key(edit.system, edit.table, edit.record_id)]]
        restored = edit.changes.get("firstname") or edit.changes["name"]
        assert person.first_name in restored


def test_plan_edits_from_plain_records(data: GeneratedData) -> None:
    current = {"crm_contacts": data.crm_contacts[:20], "support_users": data.support_users[:20]}
    edits = plan_edits(current, 10, seed=3)
    assert len(edits) == 10 and {e.system for e in edits} <= {"crm", "support"}
    assert all(e.kind != "typo_fix" for e in edits)


_ATTRS = {
    ("crm", "contacts"): "crm_contacts",
    ("billing", "customers"): "billing_customers",
    ("support", "users"): "support_users",
    ("erp", "res_partner"): "erp_partners",
}
