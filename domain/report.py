"""The yearly report to the annual meeting: what the plan asked for in a year, and what was done.

`build_report(plan, year, today, records, ...)` joins the plan's occurrences with the
completion log and returns a `Report`: goal by goal (Mål 1–6) with their sub-goals,
every measure with a status for the year, its occurrences (planned and held, dates,
attendance, evidence links, notes and reasons), the board's comment, the year's open
gaps (domain.gaps), the targets (domain.targets) and the follow-up of new members per
branch. Rendering (HTML, PDF, Markdown) is tasks/report_render.py's job.

Pure: no database, no clock. The caller passes `today` and the records.

The report is in the organisation's language (organisation.locale, `Report.lang`): the
status words below are msgids, said in that language by `status_text`, `state_text`
and `summary` (domain/i18n.py); the templates take their own words from the catalogs.

Which occurrences belong to a year
----------------------------------
A measure's occurrences whose window closes in the year (a quota's year or half-year,
a deadline's due date, an annual or series date). When none closes in the year, those
whose window spans it (a deadline due in a later year: 5.5 is due at the end of 2027).

The state of one occurrence
---------------------------
    held         recorded as held (`aarshjul done KEY`, or confirmed in the Prefect UI)
    not_held     recorded as not held, with the reason (`aarshjul not-held KEY --reason`)
    cancelled    recorded as cancelled (`aarshjul cancel KEY`), or cancelled in schedule.yaml
    open         nothing recorded, and still to come: its date (if pinned) or else its
                 window's last day is today or later
    unrecorded   nothing recorded, and its date or window has passed

The status of a measure in the year (the first rule that applies)
-----------------------------------------------------------------
    ikke aktuelt i år     the measure's period does not include the year (or its cadence
                          gives it no occurrence in the year)

  Measures with occurrences (quota, deadline, annual, series):

    gjennomført           every occurrence of the year held
    pågående              one or more still open (the quota's window, the deadline, the
                          date has not passed yet)
    ikke registrert       nothing recorded for any of them, and all have passed
    delvis gjennomført    some held, the rest not held, cancelled or unrecorded
    ikke gjennomført      none held; at least one recorded as not held or cancelled

  So a quota of two a year is gjennomført with two held, delvis with one held once the
  year is over, ikke gjennomført with none held and a reason recorded; a deadline is
  gjennomført when held, pågående before it is due, ikke gjennomført when recorded as
  not done. A passed occurrence with nothing in the log is "ikke registrert", never
  "ikke gjennomført": the report does not claim that something was not done because
  nobody wrote it down. (The gaps section lists those quotas and deadlines all the same.)

  Measures without occurrences (standing principles, on_event promises):

    gjennomført           a record held in the year (`aarshjul done 1.2 --date D`)
    ikke gjennomført      only records of not held in the year
    ikke registrert       no record in the year

The board's comment on a measure for the year (`aarshjul comment MEASURE --year Y`)
is always shown, whatever the status. Records without an occurrence key for a measure
that has occurrences (the mail flow's `1.7@medlemsbrev/2025-03`) are listed with the
measure as "also recorded" and do not change its status.

Numbers: a measure's `planned` is its occurrences in the year; `held`, `not_held`,
`cancelled` count them by state; `attendance` sums the attendance recorded for what
was held (its occurrences and its dated records).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Iterable, Mapping, Sequence

from babel.dates import format_date

from .errors import AarshjulError
from .expand import Occurrence, expand
from .gaps import Gap, find_gaps
from .i18n import N_, Msg, _, ngettext
from .model import DEFAULT_BRANCH_WORD, BranchWord
from .periods import year_span
from .plan import Plan
from .targets import Progress

# msgids; status_word(key, lang) says one (nb: gjennomført, delvis gjennomført, ...)
STATUS = {
    "done": N_("carried out"),
    "partial": N_("partly carried out"),
    "not_done": N_("not carried out"),
    "ongoing": N_("ongoing"),
    "not_applicable": N_("not relevant this year"),
    "unrecorded": N_("not recorded"),
}
STATUS_ORDER = ("done", "partial", "ongoing", "not_done", "unrecorded", "not_applicable")
STATE = {"held": N_("was held"), "not_held": N_("was not held"), "cancelled": N_("cancelled"),
         "open": N_("upcoming"), "unrecorded": N_("not recorded")}
# what a dated record says (the report's "also recorded")
OUTCOME = {"held": N_("carried out"), "not_held": N_("not carried out"), "cancelled": N_("cancelled")}


def status_word(key: str, lang: str | None) -> str:
    """A measure's status (a key of STATUS) in `lang`."""
    return _(lang, STATUS[key])
OUTCOMES = ("held", "not_held", "cancelled")


@dataclass(frozen=True)
class Record:
    """A completion as the report sees it (no names of who recorded it)."""

    ref: str
    measure: str
    occurrence_key: str | None
    outcome: str  # held | not_held | cancelled
    on_date: date | None
    attendance: int | None = None
    note: str | None = None
    evidence_url: str | None = None
    source: str = "cli"


@dataclass(frozen=True)
class Line:
    """One occurrence of a measure in the year, and what the log says about it."""

    key: str
    title: str
    label: str  # short, within its measure: "Arna SV", "nr. 2", "1. halvår", "Bergen Pride", "2025"
    kind: str  # the cadence kind: deadline | annual | quota | series
    body: str | None  # the body's name, for an `each` repetition
    planned: date | None  # the pinned or fixed day; None for an unscheduled slot
    planned_end: date | None
    window_start: date
    window_end: date
    state: str  # a key of STATE
    record: Record | None
    reason: str | None  # why not held / cancelled (the record's note, or schedule.yaml's)
    lang: str = "nb"  # the report's language

    @property
    def held_on(self) -> date | None:
        return self.record.on_date if self.record and self.state == "held" else None

    @property
    def state_text(self) -> str:
        return _(self.lang, STATE[self.state])


@dataclass(frozen=True)
class MeasureReport:
    number: str
    title: str
    text: str
    kind: str  # the cadence kind
    bodies: tuple[str, ...]  # names
    period_text: str
    status: str  # a key of STATUS
    lines: tuple[Line, ...]
    records: tuple[Record, ...]  # dated records in the year (measures without occurrences, or "also recorded")
    comment: str | None
    lang: str = "nb"  # the report's language

    @property
    def status_text(self) -> str:
        return status_word(self.status, self.lang)

    @property
    def planned(self) -> int:
        return len(self.lines)

    def _count(self, state: str) -> int:
        return sum(1 for line in self.lines if line.state == state)

    @property
    def held(self) -> int:
        return self._count("held")

    @property
    def not_held(self) -> int:
        return self._count("not_held")

    @property
    def cancelled(self) -> int:
        return self._count("cancelled")

    @property
    def held_records(self) -> int:
        return sum(1 for r in self.records if r.outcome == "held")

    @property
    def done(self) -> int:
        """Held occurrences, or for a measure without occurrences its held records."""
        return self.held if self.lines else self.held_records

    @property
    def attendance(self) -> int | None:
        values = [line.record.attendance for line in self.lines
                  if line.state == "held" and line.record and line.record.attendance is not None]
        values += [r.attendance for r in self.records if r.outcome == "held" and r.attendance is not None]
        return sum(values) if values else None

    @property
    def summary(self) -> str:
        """'1 av 2 holdt', '3 registreringer', '' (in the report's language)."""
        lang = self.lang
        if self.lines:
            parts = [_(lang, "{held} of {planned} held", held=self.held, planned=self.planned)]
            if self.not_held:
                parts.append(_(lang, "{n} not held", n=self.not_held))
            if self.cancelled:
                parts.append(_(lang, "{n} cancelled", n=self.cancelled))
            return ", ".join(parts)
        if self.records:
            return ngettext(lang, "{n} record", "{n} records", len(self.records))
        return ""


@dataclass(frozen=True)
class SubgoalReport:
    code: str  # "1.b"
    letter: str
    text: str
    targets: tuple[Progress, ...]


@dataclass(frozen=True)
class GoalReport:
    number: int
    title: str
    subgoals: tuple[SubgoalReport, ...]
    measures: tuple[MeasureReport, ...]
    targets: tuple[Progress, ...]  # every target of the goal (its sub-goals' and its measures')

    @property
    def counts(self) -> dict[str, int]:
        return _counts(self.measures)


@dataclass(frozen=True)
class FollowUpRow:
    branch: str  # the branch's name, or "(uten <the organisation's word for a branch>)"
    new: int
    contacted: int

    @property
    def share(self) -> float | None:
        return self.contacted / self.new if self.new else None


@dataclass(frozen=True)
class Report:
    year: int
    today: date
    organisation: str
    plan_title: str
    adopted_by: str | None
    period: tuple[date, date]
    goals: tuple[GoalReport, ...]
    gaps: tuple[Gap, ...]
    targets: tuple[Progress, ...]
    follow_ups: tuple[FollowUpRow, ...]
    follow_up_total: FollowUpRow | None
    follow_up_measure: str | None = None  # the measure driven by member_joined; None: the plan has none
    follow_up_days: int | None = None  # its within_days
    branch_word: BranchWord = DEFAULT_BRANCH_WORD["nb"]  # organisation.yaml's word for a branch
    templates: str | None = None  # the organisation's templates folder (Plan.templates), over the bundled ones
    lang: str = "nb"  # the organisation's language (organisation.locale): the report's words

    @property
    def measures(self) -> list[MeasureReport]:
        return [m for g in self.goals for m in g.measures]

    @property
    def counts(self) -> dict[str, int]:
        return _counts(self.measures)

    @property
    def complete_year(self) -> bool:
        """False for a draft of a year not yet over."""
        return self.today > date(self.year, 12, 31)


def _counts(measures: Iterable[MeasureReport]) -> dict[str, int]:
    found = Counter(m.status for m in measures)
    return {s: found.get(s, 0) for s in STATUS_ORDER}


def build_report(plan: Plan, year: int, today: date, records: Sequence[Record],
                 comments: Mapping[str, str] | None = None, targets: Sequence[Progress] = (),
                 follow_ups: Mapping[str, tuple[int, int]] | None = None,
                 occurrences: Sequence[Occurrence] | None = None) -> Report:
    """The report for `year` as of `today` (the rules are in the module docstring).

    records: every completion of the organisation (any year); comments: measure number
    -> the board's comment for this year; targets: each target's progress in the year;
    follow_ups: branch id ("" for none) -> (new members in the year, contacted within the
    plan's `within_days`); occurrences: expand(plan) over the whole period, if already at hand.
    """
    first, last = plan.period.start.year, plan.period.end.year
    if not first <= year <= last:
        raise AarshjulError(Msg("year {year} is outside the plan period {first}–{last}; choose a year in the period",
                                year=year, first=first, last=last))
    lang = plan.organisation.locale
    targets = [t.in_lang(lang) for t in targets]  # judged before; said in the report's language
    occurrences = list(occurrences if occurrences is not None else expand(plan))
    comments = comments or {}
    by_key: dict[str, Record] = {}
    for r in records:
        if r.occurrence_key:
            by_key[r.occurrence_key] = r
    keys = {o.key for o in occurrences}
    dated = [r for r in records if (r.occurrence_key is None or r.occurrence_key not in keys)
             and r.on_date is not None and r.on_date.year == year]

    goals = []
    for goal in plan.goals:
        measures = []
        for m in goal.measures:
            mine = [o for o in occurrences if o.measure == m.number]
            applicable = any(s.overlaps(year_span(year)) for s in m.period)
            own = tuple(r for r in dated if r.measure == m.number)
            if m.cadence.kind in ("standing", "on_event"):
                lines: tuple[Line, ...] = ()
                status = _standing_status(own) if applicable else "not_applicable"
            else:
                lines = tuple(_line(plan, o, by_key.get(o.key), today, lang) for o in _of_year(mine, year))
                status = _slot_status(lines) if applicable and lines else "not_applicable"
            measures.append(MeasureReport(
                m.number, m.title, m.text, m.cadence.kind, tuple(plan.body_name(b) for b in m.bodies),
                m.period_text or ", ".join(str(s) for s in m.period), status, lines, own,
                (comments.get(m.number) or "").strip() or None, lang))
        own_targets = tuple(t for t in targets if t.target.goal == goal.number)
        subgoals = tuple(SubgoalReport(f"{goal.number}.{s.letter}", s.letter, s.text,
                                       tuple(t for t in own_targets if t.target.subgoal == f"{goal.number}.{s.letter}"))
                         for s in goal.subgoals)
        goals.append(GoalReport(goal.number, goal.title, subgoals, tuple(measures), own_targets))

    cancelled = {r.occurrence_key for r in records if r.outcome == "cancelled" and r.occurrence_key}
    held = {r.occurrence_key for r in records if r.outcome == "held" and r.occurrence_key}
    in_year = [replace(o, status="cancelled") if o.key in cancelled else o
               for o in occurrences if o.span.overlaps(year_span(year))]
    gaps = tuple(find_gaps(in_year, today, held))

    rows: tuple[FollowUpRow, ...] = ()
    total: FollowUpRow | None = None
    if follow_ups is not None:
        order = {b: i for i, b in enumerate(plan.branches())}  # the organisation's order; none last
        rows = tuple(FollowUpRow(_branch_name(plan, b, lang), new, contacted) for b, (new, contacted) in
                     sorted(follow_ups.items(), key=lambda kv: (kv[0] == "", order.get(kv[0], len(order)), kv[0])))
        total = FollowUpRow(_(lang, "Total"), sum(r.new for r in rows), sum(r.contacted for r in rows))
    driver = plan.driven_by("member_joined")
    return Report(year, today, plan.organisation.name, plan.meta.title, plan.meta.adopted_by,
                  (plan.period.start, plan.period.end), tuple(goals), gaps, tuple(targets), rows, total,
                  driver.number if driver else None, plan.within_days("member_joined"), plan.branch_word,
                  str(plan.templates), lang)


def _of_year(mine: list[Occurrence], year: int) -> list[Occurrence]:
    closing = [o for o in mine if o.window_end.year == year]
    return closing or [o for o in mine if o.window_start.year <= year < o.window_end.year]


def _day(value: date | datetime | None) -> date | None:
    return value.date() if isinstance(value, datetime) else value


def _line(plan: Plan, o: Occurrence, record: Record | None, today: date, lang: str = "nb") -> Line:
    planned, planned_end = _day(o.start), _day(o.end)
    reason = None
    if record is not None:
        state = record.outcome
        reason = record.note if state != "held" else None
    elif o.status == "cancelled":
        state, reason = "cancelled", o.note
    else:
        closes = planned_end if planned_end is not None else o.window_end
        state = "open" if closes >= today else "unrecorded"
    body = plan.bodies[o.body].name if o.body else None
    return Line(o.key, o.title, _label(o, body, lang), o.kind, body, planned, planned_end, o.window_start,
                o.window_end, state, record, reason, lang)


def _label(o: Occurrence, body: str | None, lang: str = "nb") -> str:
    """What tells an occurrence apart from the measure's others in the same year."""
    parts = o.key.split("/")
    if body:
        return body + (", " + _(lang, "no. {n}", n=o.slot) if o.slot else "")
    if o.slot:
        return _(lang, "no. {n}", n=o.slot)
    if o.kind == "annual" and ": " in o.title:
        return o.title.split(": ", 1)[1]
    if o.kind == "quota" and parts[1].endswith(("-H1", "-H2")):
        return _(lang, "half-year {half} of {year}", half=parts[1][-1], year=parts[1][:4])
    if o.kind == "series" and o.start is not None:
        return format_date(_day(o.start), "LLLL", locale=lang)  # "mars", "March"
    return parts[1]


def _slot_status(lines: Sequence[Line]) -> str:
    states = [line.state for line in lines]
    if all(s == "held" for s in states):
        return "done"
    if "open" in states:
        return "ongoing"
    if all(s == "unrecorded" for s in states):
        return "unrecorded"
    if "held" in states:
        return "partial"
    return "not_done"


def _standing_status(records: Sequence[Record]) -> str:
    if any(r.outcome == "held" for r in records):
        return "done"
    return "not_done" if records else "unrecorded"


def _branch_name(plan: Plan, ident: str, lang: str = "nb") -> str:
    if not ident:
        return _(lang, "(without a {group})", group=plan.branch_word.singular)
    return plan.bodies[ident].name if ident in plan.bodies else ident


def status_rows(report: Report) -> list[dict[str, Any]]:
    """One row per measure, for a table (the Prefect table artifact): numbers only, no names.
    Its columns are named in the report's language (nb: mål, tiltak, tittel, status, planlagt,
    holdt, ikke holdt, avlyst, deltakere, kommentar)."""
    lang = report.lang
    col = {k: _(lang, v) for k, v in COLUMNS.items()}
    return [{col["goal"]: g.number, col["measure"]: m.number, col["title"]: m.title, col["status"]: m.status_text,
             col["planned"]: m.planned, col["held"]: m.done, col["not_held"]: m.not_held,
             col["cancelled"]: m.cancelled, col["attendance"]: m.attendance if m.attendance is not None else "",
             col["comment"]: _(lang, "yes") if m.comment else ""}
            for g in report.goals for m in g.measures]


COLUMNS = {"goal": N_("goal"), "measure": N_("measure"), "title": N_("title"), "status": N_("status"),
           "planned": N_("planned"), "held": N_("held (column)"), "not_held": N_("not held (column)"),
           "cancelled": N_("cancelled (column)"), "attendance": N_("participants"), "comment": N_("comment")}
