"""Reminders to the responsible bodies, before an obligation falls due.

Pure. For each occurrence and today, at most one reminder is due at a time:

    a pinned meeting             `lead_days` before it (21, then 7)     reminder/<key>/lead-7
    a quota slot not scheduled   `unscheduled_days` before its window closes
                                                                      reminder/<key>/unscheduled-14
    a deadline passed, not done  once, within 30 days after it          reminder/<key>/overdue

The key is the campaign in the delivery ledger, so each reminder goes once.
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
    days: int  # days before (lead, unscheduled) or after (overdue)
    occurrence: Occurrence


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
    """The nearest lead time that has been reached, if the day has not come."""
    reached = [n for n in sorted(days) if when - timedelta(days=n) <= today <= when]
    if reached:
        n = reached[0]
        out.append(Reminder(f"reminder/{o.key}/{kind}-{n}", kind, n, o))
