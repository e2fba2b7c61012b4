"""Targets' numbers in the database: values recorded by hand, and those derived from members.

    record_kpi        a value of a manual target on a date (upsert: one per name and date)
    kpi_rows          the stored values, by name and date
    series            a target's measurements, whatever its source (domain/targets.py):

        manual        kpi_measurements rows named like the target (a share stored in per
                      cent, returned as a fraction)
        members       the member counts stored at each import (member_counts), summed over
                      the branches per import date: members, activists, activists/members
        follow_ups    db/members.contact_rate per year of the plan, up to today: the share
                      of the year's new members contacted by their due date (the plan's
                      `within_days` for member_joined), dated the last
                      day of the year (or today, for the year under way); a year without
                      new members has no point

Only counts leave this module; no member is named.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.targets import Measurement, Target
from .members import contact_rate
from .models import KpiMeasurement, MemberCount


def record_kpi(session: Session, organisation: str, name: str, on_date: date, value: float, now: datetime, *,
               note: str | None = None, source: str = "cli") -> tuple[KpiMeasurement, float | None]:
    """Store `value` for `name` on `on_date`; returns (row, the value it replaced or None)."""
    row = session.scalar(select(KpiMeasurement).where(
        KpiMeasurement.organisation == organisation, KpiMeasurement.name == name, KpiMeasurement.on_date == on_date))
    before = row.value if row is not None else None
    if row is None:
        row = KpiMeasurement(organisation=organisation, name=name, on_date=on_date, value=value, source=source,
                             recorded_at=now)
        session.add(row)
    row.value, row.note, row.source, row.recorded_at = value, note, source, now
    session.flush()
    return row, before


def kpi_rows(session: Session, organisation: str, name: str | None = None) -> list[KpiMeasurement]:
    query = select(KpiMeasurement).where(KpiMeasurement.organisation == organisation)
    if name is not None:
        query = query.where(KpiMeasurement.name == name)
    return list(session.scalars(query.order_by(KpiMeasurement.name, KpiMeasurement.on_date)))


def member_totals(session: Session, organisation: str) -> list[tuple[date, int, int]]:
    """(import date, active members, activists), summed over branches, oldest first."""
    sums: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for c in session.scalars(select(MemberCount).where(MemberCount.organisation == organisation)):
        sums[c.on_date][0] += c.members
        sums[c.on_date][1] += c.activists
    return [(d, m, a) for d, (m, a) in sorted(sums.items())]


def series(session: Session, organisation: str, target: Target, first_year: int, today: date) -> list[Measurement]:
    """The target's measurements, oldest first (see the module docstring for each source)."""
    if target.source == "manual":
        scale = 100.0 if target.kind == "share" else 1.0
        return [Measurement(r.on_date, r.value / scale) for r in kpi_rows(session, organisation, target.name)]
    if target.source == "members":
        out = []
        for on, members, activists in member_totals(session, organisation):
            if target.metric == "members":
                out.append(Measurement(on, float(members)))
            elif target.metric == "activists":
                out.append(Measurement(on, float(activists)))
            elif members:
                out.append(Measurement(on, activists / members))
        return out
    out = []
    for year in range(first_year, today.year + 1):
        rate = contact_rate(session, organisation, year).total
        if rate.share is not None:
            out.append(Measurement(min(date(year, 12, 31), today), rate.share))
    return out
