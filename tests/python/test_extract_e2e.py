"""Landing all four systems from the simulators: counts, incremental runs, edits, faults, a killed run.

The tests share the session's simulators and one landing (a module fixture) and run in file order: each
starts from the raw data the previous one left, which always equals the simulators' current records.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from customer_sync import db as database
from customer_sync.config import Settings
from customer_sync.errors import UserError
from customer_sync.extract import SOURCES, ExtractResult, run_extract
from customer_sync.simulators import control
from tests.python.fixtures.landing import fetch_rows, row_hashes
from tests.python.fixtures.simulators import Simulators

pytestmark = pytest.mark.e2e

# merge tables and the business columns compared between two landings
BUSINESS_COLUMNS = {
    "raw_crm.contacts": [
        "properties__firstname",
        "properties__lastname",
        "properties__email",
        "properties__phone",
        "properties__address",
        "properties__city",
        "properties__zip",
        "properties__country",
        "properties__date_of_birth",
        "properties__lastmodifieddate",
        "archived",
    ],
    "raw_crm.companies": [
        "properties__name",
        "properties__domain",
        "properties__hs_lastmodifieddate",
        "archived",
    ],
    "raw_billing.customers": ["name", "email", "phone", "address__line1", "address__postal_code", "deleted"],
    "raw_support.users": ["name", "email", "phone", "organization_id", "active", "updated_at"],
    "raw_support.organizations": ["name", "external_id", "details", "updated_at"],
    "raw_erp.res_partner": [
        "name",
        "vat",
        "email",
        "phone",
        "street",
        "zip",
        "country_id",
        "active",
        "write_date",
    ],
    "raw_erp.res_country": ["code", "name"],
}
MERGE_TABLES = {
    "crm": ("contacts", "companies"),
    "billing": ("customers",),
    "support": ("users", "organizations"),
    "erp": ("res_partner",),
}


@pytest.fixture(scope="module")
def first_landing(
    settings: Settings, warehouse: database.Database, simulators: dict[str, Any]
) -> ExtractResult:
    return run_extract(settings, warehouse, full_refresh=True, progress=False)


def all_hashes(db: database.Database) -> dict[str, dict[str, str]]:
    return {table: row_hashes(db, table, columns) for table, columns in BUSINESS_COLUMNS.items()}


def differences(now: dict[str, dict[str, str]], before: dict[str, dict[str, str]]) -> dict[str, list[str]]:
    """Per table, the ids whose rows differ, appeared or vanished (empty when the landings are equal)."""
    found = {}
    for table, rows in before.items():
        ids = sorted(key for key in set(rows) | set(now[table]) if rows.get(key) != now[table].get(key))
        if ids:
            found[table] = ids[:10]
    return found


def every_row(db: database.Database) -> dict[str, list[str]]:
    """Per raw table (nested ones too), the sorted md5s of its rows over every column but dlt's own.

    Rows of a nested table carry the ``id`` of their root row instead of dlt's random row ids, so two
    landings of the same records give equal hashes whatever order they were loaded in.
    """
    schemas = [f"raw_{source}" for source in SOURCES]
    columns: dict[str, list[str]] = {}
    for schema, table, column in fetch_rows(
        db,
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_schema = any(%s) and table_name not like '\\_dlt\\_%%' "
        "order by table_schema, table_name, ordinal_position",
        (schemas,),
    ):
        columns.setdefault(f"{schema}.{table}", []).append(column)
    found = {}
    for table, names in columns.items():
        values = ", ".join(f"t.{name}" for name in names if not name.startswith("_dlt_"))
        schema, name = table.split(".")
        if "_dlt_root_id" in names:  # nested: carry the root row's id
            root = f"{schema}.{name.split('__')[0]}"
            sql = f"select r.id, {values} from {table} t join {root} r on r._dlt_id = t._dlt_root_id"
        else:
            sql = f"select {values} from {table} t"
        found[table] = sorted(hashlib.md5(repr(row).encode()).hexdigest() for row in fetch_rows(db, sql))
    return found


def merge_rows(result: ExtractResult) -> dict[str, int]:
    return {
        f"{source}.{table}": result.source(source).tables[table]
        for source, tables in MERGE_TABLES.items()
        for table in tables
    }


def test_first_landing_equals_the_simulators_records(
    settings: Settings, warehouse: database.Database, first_landing: ExtractResult
) -> None:
    counts = control.counts(settings)
    expected = {
        "raw_crm.contacts": counts["crm"]["contacts"],
        "raw_crm.companies": counts["crm"]["companies"],
        "raw_billing.customers": counts["billing"]["customers"],
        "raw_support.users": counts["support"]["users"],
        "raw_support.organizations": counts["support"]["organizations"],
        "raw_erp.res_partner": counts["erp"]["res_partner"],
        "raw_erp.res_country": counts["erp"]["res_country"],
    }
    landed = {table: fetch_rows(warehouse, f"select count(*) from {table}")[0][0] for table in expected}
    assert landed == expected
    assert expected["raw_crm.contacts"] > 0 and expected["raw_support.users"] > 0
    reported = {
        f"raw_{source}.{table}": rows
        for source in ("crm", "billing", "support", "erp")
        for table, rows in first_landing.source(source).tables.items()
    }
    assert {table: reported[table] for table in expected} == expected
    for source in first_landing.sources:
        assert source.rows_per_second > 0


def test_second_extract_without_changes_lands_nothing(
    settings: Settings, warehouse: database.Database, first_landing: ExtractResult
) -> None:
    result = run_extract(settings, warehouse, progress=False)
    assert merge_rows(result) == dict.fromkeys(merge_rows(result), 0)
    # the country list is a small reference table, replaced whole each run
    assert result.source("erp").tables["res_country"] == control.counts(settings)["erp"]["res_country"]


def test_ten_edits_land_exactly_those_records(
    settings: Settings, warehouse: database.Database, first_landing: ExtractResult
) -> None:
    contacts = [r for r in control.records(settings, "crm", "contacts") if not r.get("archived")][:4]
    customers = [r for r in control.records(settings, "billing", "customers") if not r.get("deleted")][:3]
    users = [r for r in control.records(settings, "support", "users") if r.get("active")][:2]
    partner = control.records(settings, "erp", "res_partner")[0]
    time.sleep(1.1)  # edits land in a later second than anything landed before
    edits = [
        *[
            {"system": "crm", "table": "contacts", "id": c["id"], "set": {"firstname": f"Edited{i}"}}
            for i, c in enumerate(contacts[:3])
        ],
        {"system": "crm", "table": "contacts", "id": contacts[3]["id"], "op": "delete"},
        *[
            {"system": "billing", "table": "customers", "id": c["id"], "set": {"name": f"Edited Billing {i}"}}
            for i, c in enumerate(customers[:2])
        ],
        {"system": "billing", "table": "customers", "id": customers[2]["id"], "op": "delete"},
        {"system": "support", "table": "users", "id": users[0]["id"], "set": {"name": "Edited Support"}},
        {"system": "support", "table": "users", "id": users[1]["id"], "op": "delete"},
        {"system": "erp", "table": "res_partner", "id": partner["id"], "set": {"name": "Edited Partner"}},
    ]
    assert all(result["changed"] for result in control.apply_edits(settings, edits))
    time.sleep(1.1)

    result = run_extract(settings, warehouse, progress=False)

    assert merge_rows(result) == {
        "crm.contacts": 4,
        "crm.companies": 0,
        "billing.customers": 3,
        "support.users": 2,
        "support.organizations": 0,
        "erp.res_partner": 1,
    }
    crm = dict(
        fetch_rows(
            warehouse,
            "select id, coalesce(properties__firstname, '') || '|' || archived from raw_crm.contacts",
        )
    )
    assert [crm[c["id"]] for c in contacts] == [
        "Edited0|false",
        "Edited1|false",
        "Edited2|false",
        f"{contacts[3]['properties']['firstname'] or ''}|true",
    ]
    billing = dict(fetch_rows(warehouse, "select id, name || '|' || deleted from raw_billing.customers"))
    assert [billing[c["id"]] for c in customers] == [
        "Edited Billing 0|false",
        "Edited Billing 1|false",
        f"{customers[2]['name']}|true",
    ]
    support = dict(fetch_rows(warehouse, "select id, name || '|' || active from raw_support.users"))
    assert [support[u["id"]] for u in users] == ["Edited Support|true", f"{users[1]['name']}|false"]
    erp = dict(fetch_rows(warehouse, "select id, name from raw_erp.res_partner"))
    assert erp[partner["id"]] == "Edited Partner"


def test_concurrent_landing_lands_the_same_rows_as_sequential(
    settings: Settings, warehouse: database.Database, first_landing: ExtractResult
) -> None:
    sequential = run_extract(settings, warehouse, full_refresh=True, progress=False, parallelism=1)
    one_by_one = every_row(warehouse)

    concurrent = run_extract(settings, warehouse, full_refresh=True, progress=False)

    assert (sequential.parallelism, concurrent.parallelism) == (1, len(SOURCES))
    landed = every_row(warehouse)
    assert set(landed) >= set(BUSINESS_COLUMNS)
    assert all(landed[table] for table in BUSINESS_COLUMNS)
    assert {table: len(rows) for table, rows in landed.items()} == {
        table: len(rows) for table, rows in one_by_one.items()
    }
    assert landed == one_by_one
    for source in SOURCES:
        assert concurrent.source(source).tables == sequential.source(source).tables
        assert concurrent.source(source).nested_tables == sequential.source(source).nested_tables
    # the run's time is wall-clock: sources overlap, so it is less than their sum
    assert concurrent.seconds < sum(result.seconds for result in concurrent.sources)


def test_a_failing_source_is_named_and_the_others_still_land(
    settings: Settings,
    warehouse: database.Database,
    first_landing: ExtractResult,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    customer = next(r for r in control.records(settings, "billing", "customers") if not r.get("deleted"))
    time.sleep(1.1)  # the edit lands in a later second than anything landed before
    edit = {"system": "billing", "table": "customers", "id": customer["id"], "set": {"name": "Still Landed"}}
    assert control.apply_edits(settings, [edit])[0]["changed"]
    time.sleep(1.1)
    monkeypatch.setenv("SOURCES__CRM__API_TOKEN", "not-the-token")

    with pytest.raises(UserError) as caught:
        run_extract(settings, warehouse, progress=False)

    message = str(caught.value)
    assert "source crm" in message and "HTTP 401" in message
    assert "landed: billing (1 rows), support (0 rows), erp (" in message
    billing = dict(fetch_rows(warehouse, "select id, name from raw_billing.customers"))
    assert billing[customer["id"]] == "Still Landed"


def test_faults_land_the_same_rows_as_a_clean_landing(
    settings: Settings,
    warehouse: database.Database,
    first_landing: ExtractResult,
    simulators: Simulators,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clean = all_hashes(warehouse)
    simulators.set_config(fault_rate=0.2, slow_fault_seconds=2.0)
    assert control.get_config(settings, "support")["fault_rate"] == 0.2
    for system in ("CRM", "BILLING", "SUPPORT"):
        monkeypatch.setenv(f"SOURCES__{system}__REQUEST_TIMEOUT", "1.0")
    try:
        result = run_extract(settings, warehouse, full_refresh=True, progress=False)
    finally:
        simulators.restore_config()
    assert result.rows > 0
    assert differences(all_hashes(warehouse), clean) == {}


def test_a_killed_extract_is_finished_by_the_next_run(
    settings: Settings, warehouse: database.Database, first_landing: ExtractResult, simulators: Simulators
) -> None:
    clean = all_hashes(warehouse)
    simulators.set_config(latency_ms=40)
    env = {**os.environ, "CUSTOMER_SYNC_HOME": str(settings.home)}
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "customer_sync.cli", "extract", "--full-refresh", "--json"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # killed as soon as one source is loading (a normalized package waits in its pipeline), while the
        # slowed-down others are still extracting: every step has work in flight
        pending = settings.home / "dlt"
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            if any(pending.glob("customer_sync_*/load/normalized/*")):
                break
            time.sleep(0.02)
        assert process.poll() is None, "the extract finished before it could be killed; raise the latency"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        simulators.restore_config()

    run_extract(settings, warehouse, progress=False)
    assert differences(all_hashes(warehouse), clean) == {}


def test_extract_cli_prints_json_and_rejects_unknown_sources(
    settings: Settings, first_landing: ExtractResult
) -> None:
    env = {**os.environ, "CUSTOMER_SYNC_HOME": str(settings.home)}
    ok = subprocess.run(
        [sys.executable, "-m", "customer_sync.cli", "extract", "--source", "billing", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ok.returncode == 0, ok.stderr
    body = json.loads(ok.stdout.strip().splitlines()[-1])
    assert list(body["sources"]) == ["billing"]
    assert body["sources"]["billing"]["tables"] == {"customers": 0}
    bad = subprocess.run(
        [sys.executable, "-m", "customer_sync.cli", "extract", "--source", "nope"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert "nope" in bad.stderr
