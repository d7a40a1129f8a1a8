"""``customer-sync simulate start|stop|status|reset|edit|config|writes``: the local operational systems."""

from __future__ import annotations

import json
from typing import Any

import click

from customer_sync.config import load_settings
from customer_sync.errors import UserError
from customer_sync.output import emit, info


def _run_options(func: Any) -> Any:
    options = [
        click.option("--persons", type=int, default=None, help="Persons [start: the data's, else 1000]."),
        click.option("--seed", type=int, default=None, help="Generator seed [start: the data's, else 42]."),
        click.option("--faults", type=float, default=None, help="Share of requests that fail (0..1) [0]."),
        click.option("--latency-ms", type=int, default=None, help="Added latency per request [0]."),
        click.option("--fast", is_flag=True, default=None, help="Raise every rate limit (tests, demos)."),
        click.option("--search-lag-ms", type=int, default=None, help="Search index lag [2000]."),
        click.option("--export-hide-seconds", type=int, default=None, help="Zendesk export hides [60] s."),
        click.option("--job-step-ms", type=int, default=None, help="Zendesk job queued/working time [200]."),
        click.option("--port-base", type=int, default=None, help="CRM port (billing +1, support +2)."),
        click.option("--json", "as_json", is_flag=True, help="Print one JSON object."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _opts(**given: Any) -> dict[str, Any]:
    names = {
        "faults",
        "latency_ms",
        "fast",
        "search_lag_ms",
        "export_hide_seconds",
        "job_step_ms",
        "port_base",
    }
    return {k: v for k, v in given.items() if k in names and v is not None}


def _report_start(result: Any, as_json: bool, verb: str) -> None:
    lines = []
    if result.noise_report:
        lines.append(result.noise_report)
    if result.counts:
        lines.append("records: " + ", ".join(f"{k} {v}" for k, v in result.counts.items()))
    for system, endpoint in result.endpoints.items():
        lines.append(f"{system:8} {endpoint.get('base_url') or endpoint.get('sqlalchemy_url')}")
    how = "generated" if result.generated else "reused existing data"
    lines.append(f"{verb}: simulators running (pid {result.pid}, {how}, {result.seconds:.1f} s)")
    payload = {
        "pid": result.pid,
        "generated": result.generated,
        "counts": result.counts,
        "noise_stats": result.noise_stats,
        "seconds": round(result.seconds, 2),
        "endpoints": {
            s: {k: v for k, v in e.items() if k != "api_token"} for s, e in result.endpoints.items()
        },
    }
    emit(payload, as_json, "\n".join(lines))


@click.group()
def simulate() -> None:
    """Local CRM (HubSpot), billing (Stripe), support (Zendesk) APIs and an ERP (Odoo) database."""


@simulate.command()
@_run_options
def start(persons: int | None, seed: int | None, as_json: bool, **options: Any) -> None:
    """Generate customers into the four systems (or reuse them) and start the services.

    Without --persons and --seed, the data already there is reused (it may hold edits and the hub's
    writes); only a directory without data gets the defaults, 1000 persons with seed 42.
    """
    from customer_sync.simulators import control

    settings = load_settings()
    info(f"starting simulators in {settings.simulators_dir} ...", as_json)
    stored = control.stored_config(settings)
    result = control.start(
        settings,
        persons=persons if persons is not None else (stored.persons if stored else 1000),
        seed=seed if seed is not None else (stored.seed if stored else 42),
        **_opts(**options),
    )
    _report_start(result, as_json, "started")


@simulate.command()
def stop() -> None:
    """Stop the services (their data stays for the next start)."""
    from customer_sync.simulators import control

    was_running = control.stop(load_settings())
    click.echo("stopped simulators" if was_running else "simulators were not running")


@simulate.command()
@_run_options
def reset(persons: int | None, seed: int | None, as_json: bool, **options: Any) -> None:
    """Regenerate every system's data from scratch and start again."""
    from customer_sync.simulators import control

    result = control.reset(load_settings(), persons=persons, seed=seed, **_opts(**options))
    _report_start(result, as_json, "reset")


@simulate.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def status(as_json: bool) -> None:
    """Whether the services run, their URLs, configuration and record counts."""
    from customer_sync.simulators import control

    result = control.status(load_settings())
    if not result["set_up"]:
        emit(
            result,
            as_json,
            f"no simulators set up in {result['directory']}; run 'customer-sync simulate start'",
        )
        return
    config = result["config"]
    lines = [
        f"simulators {'running (pid ' + str(result['pid']) + ')' if result['running'] else 'stopped'}"
        f" - {config['persons']} persons, seed {config['seed']}, data in {result['directory']}"
    ]
    for system, endpoint in result["endpoints"].items():
        where = endpoint.get("base_url") or endpoint.get("sqlalchemy_url")
        counts = ", ".join(f"{k} {v}" for k, v in result["counts"].get(system, {}).items())
        lines.append(f"  {system:8} {where}  {counts}")
    for system, live in result["live_config"].items():
        lines.append(
            f"  {system:8} faults {live['fault_rate']}, latency {live['latency_ms']} ms, search lag "
            f"{live['search_lag_ms']} ms, export hides {live['export_hide_seconds']} s, fast {live['fast']}"
        )
    emit(result, as_json, "\n".join(lines))


@simulate.command()
@click.option("--random", "random_count", type=int, default=None, help="Make N realistic random edits.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for --random.")
@click.option("--system", type=click.Choice(["crm", "billing", "support", "erp"]), help="System to edit.")
@click.option("--table", default=None, help="Table (default: contacts/customers/users/res_partner).")
@click.option("--id", "record_id", default=None, help="Record id to change.")
@click.option("--set", "assignments", multiple=True, metavar="FIELD=VALUE", help="Field to set (repeatable).")
@click.option("--delete", is_flag=True, help="Delete (archive) the record.")
@click.option("--create", is_flag=True, help="Create a record with the --set values.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def edit(
    random_count: int | None,
    seed: int,
    system: str | None,
    table: str | None,
    record_id: str | None,
    assignments: tuple[str, ...],
    delete: bool,
    create: bool,
    as_json: bool,
) -> None:
    """Change records as a person would (timestamps move, events are emitted); prints what changed."""
    from customer_sync.simulators import control, edits

    settings = load_settings()
    if random_count is not None:
        planned = edits.plan_random(settings, random_count, seed)
    else:
        if not system:
            raise UserError("give --random N, or --system with --id and --set/--delete (or --create)")
        if delete and create:
            raise UserError("--delete and --create exclude each other")
        values = {}
        for assignment in assignments:
            if "=" not in assignment:
                raise UserError(f"--set needs FIELD=VALUE, got {assignment!r}")
            key, value = assignment.split("=", 1)
            values[key.strip()] = None if value == "" else value
        op = "delete" if delete else "create" if create else "update"
        if op == "update" and not values:
            raise UserError("nothing to change: give --set FIELD=VALUE or --delete")
        planned = [{"system": system, "table": table or edits.DEFAULT_TABLE[system], "op": op, "set": values}]
        if op != "create":
            if not record_id:
                raise UserError("--id is required unless --create")
            planned[0]["id"] = record_id
    # random edits go on past one a system refuses (each refusal is listed); an explicit edit fails
    if random_count is not None:
        results, refused = control.apply_edits_each(settings, planned)
    else:
        results, refused = control.apply_edits(settings, planned), []
    lines = [
        f"{r['system']}.{r.get('table')} {r.get('op', 'update')} {r.get('id', '')}: "
        + (f"changed {', '.join(r['changed'])}" if r["changed"] else "no change")
        + (f" {json.dumps(r.get('set'))}" if r.get("set") else "")
        for r in results
    ]
    changed = sum(len(r["changed"]) for r in results)
    lines += [f"refused: {reason}" for reason in refused]
    lines.append(
        f"{changed} record(s) changed by {len(results)} edit(s)"
        + (f", {len(refused)} refused" if refused else "")
    )
    emit({"results": results, "changed": changed, "refused": refused}, as_json, "\n".join(lines))


@simulate.command()
@click.option(
    "--system", type=click.Choice(["crm", "billing", "support"]), default=None, help="Default: all."
)
@click.argument("settings_", nargs=-1, metavar="NAME=VALUE...")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def config(system: str | None, settings_: tuple[str, ...], as_json: bool) -> None:
    """Show or change live settings, e.g. ``fault_rate=0.1 crm_per_10s=20``."""
    from customer_sync.simulators import control

    settings = load_settings()
    changes: dict[str, Any] = {}
    for item in settings_:
        if "=" not in item:
            raise UserError(f"settings are NAME=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        changes[key] = value
    if changes:
        result = control.set_config(settings, system, **changes)
    else:
        result = {
            s: control.get_config(settings, s)
            for s in ([system] if system else ["crm", "billing", "support"])
        }
    emit(result, as_json, json.dumps(result, indent=2))


@simulate.command()
@click.option("--system", type=click.Choice(["crm", "billing", "support", "erp"]), required=True)
@click.option("--last", type=int, default=20, show_default=True, help="Show the last N writes.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def writes(system: str, last: int, as_json: bool) -> None:
    """The write log: every write the system received."""
    from customer_sync.simulators import control

    entries = control.writes(load_settings(), system)
    shown = entries[-last:] if last > 0 else entries
    lines = [
        f"{w['logged_at']} {w['method']:6} {w['path']} -> {w['status']} changed {w['changed']}"
        + (f" key {w['idempotency_key']}" if w.get("idempotency_key") else "")
        + (f" fault {w['fault']}" if w.get("fault") else "")
        for w in shown
    ]
    lines.append(f"{len(entries)} write(s) in total")
    emit({"writes": shown, "total": len(entries)}, as_json, "\n".join(lines))
