"""CalDAV events someone edited on the server: the conflicts the board resolves by hand."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import CaldavEvent


def conflicts(session: Session, organisation: str) -> list[CaldavEvent]:
    return list(session.scalars(select(CaldavEvent).where(
        CaldavEvent.organisation == organisation, CaldavEvent.conflict_at.is_not(None))
        .order_by(CaldavEvent.calendar, CaldavEvent.key)))


def resolve(session: Session, organisation: str, uid: str, keep: str,
            plan_hashes: dict[str, str] | None = None) -> list[CaldavEvent]:
    """Resolve a conflict: keep 'ours' (the next sync overwrites the server's copy) or
    'theirs' (the server's copy stays until the plan changes the event again).

    For 'theirs', `plan_hashes` (calendar -> content hash of the plan's version of this
    event now) is recorded as if pushed: the next sync sees nothing to do until the plan's
    version changes again. Without it the last pushed hash stays, and a plan changed since
    that push would overwrite the server's copy at the next sync."""
    rows = list(session.scalars(select(CaldavEvent).where(
        CaldavEvent.organisation == organisation, CaldavEvent.uid == uid, CaldavEvent.conflict_at.is_not(None))))
    for row in rows:
        if keep == "ours":
            row.etag, row.content_hash = row.conflict_etag, ""  # forces one PUT, If-Match the server's ETag
            row.gone = row.conflict_etag is None
        else:
            row.etag, row.gone = row.conflict_etag, False
            row.content_hash = (plan_hashes or {}).get(row.calendar, row.content_hash)
        row.conflict_at, row.conflict_etag = None, None
    return rows

