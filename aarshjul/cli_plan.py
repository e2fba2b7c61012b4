"""The plan, read-only: `aarshjul check | measures | agenda | gaps`.

    check        validate the plan files; warn about this year's gaps
    measures     the plan's measures, goal by goal (table or json)
    agenda       the occurrences the plan requires, date by date (--from, --to, --body, --measure)
    gaps         quotas not yet met and deadlines passed in a year

They load the plan, answer at once and never import Prefect.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from . import cli_kit as kit
from .domain import i18n
from .domain.errors import NotFound
from .domain.i18n import N_

if TYPE_CHECKING:
    from .domain.plan import Plan as PlanT
    from .domain.expand import Occurrence
    from .domain.gaps import Gap
    from .domain.model import Cadence

plan_cli = typer.Typer()


@plan_cli.command(help=N_("Validate the plan files; warn about gaps in the current year."))
def check(plan: kit.Plan = None, today: kit.Today = None, lang: kit.Lang = None) -> None:
    from .domain.expand import expand
    from .domain.gaps import find_gaps

    from .domain.errors import PlanError
    from .tasks.check import check_files

    lang, day = kit.lang(lang), kit.today(today)
    p = kit.load(plan)
    problems = check_files(p, day)  # targets, postcodes, chapters, content and templates beside the plan
    if problems:
        raise PlanError(problems)
    year = day.year if p.period.start.year <= day.year <= p.period.end.year else p.period.end.year
    gaps = [g for g in find_gaps(expand(p, date(year, 1, 1), date(year, 12, 31)), day, kit.held(p))
            if g.overdue or g.kind == "quota"]
    counts = ", ".join((i18n.ngettext(lang, "{n} goal", "{n} goals", len(p.goals)),
                        i18n.ngettext(lang, "{n} measure", "{n} measures", len(p.measures)),
                        i18n.ngettext(lang, "{n} occurrence", "{n} occurrences", len(expand(p)))))
    kit.ok(f"{i18n.word('plan_ok', lang)}: {p.meta.title} — {counts} ({p.files[0]})")
    if gaps:
        kit.say((i18n.ngettext(lang, "{n} warning", "{n} warnings", len(gaps)) + f" ({year}):", "yellow"))
        for g in gaps:
            kit.warn(gap_line(g, lang), mark="  ! ")
    if p.warnings:  # in schedule.yaml: a pin on a daylight-saving night, pins closer than min_days_apart
        kit.say((i18n.ngettext(lang, "{n} warning", "{n} warnings", len(p.warnings)) + " (schedule.yaml):", "yellow"))
        for w in p.warnings:
            kit.warn(i18n.say(w, lang), mark="  ! ")


@plan_cli.command(help=N_("The plan's measures, goal by goal."))
def measures(plan: kit.Plan = None, format: kit.Format = "table", today: kit.Today = None,
             lang: kit.Lang = None) -> None:
    lang = kit.lang(lang)
    p = kit.load(plan)
    listing = kit.Listing(f"{i18n.word('measures', lang)}: {p.meta.title}", [
        kit.Column("number", i18n.word("measure", lang), ident=True), kit.Column("title", i18n.word("title", lang)),
        kit.Column("period", i18n.word("period", lang)), kit.Column("bodies", i18n.word("bodies", lang)),
        kit.Column("cadence", i18n.word("cadence", lang))])
    for g, m in p.measures:
        listing.add(m.number, m.title, m.period_text or ", ".join(str(s) for s in m.period),
                    ", ".join(p.body_name(b) for b in m.bodies), cadence_text(m.cadence, lang, p), record={
            "number": m.number, "goal": g.number, "title": m.title, "text": m.text,
            "period": [{"start": s.start.isoformat(), "end": s.end.isoformat()} for s in m.period],
            "period_text": m.period_text, "bodies": list(m.bodies),
            "responsible": [p.body_name(b) for b in m.bodies],
            "cadence": m.cadence.model_dump(mode="json", exclude_defaults=False),
            "cadence_text": cadence_text(m.cadence, lang, p), "visibility": m.visibility})
    listing.print(format)


@plan_cli.command(help=N_("What the plan requires, date by date."))
def agenda(
    plan: kit.Plan = None,
    from_: Annotated[Optional[date], kit.Day("--from", N_("First date (default: today)."))] = None,
    to: Annotated[Optional[date], kit.Day("--to", N_("Last date (default: the end of the plan)."))] = None,
    body: Annotated[Optional[str], typer.Option("--body", help=N_("Only this body (id)."))] = None,
    measure: Annotated[Optional[str], typer.Option("--measure", help=N_("Only this measure (number)."))] = None,
    format: kit.Format = "table", today: kit.Today = None, lang: kit.Lang = None,
) -> None:
    from .domain.expand import expand

    lang, day = kit.lang(lang), kit.today(today)
    p = kit.load(plan)
    start, end = from_ or day, to or p.period.end
    if end < start:
        kit.fail(kit.tr("--to {end} is before --from {start}", end=end, start=start))
    if body and body not in p.bodies and body not in p.groups:
        raise NotFound("body", body, [*p.bodies, *p.groups])
    if measure:
        p.measure(measure)  # raises NotFound with suggestions
    wanted = set(p.expand_bodies([body])) if body else None
    rows = [o for o in expand(p, start, end)
            if (not measure or o.measure == measure) and (wanted is None or wanted & set(o.bodies))]
    listing = kit.Listing(
        f"{i18n.word('agenda', lang)} {i18n.day(start, lang)} – {i18n.day(end, lang)}",
        [kit.Column("date", i18n.word("date", lang), head=True), kit.Column("time", i18n.word("time", lang), head=True),
         kit.Column("key", i18n.word("key", lang), ident=True, head=True),
         kit.Column("title", i18n.word("title", lang), head=True),
         kit.Column("bodies", i18n.word("bodies", lang)), kit.Column("status", i18n.word("status", lang))])
    for o in rows:
        listing.add(_when(o, lang), _clock(o, lang), o.key, o.title, ", ".join(p.body_name(b) for b in o.bodies),
                    i18n.word(o.status, lang), record=o.to_dict())
    listing.print(format)


@plan_cli.command(help=N_("Quotas not yet met and deadlines passed, for a year."))
def gaps(
    plan: kit.Plan = None,
    year: Annotated[Optional[int], typer.Option("--year", help=N_("The year (default: today's)."))] = None,
    format: kit.Format = "table", today: kit.Today = None, lang: kit.Lang = None,
) -> None:
    from .domain.expand import expand
    from .domain.gaps import find_gaps

    lang, day = kit.lang(lang), kit.today(today)
    p = kit.load(plan)
    year = year or day.year
    if not p.period.start.year <= year <= p.period.end.year:
        kit.fail(kit.tr("--year {year} is outside the plan period {first}–{last}", year=year,
                        first=p.period.start.year, last=p.period.end.year))
    found = find_gaps(expand(p, date(year, 1, 1), date(year, 12, 31)), day, kit.held(p))
    listing = kit.Listing(f"{i18n.word('gaps', lang)} {year}", [
        kit.Column(k, i18n.word(k, lang), ident=k in ("measure", "window"),
                   justify="right" if k in ("required", "pinned", "held", "missing") else "left")
        for k in ("measure", "title", "window", "required", "pinned", "held", "missing", "closes", "status")],
        empty=i18n.word("no_gaps", lang))
    for g in found:
        listing.add(g.measure, g.title, g.window, str(g.required), str(g.pinned), str(g.held), str(g.missing),
                    i18n.day(g.closes, lang), i18n.word("overdue" if g.overdue else "open", lang), record=g.to_dict())
    listing.print(format)


# --- words ---------------------------------------------------------------------------------


def _when(o: Occurrence, lang: str) -> str:
    if o.start is None:
        return f"{i18n.word('by', lang)} {i18n.day(o.window_end, lang)}"
    first = i18n.day(o.start, lang)
    assert o.end is not None  # a scheduled occurrence has both start and end (expand.Occurrence)
    if o.all_day and o.end != o.start:
        return f"{first} – {i18n.day(o.end, lang)}"
    return first


def _clock(o: Occurrence, lang: str) -> str:
    if o.start is None:
        return ""
    if o.all_day:
        return i18n.word("all_day", lang)
    # a timed occurrence's start and end are aware datetimes (expand.Occurrence)
    assert isinstance(o.start, datetime) and isinstance(o.end, datetime)
    return f"{i18n.clock(o.start, lang)}–{i18n.clock(o.end, lang)}"


# the words of a cadence and of an RRULE, as msgids (said with i18n._ in the reader's language)
PER = {"month": N_("month"), "quarter": N_("quarter"), "half-year": N_("half-year"), "year": N_("year"),
       "season": N_("season"), "period": N_("plan period")}
EVENT = {"member_joined": N_("a member joining"), "dues_unpaid": N_("unpaid dues")}
FREQ = {"DAILY": N_("daily"), "WEEKLY": N_("weekly"), "MONTHLY": N_("monthly"), "YEARLY": N_("yearly")}
EVERY = {"DAILY": N_("every {n} days"), "WEEKLY": N_("every {n} weeks"), "MONTHLY": N_("every {n} months"),
         "YEARLY": N_("every {n} years")}
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")  # babel's day names, Monday first
ORDINAL = {1: N_("first (weekday of the month)"), 2: N_("second (weekday of the month)"),
           3: N_("third (weekday of the month)"), 4: N_("fourth (weekday of the month)"),
           5: N_("fifth (weekday of the month)"), -1: N_("last (weekday of the month)"),
           -2: N_("second last (weekday of the month)")}


def cadence_text(c: Cadence, lang: str, plan: PlanT | None = None) -> str:
    """How often, in words: 'kvote: 2 per år', 'serie: månedlig, siste torsdag, unntatt juli',
    'per medlem: innen 14 dager etter innmelding' (never the plan file's raw ids; with the
    plan, its important dates and groups by name)."""
    kind = i18n.word(c.kind, lang)

    def dates(ids: list[str]) -> str:
        return ", ".join(plan.important_dates[d].name if plan and d in plan.important_dates else d for d in ids)

    def groups(ids: list[str]) -> str:
        return ", ".join(plan.body_name(b) if plan and (b in plan.bodies or b in plan.groups) else b for b in ids)

    if c.kind == "quota":
        per = i18n._(lang, PER[c.per]) if c.per in PER else c.per
        if c.per == "season" and c.seasons:
            per += f" ({', '.join(c.seasons)})"
        text = f"{kind}: {c.count} per {per}"
        return text + (", " + i18n._(lang, "in each of: {groups}", groups=groups(c.each)) if c.each else "")
    if c.kind == "annual":
        return f"{kind}: {dates(c.dates)}"
    if c.kind == "series":
        return f"{kind}: {rrule_text(c.rrule, lang)}"
    if c.kind == "on_event":
        days = i18n.ngettext(lang, "{n} day", "{n} days", c.within_days)
        event = i18n._(lang, EVENT[c.event]) if c.event in EVENT else c.event
        return i18n._(lang, "{kind}: within {days} of {event}", kind=kind, days=days, event=event)
    if c.kind == "deadline" and c.each:
        return f"{kind}, " + i18n._(lang, "for each of: {groups}", groups=groups(c.each))
    return kind


def rrule_text(rule: str, lang: str) -> str:
    """An RFC 5545 RRULE in words, as far as the usual parts go ('månedlig, første tirsdag');
    a rule with other parts keeps them as written after the words."""
    from babel.dates import get_day_names, get_month_names

    parts = dict(p.split("=", 1) for p in rule.upper().split(";") if "=" in p)
    freq = parts.pop("FREQ", "")
    words = [i18n._(lang, FREQ[freq]) if freq in FREQ else freq.lower()]
    interval = parts.pop("INTERVAL", "1")
    if interval != "1" and freq in EVERY:
        words[0] = i18n._(lang, EVERY[freq], n=interval)
    day_names = get_day_names("wide", locale=lang)
    days = []
    for d in filter(None, parts.pop("BYDAY", "").split(",")):
        n, wd = d[:-2], d[-2:]
        name = day_names[WEEKDAYS.index(wd)] if wd in WEEKDAYS else wd
        if n.lstrip("+-").isdigit():
            days.append(f"{i18n._(lang, ORDINAL[int(n)]) if int(n) in ORDINAL else n} {name}")
        else:
            days.append(name)
    if days:
        words.append(i18n._(lang, " and ").join(days) if len(days) < 3 else ", ".join(days))
    if "BYMONTHDAY" in parts:
        monthdays = parts.pop("BYMONTHDAY").split(",")
        said = [i18n._(lang, "{n} (a day of the month)", n=d) for d in monthdays]
        words.append(i18n._(lang, "on day {days}", days=", ".join(said)))
    if "BYMONTH" in parts:
        names = get_month_names("wide", locale=lang)
        months = [int(m) for m in parts.pop("BYMONTH").split(",") if m.isdigit()]
        left = [m for m in range(1, 13) if m not in months]
        if left and len(left) <= 3:
            words.append(i18n._(lang, "except {months}", months=", ".join(names[m] for m in left)))
        else:
            words.append(i18n._(lang, "in {months}", months=", ".join(names[m] for m in months)))
    words += [f"{k}={v}" for k, v in parts.items()]
    return ", ".join(w for w in words if w)


def gap_line(g: Gap, lang: str) -> str:
    if g.kind == "quota":
        what = f"{g.measure} {g.title}{' (' + g.body + ')' if g.body else ''}"
        counts = i18n._(lang, "{what}: {required} required in {window}, {pinned} pinned, {held} held, "
                              "{missing} unscheduled", what=what, required=g.required, window=g.window,
                        pinned=g.pinned, held=g.held, missing=g.missing)
        closes = (i18n._(lang, "window closed {day}", day=i18n.day(g.closes, lang)) if g.overdue else
                  i18n._(lang, "window closes {day}", day=i18n.day(g.closes, lang)))
        return f"{counts}, {closes}"
    return i18n._(lang, "{measure} {title}: due {day} passed with no completion recorded", measure=g.measure,
                  title=g.title, day=i18n.day(g.closes, lang))
