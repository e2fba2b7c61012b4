"""The plan flow: from the plan files to the stored agenda and its gaps."""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger

from aarshjul.domain.expand import expand
from aarshjul.domain.gaps import find_gaps
from aarshjul.domain.plan import Plan
from aarshjul.domain.results import AgendaStored
from aarshjul.settings import get_settings
from aarshjul.tasks.artifacts import agenda_summary
from aarshjul.tasks.plan_io import by_reference, migrate_database, read_plan, save_agenda


@flow(name="sync-plan", log_prints=False)
def sync_plan(plan_path: str = "config/plan.yaml", today: date | None = None) -> AgendaStored:
    """Load and validate the plan, then store its agenda (see `sync`)."""
    return sync(read_plan(plan_path), today or date.today())


def sync(plan: Plan, today: date) -> AgendaStored:
    """Expand the plan into the agenda over the whole plan period, store the agenda
    (noting what changed), and report the year's gaps as artifacts."""
    url = get_settings().database_url
    occurrences = expand(plan)
    migrate_database(url)
    counts, held = save_agenda(url, plan.organisation.id, by_reference(occurrences))
    year = min(max(today.year, plan.period.start.year), plan.period.end.year)
    gaps = find_gaps([o for o in occurrences if o.span.overlaps_year(year)], today, held)

    get_run_logger().info(
        "stored %d occurrences of %s: %d new, %d changed, %d unchanged, %d removed; %d gaps in %d",
        counts.total, plan.id, counts.new, counts.changed, counts.unchanged, counts.removed, len(gaps), year)
    agenda_summary(plan.organisation.id, plan.meta.title, year, counts, gaps, plan.organisation.locale)
    return AgendaStored(plan=plan.meta.title, organisation=plan.organisation.id, occurrences=counts.total,
                        new=counts.new, changed=counts.changed, unchanged=counts.unchanged, removed=counts.removed,
                        gaps=len(gaps), year=year, database=_safe(url))


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
