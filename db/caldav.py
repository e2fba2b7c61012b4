"""CalDAV events someone edited on the server: the conflicts the board resolves by hand."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import CaldavEvent


def conflicts(session: Session, organisation: str) -> list[CaldavEvent]:
    return list(session.scalars(select(CaldavEvent).where(
        CaldavEvent.organisation == organisation, CaldavEvent.conflict_at.is_not(None))
        .order_by(CaldavEvent.calendar, CaldavEvent.key)))


def resolve(session: Session, organisation: str, uid: str, keep: str) -> list[CaldavEvent]:
    """Resolve a conflict: keep 'ours' (the next sync overwrites the server's copy) or
    'theirs' (the server's copy stays until the plan changes the event again)."""
    rows = list(session.scalars(select(CaldavEvent).where(
        CaldavEvent.organisation == organisation, CaldavEvent.uid == uid, CaldavEvent.conflict_at.is_not(None))))
    for row in rows:
        if keep == "ours":
            row.etag, row.content_hash = row.conflict_etag, ""  # forces one PUT, If-Match the server's ETag
            row.gone = row.conflict_etag is None
        else:
            row.etag, row.gone = row.conflict_etag, False
        row.conflict_at, row.conflict_etag = None, None
    return rows

