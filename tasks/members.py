"""The member flows' work, as Prefect tasks: new-member follow-up and dues follow-up.

Which measures they serve is the plan's to say: the measure whose `on_event` cadence has
`event: member_joined` (its `within_days` the deadline of each call), and the one with
`event: dues_unpaid` (each reminder run logged as its completion). A plan without such
a measure gets no such follow-up.

The lists with names and phone numbers are built inside these tasks and go only to the
person responsible for the call, by e-mail: the one place personal data is sent.
What the tasks return (and so what reaches Prefect) is counts only.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

from prefect import task
from prefect.cache_policies import NO_CACHE

from aarshjul.db.audiences import members_by_number, unpaid_members
from aarshjul.db.completions import log_completion
from aarshjul.db.members import mark_escalated, open_follow_ups, overdue_follow_ups
from aarshjul.db.models import Member
from aarshjul.db.session import transaction
from aarshjul.domain import i18n
from aarshjul.domain.campaigns import (board_of, body_contacts, dues_campaign, dues_list_campaign,
                                       follow_up_campaign, follow_up_overdue_campaign, limits)
from aarshjul.domain.plan import Plan
from aarshjul.domain.results import DuesFollowUp, FollowUps
from aarshjul.settings import get_settings
from aarshjul.tasks.sending import send_now


@task(name="notify-branch-follow-ups", cache_policy=NO_CACHE)
def notify_follow_ups(plan: Plan, today: date) -> FollowUps:
    """Each branch with new members not yet contacted gets, once a week, the list to call;
    follow-ups past their due date (the plan's `within_days`) are escalated to the board once."""
    out = {"branches_notified": 0, "members_listed": 0, "escalated": 0}
    if plan.driven_by("member_joined") is None:
        return FollowUps(**out)  # the plan promises new members nothing
    lang, org, lim = plan.organisation.locale, plan.organisation.id, limits(plan)
    week = f"{today.isocalendar().year}-W{today.isocalendar().week:02d}"
    with transaction(get_settings().database_url) as session:
        for branch, follow_ups in open_follow_ups(session, org, today).items():
            if not branch or branch not in plan.bodies:
                continue  # without a branch: the board sees them in the escalation
            people = members_by_number(session, org, [f.member_number for f in follow_ups])
            rows = [{"number": f.member_number, "name": _name(people.get(f.member_number), lang),
                     "phone": (people.get(f.member_number) and people[f.member_number].phone) or "–",
                     "joined": i18n.day(f.joined, lang), "due": i18n.day(f.due, lang)} for f in follow_ups]
            if send_now(session, lim, follow_up_campaign(plan, branch, week, rows), body_contacts(plan, [branch])):
                out["branches_notified"] += 1
                out["members_listed"] += len(rows)
        overdue = overdue_follow_ups(session, org, today)
        if overdue:
            by_branch: dict[str, list[str]] = {}
            for f in overdue:
                by_branch.setdefault(f.branch or "", []).append(f.member_number)
            board = board_of(plan)
            if board:
                send_now(session, lim, follow_up_overdue_campaign(plan, board, today, by_branch),
                         body_contacts(plan, [board]))
            out["escalated"] = mark_escalated(session, org, [f.member_number for f in overdue], today)
    return FollowUps(**out)


@task(name="dues-reminders", cache_policy=NO_CACHE)
def remind_dues(plan: Plan, today: date) -> DuesFollowUp:
    """Members with unpaid dues get one polite e-mail a year; each branch gets this
    month's list to follow up by phone."""
    out = {"reminded": 0, "branch_lists": 0}
    measure = plan.driven_by("dues_unpaid")
    if measure is None:
        return DuesFollowUp(**out)  # the plan makes no promise about unpaid dues
    org, lim, year = plan.organisation.id, limits(plan), today.year
    with transaction(get_settings().database_url) as session:
        unpaid = unpaid_members(session, org)
        out["reminded"] = send_now(session, lim, dues_campaign(plan, year), [(m.number, m.email) for m in unpaid])
        for branch in plan.branches():
            rows = [{"number": m.number, "name": _name(m, plan.organisation.locale), "phone": m.phone or "–"}
                    for m in unpaid if m.branch == branch]
            if rows:
                out["branch_lists"] += send_now(session, lim, dues_list_campaign(plan, branch, today, rows),
                                                body_contacts(plan, [branch]))
        if out["reminded"]:
            note = i18n.ngettext(plan.organisation.locale, "dues reminder sent to {n} member",
                                 "dues reminder sent to {n} members", out["reminded"])
            log_completion(session, org, measure.number, f"{measure.number}@kontingent/{year}/{today.isoformat()}",
                           today, datetime.now(timezone.utc), source="flow", note=note)
    return DuesFollowUp(**out)


def _name(m: Member | None, lang: str) -> str:
    if m is None:
        return "–"
    return f"{m.first_name or ''} {m.last_name or ''}".strip() or i18n._(lang, "member {number}", number=m.number)
