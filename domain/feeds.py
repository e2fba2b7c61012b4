"""Which calendar feeds there are, and what goes in each.

    one per body      everything that body is responsible for, including reminders for
                      quota slots not yet scheduled and deadlines
    medlemmer         events open to all members (visibility members or public)
    offentlig         open events only (visibility public): the public web calendar

Unscheduled slots appear only in the responsible bodies' feeds, as all-day reminders
two weeks before their window closes, never in the members' or public feed.

Nothing vanishes. An occurrence that leaves a feed for any reason stays in it as
STATUS:CANCELLED with a higher SEQUENCE (RFC 5545 §3.8.1.11, §3.8.7.4) for the grace
period, so that every subscriber's app sees the cancellation before the event goes:

    cancelled (schedule.yaml, `aarshjul cancel`)   the occurrence itself, cancelled
    removed from the plan (a measure edited, a     its last version, cancelled
    cadence changed, a pin's slot gone)
    left this feed while it lives on (a pin        the version this feed last showed
    removed: unscheduled, so out of the members'    (`Shown`, remembered per feed in
    and public feeds; a body taken off it;          the database), cancelled, with the
    visibility narrowed)                            occurrence's current SEQUENCE

A body taken out of organisation.yaml altogether leaves its feed retired (`retired_feed`):
everything it showed is cancelled there, the same way, and the feed (its file under the
same token, its CalDAV calendar) holds those cancellations for the grace period; once the
last is forgotten the feed goes.

A pin removed is in its bodies' feeds the same UID moved back to its placeholder with
SEQUENCE raised, not a new event. The grace period: a cancelled event is kept until
GRACE (60 days) after the later of its removal and its last day, so that it shows as
cancelled on its own date in every app, and for two months after; then it goes from
the feeds (and is deleted from CalDAV calendars).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .expand import Occurrence
from .plan import Plan
from .i18n import _

MEMBERS = "medlemmer"
PUBLIC = "offentlig"
GRACE = timedelta(days=60)
REMINDER_LEAD = timedelta(days=14)


@dataclass(frozen=True)
class Entry:
    """An occurrence as published: with its revision (SEQUENCE) and change times."""

    occurrence: Occurrence
    sequence: int
    created: datetime
    modified: datetime
    removed: bool = False
    reason: str | None = None  # why it was cancelled (`aarshjul cancel --reason`), shown in DESCRIPTION

    @property
    def cancelled(self) -> bool:
        return self.removed or self.occurrence.status == "cancelled"


@dataclass(frozen=True)
class Feed:
    id: str  # a body id, "medlemmer" or "offentlig"; the file is calendars/<id>.ics
    name: str  # X-WR-CALNAME
    description: str
    public: bool  # public feeds are listed on the web page; the others live under a token
    retired: bool = False  # its body is gone from the plan: it wants nothing, and shows what it had, cancelled

    def wants(self, occ: Occurrence) -> bool:
        if self.retired:
            return False
        if self.id == PUBLIC:
            return occ.visibility == "public" and occ.status != "unscheduled"
        if self.id == MEMBERS:
            return occ.visibility in ("public", "members") and occ.status != "unscheduled"
        return self.id in occ.bodies


def feeds(plan: Plan) -> list[Feed]:
    """Every feed of the plan: the public one, the members' one, then one per body."""
    org, lang = plan.organisation.name, plan.organisation.locale
    out = [
        Feed(PUBLIC, _(lang, "{org} – open events", org=org), _(lang, "Open events in {org}", org=org), True),
        Feed(MEMBERS, _(lang, "{org} – for members", org=org),
             _(lang, "Meetings and events for all members of {org}", org=org), False),
    ]
    for ident, body in plan.bodies.items():
        out.append(Feed(ident, body.calendar or f"{org} – {body.name}",
                        _(lang, "Everything {body} is responsible for in the plan", body=body.name), False))
    return out


def retired_feed(plan: Plan, feed_id: str, name: str | None = None, description: str | None = None) -> Feed:
    """The feed of a body no longer in the plan, under the name it had (when known)."""
    label = name or f"{plan.organisation.name} – {feed_id}"
    return Feed(feed_id, label, description or label, False, retired=True)


@dataclass(frozen=True)
class Shown:
    """What a feed last showed of an occurrence: that version, its SEQUENCE, and when it
    left the feed (None while it is in it). Stored per feed (db.models.FeedItem)."""

    occurrence: Occurrence
    sequence: int
    left_at: datetime | None = None

    def to_row(self) -> dict[str, Any]:
        return {"key": self.occurrence.key, "data": self.occurrence.to_dict(), "sequence": self.sequence,
                "left_at": self.left_at}


def within_grace(occ: Occurrence, since: datetime, now: datetime, grace: timedelta = GRACE) -> bool:
    """A cancellation made at `since` is still shown at `now`: until `grace` after the later
    of `since` and the occurrence's last day (its window's for an unscheduled slot)."""
    return now.date() <= max(since.date(), occ.span.end) + grace


def publishable(feed: Feed, entries: list[Entry], now: datetime, shown: dict[str, Shown] | None = None,
                grace: timedelta = GRACE) -> tuple[list[Entry], dict[str, Shown]]:
    """The entries of `feed` as of `now`, and what the feed shows from now on (its memory).

    An entry the feed wants is in it (a cancelled one within the grace period). An
    occurrence the feed showed before (`shown`) and no longer wants is in it as the
    version it showed, cancelled, with SEQUENCE above both that version's and the
    occurrence's current one, until the grace period ends."""
    shown = shown or {}
    out: list[Entry] = []
    memory: dict[str, Shown] = {}
    current = {e.occurrence.uid: e for e in entries}
    wanted: set[str] = set()
    for e in entries:
        occ = e.occurrence
        if not feed.wants(occ):
            continue
        wanted.add(occ.uid)
        if e.cancelled and not within_grace(occ, e.modified, now, grace):
            continue
        out.append(e)
        memory[occ.uid] = Shown(occ, e.sequence)
    for uid, was in shown.items():
        if uid in wanted:
            continue
        now_entry = current.get(uid)
        left_at = was.left_at or now
        if not within_grace(was.occurrence, left_at, now, grace):
            continue  # forgotten: the cancellation has been shown long enough
        sequence = max(was.sequence + (was.left_at is None), now_entry.sequence if now_entry else 0)
        modified = max(left_at, now_entry.modified) if now_entry else left_at
        created = now_entry.created if now_entry else left_at
        out.append(Entry(was.occurrence, sequence, created, modified, removed=True,
                         reason=now_entry.reason if now_entry else None))
        memory[uid] = Shown(was.occurrence, sequence, left_at)
    return out, memory


def select(feed: Feed, entries: list[Entry], now: datetime, grace: timedelta = GRACE,
           shown: dict[str, Shown] | None = None) -> list[Entry]:
    """The entries of `feed` as of `now` (see `publishable`)."""
    return publishable(feed, entries, now, shown, grace)[0]
