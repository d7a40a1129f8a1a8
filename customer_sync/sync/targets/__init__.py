"""One client per target system: how to re-read its records and write operations in batches."""

from __future__ import annotations

from customer_sync.config import Settings
from customer_sync.sync.endpoints import target_endpoint
from customer_sync.sync.model import TargetClient


def make_client(settings: Settings, target: str) -> TargetClient:
    """The client of ``target`` pointed at its endpoint."""
    endpoint = target_endpoint(settings, target)
    if target == "crm":
        from customer_sync.sync.targets.crm import CrmClient

        return CrmClient(endpoint["base_url"], endpoint["api_token"])
    if target == "billing":
        from customer_sync.sync.targets.billing import BillingClient

        return BillingClient(endpoint["base_url"], endpoint["api_token"], endpoint.get("limit_scale"))
    if target == "support":
        from customer_sync.sync.targets.support import SupportClient

        return SupportClient(endpoint["base_url"], endpoint["api_token"])
    if target == "erp":
        from customer_sync.sync.targets.erp import ErpClient

        return ErpClient(endpoint["sqlalchemy_url"])
    raise ValueError(f"unknown target {target!r}")
