"""Schema migrations with Alembic: the helpers `flask db upgrade` and the tests use."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

import config as settings


def alembic_config(url: str) -> Config:
    cfg = Config(str(settings.PROJECT_ROOT / "migrations" / "alembic.ini"))
    cfg.set_main_option("script_location", str(settings.PROJECT_ROOT / "migrations"))
    # '%' must be escaped for configparser (URLs may carry %-encoded passwords).
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


def current(url: str) -> None:
    """Print the database's schema revision (Alembic's own output)."""
    command.current(alembic_config(url))
