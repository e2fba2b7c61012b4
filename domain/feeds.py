"""Which calendar feeds there are, and what goes in each.

    one per body      everything that body is responsible for, including reminders for
                      quota slots not yet scheduled and deadlines
    medlemmer         events open to all members (visibility members or public)
    offentlig         open events only (visibility public): the public web calendar

Unscheduled slots appear only in the responsible bodies' feeds, as all-day reminders
two weeks before their window closes, never in the members' or public feed. A
cancelled or removed occurrence stays in a feed as cancelled for a grace period after
the change, so that subscribers see the cancellation before it disappears.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .expand import Occurrence
from .plan import Plan

MEMBERS = "medlemmer"
PUBLIC = "offentlig"
GRACE = timedelta(days=30)
REMINDER_LEAD = timedelta(days=14)


@dataclass(frozen=True)
class Entry:
    """An occurrence as published: with its revision (SEQUENCE) and change times."""

    occurrence: Occurrence
    sequence: int
    created: datetime
    modified: datetime
    removed: bool = False

    @property
    def cancelled(self) -> bool:
        return self.removed or self.occurrence.status == "cancelled"


@dataclass(frozen=True)
class Feed:
    id: str  # a body id, "medlemmer" or "offentlig"; the file is calendars/<id>.ics
    name: str  # X-WR-CALNAME
    description: str
    public: bool  # public feeds are listed on the web page; the others live under a token

    def wants(self, occ: Occurrence) -> bool:
        if self.id == PUBLIC:
            return occ.visibility == "public" and occ.status != "unscheduled"
        if self.id == MEMBERS:
            return occ.visibility in ("public", "members") and occ.status != "unscheduled"
        return self.id in occ.bodies


def feeds(plan: Plan) -> list[Feed]:
    """Every feed of the plan: the public one, the members' one, then one per body."""
    org = plan.organisation.name
    out = [
        Feed(PUBLIC, f"{org} – åpne arrangementer", f"Åpne arrangementer i {org}", True),
        Feed(MEMBERS, f"{org} – for medlemmer", f"Møter og arrangementer for alle medlemmer i {org}", False),
    ]
    for ident, body in plan.bodies.items():
        out.append(Feed(ident, body.calendar or f"{org} – {body.name}",
                        f"Alt {body.name} har ansvar for etter arbeidsplanen", False))
    return out


def select(feed: Feed, entries: list[Entry], now: datetime, grace: timedelta = GRACE) -> list[Entry]:
    """The entries of `feed` as of `now`: cancelled ones only within the grace period."""
    return [e for e in entries if feed.wants(e.occurrence) and (not e.cancelled or now - e.modified <= grace)]
