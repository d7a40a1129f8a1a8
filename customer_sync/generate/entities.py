"""The true people and companies: who they are, where they live, which systems know them.

Nothing here is noisy. ``systems.py`` renders each entity into its source copies and ``noise.py``
spoils the copies.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from customer_sync.generate.addresses import Address, compose_line1, second_line
from customer_sync.generate.countries import (
    COUNTRIES,
    COUNTRY_CODES,
    COUNTRY_CUM_WEIGHTS,
    NATIONAL_IDS,
    company_tax_id,
    pick,
)
from customer_sync.generate.names import fold_accents
from customer_sync.generate.pools import CountryPools

SYSTEMS = ("crm", "billing", "support", "erp")
PERSON_SHARES = {"crm": 0.70, "billing": 0.50, "support": 0.40, "erp": 0.30}
COMPANY_SHARES = {"crm": 0.70, "billing": 0.20, "support": 0.40, "erp": 0.35}
# chance that an entity has a second copy inside one system, and which system it lands in
DUPLICATE_RATE = 0.04
DUPLICATE_WEIGHTS = {"crm": 4, "billing": 3, "support": 2, "erp": 1}
HOUSEHOLD_RATE = 0.05
EMPLOYED_RATE = 0.35
MOVED_RATE = 0.05
PERSONS_PER_COMPANY = 12

EPOCH_START = datetime(2019, 1, 1, tzinfo=UTC)
EPOCH_END = datetime(2025, 12, 31, tzinfo=UTC)
MOVES_FROM = datetime(2021, 1, 1, tzinfo=UTC)
MOVES_TO = datetime(2025, 6, 30, tzinfo=UTC)

_TLD = {
    "US": "com",
    "GB": "co.uk",
    "AU": "com.au",
    "DE": "de",
    "FR": "fr",
    "CA": "ca",
    "NL": "nl",
    "ES": "es",
    "IT": "it",
    "IE": "ie",
    "SE": "se",
    "JP": "co.jp",
    "GR": "gr",
    "RU": "ru",
    "CN": "cn",
}
_INDUSTRY = {
    "en": (
        "Consulting",
        "Logistics",
        "Systems",
        "Solutions",
        "Trading",
        "Engineering",
        "Foods",
        "Design",
        "Partners",
        "Holdings",
        "Media",
        "Labs",
        "Builders",
        "Analytics",
    ),
    "de": ("Logistik", "Beratung", "Technik", "Handel", "Bau", "Software", "Maschinenbau"),
    "fr": ("Conseil", "Transports", "Services", "Distribution", "Informatique"),
    "es": ("Consultores", "Logística", "Construcciones", "Servicios", "Distribuciones"),
    "it": ("Consulenze", "Logistica", "Costruzioni", "Servizi", "Impianti"),
    "nl": ("Advies", "Logistiek", "Techniek", "Handel", "Bouw"),
    "sv": ("Konsult", "Logistik", "Teknik", "Bygg"),
    "el": ("Τεχνική", "Εμπορική", "Συμβουλευτική"),
    "ru": ("Техно", "Строй", "Торг", "Логистик"),
    "ja": ("商事", "工業", "電機", "建設", "物産"),
    "zh": ("科技", "贸易", "实业", "物流"),
}


@dataclass(frozen=True, slots=True)
class Phone:
    """A phone number as country + national significant number (+ an extension for desk phones)."""

    country: str
    nsn: str
    extension: str | None = None

    @property
    def e164(self) -> str:
        return f"+{COUNTRIES[self.country].calling_code}{self.nsn}"


@dataclass(slots=True)
class Company:
    entity_id: str
    country: str
    base_name: str  # without legal form
    legal_form: str
    domain: str
    phone: Phone
    address: Address
    vat: str
    systems: tuple[str, ...] = ()
    duplicate_in: str | None = None

    @property
    def name(self) -> str:
        if self.country == "JP" and self.legal_form == "株式会社":
            return f"{self.base_name}{self.legal_form}"
        if self.country == "CN" and self.legal_form == "有限公司":
            return f"{self.base_name}{self.legal_form}"
        if self.country == "RU":
            return f"{self.legal_form} «{self.base_name}»"
        return f"{self.base_name} {self.legal_form}"


@dataclass(slots=True)
class Person:
    entity_id: str
    country: str
    gender: str
    first_name: str
    last_name: str
    first_latin: str
    last_latin: str
    birth_date: date
    email: str
    phone: Phone
    addresses: list[tuple[datetime, Address]]
    national_id: str
    moved_at: datetime | None = None
    company: Company | None = None
    work_email: str | None = None
    work_phone: Phone | None = None
    household_id: str | None = None
    systems: tuple[str, ...] = ()
    duplicate_in: str | None = None

    @property
    def script(self) -> str:
        return COUNTRIES[self.country].script

    def address_at(self, when: datetime) -> tuple[Address, bool]:
        """The address valid at ``when`` and whether it is an old one (the person moved since)."""
        current = self.addresses[0][1]
        for since, address in self.addresses:
            if since <= when:
                current = address
        return current, current is not self.addresses[-1][1]


@lru_cache(maxsize=65536)
def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", fold_accents(text).lower())


def random_time(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span_ms = max(0, int((end - start).total_seconds() * 1000))
    return start + timedelta(milliseconds=int(rng.random() * span_ms))


def make_address(rng: random.Random, country: str, pools: CountryPools) -> Address:
    spec = COUNTRIES[country]
    city, region, postcode = rng.choice(pools.places)
    line1 = compose_line1(rng, spec.street_style, spec.language, rng.choice(pools.streets))
    line2 = second_line(rng, spec.language) if rng.random() < 0.15 else None
    if spec.code == "JP":  # the chome/ban/gou already sit in line1
        line1 = rng.choice(pools.streets)
    return Address(line1, line2, city, region, postcode, country, spec.language)


def _choose_systems(rng: random.Random, shares: dict[str, float]) -> tuple[str, ...]:
    chosen = tuple(system for system in SYSTEMS if rng.random() < shares[system])
    if chosen:
        return chosen
    return (rng.choices(SYSTEMS, weights=[shares[s] for s in SYSTEMS])[0],)


def _duplicate_system(rng: random.Random, systems: tuple[str, ...]) -> str | None:
    if rng.random() >= DUPLICATE_RATE:
        return None
    return rng.choices(systems, weights=[DUPLICATE_WEIGHTS[s] for s in systems])[0]


class EntityFactory:
    """Makes people and companies from the pools, keeping emails and domains unique."""

    def __init__(self, rng: random.Random, pools: dict[str, CountryPools]) -> None:
        self.rng = rng
        self.pools = pools
        self.used_emails: set[str] = set()
        self.used_domains: set[str] = set()
        self.used_national_ids: set[str] = set()

    # ------------------------------------------------------------------ companies

    def company(self, index: int) -> Company:
        rng = self.rng
        country = rng.choices(COUNTRY_CODES, cum_weights=COUNTRY_CUM_WEIGHTS)[0]
        spec = COUNTRIES[country]
        pools = self.pools[country]
        native, latin = rng.choice(pools.last_male)
        industry = rng.choice(_INDUSTRY[spec.language])
        pattern = rng.random()
        if spec.script != "latin":
            base = f"{native}{industry}" if spec.script == "cjk" else f"{native} {industry}"
            domain_words = latin
        elif pattern < 0.35:
            base, domain_words = f"{native} {industry}", f"{latin}{industry}"
        elif pattern < 0.55:
            other_native, other_latin = rng.choice(pools.last_male)
            base, domain_words = f"{native} & {other_native}", f"{latin}{other_latin}"
        else:
            base, domain_words = native, latin
        domain = self._unique_domain(_slug(domain_words) or f"company{index}", _TLD[country])
        address = make_address(rng, country, pools)
        phone = Phone(country, spec.phone.number(rng, "landline"))
        return Company(
            entity_id=f"C{index:06d}",
            country=country,
            base_name=base,
            legal_form=rng.choice(spec.legal_forms),
            domain=domain,
            phone=phone,
            address=address,
            vat=company_tax_id(rng, country),
            systems=_choose_systems(rng, COMPANY_SHARES),
        )

    def _unique_domain(self, stem: str, tld: str) -> str:
        domain = f"{stem}.{tld}"
        counter = 1
        while domain in self.used_domains:
            counter += 1
            domain = f"{stem}{counter}.{tld}"
        self.used_domains.add(domain)
        return domain

    # ------------------------------------------------------------------ people

    def person(self, index: int, companies_by_country: dict[str, list[Company]]) -> Person:
        rng = self.rng
        country = rng.choices(COUNTRY_CODES, cum_weights=COUNTRY_CUM_WEIGHTS)[0]
        spec = COUNTRIES[country]
        pools = self.pools[country]
        gender = rng.choice("FM")
        first_native, first_latin = rng.choice(pools.first_female if gender == "F" else pools.first_male)
        last_native, last_latin = rng.choice(pools.last_female if gender == "F" else pools.last_male)
        birth = date(1940, 1, 1) + timedelta(days=rng.randint(0, 65 * 365))
        person = Person(
            entity_id=f"P{index:06d}",
            country=country,
            gender=gender,
            first_name=first_native,
            last_name=last_native,
            first_latin=first_latin,
            last_latin=last_latin,
            birth_date=birth,
            email=self.personal_email(first_latin, last_latin, birth, spec.email_providers),
            phone=Phone(country, spec.phone.number(rng, "mobile" if rng.random() < 0.85 else "landline")),
            addresses=[(EPOCH_START, make_address(rng, country, pools))],
            national_id=self._national_id(country),
            systems=_choose_systems(rng, PERSON_SHARES),
        )
        person.duplicate_in = _duplicate_system(rng, person.systems)
        if rng.random() < MOVED_RATE and len(person.systems) + (person.duplicate_in is not None) >= 2:
            person.moved_at = random_time(rng, MOVES_FROM, MOVES_TO)
            person.addresses.append((person.moved_at, make_address(rng, country, pools)))
        employers = companies_by_country.get(country)
        if employers and rng.random() < EMPLOYED_RATE:
            company = rng.choice(employers)
            person.company = company
            local = f"{_slug(first_latin)}.{_slug(last_latin)}"
            person.work_email = self._claim_email(local, company.domain)
            person.work_phone = Phone(country, company.phone.nsn, str(rng.randint(10, 4999)))
        return person

    def household_member(self, index: int, anchor: Person) -> Person:
        """A different person living with ``anchor``: same address, often the same phone or email."""
        rng = self.rng
        spec = COUNTRIES[anchor.country]
        pools = self.pools[anchor.country]
        gender = rng.choice("FM")
        first_native, first_latin = rng.choice(pools.first_female if gender == "F" else pools.first_male)
        while first_latin == anchor.first_latin:
            first_native, first_latin = rng.choice(pools.first_female if gender == "F" else pools.first_male)
        if rng.random() < 0.7:
            last_native, last_latin = anchor.last_name, anchor.last_latin
        else:
            last_native, last_latin = rng.choice(pools.last_female if gender == "F" else pools.last_male)
        birth = anchor.birth_date + timedelta(days=rng.randint(-4000, 4000))
        household_id = anchor.household_id or f"H{anchor.entity_id[1:]}"
        anchor.household_id = household_id
        shares_phone = rng.random() < 0.5
        shares_email = rng.random() < 0.35
        if shares_phone and anchor.phone.nsn.startswith(spec.phone.mobile_prefixes):
            anchor.phone = Phone(anchor.country, spec.phone.number(rng, "landline"))
        person = Person(
            entity_id=f"P{index:06d}",
            country=anchor.country,
            gender=gender,
            first_name=first_native,
            last_name=last_native,
            first_latin=first_latin,
            last_latin=last_latin,
            birth_date=birth,
            email=anchor.email
            if shares_email
            else self.personal_email(first_latin, last_latin, birth, spec.email_providers),
            phone=anchor.phone if shares_phone else Phone(anchor.country, spec.phone.number(rng, "mobile")),
            addresses=list(anchor.addresses),
            national_id=self._national_id(anchor.country),
            moved_at=anchor.moved_at,
            household_id=household_id,
            systems=_choose_systems(rng, PERSON_SHARES),
        )
        person.duplicate_in = _duplicate_system(rng, person.systems)
        return person

    def personal_email(
        self, first: str, last: str, birth: date, providers: tuple[tuple[str, float], ...]
    ) -> str:
        rng = self.rng
        f, l_ = _slug(first) or "user", _slug(last) or "mail"
        style = rng.random()
        if style < 0.35:
            local = f"{f}.{l_}"
        elif style < 0.5:
            local = f"{f}{l_}"
        elif style < 0.62:
            local = f"{f[0]}{l_}"
        elif style < 0.72:
            local = f"{f}_{l_}"
        elif style < 0.85:
            local = f"{f}.{l_}{birth.year % 100:02d}"
        elif style < 0.93:
            local = f"{f}{l_[0]}{rng.randint(1, 999)}"
        else:
            local = f"{l_}.{f}"
        domain = pick(rng, providers)
        return self._claim_email(local, domain)

    def new_email(self, first: str, last: str, country: str) -> str:
        """A further address for an existing person (used by live edits)."""
        spec = COUNTRIES[country]
        return self.personal_email(first, last, date(1990, 1, 1), spec.email_providers)

    def _claim_email(self, local: str, domain: str) -> str:
        email = f"{local}@{domain}"
        counter = 1
        while email in self.used_emails or _gmail_key(email) in self.used_emails:
            counter += 1
            email = f"{local}{counter}@{domain}"
        self.used_emails.add(email)
        self.used_emails.add(_gmail_key(email))
        return email

    def _national_id(self, country: str) -> str:
        make = NATIONAL_IDS[country]
        value = make(self.rng)
        while value in self.used_national_ids:
            value = make(self.rng)
        self.used_national_ids.add(value)
        return value


def _gmail_key(email: str) -> str:
    """Gmail ignores dots in the local part: two such addresses are the same mailbox."""
    local, _, domain = email.partition("@")
    if domain in ("gmail.com", "googlemail.com"):
        return f"{local.replace('.', '')}@gmail.com"
    return email
