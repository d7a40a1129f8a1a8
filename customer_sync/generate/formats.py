"""How values are written down: phone number styles, country spellings, timestamps."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from customer_sync.generate.countries import COUNTRIES
from customer_sync.generate.entities import Phone

PHONE_STYLES = ("e164", "international", "national", "international_00")
_EXTENSION_STYLES = (" ext. {x}", " x{x}", " ext {x}", " #{x}")


def format_phone(phone: Phone, style: str, rng: random.Random) -> str:
    """The number as a person or system writes it; an extension is appended in one of the usual ways."""
    spec = COUNTRIES[phone.country]
    plan = spec.phone
    groups = plan.groups(phone.nsn)
    nanp = spec.calling_code == "1"
    if style == "e164":
        text = phone.e164
    elif style == "national":
        if nanp:
            area, exchange, line = groups[0], groups[1], "".join(groups[2:])
            text = rng.choice(
                (f"({area}) {exchange}-{line}", f"{area}-{exchange}-{line}", f"{area}.{exchange}.{line}")
            )
        elif phone.country == "RU":
            text = f"8 ({groups[0]}) {groups[1]}-{groups[2]}-{''.join(groups[3:])}"
        else:
            is_mobile = phone.nsn.startswith(plan.mobile_prefixes)
            trunk = plan.trunk_prefix if plan.mobile_trunk or not is_mobile else ""
            if phone.country == "JP":
                text = trunk + "-".join(groups)
            elif plan.national_separator == "-" and len(groups) > 2:
                text = trunk + groups[0] + "-" + " ".join(groups[1:])
            else:
                text = trunk + plan.national_separator.join(groups)
    elif style == "international_00":
        text = f"00{spec.calling_code} " + " ".join(groups)
    else:
        text = f"+{spec.calling_code} " + " ".join(groups)
    if phone.extension:
        text += rng.choice(_EXTENSION_STYLES).format(x=phone.extension)
    return text


def country_text(country: str, rng: random.Random, variant: bool) -> str:
    """The country's English name, or (``variant``) another spelling: code, alpha-3 or local name."""
    spec = COUNTRIES[country]
    if not variant:
        return spec.name
    return rng.choice((spec.code, spec.alpha3, *spec.local_names))


def hubspot_time(moment: datetime) -> str:
    """HubSpot's ISO form with milliseconds and Z."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def zendesk_time(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def unix_seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def odoo_time(moment: datetime) -> datetime:
    """Odoo keeps naive UTC datetimes to the second."""
    return moment.astimezone(UTC).replace(tzinfo=None, microsecond=0)
