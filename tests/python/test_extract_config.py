"""Configuration of the landing: unknown and unconfigured sources, simulator credentials, pacing."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from customer_sync import credentials
from customer_sync import db as database
from customer_sync.commands.extract import render
from customer_sync.config import Settings
from customer_sync.errors import UserError
from customer_sync.extract import ExtractResult, SourceResult, check_sources, run_extract
from pipelines.http import Pacer


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


def test_simulator_credentials_are_set_only_for_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / "simulators").mkdir(parents=True)
    (home / "simulators" / "credentials.json").write_text("{}")
    endpoints = {
        "crm": {"base_url": "http://127.0.0.1:1", "api_token": "secret-crm"},
        "erp": {"sqlalchemy_url": "sqlite:////x/erp.sqlite", "api_token": None},
    }
    monkeypatch.setattr(credentials, "simulator_endpoints", lambda settings: endpoints)
    monkeypatch.delenv("SOURCES__CRM__BASE_URL", raising=False)
    monkeypatch.delenv("SOURCES__ERP__CREDENTIALS", raising=False)
    monkeypatch.setenv("SOURCES__CRM__API_TOKEN", "configured-by-the-user")
    monkeypatch.chdir(tmp_path)
    settings = Settings(project_dir=tmp_path, home=home, database_url=None)

    with credentials.simulator_credentials(settings, ["crm", "erp"]) as applied:
        assert sorted(applied) == ["SOURCES__CRM__BASE_URL", "SOURCES__ERP__CREDENTIALS"]
        assert os.environ["SOURCES__CRM__BASE_URL"] == "http://127.0.0.1:1"
        assert os.environ["SOURCES__CRM__API_TOKEN"] == "configured-by-the-user"
        assert os.environ["SOURCES__ERP__CREDENTIALS"] == "sqlite:////x/erp.sqlite"
    assert "SOURCES__CRM__BASE_URL" not in os.environ
    assert "SOURCES__ERP__CREDENTIALS" not in os.environ


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
