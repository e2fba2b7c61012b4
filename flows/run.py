"""The main job: everything one run of aarshjul does, as one flow run."""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger

from aarshjul.domain.errors import CaldavError
from aarshjul.domain.results import Published, RunResult
from aarshjul.flows.calendars import publish
from aarshjul.flows.mail import send_due
from aarshjul.tasks.plan_io import read_plan


@flow(name="aarshjul-run", log_prints=False)
def run_all(plan_path: str = "config/plan.yaml", today: date | None = None, send_mail: bool = True) -> RunResult:
    """Read the plan once; bring the agenda up to date and publish the calendars; then send
    the newsletter editions, reminders and invitations that are due today.

    A CalDAV server that is down or refuses us does not keep today's mail back: the agenda
    and the feeds are already stored and written by then, so the mail goes out, and the run
    then fails with the CalDAV error (exit 3), for the admin to see and the next run to catch up.

    One flow run whose tasks are those of the flows it is made of (each extra flow run
    would cost Prefect's own bookkeeping for nothing the admin needs to see apart)."""
    today = today or date.today()
    plan = read_plan(plan_path)
    published: Published | None = None
    calendars_down: CaldavError | None = None
    try:
        published = publish(plan, today)
    except CaldavError as exc:
        calendars_down = exc
        get_run_logger().error("CalDAV failed (%s); the mail due today is sent all the same", exc)
    mail = send_due(plan, today) if send_mail else None
    if calendars_down is not None:
        raise calendars_down
    assert published is not None
    return RunResult(**vars(published), mail=mail)
