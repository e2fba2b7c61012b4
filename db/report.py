"""What the yearly report needs from the database, read in one session.

`load_report` reads the completion log, the board's comments for the year, each
target's measurements and the year's follow-up of new members, and hands them to the
pure `domain.report.build_report`. `session=None` (no database yet) gives the report of
a year with no data: it still renders, every measure as the rules say.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from ..domain.expand import Occurrence
from ..domain.plan import Plan
from ..domain.report import Report, build_report
from ..domain.targets import Targets, progress
from .completions import comments_for_year, completions
from .kpis import series
from .members import contact_rate


def load_report(session: Session | None, plan: Plan, targets: Targets | None, year: int, today: date,
                occurrences: list[Occurrence] | None = None) -> Report:
    org = plan.organisation.id
    period = (plan.period.start, plan.period.end)
    records, comments, follow_ups, progresses = [], {}, {}, []
    for t in (targets.targets if targets else ()):
        points = series(session, org, t, plan.period.start.year, today) if session is not None else []
        progresses.append(progress(t, points, year, today, period))
    if session is not None:
        records = completions(session, org)
        comments = comments_for_year(session, org, year)
        rates = contact_rate(session, org, year)
        follow_ups = {b: (0, 0) for b in plan.branches()}  # every branch, none new included
        follow_ups.update({b: (r.new, r.contacted) for b, r in rates.per_branch.items()})
    return build_report(plan, year, today, records, comments, progresses, follow_ups, occurrences)
