"""What the CLI modules share: database sessions for commands."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from .domain.errors import AarshjulError
from .settings import get_settings


@contextmanager
def session() -> Iterator:
    """One transaction on a database at the current schema (created or migrated if needed).
    A database error is reported without its parameters (they may hold personal data)."""
    from sqlalchemy.exc import SQLAlchemyError

    from .db.migrate import upgrade
    from .db.session import make_engine, session_scope

    url = get_settings().database_url
    upgrade(url)
    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            yield s
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or type(exc).__name__).splitlines()[0]
        raise AarshjulError(f"databasefeil, ingenting er lagret: {reason}") from None
    finally:
        engine.dispose()


@contextmanager
def existing_session() -> Iterator:
    """A session for reading, or None when there is no database yet (never created here);
    a database from an older version of aarshjul is brought to the current schema."""
    from alembic.migration import MigrationContext

    from .db.migrate import current_head, upgrade
    from .db.session import database_exists, make_engine, session_scope

    url = get_settings().database_url
    if not database_exists(url):
        yield None
        return
    engine = make_engine(url, create_dir=False)
    try:
        with engine.connect() as conn:
            behind = MigrationContext.configure(conn).get_current_revision() != current_head()
        if behind:
            upgrade(url)
        with session_scope(engine) as s:
            yield s
    finally:
        engine.dispose()
