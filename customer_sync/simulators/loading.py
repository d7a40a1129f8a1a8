"""Build the four systems' databases from generated records (native shapes, docs/contracts.md section 1)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

from customer_sync.simulators import billing, crm, erp, storage, support
from customer_sync.simulators.state import db_path

log = logging.getLogger(__name__)


class SourceData(Protocol):
    """What the simulators need from ``customer_sync.generate.GeneratedData``."""

    crm_contacts: list[dict[str, Any]]
    crm_companies: list[dict[str, Any]]
    billing_customers: list[dict[str, Any]]
    support_users: list[dict[str, Any]]
    support_organizations: list[dict[str, Any]]
    erp_partners: list[dict[str, Any]]
    erp_countries: list[dict[str, Any]]


def build(directory: Path, data: SourceData) -> dict[str, int]:
    """Create fresh databases for every system from ``data``; returns the record count per table."""
    directory.mkdir(parents=True, exist_ok=True)
    storage.create(db_path(directory, "crm"), crm.DDL)
    with storage.connect(directory, "crm") as conn:
        crm.load(conn, data.crm_contacts, data.crm_companies)
    storage.create(db_path(directory, "billing"), billing.DDL)
    with storage.connect(directory, "billing") as conn:
        billing.load(conn, data.billing_customers)
    storage.create(db_path(directory, "support"), support.DDL)
    with storage.connect(directory, "support") as conn:
        support.load(conn, data.support_users, data.support_organizations)
    erp.create(db_path(directory, "erp"))
    with erp.connect(directory) as conn:
        erp.load(conn, data.erp_partners, data.erp_countries)
    counts = {
        "crm.contacts": len(data.crm_contacts),
        "crm.companies": len(data.crm_companies),
        "billing.customers": len(data.billing_customers),
        "support.users": len(data.support_users),
        "support.organizations": len(data.support_organizations),
        "erp.res_partner": len(data.erp_partners),
        "erp.res_country": len(data.erp_countries),
    }
    log.info("simulator databases built in %s: %s", directory, counts)
    return counts


def exists(directory: Path) -> bool:
    return all(db_path(directory, s).exists() for s in ("crm", "billing", "support", "erp"))
