"""The completion log: what was done, recorded once per reference."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Completion


def log_completion(session: Session, organisation: str, measure: str, ref: str, on_date: date | None,
                   now: datetime, *, outcome: str = "held", occurrence_key: str | None = None,
                   attendance: int | None = None, note: str | None = None, evidence_url: str | None = None,
                   recorded_by: str | None = None, source: str = "flow") -> Completion:
    """Record (or update) the completion with reference `ref`: recording twice keeps one row."""
    row = session.scalar(select(Completion).where(Completion.organisation == organisation, Completion.ref == ref))
    if row is None:
        row = Completion(organisation=organisation, ref=ref, measure=measure, recorded_at=now)
        session.add(row)
    row.occurrence_key, row.outcome, row.on_date, row.attendance = occurrence_key, outcome, on_date, attendance
    row.note, row.evidence_url, row.recorded_by, row.source, row.recorded_at = note, evidence_url, recorded_by, source, now
    session.flush()
    return row
