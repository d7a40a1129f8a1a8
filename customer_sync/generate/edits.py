"""Live changes as people make them: moves, new emails, fixed typos, deletions.

``plan_edits`` returns plain ``Edit`` values; the simulators apply them (advancing timestamps,
emitting events). ``changes`` uses each system's native field names: HubSpot property names, Stripe
customer fields (``address`` as a whole object), Zendesk user fields, Odoo ``res_partner`` columns.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from customer_sync.errors import UserError
from customer_sync.generate.countries import COUNTRIES, ERP_COUNTRY_IDS, lookup_country
from customer_sync.generate.data import GeneratedData
from customer_sync.generate.entities import EntityFactory, Phone, make_address
from customer_sync.generate.formats import country_text, format_phone
from customer_sync.generate.pools import build_pools

EDIT_KINDS = ("move", "email_change", "phone_change", "typo_fix", "delete")
_KIND_WEIGHTS = (0.35, 0.25, 0.15, 0.1, 0.15)
_PERSON_TABLES = (
    ("crm", "contacts", "crm_contacts"),
    ("billing", "customers", "billing_customers"),
    ("support", "users", "support_users"),
    ("erp", "res_partner", "erp_partners"),
)
_ERP_CODES = {v: k for k, v in ERP_COUNTRY_IDS.items()}


@dataclass(frozen=True)
class Edit:
    """One change to one source record, in the system's own field names."""

    system: str
    table: str
    record_id: str
    kind: str
    changes: dict[str, Any] = field(default_factory=dict)


def plan_edits(data: GeneratedData | Mapping[str, Sequence[dict[str, Any]]], n: int, seed: int) -> list[Edit]:
    """``n`` realistic edits of person records, deterministic for ``seed``.

    ``data`` is a ``GeneratedData`` or a mapping of attribute names (``crm_contacts``,
    ``billing_customers``, ``support_users``, ``erp_partners``) to the current native records.
    A typo fix needs the truth, so it is planned only from a ``GeneratedData`` with a name typo left.
    """
    if n < 0:
        raise UserError(f"the number of edits must be 0 or more, got {n}")
    rng = random.Random(f"edits:{seed}")
    candidates = _candidates(data)
    if n and not candidates:
        raise UserError("there are no person records to edit")
    factory = EntityFactory(rng, build_pools(data.seed if isinstance(data, GeneratedData) else seed))
    typo_fixes = _typo_fixes(data) if isinstance(data, GeneratedData) else {}
    picked = rng.sample(candidates, min(n, len(candidates)))
    edits: list[Edit] = []
    for system, table, record in picked:
        record_id = str(record["id"])
        kind = rng.choices(EDIT_KINDS, weights=_KIND_WEIGHTS)[0]
        if kind == "typo_fix" and (system, record_id) not in typo_fixes:
            kind = "move"
        if kind == "typo_fix":
            changes = typo_fixes[(system, record_id)]
        elif kind == "delete":
            changes = {}
        elif kind == "move":
            changes = _move(system, record, rng, factory)
        elif kind == "email_change":
            changes = _email_change(system, record, factory)
        else:
            changes = _phone_change(system, record, rng)
        edits.append(Edit(system, table, record_id, kind, changes))
    return edits


def _candidates(data: GeneratedData | Mapping[str, Sequence[dict[str, Any]]]) -> list[tuple[str, str, dict]]:
    out: list[tuple[str, str, dict]] = []
    for system, table, attribute in _PERSON_TABLES:
        records = getattr(data, attribute) if isinstance(data, GeneratedData) else data.get(attribute, ())
        for record in records:
            if system == "erp" and record.get("is_company"):
                continue
            out.append((system, table, record))
    return out


def _country_of(system: str, record: dict[str, Any]) -> str:
    if system == "crm":
        code = lookup_country(record["properties"].get("country"))
    elif system == "billing":
        code = lookup_country((record.get("address") or {}).get("country"))
    elif system == "erp":
        code = _ERP_CODES.get(record.get("country_id"))
    else:
        code = next((c for c, s in COUNTRIES.items() if s.time_zone == record.get("time_zone")), None)
    return code or "US"


def _move(system: str, record: dict[str, Any], rng: random.Random, factory: EntityFactory) -> dict[str, Any]:
    country = _country_of(system, record)
    address = make_address(rng, country, factory.pools[country])
    if system == "crm":
        return {
            "address": ", ".join(p for p in (address.line1, address.line2) if p),
            "city": address.city,
            "state": address.region,
            "zip": address.postcode,
            "country": country_text(country, rng, variant=False),
        }
    if system == "billing":
        return {
            "address": {
                "line1": address.line1,
                "line2": address.line2,
                "city": address.city,
                "state": address.region,
                "postal_code": address.postcode,
                "country": country,
            }
        }
    if system == "support":
        place = " ".join(p for p in (address.postcode, address.city) if p)
        parts = (address.line1, address.line2, place, COUNTRIES[country].name)
        return {"details": ", ".join(p for p in parts if p)}
    return {
        "street": address.line1,
        "street2": address.line2,
        "zip": address.postcode,
        "city": address.city,
        "state_name": address.region,
        "country_id": ERP_COUNTRY_IDS[country],
    }


def _names_of(system: str, record: dict[str, Any]) -> tuple[str, str]:
    if system == "crm":
        props = record["properties"]
        return props.get("firstname") or "customer", props.get("lastname") or ""
    first, _, last = (record.get("name") or "customer").partition(" ")
    return first, last


def _email_change(system: str, record: dict[str, Any], factory: EntityFactory) -> dict[str, Any]:
    first, last = _names_of(system, record)
    email = factory.new_email(first, last, _country_of(system, record))
    return {"email": email}


def _phone_change(system: str, record: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    country = _country_of(system, record)
    phone = Phone(country, COUNTRIES[country].phone.number(rng, "mobile"))
    if system == "support":
        return {"phone": phone.e164}
    if system == "crm":
        return {"mobilephone": format_phone(phone, "international", rng)}
    return {"phone": format_phone(phone, "international", rng)}


def _typo_fixes(data: GeneratedData) -> dict[tuple[str, str], dict[str, Any]]:
    """Records whose name carries a typo, with the change that restores the true name."""
    people = {p.entity_id: p for p in data.people}
    entity = data.entity_of()
    fixes: dict[tuple[str, str], dict[str, Any]] = {}
    for key, kinds in data.noise.items():
        if "name_typo" not in kinds:
            continue
        person = people.get(entity[key])
        if person is None:
            continue
        system, _, record_id = key.split(":", 2)
        if system == "crm":
            fixes[(system, record_id)] = {"firstname": person.first_name, "lastname": person.last_name}
        else:
            sep = "" if person.script == "cjk" and COUNTRIES[person.country].language == "zh" else " "
            name = (
                f"{person.last_name}{sep}{person.first_name}"
                if person.script == "cjk"
                else f"{person.first_name} {person.last_name}"
            )
            fixes[(system, record_id)] = {"name": name}
    return fixes
