"""One run at a time: a guard for the parts of a flow that send or write for a chapter.

    with single_run("send-newsletter", plan):
        ...

A run that finds another run of the same kind for the same chapter in progress raises
`Busy` (exit status 75, try again later) before doing anything: it never reports
"nothing to do" when it did not look. The lock lives in aarshjul's database, so it
holds across processes and servers (db/locks.py).
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from typing import Iterator

from aarshjul.db.locks import exclusive
from aarshjul.db.migrate import upgrade
from aarshjul.domain.plan import Plan
from aarshjul.settings import get_settings


@functools.lru_cache(maxsize=8)
def _migrated(url: str) -> None:
    """Migrate a database once per process (every guarded flow needs the lock table)."""
    upgrade(url)


@contextmanager
def single_run(kind: str, plan: Plan) -> Iterator[None]:
    url = get_settings().database_url
    _migrated(url)
    with exclusive(url, f"{kind}:{plan.organisation.id}"):
        yield
