"""The calendars' I/O, as Prefect tasks: the web page and feeds on disk, the bodies' calendars on CalDAV."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun

from aarshjul.db.calendars import (feed_entries, feed_tokens, invited_organizers, invited_versions, invitees,
                                   remember_invited, retired_ids)
from aarshjul.db.session import transaction
from aarshjul.domain.errors import CaldavError
from aarshjul.domain.expand import Occurrence
from aarshjul.domain.feeds import Entry, feeds, retired_feed
from aarshjul.domain.plan import Plan
from aarshjul.settings import Settings, get_settings, per_organisation
from aarshjul.tasks.caldav import CaldavTarget, CalendarCounts, push_calendars
from aarshjul.tasks.site import SiteResult, feed_path, write_site


@task(name="write-site", cache_policy=NO_CACHE)
def publish_site(plan: Plan, today: date) -> SiteResult:
    """Every feed and the public web page, from the stored agenda, into the site folder."""
    settings = get_settings()
    org = plan.organisation.id
    site_dir = per_organisation(settings.site_dir, org)
    assert site_dir is not None  # site_dir is a str setting, so it is one with {organisation} filled in
    return write_feeds(settings.database_url, plan, Path(site_dir), datetime.now(timezone.utc), today,
                       per_organisation(settings.site_url, org))


def write_feeds(database_url: str, plan: Plan, site_dir: Path, now: datetime, today: date,
                site_url: str | None = None) -> SiteResult:
    """Every feed as of `now` (what each shows remembered) and the page into `site_dir`. The
    feed of a body taken out of the plan stays at its URL, under the name it had, with its
    events cancelled, until the grace period ends (db.calendars.feed_entries)."""
    org = plan.organisation.id
    with transaction(database_url) as session:
        entries = feed_entries(session, plan, now)
        tokens = feed_tokens(session, org, [f.id for f in feeds(plan) if not f.public], now)
        gone = feed_tokens(session, org, retired_ids(plan, entries), now, create=False)  # their URLs, kept
    tokens.update(gone)
    retired = [retired_feed(plan, fid, *feed_name(site_dir / feed_path(fid, False, tokens))) for fid in gone]
    return write_site(plan, entries, tokens, site_dir, now, today, site_url, retired)


def feed_name(path: Path) -> tuple[str | None, str | None]:
    """The name and description (X-WR-CALNAME, X-WR-CALDESC) of the feed file at `path`, as
    the last publish wrote it: a retired feed keeps the name people subscribed to."""
    from icalendar import Calendar

    try:
        cal = Calendar.from_ical(path.read_bytes())
    except (OSError, ValueError):
        return None, None
    name, description = cal.get("X-WR-CALNAME"), cal.get("X-WR-CALDESC")
    return (str(name) if name else None), (str(description) if description else None)


def retry_caldav(task: Task[..., Any], task_run: TaskRun, state: State) -> bool:
    """Retry a server that may come back; never a refused login or a bad setting."""
    try:
        state.result()
    except CaldavError as exc:
        return exc.transient
    except Exception:
        return False
    return False


@task(name="push-caldav", cache_policy=NO_CACHE, retry_condition_fn=retry_caldav)
def push_caldav(plan: Plan) -> dict[str, CalendarCounts]:
    """Push every body's calendar to the CalDAV server; only what changed is written."""
    settings = get_settings()
    if not settings.caldav_url:
        raise CaldavError("no CalDAV server to push to: set AARSHJUL_CALDAV_URL", transient=False)
    now = datetime.now(timezone.utc)
    target = CaldavTarget(settings.caldav_url, settings.caldav_username, caldav_password(settings))
    with transaction(settings.database_url) as session:
        entries = feed_entries(session, plan, now)
        return push_calendars(session, target, plan, entries, now,
                              per_organisation(settings.site_url, plan.organisation.id))


@task(name="read-invited-versions", cache_policy=NO_CACHE)
def read_invited_versions(plan: Plan) -> tuple[dict[tuple[str, str], Occurrence], dict[str, tuple[str, str]]]:
    """(uid, body) -> the occurrence as the body's people were last invited to it; and for
    each body taken out of the plan since, the organizer (address, name) it invited as."""
    with transaction(get_settings().database_url) as session:
        former = {b: o for b, o in invited_organizers(session, plan.organisation.id).items() if b not in plan.bodies}
        return invited_versions(session, plan.organisation.id, plan.tz), former


@task(name="record-invitation", cache_policy=NO_CACHE)
def record_invitation(organisation: str, body: str, entry: Entry, organizer: tuple[str, str]) -> None:
    """A REQUEST for `entry` from `organizer` reached `body`'s people: remember what they have."""
    with transaction(get_settings().database_url) as session:
        remember_invited(session, organisation, body, entry, organizer)


@task(name="read-invitees", cache_policy=NO_CACHE)
def read_invitees(organisation: str, uid: str, body: str) -> list[tuple[str, str | None]]:
    """Whom an invitation from `body` to event `uid` reached, per the delivery ledger."""
    with transaction(get_settings().database_url) as session:
        return invitees(session, organisation, uid, body)


def caldav_password(settings: Settings) -> str | None:
    """From AARSHJUL_CALDAV_PASSWORD, or the Prefect Secret block AARSHJUL_CALDAV_PASSWORD_BLOCK names
    (or None: then a password written into AARSHJUL_CALDAV_URL is used, see tasks/caldav.py)."""
    if settings.caldav_password is not None and settings.caldav_password.get_secret_value():
        return settings.caldav_password.get_secret_value()
    if not settings.caldav_password_block:
        return None
    from prefect.blocks.system import Secret

    try:
        # Prefect types load() as "the block or a coroutine" (one function for sync and async
        # callers); called from sync code, as here, it is the block.
        password: str = Secret.load(settings.caldav_password_block).get()  # type: ignore[union-attr]
        return password
    except ValueError as exc:
        raise CaldavError(f"no Prefect Secret block {settings.caldav_password_block!r} "
                          f"(AARSHJUL_CALDAV_PASSWORD_BLOCK): {exc}", transient=False) from None
