"""Reminders to the responsible bodies, before an obligation falls due.

Pure. For each occurrence and today, at most one reminder is due at a time:

    a pinned meeting             `lead_days` before it (21, then 7)     reminder/<key>/lead-7
    a quota slot not scheduled   `unscheduled_days` before its window closes
                                                                      reminder/<key>/unscheduled-14
    a deadline passed, not done  once, within 30 days after it          reminder/<key>/overdue

The key is the campaign in the delivery ledger, so each reminder goes once. A reminder
states the days really left (`days`), not its lead time: a run that comes late (a meeting
pinned 10 days ahead, a missed day) sends "Om 10 dager", never "Om 21 dager". One so late
that it is nearer the next lead time than its own is not sent at all: the next follows
(at 9 days left the 21-day reminder is skipped, and the 7-day one comes two days later).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Collection, Iterable

from .expand import Occurrence
from .mail_model import Reminders

OVERDUE_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class Reminder:
    campaign: str
    kind: str  # lead | unscheduled | overdue
    days: int  # the real number of days left (lead, unscheduled) or passed (overdue), as of today
    occurrence: Occurrence
    lead: int | None = None  # the lead time it answers to (21, 7); None for overdue


def due_reminders(occurrences: Iterable[Occurrence], today: date, config: Reminders,
                  held: Collection[str] = frozenset()) -> list[Reminder]:
    out: list[Reminder] = []
    for o in occurrences:
        if o.status == "cancelled" or o.key in held:
            continue
        if o.kind == "deadline":
            due = o.span.end
            if config.overdue and due < today <= due + OVERDUE_WINDOW:
                out.append(Reminder(f"reminder/{o.key}/overdue", "overdue", (today - due).days, o))
            elif today <= due:
                _lead(out, o, due, today, config.lead_days, "lead")
        elif o.status == "unscheduled":
            _lead(out, o, o.window_end, today, config.unscheduled_days, "unscheduled")
        elif o.start is not None and o.kind in ("quota", "annual"):
            _lead(out, o, o.span.start, today, config.lead_days, "lead")
    return out


def _lead(out: list[Reminder], o: Occurrence, when: date, today: date, days: list[int], kind: str) -> None:
    """The reminder of the nearest lead time reached, if the day has not come, with the
    days really left; none when it is so late that the next lead time is nearer (see the
    module docstring)."""
    left = (when - today).days
    if left < 0:
        return
    leads = sorted(set(days))
    reached = [n for n in leads if left <= n]
    if not reached:
        return
    n = reached[0]
    nearer = [m for m in leads if m < n]
    if nearer and left < (n + nearer[-1]) / 2:
        return  # too late for this one: the reminder `nearer[-1]` days ahead comes sooner than this was due
    out.append(Reminder(f"reminder/{o.key}/{kind}-{n}", kind, left, o, n))
