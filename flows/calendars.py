"""The calendar flow: the stored agenda out to .ics feeds, the web page and CalDAV."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from aarshjul.db.calendars import entries as stored_entries
from aarshjul.db.calendars import feed_tokens
from aarshjul.db.session import transaction
from aarshjul.domain.feeds import feeds
from aarshjul.flows.guard import single_run
from aarshjul.flows.plan import sync_plan
from aarshjul.settings import get_settings, per_organisation
from aarshjul.tasks.caldav import CaldavError, CaldavTarget, CalendarCounts, push_calendars
from aarshjul.tasks.plan_io import read_plan
from aarshjul.tasks.site import SiteResult, write_site


@task(name="write-site", cache_policy=NO_CACHE)
def publish_site(plan_path: str, today: date) -> SiteResult:
    settings = get_settings()
    plan = read_plan.fn(plan_path)
    now = datetime.now(timezone.utc)
    with transaction(settings.database_url) as session:
        entries = stored_entries(session, plan.organisation.id, plan.tz)
        tokens = feed_tokens(session, plan.organisation.id, [f.id for f in feeds(plan) if not f.public], now)
    org = plan.organisation.id
    return write_site(plan, entries, tokens, Path(per_organisation(settings.site_dir, org)), now, today,
                      per_organisation(settings.site_url, org))


def _retry_caldav(task, task_run, state) -> bool:
    """Retry a server that may come back; never a refused login or a bad setting."""
    try:
        state.result()
    except CaldavError as exc:
        return exc.transient
    except Exception:
        return False
    return False


@task(name="push-caldav", cache_policy=NO_CACHE, retry_condition_fn=_retry_caldav)
def push_caldav(plan_path: str) -> dict[str, CalendarCounts]:
    """Push every body's calendar to the CalDAV server; only what changed is written."""
    settings = get_settings()
    plan = read_plan.fn(plan_path)
    now = datetime.now(timezone.utc)
    target = CaldavTarget(settings.caldav_url, settings.caldav_username, _caldav_password(settings))
    with transaction(settings.database_url) as session:
        entries = stored_entries(session, plan.organisation.id, plan.tz)
        return push_calendars(session, target, plan, entries, now,
                              per_organisation(settings.site_url, plan.organisation.id))


def _caldav_password(settings) -> str | None:
    """From AARSHJUL_CALDAV_PASSWORD, or the Prefect Secret block AARSHJUL_CALDAV_PASSWORD_BLOCK names."""
    if settings.caldav_password or not settings.caldav_password_block:
        return settings.caldav_password
    from prefect.blocks.system import Secret

    try:
        return Secret.load(settings.caldav_password_block).get()
    except ValueError as exc:
        raise CaldavError(f"no Prefect Secret block {settings.caldav_password_block!r} "
                          f"(AARSHJUL_CALDAV_PASSWORD_BLOCK): {exc}", transient=False) from None


@flow(name="publish-calendars", log_prints=False)
@single_run("publish-calendars", empty=dict)
def publish_calendars(plan_path: str = "config/plan.yaml", today: date | None = None) -> dict:
    """Bring the stored agenda up to date with the plan, then write every feed and the
    public web page, and push the bodies' calendars to CalDAV when a server is set."""
    logger = get_run_logger()
    today = today or date.today()
    plan_summary = sync_plan.fn(plan_path=plan_path, today=today)  # its tasks, in this flow run
    site = publish_site(plan_path, today)
    logger.info("site: %d files written, %d unchanged, %d feeds", len(site.written), site.unchanged, len(site.feeds))
    settings = get_settings()
    caldav: dict[str, CalendarCounts] = {}
    if settings.caldav_url:
        caldav = push_caldav.with_options(
            retries=settings.caldav_retries,
            retry_delay_seconds=exponential_backoff(backoff_factor=settings.caldav_retry_delay),
        )(plan_path)
        totals = {k: sum(getattr(c, k) for c in caldav.values())
                  for k in ("created", "updated", "cancelled", "deleted", "unchanged", "conflicts")}
        logger.info("CalDAV: %s", ", ".join(f"{n} {k}" for k, n in totals.items()))
        if totals["conflicts"]:
            logger.warning("CalDAV: %d events were changed on the server by someone else and are left alone; "
                           "see `aarshjul calendars conflicts`", totals["conflicts"])
    _artifact(plan_summary["organisation"], site, caldav)
    return {**plan_summary, "site": str(site.index), "files_written": len(site.written), "feeds": site.feeds,
            "caldav": {body: vars(c) for body, c in caldav.items()}}


def _artifact(org: str, site: SiteResult, caldav: dict[str, CalendarCounts]) -> None:
    lines = ["# Calendars", "", "| calendar | events in feed | created | updated | cancelled | deleted "
             "| unchanged | conflicts |", "|---|---|---|---|---|---|---|---|"]
    for feed, n in site.feeds.items():
        c = caldav.get(feed)
        cells = [str(n)] + ([str(c.created), str(c.updated), str(c.cancelled), str(c.deleted), str(c.unchanged),
                              str(c.conflicts)] if c else ["–"] * 6)
        lines.append(f"| {feed} | " + " | ".join(cells) + " |")
    lines += ["", f"{len(site.written)} files written, {site.unchanged} unchanged."]
    create_markdown_artifact(key=f"calendars-{org}", description="Calendars published", markdown="\n".join(lines))
