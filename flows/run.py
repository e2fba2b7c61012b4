"""The main job: everything one run of aarshjul does, as one flow run."""

from __future__ import annotations

from datetime import date

from prefect import flow

from aarshjul.domain.results import RunResult
from aarshjul.flows.calendars import publish
from aarshjul.flows.mail import send_due
from aarshjul.tasks.plan_io import read_plan


@flow(name="aarshjul-run", log_prints=False)
def run_all(plan_path: str = "config/plan.yaml", today: date | None = None, send_mail: bool = True) -> RunResult:
    """Read the plan once; bring the agenda up to date and publish the calendars; then send
    the newsletter editions, reminders and invitations that are due today.

    One flow run whose tasks are those of the flows it is made of (each extra flow run
    would cost Prefect's own bookkeeping for nothing the admin needs to see apart)."""
    today = today or date.today()
    plan = read_plan(plan_path)
    published = publish(plan, today)
    return RunResult(**vars(published), mail=send_due(plan, today) if send_mail else None)
