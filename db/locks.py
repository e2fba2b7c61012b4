"""Run locks: two runs of the same sending flow for the same chapter never overlap.

Prefect's deployment concurrency limits stop overlapping scheduled runs; this lock also
covers runs started by hand (`aarshjul newsletter send`) and runs on other servers. A lock
is held by something that dies with its holder, never by a row with a lease:

    PostgreSQL            a session-level `pg_try_advisory_lock` on a connection of its own,
                          held (autocommit, TCP keepalives) for the whole run; the server
                          releases it the moment that connection closes, however the
                          process ended
    SQLite, a file        `flock` on a lock file beside the database file
                          (`aarshjul.db.send-newsletter_bergen-sv.lock`); the kernel
                          releases it when the process ends, SIGKILL included
    SQLite in memory      a lock in this process (`sqlite://` lives only in it anyway)

So a run killed at any point (SIGKILL, an OOM kill, a power cut) blocks nothing: the next
run takes the lock at once. A live run keeps it however long it takes (nothing expires).

Who holds it is written down for people only: on PostgreSQL in the `run_locks` row, in
the lock file's content on SQLite ("host:pid since"). It is never what decides: a
stale row or file content left by a killed run is simply overwritten by the next holder.
`Busy` (exit 75) names the holder when it can.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from sqlalchemy import Connection, create_engine, delete, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from ..domain.errors import DatabaseError, TryLater
from ..domain.i18n import Msg
from .models import RunLock
from .session import sqlite_path

TAKE_TRIES = 3  # a lock seen held for an instant (another command peeking at it) is tried again
TAKE_PAUSE = 0.05


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, for people: `host:pid` and since when (None when not known yet)."""

    who: str
    since: datetime | None = None

    def __str__(self) -> str:
        return f"{self.who}, since {self.since:%Y-%m-%d %H:%M} UTC" if self.since else self.who

    def text(self) -> str:
        return f"{self.who} {self.since.isoformat(timespec='seconds')}" if self.since else self.who

    @classmethod
    def parse(cls, value: str) -> Holder | None:
        who, _, since = value.strip().partition(" ")
        if not who:
            return None
        try:
            return cls(who, datetime.fromisoformat(since) if since else None)
        except ValueError:
            return cls(who)


UNKNOWN = Holder("holder not known: it is starting or ending")


class Busy(TryLater):
    """Another run holds the lock."""

    def __init__(self, holder: Holder | None = None, name: str = "") -> None:
        self.holder, self.name = holder or UNKNOWN, name
        self.since = self.holder.since
        super().__init__(Msg("another run is in progress ({holder}); run it again later", holder=str(self.holder)))

    def __reduce__(self) -> tuple[Any, ...]:  # kept whole when Prefect stores or copies the exception
        return (type(self), (self.holder, self.name))


def me() -> Holder:
    return Holder(f"{socket.gethostname()}:{os.getpid()}", datetime.now(timezone.utc).replace(microsecond=0))


@contextmanager
def exclusive(url: str, name: str) -> Iterator[None]:
    """Hold lock `name` for the duration of the block; Busy (naming the holder) if another
    run has it."""
    kind = make_url(url).get_backend_name()
    if kind == "postgresql":
        with _postgres(url, name):
            yield
    elif kind == "sqlite" and sqlite_path(url) is not None:
        with _file(_lock_file(url, name)):
            yield
    else:
        with _memory(url, name):
            yield


def holder(url: str, names: Iterable[str]) -> Holder | None:
    """The holder of the first of these locks that is held, else None; looks without
    taking (a command's quick check before it starts Prefect)."""
    kind = make_url(url).get_backend_name()
    for name in names:
        if kind == "postgresql":
            found = _postgres_holder(url, name)
        elif kind == "sqlite" and sqlite_path(url) is not None:
            found = _file_holder(_lock_file(url, name))
        else:
            found = _memory_holder(url, name)
        if found is not None:
            return found
    return None


# --- PostgreSQL: an advisory lock on a connection of its own --------------------------------


def _key(name: str) -> int:
    """A signed 64-bit advisory lock key for the name (stable across processes and versions)."""
    return int.from_bytes(hashlib.sha256(f"aarshjul:{name}".encode()).digest()[:8], "big", signed=True)


def _pg_engine(url: str) -> Any:
    # keepalives: a connection idle for hours (a long edition) is kept open through
    # firewalls, and a holder that vanished without closing it is noticed by the server
    return create_engine(url, poolclass=NullPool, hide_parameters=True, isolation_level="AUTOCOMMIT",
                         connect_args={"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
                                       "keepalives_count": 5})


@contextmanager
def _postgres(url: str, name: str) -> Iterator[None]:
    key, mine = _key(name), me()
    engine = _pg_engine(url)
    try:
        conn = engine.connect()
        try:
            conn.execute(text("SET idle_session_timeout = 0"))  # (PostgreSQL 14+) never cut while idle
        except Exception:  # noqa: BLE001 - an older server has no such setting; nothing to do
            pass
        try:
            for attempt in range(TAKE_TRIES):
                if conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one():
                    break
                if attempt < TAKE_TRIES - 1:
                    time.sleep(TAKE_PAUSE)
            else:
                raise Busy(_pg_row(conn, name), name)
            _pg_write(conn, name, mine)
            try:
                yield
            finally:
                try:
                    conn.execute(delete(RunLock).where(RunLock.name == name, RunLock.holder == mine.who))
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                except Exception:  # noqa: BLE001 - the connection is gone: so is the lock
                    pass
        finally:
            conn.close()
    finally:
        engine.dispose()


def _pg_write(conn: Connection, name: str, mine: Holder) -> None:
    """The holder's row, for people (a killed holder's row is replaced here)."""
    assert mine.since is not None
    conn.execute(delete(RunLock).where(RunLock.name == name))
    conn.execute(insert(RunLock).values(name=name, holder=mine.who, acquired_at=mine.since))


def _pg_row(conn: Connection, name: str) -> Holder | None:
    row = conn.execute(select(RunLock.holder, RunLock.acquired_at).where(RunLock.name == name)).first()
    return Holder(row.holder, row.acquired_at) if row else None


def _postgres_holder(url: str, name: str) -> Holder | None:
    key = _key(name)
    hi, lo = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF
    engine = _pg_engine(url)
    try:
        with engine.connect() as conn:
            held = conn.execute(text(
                "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND classid = CAST(CAST(:hi AS bigint) AS oid) AND objid = CAST(CAST(:lo AS bigint) AS oid)"),
                {"hi": hi, "lo": lo}).first()
            return (_pg_row(conn, name) or UNKNOWN) if held else None
    finally:
        engine.dispose()


# --- SQLite: flock on a file beside the database -----------------------------------------------


def _lock_file(url: str, name: str) -> Path:
    path = sqlite_path(url)
    assert path is not None
    return path.with_name(f"{path.name}.{re.sub(r'[^A-Za-z0-9._-]', '_', name)}.lock")


def _open(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise DatabaseError(f"{path}: cannot open the run lock file beside the database ({exc.strerror}); "
                            "check that the database's folder is writable") from None


@contextmanager
def _file(path: Path) -> Iterator[None]:
    fd = _open(path)
    try:
        for attempt in range(TAKE_TRIES):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt < TAKE_TRIES - 1:
                    time.sleep(TAKE_PAUSE)
        else:
            raise Busy(_read(fd), path.name)
        content = (me().text() + "\n").encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, content, 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # released: the file stays (removing it would race with a taker)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read(fd: int) -> Holder | None:
    try:
        return Holder.parse(os.pread(fd, 400, 0).decode("utf-8", "replace"))
    except OSError:
        return None


def _file_holder(path: Path) -> Holder | None:
    if not path.exists():
        return None
    fd = _open(path)
    try:
        try:  # a shared lock is refused while a run holds it exclusively
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(fd) or UNKNOWN
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


# --- in memory: a lock in this process ----------------------------------------------------------

_MEMORY: dict[tuple[str, str], Holder] = {}
_MEMORY_LOCK = threading.Lock()


@contextmanager
def _memory(url: str, name: str) -> Iterator[None]:
    key = (url, name)
    with _MEMORY_LOCK:
        if key in _MEMORY:
            raise Busy(_MEMORY[key], name)
        _MEMORY[key] = me()
    try:
        yield
    finally:
        with _MEMORY_LOCK:
            _MEMORY.pop(key, None)


def _memory_holder(url: str, name: str) -> Holder | None:
    with _MEMORY_LOCK:
        return _MEMORY.get((url, name))
