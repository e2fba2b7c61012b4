"""The calendar flow: the stored agenda out to .ics feeds, the web page and CalDAV."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from aarshjul.db.calendars import entries as stored_entries
from aarshjul.db.calendars import feed_tokens
from aarshjul.db.session import make_engine, session_scope
from aarshjul.domain.feeds import feeds
from aarshjul.flows.plan import sync_plan
from aarshjul.settings import get_settings
from aarshjul.tasks.plan_io import read_plan
from aarshjul.tasks.site import SiteResult, write_site


@task(name="write-site", cache_policy=NO_CACHE)
def publish_site(plan_path: str, today: date) -> SiteResult:
    settings = get_settings()
    plan = read_plan.fn(plan_path)
    now = datetime.now(timezone.utc)
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            entries = stored_entries(session, plan.organisation.id, plan.tz)
            tokens = feed_tokens(session, plan.organisation.id, [f.id for f in feeds(plan) if not f.public], now)
    finally:
        engine.dispose()
    return write_site(plan, entries, tokens, Path(settings.site_dir), now, today, settings.site_url)


@flow(name="publish-calendars", log_prints=False)
def publish_calendars(plan_path: str = "config/plan.yaml", today: date | None = None) -> dict:
    """Bring the stored agenda up to date with the plan, then write every feed and the
    public web page, and push the bodies' calendars to CalDAV when a server is set."""
    logger = get_run_logger()
    today = today or date.today()
    plan_summary = sync_plan(plan_path=plan_path, today=today)
    site = publish_site(plan_path, today)
    logger.info("site: %d files written, %d unchanged, %d feeds", len(site.written), site.unchanged, len(site.feeds))
    create_markdown_artifact(
        key=f"calendars-{plan_summary['organisation']}",
        description="Calendar feeds published",
        markdown="# Calendars\n\n| feed | events |\n|---|---|\n"
        + "".join(f"| {feed} | {n} |\n" for feed, n in site.feeds.items())
        + f"\n{len(site.written)} files written, {site.unchanged} unchanged.\n")
    return {**plan_summary, "site": str(site.index), "files_written": len(site.written),
            "feeds": site.feeds}
