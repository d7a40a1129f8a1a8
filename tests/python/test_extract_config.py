"""Configuration of the landing: unknown and unconfigured sources, simulator credentials, pacing."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import dlt
import pytest

from customer_sync import credentials
from customer_sync import db as database
from customer_sync.commands.extract import render
from customer_sync.config import Settings
from customer_sync.errors import RunFailure, UserError
from customer_sync.extract import (
    PARALLELISM_VARIABLE,
    ExtractResult,
    SourceResult,
    check_sources,
    extract_parallelism,
    land_source,
    make_pipeline,
    run_extract,
)
from pipelines.http import Pacer
from tests.python.fixtures.landing import fetch_rows


def test_unknown_source_is_a_user_error() -> None:
    with pytest.raises(UserError, match="unknown source.*nope"):
        check_sources(["crm", "nope"])
    assert check_sources(["erp", "crm"]) == ["crm", "erp"]


def test_unconfigured_source_names_the_missing_setting(
    settings: Settings, warehouse: database.Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SOURCES__CRM__BASE_URL", "SOURCES__CRM__API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .dlt/secrets.toml here
    bare = replace(settings, home=tmp_path / "home")  # no simulators were ever started in this home
    with pytest.raises(UserError) as caught:
        run_extract(bare, warehouse, ["crm"], progress=False)
    assert "SOURCES__CRM__BASE_URL" in str(caught.value)
    assert "simulate start" in str(caught.value)


def _simulator_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, endpoints: dict[str, dict[str, Any]]
) -> Settings:
    """Settings of a home where simulators were started, whose endpoints are ``endpoints``."""
    home = tmp_path / "home"
    (home / "simulators").mkdir(parents=True)
    (home / "simulators" / "credentials.json").write_text("{}")
    monkeypatch.setattr(credentials, "simulator_endpoints", lambda settings: endpoints)
    monkeypatch.chdir(tmp_path)
    return Settings(project_dir=tmp_path, home=home, database_url=None)


def test_simulator_credentials_are_set_only_for_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _simulator_home(
        tmp_path,
        monkeypatch,
        {
            "crm": {"base_url": "http://127.0.0.1:1", "api_token": "secret-crm"},
            "erp": {"sqlalchemy_url": "sqlite:////x/erp.sqlite", "api_token": None},
        },
    )
    monkeypatch.delenv("SOURCES__CRM__BASE_URL", raising=False)
    monkeypatch.delenv("SOURCES__ERP__CREDENTIALS", raising=False)
    monkeypatch.setenv("SOURCES__CRM__API_TOKEN", "configured-by-the-user")

    with credentials.simulator_credentials(settings, ["crm", "erp"]) as applied:
        assert sorted(applied) == ["SOURCES__CRM__BASE_URL", "SOURCES__ERP__CREDENTIALS"]
        assert os.environ["SOURCES__CRM__BASE_URL"] == "http://127.0.0.1:1"
        assert os.environ["SOURCES__CRM__API_TOKEN"] == "configured-by-the-user"
        assert os.environ["SOURCES__ERP__CREDENTIALS"] == "sqlite:////x/erp.sqlite"
    assert "SOURCES__CRM__BASE_URL" not in os.environ
    assert "SOURCES__ERP__CREDENTIALS" not in os.environ


def test_connectors_pointed_at_the_simulators_pace_to_their_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _simulator_home(
        tmp_path,
        monkeypatch,
        {
            "crm": {"base_url": "http://127.0.0.1:1", "api_token": "secret-crm"},
            "support": {"base_url": "http://127.0.0.1:3", "api_token": "secret-support"},
        },
    )
    for system in ("CRM", "SUPPORT"):
        for name in ("BASE_URL", "API_TOKEN", "REQUESTS_PER_SECOND", "SEARCHES_PER_SECOND"):
            monkeypatch.delenv(f"SOURCES__{system}__{name}", raising=False)
    for name in ("REQUESTS_PER_MINUTE", "CURSOR_EXPORTS_PER_MINUTE", "TIME_EXPORTS_PER_MINUTE"):
        monkeypatch.delenv(f"SOURCES__SUPPORT__{name}", raising=False)
    # the user configured the support desk themselves: its pacing stays theirs
    monkeypatch.setenv("SOURCES__SUPPORT__BASE_URL", "https://example.zendesk.com")
    monkeypatch.setenv("SOURCES__SUPPORT__API_TOKEN", "configured-by-the-user")
    home = settings.home
    from customer_sync.simulators.state import Limits, SimConfig, write_config
    from customer_sync.sync.endpoints import target_endpoint

    write_config(home / "simulators", SimConfig(limits=Limits()))
    with credentials.simulator_credentials(settings, ["crm", "support"]) as applied:
        # the documented limits give the connector's own defaults
        assert float(os.environ["SOURCES__CRM__REQUESTS_PER_SECOND"]) == pytest.approx(9.0)
        assert float(os.environ["SOURCES__CRM__SEARCHES_PER_SECOND"]) == pytest.approx(4.0)
        assert not any(name.startswith("SOURCES__SUPPORT__") for name in applied)
    assert "SOURCES__CRM__REQUESTS_PER_SECOND" not in os.environ

    write_config(home / "simulators", SimConfig(fast=True, limits=Limits.fast()))
    with credentials.simulator_credentials(settings, ["crm"]):
        # 100 per 10 s becomes 100,000 per 10 s: the connector keeps the same 90% of it
        assert float(os.environ["SOURCES__CRM__REQUESTS_PER_SECOND"]) == pytest.approx(9_000.0)
        assert float(os.environ["SOURCES__CRM__SEARCHES_PER_SECOND"]) == pytest.approx(8_000.0)
    monkeypatch.delenv("SOURCES__BILLING__BASE_URL", raising=False)
    monkeypatch.delenv("SOURCES__BILLING__API_TOKEN", raising=False)
    monkeypatch.setattr(
        "customer_sync.simulators.endpoints",
        lambda settings: {"billing": {"base_url": "http://127.0.0.1:2", "api_token": "secret-billing"}},
    )
    # Stripe sends no rate-limit headers: the sync's billing client is told the limit's scale
    assert target_endpoint(settings, "billing")["limit_scale"] == pytest.approx(400.0)


def test_pacer_spaces_requests_under_the_rate() -> None:
    pacer = Pacer(rate=20.0)
    started = time.monotonic()
    for _ in range(6):
        pacer.wait()
    # the first request goes at once, the next five wait 1/20 s each
    assert 0.24 <= time.monotonic() - started < 0.6


def test_result_reports_rows_per_table_and_rate() -> None:
    result = ExtractResult(
        sources=[SourceResult(source="crm", tables={"contacts": 300, "companies": 30}, seconds=1.5)]
    )
    body = result.as_dict()
    assert body["rows"] == 330
    assert body["sources"]["crm"]["rows_per_second"] == 220.0
    assert json.loads(json.dumps(body)) == body
    text = render(result)
    assert "contacts" in text and "300" in text and "220.0" in text


def test_parallelism_defaults_to_every_source_and_is_set_by_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PARALLELISM_VARIABLE, raising=False)
    assert extract_parallelism(4) == 4
    assert extract_parallelism(1) == 1
    monkeypatch.setenv(PARALLELISM_VARIABLE, "2")
    assert extract_parallelism(4) == 2
    assert extract_parallelism(4, parallelism=3) == 3  # an explicit value wins over the env var
    monkeypatch.setenv(PARALLELISM_VARIABLE, "16")
    assert extract_parallelism(4) == 4  # never more threads than sources
    for wrong in ("0", "-1", "all", "1.5"):
        monkeypatch.setenv(PARALLELISM_VARIABLE, wrong)
        with pytest.raises(UserError, match=PARALLELISM_VARIABLE):
            extract_parallelism(4)


def test_failures_of_several_sources_are_reported_together(
    settings: Settings, warehouse: database.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    import customer_sync.extract as extract

    def fake_source(settings: Settings, db: database.Database, name: str, *args: object) -> SourceResult:
        if name == "billing":
            raise UserError("source billing: the system rejected the credentials (HTTP 401)")
        if name == "support":
            raise RunFailure("extract support failed in dlt's load step: OperationalError: gone")
        return SourceResult(source=name, tables={"t": 3}, seconds=0.1)

    monkeypatch.setattr(extract, "_run_source", fake_source)
    for parallelism in (1, 4):
        with pytest.raises(RunFailure) as caught:
            run_extract(settings, warehouse, progress=False, parallelism=parallelism)
        assert str(caught.value) == (
            "source billing: the system rejected the credentials (HTTP 401); "
            "extract support failed in dlt's load step: OperationalError: gone; "
            "landed: crm (3 rows), erp (3 rows)"
        )
    with pytest.raises(UserError, match="^source billing: .*; landed: crm"):
        run_extract(settings, warehouse, ["crm", "billing"], progress=False)


def test_a_run_killed_while_dlt_deleted_an_extracted_package_is_finished(
    scratch_pipeline: Callable[[str], dlt.Pipeline], warehouse: database.Database
) -> None:
    @dlt.source(name="killed")
    def source(ids: list[int]) -> Any:
        rows = [{"id": i} for i in ids]
        yield dlt.resource(rows, name="items", primary_key="id", write_disposition="merge")

    pipeline = scratch_pipeline("killed")
    land_source(pipeline, source([1, 2]), "killed")
    # the state a kill leaves during dlt's commit: the package is normalized (here: loaded too), and
    # part of its extracted copy is still there, without the jobs folder already deleted
    (load_id,) = pipeline.list_completed_load_packages()
    leftover = Path(pipeline.working_dir) / "normalize" / "extracted" / load_id
    (leftover / "completed_jobs").mkdir(parents=True)
    shutil.copy(Path(pipeline.working_dir) / "load" / "loaded" / load_id / "schema.json", leftover)
    assert pipeline.list_extracted_load_packages() == [load_id]

    result = land_source(pipeline, source([2, 3]), "killed")

    assert result.tables == {"items": 2}
    assert pipeline.list_extracted_load_packages() == []
    rows = fetch_rows(warehouse, "select id from raw_test_killed.items order by id")
    assert rows == [(1,), (2,), (3,)]


def _land_killed_after_first_commit(pipeline: dlt.Pipeline, source: Any) -> None:
    """In a forked child: a full refresh killed right after Postgres committed its first load job and
    before dlt recorded that (the window a SIGKILL can hit)."""
    from dlt.common.storages.load_package import PackageStorage

    def killed(*args: object, **kwargs: object) -> None:
        os._exit(9)

    PackageStorage.save_pending_transition = killed  # type: ignore[method-assign]
    land_source(pipeline, source, "recommitted", full_refresh=True)
    os._exit(0)


def test_a_run_killed_between_a_commit_and_its_record_is_extracted_again(
    scratch_pipeline: Callable[[str], dlt.Pipeline],
    settings: Settings,
    warehouse: database.Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Resuming such a package inserts the committed job's rows again and the staging table's unique
    _dlt_id refuses them: the package is aborted and the source extracted again, here from scratch,
    since the killed run was a full refresh that had emptied the table (and its watermark would
    skip ids 2 and 3)."""

    @dlt.source(name="recommitted")
    def source(ids: list[int]) -> Any:
        @dlt.resource(name="items", primary_key="id", write_disposition="merge")
        def items() -> Any:
            # a watermark in the resource state, as the real pipelines keep theirs
            state = dlt.current.resource_state()
            yield [{"id": i} for i in ids if i > state.get("last_id", 0)]
            state["last_id"] = max(ids)

        return items

    pipeline = scratch_pipeline("recommitted")
    land_source(pipeline, source([1, 2, 3]), "recommitted")
    child = multiprocessing.get_context("fork").Process(
        target=_land_killed_after_first_commit, args=(pipeline, source([2, 3, 4]))
    )
    child.start()
    child.join(120)
    assert child.exitcode == 9, "the child was not killed in the window"
    resumed = make_pipeline(settings, warehouse, "test_recommitted", "raw_test_recommitted", progress=False)
    assert len(resumed.list_normalized_load_packages()) == 1

    with caplog.at_level(logging.WARNING, logger="customer_sync.extract"):
        land_source(resumed, source([2, 3, 4]), "recommitted")

    assert "cannot be finished" in caplog.text and "from scratch" in caplog.text
    assert resumed.list_normalized_load_packages() == []
    rows = fetch_rows(warehouse, "select id from raw_test_recommitted.items order by id")
    assert rows == [(2,), (3,), (4,)]
