"""The main job: everything one run of aarshjul does, as one flow run with subflows."""

from __future__ import annotations

from datetime import date

from prefect import flow

from aarshjul.flows.calendars import publish_calendars
from aarshjul.flows.mail import send_due_mail


@flow(name="aarshjul-run", log_prints=False)
def run_all(plan_path: str = "config/plan.yaml", today: date | None = None, send_mail: bool = True) -> dict:
    """Bring the agenda up to date and publish the calendars; then send the newsletter
    editions, reminders and invitations that are due today.

    One flow run whose tasks are those of the flows it is made of (called as `.fn`):
    each extra flow run would cost about a second of Prefect's own time (its heartbeat
    thread sleeps in one-second steps and is joined when the run ends)."""
    today = today or date.today()
    summary = publish_calendars.fn(plan_path=plan_path, today=today)
    summary["mail"] = send_due_mail.fn(plan_path=plan_path, today=today) if send_mail else None
    return summary
