"""Start, stop, inspect and drive the simulators: the Python API used by the CLI and by other layers.

    from customer_sync.simulators import control
    info = control.start(settings, persons=300, seed=7, fast=True, search_lag_ms=0, export_hide_seconds=0)
    info.endpoints["crm"]            # {"base_url": "http://127.0.0.1:8710", "api_token": "pat-..."}
    info.endpoints["erp"]            # {"sqlalchemy_url": "sqlite:////.../erp.sqlite", "api_token": None}
    control.set_config(settings, "billing", fault_rate=0.2)
    control.apply_edits(settings, [{"system": "crm", "table": "contacts", "id": "101",
                                    "op": "update", "set": {"email": "a@b.com"}}])
    control.writes(settings, "billing")            # every write the billing API received
    control.records(settings, "support", "users")  # the stored records, native shape
    control.stop(settings)

An **edit** is ``{"system", "table", "op": "update"|"create"|"delete", "id" (not for create), "set": {..}}``
with native field names per system (HubSpot property names; Stripe fields, nested ``address``/``metadata``
or dotted ``address.city``; Zendesk user fields; Odoo columns, plus ``country_code``). Edits stand for a
person using each system's UI: timestamps move, Stripe emits events, but they are not API writes and do
not appear in the write log.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from customer_sync import processes
from customer_sync.config import Settings
from customer_sync.errors import RunFailure, UserError
from customer_sync.simulators import erp, loading, storage
from customer_sync.simulators.state import (
    HTTP_SYSTEMS,
    PROCESS_NAME,
    SYSTEMS,
    Limits,
    SimConfig,
    db_path,
    make_credentials,
    port_base_from_env,
    read_config,
    read_credentials,
    read_system_configs,
    write_config,
)

log = logging.getLogger(__name__)

TABLES = {
    "crm": ("contacts", "companies"),
    "billing": ("customers", "events"),
    "support": ("users", "organizations", "jobs"),
    "erp": ("res_partner", "res_country"),
}
READY_TIMEOUT_S = 60.0
ADMIN_TIMEOUT_S = 60.0

Endpoints = dict[str, dict[str, Any]]


@dataclass
class StartResult:
    """What ``start`` did: the endpoints, whether data was generated, and the generator's noise stats."""

    endpoints: Endpoints
    pid: int
    generated: bool
    counts: dict[str, int] = field(default_factory=dict)
    noise_stats: dict[str, Any] | None = None
    noise_report: str | None = None
    seconds: float = 0.0


def start(
    settings: Settings,
    persons: int = 1000,
    seed: int = 42,
    faults: float = 0.0,
    latency_ms: int = 0,
    fast: bool = False,
    **opts: Any,
) -> StartResult:
    """Generate (or reuse) the systems' data and start the HTTP services in a background process.

    Options: ``port_base`` (default ``CUSTOMER_SYNC_SIM_PORT_BASE`` or 8710), ``search_lag_ms``,
    ``export_hide_seconds``, ``job_step_ms``, ``slow_fault_seconds``, ``fresh`` (regenerate even if data
    for the same persons/seed exists), ``data`` (records to serve instead of generating them: any object
    with the attributes of ``GeneratedData``). Data is reused when it was made with the same persons/seed.
    """
    began = time.monotonic()
    directory = settings.simulators_dir
    fresh = bool(opts.pop("fresh", False))
    data = opts.pop("data", None)
    if persons < 1:
        raise UserError("--persons must be at least 1")
    if not 0.0 <= faults <= 1.0:
        raise UserError("--faults must be a rate between 0 and 1")
    if latency_ms < 0:
        raise UserError("--latency-ms must not be negative")
    config = SimConfig(persons=persons, seed=seed, fault_rate=faults, latency_ms=latency_ms, fast=fast)
    config.port_base = int(opts.pop("port_base", None) or port_base_from_env())
    for key in ("search_lag_ms", "export_hide_seconds", "job_step_ms", "slow_fault_seconds"):
        value = opts.pop(key, None)
        if value is not None:
            config.update({key: value})
    if opts:
        raise UserError(f"unknown simulator option(s): {', '.join(sorted(opts))}")
    if fast:
        config.limits = Limits.fast()

    running = processes.running_pid(settings, PROCESS_NAME)
    if running is not None:
        current = read_config(directory)
        if (current.persons, current.seed, current.port_base) != (persons, seed, config.port_base) or fresh:
            raise UserError(
                f"simulators already running (pid {running}) with {current.persons} persons, "
                f"seed {current.seed}, "
                f"port base {current.port_base}; run 'customer-sync simulate reset' or 'simulate stop' first"
            )
        return StartResult(endpoints=endpoints(settings), pid=running, generated=False)

    result = StartResult(endpoints={}, pid=0, generated=False)
    if data is not None:
        result.generated = True
        result.counts = load_data(settings, persons, seed, data)
    elif fresh or not _data_matches(directory, persons, seed):
        result.generated = True
        result.counts, result.noise_stats, result.noise_report = _generate(settings, persons, seed)
    make_credentials(directory)
    write_config(directory, config)
    result.pid = _spawn(settings, config)
    result.endpoints = endpoints(settings)
    result.seconds = time.monotonic() - began
    return result


def load_data(settings: Settings, persons: int, seed: int, data: Any) -> dict[str, int]:
    """Replace the systems' stored data with ``data`` (as ``GeneratedData``) made from ``persons`` and
    ``seed``, without starting the services: a later :func:`start` with the same persons and seed serves
    it. The simulators must be stopped. Returns the record count per table."""
    directory = settings.simulators_dir
    _clear(directory)
    counts = loading.build(directory, data)
    write_config(directory, SimConfig(persons=persons, seed=seed))
    return counts


def _data_matches(directory: Path, persons: int, seed: int) -> bool:
    if not loading.exists(directory):
        return False
    try:
        previous = read_config(directory)
    except (UserError, ValueError, KeyError):
        return False
    return (previous.persons, previous.seed) == (persons, seed)


def _generate(
    settings: Settings, persons: int, seed: int
) -> tuple[dict[str, int], dict[str, Any] | None, str | None]:
    from customer_sync.generate import generate
    from customer_sync.generate.stats import format_noise_stats

    log.info("generating %s persons (seed %s)", persons, seed)
    data = generate(persons, seed)
    stats = data.noise_stats()
    counts = load_data(settings, persons, seed, data)
    return counts, stats, format_noise_stats(stats)


def _clear(directory: Path) -> None:
    if directory.exists():
        shutil.rmtree(directory)


def _spawn(settings: Settings, config: SimConfig) -> int:
    directory = settings.simulators_dir
    log_file = directory / "server.log"
    with open(log_file, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "customer_sync.simulators.server", "--dir", str(directory)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    processes.register(settings, PROCESS_NAME, proc.pid)
    urls = {s: f"http://127.0.0.1:{config.port(s)}" for s in HTTP_SYSTEMS}
    token = read_credentials(directory)["admin"]
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            processes.stop(settings, PROCESS_NAME)
            tail = log_file.read_text(errors="replace").strip().splitlines()[-1:] if log_file.exists() else []
            if code == 3:
                raise UserError(
                    f"simulator ports {config.port_base}-{config.port_base + 2} are in use; set "
                    "CUSTOMER_SYNC_SIM_PORT_BASE to a free range"
                )
            raise RunFailure(f"the simulator process exited with code {code}: {' '.join(tail)}")
        if all(_healthy(url, token) for url in urls.values()):
            return proc.pid
        time.sleep(0.1)
    processes.stop(settings, PROCESS_NAME)
    raise RunFailure(f"the simulators did not become ready within {READY_TIMEOUT_S:.0f} s (see {log_file})")


def _healthy(url: str, token: str) -> bool:
    try:
        response = requests.get(
            f"{url}/_admin/health", headers={"Authorization": f"Bearer {token}"}, timeout=2
        )
    except requests.RequestException:
        return False
    return response.status_code == 200


def stop(settings: Settings) -> bool:
    """Stop the simulator process; the data stays (``start`` with the same persons/seed reuses it)."""
    return processes.stop(settings, PROCESS_NAME)


def stored_config(settings: Settings) -> SimConfig | None:
    """The configuration the data in the simulators' directory was made with; None without data."""
    directory = settings.simulators_dir
    if not loading.exists(directory):
        return None
    try:
        return read_config(directory)
    except (UserError, ValueError, KeyError):
        return None


def reset(
    settings: Settings,
    persons: int | None = None,
    seed: int | None = None,
    **opts: Any,
) -> StartResult:
    """Stop, regenerate the data and start again (persons/seed default to the current run's)."""
    previous = stored_config(settings)
    stop(settings)
    base = previous or SimConfig()
    opts.setdefault("faults", base.fault_rate)
    opts.setdefault("latency_ms", base.latency_ms)
    opts.setdefault("fast", base.fast)
    opts.setdefault("port_base", base.port_base if previous else None)
    return start(
        settings,
        persons=persons if persons is not None else base.persons,
        seed=seed if seed is not None else base.seed,
        fresh=True,
        **opts,
    )


def endpoints(settings: Settings) -> Endpoints:
    """Per system: ``base_url`` (or ``sqlalchemy_url`` for the ERP) and ``api_token``."""
    directory = settings.simulators_dir
    config = read_config(directory)
    tokens = read_credentials(directory)
    result: Endpoints = {
        system: {"base_url": f"http://127.0.0.1:{config.port(system)}", "api_token": tokens[system]}
        for system in HTTP_SYSTEMS
    }
    result["erp"] = {"sqlalchemy_url": erp.sqlalchemy_url(db_path(directory, "erp")), "api_token": None}
    return result


def status(settings: Settings) -> dict[str, Any]:
    """Whether the simulators run, their URLs, configuration and record counts per system and table."""
    directory = settings.simulators_dir
    pid = processes.running_pid(settings, PROCESS_NAME)
    result: dict[str, Any] = {"running": pid is not None, "pid": pid, "directory": str(directory)}
    if not loading.exists(directory):
        result["set_up"] = False
        return result
    result["set_up"] = True
    result["config"] = read_config(directory).to_dict()
    result["live_config"] = {s: c.to_dict() for s, c in read_system_configs(directory).items()}
    result["endpoints"] = {
        s: {k: v for k, v in e.items() if k != "api_token"} for s, e in endpoints(settings).items()
    }
    result["counts"] = counts(settings)
    return result


def counts(settings: Settings) -> dict[str, dict[str, int]]:
    """Record counts read straight from the databases (works whether or not the services run)."""
    directory = settings.simulators_dir
    queries = {
        "crm": "select object_type as t, count(*) as n from objects group by object_type",
        "billing": "select 'customers' as t, count(*) as n from customers union all "
        "select 'deleted_customers', count(*) from customers where deleted = 1 union all "
        "select 'events', count(*) from events",
        "support": "select 'users' as t, count(*) as n from users union all "
        "select 'inactive_users', count(*) from users where active = 0 union all "
        "select 'organizations', count(*) from organizations",
    }
    result: dict[str, dict[str, int]] = {}
    for system, sql in queries.items():
        with storage.connect(directory, system) as conn:
            result[system] = {row["t"]: row["n"] for row in conn.execute(sql)}
        with storage.connect(directory, system) as conn:
            result[system]["writes"] = conn.execute("select count(*) as n from write_log").fetchone()["n"]
    result["erp"] = erp.counts(directory)
    result["erp"]["writes"] = len(erp.writes(directory))
    return result


def _admin(settings: Settings, system: str, method: str, path: str, payload: Any = None) -> Any:
    if system not in HTTP_SYSTEMS:
        raise UserError(f"unknown system {system!r}; one of {', '.join(HTTP_SYSTEMS)}")
    if processes.running_pid(settings, PROCESS_NAME) is None:
        raise UserError("the simulators are not running; run 'customer-sync simulate start'")
    directory = settings.simulators_dir
    url = f"http://127.0.0.1:{read_config(directory).port(system)}{path}"
    headers = {"Authorization": f"Bearer {read_credentials(directory)['admin']}"}
    try:
        response = requests.request(method, url, json=payload, headers=headers, timeout=ADMIN_TIMEOUT_S)
    except requests.RequestException as exc:
        raise RunFailure(f"{system} simulator admin call {path} failed: {exc}") from exc
    if response.status_code == 404 and path == "/_admin/edit":
        raise UserError(response.json().get("message", "record not found"))
    if response.status_code >= 400:
        message = response.json().get("message", response.text) if response.content else response.reason
        raise UserError(f"{system} simulator rejected {path}: {message}")
    return response.json()


def set_config(settings: Settings, system: str | None = None, **cfg: Any) -> dict[str, Any]:
    """Change live settings (``fault_rate``, ``latency_ms``, ``search_lag_ms``, ``export_hide_seconds``,
    ``job_step_ms``, ``slow_fault_seconds`` or any :class:`Limits` field) of one system, or of all three."""
    targets = [system] if system else list(HTTP_SYSTEMS)
    return {t: _admin(settings, t, "POST", "/_admin/config", cfg)["config"] for t in targets}


def get_config(settings: Settings, system: str) -> dict[str, Any]:
    return _admin(settings, system, "GET", "/_admin/config")


def apply_edits(settings: Settings, edits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Apply edits in order (see the module docstring); returns each edit with the ids it ``changed``."""
    results = []
    for edit in edits:
        system = edit.get("system")
        if system not in SYSTEMS:
            raise UserError(f"edit needs a system among {', '.join(SYSTEMS)}: {edit}")
        if edit.get("op", "update") != "create" and edit.get("id") in (None, ""):
            raise UserError(f"edit needs the id of the record to change: {edit}")
        if system == "erp":
            try:
                changed = erp.apply_edit(settings.simulators_dir, edit)
            except (KeyError, ValueError) as exc:
                raise UserError(f"erp edit failed: {exc}") from exc
            results.append({**edit, "changed": changed})
        else:
            results += _admin(settings, system, "POST", "/_admin/edit", {"edits": [edit]})["results"]
    return results


def apply_edits_each(
    settings: Settings, edits: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Apply edits one by one, as people make them: a system may refuse one as it would refuse a person
    (an email another contact already has). Returns the applied edits (as ``apply_edits``) and the
    reason for each refused one; the others go on."""
    applied: list[dict[str, Any]] = []
    refused: list[str] = []
    for edit in edits:
        try:
            applied += apply_edits(settings, [edit])
        except UserError as exc:
            refused.append(str(exc))
    return applied, refused


def writes(settings: Settings, system: str) -> list[dict[str, Any]]:
    """Every write the system received: method, path, query, body, time, idempotency key, status,
    the record ids it changed, and the injected fault if any. Read from the durable log."""
    directory = settings.simulators_dir
    if system == "erp":
        return erp.writes(directory)
    if system not in HTTP_SYSTEMS:
        raise UserError(f"unknown system {system!r}")
    with storage.connect(directory, system) as conn:
        return storage.read_writes(conn, system)


def records(settings: Settings, system: str, table: str) -> list[dict[str, Any]]:
    """The stored records of ``system``/``table`` in their native shape (archived/deleted included)."""
    if table not in TABLES.get(system, ()):
        raise UserError(f"unknown table {system}.{table}; tables: {TABLES}")
    if system == "erp":
        return erp.dump(settings.simulators_dir, table)
    return _admin(settings, system, "GET", f"/_admin/records?table={table}")["records"]
