"""Golden records end to end on a small labelled file: stable ids, merges, splits, conflicts, marts, grants.

One module-scoped scenario runs six builds in a project copy and keeps what each produced:
  A  60 people (two rows each) and person X;
  B  nothing changed;
  C  person Y added;
  D  a steward ties X to Y (must_match), and a chain k1 - k2 - k3 whose ends have conflicting birth dates;
  E  the steward reverses the X/Y decision (must_not_match);
  F  a nickname is added to seeds/ref_nicknames.csv (in the copy).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import psycopg2
import pytest

from customer_sync import build as build_module
from customer_sync import db as database
from customer_sync.build import BuildResult, missing_snapshots
from customer_sync.config import Settings
from customer_sync.dbt_runner import RETRAIN_ENV, DbtRun, NodeOutcome, dbt_paths, run_dbt
from customer_sync.errors import RunFailure
from tests.python.fixtures.warehouse_data import GoldenWorld, Row, person_rows

GOLDEN_ID = r"^G[0-9]{10}$"


def _person(entity: str, first: str, last: str, birth_date: str | None, email: str) -> list[Row]:
    base = {
        "first_name": first, "last_name": last, "full_name": f"{first} {last}", "email": email,
        "phone": None, "company_name": None, "address_line1": None, "address_line2": None, "city": None,
        "postcode": None, "region": None, "country": "US", "birth_date": birth_date, "national_id": None,
        "entity_id": entity,
    }  # fmt: skip
    return [{"id": f"{entity}1", **base}, {"id": f"{entity}2", **base}]


X = _person("x", "Xavier", "Quill", "1970-03-04", "xavier.quill@example.org")
# no birth date: a steward tying X to Y then joins all four records (a conflict would keep them apart)
Y = _person("y", "Yolanda", "Zephyr", None, "yolanda.zephyr@example.org")
CHAIN = [
    {**_person("k", "Kim", "Lowe", "1960-01-01", "kim.lowe@example.net")[0], "id": "k1"},
    {**_person("k", "Kim", "Lowe", None, "k.lowe@example.net")[0], "id": "k2"},
    {**_person("k", "Kim", "Lowe", "1999-09-09", "kimberly@example.net")[0], "id": "k3"},
]


@dataclass
class Step:
    result: BuildResult
    xref: dict[str, str]
    history: list[tuple[Any, ...]] = field(default_factory=list)
    trained_at: dict[str, Any] = field(default_factory=dict)
    # the golden id rows the step's build wrote: (record_id, customer_id, change_type)
    written: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass
class Scenario:
    steps: dict[str, Step]
    world: GoldenWorld


def _step(world: GoldenWorld, result: BuildResult) -> Step:
    history = world.query(
        "select event_type, old_customer_id, new_customer_id, record_ids "
        "from {p}identity.customer_id_history order by built_at, event_type"
    )
    estimates = "select distinct trained_at from {p}identity.int_customer_%s_probabilities"
    trained_at = {table: world.query(estimates % table) for table in ("u", "m")}
    written = world.query(
        "select record_id, customer_id, change_type from {p}identity.int_customer_golden_ids "
        "where changed_at = (select max(changed_at) from {p}identity.int_customer_golden_ids)"
    )
    return Step(result=result, xref=world.xref(), history=history, trained_at=trained_at, written=written)


@pytest.fixture(scope="module")
def scenario(golden_world: GoldenWorld) -> Scenario:
    world = golden_world
    base = person_rows(60, seed=5)
    steps: dict[str, Step] = {}
    world.land(base + X + CHAIN)
    steps["A"] = _step(world, world.build())
    steps["B"] = _step(world, world.build())
    world.land(base + X + Y + CHAIN)
    steps["C"] = _step(world, world.build())
    ids = world.record_ids()
    chain_rules = [(ids["k1"], ids["k2"], "must_match"), (ids["k2"], ids["k3"], "must_match")]
    world.set_steward_rules([(ids["x1"], ids["y1"], "must_match"), *chain_rules])
    steps["D"] = _step(world, world.build())
    world.set_steward_rules([(ids["x1"], ids["y1"], "must_not_match"), *chain_rules])
    steps["E"] = _step(world, world.build())
    # an analyst adds a nickname: the standardized records (upstream of the estimates) may change
    nicknames = world.settings.project_dir / "seeds" / "ref_nicknames.csv"
    nicknames.write_text(nicknames.read_text(encoding="utf-8") + "xav,xavier\n", encoding="utf-8")
    steps["F"] = _step(world, world.build())
    # one person's two records and another's second record are deleted in the source
    gone = {"p59a", "p59b", "p58b"}
    world.land([row for row in base if row["id"] not in gone] + X + Y + CHAIN)
    steps["G"] = _step(world, world.build())
    return Scenario(steps=steps, world=world)


def test_first_build_resolves_the_duplicates(scenario: Scenario) -> None:
    a = scenario.steps["A"]
    # 60 people + X as two rows each, and the 3 chain rows, which nothing ties together yet
    assert a.result.records == 60 * 2 + 2 + 3
    assert a.xref["x1"] == a.xref["x2"]
    pairs_together = sum(a.xref[f"p{n}a"] == a.xref[f"p{n}b"] for n in range(60))
    assert pairs_together == 60
    assert len({a.xref[f"p{n}a"] for n in range(60)}) == 60
    assert all(re.match(GOLDEN_ID, customer) for customer in a.xref.values())
    assert a.result.customers == len(set(a.xref.values()))


def test_unchanged_build_keeps_every_id_and_adds_no_snapshot_rows(scenario: Scenario) -> None:
    a, b = scenario.steps["A"], scenario.steps["B"]
    assert a.result.snapshot_rows_added > 0
    assert b.xref == a.xref
    assert b.result.snapshot_rows_added == 0
    assert (b.result.merges, b.result.splits, b.result.moves) == (0, 0, 0)


def test_a_build_that_ran_no_snapshot_of_the_crosswalk_is_found_out() -> None:
    """dbt's partial parsing once dropped customer_xref_snapshot from the project for hours of cycles
    (no error, no history); run_build takes any snapshot its build did not run from a full parse."""

    def run(*unique_ids: str) -> DbtRun:
        nodes = [NodeOutcome(unique_id, "success", None, None, 0.1) for unique_id in unique_ids]
        return DbtRun(command="build", success=True, seconds=1.0, nodes=nodes)

    both = run("model.customer_sync.dim_customer", "snapshot.customer_sync.dim_customer_snapshot",
               "snapshot.customer_sync.customer_xref_snapshot")  # fmt: skip
    assert missing_snapshots(both) == []
    only_dim = run("snapshot.customer_sync.dim_customer_snapshot")
    assert missing_snapshots(only_dim) == ["customer_xref_snapshot"]
    assert missing_snapshots(run("model.customer_sync.customer_xref")) == [
        "dim_customer_snapshot",
        "customer_xref_snapshot",
    ]


def test_run_build_takes_a_snapshot_its_build_did_not_run_from_a_full_parse(
    settings: Settings, warehouse: database.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dbt runs are stood in for (dbt's dropping of a snapshot cannot be provoked at will): the
    whole build runs one snapshot, and run_build runs the other, alone, without partial parsing."""
    calls: list[tuple[str, list[str], list[str]]] = []

    def fake_run_dbt(settings: Settings, db: database.Database, command: str, **kwargs: Any) -> DbtRun:
        calls.append((command, list(kwargs.get("select") or []), list(kwargs.get("extra_args") or [])))
        first_build = command == "build" and len([call for call in calls if call[0] == "build"]) == 1
        snapshots = ["dim_customer_snapshot"] if first_build else list(kwargs.get("select") or [])
        nodes = [
            NodeOutcome(f"snapshot.customer_sync.{name}", "success", None, None, 0.1) for name in snapshots
        ]
        return DbtRun(command=command, success=True, seconds=0.5, nodes=nodes)

    monkeypatch.setattr(build_module, "run_dbt", fake_run_dbt)
    monkeypatch.setattr(build_module.seeds, "mark_seeds_loaded", lambda *args: None)
    result = build_module.run_build(
        settings, warehouse, progress=False, dbt_vars={"schema_prefix": "guardtest_"}, unit_tests=False
    )
    assert [call[0] for call in calls] == ["seed", "build", "build"]
    assert calls[2][1:] == (["customer_xref_snapshot"], ["--no-partial-parse"])
    assert result.step_seconds["build"] == pytest.approx(1.0)


def test_the_seeds_tests_run_in_the_build_that_loads_them_and_are_marked_passed_after_it(
    settings: Settings, warehouse: database.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dbt runs are stood in for. A build that loads the seeds tests them and marks them loaded only
    when it passed (a failed build leaves them to be loaded and tested again); a build that finds them
    loaded leaves their tests out, and a partial build marks them as soon as they are loaded."""
    calls: list[tuple[str, list[str]]] = []
    marked: list[str] = []
    state = {"loaded": False, "fail": False}

    def fake_run_dbt(settings: Settings, db: database.Database, command: str, **kwargs: Any) -> DbtRun:
        calls.append((command, list(kwargs.get("extra_args") or [])))
        if command == "build" and state["fail"]:
            raise RunFailure("dbt build failed")
        nodes = [
            NodeOutcome(f"snapshot.customer_sync.{name}", "success", None, None, 0.1)
            for name in build_module.SNAPSHOT_TABLES
        ]
        return DbtRun(command=command, success=True, seconds=0.5, nodes=nodes)

    monkeypatch.setattr(build_module, "run_dbt", fake_run_dbt)
    monkeypatch.setattr(build_module.seeds, "seeds_loaded", lambda *args: state["loaded"])
    monkeypatch.setattr(build_module.seeds, "mark_seeds_loaded", lambda *args: marked.append(calls[-1][0]))

    def build(**kwargs: Any) -> list[tuple[str, list[str]]]:
        calls.clear()
        build_module.run_build(settings, warehouse, progress=False, unit_tests=False, **kwargs)
        return calls

    state["fail"] = True
    with pytest.raises(RunFailure):
        build()
    assert [call[0] for call in calls] == ["seed", "build"]
    assert "path:seeds" not in calls[1][1] and marked == []

    state["fail"] = False
    assert [call[0] for call in build()] == ["seed", "build"]
    assert "path:seeds" not in calls[1][1] and marked == ["build"]

    state["loaded"] = True
    assert [call[0] for call in build()] == ["build"]
    assert calls[0][1][calls[0][1].index("--exclude") :][:4] == build_module.SEED_TESTS_SKIPPED
    assert marked == ["build"]

    state["loaded"] = False
    assert [call[0] for call in build(select=["stg_crm__contacts"])] == ["seed", "build"]
    assert "path:seeds" not in calls[1][1] and marked == ["build", "seed"]


def test_seed_tables_are_loaded_only_when_a_seed_file_changed(scenario: Scenario) -> None:
    """The first build loads the seeds; B, C and G (no seed file changed) skip the load; D, E and F (a
    steward rules file, a nickname file changed) load them again, and the other tests show that their
    builds used the new rules."""
    loaded = {name: "seed" in step.result.step_seconds for name, step in scenario.steps.items()}
    assert loaded == {"A": True, "B": False, "C": False, "D": True, "E": True, "F": True, "G": False}
    assert all("build" in step.result.step_seconds for step in scenario.steps.values())


def test_match_parameters_are_estimated_once_and_again_when_their_inputs_change(scenario: Scenario) -> None:
    """u and m are estimated on the first build and copied by later ones (macros/matching/training.sql):
    not re-estimated for a build with no change (B), 2 more records (C) or steward rules (D, E), which
    are downstream of them; re-estimated when a seed upstream of them changed (F), then kept again when
    3 records are deleted (G)."""
    steps = scenario.steps
    for table in ("u", "m"):
        first = steps["A"].trained_at[table]
        assert len(first) == 1, f"{table}: one estimate per build, got {first}"
        for name in "BCDE":
            assert steps[name].trained_at[table] == first, f"{table} re-estimated in build {name}"
        assert steps["F"].trained_at[table] != first, f"{table} kept after ref_nicknames changed"
        assert steps["G"].trained_at[table] == steps["F"].trained_at[table], f"{table} estimated again in G"


def test_new_person_gets_a_new_id_and_others_keep_theirs(scenario: Scenario) -> None:
    b, c = scenario.steps["B"], scenario.steps["C"]
    assert c.xref["y1"] == c.xref["y2"]
    assert c.xref["y1"] not in set(b.xref.values())
    assert {record: c.xref[record] for record in b.xref} == b.xref


def test_merge_keeps_the_older_id_and_records_the_merge(scenario: Scenario) -> None:
    c, d = scenario.steps["C"], scenario.steps["D"]
    x_id, y_id = c.xref["x1"], c.xref["y1"]
    assert {d.xref[r] for r in ("x1", "x2", "y1", "y2")} == {x_id}
    # two merges: X with Y, and k2 with k3 once the chain is cut at its weakest (first) steward pair
    assert d.result.merges == 2
    assert ("merge", y_id, x_id, _records(scenario, "y1", "y2")) in d.history
    dim_ids = {row[0] for row in scenario.world.query("select customer_id from {p}marts.dim_customer")}
    assert x_id in dim_ids and y_id not in dim_ids


def test_split_keeps_the_id_on_the_older_part_and_mints_a_new_one(scenario: Scenario) -> None:
    c, e = scenario.steps["C"], scenario.steps["E"]
    x_id, y_id = c.xref["x1"], c.xref["y1"]
    assert e.xref["x1"] == e.xref["x2"] == x_id
    new_id = e.xref["y1"]
    assert e.xref["y2"] == new_id
    assert new_id not in (x_id, y_id)  # a retired id is never reused
    assert e.result.splits == 1
    assert ("split", x_id, new_id, _records(scenario, "y1", "y2")) in e.history


def test_deleted_records_retire_only_the_id_left_without_records(scenario: Scenario) -> None:
    """The build writes a row for each deleted record and a tombstone for the one id none of its records
    is left with; every other customer, p58 with its one record left among them, keeps its id unwritten."""
    f, g = scenario.steps["F"], scenario.steps["G"]
    gone = {"p59a", "p59b", "p58b"}
    assert {record: customer for record, customer in f.xref.items() if record not in gone} == g.xref
    written = {(record.rsplit(":", 1)[-1], customer, change) for record, customer, change in g.written}
    gone_id, kept_id = f.xref["p59a"], f.xref["p58a"]
    assert written == {
        ("p59a", gone_id, "deleted"),
        ("p59b", gone_id, "deleted"),
        ("p58b", kept_id, "deleted"),
        (gone_id, gone_id, "retired"),  # its tombstone, 'retired:<id>'
    }
    assert g.xref["p58a"] == kept_id and f.xref["p58b"] == kept_id


def test_snapshots_keep_one_current_version_per_customer_and_find_it_by_index(scenario: Scenario) -> None:
    """After seven builds (merges, a split, a retired id), each snapshot's current versions are exactly
    the mart's rows, the retired id's versions are all closed, and a lookup of current versions by key
    or by dbt_scd_id (what each snapshot run reads and closes) can be answered by an index on the
    current versions alone, however many closed versions the history holds."""
    world, g = scenario.world, scenario.steps["G"]
    current = "select {key} from {p}snapshots.{snapshot} where dbt_valid_to is null"
    dim_current = world.query(current.format(key="customer_id", snapshot="dim_customer_snapshot", p="{p}"))
    assert sorted(dim_current) == sorted(world.query("select customer_id from {p}marts.dim_customer"))
    xref_current = world.query(current.format(key="record_id", snapshot="customer_xref_snapshot", p="{p}"))
    assert sorted(xref_current) == sorted(world.query("select record_id from {p}marts.customer_xref"))
    retired = scenario.steps["F"].xref["p59a"]
    assert retired not in g.xref.values()
    versions = world.query(
        "select count(*), count(dbt_valid_to) from {p}snapshots.dim_customer_snapshot "
        f"where customer_id = '{retired}'"
    )
    assert versions[0][0] >= 1 and versions[0][0] == versions[0][1]
    for snapshot, key in (("dim_customer_snapshot", "customer_id"), ("customer_xref_snapshot", "record_id")):
        indexes = dict(
            world.query(
                "select indexname, indexdef from pg_indexes "
                f"where schemaname = '{{p}}snapshots' and tablename = '{snapshot}'"
            )
        )
        for column in (key, "dbt_scd_id"):
            index = f"{snapshot}__current_{column}__idx"
            definition = f"USING btree ({column}) WHERE (dbt_valid_to IS NULL)"
            assert indexes.get(index, "").endswith(definition), (index, indexes)
            # With statistics, the index whose condition is the lookup's column is the cheapest path;
            # without them, a 64-row table's two partial indexes cost the same and either may be chosen.
            plan = " ".join(
                line
                for (line,) in world.query(
                    f"analyze {{p}}snapshots.{snapshot}; set enable_seqscan = off; explain select * "
                    f"from {{p}}snapshots.{snapshot} where dbt_valid_to is null and {column} = 'x'"
                )
            )
            plan = plan.lower()
            assert f"using {index} " in plan and f"index cond: ({column} = 'x'::text)" in plan, plan


def test_conflicting_birth_dates_never_chain_into_one_customer(scenario: Scenario) -> None:
    d = scenario.steps["D"]
    assert d.xref["k1"] != d.xref["k3"]
    assert d.xref["k2"] in (d.xref["k1"], d.xref["k3"])
    conflicts = scenario.world.query(
        "select conflict_reason from {p}identity.int_customer_conflicts c "
        "join {p}identity.int_customer_records l on l.record_id = c.record_id_l "
        "join {p}identity.int_customer_records r on r.record_id = c.record_id_r "
        "where l.source_record_id in ('k1', 'k3') and r.source_record_id in ('k1', 'k3')"
    )
    assert conflicts == [("birth_date",)]


def test_dim_customer_carries_survivorship_lineage(scenario: Scenario) -> None:
    rows = scenario.world.query(
        "select d.email, d.email_source, d.email_rule, d.first_name_rule, d.source_record_count "
        "from {p}marts.dim_customer d join {p}marts.customer_xref x on x.customer_id = d.customer_id "
        "where x.source_record_id = 'p0a'"
    )
    assert len(rows) == 1
    email, email_source, email_rule, first_name_rule, count = rows[0]
    assert count == 2
    assert email_rule == "valid_first" and first_name_rule == "source_priority"
    source_ids = scenario.world.record_ids()
    assert email_source in (source_ids["p0a"], source_ids["p0b"])
    assert email.lower() == email.lower().strip() and "@" in email


def test_dim_customer_contract_is_enforced(scenario: Scenario) -> None:
    columns = scenario.world.query(
        "select column_name, data_type, is_nullable from information_schema.columns "
        "where table_schema = '{p}marts' and table_name = 'dim_customer' order by ordinal_position"
    )
    types = {name: data_type for name, data_type, _ in columns}
    assert list(types)[:3] == ["customer_id", "entity_type", "first_name"]
    assert types["birth_date"] == "date"
    assert types["source_record_count"] == "integer"
    assert types["first_seen_at"] == "timestamp with time zone"
    assert {"email_source", "email_rule", "national_id_source", "national_id_rule"} <= types.keys()
    assert dict((name, nullable) for name, _, nullable in columns)["customer_id"] == "NO"
    with pytest.raises(psycopg2.errors.NotNullViolation):
        scenario.world.query(
            "insert into {p}marts.dim_customer (customer_id, entity_type, source_record_count) "
            "values ('G0000000001', null, 1)"
        )


def test_bi_reader_can_read_the_marts(scenario: Scenario) -> None:
    world = scenario.world
    for table in ("dim_customer", "customer_xref", "customer_match_explanations"):
        rows = world.query(f"select count(*) from {{p}}marts.{table}", role="bi_reader")
        assert rows[0][0] > 0, table
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        world.query("select count(*) from {p}identity.int_customer_golden_ids", role="bi_reader")


def test_retrain_estimates_again_without_parsing_the_project_again(scenario: Scenario) -> None:
    """`--retrain` (the bench's timed resolution too) sets an environment variable, not a dbt var: the
    estimate is made again, and dbt parses the project only partly (a changed var costs a full parse)."""
    world = scenario.world
    estimates = "select distinct trained_at from {p}identity.int_customer_u_probabilities"

    def run_u(extra_env: dict[str, str] | None) -> str:
        # dbt names what it parsed in debug lines, which its log file keeps only when asked to
        return _run_logged(
            world, "int_customer_u_probabilities", {**(extra_env or {}), "DBT_LOG_LEVEL_FILE": "debug"}
        )

    run_u(None)  # the vars of the scenario's builds, whatever ran last
    kept = world.query(estimates)
    assert len(kept) == 1
    invocation = run_u(RETRAIN_ENV)
    retrained = world.query(estimates)
    assert len(retrained) == 1 and retrained != kept
    assert "Nothing changed, skipping partial parsing" in invocation
    assert "full parse" not in invocation and "Unable to do partial parsing" not in invocation
    run_u(None)
    assert world.query(estimates) == retrained, "kept again once the variable is unset"


def test_dbts_log_file_keeps_info_unless_asked_for_every_statement(scenario: Scenario) -> None:
    """By default dbt's log file has no debug lines (the statements dbt runs); DBT_LOG_LEVEL_FILE=debug
    brings them back."""
    world = scenario.world
    default = _run_logged(world, "int_customer_name_frequencies", None)
    assert "int_customer_name_frequencies" in default and "[debug]" not in default
    every_statement = _run_logged(world, "int_customer_name_frequencies", {"DBT_LOG_LEVEL_FILE": "debug"})
    assert "[debug]" in every_statement and "int_customer_name_frequencies" in every_statement


def test_too_few_label_passes_fail_the_build(golden_world: GoldenWorld, scenario: Scenario) -> None:
    # without a single pass every record keeps its own label, which the stability test must catch
    with pytest.raises(RunFailure, match="is_label_stable"):
        golden_world.build(cluster_label_passes=0)


def _run_logged(world: GoldenWorld, model: str, extra_env: dict[str, str] | None) -> str:
    """`dbt run` of one model with the scenario's vars; what this invocation wrote to dbt's log file."""
    run_dbt(world.settings, world.db, "run", select=[model], dbt_vars=world.dbt_vars, extra_env=extra_env)
    log_text = (dbt_paths(world.settings)[1] / "dbt.log").read_text(encoding="utf-8", errors="replace")
    return log_text[log_text.rindex("Running with dbt") :]


def _records(scenario: Scenario, *source_ids: str) -> str:
    ids = scenario.world.record_ids()
    return ",".join(sorted(ids[source_id] for source_id in source_ids))
