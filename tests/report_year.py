"""A realistic year of activity for the bundled plan, written to a real database.

`generate_year(url, plan, 2025)` records what a busy chapter's board would log in a year:
most occurrences held (dates in their windows, attendance, notes with æøå, some
evidence links), some not held with a reason, some cancelled, some left unrecorded;
records for about half of the standing measures; the board's comments; the treasurer's
income figures; members joining through the year (with follow-ups, most contacted in
time) and a member count at every monthly import. Returns what it wrote, so that tests
can compare the report with the log without reading the report's own code.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from aarshjul.db.completions import log_completion, set_comment
from aarshjul.db.kpis import record_kpi
from aarshjul.db.models import FollowUp, Member, MemberCount
from aarshjul.db.session import make_engine, session_scope
from aarshjul.domain.expand import expand

NOTES = ["Godt oppmøte, mange nye fjes", "Møtet ble holdt på Kulturhuset USF", "Fin debatt om bompenger og bybane",
         "Vi delte ut løpesedler på Torgallmenningen", "Referat sendt til styret", "Åpent møte i Årstad, kaffe og vafler",
         "Sosialt etterpå på Kafé Ø"]
REASONS = ["For få påmeldte", "Kolliderte med landsmøtet", "Sykdom i styret", "Lokalet var ikke ledig"]


@dataclass
class Year:
    year: int
    held: dict[str, int | None] = field(default_factory=dict)  # key -> attendance
    not_held: dict[str, str] = field(default_factory=dict)  # key -> reason
    cancelled: dict[str, str] = field(default_factory=dict)
    standing: dict[str, int] = field(default_factory=dict)  # measure -> records held
    comments: dict[str, str] = field(default_factory=dict)
    income: dict[date, float] = field(default_factory=dict)
    counts: dict[date, tuple[int, int]] = field(default_factory=dict)  # import date -> (members, activists)
    new_members: int = 0
    contacted_in_time: int = 0


def generate_year(url: str, plan, year: int = 2025, seed: int = 2025) -> Year:
    rng = random.Random(seed)
    org = plan.organisation.id
    out = Year(year)
    now = datetime(year + 1, 1, 10, 12, 0, tzinfo=timezone.utc)
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            for o in expand(plan):
                if o.window_end.year != year or o.status == "cancelled":
                    continue
                roll = rng.random()
                start = o.start.date() if isinstance(o.start, datetime) else o.start
                day = start or (o.window_start + timedelta(days=rng.randrange(max(1, (o.window_end - o.window_start).days))))
                if roll < 0.70:
                    attendance = rng.randrange(4, 90) if rng.random() < 0.8 else None
                    evidence = f"https://bergen.sv.example.org/referat/{o.key.replace('/', '-')}" \
                        if rng.random() < 0.4 else None
                    log_completion(session, org, o.measure, o.key, day, now, occurrence_key=o.key,
                                   attendance=attendance, note=rng.choice(NOTES) if rng.random() < 0.5 else None,
                                   evidence_url=evidence, recorded_by="Kari Nordmann", source="cli")
                    out.held[o.key] = attendance
                elif roll < 0.80:
                    reason = rng.choice(REASONS)
                    log_completion(session, org, o.measure, o.key, day, now, outcome="not_held", occurrence_key=o.key,
                                   note=reason, source="cli")
                    out.not_held[o.key] = reason
                elif roll < 0.87:
                    reason = rng.choice(REASONS)
                    log_completion(session, org, o.measure, o.key, start, now, outcome="cancelled",
                                   occurrence_key=o.key, note=reason, source="cli")
                    out.cancelled[o.key] = reason
            for _, m in plan.measures:
                if m.cadence.kind not in ("standing", "on_event") or rng.random() < 0.5:
                    continue
                if not any(s.overlaps_year(year) for s in m.period):
                    continue
                n = rng.randrange(1, 4)
                for day in sorted(rng.sample(range(1, 360), n)):
                    on = date(year, 1, 1) + timedelta(days=day)
                    log_completion(session, org, m.number, f"{m.number}@{on.isoformat()}", on, now,
                                   attendance=rng.randrange(3, 40), note=rng.choice(NOTES), source="cli")
                out.standing[m.number] = n
            for number, text in (("1.5", "Begge møtene ble holdt; neste år vil vi ha ett om høsten også."),
                                 ("2.13", "Evalueringen ble utsatt til våren; se sak 7 på årsmøtet."),
                                 ("4.2", "Skrivekurset med Bergens Tidende-journalist var fullt (æøå)."),
                                 ("6.4", "Zetkin ble brukt i hele valgkampen.")):
                set_comment(session, org, number, year, text, now)
                out.comments[number] = text
            for on, value in ((date(year - 2, 12, 31), 180_000.0), (date(year - 1, 12, 31), 191_500.0),
                              (date(year, 12, 31), 204_250.0)):
                record_kpi(session, org, "inntekt", on, value, now, note="fra regnskapet")
                out.income[on] = value
            _members(session, org, plan, year, rng, now, out)
    finally:
        engine.dispose()
    return out


def _members(session, org: str, plan, year: int, rng: random.Random, now: datetime, out: Year) -> None:
    """Members joining through the year, their follow-ups, and a count at every monthly import."""
    branches = plan.branches()
    number = 10_000
    active: list[tuple[str, bool]] = []  # (branch, activist)
    for _ in range(1450):  # members from before the year
        active.append((rng.choice(branches), rng.random() < 0.12))
    joined: list[tuple[date, str, bool]] = []
    for month in range(1, 13):
        for _ in range(rng.randrange(6, 18) + (25 if month in (8, 9) else 0)):  # the election campaign
            day = date(year, month, rng.randrange(1, 28))
            joined.append((day, rng.choice(branches), rng.random() < 0.35))
    for day, branch, activist in joined:
        number += 1
        session.add(Member(organisation=org, number=str(number), first_name="Test", last_name=f"Person{number}",
                           email=None, joined=day, activist=activist, branch=branch, status="active",
                           first_seen=now, updated_at=now, row_hash="x"))
        contacted = None
        if rng.random() < 0.82:
            contacted = day + timedelta(days=rng.randrange(1, 45))
        session.add(FollowUp(organisation=org, member_number=str(number), branch=branch, joined=day,
                             due=day + timedelta(days=30), contacted_on=contacted))
        out.new_members += 1
        out.contacted_in_time += contacted is not None and contacted <= day + timedelta(days=30)
    for month in range(1, 13):
        on = date(year, month, 15)
        newcomers = [(b, a) for d, b, a in joined if d <= on]
        members = active + newcomers
        per: dict[str, list[int]] = {b: [0, 0] for b in branches}
        for b, a in members:
            per[b][0] += 1
            per[b][1] += a
        campaign = 1.0 + (0.9 if month in (8, 9) else 0.0)  # activists sign up for the campaign
        for b, (m, a) in per.items():
            session.add(MemberCount(organisation=org, on_date=on, branch=b, members=m, new=0, left=0,
                                    activists=min(m, round(a * campaign))))
        out.counts[on] = (sum(v[0] for v in per.values()), sum(min(v[0], round(v[1] * campaign)) for v in per.values()))
    session.flush()
