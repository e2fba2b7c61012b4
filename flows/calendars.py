"""The calendar flow: the stored agenda out to .ics feeds, the web page and CalDAV."""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger
from prefect.tasks import exponential_backoff

from aarshjul.domain.plan import Plan
from aarshjul.domain.results import Published
from aarshjul.flows.guard import single_run
from aarshjul.flows.plan import sync
from aarshjul.settings import get_settings
from aarshjul.tasks.artifacts import calendars_summary
from aarshjul.tasks.caldav import CalendarCounts
from aarshjul.tasks.calendars import publish_site, push_caldav
from aarshjul.tasks.plan_io import by_reference, read_plan


@flow(name="publish-calendars", log_prints=False)
def publish_calendars(plan_path: str = "config/plan.yaml", today: date | None = None) -> Published:
    """Bring the stored agenda up to date with the plan, then publish it (see `publish`)."""
    return publish(read_plan(plan_path), today or date.today())


def publish(plan: Plan, today: date) -> Published:
    """Bring the stored agenda up to date with the plan, then write every feed and the
    public web page, and push the bodies' calendars to CalDAV when a server is set.
    One run at a time per chapter."""
    logger = get_run_logger()
    settings = get_settings()
    with single_run("publish-calendars", plan):
        plan_summary = sync(plan, today)
        site = publish_site(by_reference(plan), today)
        logger.info("site: %d files written, %d unchanged, %d feeds", len(site.written), site.unchanged,
                    len(site.feeds))
        caldav: dict[str, CalendarCounts] = {}
        if settings.caldav_url:
            caldav = push_caldav.with_options(
                retries=settings.caldav_retries,
                retry_delay_seconds=exponential_backoff(backoff_factor=settings.caldav_retry_delay),
            )(by_reference(plan))
            totals = {k: sum(getattr(c, k) for c in caldav.values())
                      for k in ("created", "updated", "cancelled", "deleted", "unchanged", "conflicts")}
            logger.info("CalDAV: %s", ", ".join(f"{n} {k}" for k, n in totals.items()))
            for body, c in caldav.items():
                if c.wrongly_made:
                    logger.warning("CalDAV: the calendar of %s was made for %s, not for events only; apps may show "
                                   "it as a task list. aarshjul leaves it as it is: make it anew for VEVENT only "
                                   "on the server if that matters", body, ", ".join(c.components))
            proposed = sum(len(c.proposed) for c in caldav.values())
            if proposed:
                logger.warning("CalDAV: %d placeholders were moved to a date on the server: proposed pins; see "
                               "`aarshjul calendars conflicts`", proposed)
            if totals["conflicts"]:
                logger.warning("CalDAV: %d events were changed on the server by someone else and are left "
                               "alone; see `aarshjul calendars conflicts`", totals["conflicts"])
    calendars_summary(plan.organisation.id, len(site.written), site.unchanged, site.feeds, caldav,
                      plan.organisation.locale)
    return Published(**vars(plan_summary), site=str(site.index), files_written=len(site.written),
                     feeds=dict(site.feeds), caldav={body: vars(c) for body, c in caldav.items()})
