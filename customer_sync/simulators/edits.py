"""Random live edits: the generator plans them from what the systems hold now; the simulators apply them.

``plan_random`` reads the current person records of the four systems (archived, deleted and inactive ones
left out: nobody edits those), asks ``customer_sync.generate.plan_edits`` for realistic changes (moves,
new emails and phones, fixed typos, deletions) and returns them in the edit format of
:func:`customer_sync.simulators.control.apply_edits`.
"""

from __future__ import annotations

from typing import Any

from customer_sync.config import Settings

DEFAULT_TABLE = {"crm": "contacts", "billing": "customers", "support": "users", "erp": "res_partner"}
# the generator's attribute name for each system's person records
ATTRIBUTES = {
    "crm": "crm_contacts",
    "billing": "billing_customers",
    "support": "support_users",
    "erp": "erp_partners",
}


def plan_random(settings: Settings, count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` edits spread over the four systems, deterministic for the same data and seed."""
    from customer_sync.generate import plan_edits
    from customer_sync.simulators import control

    current = {
        ATTRIBUTES[system]: [r for r in control.records(settings, system, table) if is_live(system, r)]
        for system, table in DEFAULT_TABLE.items()
    }
    return [to_edit(edit) for edit in plan_edits(current, count, seed)]


def to_edit(planned: Any) -> dict[str, Any]:
    """A generator ``Edit`` (system, table, record_id, kind, changes) as an ``apply_edits`` edit."""
    return {
        "system": planned.system,
        "table": planned.table,
        "id": str(planned.record_id),
        "op": "delete" if planned.kind == "delete" else "update",
        "kind": planned.kind,
        "set": dict(planned.changes),
    }


def is_live(system: str, record: dict[str, Any]) -> bool:
    if system == "crm":
        return not record.get("archived")
    if system == "billing":
        return not record.get("deleted")
    return bool(record.get("active", True))
