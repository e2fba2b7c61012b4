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
    from .domain.expand import Occurrence
    from .domain.gaps import Gap
    from .domain.model import Cadence

plan_cli = typer.Typer()


@plan_cli.command()
def check(plan: kit.Plan = None, today: kit.Today = None, lang: kit.Lang = None) -> None:
    """Validate the plan files; warn about gaps in the current year."""
    from .domain.expand import expand
    from .domain.gaps import find_gaps

    lang, day = kit.lang(lang), kit.today(today)
    p = kit.load(plan)
    year = day.year if p.period.start.year <= day.year <= p.period.end.year else p.period.end.year
    gaps = [g for g in find_gaps(expand(p, date(year, 1, 1), date(year, 12, 31)), day, kit.held(p))
            if g.overdue or g.kind == "quota"]
    counts = (f"{len(p.goals)} mål, {len(p.measures)} tiltak, {len(expand(p))} forekomster" if lang == "nb" else
              f"{len(p.goals)} goals, {len(p.measures)} measures, {len(expand(p))} occurrences")
    kit.ok(f"{i18n.word('plan_ok', lang)}: {p.meta.title} — {counts} ({p.files[0]})")
    if gaps:
        kit.say((f"{len(gaps)} {i18n.word('warnings', lang)} ({year}):", "yellow"))
        for g in gaps:
            kit.warn(gap_line(g, lang), mark="  ! ")


@plan_cli.command()
def measures(plan: kit.Plan = None, format: kit.Format = "table", today: kit.Today = None,
             lang: kit.Lang = None) -> None:
    """The plan's measures, goal by goal."""
    lang = kit.lang(lang)
    p = kit.load(plan)
    if format == "json":
        kit.print_json([{
            "number": m.number, "goal": g.number, "title": m.title, "text": m.text,
            "period": [{"start": s.start.isoformat(), "end": s.end.isoformat()} for s in m.period],
            "period_text": m.period_text, "bodies": list(m.bodies),
            "responsible": [p.body_name(b) for b in m.bodies],
            "cadence": m.cadence.model_dump(mode="json", exclude_defaults=False), "visibility": m.visibility,
        } for g, m in p.measures])
        return
    table = kit.table(f"{i18n.word('measures', lang)}: {p.meta.title}",
                      [i18n.word(c, lang) for c in ("measure", "title", "period", "bodies", "cadence")])
    for g, m in p.measures:
        table.add_row(m.number, m.title, m.period_text or ", ".join(str(s) for s in m.period),
                      ", ".join(p.body_name(b) for b in m.bodies), cadence_text(m.cadence, lang))
    kit.out.print(table)


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
        kit.fail(f"--to {end} is before --from {start}")
    if body and body not in p.bodies and body not in p.groups:
        raise NotFound("body", body, [*p.bodies, *p.groups])
    if measure:
        p.measure(measure)  # raises NotFound with suggestions
    wanted = set(p.expand_bodies([body])) if body else None
    rows = [o for o in expand(p, start, end)
            if (not measure or o.measure == measure) and (wanted is None or wanted & set(o.bodies))]
    if format == "json":
        kit.print_json([o.to_dict() for o in rows])
        return
    table = kit.table(f"{i18n.word('agenda', lang)} {i18n.day(start, lang)} – {i18n.day(end, lang)}",
                      [i18n.word(c, lang) for c in ("date", "time", "key", "title", "bodies", "status")])
    for o in rows:
        table.add_row(_when(o, lang), _clock(o, lang), o.key, o.title,
                      ", ".join(p.body_name(b) for b in o.bodies), i18n.word(o.status, lang))
    kit.out.print(table)


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
        kit.fail(f"--year {year} is outside the plan period {p.period.start.year}–{p.period.end.year}")
    found = find_gaps(expand(p, date(year, 1, 1), date(year, 12, 31)), day, kit.held(p))
    if format == "json":
        kit.print_json([g.to_dict() for g in found])
        return
    if not found:
        kit.say(i18n.word("no_gaps", lang))
        return
    table = kit.table(f"{i18n.word('gaps', lang)} {year}", [i18n.word(c, lang) for c in (
        "measure", "title", "window", "required", "pinned", "held", "missing", "closes", "status")])
    for g in found:
        table.add_row(g.measure, g.title, g.window, str(g.required), str(g.pinned), str(g.held), str(g.missing),
                      i18n.day(g.closes, lang), i18n.word("overdue" if g.overdue else "open", lang))
    kit.out.print(table)


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


def cadence_text(c: Cadence, lang: str) -> str:
    kind = i18n.word(c.kind, lang)
    if c.kind == "quota":
        per = {"year": "år", "half-year": "halvår", "period": "periode"} if lang == "nb" else \
            {"year": "year", "half-year": "half-year", "period": "period"}
        text = f"{kind}: {c.count} per {per[c.per]}"
        return text + (f" × {', '.join(c.each)}" if c.each else "")
    if c.kind == "annual":
        return f"{kind}: {', '.join(c.dates)}"
    if c.kind == "series":
        return f"{kind}: {c.rrule}"
    if c.kind == "on_event":
        return f"{kind}: {c.event}, {c.within_days} d"
    if c.kind == "deadline" and c.each:
        return f"{kind} × {', '.join(c.each)}"
    return kind


def gap_line(g: Gap, lang: str) -> str:
    if g.kind == "quota":
        if lang == "nb":
            return (f"{g.measure} {g.title}{' (' + g.body + ')' if g.body else ''}: {g.required} kreves i {g.window}, "
                    f"{g.pinned} berammet, {g.held} holdt, {g.missing} ikke berammet, "
                    f"{'fristen gikk ut' if g.overdue else 'frist'} {i18n.day(g.closes, lang)}")
        return (f"{g.measure} {g.title}{' (' + g.body + ')' if g.body else ''}: {g.required} required in {g.window}, "
                f"{g.pinned} pinned, {g.held} held, {g.missing} unscheduled, "
                f"window {'closed' if g.overdue else 'closes'} {i18n.day(g.closes, lang)}")
    return (f"{g.measure} {g.title}: {'frist' if lang == 'nb' else 'due'} {i18n.day(g.closes, lang)} "
            f"{'passert uten registrert gjennomføring' if lang == 'nb' else 'passed with no completion recorded'}")
