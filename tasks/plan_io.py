"""I/O around the plan: reading the plan files and storing the agenda, as Prefect tasks.

Each task wraps one plain call. Plan errors are never retried (a typo stays a typo);
database errors are retried a few times with backoff.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypeVar, cast
from datetime import datetime, timezone, tzinfo

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun
from prefect.utilities.annotations import quote

from aarshjul.db.agenda import StoreCounts, cancelled_keys, held_keys, store_agenda
from aarshjul.db.calendars import entries as stored_entries
from aarshjul.db.migrate import upgrade
from aarshjul.db.session import transaction
from aarshjul.domain.errors import AarshjulError
from aarshjul.domain.expand import Occurrence
from aarshjul.domain.feeds import Entry
from aarshjul.domain.load import load_plan
from aarshjul.domain.plan import Plan


T = TypeVar("T")


def by_reference(value: T) -> T:
    """`value` handed to a task as it is, without Prefect walking it for futures to wait
    for: a Plan or a Report has thousands of fields, and the walk cost 10-25 ms per task
    call (measured: 2.5 ms with this). Use for every Plan, Report and list of occurrences."""
    return cast(T, quote(value))


def transient_error(task: Task[..., Any], task_run: TaskRun, state: State) -> bool:
    """Retry database trouble, never aarshjul's own errors (a bad plan, setting or targets table)."""
    try:
        state.result()
    except AarshjulError:
        return False
    except Exception:
        return True
    return False


@task(name="read-plan", cache_policy=NO_CACHE)
def read_plan(path: str) -> Plan:
    """Load and validate the plan files."""
    return load_plan(path)


@task(name="migrate-database", retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=transient_error,
      cache_policy=NO_CACHE)
def migrate_database(url: str) -> None:
    upgrade(url)


@task(name="store-agenda", retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=transient_error,
      cache_policy=NO_CACHE)
def save_agenda(url: str, organisation: str, occurrences: list[Occurrence]) -> tuple[StoreCounts, set[str]]:
    """Upsert the occurrences; return the counts and the keys recorded as held.

    An occurrence cancelled in the completion log (`aarshjul cancel KEY`) is stored as
    cancelled, so the calendars publish the cancellation like one made in schedule.yaml."""
    with transaction(url) as session:
        cancelled = cancelled_keys(session, organisation)
        occurrences = [replace(o, status="cancelled") if o.key in cancelled else o for o in occurrences]
        counts = store_agenda(session, organisation, occurrences, datetime.now(timezone.utc))
        return counts, held_keys(session, organisation)


@task(name="read-held", retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=transient_error,
      cache_policy=NO_CACHE)
def read_held(url: str, organisation: str) -> set[str]:
    """The occurrence keys recorded as held in the completion log."""
    with transaction(url) as session:
        return held_keys(session, organisation)


@task(name="read-agenda", retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=transient_error,
      cache_policy=NO_CACHE)
def read_entries(url: str, organisation: str, tz: tzinfo) -> list[Entry]:
    """The stored agenda as feed entries (each occurrence with its revision and status)."""
    with transaction(url) as session:
        return stored_entries(session, organisation, tz)
