"""What the calendars need from the database: published entries and feed tokens."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone, tzinfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..domain.expand import Occurrence
from ..domain.feeds import Entry
from .models import FeedToken, OccurrenceRow

TOKEN_BYTES = 24  # 192 bits, URL-safe: far beyond guessing


def entries(session: Session, organisation: str, tz: tzinfo) -> list[Entry]:
    """Every stored occurrence, removed ones included, as a calendar entry (times in `tz`)."""
    rows = session.scalars(select(OccurrenceRow).where(OccurrenceRow.organisation == organisation))
    return [Entry(Occurrence.from_dict(r.data, tz), r.revision, _aware(r.first_seen), _aware(r.changed_at),
                  r.status == "removed") for r in rows]


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
