"""Where each target lives: the connectors' env vars first (a real system), else the local simulators."""

from __future__ import annotations

import os
from typing import Any

from customer_sync.config import Settings
from customer_sync.credentials import limit_scales
from customer_sync.errors import UserError


def target_endpoint(settings: Settings, target: str) -> dict[str, Any]:
    """{"base_url", "api_token"} for HTTP targets (billing on the simulators: also "limit_scale", their
    limit over the documented one), {"sqlalchemy_url"} for the ERP.

    Reads SOURCES__<TARGET>__BASE_URL / __API_TOKEN (SOURCES__ERP__CREDENTIALS), the variables the
    connectors read, and falls back to the endpoints of the simulators started in this home.
    """
    prefix = f"SOURCES__{target.upper()}__"
    if target == "erp" and os.environ.get(prefix + "CREDENTIALS"):
        return {"sqlalchemy_url": os.environ[prefix + "CREDENTIALS"]}
    if target != "erp" and os.environ.get(prefix + "BASE_URL") and os.environ.get(prefix + "API_TOKEN"):
        return {"base_url": os.environ[prefix + "BASE_URL"], "api_token": os.environ[prefix + "API_TOKEN"]}
    if not (settings.simulators_dir / "credentials.json").exists():
        raise UserError(
            f"no endpoint for {target}: set {prefix}* or run 'customer-sync simulate start' in this home"
        )
    from customer_sync.simulators import endpoints

    found = endpoints(settings).get(target)
    if not found:
        raise UserError(f"the simulators have no endpoint for {target}")
    if target == "erp":
        return {"sqlalchemy_url": found.get("sqlalchemy_url") or found["credentials"]}
    endpoint = {"base_url": found["base_url"], "api_token": found["api_token"]}
    if target == "billing":  # Stripe sends no rate-limit headers: the client paces to the limit it is told
        endpoint["limit_scale"] = limit_scales(settings, target).get("billing_per_s")
    return endpoint
