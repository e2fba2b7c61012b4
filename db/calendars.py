"""What the calendars need from the database: published entries, what each feed showed, feed tokens."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone, tzinfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..domain.expand import Occurrence
from ..domain.feeds import Entry, Shown, feeds, publishable
from ..domain.plan import Plan
from .models import Completion, FeedItem, FeedToken, OccurrenceRow

TOKEN_BYTES = 24  # 192 bits, URL-safe: far beyond guessing


def entries(session: Session, organisation: str, tz: tzinfo) -> list[Entry]:
    """Every stored occurrence, removed ones included, as a calendar entry (times in `tz`),
    with the reason given to `aarshjul cancel --reason` for a cancelled one."""
    reasons = {key: note for key, note in session.execute(select(Completion.occurrence_key, Completion.note).where(
        Completion.organisation == organisation, Completion.outcome == "cancelled",
        Completion.occurrence_key.is_not(None), Completion.revoked_at.is_(None)))}
    rows = session.scalars(select(OccurrenceRow).where(OccurrenceRow.organisation == organisation))
    return [Entry(Occurrence.from_dict(r.data, tz), r.revision, _aware(r.first_seen), _aware(r.changed_at),
                  r.status == "removed", reasons.get(r.key) if r.status == "cancelled" else None) for r in rows]


def feed_entries(session: Session, plan: Plan, now: datetime, remember: bool = True) -> dict[str, list[Entry]]:
    """Each feed's entries as of `now` (domain.feeds.publishable): what it wants, and what
    it showed before and no longer wants, as cancelled. With `remember`, what each feed
    shows is stored for the next publish (the feed files and the CalDAV push both call this)."""
    org = plan.organisation.id
    stored = entries(session, org, plan.tz)
    items: dict[str, dict[str, FeedItem]] = {}
    for row in session.scalars(select(FeedItem).where(FeedItem.organisation == org)):
        items.setdefault(row.feed, {})[row.uid] = row
    out: dict[str, list[Entry]] = {}
    for feed in feeds(plan):
        rows = items.get(feed.id, {})
        shown = {uid: Shown(Occurrence.from_dict(r.data, plan.tz), r.sequence,
                            _aware(r.left_at) if r.left_at else None) for uid, r in rows.items()}
        out[feed.id], memory = publishable(feed, stored, now, shown)
        if not remember:
            continue
        for uid, old in rows.items():
            if uid not in memory:
                session.delete(old)
        for uid, was in memory.items():
            values = was.to_row()
            item = rows.get(uid)
            if item is None:
                session.add(FeedItem(organisation=org, feed=feed.id, uid=uid, **values))
            elif (item.key, item.data, item.sequence, _aware(item.left_at) if item.left_at else None) != \
                    (values["key"], values["data"], values["sequence"], values["left_at"]):
                for name, value in values.items():
                    setattr(item, name, value)
    session.flush()
    return out


def feed_tokens(session: Session, organisation: str, feeds: list[str], now: datetime) -> dict[str, str]:
    """The token of each feed, created on first use and stable after that."""
    known = {t.feed: t.token for t in session.scalars(
        select(FeedToken).where(FeedToken.organisation == organisation))}
    for feed in feeds:
        if feed not in known:
            token = secrets.token_urlsafe(TOKEN_BYTES)
            session.add(FeedToken(organisation=organisation, feed=feed, token=token, created_at=now))
            known[feed] = token
    session.flush()
    return {f: known[f] for f in feeds}


def rotate_token(session: Session, organisation: str, feed: str, now: datetime) -> str:
    """Replace a feed's token: the old URL stops working at the next publish."""
    session.execute(delete(FeedToken).where(FeedToken.organisation == organisation, FeedToken.feed == feed))
    session.flush()
    return feed_tokens(session, organisation, [feed], now)[feed]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
