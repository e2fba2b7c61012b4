"""CalDAV events someone edited on the server: the conflicts the board resolves by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.sync import Change, Proposal, proposal, server_changes
from .models import CaldavEvent, OccurrenceRow


@dataclass(frozen=True)
class Conflict:
    """A conflict as the board sees it: what changed on the server, field by field, and for
    a placeholder a person moved to a date in their calendar app, the pin it proposes."""

    row: CaldavEvent
    changes: list[Change]
    proposal: Proposal | None

    @property
    def kind(self) -> str:
        if any(c.field == "deleted" for c in self.changes):
            return "deleted"
        return "proposed" if self.proposal else "edited"


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


def conflict_details(session: Session, organisation: str, tz: tzinfo) -> list[Conflict]:
    """Every conflict with its changes; a proposal where the event is an unscheduled slot
    whose date or time a person set on the server."""
    rows = conflicts(session, organisation)
    unscheduled = set(session.scalars(select(OccurrenceRow.key).where(
        OccurrenceRow.organisation == organisation, OccurrenceRow.status == "unscheduled",
        OccurrenceRow.key.in_({r.key for r in rows}))))
    out = []
    for r in rows:
        theirs = r.server_ics if r.conflict_etag else None  # no ETag on the server: deleted there
        changes = server_changes(r.pushed_ics, theirs, tz) if theirs or not r.conflict_etag else []
        moved = r.key in unscheduled and theirs is not None and any(c.field in ("date", "time") for c in changes)
        out.append(Conflict(r, changes, proposal(theirs, tz) if moved and theirs else None))
    return out


def one_conflict(session: Session, organisation: str, uid: str, tz: tzinfo) -> list[Conflict]:
    return [c for c in conflict_details(session, organisation, tz) if c.row.uid == uid]
