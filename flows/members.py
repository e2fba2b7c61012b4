"""Member flows: new-member follow-up (daily) and dues follow-up (monthly), for the measures
the plan names by their `on_event` cadence (`event: member_joined`, `event: dues_unpaid`).

Parameters, logs and artifacts carry counts and member numbers only; the lists with
names go by e-mail from inside the tasks (tasks/members.py).
"""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger

from aarshjul.domain.i18n import N_
from aarshjul.domain.results import DuesFollowUp, FollowUps
from aarshjul.flows.guard import single_run
from aarshjul.tasks.artifacts import counts_summary
from aarshjul.tasks.members import notify_follow_ups, remind_dues
from aarshjul.tasks.plan_io import by_reference, read_plan


@flow(name="follow-up-new-members", log_prints=False)
def follow_up_new_members(plan_path: str = "config/plan.yaml", today: date | None = None) -> FollowUps:
    """Send each branch its list of new members to call (weekly), and escalate to the
    board those not contacted within the plan's `within_days`."""
    plan = read_plan(plan_path)
    with single_run("follow-up-new-members", plan):
        result = notify_follow_ups(by_reference(plan), today or date.today())
    get_run_logger().info("follow-up: %(branches_notified)d branches notified, %(members_listed)d members listed, "
                          "%(escalated)d escalated", vars(result))
    counts_summary("follow-up-new-members", N_("New-member follow-up"), vars(result), plan.organisation.locale)
    return result


@flow(name="follow-up-dues", log_prints=False)
def follow_up_dues(plan_path: str = "config/plan.yaml", today: date | None = None) -> DuesFollowUp:
    """Remind members with unpaid dues once a year, and give each branch its list."""
    plan = read_plan(plan_path)
    with single_run("follow-up-dues", plan):
        result = remind_dues(by_reference(plan), today or date.today())
    get_run_logger().info("dues: %(reminded)d members reminded, %(branch_lists)d branch lists sent", vars(result))
    counts_summary("follow-up-dues", N_("Dues follow-up"), vars(result), plan.organisation.locale)
    return result
