"""Push back end to end: simulators -> extract -> build -> sync, in worlds of their own.

One world runs the scenarios in order (first cycle, a quiet second cycle, a refused concurrent sync, a
person's edit racing the push, a sync killed midway); a second world with the same seed runs under 20%
faults and must end in the same state. Each world has its own simulators and database (fixtures/sync.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import pytest

from customer_sync.sync.locks import target_lock
from customer_sync.sync.model import same_value
from customer_sync.sync.targets.billing import flatten
from tests.python.fixtures.sync import SyncWorld

pytestmark = pytest.mark.e2e

PERSONS = 250
SEED = 11
SYSTEM_TABLES = {
    ("crm", "contacts"): "contacts",
    ("crm", "companies"): "companies",
    ("billing", "customers"): "customers",
    ("support", "users"): "users",
    ("support", "organizations"): "organizations",
    ("erp", "res_partner"): "res_partner",
}
# fields that move on every write (clocks), left out when two worlds' states are compared
VOLATILE = {"lastmodifieddate", "hs_lastmodifieddate", "updatedAt", "updated_at", "write_date", "url"}


def native_values(system: str, record: dict[str, Any]) -> dict[str, str | None]:
    """A simulator record as the native field names the reverse-ETL models use."""
    if system == "crm":
        return dict(record.get("properties") or {})
    if system == "billing":
        return flatten(record)
    return {key: (None if value is None else str(value)) for key, value in record.items()}


def system_state(world: SyncWorld) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Every record of every system, business fields only."""
    state = {}
    for (system, table), name in SYSTEM_TABLES.items():
        for record in world.records(system, name):
            values = native_values(system, record)
            state[(system, table, str(record["id"]))] = {k: v for k, v in values.items() if k not in VOLATILE}
    return state


def planned_writes(world: SyncWorld) -> list[tuple[str, str, str, str, str, str]]:
    """(system, object, record, field, native field, new value) the models planned (reverse_etl.*_changes)."""
    rows = []
    for target in ("crm", "billing", "support", "erp"):
        rows += world.query(
            "select target_system, object_type, source_record_id, field, native_field, new_value "
            f"from reverse_etl.{target}_changes"
        )
    return rows


def applied_writes_per_record(world: SyncWorld, system: str) -> Counter[str]:
    """How many writes that took effect touched each record, read from the system's own write log."""
    counts: Counter[str] = Counter()
    for write in world.writes(system):
        if write.get("fault") in ("server_error", "dropped", "rate_limited"):
            continue  # refused before anything was written
        if write.get("status") is not None and write["status"] >= 300:
            continue
        path = write["path"]
        if system == "crm" and path.endswith("/batch/update"):
            ids = [str(item["id"]) for item in json.loads(write["body"])["inputs"]]
        elif system == "billing" and write["method"] == "POST" and path.startswith("/v1/customers/cus_"):
            ids = [path.rsplit("/", 1)[-1]]
        elif system == "support" and path.endswith("/update_many"):
            body = json.loads(write["body"])
            ids = [str(item["id"]) for item in body.get("users", body.get("organizations", []))]
        elif system == "erp" and write["method"] == "UPDATE":
            ids = write["changed"]
        else:
            continue
        counts.update(ids)
    return counts


def sync_counts(result: Any) -> dict[str, dict[str, int]]:
    return {target: counts for target, counts in result.as_dict()["sync"].items()}


@pytest.fixture(scope="module")
def world(sync_world_factory) -> SyncWorld:  # type: ignore[no-untyped-def]
    return sync_world_factory("main", persons=PERSONS, seed=SEED)


@pytest.fixture(scope="module")
def first_cycle(world: SyncWorld) -> dict[str, Any]:
    results = world.cycle()
    results["planned"] = planned_writes(world)
    results["state"] = system_state(world)
    return results


def test_a_full_build_writes_each_records_comparison_rows_side_by_side(
    world: SyncWorld, first_cycle: dict[str, Any]
) -> None:
    # the first build compares every record; a later build that compares a record again reads and
    # rewrites its 16 rows, which lie on one page or two (a page holds about 40 of them; a short row
    # may fill the end of an earlier page), not on a page per field
    ((records, pages_per_record),) = world.query(
        "select count(*), avg(pages)::float from ("
        " select record_id, count(distinct (ctid::text::point)[0]) as pages"
        " from reverse_etl.sync_field_comparisons group by record_id) as per_record"
    )
    assert records > PERSONS
    assert pages_per_record < 2, f"a record's comparison rows lie on {pages_per_record:.1f} pages on average"


def test_first_cycle_writes_golden_ids_and_hub_values(world: SyncWorld, first_cycle: dict[str, Any]) -> None:
    result = first_cycle["sync"]
    counts = sync_counts(result)
    assert result.status == "succeeded", counts
    assert all(counts[t]["applied"] > 0 for t in ("crm", "billing", "support", "erp")), counts
    assert all(counts[t]["failed"] == 0 and counts[t]["deferred"] == 0 for t in counts), counts
    # every live record covered by the golden record carries its golden id (unique ids: on the holder)
    golden_ids = {
        (system, table, record_id): customer_id
        for system, table, record_id, customer_id in world.query(
            "select target_system, object_type, source_record_id, golden_value from "
            "reverse_etl.sync_field_comparisons where field = 'golden_id' and is_golden_id_holder"
        )
    }
    field_of = {
        "crm": "mdm_golden_id",
        "billing": "metadata[golden_id]",
        "support": "external_id",
        "erp": "ref",
    }
    state = first_cycle["state"]
    assert len(golden_ids) > PERSONS
    missing = [key for key, gid in golden_ids.items() if state[key].get(field_of[key[0]]) != gid]
    assert not missing, f"{len(missing)} records lack their golden id, e.g. {missing[:3]}"
    # every planned value is in the system, in its format (values equal after standardization were not
    # planned: the quiet cycle below shows nothing differs any more)
    assert len(first_cycle["planned"]) > len(golden_ids)
    wrong = [
        row
        for row in first_cycle["planned"]
        if not same_value(state[(row[0], row[1], row[2])].get(row[4]), row[5])
    ]
    assert not wrong, f"{len(wrong)} planned values not in the systems, e.g. {wrong[:3]}"
    # one write per record: nothing was applied twice
    for system in ("crm", "billing", "support", "erp"):
        doubles = {k: n for k, n in applied_writes_per_record(world, system).items() if n > 1}
        assert not doubles, f"{system}: records written more than once: {doubles}"


def test_every_built_model_and_column_is_documented(world: SyncWorld, first_cycle: dict[str, Any]) -> None:
    """Each model the cycle built has a description, and so has every column its table or view has."""
    from customer_sync.dbt_runner import dbt_paths

    target_path, _ = dbt_paths(world.settings)
    manifest = json.loads((target_path / "manifest.json").read_text())
    columns_of: dict[tuple[str, str], set[str]] = {}
    for schema, table, column in world.query(
        "select table_schema, table_name, column_name from information_schema.columns"
    ):
        columns_of.setdefault((schema, table), set()).add(column)
    undocumented = []
    checked = 0
    for node in manifest["nodes"].values():
        if node["resource_type"] not in ("model", "snapshot") or not node["config"].get("enabled", True):
            continue
        relation = (node["schema"], node["alias"])
        if relation not in columns_of:
            continue
        checked += 1
        if not node.get("description", "").strip():
            undocumented.append(node["name"])
        documented = {name for name, col in node["columns"].items() if col.get("description", "").strip()}
        if node["resource_type"] == "snapshot":
            # a snapshot copies its model's columns: those are documented on the model
            for parent in node["depends_on"]["nodes"]:
                parent_columns = manifest["nodes"][parent]["columns"]
                documented |= {n for n, col in parent_columns.items() if col.get("description", "").strip()}
        undocumented += [f"{node['name']}.{c}" for c in sorted(columns_of[relation] - documented)]
    assert checked >= 30, f"only {checked} built models found in the manifest"
    assert not undocumented, f"undocumented: {undocumented}"


def test_two_syncs_of_one_target_one_is_refused(world: SyncWorld, first_cycle: dict[str, Any]) -> None:
    env = {
        **os.environ,
        "CUSTOMER_SYNC_HOME": str(world.settings.home),
        "CUSTOMER_SYNC_DATABASE_URL": world.db.url,
    }
    with world.env(), target_lock(world.db, "crm"):
        env.update({k: v for k, v in os.environ.items() if k.startswith("SOURCES__")})
        done = subprocess.run(
            [sys.executable, "-m", "customer_sync.cli", "sync", "--target", "crm", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1, done.stderr
    assert "another sync of target crm is running" in done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["status"] == "refused"


XREF_QUERY = "select record_id, customer_id from marts.customer_xref order by record_id"


@pytest.fixture(scope="module")
def settled(world: SyncWorld, first_cycle: dict[str, Any]) -> dict[str, Any]:
    """The cycle right after the first: it lands what the first sync wrote (every record it touched)."""
    xref_before = world.query(XREF_QUERY)
    results = world.cycle()
    return {
        "build": results["build"],
        "sync": results["sync"],
        "xref_before": xref_before,
        "xref_after": world.query(XREF_QUERY),
    }


def test_the_write_back_settles_in_one_cycle(world: SyncWorld, settled: dict[str, Any]) -> None:
    """Landing the hub's own writes changes no golden record and no match: the next sync writes nothing."""
    counts = sync_counts(settled["sync"])
    planned = {t: c["planned"] for t, c in counts.items()}
    assert planned == {t: 0 for t in ("crm", "billing", "support", "erp")}, (counts, planned_writes(world))
    moved = set(settled["xref_after"]) ^ set(settled["xref_before"])
    assert not moved, f"{len(moved)} xref rows changed, e.g. {sorted(moved)[:4]}"


def test_the_seeds_tests_run_in_the_build_that_loads_the_seeds_only(
    world: SyncWorld, first_cycle: dict[str, Any], settled: dict[str, Any]
) -> None:
    """The first build loads the seeds and runs every test; the next one finds them loaded and leaves
    out exactly the tests defined in seeds/*.yml whose every parent is a seed (read from dbt's manifest),
    and the tests whose rule the kept tables now enforce: in a first build only the landed sources' (no
    model's table is kept yet), in the next the incremental models' too."""
    from customer_sync.dbt_runner import dbt_paths

    first, later = first_cycle["build"], settled["build"]
    assert "seed" in first["step_seconds"] and "seed" not in later["step_seconds"]
    manifest = json.loads((dbt_paths(world.settings)[0] / "manifest.json").read_text())
    seed_tests = [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        and node["original_file_path"].startswith("seeds/")
        and all(parent.startswith("seed.") for parent in node["depends_on"]["nodes"])
    ]
    assert len(seed_tests) > 10
    sources_not_null = [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test" and node["name"].startswith("source_not_null_")
    ]
    assert first["tests_enforced_by_tables"] == len(sources_not_null) > 0
    assert later["tests_enforced_by_tables"] >= 40 + len(sources_not_null)
    left_out = later["tests_enforced_by_tables"] - first["tests_enforced_by_tables"]
    assert first["tests"] - later["tests"] == len(seed_tests) + left_out


@pytest.fixture(scope="module")
def pending(world: SyncWorld, first_cycle: dict[str, Any], settled: dict[str, Any]) -> dict[str, Any]:
    """Work for the hub, then a person's edit racing it, then a sync killed midway and resumed.

    A CRM contact loses its golden id and 40 billing customers lose theirs (as a person clearing the
    fields would); after extract and build the hub plans to restore them. Before the sync, a person
    changes the contact's phone. A sync of billing is killed midway (SIGKILL), then a full sync resumes,
    planning three records at a time.
    """
    # a CRM contact that is its customer's only CRM record, whose phone won survivorship
    (record_id, customer_id, phone) = world.query(
        """
        select c.source_record_id, c.customer_id, d.phone
        from reverse_etl.sync_field_comparisons as c
        inner join marts.dim_customer as d on c.customer_id = d.customer_id
        where c.target_system = 'crm' and c.object_type = 'contacts' and c.field = 'golden_id'
          and d.phone is not null and d.phone_source = c.record_id
          and (select count(*) from marts.customer_xref as x
               where x.customer_id = c.customer_id and x.source_system = 'crm') = 1
          and (select count(*) from marts.customer_xref as x
               where x.customer_id = c.customer_id and x.source_system in ('billing', 'support', 'erp')) > 0
        order by c.source_record_id
        limit 1
        """
    )[0]
    customers = sorted(
        r["id"] for r in world.records("billing", "customers") if (r.get("metadata") or {}).get("golden_id")
    )[:40]
    world.edit(
        [{"system": "crm", "table": "contacts", "id": record_id, "set": {"mdm_golden_id": ""}}]
        + [
            {"system": "billing", "table": "customers", "id": c, "set": {"metadata": {"golden_id": ""}}}
            for c in customers
        ]
    )
    world.cycle(steps=("extract", "build"))
    planned_crm = world.query(
        "select count(*) from reverse_etl.crm_changes where source_record_id = %s", (record_id,)
    )
    planned_billing = {
        row[0] for row in world.query("select source_record_id from reverse_etl.billing_changes")
    }
    new_phone = phone[:-1] + ("1" if phone[-1] != "1" else "2")
    world.edit([{"system": "crm", "table": "contacts", "id": record_id, "set": {"phone": new_phone}}])

    billing_before = applied_writes_per_record(world, "billing")
    world.set_config(system="billing", latency_ms=150)
    code = (
        "from customer_sync.config import Settings, PROJECT_DIR; from customer_sync.db import Database; "
        "from customer_sync.sync import run_sync; import sys, pathlib; "
        "run_sync(Settings(PROJECT_DIR, pathlib.Path(sys.argv[1]), None), Database(sys.argv[2], True), "
        "targets=['billing'], progress=False)"
    )
    ((last_run,),) = world.query("select max(run_id) from ops.sync_runs")
    with world.env():
        # batches of 5, so that the ledger records progress before the kill
        worker = subprocess.Popen(
            [sys.executable, "-c", code, str(world.settings.home), world.db.url],
            env={**os.environ, "CUSTOMER_SYNC_BILLING_BATCH_SIZE": "5"},
        )
    applied_query = (
        "select count(*) from ops.sync_operations where target = 'billing' and status = 'applied' "
        f"and run_id = (select max(run_id) from ops.sync_runs where run_id > '{last_run}')"
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and world.query(applied_query)[0][0] < 8:
            time.sleep(0.1)
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.wait(timeout=30)
    (killed_applied,) = world.query(applied_query)[0]
    world.set_config(system="billing", latency_ms=0)
    with pytest.MonkeyPatch.context() as patch:
        # three records at a time: the resumed run takes the killed run's work over chunk by chunk
        patch.setenv("CUSTOMER_SYNC_SYNC_CHUNK_RECORDS", "3")
        resumed = world.cycle(steps=("sync",))["sync"]
    return {
        "record_id": record_id,
        "customer_id": customer_id,
        "new_phone": new_phone,
        "customers": customers,
        "planned_crm": planned_crm[0][0],
        "planned_billing": planned_billing,
        "worker_returncode": worker.returncode,
        "killed_applied": killed_applied,
        "billing_before": billing_before,
        "resumed": resumed,
    }


def test_edit_after_landing_is_deferred_never_overwritten(world: SyncWorld, pending: dict[str, Any]) -> None:
    record_id = pending["record_id"]
    assert pending["planned_crm"] >= 1, "the hub had the golden id to push to the contact"
    assert sync_counts(pending["resumed"])["crm"]["deferred"] == 1
    ((status, reason),) = world.query(
        "select status, error from ops.sync_operations where run_id = %s and record_id = %s",
        (pending["resumed"].run_id, record_id),
    )
    assert status == "deferred" and "changed in the target" in reason
    contact = {str(r["id"]): r for r in world.records("crm", "contacts")}[record_id]
    assert contact["properties"]["phone"] == pending["new_phone"]
    assert not contact["properties"].get("mdm_golden_id")


def test_sync_killed_midway_resumes_without_writing_twice(world: SyncWorld, pending: dict[str, Any]) -> None:
    chosen = pending["customers"]
    assert set(chosen) <= pending["planned_billing"] and len(chosen) == 40
    assert pending["worker_returncode"] == -signal.SIGKILL
    planned = len(pending["planned_billing"])
    assert 8 <= pending["killed_applied"] < planned, "the kill must land midway"
    counts = sync_counts(pending["resumed"])["billing"]
    assert counts["planned"] == planned - pending["killed_applied"], "the resumed run takes over the rest"
    assert counts["failed"] == 0
    metadata = {
        r["id"]: (r.get("metadata") or {}).get("golden_id") for r in world.records("billing", "customers")
    }
    assert all(metadata[c] for c in chosen)
    after = applied_writes_per_record(world, "billing")
    assert {c: after[c] - pending["billing_before"][c] for c in chosen} == dict.fromkeys(chosen, 1)
    assert not world.query("select run_id from ops.sync_runs where status = 'running'"), "killed run closed"


def _comparison_row_versions(world: SyncWorld, customer_id: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(record_id, field) -> (the row's version, its values) for a customer's rows of
    sync_field_comparisons: a row written again has a new version (xmin)."""
    rows = world.query(
        "select record_id, field, xmin::text, to_jsonb(c)::text"
        " from reverse_etl.sync_field_comparisons as c where customer_id = %s",
        (customer_id,),
    )
    return {(record_id, field): (version, values) for record_id, field, version, values in rows}


@pytest.fixture(scope="module")
def propagated(world: SyncWorld, pending: dict[str, Any]) -> dict[str, Any]:
    """The cycle after the pending work: it lands the person's phone edit. The customer's comparison rows
    are read before and after it."""
    before = _comparison_row_versions(world, pending["customer_id"])
    world.cycle()
    return {"before": before, "after": _comparison_row_versions(world, pending["customer_id"])}


def test_next_cycle_takes_the_edit_in_and_propagates_it(
    world: SyncWorld, pending: dict[str, Any], propagated: dict[str, Any]
) -> None:
    record_id, customer_id, new_phone = pending["record_id"], pending["customer_id"], pending["new_phone"]
    # CRM phone is shared (newest) and first in survivorship: the golden record takes the edit
    ((golden_phone,),) = world.query(
        "select phone from marts.dim_customer where customer_id = %s", (customer_id,)
    )
    assert golden_phone == new_phone
    contact = {str(r["id"]): r for r in world.records("crm", "contacts")}[record_id]
    assert contact["properties"]["phone"] == new_phone
    assert contact["properties"]["mdm_golden_id"] == customer_id
    others = world.query(
        "select source_system, source_record_id from marts.customer_xref "
        "where customer_id = %s and source_system in ('billing', 'support', 'erp')",
        (customer_id,),
    )
    tables = {"billing": "customers", "support": "users", "erp": "res_partner"}
    assert others
    for system, other_id in others:
        records = {str(r["id"]): r for r in world.records(system, tables[system])}
        assert native_values(system, records[other_id]).get("phone") == new_phone, (system, other_id)


def test_a_changed_golden_value_rewrites_only_the_comparison_rows_it_changes(
    propagated: dict[str, Any],
) -> None:
    # the customer's rows were all compared again (its golden record changed), but only the rows whose
    # values changed were written again (upsert_changed_rows): among them every record's phone row (the
    # new golden phone); the others kept their row version
    before, after = propagated["before"], propagated["after"]
    assert before.keys() == after.keys()
    rewritten = {key for key, (version, _) in after.items() if version != before[key][0]}
    changed = {key for key, (_, values) in after.items() if values != before[key][1]}
    assert rewritten == changed
    assert {(record_id, "phone") for record_id, _ in before} <= changed
    assert len(rewritten) < len(before), "every row of the customer was written again"


def test_a_cycle_with_no_outside_change_does_nothing(world: SyncWorld, pending: dict[str, Any]) -> None:
    before = system_state(world)
    result = world.cycle()["sync"]
    counts = sync_counts(result)
    assert {t: (c["planned"], c["applied"]) for t, c in counts.items()} == {
        t: (0, 0) for t in ("crm", "billing", "support", "erp")
    }, counts
    assert system_state(world) == before


# the incremental models, and the columns that say how and when each row was built: the fingerprint of
# the SQL, and the time of the build that keyed a record or paired a pair (a rebuild has its own)
INCREMENTAL_TABLES = {
    "identity.int_customer_entered_records": ("entered_by", "built_at"),
    "identity.int_customer_records": ("keyed_by", "recorded_at"),
    "identity.int_customer_blocking_keys": ("blocked_by", "keyed_at", "recorded_at"),
    "identity.int_customer_pairs": ("paired_by", "paired_at"),
    "identity.int_customer_pair_comparisons": ("compared_by", "paired_at"),
    "identity.int_customer_name_frequencies": ("counted_by", "counted_at"),
    "identity.int_customer_pair_scores": ("scored_by", "paired_at", "scored_at"),
    "identity.int_customer_components": ("labelled_by",),
    "identity.int_customer_record_change_times": ("timed_by", "ledger_read_through", "timed_at"),
    "identity.int_customer_field_winners": ("chosen_by", "chosen_at"),
    "marts.dim_customer": ("built_by", "built_at"),
    "reverse_etl.sync_field_comparisons": ("compared_by", "compared_at"),
    **{
        f"reverse_etl.{target}_desired_state": ("planned_by", "compared_at")
        for target in ("crm", "billing", "support", "erp")
    },
}


def test_a_renamed_contact_scores_again_its_pairs_and_those_sharing_its_old_name(
    world: SyncWorld, pending: dict[str, Any]
) -> None:
    """A CRM contact whose name two other records share (a pair of them scored with that shared name)
    is renamed. The build compares and scores the contact's pairs again, and the pair of the two others
    too, though neither record changed: their name is now one record rarer, which moves its weight. No
    other pair is scored again (int_customer_pair_scores is incremental); the equality with a full
    rebuild is test_incremental_models_equal_a_full_rebuild_after_cycles'."""
    ((record_id, contact_id, name, pair_l, pair_r, weight, count),) = world.query(
        "select records.record_id, xref.source_record_id, records.name_tokens_sorted,"
        " scores.record_id_l, scores.record_id_r, scores.name_frequency_weight, names.records_with_name"
        " from identity.int_customer_records as records"
        " inner join marts.customer_xref as xref on records.record_id = xref.record_id"
        " inner join identity.int_customer_pair_comparisons as comparisons"
        "   on comparisons.entity_type = records.entity_type"
        "   and comparisons.shared_name_tokens = records.name_tokens_sorted"
        "   and records.record_id not in (comparisons.record_id_l, comparisons.record_id_r)"
        " inner join identity.int_customer_pair_scores as scores"
        "   on comparisons.record_id_l = scores.record_id_l and comparisons.record_id_r = scores.record_id_r"
        " inner join identity.int_customer_name_frequencies as names"
        "   on names.entity_type = records.entity_type"
        "   and names.name_tokens_sorted = records.name_tokens_sorted"
        " where xref.source_system = 'crm' and xref.source_table = 'contacts'"
        " and records.entity_type = 'person'"
        " order by records.record_id, scores.record_id_l, scores.record_id_r limit 1"
    )
    pair_scored_at = (
        "select scored_at, name_frequency_weight from identity.int_customer_pair_scores"
        " where record_id_l = %s and record_id_r = %s"
    )
    ((scored_before, _),) = world.query(pair_scored_at, (pair_l, pair_r))
    ((pairs,),) = world.query("select count(*) from identity.int_customer_pair_scores")
    world.edit(
        [
            {
                "system": "crm",
                "table": "contacts",
                "op": "update",
                "id": contact_id,
                "set": {"firstname": "Quillon", "lastname": "Vantablack"},
            }
        ]
    )
    world.cycle(steps=("extract", "build"))
    ((renamed,),) = world.query(
        "select name_tokens_sorted from identity.int_customer_records where record_id = %s", (record_id,)
    )
    assert renamed != name
    names = (
        "select records_with_name from identity.int_customer_name_frequencies"
        " where entity_type = 'person' and name_tokens_sorted = %s"
    )
    assert world.query(names, (name,)) == ([(count - 1,)] if count > 1 else [])
    ((scored_after, new_weight),) = world.query(pair_scored_at, (pair_l, pair_r))
    assert scored_after > scored_before, "the pair sharing the old name was not scored again"
    cap = 2.0  # var('name_frequency_weight_cap'): a name one record rarer weighs more, up to the cap
    assert new_weight > weight or weight == cap, (weight, new_weight)
    ((rescored,),) = world.query(
        "select count(*) from identity.int_customer_pair_scores where scored_at = %s", (scored_after,)
    )
    assert 0 < rescored < pairs / 10, (rescored, pairs)


def test_a_build_that_replaces_most_of_a_table_rewrites_it_with_its_indexes(
    world: SyncWorld, pending: dict[str, Any]
) -> None:
    """A build whose new rows outnumber var('rewrite_min_share') of a table's rewrites the table
    (macros/delete_insert_by_index.sql): emptied, so Postgres gives it a new file, and refilled with
    its kept and new rows, with every index as it was. Here the share is set so low that one renamed
    contact rewrites every table it reaches; that the rewritten tables still equal a full rebuild is
    test_incremental_models_equal_a_full_rebuild_after_cycles' (run after this one)."""
    from customer_sync.build import run_build

    files = (
        "select relname, relfilenode from pg_catalog.pg_class where oid = any(array[%s, %s, %s]::regclass[])"
    )
    rewritten = (
        "identity.int_customer_records",
        "identity.int_customer_pair_comparisons",
        "identity.int_customer_pair_scores",
    )
    indexes = (
        "select schemaname, tablename, indexname, indexdef from pg_catalog.pg_indexes"
        " where schemaname || '.' || tablename = any(%s)"
    )
    tables = list(INCREMENTAL_TABLES)
    indexes_before = set(world.query(indexes, (tables,)))
    files_before = dict(world.query(files, rewritten))
    ((contact_id,),) = world.query(
        "select xref.source_record_id from marts.customer_xref as xref"
        " inner join identity.int_customer_pair_comparisons as comparisons"
        "   on xref.record_id in (comparisons.record_id_l, comparisons.record_id_r)"
        " where xref.source_system = 'crm' and xref.source_table = 'contacts'"
        " order by xref.record_id desc limit 1"
    )
    world.edit(
        [
            {
                "system": "crm",
                "table": "contacts",
                "op": "update",
                "id": contact_id,
                "set": {"lastname": "Orrery"},
            }
        ]
    )
    world.cycle(steps=("extract",))
    with world.env():
        run_build(
            world.settings,
            world.db,
            progress=False,
            enforced_tests=False,
            dbt_vars={"rewrite_min_share": 0.0001},
        )
    files_after = dict(world.query(files, rewritten))
    assert all(files_after[name] != files_before[name] for name in files_before), (files_before, files_after)
    assert set(world.query(indexes, (tables,))) == indexes_before
    assert len(indexes_before) > len(tables), "every incremental table has its unique key's index and more"


def _table_contents(world: SyncWorld, table: str, build_columns: tuple[str, ...]) -> Counter:
    schema, name = table.split(".")
    columns = [
        column
        for (column,) in world.query(
            "select column_name from information_schema.columns"
            " where table_schema = %s and table_name = %s and column_name <> all(%s) order by column_name",
            (schema, name, list(build_columns)),
        )
    ]
    # as text: an array (a record's name grams) would come back as a list, which a Counter cannot count
    return Counter(world.query(f"select {', '.join(f'{column}::text' for column in columns)} from {table}"))


def test_incremental_models_equal_a_full_rebuild_after_cycles(
    world: SyncWorld, pending: dict[str, Any]
) -> None:
    from customer_sync.dbt_runner import run_dbt

    # after several cycles of edits, write-backs and their echoes, built a record or a pair at a time
    incremental = {
        table: _table_contents(world, table, column) for table, column in INCREMENTAL_TABLES.items()
    }
    run_dbt(
        world.settings,
        world.db,
        "run",
        select=[table.split(".")[1] for table in INCREMENTAL_TABLES],
        extra_args=["--full-refresh"],
    )
    for table, column in INCREMENTAL_TABLES.items():
        rebuilt = _table_contents(world, table, column)
        assert rebuilt, table
        assert incremental[table] == rebuilt, (
            table,
            incremental[table] - rebuilt,
            rebuilt - incremental[table],
        )


def _copy_rows(world: SyncWorld, table: str, key_column: str, key: str, replaced: dict[str, Any]) -> None:
    """Insert a copy of the rows of `table` whose `key_column` is `key`, with the `replaced` values."""
    pairs = ", ".join(f"'{column}', %s::text" for column in replaced)
    world.query(
        f"insert into {table} select (jsonb_populate_record(null::{table}, to_jsonb(t)"
        f" || jsonb_build_object({pairs}))).* from {table} as t where t.{key_column} = %s returning 1",
        (*replaced.values(), key),
    )


def test_a_deleted_records_comparison_rows_leave_by_the_record_key_log(
    world: SyncWorld, pending: dict[str, Any]
) -> None:
    """A contact deleted in the CRM leaves sync_field_comparisons by the record id int_customer_records
    logs (macros/record_key_log.sql; the crosswalk has a row per record of it), not by an anti-join of
    the comparison rows with the crosswalk: a row the log never named stays until a build reads both
    tables whole, and an incremental build still equals a full one."""
    ((record_id, contact_id),) = world.query(
        "select record_id, source_record_id from marts.customer_xref"
        " where source_system = 'crm' and source_table = 'contacts' order by record_id limit 1"
    )
    rows_of = "select count(*) from reverse_etl.sync_field_comparisons where record_id = %s"
    assert world.query(rows_of, (record_id,))[0][0] > 1
    ghost = "crm:contacts:ghost"
    # the rows of a record no table ever had: the log cannot name it
    _copy_rows(
        world,
        "reverse_etl.sync_field_comparisons",
        "record_id",
        record_id,
        {"record_id": ghost, "source_record_id": ghost},
    )
    world.edit([{"system": "crm", "table": "contacts", "op": "delete", "id": contact_id}])
    world.cycle(steps=("extract", "build"))
    logged = "select count(*) from identity.record_key_log where model = %s and event = %s and record_id = %s"
    assert world.query(logged, ("int_customer_records", "deleted", record_id)) == [(1,)]
    assert world.query(rows_of, (record_id,)) == [(0,)], "by the log: the deleted record's rows"
    assert world.query(rows_of, (ghost,))[0][0] > 0, "a row the log never named was read by the log alone"

    from customer_sync.dbt_runner import run_dbt

    world.query("delete from reverse_etl.sync_field_comparisons where record_id = %s returning 1", (ghost,))
    built = "reverse_etl.sync_field_comparisons"
    incremental = _table_contents(world, built, INCREMENTAL_TABLES[built])
    run_dbt(
        world.settings, world.db, "run", select=["sync_field_comparisons+"], extra_args=["--full-refresh"]
    )
    assert incremental == _table_contents(world, built, INCREMENTAL_TABLES[built])


def test_a_retired_customers_rows_leave_by_its_golden_id_tombstone(
    world: SyncWorld, pending: dict[str, Any]
) -> None:
    """A contact that was a customer alone is deleted in the CRM: its customer is retired, with a
    tombstone row in int_customer_golden_ids stamped by that build. Survivorship and dim_customer delete
    the customers no longer active among the golden id rows stamped since they last built, and
    crm_desired_state the records the record key log names: rows of a customer or a record that neither
    ever named stay (read by those alone, not by an anti-join of every built row), and each table still
    equals a full rebuild. (dim_customer takes no such row: the data tests hold it to the crosswalk.)"""
    ((record_id, contact_id, customer_id),) = world.query(
        "select xref.record_id, xref.source_record_id, xref.customer_id from marts.customer_xref as xref"
        " where xref.source_system = 'crm' and xref.source_table = 'contacts'"
        " and xref.customer_record_count = 1"
        " and exists (select 1 from reverse_etl.crm_desired_state as d where d.record_id = xref.record_id)"
        " order by xref.record_id limit 1"
    )
    ghost_customer, ghost_record = "G9999999999", "crm:contacts:ghost"
    copies = {
        "identity.int_customer_field_winners": ("customer_id", customer_id, ghost_customer),
        "marts.dim_customer": ("customer_id", customer_id, None),
        "reverse_etl.crm_desired_state": ("record_id", record_id, ghost_record),
    }
    ghosts = {table: copy for table, copy in copies.items() if copy[2] is not None}
    for table, (column, of, ghost) in ghosts.items():
        _copy_rows(world, table, column, of, {column: ghost})
    world.edit([{"system": "crm", "table": "contacts", "op": "delete", "id": contact_id}])
    world.cycle(steps=("extract", "build"))
    tombstone = "select is_active from identity.int_customer_golden_ids where record_id = %s"
    assert world.query(tombstone, (f"retired:{customer_id}",)) == [(False,)]
    for table, (column, of, ghost) in copies.items():
        rows_of = f"select count(*) from {table} where {column} = %s"
        assert world.query(rows_of, (of,)) == [(0,)], (table, "the retired customer's or record's rows")
        if ghost is not None:
            assert world.query(rows_of, (ghost,))[0][0] > 0, (table, "a row never named was read anyway")

    from customer_sync.dbt_runner import run_dbt

    for table, (column, _, ghost) in ghosts.items():
        world.query(f"delete from {table} where {column} = %s returning 1", (ghost,))
    built = {table: _table_contents(world, table, INCREMENTAL_TABLES[table]) for table in copies}
    # crm_changes too: it was built from the ghost's desired rows
    names = [table.split(".")[1] for table in copies] + ["crm_changes"]
    run_dbt(world.settings, world.db, "run", select=names, extra_args=["--full-refresh"])
    for table in copies:
        assert built[table] == _table_contents(world, table, INCREMENTAL_TABLES[table]), table


def test_a_changed_country_lookup_plans_every_erp_partner_again(
    world: SyncWorld, pending: dict[str, Any]
) -> None:
    """The ERP takes a country as its res_country id. A build plans again only the records compared
    since it last planned. A country given a new id (its partners' rows following it) standardizes to
    the same rows, so no record is compared again, yet the id to write changed: the lookup is in
    erp_desired_state's fingerprint, so every partner is planned again."""
    values = (
        "select distinct desired_value from reverse_etl.erp_desired_state where native_field = 'country_id'"
    )
    ((code, old_id, partners),) = world.query(
        "select golden_value, desired_value, count(*) from reverse_etl.erp_desired_state"
        " where native_field = 'country_id' and desired_value is not null"
        " group by golden_value, desired_value order by count(*) desc, golden_value limit 1"
    )
    assert partners > 1
    ((new_id,),) = world.query("select max(id) + 1000 from raw_erp.res_country")
    renumber = (
        "with country as (update raw_erp.res_country set id = %s where id = %s returning 1)"
        " update raw_erp.res_partner set country_id = %s where country_id = %s returning 1"
    )
    world.query(renumber, (new_id, int(old_id)) * 2)
    try:
        world.cycle(steps=("build",))
        assert world.query(f"{values} and golden_value = %s", (code,)) == [(str(new_id),)]
    finally:
        world.query(renumber, (int(old_id), new_id) * 2)
        world.cycle(steps=("build",))
    assert world.query(f"{values} and golden_value = %s", (code,)) == [(old_id,)]


def test_faults_end_in_the_fault_free_state(
    sync_world_factory, first_cycle: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CUSTOMER_SYNC_HTTP_TIMEOUT", "1")
    faulty = sync_world_factory("faulty", persons=PERSONS, seed=SEED, faults=0.2)
    results = faulty.cycle()
    counts = sync_counts(results["sync"])
    assert all(c["failed"] == 0 for c in counts.values()), counts
    faults = Counter(w.get("fault") for s in ("crm", "billing", "support") for w in faulty.writes(s))
    assert sum(n for kind, n in faults.items() if kind) > 10, f"faults were not injected: {faults}"
    assert system_state(faulty) == first_cycle["state"]
    for system in ("crm", "billing", "support", "erp"):
        doubles = {k: n for k, n in applied_writes_per_record(faulty, system).items() if n > 1}
        assert not doubles, f"{system}: records written more than once under faults: {doubles}"
