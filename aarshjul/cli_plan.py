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

if TYPE_CHECKING:
    from .domain.plan import Plan as PlanT
    from .domain.expand import Occurrence
    from .domain.gaps import Gap
    from .domain.model import Cadence

plan_cli = typer.Typer()


@plan_cli.command()
def check(plan: kit.Plan = None, today: kit.Today = None, lang: kit.Lang = None) -> None:
    """Validate the plan files; warn about gaps in the current year."""
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
        kit.say((f"{len(gaps)} {i18n.word('warnings', lang)} ({year}):", "yellow"))
        for g in gaps:
            kit.warn(gap_line(g, lang), mark="  ! ")
    if p.warnings:  # in schedule.yaml: a pin on a daylight-saving night, pins closer than min_days_apart
        kit.say((f"{len(p.warnings)} {i18n.word('warnings', lang)} (schedule.yaml):", "yellow"))
        for w in p.warnings:
            kit.warn(str(w), mark="  ! ")


@plan_cli.command()
def measures(plan: kit.Plan = None, format: kit.Format = "table", today: kit.Today = None,
             lang: kit.Lang = None) -> None:
    """The plan's measures, goal by goal."""
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


@plan_cli.command()
def agenda(
    plan: kit.Plan = None,
    from_: Annotated[Optional[date], kit.Day("--from", "First date (default: today).")] = None,
    to: Annotated[Optional[date], kit.Day("--to", "Last date (default: the end of the plan).")] = None,
    body: Annotated[Optional[str], typer.Option("--body", help="Only this body (id).")] = None,
    measure: Annotated[Optional[str], typer.Option("--measure", help="Only this measure (number).")] = None,
    format: kit.Format = "table", today: kit.Today = None, lang: kit.Lang = None,
) -> None:
    """What the plan requires, date by date."""
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


@plan_cli.command()
def gaps(
    plan: kit.Plan = None,
    year: Annotated[Optional[int], typer.Option("--year", help="The year (default: today's).")] = None,
    format: kit.Format = "table", today: kit.Today = None, lang: kit.Lang = None,
) -> None:
    """Quotas not yet met and deadlines passed, for a year."""
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


PER = {"nb": {"month": "måned", "quarter": "kvartal", "half-year": "halvår", "year": "år", "season": "sesong",
              "period": "planperiode"},
       "en": {"month": "month", "quarter": "quarter", "half-year": "half-year", "year": "year", "season": "season",
              "period": "plan period"}}
EVENT = {"nb": {"member_joined": "innmelding", "dues_unpaid": "ubetalt kontingent"},
         "en": {"member_joined": "a member joining", "dues_unpaid": "unpaid dues"}}
FREQ = {"nb": {"DAILY": "daglig", "WEEKLY": "ukentlig", "MONTHLY": "månedlig", "YEARLY": "årlig"},
        "en": {"DAILY": "daily", "WEEKLY": "weekly", "MONTHLY": "monthly", "YEARLY": "yearly"}}
EVERY = {"nb": {"DAILY": "dag", "WEEKLY": "uke", "MONTHLY": "måned", "YEARLY": "år"},
         "en": {"DAILY": "days", "WEEKLY": "weeks", "MONTHLY": "months", "YEARLY": "years"}}
WEEKDAY = {"nb": dict(zip(("MO", "TU", "WE", "TH", "FR", "SA", "SU"),
                          ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"))),
           "en": dict(zip(("MO", "TU", "WE", "TH", "FR", "SA", "SU"),
                          ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")))}
ORDINAL = {"nb": {1: "første", 2: "andre", 3: "tredje", 4: "fjerde", 5: "femte", -1: "siste", -2: "nest siste"},
           "en": {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last", -2: "second last"}}


def cadence_text(c: Cadence, lang: str, plan: PlanT | None = None) -> str:
    """How often, in words: 'kvote: 2 per år', 'serie: månedlig, siste torsdag, unntatt juli',
    'per medlem: innen 14 dager etter innmelding' (never the plan file's raw ids; with the
    plan, its important dates and groups by name)."""
    nb = lang == "nb"
    kind = i18n.word(c.kind, lang)

    def dates(ids: list[str]) -> str:
        return ", ".join(plan.important_dates[d].name if plan and d in plan.important_dates else d for d in ids)

    def groups(ids: list[str]) -> str:
        return ", ".join(plan.body_name(b) if plan and (b in plan.bodies or b in plan.groups) else b for b in ids)

    if c.kind == "quota":
        per = PER[lang][c.per]
        if c.per == "season" and c.seasons:
            per += f" ({', '.join(c.seasons)})"
        text = f"{kind}: {c.count} per {per}"
        return text + (f", {'i hvert av' if nb else 'in each of'}: {groups(c.each)}" if c.each else "")
    if c.kind == "annual":
        return f"{kind}: {dates(c.dates)}"
    if c.kind == "series":
        return f"{kind}: {rrule_text(c.rrule, lang)}"
    if c.kind == "on_event":
        days = f"{c.within_days} {'dager' if nb else 'days'}" if c.within_days != 1 else ("1 dag" if nb else "1 day")
        return (f"{kind}: innen {days} etter {EVENT[lang].get(c.event, c.event)}" if nb else
                f"{kind}: within {days} of {EVENT[lang].get(c.event, c.event)}")
    if c.kind == "deadline" and c.each:
        return f"{kind}, {'for hvert av' if nb else 'for each of'}: {groups(c.each)}"
    return kind


def rrule_text(rule: str, lang: str) -> str:
    """An RFC 5545 RRULE in words, as far as the usual parts go ('månedlig, første tirsdag');
    a rule with other parts keeps them as written after the words."""
    from babel.dates import get_month_names

    parts = dict(p.split("=", 1) for p in rule.upper().split(";") if "=" in p)
    freq = parts.pop("FREQ", "")
    words = [FREQ[lang].get(freq, freq.lower())]
    interval = parts.pop("INTERVAL", "1")
    if interval != "1" and freq in EVERY[lang]:
        words[0] = (f"hver {interval}. {EVERY[lang][freq]}" if lang == "nb" else
                    f"every {interval} {EVERY[lang][freq]}")
    days = []
    for d in filter(None, parts.pop("BYDAY", "").split(",")):
        n, wd = d[:-2], d[-2:]
        name = WEEKDAY[lang].get(wd, wd)
        days.append(f"{ORDINAL[lang].get(int(n), n)} {name}" if n.lstrip("+-").isdigit() else name)
    if days:
        words.append((" og " if lang == "nb" else " and ").join(days) if len(days) < 3 else ", ".join(days))
    if "BYMONTHDAY" in parts:
        monthdays = parts.pop("BYMONTHDAY").split(",")
        words.append((f"den {', '.join(d + '.' for d in monthdays)}" if lang == "nb" else
                      f"on day {', '.join(monthdays)}"))
    if "BYMONTH" in parts:
        names = get_month_names("wide", locale=lang)
        months = [int(m) for m in parts.pop("BYMONTH").split(",") if m.isdigit()]
        left = [m for m in range(1, 13) if m not in months]
        if left and len(left) <= 3:
            words.append(f"{'unntatt' if lang == 'nb' else 'except'} {', '.join(names[m] for m in left)}")
        else:
            words.append(f"{'i' if lang == 'nb' else 'in'} {', '.join(names[m] for m in months)}")
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
