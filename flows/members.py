"""Member flows: new-member follow-up (measure 1.4, daily) and dues follow-up (2.12, monthly).

The lists with names and phone numbers are built inside the tasks and go only to the
person responsible for the call, by e-mail: the one place personal data is sent.
Parameters, logs and artifacts carry counts and member numbers only.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from sqlalchemy import select

from aarshjul.db.completions import log_completion
from aarshjul.db.members import mark_escalated, open_follow_ups, overdue_follow_ups
from aarshjul.db.models import Member
from aarshjul.db.session import transaction
from aarshjul.domain import i18n
from aarshjul.domain.editions import month_name
from aarshjul.flows.guard import single_run
from aarshjul.flows.mail import _mail, body_campaign, send_now
from aarshjul.settings import get_settings
from aarshjul.tasks.mailer import Campaign
from aarshjul.tasks.plan_io import read_plan


@task(name="notify-branch-follow-ups", cache_policy=NO_CACHE)
def notify_follow_ups(plan_path: str, today: date) -> dict:
    """Each branch with new members not yet contacted gets, once a week, the list to call;
    follow-ups past their 30 days are escalated to the board once."""
    plan = read_plan.fn(plan_path)
    lang = plan.organisation.locale
    week = f"{today.isocalendar().year}-W{today.isocalendar().week:02d}"
    out = {"branches_notified": 0, "members_listed": 0, "escalated": 0}
    with transaction(get_settings().database_url) as session:
        for branch, follow_ups in open_follow_ups(session, plan.organisation.id, today).items():
            if not branch or branch not in plan.bodies:
                continue  # without a branch: the board sees them in the escalation
            numbers = [f.member_number for f in follow_ups]
            people = {m.number: m for m in session.scalars(select(Member).where(
                Member.organisation == plan.organisation.id, Member.number.in_(numbers)))}
            rows = [{"number": f.member_number, "name": _name(people.get(f.member_number)),
                     "phone": (people.get(f.member_number) and people[f.member_number].phone) or "–",
                     "joined": i18n.day(f.joined, lang), "due": i18n.day(f.due, lang)} for f in follow_ups]
            campaign = body_campaign(plan, f"followup/{branch}/{week}", "followup",
                                      "Nye medlemmer å ringe – {{ branch_name }}",
                                      {"branch_name": plan.bodies[branch].name, "members": rows}, [branch])
            if send_now(plan, session, campaign, [(branch, plan.bodies[branch].contact)]):
                out["branches_notified"] += 1
                out["members_listed"] += len(rows)
        overdue = overdue_follow_ups(session, plan.organisation.id, today)
        if overdue:
            by_branch: dict[str, list[str]] = {}
            for f in overdue:
                by_branch.setdefault(f.branch or "", []).append(f.member_number)
            board = next((b for b, body in plan.bodies.items() if body.kind == "board"), None)
            if board:
                branches = [{"name": plan.bodies[b].name if b in plan.bodies else "Uten lag", "count": len(n),
                             "numbers": n} for b, n in sorted(by_branch.items())]
                campaign = body_campaign(plan, f"followup-overdue/{today.isoformat()}", "followup_overdue",
                                          "{{ count }} nye medlemmer er ikke kontaktet innen fristen",
                                          {"count": len(overdue), "branches": branches}, [board])
                send_now(plan, session, campaign, [(board, plan.bodies[board].contact)])
            out["escalated"] = mark_escalated(session, plan.organisation.id,
                                              [f.member_number for f in overdue], today)
    return out


@task(name="dues-reminders", cache_policy=NO_CACHE)
def remind_dues(plan_path: str, today: date) -> dict:
    """Members with unpaid dues get one polite e-mail a year; each branch gets this
    month's list to follow up by phone."""
    plan = read_plan.fn(plan_path)
    year = today.year
    out = {"reminded": 0, "branch_lists": 0}
    with transaction(get_settings().database_url) as session:
        unpaid = list(session.scalars(select(Member).where(
            Member.organisation == plan.organisation.id, Member.status == "active",
            Member.forgotten_at.is_(None), Member.dues_paid.is_(False)).order_by(Member.number)))
        mail = _mail(plan)
        campaign = Campaign(
            organisation=plan.organisation.id, key=f"kontingent/{year}", audience=None, template="dues",
            subject="Kontingenten for {{ year }}",
            context={"organisation": plan.organisation.name, "lang": plan.organisation.locale, "year": year},
            from_name=mail.sender.name, from_address=mail.sender.address, domain=mail.sender.domain,
            reply_to=mail.sender.address)
        out["reminded"] = send_now(plan, session, campaign, [(m.number, m.email) for m in unpaid])
        for branch in plan.branches():
            rows = [{"number": m.number, "name": _name(m), "phone": m.phone or "–"}
                    for m in unpaid if m.branch == branch]
            if not rows:
                continue
            lst = body_campaign(plan, f"kontingent-liste/{branch}/{today:%Y-%m}", "dues_list",
                                 "Ubetalt kontingent – {{ branch_name }}",
                                 {"branch_name": plan.bodies[branch].name, "members": rows, "year": year,
                                  "month": month_name(today, plan.organisation.locale)}, [branch])
            out["branch_lists"] += send_now(plan, session, lst, [(branch, plan.bodies[branch].contact)])
        if out["reminded"]:
            log_completion(session, plan.organisation.id, "2.12", f"2.12@kontingent/{year}/{today.isoformat()}",
                           today, datetime.now(timezone.utc), source="flow",
                           note=f"påminnelse om kontingent sendt til {out['reminded']} medlemmer")
    return out


def _name(m: Member | None) -> str:
    if m is None:
        return "–"
    return f"{m.first_name or ''} {m.last_name or ''}".strip() or f"medlem {m.number}"


@flow(name="follow-up-new-members", log_prints=False)
@single_run("follow-up-new-members", empty=dict)
def follow_up_new_members(plan_path: str = "config/plan.yaml", today: date | None = None) -> dict:
    """Send each branch its list of new members to call (weekly), and escalate to the
    board those not contacted within 30 days (measure 1.4)."""
    result = notify_follow_ups(plan_path, today or date.today())
    get_run_logger().info("follow-up: %(branches_notified)d branches notified, %(members_listed)d members listed, "
                          "%(escalated)d escalated", result)
    create_markdown_artifact(key="follow-up-new-members", description="New-member follow-up (1.4)",
                             markdown="| | |\n|---|---|\n" + "".join(f"| {k} | {v} |\n" for k, v in result.items()))
    return result


@flow(name="follow-up-dues", log_prints=False)
@single_run("follow-up-dues", empty=dict)
def follow_up_dues(plan_path: str = "config/plan.yaml", today: date | None = None) -> dict:
    """Remind members with unpaid dues once a year, and give each branch its list (2.12)."""
    result = remind_dues(plan_path, today or date.today())
    get_run_logger().info("dues: %(reminded)d members reminded, %(branch_lists)d branch lists sent", result)
    create_markdown_artifact(key="follow-up-dues", description="Dues follow-up (2.12)",
                             markdown="| | |\n|---|---|\n" + "".join(f"| {k} | {v} |\n" for k, v in result.items()))
    return result
