"""Run locks: two runs of the same sending flow for the same chapter never overlap.

Prefect's deployment concurrency limits stop overlapping scheduled runs; this lock also
covers runs started by hand (`aarshjul newsletter send`) and runs on other servers,
because it lives in aarshjul's own database. Taking it is one INSERT of a primary key:
atomic on SQLite and PostgreSQL alike. A lock past its expiry (a killed process) is
taken over.
"""

from __future__ import annotations

import enum
import os
import socket
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Iterator

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError

from ..domain.errors import TryLater
from .models import RunLock
from .session import make_engine, session_scope

LEASE = timedelta(hours=2)


class Busy(TryLater):
    """Another run holds the lock."""

    def __init__(self, lock: RunLock):
        self.holder, self.since = lock.holder, lock.acquired_at
        super().__init__(f"another run is in progress ({lock.holder}, since {lock.acquired_at:%Y-%m-%d %H:%M} UTC)")


@contextmanager
def exclusive(url: str, name: str, lease: timedelta = LEASE) -> Iterator[None]:
    """Hold lock `name` for the duration of the block; Busy if another run has it."""
    holder = f"{socket.gethostname()}:{os.getpid()}"
    engine = make_engine(url)
    try:
        for _ in range(2):  # a lock released between our INSERT and our look: try once more
            other = _take(engine, name, holder, lease)
            if other is None:
                break
            if other is not _Gone.GONE:
                raise Busy(other)
        else:
            raise Busy(RunLock(name=name, holder="?", acquired_at=datetime.now(timezone.utc)))
        try:
            yield
        finally:
            with session_scope(engine) as session:
                session.execute(delete(RunLock).where(RunLock.name == name, RunLock.holder == holder))
    finally:
        engine.dispose()


class _Gone(enum.Enum):
    """The lock that refused our INSERT was released before we could look at it."""

    GONE = enum.auto()


def _take(engine: Engine, name: str, holder: str, lease: timedelta) -> RunLock | _Gone | None:
    """None when taken; else the lock that holds it (or _Gone.GONE if it vanished meanwhile)."""
    now = datetime.now(timezone.utc)
    try:
        with session_scope(engine) as session:
            session.execute(delete(RunLock).where(RunLock.name == name, RunLock.expires_at < now))
            session.add(RunLock(name=name, holder=holder, acquired_at=now, expires_at=now + lease))
        return None
    except IntegrityError:
        with session_scope(engine) as session:
            lock = session.scalar(select(RunLock).where(RunLock.name == name))
        return lock if lock is not None else _Gone.GONE
