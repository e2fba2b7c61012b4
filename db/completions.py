"""The completion log: what was done, recorded once per reference; and the board's comments.

    log_completion     upsert by (organisation, ref): recording twice keeps one row
    record_completion  the same, telling whether it was new and what it said before
    revoke_completion  a record taken back: kept in the log, with who and when, and read
                       as not recorded by every query here and in db/agenda.py
    cancellations      occurrence key -> the reason it was cancelled (`aarshjul cancel`)
    completions        every record of the organisation, as the report sees them
    set_comment        the board's comment on a measure for a year's report (upsert)
    comments_for_year  measure number -> comment

Refs are occurrence keys (1.5/2025/1) or measure@date (1.2@2025-05-01); see
domain/completion.py. Nothing here logs or returns who recorded a completion except
the row itself (recorded_by stays in the database; the report never shows it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from ..domain.report import Record
from .models import Completion, MeasureComment


REVOKED = "!revoked-"  # a revoked record's ref: the ref it had, this, and the row's id


def live() -> ColumnElement[bool]:
    """The records that count: not revoked."""
    return Completion.revoked_at.is_(None)


def log_completion(session: Session, organisation: str, measure: str, ref: str, on_date: date | None,
                   now: datetime, *, outcome: str = "held", occurrence_key: str | None = None,
                   attendance: int | None = None, note: str | None = None, evidence_url: str | None = None,
                   recorded_by: str | None = None, source: str = "flow") -> Completion:
    """Record (or update) the completion with reference `ref`: recording twice keeps one row."""
    row = find_completion(session, organisation, ref)
    if row is None:
        row = Completion(organisation=organisation, ref=ref, measure=measure, recorded_at=now)
        session.add(row)
    row.occurrence_key, row.outcome, row.on_date, row.attendance = occurrence_key, outcome, on_date, attendance
    row.note, row.evidence_url, row.recorded_by = note, evidence_url, recorded_by
    row.source, row.recorded_at = source, now
    session.flush()
    return row


@dataclass(frozen=True)
class Before:
    """What a record said before it was updated."""

    outcome: str
    on_date: date | None
    source: str


@dataclass(frozen=True)
class Recorded:
    row: Completion
    before: Before | None  # None: a new record

    @property
    def updated(self) -> bool:
        return self.before is not None


def find_completion(session: Session, organisation: str, ref: str) -> Completion | None:
    return session.scalar(select(Completion).where(Completion.organisation == organisation, Completion.ref == ref,
                                                   live()))


def revoke_completion(session: Session, organisation: str, ref: str, now: datetime,
                      by: str | None = None) -> Completion | None:
    """Take back the record with reference `ref` (None if there is none): it stays in the
    table with revoked_at and revoked_by, under the ref `REF!revoked-ID`, so the ref is
    free for a new record, and every query reads the occurrence as not recorded."""
    row = find_completion(session, organisation, ref)
    if row is None:
        return None
    session.flush()  # the row has its id
    row.revoked_at, row.revoked_by = now, by
    row.ref = f"{ref}{REVOKED}{row.id}"
    session.flush()
    return row


def revoked(session: Session, organisation: str) -> list[Completion]:
    """The revoked records, latest first (the log of what was taken back)."""
    return list(session.scalars(select(Completion).where(
        Completion.organisation == organisation, Completion.revoked_at.is_not(None))
        .order_by(Completion.revoked_at.desc(), Completion.id.desc())))


def cancellations(session: Session, organisation: str) -> dict[str, str | None]:
    """Occurrence key -> the reason given when it was cancelled (`aarshjul cancel --reason`)."""
    return {key: note for key, note in session.execute(select(Completion.occurrence_key, Completion.note).where(
        Completion.organisation == organisation, Completion.outcome == "cancelled",
        Completion.occurrence_key.is_not(None), live())) if key is not None}


def record_completion(session: Session, organisation: str, measure: str, ref: str, on_date: date | None,
                      now: datetime, *, keep: bool = True, **values: Any) -> Recorded:
    """`log_completion`, and whether the ref was already recorded (and as what).

    keep: when the ref is already recorded with the same outcome, values not given now
    (None: attendance, note, evidence link, who) keep what was recorded before, so that
    correcting the date does not erase the attendance. A new outcome replaces them all.
    """
    old = find_completion(session, organisation, ref)
    before = Before(old.outcome, old.on_date, old.source) if old is not None else None
    if keep and old is not None and old.outcome == values.get("outcome", "held"):
        for name in ("attendance", "note", "evidence_url", "recorded_by"):
            if values.get(name) is None:
                values[name] = getattr(old, name)
    return Recorded(log_completion(session, organisation, measure, ref, on_date, now, **values), before)


def recorded_keys(session: Session, organisation: str) -> set[str]:
    """Occurrence keys with any record (held, not held or cancelled)."""
    return set(session.scalars(select(Completion.occurrence_key).where(
        Completion.organisation == organisation, Completion.occurrence_key.is_not(None), live())))


def completions(session: Session, organisation: str) -> list[Record]:
    """Every record of the organisation, oldest recording first (a later one wins for a key)."""
    rows = session.scalars(select(Completion).where(Completion.organisation == organisation, live())
                           .order_by(Completion.recorded_at, Completion.id))
    return [Record(r.ref, r.measure, r.occurrence_key, r.outcome, r.on_date, r.attendance, r.note, r.evidence_url,
                   r.source) for r in rows]


# --- the board's comments ----------------------------------------------------------------


def set_comment(session: Session, organisation: str, measure: str, year: int, text: str,
                now: datetime) -> tuple[MeasureComment, bool]:
    """Store the comment on `measure` for `year`'s report; returns (row, whether one was replaced)."""
    row = session.scalar(select(MeasureComment).where(
        MeasureComment.organisation == organisation, MeasureComment.measure == measure, MeasureComment.year == year))
    replaced = row is not None
    if row is None:
        row = MeasureComment(organisation=organisation, measure=measure, year=year, text=text, updated_at=now)
        session.add(row)
    row.text, row.updated_at = text, now
    session.flush()
    return row, replaced


def comments_for_year(session: Session, organisation: str, year: int) -> dict[str, str]:
    return {c.measure: c.text for c in session.scalars(select(MeasureComment).where(
        MeasureComment.organisation == organisation, MeasureComment.year == year))}
