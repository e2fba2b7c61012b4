"""Which newsletter editions are due, and what a 'what's on' digest lists.

Pure. A newsletter's schedule is an RRULE in the organisation's zone; each date it
yields is an edition, keyed by month for monthly or rarer rules (`medlemsbrev/2026-02`)
and by day otherwise (`ukebrev/2026-02-03`). An edition is due from its date until
`send_within_days` after it: a missed run catches up, an old one is never sent late.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from babel.dates import format_date
from dateutil.rrule import rrulestr

from .errors import BadEdition
from .expand import Occurrence
from .mail_model import Newsletter
from .plan import Plan


@dataclass(frozen=True)
class Edition:
    newsletter: str
    key: str  # medlemsbrev/2026-02 or hva-skjer/arna/2026-02
    day: date  # the scheduled day
    branch: str | None = None

    @property
    def audience(self) -> str:
        """What an unsubscribe applies to: the newsletter, per branch for branch editions."""
        return f"{self.newsletter}/{self.branch}" if self.branch else self.newsletter


def edition_label(n: Newsletter, day: date) -> str:
    monthly = any(f"FREQ={f}" in n.schedule.upper() for f in ("MONTHLY", "YEARLY"))
    return day.strftime("%Y-%m") if monthly else day.isoformat()


def scheduled_days(plan: Plan, n: Newsletter, start: date, end: date) -> list[date]:
    """The days between start and end (both included) on which `n` has an edition: its
    schedule's dates within the plan period."""
    start, end = max(start, plan.period.start), min(end, plan.period.end)
    if start > end:
        return []
    rule = rrulestr(n.schedule, dtstart=datetime.combine(plan.period.start, time(0)))
    return [d.date() for d in rule.between(datetime.combine(start, time(0)), datetime.combine(end, time(23, 59)),
                                           inc=True)]


def due_editions(plan: Plan, n: Newsletter, today: date) -> list[Edition]:
    """The editions of `n` due today (at most one scheduled day; one per branch if so)."""
    days = scheduled_days(plan, n, today - timedelta(days=n.send_within_days), today)
    return editions_for(plan, n, days[-1]) if days else []


def editions_for(plan: Plan, n: Newsletter, day: date) -> list[Edition]:
    label = edition_label(n, day)
    if n.audience.each_branch:
        return [Edition(n.id, f"{n.id}/{b}/{label}", day, b) for b in plan.branches()]
    return [Edition(n.id, f"{n.id}/{label}", day)]


def parse_edition(plan: Plan, n: Newsletter, text: str, force: bool = False) -> list[Edition]:
    """An edition from what a person types: '2026-02', 'medlemsbrev/2026-02', 'hva-skjer/arna/2026-02'.

    Only an edition the plan schedules, on the day it schedules it ('2026-02' of a letter
    due on the last Thursday is the edition of 26 February 2026), so it is credited to
    that occurrence. An edition the plan does not schedule ('9999-12', a month outside
    the plan period) is refused unless `force`: then it is the label's first day."""
    parts = text.split("/")
    if parts[0] == n.id:
        parts = parts[1:]
    branch = parts[0] if len(parts) == 2 else None
    label = parts[-1]
    monthly = len(label) == 7
    try:
        first = date.fromisoformat(label + "-01" if monthly else label)
    except ValueError:
        raise BadEdition(f"{text!r} is not an edition of {n.id}; write YYYY-MM (or YYYY-MM-DD)") from None
    if monthly:
        last = first.replace(day=monthrange(first.year, first.month)[1])
        days = [d for d in scheduled_days(plan, n, first, last) if edition_label(n, d) == label]
    else:
        days = [d for d in scheduled_days(plan, n, first, first) if edition_label(n, d) == label]
    if not days and not force:
        near = min(max(first, plan.period.start), plan.period.end)
        nearest = scheduled_days(plan, n, near - timedelta(days=62), near + timedelta(days=62))
        hint = f"; scheduled near it: {', '.join(edition_label(n, d) for d in nearest[:4])}" if nearest else ""
        raise BadEdition(f"{n.id} has no edition {label} in the plan ({plan.period}){hint}; "
                         "send an unscheduled edition with --force")
    found = editions_for(plan, n, days[0] if days else first)
    if branch:
        found = [e for e in found if e.branch == branch]
        if not found:
            raise BadEdition(f"{branch!r} is not a branch of {plan.organisation.name}")
    return found


def month_name(day: date, lang: str) -> str:
    return format_date(day, "LLLL y", locale=lang)


DIGEST_DAYS = 42  # a digest lists the next six weeks


def digest_events(occurrences: list[Occurrence], branch: str, start: date, days: int = DIGEST_DAYS) -> list[Occurrence]:
    """For a branch's digest: scheduled events of the branch, and the members' and public
    ones, from `start` for `days` days."""
    end = start + timedelta(days=days)
    return [o for o in occurrences if o.status == "scheduled" and o.start is not None
            and start <= o.span.start <= end
            and (branch in o.bodies or o.visibility in ("members", "public"))
            and o.kind != "deadline"]
