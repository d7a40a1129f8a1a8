"""Writing a spoiled copy in each system's native API shape (contracts section 1).

Each renderer takes the copy's ``View``, its timestamps, its native id and the ids of related
records in the same system (a contact's organization, a partner's parent company) and returns the
record exactly as the system's API (or, for the ERP, its SQL table) holds it.
"""

from __future__ import annotations

import random
import string
from datetime import datetime
from typing import Any

from customer_sync.generate.countries import COUNTRIES, ERP_COUNTRY_IDS
from customer_sync.generate.formats import (
    country_text,
    format_phone,
    hubspot_time,
    odoo_time,
    unix_seconds,
    zendesk_time,
)
from customer_sync.generate.noise import View

_ALNUM = string.ascii_letters + string.digits


def stripe_id(rng: random.Random, used: set[str]) -> str:
    while True:
        value = "cus_" + "".join(rng.choice(_ALNUM) for _ in range(14))
        if value not in used:
            used.add(value)
            return value


def invoice_prefix(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(8))


def _phone_text(view: View, rng: random.Random) -> str | None:
    return format_phone(view.phone, view.phone_style, rng) if view.phone else None


def _country_free_text(view: View, rng: random.Random) -> str | None:
    if not view.country:
        return None
    text = country_text(view.country, rng, view.country_variant)
    if view.country_variant and text != COUNTRIES[view.country].name:
        view.tag("country_variant")
    return text


def _one_line_address(view: View) -> str | None:
    return ", ".join(p for p in (view.line1, view.line2) if p) or None


def crm_contact(
    view: View, record_id: str, created: datetime, updated: datetime, rng: random.Random
) -> dict[str, Any]:
    """HubSpot SimplePublicObject for a contact; every property a string or None."""
    mobile = (
        format_phone(view.mobile, "international" if rng.random() < 0.5 else "national", rng)
        if view.mobile
        else None
    )
    properties: dict[str, str | None] = {
        "firstname": view.first_name,
        "lastname": view.last_name,
        "email": view.email,
        "phone": _phone_text(view, rng),
        "mobilephone": mobile,
        "company": view.company_name,
        "address": _one_line_address(view),
        "city": view.city,
        "state": view.region,
        "zip": view.postcode,
        "country": _country_free_text(view, rng) if view.line1 or view.city else None,
        "date_of_birth": view.birth_date.isoformat() if view.birth_date else None,
        "mdm_golden_id": None,
        "createdate": hubspot_time(created),
        "lastmodifieddate": hubspot_time(updated),
        "hs_object_id": record_id,
    }
    return {
        "id": record_id,
        "properties": properties,
        "createdAt": hubspot_time(created),
        "updatedAt": hubspot_time(updated),
        "archived": False,
    }


def crm_company(
    view: View, domain: str | None, record_id: str, created: datetime, updated: datetime, rng: random.Random
) -> dict[str, Any]:
    properties: dict[str, str | None] = {
        "name": view.company_name,
        "domain": domain,
        "phone": _phone_text(view, rng),
        "address": _one_line_address(view),
        "city": view.city,
        "state": view.region,
        "zip": view.postcode,
        "country": _country_free_text(view, rng) if view.line1 or view.city else None,
        "mdm_golden_id": None,
        "createdate": hubspot_time(created),
        "hs_lastmodifieddate": hubspot_time(updated),
        "hs_object_id": record_id,
    }
    return {
        "id": record_id,
        "properties": properties,
        "createdAt": hubspot_time(created),
        "updatedAt": hubspot_time(updated),
        "archived": False,
    }


def billing_customer(
    view: View, name: str | None, record_id: str, created: datetime, rng: random.Random
) -> dict[str, Any]:
    """Stripe customer object; the address country is always an ISO alpha-2 code (Stripe validates it)."""
    address = None
    if view.line1:
        address = {
            "line1": view.line1,
            "line2": view.line2,
            "city": view.city,
            "state": view.region,
            "postal_code": view.postcode,
            "country": view.country,
        }
    return {
        "id": record_id,
        "object": "customer",
        "name": name,
        "email": view.email,
        "phone": _phone_text(view, rng),
        "address": address,
        "created": unix_seconds(created),
        "metadata": {},
        "balance": 0,
        "currency": None,
        "description": None,
        "livemode": False,
        "delinquent": False,
        "tax_exempt": "none",
        "preferred_locales": [],
        "invoice_prefix": invoice_prefix(rng),
        "shipping": None,
    }


def _details(view: View, rng: random.Random) -> str | None:
    """Zendesk keeps a postal address, when anyone bothers, as free text in ``details``."""
    if not view.line1:
        return None
    place = " ".join(p for p in (view.postcode, view.city) if p)
    if view.country in ("US", "CA", "AU"):
        place = " ".join(p for p in (view.city, view.region, view.postcode) if p)
    parts = [view.line1, view.line2, place, _country_free_text(view, rng)]
    return ", ".join(p for p in parts if p)


def support_user(
    view: View,
    record_id: int,
    organization_id: int | None,
    created: datetime,
    updated: datetime,
    rng: random.Random,
    with_details: bool,
) -> dict[str, Any]:
    """Zendesk end user; the phone is stored in E.164 as Zendesk normalises it."""
    spec = COUNTRIES[view.country or "US"]
    return {
        "id": record_id,
        "name": view.full_name,
        "email": view.email,
        "phone": view.phone.e164 if view.phone else None,
        "external_id": None,
        "organization_id": organization_id,
        "role": "end-user",
        "active": True,
        "created_at": zendesk_time(created),
        "updated_at": zendesk_time(updated),
        "time_zone": spec.time_zone,
        "locale": spec.zendesk_locale,
        "details": _details(view, rng) if with_details else None,
        "notes": None,
        "user_fields": {},
    }


def support_organization(
    view: View, domain: str | None, record_id: int, created: datetime, updated: datetime, rng: random.Random
) -> dict[str, Any]:
    return {
        "id": record_id,
        "name": view.company_name,
        "external_id": None,
        "domain_names": [domain] if domain else [],
        "details": _details(view, rng),
        "notes": None,
        "created_at": zendesk_time(created),
        "updated_at": zendesk_time(updated),
        "organization_fields": {},
    }


def erp_partner(
    view: View,
    name: str | None,
    record_id: int,
    is_company: bool,
    parent_id: int | None,
    created: datetime,
    updated: datetime,
    rng: random.Random,
) -> dict[str, Any]:
    """Odoo res.partner as its SQL row: naive UTC datetimes, country as a res_country id."""
    country_id = ERP_COUNTRY_IDS[view.country] if view.country and view.line1 else None
    return {
        "id": record_id,
        "name": name,
        "ref": None,
        "vat": view.national_id,
        "email": view.email,
        "phone": _phone_text(view, rng),
        "street": view.line1,
        "street2": view.line2,
        "zip": view.postcode,
        "city": view.city,
        "state_name": view.region,
        "country_id": country_id,
        "is_company": is_company,
        "parent_id": parent_id,
        "type": "contact",
        "active": True,
        "create_date": odoo_time(created),
        "write_date": odoo_time(updated),
    }


def erp_countries() -> list[dict[str, Any]]:
    return [
        {"id": ERP_COUNTRY_IDS[code], "code": code, "name": spec.name}
        for code, spec in sorted(COUNTRIES.items(), key=lambda item: ERP_COUNTRY_IDS[item[0]])
    ]
