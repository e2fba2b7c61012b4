"""The main job: everything one run of aarshjul does, as one flow run with subflows."""

from __future__ import annotations

from datetime import date

from prefect import flow

from aarshjul.flows.calendars import publish_calendars
from aarshjul.flows.mail import send_due_mail


@flow(name="aarshjul-run", log_prints=False)
def run_all(plan_path: str = "config/plan.yaml", today: date | None = None, send_mail: bool = True) -> dict:
    """Bring the agenda up to date and publish the calendars; then send the newsletter
    editions and reminders that are due today."""
    today = today or date.today()
    summary = publish_calendars(plan_path=plan_path, today=today)
    summary["mail"] = send_due_mail(plan_path=plan_path, today=today) if send_mail else None
    return summary
