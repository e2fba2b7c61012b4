"""Storing the agenda: materialise occurrences and notice what changed.

`store_agenda` is an upsert keyed by (organisation, key): a new occurrence is added
with revision 0; one whose content hash differs gets the new content and revision+1;
one the plan no longer produces is kept with status 'removed' (a calendar publishes
it as cancelled before it disappears); one that comes back is restored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.expand import Occurrence
from .models import Completion, OccurrenceRow


@dataclass(frozen=True)
class StoreCounts:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0

    @property
    def total(self) -> int:
        return self.new + self.changed + self.unchanged


def store_agenda(session: Session, organisation: str, occurrences: Iterable[Occurrence],
                 now: datetime) -> StoreCounts:
    existing = {row.key: row for row in session.scalars(
        select(OccurrenceRow).where(OccurrenceRow.organisation == organisation))}
    new = changed = unchanged = removed = 0
    seen: set[str] = set()
    for occ in occurrences:
        seen.add(occ.key)
        digest = occ.content_hash()
        row = existing.get(occ.key)
        if row is None:
            session.add(OccurrenceRow(organisation=organisation, key=occ.key, revision=0, first_seen=now,
                                      **_columns(occ, digest, now)))
            new += 1
        elif row.content_hash != digest or row.status == "removed":
            for name, value in _columns(occ, digest, now).items():
                setattr(row, name, value)
            row.revision += 1
            row.removed_at = None
            changed += 1
        else:
            unchanged += 1
    for key, row in existing.items():
        if key not in seen and row.status != "removed":
            row.status, row.removed_at, row.changed_at = "removed", now, now
            row.revision += 1
            removed += 1
    session.flush()
    return StoreCounts(new, changed, unchanged, removed)


def _columns(occ: Occurrence, digest: str, now: datetime) -> dict[str, Any]:
    return dict(
        uid=occ.uid, measure=occ.measure, kind=occ.kind, title=occ.title, status=occ.status,
        all_day=occ.all_day,
        starts_at=_utc(occ.start), ends_at=_utc(occ.end),
        start_date=_day(occ.start), end_date=_day(occ.end),
        window_start=occ.window_start, window_end=occ.window_end,
        data=occ.to_dict(), content_hash=digest, changed_at=now,
    )


def _utc(value: date | datetime | None) -> datetime | None:
    """A timed occurrence's start or end in UTC; None for an all-day one's dates, or none."""
    return value.astimezone(timezone.utc) if isinstance(value, datetime) else None


def _day(value: date | datetime | None) -> date | None:
    return value.date() if isinstance(value, datetime) else value


def cancelled_keys(session: Session, organisation: str) -> set[str]:
    """Keys of occurrences recorded as cancelled in the completion log."""
    return set(session.scalars(select(Completion.occurrence_key).where(
        Completion.organisation == organisation, Completion.outcome == "cancelled",
        Completion.occurrence_key.is_not(None), Completion.revoked_at.is_(None))))


def held_keys(session: Session, organisation: str) -> set[str]:
    """Keys of occurrences recorded as held."""
    return set(session.scalars(select(Completion.occurrence_key).where(
        Completion.organisation == organisation, Completion.outcome == "held",
        Completion.occurrence_key.is_not(None), Completion.revoked_at.is_(None))))
