"""``GeneratedData``: the native records of each system, the truth, and what was done to them."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from customer_sync.generate.stats import compute_noise_stats, format_noise_stats

# attribute name of each (system, table); ERP companies and people share res_partner
ATTRIBUTES: dict[tuple[str, str], str] = {
    ("crm", "contacts"): "crm_contacts",
    ("crm", "companies"): "crm_companies",
    ("billing", "customers"): "billing_customers",
    ("support", "users"): "support_users",
    ("support", "organizations"): "support_organizations",
    ("erp", "res_partner"): "erp_partners",
}

CSV_COLUMNS = (
    "record_id",
    "source_system",
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "company_name",
    "address_line1",
    "address_line2",
    "city",
    "postcode",
    "region",
    "country",
    "birth_date",
    "national_id",
    "entity_id",
)
MAPPED_FIELDS = CSV_COLUMNS[2:-1]
TRUTH_COLUMNS = ("source_system", "source_table", "source_record_id", "entity_id")


def record_key(system: str, table: str, record_id: str) -> str:
    """The canonical record id ``<source_system>:<source_table>:<source_record_id>``."""
    return f"{system}:{table}:{record_id}"


@dataclass
class GeneratedData:
    """Everything ``generate`` made. Only the native lists go to the simulators; truth never does."""

    persons: int
    seed: int
    crm_contacts: list[dict[str, Any]] = field(default_factory=list)
    crm_companies: list[dict[str, Any]] = field(default_factory=list)
    billing_customers: list[dict[str, Any]] = field(default_factory=list)
    support_users: list[dict[str, Any]] = field(default_factory=list)
    support_organizations: list[dict[str, Any]] = field(default_factory=list)
    erp_partners: list[dict[str, Any]] = field(default_factory=list)
    erp_countries: list[dict[str, Any]] = field(default_factory=list)
    truth: list[dict[str, str]] = field(default_factory=list)
    # record key -> kinds of noise in that copy (see noise.NOISE_KINDS)
    noise: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # the true entities (``entities.Person`` / ``entities.Company``), for live edits and tests
    people: list[Any] = field(default_factory=list, repr=False)
    companies: list[Any] = field(default_factory=list, repr=False)

    def add(
        self,
        system: str,
        table: str,
        record: dict[str, Any],
        record_id: str,
        entity_id: str,
        noise: list[str],
    ) -> None:
        getattr(self, ATTRIBUTES[(system, table)]).append(record)
        self.truth.append(
            {
                "source_system": system,
                "source_table": table,
                "source_record_id": record_id,
                "entity_id": entity_id,
            }
        )
        self.noise[record_key(system, table, record_id)] = tuple(sorted(noise))

    # ------------------------------------------------------------------ views of the data

    def records(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Every native record as ``(system, table, record)``."""
        for (system, table), attribute in ATTRIBUTES.items():
            for record in getattr(self, attribute):
                yield system, table, record

    def entity_of(self) -> dict[str, str]:
        """Record key -> entity id."""
        return {
            record_key(t["source_system"], t["source_table"], t["source_record_id"]): t["entity_id"]
            for t in self.truth
        }

    def fingerprint(self) -> str:
        """SHA-256 of every native record and the truth: equal for equal seeds."""
        digest = hashlib.sha256()
        for system, table, record in self.records():
            digest.update(f"{system}|{table}|".encode())
            digest.update(json.dumps(record, sort_keys=True, default=str, ensure_ascii=False).encode())
        digest.update(json.dumps(self.truth, sort_keys=True).encode())
        return digest.hexdigest()

    def noise_stats(self) -> dict[str, Any]:
        """Measured noise: shares per kind, duplicate pairs within and across systems, counts."""
        return compute_noise_stats(self)

    def format_noise_stats(self) -> str:
        return format_noise_stats(self.noise_stats())

    def canonical_rows(self) -> Iterator[dict[str, str | None]]:
        """One flat row per record in the canonical field names, values as messy as the source copy."""
        entity = self.entity_of()
        org_names = {org["id"]: org["name"] for org in self.support_organizations}
        partner_names = {p["id"]: p["name"] for p in self.erp_partners if p["is_company"]}
        country_names = {c["id"]: c["name"] for c in self.erp_countries}
        for system, table, record in self.records():
            row = _canonical(system, table, record, org_names, partner_names, country_names)
            row["entity_id"] = entity[row["record_id"]]
            yield row

    # ------------------------------------------------------------------ files

    def to_csv(self, path: str | Path) -> Path:
        """Write every record as one flat CSV with the truth in ``entity_id``."""
        path = Path(path)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            for row in self.canonical_rows():
                writer.writerow(row)
        return path

    def write_truth(self, path: str | Path) -> Path:
        path = Path(path)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=TRUTH_COLUMNS)
            writer.writeheader()
            writer.writerows(self.truth)
        return path

    def write_mapping(self, path: str | Path) -> Path:
        """The mapping YAML that lands ``to_csv``'s file with ``customer-sync evaluate``."""
        fields: dict[str, Any] = {name: name for name in MAPPED_FIELDS}
        fields["birth_date"] = {"column": "birth_date", "format": "%Y-%m-%d"}
        path = Path(path)
        path.write_text(
            yaml.safe_dump({"id": "record_id", "fields": fields}, sort_keys=False), encoding="utf-8"
        )
        return path


def _canonical(
    system: str,
    table: str,
    record: dict[str, Any],
    org_names: dict[int, str],
    partner_names: dict[int, str],
    country_names: dict[int, str],
) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(CSV_COLUMNS)
    row["source_system"] = system
    if system == "crm":
        props = record["properties"]
        row["record_id"] = record_key(system, table, record["id"])
        if table == "contacts":
            row.update(
                first_name=props["firstname"],
                last_name=props["lastname"],
                email=props["email"],
                phone=props["phone"] or props["mobilephone"],
                company_name=props["company"],
                birth_date=props["date_of_birth"],
            )
        else:
            row.update(company_name=props["name"], phone=props["phone"])
        row.update(
            address_line1=props["address"],
            city=props["city"],
            postcode=props["zip"],
            region=props["state"],
            country=props["country"],
        )
    elif system == "billing":
        address = record["address"] or {}
        row.update(
            record_id=record_key(system, table, record["id"]),
            full_name=record["name"],
            email=record["email"],
            phone=record["phone"],
            address_line1=address.get("line1"),
            address_line2=address.get("line2"),
            city=address.get("city"),
            postcode=address.get("postal_code"),
            region=address.get("state"),
            country=address.get("country"),
        )
    elif system == "support":
        row.update(record_id=record_key(system, table, str(record["id"])), address_line1=record["details"])
        if table == "users":
            row.update(
                full_name=record["name"],
                email=record["email"],
                phone=record["phone"],
                company_name=org_names.get(record["organization_id"]),
            )
        else:
            row["company_name"] = record["name"]
    else:
        name_field = "company_name" if record["is_company"] else "full_name"
        row.update(
            {
                "record_id": record_key(system, table, str(record["id"])),
                name_field: record["name"],
                "email": record["email"],
                "phone": record["phone"],
                "address_line1": record["street"],
                "address_line2": record["street2"],
                "city": record["city"],
                "postcode": record["zip"],
                "region": record["state_name"],
                "country": country_names.get(record["country_id"]),
                "national_id": record["vat"],
            }
        )
        if not record["is_company"] and record["parent_id"]:
            row["company_name"] = partner_names.get(record["parent_id"])
    return row
