"""Per-country facts the generator needs: phone plans, postcode shapes, ids, spellings, street styles.

Phone numbers follow each country's numbering plan (national significant number lengths and leading
digits of real mobile and geographic ranges), so a standardizer that checks E.164 lengths per country
accepts them. Postcodes come from Faker's locale providers, which produce the country's real shape.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _digits(rng: random.Random, n: int) -> str:
    return str(rng.randrange(10**n)).zfill(n) if n > 0 else ""


@dataclass(frozen=True)
class PhonePlan:
    """How one country's numbers look: national significant number prefixes and lengths."""

    mobile_prefixes: tuple[str, ...]
    mobile_length: int
    landline_prefixes: tuple[str, ...]
    landline_length: int
    trunk_prefix: str
    # national grouping, as lengths of digit groups after the trunk prefix; the first group includes
    # the prefix digits
    mobile_groups: tuple[int, ...]
    landline_groups: tuple[int, ...]
    national_separator: str = " "
    mobile_trunk: bool = True  # False where mobiles are dialled without the trunk prefix (China)

    def number(self, rng: random.Random, kind: str) -> str:
        if kind == "mobile":
            prefix = rng.choice(self.mobile_prefixes)
            return prefix + _digits(rng, self.mobile_length - len(prefix))
        prefix = rng.choice(self.landline_prefixes)
        return prefix + _digits(rng, self.landline_length - len(prefix))

    def groups(self, nsn: str) -> list[str]:
        pattern = self.mobile_groups if nsn.startswith(self.mobile_prefixes) else self.landline_groups
        out: list[str] = []
        pos = 0
        for size in pattern:
            if pos >= len(nsn):
                break
            out.append(nsn[pos : pos + size])
            pos += size
        if pos < len(nsn):
            out[-1] += nsn[pos:]
        return out


@dataclass(frozen=True)
class CountrySpec:
    """Everything country-specific about a generated person, company or address."""

    code: str
    alpha3: str
    name: str
    local_names: tuple[str, ...]
    calling_code: str
    locale: str
    language: str
    weight: float
    phone: PhonePlan
    street_style: str
    email_providers: tuple[tuple[str, float], ...]
    legal_forms: tuple[str, ...]
    time_zone: str
    zendesk_locale: str
    script: str = "latin"

    @property
    def spellings(self) -> tuple[str, ...]:
        """Ways the country shows up in free-text fields: name, codes, local names."""
        return (self.name, self.code, self.alpha3, *self.local_names)


def _codes(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# area codes in use (a sample), so numbers pass a NANP plan check
_US_AREAS = _codes(
    "201 202 203 205 206 212 213 214 215 216 217 301 303 304 305 310 312 313 314 315 404 405 406 407 "
    "408 410 412 415 502 503 504 505 508 512 513 602 603 609 610 612 615 617 619 702 703 704 713 714 "
    "718 720 773 801 802 804 808 813 816 817 818 901 904 907 908 912 916 917 919 925 949 954 970 972"
)
_CA_AREAS = _codes(
    "204 236 250 289 306 343 365 403 416 418 431 437 438 450 506 514 519 548 579 581 587 604 613 639 "
    "647 705 709 778 780 782 807 819 825 867 873 902 905"
)


def _nanp(areas: list[str]) -> PhonePlan:
    # NANP: area code + exchange (first digit 2-9) + 4 digits; no separate mobile ranges
    prefixes = tuple(f"{area}{first}" for area in areas for first in "23456789")
    return PhonePlan(prefixes, 10, prefixes, 10, "", (3, 3, 4), (3, 3, 4), "-")


COUNTRIES: dict[str, CountrySpec] = {
    spec.code: spec
    for spec in (
        CountrySpec(
            "US",
            "USA",
            "United States",
            ("United States of America", "U.S.A.", "USA", "U.S."),
            "1",
            "en_US",
            "en",
            24,
            _nanp(_US_AREAS),
            "number_first",
            (
                ("gmail.com", 40),
                ("yahoo.com", 15),
                ("outlook.com", 10),
                ("hotmail.com", 10),
                ("aol.com", 5),
                ("icloud.com", 8),
                ("comcast.net", 4),
            ),
            ("Inc", "LLC", "Corp", "Co"),
            "America/New_York",
            "en-US",
        ),
        CountrySpec(
            "GB",
            "GBR",
            "United Kingdom",
            ("UK", "Great Britain", "England", "U.K."),
            "44",
            "en_GB",
            "en",
            13,
            PhonePlan(
                ("74", "75", "77", "78", "79"),
                10,
                ("20", "121", "131", "161", "113", "117"),
                10,
                "0",
                (4, 6),
                (2, 4, 4),
            ),
            "number_first",
            (
                ("gmail.com", 35),
                ("hotmail.co.uk", 15),
                ("yahoo.co.uk", 10),
                ("btinternet.com", 8),
                ("outlook.com", 10),
                ("sky.com", 5),
            ),
            ("Ltd", "Limited", "PLC", "LLP"),
            "Europe/London",
            "en-GB",
        ),
        CountrySpec(
            "AU",
            "AUS",
            "Australia",
            ("Aust.", "Commonwealth of Australia"),
            "61",
            "en_AU",
            "en",
            7,
            PhonePlan(("4",), 9, ("2", "3", "7", "8"), 9, "0", (3, 3, 3), (1, 4, 4)),
            "number_first",
            (
                ("gmail.com", 35),
                ("bigpond.com", 12),
                ("outlook.com", 10),
                ("hotmail.com", 10),
                ("yahoo.com.au", 8),
                ("optusnet.com.au", 5),
            ),
            ("Pty Ltd", "Pty. Ltd.", "Ltd"),
            "Australia/Sydney",
            "en-AU",
        ),
        CountrySpec(
            "DE",
            "DEU",
            "Germany",
            ("Deutschland", "Allemagne", "BRD"),
            "49",
            "de_DE",
            "de",
            10,
            PhonePlan(
                ("151", "152", "157", "160", "162", "170", "171", "172", "175", "176", "177", "178"),
                11,
                ("30", "40", "89", "221", "69"),
                10,
                "0",
                (3, 8),
                (3, 7),
            ),
            "street_first",
            (
                ("gmail.com", 25),
                ("web.de", 20),
                ("gmx.de", 20),
                ("t-online.de", 12),
                ("outlook.de", 5),
                ("yahoo.de", 5),
            ),
            ("GmbH", "AG", "GmbH & Co. KG", "KG"),
            "Europe/Berlin",
            "de",
        ),
        CountrySpec(
            "FR",
            "FRA",
            "France",
            ("République française", "Frankreich"),
            "33",
            "fr_FR",
            "fr",
            8,
            PhonePlan(("6", "7"), 9, ("1", "2", "3", "4", "5"), 9, "0", (1, 2, 2, 2, 2), (1, 2, 2, 2, 2)),
            "number_type_first",
            (
                ("gmail.com", 30),
                ("orange.fr", 18),
                ("free.fr", 12),
                ("hotmail.fr", 10),
                ("laposte.net", 8),
                ("sfr.fr", 6),
                ("wanadoo.fr", 5),
            ),
            ("SARL", "SAS", "SA", "EURL"),
            "Europe/Paris",
            "fr",
        ),
        CountrySpec(
            "CA",
            "CAN",
            "Canada",
            ("Kanada", "Canadá"),
            "1",
            "en_CA",
            "en",
            7,
            _nanp(_CA_AREAS),
            "number_first",
            (
                ("gmail.com", 35),
                ("hotmail.com", 12),
                ("yahoo.ca", 10),
                ("outlook.com", 10),
                ("shaw.ca", 5),
                ("rogers.com", 5),
                ("videotron.ca", 3),
            ),
            ("Inc", "Ltd", "Corp", "Ltée"),
            "America/Toronto",
            "en-CA",
        ),
        CountrySpec(
            "NL",
            "NLD",
            "Netherlands",
            ("Nederland", "The Netherlands", "Holland", "Pays-Bas"),
            "31",
            "nl_NL",
            "nl",
            5,
            PhonePlan(("6",), 9, ("20", "10", "70", "30"), 9, "0", (1, 8), (2, 7), "-"),
            "street_first",
            (
                ("gmail.com", 35),
                ("hotmail.com", 15),
                ("ziggo.nl", 10),
                ("kpnmail.nl", 8),
                ("outlook.com", 10),
                ("live.nl", 6),
            ),
            ("B.V.", "BV", "N.V."),
            "Europe/Amsterdam",
            "nl",
        ),
        CountrySpec(
            "ES",
            "ESP",
            "Spain",
            ("España", "Espana", "Spanien", "Espagne"),
            "34",
            "es_ES",
            "es",
            5,
            PhonePlan(("6", "7"), 9, ("91", "93", "95", "96"), 9, "", (3, 2, 2, 2), (2, 3, 2, 2)),
            "type_first_comma",
            (
                ("gmail.com", 40),
                ("hotmail.es", 15),
                ("yahoo.es", 10),
                ("outlook.es", 10),
                ("telefonica.net", 5),
            ),
            ("S.L.", "S.A.", "SL"),
            "Europe/Madrid",
            "es",
        ),
        CountrySpec(
            "IT",
            "ITA",
            "Italy",
            ("Italia", "Italien", "Italie"),
            "39",
            "it_IT",
            "it",
            5,
            PhonePlan(
                ("320", "328", "333", "338", "340", "347", "348", "349", "380", "393"),
                10,
                ("06", "02", "011", "055"),
                10,
                "",
                (3, 3, 4),
                (2, 8),
            ),
            "type_first_comma",
            (
                ("gmail.com", 35),
                ("libero.it", 15),
                ("hotmail.it", 10),
                ("yahoo.it", 10),
                ("virgilio.it", 8),
                ("alice.it", 5),
            ),
            ("S.r.l.", "S.p.A.", "Srl"),
            "Europe/Rome",
            "it",
        ),
        CountrySpec(
            "IE",
            "IRL",
            "Ireland",
            ("Éire", "Republic of Ireland", "Eire"),
            "353",
            "en_IE",
            "en",
            2,
            PhonePlan(("83", "85", "86", "87", "89"), 9, ("1",), 8, "0", (2, 3, 4), (1, 3, 4)),
            "number_first",
            (("gmail.com", 40), ("eircom.net", 10), ("hotmail.com", 15), ("outlook.ie", 10)),
            ("Ltd", "Limited", "DAC"),
            "Europe/Dublin",
            "en-IE",
        ),
        CountrySpec(
            "SE",
            "SWE",
            "Sweden",
            ("Sverige", "Schweden", "Suède"),
            "46",
            "sv_SE",
            "sv",
            2,
            PhonePlan(("70", "72", "73", "76", "79"), 9, ("8",), 9, "0", (2, 3, 2, 2), (1, 3, 3, 2), "-"),
            "street_first",
            (("gmail.com", 40), ("hotmail.com", 15), ("telia.com", 10), ("outlook.com", 10)),
            ("AB",),
            "Europe/Stockholm",
            "sv",
        ),
        CountrySpec(
            "JP",
            "JPN",
            "Japan",
            ("日本", "Nippon", "Japon"),
            "81",
            "ja_JP",
            "ja",
            3,
            PhonePlan(("70", "80", "90"), 10, ("3", "6"), 9, "0", (2, 4, 4), (1, 4, 4), "-"),
            "japanese",
            (("gmail.com", 30), ("yahoo.co.jp", 25), ("docomo.ne.jp", 10), ("icloud.com", 10)),
            ("株式会社", "K.K.", "Co., Ltd."),
            "Asia/Tokyo",
            "ja",
            "cjk",
        ),
        CountrySpec(
            "GR",
            "GRC",
            "Greece",
            ("Ελλάδα", "Hellas", "Griechenland", "Grèce"),
            "30",
            "el_GR",
            "el",
            2,
            PhonePlan(
                ("690", "693", "694", "695", "697", "698", "699"), 10, ("21",), 10, "", (3, 3, 4), (3, 3, 4)
            ),
            "street_first",
            (("gmail.com", 40), ("yahoo.gr", 15), ("hotmail.com", 15), ("otenet.gr", 8)),
            ("Α.Ε.", "Ε.Π.Ε.", "ΙΚΕ"),
            "Europe/Athens",
            "el",
            "greek",
        ),
        CountrySpec(
            "RU",
            "RUS",
            "Russia",
            ("Россия", "Russian Federation", "Russland", "Rossiya"),
            "7",
            "ru_RU",
            "ru",
            2,
            PhonePlan(
                ("900", "903", "905", "912", "915", "916", "921", "925", "926", "977", "985"),
                10,
                ("495", "812"),
                10,
                "8",
                (3, 3, 2, 2),
                (3, 3, 2, 2),
            ),
            "russian",
            (("yandex.ru", 30), ("mail.ru", 30), ("gmail.com", 20), ("rambler.ru", 8)),
            ("ООО", "АО", "ПАО"),
            "Europe/Moscow",
            "ru",
            "cyrillic",
        ),
        CountrySpec(
            "CN",
            "CHN",
            "China",
            ("中国", "PRC", "People's Republic of China", "Zhongguo"),
            "86",
            "zh_CN",
            "zh",
            3,
            PhonePlan(
                ("133", "135", "136", "138", "139", "150", "152", "158", "186", "188"),
                11,
                ("10", "21"),
                10,
                "0",
                (3, 4, 4),
                (2, 4, 4),
                mobile_trunk=False,
            ),
            "chinese",
            (("qq.com", 35), ("163.com", 25), ("126.com", 10), ("gmail.com", 10), ("sina.com", 8)),
            ("有限公司", "Co., Ltd.", "Ltd"),
            "Asia/Shanghai",
            "zh-cn",
            "cjk",
        ),
    )
}

COUNTRY_CODES: tuple[str, ...] = tuple(COUNTRIES)
COUNTRY_WEIGHTS: tuple[float, ...] = tuple(spec.weight for spec in COUNTRIES.values())
COUNTRY_CUM_WEIGHTS: tuple[float, ...] = tuple(itertools.accumulate(COUNTRY_WEIGHTS))

# Odoo's res_country rows: ids as a real database would have them (stable, not alphabetical by code)
ERP_COUNTRY_IDS: dict[str, int] = {
    "US": 233,
    "GB": 231,
    "AU": 13,
    "DE": 57,
    "FR": 75,
    "CA": 38,
    "NL": 165,
    "ES": 68,
    "IT": 109,
    "IE": 101,
    "SE": 205,
    "JP": 113,
    "GR": 88,
    "RU": 190,
    "CN": 48,
}


@lru_cache(maxsize=256)
def _split_weights(options: tuple[tuple[str, float], ...]) -> tuple[tuple[str, ...], tuple[float, ...]]:
    return tuple(o for o, _ in options), tuple(itertools.accumulate(w for _, w in options))


def pick(rng: random.Random, options: tuple[tuple[str, float], ...]) -> str:
    """One of ``(value, weight)`` options, drawn by weight."""
    values, cum_weights = _split_weights(options)
    return rng.choices(values, cum_weights=cum_weights)[0]


def lookup_country(text: str | None) -> str | None:
    """ISO alpha-2 code for a country as any source spells it (name, code, local name), else None."""
    if not text:
        return None
    folded = text.strip().casefold()
    for spec in COUNTRIES.values():
        if any(folded == spelling.casefold() for spelling in spec.spellings):
            return spec.code
    return None


# ---------------------------------------------------------------- national and tax identifiers


_SSN_AREAS = tuple(a for a in range(1, 900) if a != 666)


def _us_ssn(rng: random.Random) -> str:
    area = rng.choice(_SSN_AREAS)
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def _gb_nino(rng: random.Random) -> str:
    first = rng.choice("ABCEGHJKLMNOPRSTWXYZ")
    second = rng.choice("ABCEGHJKLMNPRSTWXYZ")
    return f"{first}{second}{_digits(rng, 6)}{rng.choice('ABCD')}"


def _luhn_complete(partial: str) -> str:
    total = 0
    for index, char in enumerate(reversed(partial)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return partial + str((10 - total % 10) % 10)


def _ca_sin(rng: random.Random) -> str:
    number = _luhn_complete(rng.choice("1234567") + _digits(rng, 7))
    return f"{number[:3]} {number[3:6]} {number[6:]}"


def _es_dni(rng: random.Random) -> str:
    number = rng.randint(10_000_000, 99_999_999)
    return f"{number}{'TRWAGMYFPDXBNJZSQVHLCKE'[number % 23]}"


def _nl_bsn(rng: random.Random) -> str:
    while True:
        digits = [rng.randint(0, 9) for _ in range(8)]
        if digits[0] == 0:
            continue
        total = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True))
        check = total % 11
        if check < 10:
            return "".join(map(str, digits)) + str(check)


def _fr_nir(rng: random.Random) -> str:
    body = f"{rng.choice('12')}{rng.randint(40, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 95):02d}"
    body += f"{rng.randint(1, 990):03d}{rng.randint(1, 999):03d}"
    key = 97 - int(body) % 97
    return f"{body}{key:02d}"


def _de_idnr(rng: random.Random) -> str:
    # Steuer-IdNr: 11 digits, first not 0, check digit by ISO 7064 MOD 11,10
    body = rng.choice("123456789") + _digits(rng, 9)
    product = 10
    for char in body:
        total = (int(char) + product) % 10 or 10
        product = (total * 2) % 11
    return body + str((11 - product) % 10)


def _it_cf(rng: random.Random) -> str:
    letters = "".join(rng.choice(_UPPER) for _ in range(6))
    month = rng.choice("ABCDEHLMPRST")
    place = rng.choice(_UPPER) + _digits(rng, 3)
    return f"{letters}{_digits(rng, 2)}{month}{rng.randint(1, 71):02d}{place}{rng.choice(_UPPER)}"


def _generic_digits(length: int) -> Callable[[random.Random], str]:
    def make(rng: random.Random) -> str:
        return rng.choice("123456789") + _digits(rng, length - 1)

    return make


NATIONAL_IDS: dict[str, Callable[[random.Random], str]] = {
    "US": _us_ssn,
    "GB": _gb_nino,
    "AU": _generic_digits(9),
    "DE": _de_idnr,
    "FR": _fr_nir,
    "CA": _ca_sin,
    "NL": _nl_bsn,
    "ES": _es_dni,
    "IT": _it_cf,
    "IE": lambda rng: f"{_digits(rng, 7)}{rng.choice('ABCDEFGHW')}",
    "SE": lambda rng: (
        f"{rng.randint(50, 99)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}-{_digits(rng, 4)}"
    ),
    "JP": _generic_digits(12),
    "GR": _generic_digits(9),
    "RU": _generic_digits(12),
    "CN": lambda rng: _generic_digits(17)(rng) + rng.choice("0123456789X"),
}


def company_tax_id(rng: random.Random, country: str) -> str:
    """A company VAT / tax number in the country's usual written form."""
    if country == "US":
        return f"{rng.randint(10, 99)}-{_digits(rng, 7)}"
    if country == "CA":
        return f"{rng.choice('123456789')}{_digits(rng, 8)}RT0001"
    if country == "AU":
        return f"{rng.randint(11, 99)} {_digits(rng, 3)} {_digits(rng, 3)} {_digits(rng, 3)}"
    if country == "NL":
        return f"NL{_digits(rng, 9)}B01"
    if country == "ES":
        return f"ES{rng.choice('ABB')}{_digits(rng, 8)}"
    if country == "FR":
        return f"FR{_digits(rng, 2)}{rng.choice('123456789')}{_digits(rng, 8)}"
    if country == "IT":
        return f"IT{_digits(rng, 11)}"
    if country == "GB":
        return f"GB{rng.choice('123456789')}{_digits(rng, 8)}"
    if country == "IE":
        return f"IE{_digits(rng, 7)}{rng.choice('ABCDEFGHW')}"
    if country == "SE":
        return f"SE{rng.choice('5')}{_digits(rng, 9)}01"
    if country == "DE":
        return f"DE{rng.choice('123456789')}{_digits(rng, 8)}"
    if country == "GR":
        return f"EL{_digits(rng, 9)}"
    if country == "JP":
        return f"T{rng.choice('123456789')}{_digits(rng, 12)}"
    if country == "RU":
        return rng.choice("123456789") + _digits(rng, 9)
    return rng.choice("123456789") + _digits(rng, 17)
