"""Point the connectors at the local simulators unless the user configured real systems.

dlt resolves each source's ``base_url``/``api_token``/``credentials`` from env vars or ``.dlt/secrets.toml``.
When the simulators have been started in this home, this module sets the env vars from their endpoints
for every value that is not already configured. Values are never logged; only the variable names are.

A connector pointed at the simulators also keeps its request rates to the simulators' limits: each
pacing default (kept under the documented limit) is scaled by the simulators' limit over the documented
one, so the documented limits give the defaults and ``simulate start --fast`` a connector as fast.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from customer_sync.config import Settings
from customer_sync.errors import UserError

logger = logging.getLogger(__name__)

# system -> (endpoint key, dlt variable); endpoints() gives base_url/api_token, or the ERP's sqlalchemy_url
VARIABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "crm": (("base_url", "SOURCES__CRM__BASE_URL"), ("api_token", "SOURCES__CRM__API_TOKEN")),
    "billing": (("base_url", "SOURCES__BILLING__BASE_URL"), ("api_token", "SOURCES__BILLING__API_TOKEN")),
    "support": (("base_url", "SOURCES__SUPPORT__BASE_URL"), ("api_token", "SOURCES__SUPPORT__API_TOKEN")),
    "erp": (("sqlalchemy_url", "SOURCES__ERP__CREDENTIALS"),),
}

# system -> (pacing constant of pipelines.<system>, the simulators' limit it keeps under); the constant is
# configured as SOURCES__<SYSTEM>__<CONSTANT>
PACING: dict[str, tuple[tuple[str, str], ...]] = {
    "crm": (("REQUESTS_PER_SECOND", "crm_per_10s"), ("SEARCHES_PER_SECOND", "crm_search_per_s")),
    "billing": (("REQUESTS_PER_SECOND", "billing_per_s"),),
    "support": (
        ("REQUESTS_PER_MINUTE", "support_per_min"),
        ("CURSOR_EXPORTS_PER_MINUTE", "support_cursor_exports_per_min"),
        ("TIME_EXPORTS_PER_MINUTE", "support_incremental_exports_per_min"),
    ),
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


def limit_scales(settings: Settings, system: str) -> dict[str, float]:
    """Each of the simulators' live limits of ``system`` over the documented one (1.0 at the documented
    limits), by limit name; empty when no simulators were set up in this home."""
    from customer_sync.simulators.state import Limits, read_system_configs

    try:
        config = read_system_configs(settings.simulators_dir).get(system)
    except UserError:
        return {}
    if config is None:
        return {}
    documented = Limits()
    return {
        limit: float(getattr(config.limits, limit)) / float(getattr(documented, limit))
        for limit in Limits.__dataclass_fields__
    }


def simulator_pacing(settings: Settings, system: str) -> dict[str, str]:
    """The connector's pacing variables for the simulators' live limits (empty without simulators)."""
    scales = limit_scales(settings, system)
    if not scales:
        return {}
    module = importlib.import_module(f"pipelines.{system}")
    return {
        f"SOURCES__{system.upper()}__{constant}": repr(float(getattr(module, constant)) * scales[limit])
        for constant, limit in PACING.get(system, ())
    }


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
    """Set the unset connector env vars from the simulators, and the pacing of each connector that now
    points at them; returns the names that were set."""
    found = simulator_endpoints(settings)
    applied: list[str] = []
    for system in systems or list(VARIABLES):
        endpoint = found.get(system)
        if not endpoint:
            continue
        values = {variable: endpoint.get(key) for key, variable in VARIABLES[system]}
        pointed = False
        for variable, value in values.items():
            if value and not _configured(variable):
                os.environ[variable] = str(value)
                applied.append(variable)
                pointed = True
        if not pointed:
            continue  # a system the user configured keeps its own pacing
        for variable, value in simulator_pacing(settings, system).items():
            if not _configured(variable):
                os.environ[variable] = value
                applied.append(variable)
    if applied:
        logger.info("using the local simulators for %s", ", ".join(applied))
    return applied
