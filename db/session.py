"""Engines and sessions. A SQLite file by default; any SQLAlchemy URL otherwise.

Every engine is made with `hide_parameters=True`: a database error's message never
carries the statement's parameters (members' names and e-mail addresses), neither on
stderr nor in Prefect's logs; and PostgreSQL's DETAIL, which quotes the offending values
("Key (email)=(ola@example.org) already exists"), is cut from the driver's message too
(`_first_line_only`): the error says what went wrong, never whose row.

A SQLite database file aarshjul creates is made 0600 (owner only) before SQLite opens it;
SQLite gives its journal and WAL files the same mode.

A SQLite database another connection holds locked (a long write, `BEGIN EXCLUSIVE`) is
waited for at most BUSY_TIMEOUT_SECONDS per statement; then SQLite's "database is
locked" is raised, which the CLI reports in one line (exit 3) naming the lock.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.engine.interfaces import DBAPIConnection, ExceptionContext
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.orm import Session, sessionmaker

BUSY_TIMEOUT_SECONDS = 10  # how long a SQLite statement waits for another connection's lock


def make_engine(url: str, create_dir: bool = True) -> Engine:
    """An engine for `url`; a SQLite file's folder (and the file, 0600) created when needed.

    A SQLite URI filename (`sqlite:///file:/path/a.db?mode=ro&uri=true`) names the file
    after `file:`; with `mode=ro` or `mode=rw` nothing is created."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and create_dir:
        path = sqlite_path(url)
        mode = parsed.query.get("mode")
        if path is not None and mode in (None, "rwc", ("rwc",)):  # ro and rw never create the file
            path.parent.mkdir(parents=True, exist_ok=True)
            _create_private(path)
    sqlite = parsed.get_backend_name() == "sqlite"
    # the driver's own wait (before the pragma below is set) bounded the same way
    engine = create_engine(url, future=True, hide_parameters=True,
                           connect_args={"timeout": BUSY_TIMEOUT_SECONDS} if sqlite else {})
    if sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "handle_error", _first_line_only)
    return engine


def _first_line_only(context: ExceptionContext) -> BaseException | None:
    """Keep only the first line of the driver's message (the reason), dropping PostgreSQL's
    DETAIL/CONTEXT lines, which quote row values. The exception keeps its type and its
    `diag` (for code that asks for the SQLSTATE); only what str() shows changes."""
    orig = context.original_exception
    text = str(orig)
    first = text.split("\n", 1)[0]
    made = context.sqlalchemy_exception
    if first == text or not orig.args or not isinstance(made, DBAPIError):
        return None
    orig.args = (first, *orig.args[1:])
    # SQLAlchemy wrote str(orig) into its message when it made the exception: make it again
    return type(made)(context.statement, context.parameters, orig, hide_parameters=True,
                      connection_invalidated=made.connection_invalidated, code=made.code)


def sqlite_path(url: str) -> Path | None:
    """The file a SQLite URL names, or None (not SQLite, or in memory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    name = parsed.database
    if parsed.query.get("uri") in ("true", ("true",)) and name.startswith("file:"):
        name = name.removeprefix("file:")
        if name.startswith("//"):  # file://host/path: only an empty or local host is allowed by SQLite
            name = "/" + name[2:].split("/", 1)[1] if "/" in name[2:] else ""
        name = name.split("?", 1)[0]
        if not name or name == ":memory:" or parsed.query.get("mode") in ("memory", ("memory",)):
            return None
    return Path(name)


def _create_private(path: Path) -> None:
    """An empty file, owner only, if there is none (SQLite takes an empty file as a new database)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
    cursor.close()


def database_exists(url: str) -> bool:
    """True when the database has aarshjul's tables (read-only commands never create it)."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return False
    engine = make_engine(url, create_dir=False)
    try:
        return inspect(engine).has_table("occurrences")
    finally:
        engine.dispose()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: committed at the end, rolled back on any error."""
    session = sessionmaker(engine, expire_on_commit=False)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def transaction(url: str) -> Iterator[Session]:
    """One unit of work on the database at `url`: a session committed at the end (rolled
    back on error), and its engine disposed of, so a task holds no connection after it."""
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            yield session
    finally:
        engine.dispose()
