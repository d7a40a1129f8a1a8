"""Local simulators of the operational systems: HubSpot-like CRM, Stripe-like billing, Zendesk-like
support (HTTP services on 127.0.0.1) and an Odoo-shaped ERP database (SQLite, read and written with SQL).

The Python API is :mod:`customer_sync.simulators.control` (start, stop, status, reset, endpoints,
set_config, apply_edits, writes, records); ``endpoints`` is re-exported here as the contract names it.
Each system's module docstring lists the real API's quirks it reproduces (see APIS.md in the workplace).
"""

from __future__ import annotations

from customer_sync.simulators.control import (
    apply_edits,
    endpoints,
    records,
    reset,
    set_config,
    start,
    status,
    stop,
    writes,
)

__all__ = ["apply_edits", "endpoints", "records", "reset", "set_config", "start", "status", "stop", "writes"]
