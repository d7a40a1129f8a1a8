"""Where the simulators keep their state, their configuration and their credentials.

Everything lives under ``$CUSTOMER_SYNC_HOME/simulators/``:

- ``crm.sqlite``, ``billing.sqlite``, ``support.sqlite``: the HTTP services' records and write logs;
- ``erp.sqlite``: the Odoo-shaped database the connectors read and write with SQL;
- ``config.json``: ports, rate limits, fault rate, latency, lags (each running service keeps its part
  current, under ``config.lock``);
- ``credentials.json`` (mode 600): the API tokens made at ``simulate start``;
- ``server.log``: the log of the server processes (one per service, under one parent).
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from customer_sync.config import Settings
from customer_sync.errors import UserError

SYSTEMS = ("crm", "billing", "support", "erp")
HTTP_SYSTEMS = ("crm", "billing", "support")
PORT_OFFSETS = {"crm": 0, "billing": 1, "support": 2}
DEFAULT_PORT_BASE = 8710
PROCESS_NAME = "simulators"


@dataclass
class Limits:
    """Rate limits of one run, per system, as the real services document them (APIS.md)."""

    # HubSpot: Free/Starter private app burst 100 per rolling 10 s, 250k per day; search 5/s (no headers)
    crm_per_10s: int = 100
    crm_daily: int = 250_000
    crm_search_per_s: int = 5
    # Stripe: sandbox 25 requests/s globally; search 20 read operations/s
    billing_per_s: int = 25
    billing_search_per_s: int = 20
    # Zendesk Enterprise: 700/min per account; 5/min per user on single-user writes; cursor export 20/min;
    # time-based incremental exports 10/min; 30 queued or running jobs
    support_per_min: int = 700
    support_user_writes_per_min: int = 5
    support_cursor_exports_per_min: int = 20
    support_incremental_exports_per_min: int = 10
    support_max_jobs: int = 30

    @classmethod
    def fast(cls) -> Limits:
        """Limits high enough that tests and demos never wait (every kind still enforced)."""
        return cls(
            crm_per_10s=100_000,
            crm_daily=100_000_000,
            crm_search_per_s=10_000,
            billing_per_s=10_000,
            billing_search_per_s=10_000,
            support_per_min=1_000_000,
            support_user_writes_per_min=10_000,
            support_cursor_exports_per_min=100_000,
            support_incremental_exports_per_min=100_000,
            support_max_jobs=1_000,
        )


@dataclass
class SimConfig:
    """The configuration of one simulator run; every field can be changed live with ``set_config``."""

    persons: int = 1000
    seed: int = 42
    port_base: int = DEFAULT_PORT_BASE
    fault_rate: float = 0.0
    latency_ms: int = 0
    # seconds a "slow" fault holds the response: longer than any sane client timeout
    slow_fault_seconds: float = 20.0
    # HubSpot and Stripe search indexes lag behind writes ("a few moments", "less than a minute")
    search_lag_ms: int = 2000
    # Zendesk incremental exports never return the most recent minute
    export_hide_seconds: int = 60
    # Zendesk bulk jobs: time a job stays queued, then working, before it completes
    job_step_ms: int = 200
    fast: bool = False
    limits: Limits = field(default_factory=Limits)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known and k != "limits"}
        limits = Limits(
            **{k: v for k, v in data.get("limits", {}).items() if k in Limits.__dataclass_fields__}
        )
        return cls(**values, limits=limits)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def port(self, system: str) -> int:
        return self.port_base + PORT_OFFSETS[system]

    def update(self, changes: dict[str, Any]) -> list[str]:
        """Apply ``changes`` (top-level fields or limit names); returns the names changed."""
        changed = []
        for key, value in changes.items():
            if key in Limits.__dataclass_fields__:
                setattr(self.limits, key, int(value))
            elif key in ("fault_rate", "slow_fault_seconds"):
                value = float(value)
                if key == "fault_rate" and not 0.0 <= value <= 1.0:
                    raise ValueError("fault_rate must be between 0 and 1")
                setattr(self, key, value)
            elif key in ("latency_ms", "search_lag_ms", "export_hide_seconds", "job_step_ms"):
                if int(value) < 0:
                    raise ValueError(f"{key} must not be negative")
                setattr(self, key, int(value))
            else:
                raise ValueError(f"unknown setting {key!r}")
            changed.append(key)
        return changed


def port_base_from_env() -> int:
    raw = os.environ.get("CUSTOMER_SYNC_SIM_PORT_BASE")
    if not raw:
        return DEFAULT_PORT_BASE
    try:
        base = int(raw)
    except ValueError as exc:
        raise UserError(f"CUSTOMER_SYNC_SIM_PORT_BASE must be a port number, got {raw!r}") from exc
    if not 1024 <= base <= 65530:
        raise UserError(f"CUSTOMER_SYNC_SIM_PORT_BASE must be between 1024 and 65530, got {base}")
    return base


def sim_dir(settings: Settings) -> Path:
    return settings.simulators_dir


def db_path(settings_or_dir: Settings | Path, system: str) -> Path:
    base = settings_or_dir if isinstance(settings_or_dir, Path) else settings_or_dir.simulators_dir
    return base / f"{system}.sqlite"


def config_path(directory: Path) -> Path:
    return directory / "config.json"


def credentials_path(directory: Path) -> Path:
    return directory / "credentials.json"


def read_config(directory: Path) -> SimConfig:
    """The run's configuration as given at start (live per-system changes: :func:`read_system_configs`)."""
    return SimConfig.from_dict(_read_config_file(directory)["run"])


def read_system_configs(directory: Path) -> dict[str, SimConfig]:
    """Each HTTP service's live configuration (``set_config`` changes one system at a time)."""
    stored = _read_config_file(directory)
    run = stored["run"]
    return {s: SimConfig.from_dict(stored.get("systems", {}).get(s, run)) for s in HTTP_SYSTEMS}


def _read_config_file(directory: Path) -> dict[str, Any]:
    path = config_path(directory)
    if not path.exists():
        raise UserError(f"no simulators set up in {directory}; run 'customer-sync simulate start'")
    return json.loads(path.read_text())


@contextmanager
def config_file_lock(directory: Path) -> Iterator[None]:
    """Hold the lock of ``config.json`` across processes (each service's process writes its part)."""
    with open(directory / "config.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_config(directory: Path, run: SimConfig, systems: dict[str, SimConfig] | None = None) -> None:
    """Write the run configuration and, if given, the per-system live configurations (atomically)."""
    data: dict[str, Any] = {"run": run.to_dict()}
    if systems:
        data["systems"] = {name: config.to_dict() for name, config in systems.items()}
    path = config_path(directory)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)


def make_credentials(directory: Path) -> dict[str, str]:
    """Fresh tokens for each system plus the admin token; written with mode 600."""
    tokens = {
        "crm": "pat-na1-" + secrets.token_hex(16),
        "billing": "sk_test_" + secrets.token_urlsafe(24).replace("-", "").replace("_", ""),
        "support": secrets.token_urlsafe(30),
        "admin": secrets.token_urlsafe(24),
    }
    path = credentials_path(directory)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(tokens, handle)
    return tokens


def read_credentials(directory: Path) -> dict[str, str]:
    path = credentials_path(directory)
    if not path.exists():
        raise UserError(f"no simulator credentials in {directory}; run 'customer-sync simulate start'")
    return json.loads(path.read_text())
