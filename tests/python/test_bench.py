"""The benchmark's parts: metrics, memory sampling, the Splink runner, the report and the CLI checks."""

from __future__ import annotations

import contextlib
import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from customer_sync.bench.memory import MB, MemorySampler, postmaster_pid, registered_pids
from customer_sync.bench.metrics import score_clusters
from customer_sync.bench.report import BenchReport
from customer_sync.bench.resolution import coverage, truth_by_record
from customer_sync.bench.runner import check_options
from customer_sync.bench.stages import StageResult, median_of_runs, stage
from customer_sync.cli import main
from customer_sync.config import Settings, load_settings
from customer_sync.errors import UserError

# --- metrics ---------------------------------------------------------------------------------------


def test_metrics_on_hand_made_clusters() -> None:
    # truth: {a,b,c} one person, {d,e} another, {f} alone -> 3 + 1 = 4 true pairs
    truth = {"a": "P1", "b": "P1", "c": "P1", "d": "P2", "e": "P2", "f": "P3"}
    # predicted: {a,b} right, c split off, {d,e,f} merges f wrongly -> pairs ab, de, df, ef
    predicted = {"a": "G1", "b": "G1", "c": "G2", "d": "G3", "e": "G3", "f": "G3"}
    acc = score_clusters(predicted, truth)
    assert (acc.true_pairs, acc.predicted_pairs, acc.correct_pairs) == (4, 4, 2)
    assert acc.precision == pytest.approx(0.5)
    assert acc.recall == pytest.approx(0.5)
    assert acc.f1 == pytest.approx(0.5)
    # B-cubed precision per record: a,b 1; c 1; d,e 2/3; f 1/3 -> (1+1+1+2/3+2/3+1/3)/6
    assert acc.bcubed_precision == pytest.approx((3 + 4 / 3 + 1 / 3) / 6)
    # B-cubed recall: a,b 2/3; c 1/3; d,e 1; f 1 -> (4/3+1/3+3)/6
    assert acc.bcubed_recall == pytest.approx((4 / 3 + 1 / 3 + 3) / 6)


def test_metrics_score_only_records_in_both_and_perfect_is_one() -> None:
    truth = {"a": "P1", "b": "P1", "c": "P2"}
    predicted = {"a": "X", "b": "X", "c": "Y", "zz": "X"}  # zz has no truth: not scored
    acc = score_clusters(predicted, truth)
    assert acc.records == 3
    assert (acc.precision, acc.recall, acc.f1, acc.bcubed_f1) == (1.0, 1.0, 1.0, 1.0)
    assert coverage(predicted, truth).as_dict()["resolved_without_truth"] == 1


def test_everything_in_one_cluster_has_full_recall_and_low_precision() -> None:
    truth = {str(i): f"P{i // 2}" for i in range(10)}  # five true pairs among 45 possible
    acc = score_clusters(dict.fromkeys(truth, "G"), truth)
    assert acc.recall == 1.0
    assert acc.precision == pytest.approx(5 / 45)


def test_truth_rows_become_canonical_record_ids() -> None:
    rows = [
        {"source_system": "crm", "source_table": "contacts", "source_record_id": 101, "entity_id": "P000001"},
        {
            "source_system": "erp",
            "source_table": "res_partner",
            "source_record_id": "7",
            "entity_id": "C000002",
        },
    ]
    assert truth_by_record(rows) == {"crm:contacts:101": "P000001", "erp:res_partner:7": "C000002"}


# --- memory ----------------------------------------------------------------------------------------

ALLOCATE_AND_WAIT = (
    "import sys, time; block = b'x' * (160 * 1024 * 1024); print('ok', flush=True); time.sleep(30)"
)


def test_memory_sampler_sees_a_child_process() -> None:
    import os

    sampler = MemorySampler({"python": lambda: [os.getpid()]}, interval=0.05)
    with sampler:
        with sampler.window() as before:
            pass
        child = subprocess.Popen([sys.executable, "-c", ALLOCATE_AND_WAIT], stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "ok"
            with sampler.window() as during:
                time.sleep(0.3)
        finally:
            child.kill()
            child.wait()
    grown = during["python"].rss_bytes - before["python"].rss_bytes
    assert grown >= 150 * MB
    assert during["python"].processes >= 2
    assert sampler.peaks["python"].rss_bytes >= during["python"].rss_bytes


def test_stages_nest_and_each_records_its_own_peak() -> None:
    import os

    sampler = MemorySampler({"python": lambda: [os.getpid()]}, interval=60)  # samples at window edges
    with stage("outer", sampler) as outer:
        with stage("inner", sampler) as inner:
            block = b"x" * (120 * MB)
            inner.records = len(block) // MB
        del block
        with stage("after", sampler) as after:
            after.records = 0
    assert inner.peak_mb("python", "peak_rss_mb") - after.peak_mb("python", "peak_rss_mb") >= 100
    assert outer.peak_mb("python", "peak_rss_mb") >= inner.peak_mb("python", "peak_rss_mb")
    assert outer.seconds >= inner.seconds + after.seconds
    assert inner.records_per_second is not None and inner.records_per_second > 0


def test_a_stage_run_several_times_reports_its_median_run_and_highest_peaks() -> None:
    runs = [
        StageResult(
            "identity",
            seconds=40.0,
            records=9,
            memory={"postgres": {"peak_pss_mb": 900.0}},
            details={"models": 11},
        ),
        StageResult("identity", seconds=25.0, records=9, memory={"postgres": {"peak_pss_mb": 1200.0}}),
        StageResult("identity", seconds=31.0, records=9, memory={"postgres": {"peak_pss_mb": 800.0}}),
    ]
    merged = median_of_runs(runs)
    assert merged.name == "identity" and merged.seconds == 31.0 and merged.records == 9
    assert merged.peak_mb("postgres") == 1200.0
    assert merged.details == {"models": 11, "runs_seconds": [40.0, 25.0, 31.0]}
    with pytest.raises(ValueError, match="at least one run"):
        median_of_runs([])


def test_postmaster_and_registered_pids_are_read_from_files(tmp_path: Path) -> None:
    import os

    (tmp_path / "pgdata").mkdir()
    (tmp_path / "pgdata" / "postmaster.pid").write_text(f"{os.getpid()}\n/tmp/x\n")
    assert postmaster_pid(tmp_path / "pgdata") == os.getpid()
    assert postmaster_pid(tmp_path / "missing") is None
    (tmp_path / "pids").mkdir()
    (tmp_path / "pids" / "simulators.pid").write_text("4242")
    (tmp_path / "pids" / "broken.pid").write_text("not a pid")
    assert registered_pids(tmp_path / "pids") == [4242]


# --- splink ----------------------------------------------------------------------------------------


def _tiny_records(persons: int, seed: int) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Persons with 1-3 records each: the duplicates share most fields, some have a typo or a gap."""
    rng = random.Random(seed)
    firsts = ["anna", "ben", "carla", "dmitri", "emil", "fatima", "gustav", "hana", "ivan", "jill"]
    rows: list[dict[str, Any]] = []
    truth: dict[str, str] = {}
    for p in range(persons):
        first, last = rng.choice(firsts), f"surname{p:03d}x"
        base = {
            "entity_type": "person",
            "first_name_key": first,
            "last_name_key": last,
            "name_key": f"{first} {last}",
            "email_key": f"{first}.{last}@example.com",
            "phone_digits": f"614{10_000_000 + p * 7919 % 9_000_000}",
            "postcode_key": str(2000 + p % 60),
            "city_key": rng.choice(["sydney", "melbourne", "perth"]),
            "address_key": f"{p + 1} {rng.choice(['high', 'main', 'king'])} st",
            "country_code": "AU",
            "birth_date": date(1950 + p % 50, 1 + p % 12, 1 + p % 28),
        }
        for k in range(rng.choice([1, 2, 2, 3])):
            row = dict(base, record_id=f"crm:contacts:{p}-{k}")
            if k and rng.random() < 0.4:
                row["email_key"] = None
            if k and rng.random() < 0.3:
                row["last_name_key"] = last[:-1] + "q"
            rows.append(row)
            truth[row["record_id"]] = f"P{p}"
    return rows, truth


def test_splink_finds_obvious_duplicates() -> None:
    pytest.importorskip("splink")
    from customer_sync.bench.splink_compare import frame_from_records, run_splink

    rows, truth = _tiny_records(250, seed=3)
    result = run_splink(frame_from_records(rows), seed=1, u_max_pairs=1e5)
    acc = score_clusters(result.clusters, truth)
    assert set(result.clusters) == set(truth)
    assert acc.true_pairs > 100
    assert acc.precision >= 0.98
    assert acc.recall >= 0.9
    assert result.scored_pairs >= acc.correct_pairs
    assert set(result.threshold_sweep) == {0.5, 0.8, 0.9, 0.95, 0.99}
    assert set(result.phase_seconds) == {"load", "train", "predict", "cluster"}


def test_frame_from_records_maps_keys_and_blanks_to_null() -> None:
    pytest.importorskip("pyarrow")
    from customer_sync.bench.splink_compare import SPLINK_COLUMNS, frame_from_records

    frame = frame_from_records(
        [{"record_id": "a", "email_key": "  ", "last_name_key": "smith", "birth_date": "1980-02-03"}]
    )
    assert frame.column_names == list(SPLINK_COLUMNS)
    row = frame.to_pylist()[0]
    assert row["email"] is None
    assert row["last_name"] == "smith"
    assert row["birth_date"] == date(1980, 2, 3)


# --- report and options ----------------------------------------------------------------------------


def test_report_json_has_the_documented_keys() -> None:
    truth = {"a": "P1", "b": "P1", "c": "P2"}
    report = BenchReport(persons=3, seed=1, command="customer-sync bench --persons 3", records=3)
    report.stages = [
        StageResult("land", seconds=2.0, records=3, memory={"python": {"peak_pss_mb": 100.0}}),
        StageResult("build", seconds=3.0, records=3),
        StageResult("sync", seconds=5.0, records=2),
        StageResult("incremental", seconds=1.0, records=1),
        StageResult("splink", seconds=2.0, records=3),
    ]
    report.accuracy = score_clusters({"a": "G", "b": "G", "c": "H"}, truth)
    report.splink_accuracy = score_clusters({"a": "G", "b": "H", "c": "I"}, truth)
    report.splink = {"seconds": 1.5, "threshold": 0.9, "version": "5"}
    report.seconds_identity = 0.7
    data = json.loads(json.dumps(report.as_dict()))
    for key in ("persons", "records", "f1", "precision", "recall", "seconds_identity", "splink_f1"):
        assert key in data
    assert data["stages"]["land"]["records_per_second"] == 1.5
    assert data["f1"] == 1.0 and data["splink_f1"] == 0.0 and data["splink_seconds"] == 1.5
    assert data["full_cycle_seconds"] == 10.0 and data["incremental_share"] == 0.1
    text = report.to_markdown()
    assert "| land | 2.0 | 3 | 2 | 100 |" in text
    assert "incremental cycle 1.0 s = 10% of the full cycle's 10.0 s" in text
    # the resolution's time over Splink's own seconds, and over its stage with the read from Postgres
    assert data["splink_stage_seconds"] == 2.0
    assert data["identity_to_splink"] == round(0.7 / 1.5, 3) and data["identity_to_splink_stage"] == 0.35
    assert "0.47x its own seconds, 0.35x its stage with the read from Postgres" in text


@pytest.mark.parametrize(
    ("stages", "compare", "message"),
    [
        (("build",), (), "needs stage 'land'"),
        (("land", "sync"), (), "needs stage 'build'"),
        (("land", "fly"), (), "unknown stage"),
        (("land",), ("splink",), "needs the 'build' stage"),
        (("land", "build"), ("dedupe",), "unknown comparison"),
    ],
)
def test_impossible_options_are_user_errors(
    stages: tuple[str, ...], compare: tuple[str, ...], message: str
) -> None:
    with pytest.raises(UserError, match=message):
        check_options(100, stages, compare, 0.01)


def test_the_resolution_is_timed_at_least_once() -> None:
    with pytest.raises(UserError, match="--repeat must be at least 1"):
        check_options(100, ("land", "build"), (), 0.01, repeat=0)
    check_options(100, ("land", "build"), (), 0.01, repeat=1)


def test_cli_rejects_bad_stages_with_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["bench", "--persons", "10", "--stages", "sync"])
    assert exited.value.code == 2
    assert "needs stage 'build'" in capsys.readouterr().err


def _sized_result(persons: int, factor: float, with_sync: bool) -> dict[str, Any]:
    """A bench result as ``--json`` prints it, every stage ``factor`` times the 10-person run's."""
    memory = {
        "python": {"peak_pss_mb": 150.0 * factor},
        "postgres": {"peak_pss_mb": 100.0 * factor},
        "simulators": {"peak_pss_mb": 50.0},
    }
    report = BenchReport(persons=persons, seed=1, command=f"customer-sync bench --persons {persons}")
    report.records = persons * 2
    names = ["land", "build", *(["sync", "incremental"] if with_sync else []), "identity"]
    report.stages = [StageResult(name, seconds=2.0 * factor, memory=memory) for name in names]
    report.seconds_identity = 2.0 * factor
    report.splink = {"seconds": 1.0 * factor, "threshold": 0.9}
    return report.as_dict()


def test_results_at_several_sizes_print_side_by_side_with_their_growth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small, large = tmp_path / "small.json", tmp_path / "large.json"
    # a file may hold a run's whole stdout: the result is its last line
    small.write_text("bench in /tmp/x\n" + json.dumps(_sized_result(10, 1.0, with_sync=True)) + "\n")
    large.write_text(json.dumps(_sized_result(100, 12.5, with_sync=False)))
    main(["bench", str(large), str(small)])  # ordered by persons, not by the arguments
    text = capsys.readouterr().out
    assert "|  | 10 | 100 | growth 10 to 100 |" in text
    assert "| land | 2.0 | 25.0 | 12.5x |" in text
    # the larger run has no sync: no full cycle, no 1% share and no growth for them, rather than a guess
    assert "| sync | 2.0 | - | - |" in text
    assert "| full cycle (land + build + sync) | 6.0 | - | - |" in text
    assert "| 1% cycle / full cycle | 33.33% | - |  |" in text
    # memory: the groups' peaks added, then Postgres + Python + simulators, growth on the added peaks
    assert "| build | 300 (100 + 150 + 50) | 3,175 (1,250 + 1,875 + 50) | 10.6x |" in text
    assert "| identity / Splink's own | 2.00 | 2.00 |  |" in text
    assert "`customer-sync bench --persons 100`" in text


def test_results_side_by_side_refuse_what_cannot_be_read_alike(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second, other = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    first.write_text(json.dumps(_sized_result(10, 1.0, with_sync=True)))
    second.write_text(json.dumps(_sized_result(10, 2.0, with_sync=True)))
    other.write_text('{"rows": 3}')
    for args, message in [
        ([str(first), str(second)], "more than one result for 10 persons"),
        ([str(other)], "not a bench JSON result"),
        (["--persons", "100", str(first)], "drop --persons"),
    ]:
        with pytest.raises(SystemExit) as exited:
            main(["bench", *args])
        assert exited.value.code == 2
        assert message in capsys.readouterr().err


# --- end to end ------------------------------------------------------------------------------------


def _free_port_base() -> int:
    """A base port with the three simulator ports after it free right now."""
    import socket

    for base in range(39_300, 39_900, 7):
        with contextlib.ExitStack() as stack:
            try:
                for offset in range(3):
                    sock = stack.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", base + offset))
            except OSError:
                continue
            return base
    raise RuntimeError("no free port range for the simulators")


@pytest.fixture
def bench_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """A home of its own (own embedded Postgres and simulators): the bench replaces a home's data."""
    from customer_sync import db as database
    from customer_sync.simulators import control

    monkeypatch.setenv("CUSTOMER_SYNC_SIM_PORT_BASE", str(_free_port_base()))
    monkeypatch.delenv("CUSTOMER_SYNC_DATABASE_URL", raising=False)
    settings = Settings(
        project_dir=load_settings().project_dir, home=tmp_path / "bench-home", database_url=None
    )
    yield settings
    control.stop(settings)
    database.stop_embedded(settings.pgdata)


@pytest.mark.e2e
def test_bench_runs_every_stage_and_reports_the_json_shape(bench_settings: Settings) -> None:
    pytest.importorskip("splink")
    from customer_sync.bench.runner import STAGES, BenchOptions, run_bench

    messages: list[str] = []
    options = BenchOptions(persons=60, seed=5, stages=STAGES, compare=("splink",), fast_limits=True, repeat=2)
    data = json.loads(json.dumps(run_bench(bench_settings, options, progress=messages.append).as_dict()))

    assert data["persons"] == 60
    assert data["records"] > 60  # persons have records in several systems, and companies exist
    names = list(data["stages"])
    assert names[:3] == ["generate", "simulate", "land"]
    generate = data["stages"]["generate"]
    # a child process made the persons and loaded every record into the systems: the bench's own
    # process, whose memory the later stages measure, never held them
    assert generate["memory"]["python"]["max_processes"] >= 2
    assert sum(generate["details"]["counts"].values()) >= data["records"]
    for name in (
        "build",
        "identity",
        "splink",
        "sync",
        "incremental_land",
        "incremental_build",
        "incremental",
    ):
        assert name in names
    land = data["stages"]["land"]
    assert land["records"] >= data["records"] and land["records_per_second"] > 0
    # every stage saw the Python process, the embedded Postgres and the simulator process
    for group in ("python", "postgres", "simulators"):
        assert land["memory"][group]["peak_rss_mb"] > 5
    assert data["stages"]["build"]["records"] == data["coverage"]["resolved_records"]
    assert data["coverage"]["scored_records"] > 0.8 * data["records"]
    # both resolvers find most of the generator's duplicates on the same records
    assert data["f1"] > 0.7 and data["splink_f1"] > 0.5
    assert 0 <= data["precision"] <= 1 and 0 <= data["recall"] <= 1
    assert data["seconds_identity"] > 0 and data["splink_seconds"] > 0
    # the resolution and Splink were each timed twice, in turns; the median of two is their mean
    identity_runs = data["stages"]["identity"]["details"]["runs_seconds"]
    assert len(identity_runs) == 2 and min(identity_runs) > 0
    assert data["seconds_identity"] == pytest.approx(sum(identity_runs) / 2, abs=1e-2)
    assert len(data["stages"]["splink"]["details"]["runs_seconds"]) == 2
    assert data["splink_seconds"] == pytest.approx(sum(data["splink"]["runs_seconds"]) / 2, abs=1e-2)
    assert sum(1 for m in messages if m.startswith("identity run:")) == 2
    incremental = data["stages"]["incremental"]
    assert incremental["details"]["edits"] >= 1
    # landing is incremental and loss-free: nothing changed lands nothing, the edits land exactly
    assert incremental["details"]["unchanged_land_rows"] == 0
    assert incremental["details"]["landed_person_rows"] == incremental["details"]["edited_records"] >= 1, {
        name: data["stages"][name]["details"] for name in ("settle_sync", "settle_echo_land")
    }
    assert data["incremental_seconds"] == pytest.approx(incremental["seconds"], abs=1e-3)
    assert data["full_cycle_seconds"] == pytest.approx(
        sum(data["stages"][s]["seconds"] for s in ("land", "build", "sync")), abs=1e-2
    )
    assert data["machine"]["nproc"] >= 1 and data["machine"]["postgres"]
    assert any(m.startswith("customer-sync: precision") for m in messages)
