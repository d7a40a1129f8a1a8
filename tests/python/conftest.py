"""Shared fixtures: a throwaway home and an embedded Postgres for the whole test session.

Area fixtures (simulators, landed data, built marts) live in tests/python/fixtures/<area>.py and are
listed in ``pytest_plugins`` below.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from customer_sync import db as database
from customer_sync.config import Settings, load_settings

pytest_plugins: list[str] = [
    "tests.python.fixtures.simulators",
    "tests.python.fixtures.matching",
    "tests.python.fixtures.landing",
    "tests.python.fixtures.warehouse_data",
    "tests.python.fixtures.sync",
]


@pytest.fixture(scope="session")
def cs_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh CUSTOMER_SYNC_HOME for the session (unless the caller gave one)."""
    given = os.environ.get("CUSTOMER_SYNC_TEST_HOME")
    home = Path(given) if given else tmp_path_factory.mktemp("cs_home")
    old = os.environ.get("CUSTOMER_SYNC_HOME")
    os.environ["CUSTOMER_SYNC_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("CUSTOMER_SYNC_HOME", None)
    else:
        os.environ["CUSTOMER_SYNC_HOME"] = old


@pytest.fixture(scope="session")
def settings(cs_home: Path) -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def warehouse(settings: Settings) -> Iterator[database.Database]:
    """The session's warehouse: CUSTOMER_SYNC_DATABASE_URL if set, else an embedded Postgres."""
    db = database.ensure_ready(settings)
    yield db
    if db.embedded:
        database.stop_embedded(settings.pgdata)
