"""Realistic noise on one source copy of a person or company.

A copy starts as a ``View``: the entity's true values as this system would hold them. The functions
here spoil a view the way people and systems do (typos, nicknames, missing fields, email variants,
abbreviations, ...) and record each kind they applied in ``view.noise``. A kind is recorded only when
the value really changed, so the measured statistics match the data.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from customer_sync.generate.addresses import abbreviate_line
from customer_sync.generate.entities import Company, Phone
from customer_sync.generate.names import fold_accents, has_accents, nicknames_for

# kind -> (class, meaning). "content" kinds change what a value says, "format" kinds only how it is
# written, "sparse" kinds are optional fields left empty, as they often are in real systems
NOISE_KINDS: dict[str, tuple[str, str]] = {
    "name_typo": ("content", "one letter wrong, missing, doubled or swapped in a first or last name"),
    "nickname": ("content", "a nickname instead of the formal first name (Bob for Robert)"),
    "name_swapped": ("content", "first and last name exchanged, or 'Last, First'"),
    "name_merged": ("content", "the whole name in one name field, the other empty"),
    "accent_dropped": ("content", "accents removed (José -> Jose)"),
    "script_variant": ("content", "a Greek, Cyrillic or CJK name in Latin letters"),
    "company_name_variant": ("content", "company written without or with another legal form"),
    "email_variant": ("content", "email with other case, dots or +tag (gmail), or googlemail.com"),
    "email_other": ("content", "another of the person's addresses (work instead of personal)"),
    "email_missing": ("content", "no email"),
    "phone_missing": ("content", "no phone"),
    "phone_extension": ("content", "desk phone with an extension instead of the personal number"),
    "address_missing": ("content", "no postal address where the system has one"),
    "moved_old_address": ("content", "the person moved since; this copy shows the old address"),
    "birth_date_missing": ("sparse", "no birth date where the system has one"),
    "national_id_missing": ("sparse", "no national/tax id where the system has one"),
    "name_case_whitespace": ("format", "upper/lower case or stray spaces in the name"),
    "phone_national_format": ("format", "phone in national format (needs the country to read)"),
    "address_abbreviated": ("format", "street type abbreviated (Street -> St)"),
    "address_lines_split": ("format", "second address line merged into the first, or lines swapped"),
    "postcode_format": ("format", "postcode without its space or in lower case"),
    "country_variant": ("format", "country as a code, alpha-3 or local spelling"),
    "national_id_format": ("format", "national/tax id with other spacing or punctuation"),
}

HEAVY_RATE = 0.03
# chance of each kind per copy, where it applies
RATES: dict[str, float] = {
    "name_typo": 0.04,
    "nickname": 0.12,
    "name_swapped": 0.012,
    "name_merged": 0.02,
    "accent_dropped": 0.2,
    "script_variant": 0.12,
    "company_name_variant": 0.25,
    "email_variant": 0.05,
    "email_missing": 0.03,
    "phone_missing": 0.03,
    "address_missing": 0.03,
    "birth_date_missing": 0.2,
    "national_id_missing": 0.3,
    "name_case_whitespace": 0.05,
    "address_abbreviated": 0.15,
    "address_lines_split": 0.3,
    "postcode_format": 0.05,
    "country_variant": 0.2,
    "national_id_format": 0.15,
}
_HEAVY_KINDS = (
    "name_typo",
    "nickname",
    "name_case_whitespace",
    "email_variant",
    "address_abbreviated",
    "phone_missing",
    "email_missing",
    "address_missing",
)
_GMAIL = ("gmail.com", "googlemail.com")
_PLUS_TAG_PROVIDERS = ("gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "icloud.com")
PLUS_TAGS = ("news", "shop", "billing", "work", "2024", "promo", "support")


@dataclass(slots=True)
class View:
    """One copy's values before they are written in the system's native shape."""

    first_name: str | None
    last_name: str | None
    full_name_order: str  # "western", "eastern" (family first), "comma" ("Last, First")
    email: str | None
    phone: Phone | None
    mobile: Phone | None
    phone_style: str
    line1: str | None
    line2: str | None
    city: str | None
    region: str | None
    postcode: str | None
    country: str | None
    country_variant: bool
    language: str
    birth_date: date | None
    national_id: str | None
    company: Company | None
    company_name: str | None
    noise: list[str] = field(default_factory=list)

    def tag(self, kind: str) -> None:
        if kind not in self.noise:
            self.noise.append(kind)

    @property
    def full_name(self) -> str | None:
        parts = [p for p in (self.first_name, self.last_name) if p]
        if not parts:
            return None
        if self.full_name_order == "comma" and len(parts) == 2:
            return f"{self.last_name}, {self.first_name}"
        if self.full_name_order == "eastern" and len(parts) == 2:
            sep = "" if (self.last_name or "").isascii() is False and self.language == "zh" else " "
            return f"{self.last_name}{sep}{self.first_name}"
        return " ".join(parts)


# ---------------------------------------------------------------- value-level noise


def typo(text: str, rng: random.Random) -> str:
    """One realistic keying error; names shorter than four letters are left alone."""
    if len(text) < 4:
        return text
    pos = rng.randint(1, len(text) - 2)
    action = rng.random()
    if action < 0.3:
        return text[:pos] + text[pos + 1 :]
    if action < 0.55:
        return text[:pos] + text[pos] + text[pos:]
    if action < 0.8:
        return text[:pos] + text[pos + 1] + text[pos] + text[pos + 2 :]
    neighbours = "aeiou" if text[pos].lower() in "aeiou" else "rtnmsl"
    replacement = rng.choice([c for c in neighbours if c != text[pos].lower()] or ["e"])
    return text[:pos] + replacement + text[pos + 1 :]


def case_whitespace(text: str, rng: random.Random) -> str:
    choice = rng.random()
    if choice < 0.35:
        return text.upper()
    if choice < 0.6:
        return text.lower()
    if choice < 0.8:
        return f" {text}  "
    return text.replace(" ", "  ") if " " in text else f"{text} "


def email_variant(email: str, rng: random.Random) -> str:
    """Same mailbox, other spelling: case; for gmail also dots, +tags and googlemail.com."""
    local, _, domain = email.partition("@")
    if domain in _GMAIL:
        choice = rng.random()
        if choice < 0.3:
            return f"{local}+{rng.choice(PLUS_TAGS)}@{domain}"
        if choice < 0.55:
            return f"{local}@{'googlemail.com' if domain == 'gmail.com' else 'gmail.com'}"
        if choice < 0.8 and len(local.replace(".", "")) > 3:
            bare = local.replace(".", "")
            cut = rng.randint(1, len(bare) - 1)
            return (
                f"{bare[:cut]}.{bare[cut:]}@{domain}"
                if f"{bare[:cut]}.{bare[cut:]}" != local
                else f"{bare}@{domain}"
            )
    elif domain in _PLUS_TAG_PROVIDERS and rng.random() < 0.4:
        return f"{local}+{rng.choice(PLUS_TAGS)}@{domain}"
    if rng.random() < 0.5:
        return email.upper()
    return f"{local[:1].upper()}{local[1:]}@{domain[:1].upper()}{domain[1:]}"


def national_id_format(value: str, rng: random.Random) -> str:
    compact = "".join(ch for ch in value if ch.isalnum())
    if compact != value:
        return compact
    if len(compact) > 6:
        cut = len(compact) // 2
        return (
            f"{compact[:cut]} {compact[cut:]}" if rng.random() < 0.5 else f"{compact[:cut]}-{compact[cut:]}"
        )
    return compact.lower()


def postcode_format(postcode: str) -> str:
    if " " in postcode or "-" in postcode:
        return postcode.replace(" ", "").replace("-", "")
    return postcode.lower() if postcode.lower() != postcode else postcode


# ---------------------------------------------------------------- view-level noise


def spoil_person(view: View, system: str, rng: random.Random, *, native_script: bool) -> None:
    """Apply person noise to a copy in ``system`` (crm keeps first/last apart, others a full name)."""
    heavy = rng.random() < HEAVY_RATE
    chosen = set(rng.sample(_HEAVY_KINDS, 3)) if heavy else set()

    def roll(kind: str) -> bool:
        return kind in chosen or rng.random() < RATES[kind]

    if native_script is False and has_accents(f"{view.first_name}{view.last_name}"):
        rate = 0.6 if system == "billing" else RATES["accent_dropped"]
        if rng.random() < rate:
            view.first_name = fold_accents(view.first_name or "") or None
            view.last_name = fold_accents(view.last_name or "") or None
            view.tag("accent_dropped")
    if roll("nickname") and view.first_name:
        options = nicknames_for(view.first_name)
        if options:
            view.first_name = rng.choice(options)
            view.tag("nickname")
    if roll("name_typo"):
        if rng.random() < 0.5 and view.last_name and len(view.last_name) >= 4:
            new = typo(view.last_name, rng)
            if new != view.last_name:
                view.last_name = new
                view.tag("name_typo")
        elif view.first_name and len(view.first_name) >= 4:
            new = typo(view.first_name, rng)
            if new != view.first_name:
                view.first_name = new
                view.tag("name_typo")
    if rng.random() < RATES["name_swapped"] and view.first_name and view.last_name:
        if system == "crm":
            view.first_name, view.last_name = view.last_name, view.first_name
        else:
            view.full_name_order = "comma"
        view.tag("name_swapped")
    if system == "crm" and rng.random() < RATES["name_merged"] and view.first_name and view.last_name:
        view.first_name, view.last_name = f"{view.first_name} {view.last_name}", None
        view.tag("name_merged")
    if roll("name_case_whitespace") and view.first_name:
        before = (view.first_name, view.last_name)
        view.first_name = case_whitespace(view.first_name, rng)
        if view.last_name and rng.random() < 0.7:
            view.last_name = case_whitespace(view.last_name, rng)
        if (view.first_name, view.last_name) != before:  # upper/lower case do nothing to CJK
            view.tag("name_case_whitespace")
    spoil_contact(view, rng, roll)
    if view.birth_date and rng.random() < RATES["birth_date_missing"]:
        view.birth_date = None
        view.tag("birth_date_missing")
    spoil_national_id(view, rng)


def spoil_contact(view: View, rng: random.Random, roll: Callable[[str], bool]) -> None:
    """Email, phone and address noise shared by people and companies."""
    if view.email and roll("email_variant"):
        new = email_variant(view.email, rng)
        if new != view.email:
            view.email = new
            view.tag("email_variant")
    # never leave a copy without both email and phone: matching needs one of them
    if view.email and view.phone and roll("email_missing"):
        view.email = None
        view.tag("email_missing")
    elif view.email and view.phone and roll("phone_missing"):
        view.phone = None
        view.mobile = None
        view.tag("phone_missing")
    if view.phone and view.phone_style == "national":
        view.tag("phone_national_format")
    if view.line1:
        if roll("address_missing"):
            view.line1 = view.line2 = view.city = view.region = view.postcode = None
            view.tag("address_missing")
            return
        if roll("address_abbreviated"):
            new = abbreviate_line(view.line1, view.language, rng)
            if new != view.line1:
                view.line1 = new
                view.tag("address_abbreviated")
        if view.line2 and roll("address_lines_split"):
            if rng.random() < 0.5:
                view.line1, view.line2 = f"{view.line1}, {view.line2}", None
            else:
                view.line1, view.line2 = view.line2, view.line1
            view.tag("address_lines_split")
        if view.postcode and roll("postcode_format"):
            new = postcode_format(view.postcode)
            if new != view.postcode:
                view.postcode = new
                view.tag("postcode_format")
        if view.country and roll("country_variant"):
            view.country_variant = True


def spoil_national_id(view: View, rng: random.Random) -> None:
    if not view.national_id:
        return
    if rng.random() < RATES["national_id_missing"]:
        view.national_id = None
        view.tag("national_id_missing")
    elif rng.random() < RATES["national_id_format"]:
        new = national_id_format(view.national_id, rng)
        if new != view.national_id:
            view.national_id = new
            view.tag("national_id_format")


def spoil_company(view: View, company: Company, rng: random.Random) -> None:
    """Company copies: legal form variants, case, typos, and the contact/address noise."""
    heavy = rng.random() < HEAVY_RATE
    chosen = set(rng.sample(_HEAVY_KINDS, 3)) if heavy else set()

    def roll(kind: str) -> bool:
        return kind in chosen or rng.random() < RATES[kind]

    name = view.company_name or company.name
    if rng.random() < RATES["company_name_variant"]:
        choice = rng.random()
        if choice < 0.5:
            new = company.base_name
        elif choice < 0.75:
            new = (
                name.replace(" & ", " and ")
                if " & " in name
                else f"{company.base_name}, {company.legal_form}"
            )
        else:
            new = name.upper()
        if new != name:
            name = new
            view.tag("company_name_variant")
    if roll("name_typo"):
        new = typo(name, rng)
        if new != name:
            name = new
            view.tag("name_typo")
    view.company_name = name
    spoil_contact(view, rng, roll)
    spoil_national_id(view, rng)
