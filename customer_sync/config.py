"""Configuration from environment variables.

Every setting has an env var; nothing here holds a connection or a secret in code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    """Where the project keeps its state and which database it uses."""

    project_dir: Path
    home: Path
    database_url: str | None

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def simulators_dir(self) -> Path:
        return self.home / "simulators"

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    @property
    def uses_embedded_database(self) -> bool:
        return not self.database_url


def load_settings() -> Settings:
    """Read settings from the environment (CUSTOMER_SYNC_HOME, CUSTOMER_SYNC_DATABASE_URL)."""
    project_dir = Path(os.environ.get("CUSTOMER_SYNC_PROJECT_DIR", PROJECT_DIR)).resolve()
    home = Path(os.environ.get("CUSTOMER_SYNC_HOME", project_dir / ".customer-sync")).resolve()
    url = os.environ.get("CUSTOMER_SYNC_DATABASE_URL") or None
    return Settings(project_dir=project_dir, home=home, database_url=url)
