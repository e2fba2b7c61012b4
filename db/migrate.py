"""Schema migrations with Alembic, driven from code (`aarshjul db upgrade`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "heads") -> None:
    """Bring the database at `url` to `revision` (creating a SQLite file if needed)."""
    from .session import make_engine

    engine = make_engine(url)  # creates the SQLite folder
    engine.dispose()
    command.upgrade(alembic_config(url), revision)


def current_heads() -> frozenset[str]:
    """The revisions a database at the current schema stands at (one, unless branches are open)."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    if not heads:  # an installation without its migration scripts
        raise RuntimeError(f"no schema migrations in {MIGRATIONS}; reinstall aarshjul")
    return frozenset(heads)
