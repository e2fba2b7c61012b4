"""Loading the plan files: parse, validate, cross-check, and report every mistake.

`load_plan(path)` reads plan.yaml and the organisation, schedule and mail files it
names (schedule.yaml and mail.yaml beside it when it names none), and returns a `Plan`
(with `warnings` that `check` prints: pins on a daylight-saving night or closer than
`min_days_apart`), or raises one PlanError listing every problem found, each with its
file, line and field and a hint. Every occurrence must get a key of its own. Nothing is
written anywhere. `load_chapters` reads a chapters file; the other files beside the
plan are checked by tasks/check.py.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import WHAT, PlanError, Problem, nearest
from .explain import explain
from .i18n import N_, Msg
from .expand import SEARCH_YEARS, Slot, TooManyOccurrences, all_keys, first_date, quota_windows, slots
from .mail_model import MailFile
from .model import Annual, ChaptersFile, Deadline, OnEvent, OrganisationFile, PlanFile, Quota, ScheduleFile, Series
from .periods import Span
from .plan import Plan
from .yamlsource import Located, Path_, dotted, load_yaml

_Model = TypeVar("_Model", bound=BaseModel)


def load_plan(path: Path | str) -> Plan:
    """Read and validate the plan at `path` and the files it names."""
    path = Path(path)
    plan_src = load_yaml(path)
    plan_file = _validate(PlanFile, plan_src)
    org_src = load_yaml(path.parent / plan_file.organisation)
    org_file = _validate(OrganisationFile, org_src)
    schedule, mail = _named(path, plan_file.schedule, SCHEDULE_FILE), _named(path, plan_file.mail, MAIL_FILE)
    sched_src = load_yaml(schedule) if schedule else None
    sched_file = _validate(ScheduleFile, sched_src) if sched_src else ScheduleFile()
    mail_src = load_yaml(mail) if mail else None
    mail_file = _validate(MailFile, mail_src) if mail_src else None

    problems = [*_check_organisation(org_file, org_src), *_check_plan(plan_file, org_file, plan_src)]
    if problems:
        raise PlanError(problems)
    plan = Plan(plan_file.plan, org_file.organisation, tuple(plan_file.goals), dict(org_file.bodies),
                dict(org_file.groups), dict(org_file.important_dates), dict(sched_file.occurrences),
                tuple(s.file for s in (plan_src, org_src, sched_src, mail_src) if s), mail_file)
    problems = list(_check_bounds(plan, plan_src, mail_src))  # first: the checks below expand the plan
    if problems:
        raise PlanError(problems)
    problems = [*_check_keys(plan, plan_src)]
    if problems:
        raise PlanError(problems)
    problems = [*_check_slots(plan, plan_src), *_check_pins(plan, sched_src), *_check_mail(plan, mail_src)]
    if problems:
        raise PlanError(problems)
    warnings = tuple(_pin_warnings(plan, sched_src)) if sched_src else ()
    return replace(plan, warnings=warnings) if warnings else plan


def load_chapters(path: Path | str) -> list[Path]:
    """The plan files a chapters file names (`chapters: [{plan: PATH}, …]`), each path
    relative to the chapters file; PlanError naming the line of one that is not a file."""
    path = Path(path)
    src = load_yaml(path)
    chapters = _validate(ChaptersFile, src)
    plans, problems = [], []
    for i, chapter in enumerate(chapters.chapters):
        plan = path.parent / chapter.plan
        if not plan.is_file():
            at: Path_ = ("chapters", i, "plan")
            problems.append(Problem(path, src.line_of(at), dotted(at),
                                    Msg("{plan}: no such file ({path})", plan=chapter.plan, path=str(plan)),
                                    Msg("write the plan's path relative to {name}, like plan.yaml", name=path.name)))
        plans.append(plan)
    if problems:
        raise PlanError(problems)
    return plans


# The files plan.yaml may name, and the name each has when plan.yaml names none.
SCHEDULE_FILE, MAIL_FILE = "schedule.yaml", "mail.yaml"


def _named(plan: Path, named: str | None, default: str) -> Path | None:
    """The file plan.yaml names (relative to plan.yaml), or `default` beside it when it
    names none and that file exists."""
    if named:
        return plan.parent / named
    beside = plan.parent / default
    return beside if beside.is_file() else None


# --- schema errors -------------------------------------------------------------------


def _validate(model_cls: type[_Model], src: Located) -> _Model:
    try:
        return model_cls.model_validate(src.data if src.data is not None else {})
    except ValidationError as exc:
        raise PlanError(_problems(exc, src, model_cls)) from None


def _problems(exc: ValidationError, src: Located, model_cls: type[BaseModel] | None = None) -> list[Problem]:
    seen: set[tuple[Path_, str]] = set()
    out: list[Problem] = []
    for err in exc.errors(include_url=False):
        path = _data_path(src.data, err["loc"])
        message, hint = explain(err, path, model_cls)
        ident = (path, message)
        if ident in seen:  # a union reports one mistake once per member
            continue
        seen.add(ident)
        out.append(Problem(src.file, src.line_of(path), dotted(path) or None, message, hint))
    return out


def _data_path(data: Any, loc: tuple[int | str, ...]) -> Path_:
    """pydantic's error location with union tags and validator names taken out."""
    path: list[str | int] = []
    for part in loc:
        if isinstance(data, dict) and part in data:
            data = data[part]
            path.append(part)
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
            path.append(part)
        elif isinstance(data, dict) and isinstance(part, str) and part.isdigit() and int(part) in data:
            data = data[int(part)]
            path.append(int(part))
        elif part == "[key]" or not isinstance(data, (dict, list)) or (
                isinstance(data, dict) and part == data.get("kind")):  # a union's tag
            continue
        else:
            path.append(part)  # a missing field: name it
            data = None
    return tuple(path)


# --- cross-file checks -----------------------------------------------------------------


def _check_organisation(org: OrganisationFile, src: Located) -> Iterable[Problem]:
    for gid, group in org.groups.items():
        if gid in org.bodies:
            yield Problem(src.file, src.line_of(("groups", gid)), f"groups.{gid}",
                          Msg("{name!r} is both a body and a group", name=gid), Msg("rename the group"))
        for i, member in enumerate(group.members):
            if member not in org.bodies:
                yield _unknown(src, ("groups", gid, "members", i), "body", member, org.bodies)


def _check_plan(pf: PlanFile, org: OrganisationFile, src: Located) -> Iterable[Problem]:
    known_bodies = [*org.bodies, *org.groups]
    goal_numbers = Counter(g.number for g in pf.goals)
    numbers = Counter(m.number for g in pf.goals for m in g.measures)
    events = Counter(m.cadence.event for g in pf.goals for m in g.measures if isinstance(m.cadence, OnEvent))
    whole = Span(pf.plan.period[0].start, pf.plan.period[-1].end)
    for gi, goal in enumerate(pf.goals):
        at = ("goals", gi)
        if goal_numbers[goal.number] > 1:
            yield Problem(src.file, src.line_of(at + ("number",)), dotted(at + ("number",)),
                          Msg("goal number {number} is used more than once", number=goal.number),
                          Msg("give each goal its own number"))
        letters = Counter(s.letter for s in goal.subgoals)
        for si, sub in enumerate(goal.subgoals):
            if letters[sub.letter] > 1:
                yield Problem(src.file, src.line_of(at + ("subgoals", si)), dotted(at + ("subgoals", si, "letter")),
                              Msg("sub-goal letter {letter!r} is used more than once in goal {number}",
                                  letter=sub.letter, number=goal.number))
        for mi, m in enumerate(goal.measures):
            here = at + ("measures", mi)
            written = src.written.get(here + ("number",))
            if written is not None and written != m.number:
                yield Problem(src.file, src.line_of(here + ("number",)), dotted(here + ("number",)),
                              Msg("the measure number {written} is read as the number {number}", written=written,
                                  number=m.number),
                              Msg('write it in quotes: number: "{written}"', written=written))
            elif numbers[m.number] > 1:
                yield Problem(src.file, src.line_of(here + ("number",)), dotted(here + ("number",)),
                              Msg("measure number {number} is used more than once", number=m.number),
                              Msg("every measure needs its own number; renumber one of them"))
            if isinstance(m.cadence, OnEvent) and events[m.cadence.event] > 1:
                yield Problem(src.file, src.line_of(here + ("cadence", "event")), dotted(here + ("cadence", "event")),
                              Msg("more than one measure is driven by the event {event}", event=m.cadence.event),
                              Msg("one measure per event: its number is what the follow-ups are logged against"))
            if m.number.split(".")[0] != str(goal.number):
                yield Problem(src.file, src.line_of(here + ("number",)), dotted(here + ("number",)),
                              Msg("measure {number} is listed under goal {goal}", number=m.number, goal=goal.number),
                              Msg("move it to goal {goal} or renumber it", goal=m.number.split(".")[0]))
            for bi, body in enumerate(m.bodies):
                if body not in known_bodies:
                    yield _unknown(src, here + ("bodies", bi), "body", body, known_bodies)
            for span in m.period:
                if not span.overlaps(whole):
                    yield Problem(src.file, src.line_of(here + ("period",)), dotted(here + ("period",)),
                                  Msg("{span} lies outside the plan period {whole}", span=str(span), whole=str(whole)))
            c = m.cadence
            for ei, body in enumerate(getattr(c, "each", [])):
                if body not in known_bodies:
                    yield _unknown(src, here + ("cadence", "each", ei), "body", body, known_bodies)
            if isinstance(c, Annual):
                for di, ident in enumerate(c.dates):
                    if ident not in org.important_dates:
                        yield _unknown(src, here + ("cadence", "dates", di), "important date", ident,
                                       org.important_dates)
            if isinstance(c, Quota) and c.window and c.window not in org.important_dates:
                yield _unknown(src, here + ("cadence", "window"), "important date", c.window, org.important_dates)
            if isinstance(c, Deadline) and c.due is not None:
                dues = c.due if isinstance(c.due, list) else [c.due]
                due_at = here + ("cadence", "due")
                for due in dues:
                    if not any(due in s for s in m.period):
                        yield Problem(src.file, src.line_of(due_at), dotted(due_at),
                                      Msg("due date {due} is outside the measure's period", due=str(due)),
                                      Msg("move the date into the period, or widen the period"))
                years = Counter(d.year for d in dues)
                if any(n > 1 for n in years.values()):
                    yield Problem(src.file, src.line_of(due_at), dotted(due_at),
                                  Msg("two due dates in the same year"),
                                  Msg("a deadline is keyed by its year; keep one per year"))


def _check_slots(plan: Plan, src: Located) -> Iterable[Problem]:
    """Quotas must fit their windows: `count` slots, `min_days_apart` between them."""
    for gi, goal in enumerate(plan.goals):
        for mi, m in enumerate(goal.measures):
            c = m.cadence
            if not isinstance(c, Quota):
                continue
            at = ("goals", gi, "measures", mi, "cadence")
            need = (c.count - 1) * max(c.min_days_apart, 1) + 1
            found = list(quota_windows(plan, m))
            if not found:
                yield Problem(src.file, src.line_of(at), dotted(at),
                              Msg("the quota of measure {number} has no window inside its period", number=m.number),
                              Msg("check the period and the window's important date"))
            for label, span, _ in found:
                if span.days < need:
                    yield Problem(src.file, src.line_of(at + ("count",)), dotted(at + ("count",)),
                                  Msg("{count} occurrences cannot fit {label} ({span}, {days} days, {apart} days "
                                      "apart)", count=c.count, label=label, span=str(span), days=span.days,
                                      apart=c.min_days_apart) if c.min_days_apart else
                                  Msg("{count} occurrences cannot fit {label} ({span}, {days} days)", count=c.count,
                                      label=label, span=str(span), days=span.days),
                                  Msg("lower the count, widen the window, or shorten min_days_apart"))
                    break


_NEVER_HINT = N_("the first date is the measure's `dtstart` (or the start of its period); with INTERVAL the rule "
                 "only counts from there: FREQ=DAILY;INTERVAL=7;BYDAY=MO gives nothing unless that day is a Monday")


def _check_bounds(plan: Plan, src: Located, mail_src: Located | None) -> Iterable[Problem]:
    """Expanding the plan must stay small and quick: every series and newsletter
    schedule gives a date within expand.SEARCH_YEARS of its start (else dateutil would
    search to year 9999 on every expansion), and no measure gives more than
    expand.MAX_OCCURRENCES occurrences."""
    for gi, goal in enumerate(plan.goals):
        for mi, m in enumerate(goal.measures):
            at: Path_ = ("goals", gi, "measures", mi, "cadence")
            c = m.cadence
            if isinstance(c, Series):
                starts = sorted({c.dtstart or s.start for s in m.period if s.overlaps(plan.period)})
                never = [d for d in starts if first_date(c.rrule, datetime.combine(d, c.start or time(0))) is None]
                if never:
                    yield Problem(src.file, src.line_of(at + ("rrule",)), dotted(at + ("rrule",)),
                                  Msg("the rule gives no date in {years} years from {start}", years=SEARCH_YEARS,
                                      start=str(never[0])), Msg(_NEVER_HINT))
                    continue
            try:
                for _ in slots(plan, m):
                    pass
            except TooManyOccurrences as exc:
                (problem,) = exc.problems
                yield Problem(src.file, src.line_of(at), dotted(at), problem.message, problem.hint)
    if mail_src and plan.mail:
        start = datetime.combine(plan.period.start, time(0))
        for i, n in enumerate(plan.mail.newsletters):
            if first_date(n.schedule, start) is None:
                at = ("newsletters", i, "schedule")
                yield Problem(mail_src.file, mail_src.line_of(at), dotted(at),
                              Msg("the schedule gives no date in {years} years from the plan's start {start}",
                                  years=SEARCH_YEARS, start=str(plan.period.start)),
                              Msg("check INTERVAL and BYDAY against the plan's first day"))


def _check_keys(plan: Plan, src: Located) -> Iterable[Problem]:
    """Every occurrence has a key of its own: a key names one occurrence, and its UID
    is made from it. Two windows with one label (`per: period` over two spans in one
    year, `per: year` over a spring and an autumn span) would give two occurrences one
    key, and the database would refuse the second."""
    for gi, goal in enumerate(plan.goals):
        for mi, m in enumerate(goal.measures):
            seen: set[str] = set()
            for slot in slots(plan, m):
                if slot.key in seen:
                    at: Path_ = ("goals", gi, "measures", mi, "cadence")
                    hint = (Msg("count per quarter, month or named season instead (`per: quarter`, `per: month`, "
                                "`per: season` with `seasons:`), or join the spans into one")
                            if isinstance(m.cadence, Quota) else
                            Msg("give each year one date, or split the measure in two"))
                    yield Problem(src.file, src.line_of(at + ("per",) if isinstance(m.cadence, Quota) else at),
                                  dotted(at),
                                  Msg("measure {number} gives two occurrences with the key {key!r}", number=m.number,
                                      key=slot.key),
                                  hint)
                    break
                seen.add(slot.key)


def _pin_warnings(plan: Plan, src: Located) -> Iterable[Problem]:
    """What `check` warns about in schedule.yaml without refusing it: a pinned time
    the clock skips (it moves to the time after the gap) or shows twice (the first is
    taken) on a daylight-saving night, and quota pins closer than `min_days_apart`."""
    zone = plan.organisation.timezone
    for key, pin in plan.pins.items():
        if not (pin.date and pin.start):
            continue
        for name, clock in (("start", pin.start), ("end", pin.end)):
            if clock is None:
                continue
            naive = datetime.combine(pin.date, clock)
            first, second = naive.replace(tzinfo=plan.tz, fold=0), naive.replace(tzinfo=plan.tz, fold=1)
            if first.utcoffset() == second.utcoffset():
                continue
            shown = first.astimezone(timezone.utc).astimezone(plan.tz)
            at = ("occurrences", key, name)
            if shown.replace(tzinfo=None) != naive:
                yield Problem(src.file, src.line_of(at), f"occurrences[{key!r}].{name}",
                              Msg("{clock} on {date} does not exist in {zone} (the clocks skip it); it becomes "
                                  "{shown}", clock=clock.strftime("%H:%M"), date=str(pin.date), zone=zone,
                                  shown=shown.strftime("%H:%M")),
                              Msg("choose a time outside the hour the clocks skip"))
            else:
                yield Problem(src.file, src.line_of(at), f"occurrences[{key!r}].{name}",
                              Msg("{clock} on {date} happens twice in {zone} (the clocks go back); the first is "
                                  "taken", clock=clock.strftime("%H:%M"), date=str(pin.date), zone=zone),
                              Msg("choose a time outside the hour the clocks repeat"))
    for _, m in plan.measures:
        c = m.cadence
        if not isinstance(c, Quota) or c.min_days_apart < 1:
            continue
        days: dict[tuple[Span, str | None], list[tuple[str, datetime]]] = {}
        for s in slots(plan, m):
            pinned_at = plan.pins.get(s.key)
            if pinned_at and pinned_at.date and pinned_at.status != "cancelled":
                days.setdefault((s.window, s.body), []).append((s.key, datetime.combine(pinned_at.date, time(0))))
        for pinned in days.values():
            pinned.sort(key=lambda kd: kd[1])
            for (k1, d1), (k2, d2) in zip(pinned, pinned[1:]):
                if d2 - d1 < timedelta(days=c.min_days_apart):
                    yield Problem(src.file, src.line_of(("occurrences", k2, "date")), f"occurrences[{k2!r}].date",
                                  Msg("{first} and {second} are pinned {days} days apart; measure {number} asks for "
                                      "at least {apart}", first=k1, second=k2, days=(d2 - d1).days, number=m.number,
                                      apart=c.min_days_apart),
                                  Msg("move one of them, or lower min_days_apart in the plan"))


def _check_pins(plan: Plan, src: Located | None) -> Iterable[Problem]:
    if not src or not plan.pins:
        return
    by_key: dict[str, Slot] = {s.key: s for _, m in plan.measures for s in slots(plan, m)}
    keys = all_keys(plan)
    for key, pin in plan.pins.items():
        at = ("occurrences", key)
        slot = by_key.get(key)
        if slot is None:
            close = nearest(key, keys)
            yield Problem(src.file, src.line_of(at), dotted(("occurrences",)) + f"[{key!r}]",
                          Msg("no occurrence has the key {key!r}", key=key),
                          Msg("did you mean {names}?", names=", ".join(close)) if close else
                          Msg("`aarshjul agenda` lists the keys"))
            continue
        if pin.date and pin.date not in slot.window and slot.window.days > 1:
            yield Problem(src.file, src.line_of(at + ("date",)), f"occurrences[{key!r}].date",
                          Msg("{date} is outside the window {window} of {key}", date=str(pin.date),
                              window=str(slot.window), key=key),
                          Msg("pin a date inside the window, or choose the slot of the right period"))


def _check_mail(plan: Plan, src: Located | None) -> Iterable[Problem]:
    """Newsletters must name real bodies, branches and measures, and subjects must parse."""
    if not src or not plan.mail:
        return
    from jinja2 import TemplateError, TemplateSyntaxError, meta

    from .subjects import compile_subject, subject_environment

    env = subject_environment()  # the mailer's own: a subject names its values, nothing else
    numbers = [m.number for _, m in plan.measures]
    for i, n in enumerate(plan.mail.newsletters):
        at = ("newsletters", i)
        if n.sender and n.sender not in plan.bodies:
            yield _unknown(src, at + ("sender",), "body", n.sender, plan.bodies)
        if n.audience.branch and n.audience.branch not in plan.branches():
            yield _unknown(src, at + ("audience", "branch"), "branch", n.audience.branch, plan.branches())
        if n.audience.role and n.audience.role not in plan.bodies:
            yield _unknown(src, at + ("audience", "role"), "body", n.audience.role, plan.bodies)
        if n.measure and n.measure not in numbers:
            yield _unknown(src, at + ("measure",), "measure", n.measure, numbers)
        where = (src.file, src.line_of(at + ("subject",)), dotted(at + ("subject",)))
        try:
            unknown = sorted(meta.find_undeclared_variables(env.parse(n.subject)) - SUBJECT_VALUES.keys())
            if unknown:
                yield Problem(*where, Msg("the subject uses unknown value(s) {names}", names=", ".join(unknown)),
                              Msg("a subject may use {names}", names=", ".join(sorted(SUBJECT_VALUES))))
                continue
            compile_subject(n.subject).render(SUBJECT_VALUES)  # the sandbox refuses unsafe access here
        except TemplateSyntaxError as exc:
            yield Problem(*where, Msg("the subject does not parse: {error}", error=str(exc.message)),
                          Msg("check the {{ }} brackets"))
        except TemplateError as exc:
            yield Problem(*where, Msg("the subject does not render: {error}", error=str(exc)),
                          Msg("use only plain values: {names}", names=", ".join(sorted(SUBJECT_VALUES))))


# The values a newsletter subject may name, with sample values to try it with.
SUBJECT_VALUES = {"organisation": "Organisasjonen", "newsletter": "Nyhetsbrev", "lang": "nb", "month": "januar",
                  "edition": "nyhetsbrev/2026-01", "branch_name": "Laget", "first_name": "Ola"}


def _unknown(src: Located, path: Path_, what: str, name: str, known: Iterable[str]) -> Problem:
    close = nearest(name, known)
    hint = (Msg("did you mean {names}?", names=", ".join(close)) if close else
            Msg("known: {names}", names=", ".join(sorted(known))))
    return Problem(src.file, src.line_of(path), dotted(path),
                   Msg("unknown {what} {name!r}", what=Msg(WHAT.get(what, what)), name=name), hint)
