"""Messy customers with known truth, in the native shapes of the four source systems.

``generate(persons, seed)`` makes people and companies, spreads them over the CRM, billing, support
and ERP systems with realistic overlap and noise, and returns a ``GeneratedData`` holding the native
records (contracts section 1), the truth, and the measured noise. ``plan_edits`` plans live changes
for the simulators. ``NICKNAMES`` and ``ADDRESS_ABBREVIATIONS`` are the knowledge the dbt seeds share.
"""

from customer_sync.generate.addresses import ADDRESS_ABBREVIATIONS
from customer_sync.generate.build import generate
from customer_sync.generate.data import GeneratedData
from customer_sync.generate.edits import EDIT_KINDS, Edit, plan_edits
from customer_sync.generate.names import NICKNAMES, nickname_rows
from customer_sync.generate.noise import NOISE_KINDS

__all__ = [
    "ADDRESS_ABBREVIATIONS",
    "EDIT_KINDS",
    "NICKNAMES",
    "NOISE_KINDS",
    "Edit",
    "GeneratedData",
    "generate",
    "nickname_rows",
    "plan_edits",
]
