"""Point the connectors at the local simulators unless the user configured real systems.

dlt resolves each source's ``base_url``/``api_token``/``credentials`` from env vars or ``.dlt/secrets.toml``.
When the simulators have been started in this home, this module sets the env vars from their endpoints
for every value that is not already configured. Values are never logged; only the variable names are.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from customer_sync.config import Settings

logger = logging.getLogger(__name__)

# system -> (endpoint key, dlt variable); endpoints() gives base_url/api_token, or the ERP's sqlalchemy_url
VARIABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "crm": (("base_url", "SOURCES__CRM__BASE_URL"), ("api_token", "SOURCES__CRM__API_TOKEN")),
    "billing": (("base_url", "SOURCES__BILLING__BASE_URL"), ("api_token", "SOURCES__BILLING__API_TOKEN")),
    "support": (("base_url", "SOURCES__SUPPORT__BASE_URL"), ("api_token", "SOURCES__SUPPORT__API_TOKEN")),
    "erp": (("sqlalchemy_url", "SOURCES__ERP__CREDENTIALS"),),
}


def _configured(variable: str) -> bool:
    """Whether dlt already resolves ``variable`` (env var, .dlt/secrets.toml or .dlt/config.toml)."""
    if os.environ.get(variable):
        return True
    import dlt

    key = variable.lower().replace("__", ".")
    return bool(dlt.secrets.get(key) or dlt.config.get(key))


def simulator_endpoints(settings: Settings) -> dict[str, dict[str, str]]:
    """The simulators' endpoints for this home, or an empty dict when they were never started here."""
    if not (settings.simulators_dir / "credentials.json").exists():
        return {}
    from customer_sync.simulators import endpoints

    return endpoints(settings)


@contextmanager
def simulator_credentials(settings: Settings, systems: list[str] | None = None) -> Iterator[list[str]]:
    """Within the block, the unset connector env vars point at this home's simulators; restored after,
    so a later run (another home, restarted simulators with new tokens) never sees stale values."""
    applied = apply_simulator_credentials(settings, systems)
    try:
        yield applied
    finally:
        for variable in applied:
            os.environ.pop(variable, None)


def apply_simulator_credentials(settings: Settings, systems: list[str] | None = None) -> list[str]:
    """Set the unset connector env vars from the simulators; returns the names that were set."""
    found = simulator_endpoints(settings)
    applied: list[str] = []
    for system in systems or list(VARIABLES):
        endpoint = found.get(system)
        if not endpoint:
            continue
        for key, variable in VARIABLES[system]:
            value = endpoint.get(key)
            if value and not _configured(variable):
                os.environ[variable] = str(value)
                applied.append(variable)
    if applied:
        logger.info("using the local simulators for %s", ", ".join(applied))
    return applied
