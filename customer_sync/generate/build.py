"""``generate(persons, seed)``: true entities -> source copies -> noisy native records + truth."""

from __future__ import annotations

import logging
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from customer_sync.errors import UserError
from customer_sync.generate import systems as render
from customer_sync.generate.countries import pick
from customer_sync.generate.data import GeneratedData
from customer_sync.generate.entities import (
    EPOCH_END,
    EPOCH_START,
    HOUSEHOLD_RATE,
    PERSONS_PER_COMPANY,
    Company,
    EntityFactory,
    Person,
    random_time,
)
from customer_sync.generate.noise import RATES, View, email_variant, spoil_company, spoil_person
from customer_sync.generate.pools import build_pools

log = logging.getLogger(__name__)

PERSON_TABLES = {"crm": "contacts", "billing": "customers", "support": "users", "erp": "res_partner"}
COMPANY_TABLES = {
    "crm": "companies",
    "billing": "customers",
    "support": "organizations",
    "erp": "res_partner",
}
MAX_PERSONS = 5_000_000
_PHONE_STYLES = {
    "crm": (("e164", 0.2), ("international", 0.35), ("national", 0.4), ("international_00", 0.05)),
    "billing": (("e164", 0.6), ("international", 0.3), ("national", 0.1)),
    "support": (("e164", 1.0),),
    "erp": (("international", 0.5), ("national", 0.4), ("e164", 0.1)),
}
# id spaces: where each system's ids start (HubSpot and Zendesk ids are large and increase with time)
_ID_START = {
    ("crm", "contacts"): 1001,
    ("crm", "companies"): 5_000_001,
    ("support", "users"): 360_000_000_001,
    ("support", "organizations"): 370_000_000_001,
    ("erp", "res_partner"): 7,
}


@dataclass(slots=True)
class Copy:
    """One source record to be: which entity, where, when."""

    entity: Person | Company
    system: str
    table: str
    created_at: datetime
    updated_at: datetime
    duplicate: bool
    native_id: str | int = ""
    noise: list[str] = field(default_factory=list)


def generate(persons: int, seed: int) -> GeneratedData:
    """Deterministic messy customers: ``persons`` people plus their companies in four systems."""
    if not isinstance(persons, int) or persons < 1 or persons > MAX_PERSONS:
        raise UserError(f"persons must be an integer between 1 and {MAX_PERSONS:,}, got {persons!r}")
    started = time.perf_counter()
    rng = random.Random(seed)
    factory = EntityFactory(rng, build_pools(seed))
    companies = [factory.company(i) for i in range(1, max(3, persons // PERSONS_PER_COMPANY) + 1)]
    for company in companies:
        company.duplicate_in = company.systems[0] if rng.random() < 0.03 else None
    by_country: dict[str, list[Company]] = defaultdict(list)
    for company in companies:
        by_country[company.country].append(company)
    people: list[Person] = []
    while len(people) < persons:
        index = len(people) + 1
        if people and people[-1].household_id is None and rng.random() < HOUSEHOLD_RATE:
            people.append(factory.household_member(index, people[-1]))
        else:
            people.append(factory.person(index, by_country))
    copies = _copies(people, companies, rng)
    _assign_ids(copies, rng)
    data = _render(copies, people, companies, persons, seed, rng)
    log.info(
        "generated %d records for %d persons in %.1f s",
        len(data.truth),
        persons,
        time.perf_counter() - started,
    )
    return data


def _copies(people: list[Person], companies: list[Company], rng: random.Random) -> list[Copy]:
    copies: list[Copy] = []
    latest = EPOCH_END - timedelta(days=60)
    for entity in [*companies, *people]:
        tables = COMPANY_TABLES if isinstance(entity, Company) else PERSON_TABLES
        mine: list[Copy] = []
        placements = [(system, False) for system in entity.systems]
        if entity.duplicate_in:
            placements.append((entity.duplicate_in, True))
        for system, duplicate in placements:
            created = random_time(rng, EPOCH_START, latest)
            # Stripe keeps no modification time: a customer is as it was when created
            updated = created if system == "billing" else random_time(rng, created, EPOCH_END)
            mine.append(Copy(entity, system, tables[system], created, updated, duplicate))
        if isinstance(entity, Person) and entity.moved_at and len(mine) >= 2:
            _straddle_move(mine, entity.moved_at, rng)
        copies.extend(mine)
    return copies


def _straddle_move(mine: list[Copy], moved_at: datetime, rng: random.Random) -> None:
    """One copy last touched before the move (old address), one after it (new address, later timestamp)."""
    old, new = rng.sample(mine, 2)
    old.created_at = random_time(rng, EPOCH_START, moved_at - timedelta(days=60))
    old.updated_at = random_time(rng, old.created_at, moved_at - timedelta(days=1))
    if new.system == "billing":
        new.created_at = new.updated_at = random_time(rng, moved_at + timedelta(days=1), EPOCH_END)
    else:
        new.created_at = min(new.created_at, moved_at - timedelta(days=30))
        new.updated_at = random_time(rng, moved_at + timedelta(days=1), EPOCH_END)


def _assign_ids(copies: list[Copy], rng: random.Random) -> None:
    """Native ids in creation order, as each system hands them out."""
    spaces: dict[tuple[str, str], list[Copy]] = defaultdict(list)
    for copy in copies:
        spaces[(copy.system, copy.table)].append(copy)
    used_stripe: set[str] = set()
    for key in sorted(spaces):
        space = sorted(spaces[key], key=lambda c: c.created_at)
        if key[0] == "billing":
            for copy in space:
                copy.native_id = render.stripe_id(rng, used_stripe)
            continue
        next_id = _ID_START[key]
        for copy in space:
            copy.native_id = str(next_id) if key[0] == "crm" else next_id
            next_id += rng.randint(1, 3)


def _person_view(person: Person, copy: Copy, rng: random.Random) -> tuple[View, bool]:
    system = copy.system
    address, is_old = person.address_at(copy.updated_at)
    first, last, native = person.first_name, person.last_name, True
    noise: list[str] = []
    if person.script != "latin":
        rate = 0.7 if system == "billing" else RATES["script_variant"]
        if rng.random() < rate:
            first, last, native = person.first_latin, person.last_latin, False
            noise.append("script_variant")
    email: str | None = person.email
    phone, mobile = person.phone, None
    if copy.duplicate:
        if person.work_email:
            email = person.work_email
            noise.append("email_other")
        elif rng.random() < 0.5:
            email = None
            noise.append("email_missing")
        else:
            email = email_variant(person.email, rng)
            noise.append("email_variant")
    elif person.work_email and system in ("crm", "erp") and rng.random() < 0.15:
        email = person.work_email
        noise.append("email_other")
    if person.work_phone and system in ("crm", "erp") and rng.random() < 0.2:
        phone, mobile = person.work_phone, (person.phone if system == "crm" else None)
        noise.append("phone_extension")
    elif system == "crm" and rng.random() < 0.2:
        phone, mobile = None, person.phone
    company_name = None
    if system == "crm" and person.company:
        company_name = person.company.base_name if rng.random() < 0.25 else person.company.name
    view = View(
        first_name=first,
        last_name=last,
        full_name_order="eastern" if native and person.script == "cjk" else "western",
        email=email,
        phone=phone,
        mobile=mobile,
        phone_style=pick(rng, _PHONE_STYLES[system]),
        line1=address.line1,
        line2=address.line2,
        city=address.city,
        region=address.region,
        postcode=address.postcode,
        country=address.country,
        country_variant=False,
        language=address.language,
        birth_date=person.birth_date if system == "crm" else None,
        national_id=person.national_id if system == "erp" else None,
        company=person.company,
        company_name=company_name,
        noise=noise,
    )
    spoil_person(view, system, rng, native_script=native and person.script != "latin")
    if is_old and view.line1:
        view.tag("moved_old_address")
    return view, is_old


def _company_view(company: Company, copy: Copy, rng: random.Random) -> View:
    system = copy.system
    email = None
    if system == "billing":
        email = f"{rng.choice(('billing', 'accounts', 'finance', 'ap'))}@{company.domain}"
    elif system == "erp" and rng.random() < 0.6:
        email = f"info@{company.domain}"
    address = company.address
    view = View(
        first_name=None,
        last_name=None,
        full_name_order="western",
        email=email,
        phone=company.phone,
        mobile=None,
        phone_style=pick(rng, _PHONE_STYLES[system]),
        line1=address.line1,
        line2=address.line2,
        city=address.city,
        region=address.region,
        postcode=address.postcode,
        country=address.country,
        country_variant=False,
        language=address.language,
        birth_date=None,
        national_id=company.vat if system == "erp" else None,
        company=company,
        company_name=company.name,
    )
    spoil_company(view, company, rng)
    return view


def _render(
    copies: list[Copy],
    people: list[Person],
    companies: list[Company],
    persons: int,
    seed: int,
    rng: random.Random,
) -> GeneratedData:
    data = GeneratedData(persons=persons, seed=seed, people=people, companies=companies)
    data.erp_countries = render.erp_countries()
    home_ids: dict[
        tuple[str, str], str | int
    ] = {}  # (system, company entity id) -> native id of its first copy
    for copy in copies:
        if isinstance(copy.entity, Company) and not copy.duplicate:
            home_ids[(copy.system, copy.entity.entity_id)] = copy.native_id
    seen_emails: dict[str, set[str]] = {"crm": set(), "support": set()}
    seen_org_names: set[str] = set()
    for copy in sorted(copies, key=lambda c: (c.system, c.table, c.created_at)):
        entity = copy.entity
        if isinstance(entity, Company):
            view = _company_view(entity, copy, rng)
        else:
            view, _ = _person_view(entity, copy, rng)
        if copy.system in seen_emails:
            _keep_email_unique(view, entity, seen_emails[copy.system])
        if copy.system == "support" and isinstance(entity, Company):
            _keep_org_name_unique(view, seen_org_names)
        record = _native(copy, view, home_ids, rng)
        data.add(copy.system, copy.table, record, str(copy.native_id), entity.entity_id, view.noise)
    return data


def _keep_org_name_unique(view: View, seen: set[str]) -> None:
    """Zendesk refuses two organizations with the same name (case-insensitive), so a desk that has two
    companies of one name tells them apart the way an agent would: "Riehl GmbH 2"."""
    if not view.company_name:
        return
    name, number = view.company_name, 1
    while name.strip().lower() in seen:
        number += 1
        name = f"{view.company_name} {number}"
    seen.add(name.strip().lower())
    if number > 1:
        view.company_name = name
        view.tag("company_name_variant")


def _keep_email_unique(view: View, entity: Person | Company, seen: set[str]) -> None:
    """HubSpot and Zendesk refuse a second record with the same email: such a copy has none."""
    if not view.email:
        return
    key = view.email.strip().lower()
    if key not in seen:
        seen.add(key)
        return
    view.email = None
    view.tag("email_missing")
    if "email_variant" in view.noise:
        view.noise.remove("email_variant")
    if view.phone is None and view.mobile is None:
        view.phone = entity.phone
        if "phone_missing" in view.noise:
            view.noise.remove("phone_missing")


def _native(copy: Copy, view: View, home_ids: dict[tuple[str, str], str | int], rng: random.Random) -> dict:
    entity = copy.entity
    created, updated = copy.created_at, copy.updated_at
    is_company = isinstance(entity, Company)
    company = view.company
    if copy.system == "crm":
        if is_company:
            domain = entity.domain if rng.random() < 0.85 else None
            return render.crm_company(view, domain, str(copy.native_id), created, updated, rng)
        return render.crm_contact(view, str(copy.native_id), created, updated, rng)
    if copy.system == "billing":
        name = view.company_name if is_company else view.full_name
        return render.billing_customer(view, name, str(copy.native_id), created, rng)
    if copy.system == "support":
        if is_company:
            return render.support_organization(
                view, entity.domain, int(copy.native_id), created, updated, rng
            )
        org = home_ids.get(("support", company.entity_id)) if company else None
        return render.support_user(view, int(copy.native_id), org, created, updated, rng, rng.random() < 0.3)
    name = view.company_name if is_company else view.full_name
    parent = home_ids.get(("erp", company.entity_id)) if company and not is_company else None
    return render.erp_partner(view, name, int(copy.native_id), is_company, parent, created, updated, rng)
