"""Per-country pools of names, streets and places, drawn once from a seeded Faker.

Faker is slow per call, so each pool is filled with a few hundred values up front; the generator then
draws from the pools with its own ``random.Random``. Pools depend only on the seed (and the Faker
version), so the same seed gives the same data.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from functools import lru_cache

from faker import Faker

from customer_sync.generate.addresses import street_name
from customer_sync.generate.countries import COUNTRIES, CountrySpec
from customer_sync.generate.names import (
    CHINESE_FAMILY_NAMES,
    CHINESE_GIVEN_NAMES_FEMALE,
    CHINESE_GIVEN_NAMES_MALE,
    romanize,
)

log = logging.getLogger(__name__)

NAME_DRAWS = 600
PLACE_DRAWS = 150
STREET_DRAWS = 300

# (native spelling, latin spelling)
NamePair = tuple[str, str]

_REGION_METHOD = {
    "US": "state_abbr",
    "GB": "county",
    "AU": "state_abbr",
    "DE": "state",
    "FR": "region",
    "CA": "province_abbr",
    "NL": "province",
    "ES": "autonomous_community",
    "IT": "state_abbr",
    "IE": "county",
    "SE": "state",
    "JP": "prefecture",
    "GR": "region",
    "RU": "region",
    "CN": "province",
}


@dataclass(frozen=True)
class CountryPools:
    """Values to draw from for one country."""

    first_male: tuple[NamePair, ...]
    first_female: tuple[NamePair, ...]
    last_male: tuple[NamePair, ...]
    last_female: tuple[NamePair, ...]
    streets: tuple[str, ...]
    places: tuple[tuple[str, str | None, str], ...]  # (city, region, postcode)
    company_words: tuple[str, ...]


def _unique(values: list) -> tuple:
    return tuple(dict.fromkeys(values))


def _latin_pairs(values: list[str]) -> tuple[NamePair, ...]:
    return _unique([(value, romanize(value)) for value in values])


def _names(fake: Faker, spec: CountrySpec) -> tuple[tuple[NamePair, ...], ...]:
    if spec.code == "JP":
        male = _unique([(k, r) for k, _, r in (fake.first_name_male_pair() for _ in range(NAME_DRAWS))])
        female = _unique([(k, r) for k, _, r in (fake.first_name_female_pair() for _ in range(NAME_DRAWS))])
        last = _unique([(k, r) for k, _, r in (fake.last_name_pair() for _ in range(NAME_DRAWS))])
        return male, female, last, last
    if spec.code == "CN":
        return (
            CHINESE_GIVEN_NAMES_MALE,
            CHINESE_GIVEN_NAMES_FEMALE,
            CHINESE_FAMILY_NAMES,
            CHINESE_FAMILY_NAMES,
        )
    male = _latin_pairs([fake.first_name_male() for _ in range(NAME_DRAWS)])
    female = _latin_pairs([fake.first_name_female() for _ in range(NAME_DRAWS)])
    if spec.code in ("RU", "GR"):  # family names take the gender's form
        last_male = _latin_pairs([fake.last_name_male() for _ in range(NAME_DRAWS)])
        last_female = _latin_pairs([fake.last_name_female() for _ in range(NAME_DRAWS)])
        return male, female, last_male, last_female
    last = _latin_pairs([fake.last_name() for _ in range(NAME_DRAWS)])
    return male, female, last, last


def _places(fake: Faker, spec: CountrySpec) -> tuple[tuple[str, str | None, str], ...]:
    places: list[tuple[str, str | None, str]] = []
    region_of = getattr(fake, _REGION_METHOD[spec.code])
    for _ in range(PLACE_DRAWS):
        if (
            spec.code == "US"
        ):  # the fifty states: Faker's territories and associated states are rare addresses
            region = region_of(include_territories=False, include_freely_associated_states=False)
        else:
            region = region_of()
        if spec.code == "US":
            postcode = fake.postcode_in_state(region)
        elif spec.code == "CA":
            postcode = fake.postalcode_in_province(region)
        elif spec.code == "JP":
            postcode = fake.zipcode()
        elif spec.code == "GR":  # Faker sometimes writes the "ΤΚ" prefix; keep the five digits "NNN NN"
            digits = "".join(ch for ch in fake.postcode() if ch.isdigit())
            postcode = f"{digits[:3]} {digits[3:]}"
        else:
            postcode = fake.postcode()
        city = fake.city_name() if spec.code == "RU" else fake.city()
        places.append((city, region, postcode))
    return _unique(places)


def _streets(fake: Faker, spec: CountrySpec, rng: random.Random, surnames: list[str]) -> tuple[str, ...]:
    if spec.code == "JP":
        return _unique([f"{fake.town()}{fake.chome()}{fake.ban()}{fake.gou()}" for _ in range(STREET_DRAWS)])
    if spec.code == "CN":
        return _unique([fake.street_name() for _ in range(STREET_DRAWS)])
    if spec.code == "RU":
        kinds = ("улица", "улица", "улица", "проспект")
        return _unique([f"{rng.choice(kinds)} {fake.street_title()}" for _ in range(STREET_DRAWS)])
    if spec.code == "GR":
        kinds = ("", "", "Οδός ", "Λεωφόρος ")
        return _unique([f"{rng.choice(kinds)}{fake.street()}" for _ in range(STREET_DRAWS)])
    return _unique([street_name(rng, spec.language, surnames) for _ in range(STREET_DRAWS)])


@lru_cache(maxsize=4)
def build_pools(seed: int) -> dict[str, CountryPools]:
    """Pools for every country, from Faker instances seeded with ``seed``."""
    pools: dict[str, CountryPools] = {}
    for code, spec in COUNTRIES.items():
        fake = Faker(spec.locale)
        fake.seed_instance(seed)
        rng = random.Random(f"{seed}:pools:{code}")
        male, female, last_male, last_female = _names(fake, spec)
        latin_surnames = [latin for _, latin in last_male if latin.isascii()] or ["Main"]
        native_surnames = [native for native, _ in last_male]
        pools[code] = CountryPools(
            first_male=male,
            first_female=female,
            last_male=last_male,
            last_female=last_female,
            streets=_streets(fake, spec, rng, native_surnames if spec.script == "latin" else latin_surnames),
            places=_places(fake, spec),
            company_words=tuple(latin_surnames),
        )
    log.debug("built name/street/place pools for %d countries", len(pools))
    return pools
