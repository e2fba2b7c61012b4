"""The completion log and the yearly report on the command line.

    done KEY|MEASURE         record that an occurrence (or a measure without occurrences,
                             on a date) was held: --date, --attendance, --note, --evidence, --by
    not-held KEY|MEASURE     record that it was not held, and why (--reason)
    cancel KEY               record that an occurrence is cancelled, and why (--reason); the
                             calendars publish it as cancelled from the next `aarshjul publish`
    revoke KEY|MEASURE@DATE  take back a record (held, not held or cancelled) made by mistake:
                             kept in the log as revoked, with who (--by) and when; the report,
                             gaps, reminders and calendars then treat it as never recorded
    comment MEASURE TEXT     the board's comment on a measure in a year's report (--year)
    kpi record NAME VALUE    a value of a target recorded by hand (targets.yaml), --date
    kpi list                 every target, its latest value and where it stands
    report YEAR              the yearly report to the annual meeting: html, pdf or md; --out a
                             file or a folder (ending in /), written atomically, 0600, never
                             through a symlink or over a device, FIFO or folder (exit 2)

`report_cli` holds the top-level commands and `kpi_app` the `kpi` group; cli.py
registers them on the main app:

    app.registered_commands += report_cli.registered_commands
    app.add_typer(kpi_app, name="kpi")

Recording the same thing twice keeps one record: the second updates it, and says what
it replaced. What was held (or not held) is recorded once it has happened: an occurrence
dated after today needs --date, the day it was actually held (exit 2 without it). A
mistake (an unknown key with the nearest ones, an impossible date, a date outside the
plan period, a negative attendance) raises AarshjulError, which
cli.main() prints before exiting with status 2. Nothing here imports Prefect; the PDF
(WeasyPrint) and the charts (matplotlib) are imported only by `report --format html|pdf`.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from . import cli_kit as kit
from .domain.errors import BadInput
from .domain.i18n import N_, Msg

if TYPE_CHECKING:
    from .domain.plan import Plan
    from .domain.targets import Targets

report_cli = typer.Typer(help=N_("The completion log and the yearly report."), no_args_is_help=True,
                         add_completion=False, pretty_exceptions_enable=False)
kpi_app = typer.Typer(help=N_("Targets (KPIs): record values by hand, list where each stands."), no_args_is_help=True)
report_cli.add_typer(kpi_app, name="kpi")

REPORT_DIR = Path("var/rapport")
# a target's progress (domain/targets.py's status), as msgids
TARGET_STATUS = {"reached": N_("reached"), "not_reached": N_("not reached"), "ahead": N_("ahead of schedule"),
                 "behind": N_("behind schedule"), "rising": N_("rising"), "not_rising": N_("not rising"),
                 "no_data": N_("no measurements"), "no_baseline": N_("no baseline")}
OUTCOME = {"held": N_("held"), "not_held": N_("not held"), "cancelled": N_("cancelled")}  # msgids: kit.tr(…)

Target = Annotated[str, typer.Argument(metavar="KEY|MEASURE", help=N_("An occurrence key (1.5/2025/1, see `aarshjul "
                                       "agenda`) or the number of a measure without occurrences (1.2)."))]
DateOpt = Annotated[Optional[date], kit.Day("--date", N_("When (default: the occurrence's date, or today)."))]
ByOpt = Annotated[Optional[str], typer.Option(
    "--by", help=N_("Who records it (kept in the log, never in the report)."))]


# --- the completion log ------------------------------------------------------------------


@report_cli.command(help=N_("Record that an occurrence (or a measure without occurrences) was held."))
def done(
    target: Target, date_: DateOpt = None,
    attendance: Annotated[Optional[int], typer.Option("--attendance", help=N_("How many took part."))] = None,
    note: Annotated[Optional[str], typer.Option("--note", help=N_("A short note (no personal data)."))] = None,
    evidence: Annotated[Optional[str], typer.Option(
        "--evidence", help=N_("A link to minutes, photos, the event."))] = None,
    by: ByOpt = None, plan: kit.Plan = None, today: kit.Today = None,
) -> None:
    from .domain.completion import check_attendance, check_url

    check_attendance(attendance)
    url = check_url(evidence)
    _record(target, "held", date_, plan, today, attendance=attendance, note=note, evidence_url=url, by=by)


@report_cli.command("not-held", help=N_("Record that an occurrence (or a measure) was not held, and why."))
def not_held(
    target: Target,
    reason: Annotated[str, typer.Option("--reason", help=N_("Why it was not held (shown in the report)."))],
    date_: DateOpt = None, by: ByOpt = None, plan: kit.Plan = None, today: kit.Today = None,
) -> None:
    _record(target, "not_held", date_, plan, today, note=_reason(reason), by=by)


@report_cli.command(help=N_(
     "Record that an occurrence is cancelled; the calendars show it as cancelled from the next publish."))
def cancel(
    key: Annotated[str, typer.Argument(metavar="KEY", help=N_("The occurrence key (1.5/2025/1)."))],
    reason: Annotated[str, typer.Option("--reason", help=N_("Why it is cancelled (shown in the report)."))],
    by: ByOpt = None, plan: kit.Plan = None, today: kit.Today = None,
) -> None:
    _record(key, "cancelled", None, plan, today, note=_reason(reason), by=by)


def _reason(text: str) -> str:
    text = text.strip()
    if not text:
        raise BadInput(kit.tr("--reason is empty; write briefly why (it is shown in the yearly report)"))
    return text


def _record(target: str, outcome: str, given_day: date | None, plan_path: Path | None, today: date | None, *,
            attendance: int | None = None, note: str | None = None, evidence_url: str | None = None,
            by: str | None = None) -> None:
    from .db.completions import record_completion
    from .domain import i18n
    from .domain.completion import (check_in_period, check_not_ahead, check_not_future, dated, default_day,
                                    outside_window, resolve)
    from .domain.expand import expand

    day = kit.today(today)
    p = kit.load(plan_path)
    ref = resolve(p, expand(p), target, allow_measure=outcome != "cancelled")
    on: date | None
    if given_day is not None:
        on = given_day
        if ref.on is not None and ref.on != on:
            raise BadInput(kit.tr("{target} has the date {day}, but --date says {other}; give the date once only",
                                  target=target, day=ref.on.isoformat(), other=on.isoformat()))
    else:
        if outcome != "cancelled":
            check_not_ahead(ref.occurrence, day, target, outcome)
        on = ref.on or default_day(ref.occurrence, day)
    check_in_period(p, on, "--date")
    if outcome != "cancelled":
        check_not_future(on, day, "--date")
    ref = dated(ref, on)
    if outcome == "cancelled" and ref.occurrence is not None and ref.occurrence.start is None:
        on = None  # an unscheduled slot has no day of its own
    with kit.session() as session:
        done = record_completion(session, p.organisation.id, ref.measure, ref.ref, on, datetime.now(timezone.utc),
                                 outcome=outcome, occurrence_key=ref.key, attendance=attendance, note=note,
                                 evidence_url=evidence_url, recorded_by=by.strip() if by else None, source="cli")
        before, row = done.before, done.row
        given = {N_("the attendance"): attendance, N_("the note"): note, N_("the link"): evidence_url}
        stored = {N_("the attendance"): row.attendance, N_("the note"): row.note, N_("the link"): row.evidence_url}
        kept = [name for name in given if before is not None and given[name] is None and stored[name] is not None]
    title = ref.occurrence.title if ref.occurrence else p.measure(ref.measure).title
    what = f"{ref.ref} {title}"
    lang = kit.lang()
    line = kit.tr(OUTCOME[outcome]) + (f" {i18n.day(on, lang)}" if on else "")
    if row.attendance is not None:
        line += ", " + kit.ntr("{n} person", "{n} people", row.attendance)
    if before is None:
        kit.ok(kit.tr("{what}: recorded as {line}", what=what, line=line))
    else:
        was = kit.tr(OUTCOME[before.outcome]) + (f" {i18n.day(before.on_date, lang)}" if before.on_date else "")
        kit.warn(kit.tr("{what}: already recorded ({was}, from {source}); updated to {line}", what=what, was=was,
                        source=before.source, line=line)
                 + (" " + kit.tr("(kept {names})", names=kit.tr(" and ").join(kit.tr(k) for k in kept)) if kept else "")
                 + ". " + kit.tr("Still one record."), mark="✓ ")
    if ref.occurrence is not None and on is not None and outcome == "held" and outside_window(ref.occurrence, on):
        o = ref.occurrence
        kit.warn(kit.tr("{day} is outside the period the occurrence is for ({start} – {end}); check the date and "
                        "the key.", day=i18n.day(on, lang), start=i18n.day(o.window_start, lang),
                        end=i18n.day(o.window_end, lang)))
    if outcome == "cancelled":
        kit.say("  " + kit.tr("The calendars show it as cancelled after the next `aarshjul publish`."))


@report_cli.command(help=N_("Take back a record made by mistake; it stays in the log as revoked (who, when)."))
def revoke(
    target: Annotated[str, typer.Argument(metavar="KEY|MEASURE@DATE", help=N_("What was recorded: an occurrence key "
                                          "(1.5/2025/1) or a measure on a date (1.2@2025-05-01)."))],
    by: Annotated[Optional[str], typer.Option(
        "--by", help=N_("Who takes it back (kept in the log; default: the login name)."))] = None,
    plan: kit.Plan = None, today: kit.Today = None,
) -> None:
    from .db.completions import find_completion, revoke_completion
    from .domain import i18n
    from .domain.completion import resolve
    from .domain.expand import expand

    p = kit.load(plan)
    text = target.strip()
    with kit.session() as session:
        if find_completion(session, p.organisation.id, text) is None:  # a ref as the flows write it is taken as it is
            ref = resolve(p, expand(p), text)
            if ref.occurrence is None and "@" not in ref.ref:
                raise BadInput(kit.tr("measure {number} is recorded by date; say which: {number}@YYYY-MM-DD (the "
                                      "date it was recorded for)", number=ref.measure))
            text = ref.ref
        row = revoke_completion(session, p.organisation.id, text, datetime.now(timezone.utc),
                                by.strip() if by else _login())
        if row is None:
            raise BadInput(kit.tr("{text}: nothing is recorded to take back (see `aarshjul report`)", text=text))
        was = kit.tr(OUTCOME[row.outcome]) + (f" {i18n.day(row.on_date, kit.lang())}" if row.on_date else "")
    kit.ok(kit.tr("{text}: the record ({was}) is taken back; the log keeps it as revoked, and the report no longer "
                  "counts it", text=text, was=was))
    if row.outcome == "cancelled":
        kit.say("  " + kit.tr("The calendars show it as scheduled again after the next `aarshjul publish`."))


@report_cli.command(help=N_("The board's comment on a measure for a year's report (replaces an earlier one)."))
def comment(
    measure: Annotated[str, typer.Argument(metavar="MEASURE", help=N_("The measure's number (1.5)."))],
    text: Annotated[str, typer.Argument(help=N_("The board's comment, shown under the measure in the report."))],
    year: Annotated[int, typer.Option("--year", help=N_("The report's year."))],
    plan: kit.Plan = None, today: kit.Today = None,
) -> None:
    from .db.completions import set_comment
    from .domain.completion import UnknownRef

    p = kit.load(plan)
    numbers = [m.number for _, m in p.measures]
    if measure not in numbers:
        raise UnknownRef(Msg("measure"), measure, numbers, Msg("see the measures with `aarshjul measures`"))
    _check_year(p, year)
    text = text.strip()
    if not text:
        raise BadInput(kit.tr("the comment is empty; write the text the report should show"))
    with kit.session() as session:
        _, replaced = set_comment(session, p.organisation.id, measure, year, text, datetime.now(timezone.utc))
    title = p.measure(measure).title
    kit.ok(kit.tr("comment on {measure} {title} in the yearly report {year} (replaced the earlier one)",
                  measure=measure, title=title, year=year) if replaced else
           kit.tr("comment on {measure} {title} in the yearly report {year}", measure=measure, title=title, year=year))


# --- targets ------------------------------------------------------------------------------


@kpi_app.command("record", help=N_("Record a value of a target measured by hand (source: manual in targets.yaml)."))
def kpi_record(
    name: Annotated[str, typer.Argument(help=N_("The target's name in targets.yaml (inntekt)."))],
    value: Annotated[str, typer.Argument(help=N_("The value: 204250, 204 250, 12,5; a share in per cent (45)."))],
    date_: DateOpt = None,
    note: Annotated[Optional[str], typer.Option("--note", help=N_("Where the number comes from."))] = None,
    plan: kit.Plan = None, today: kit.Today = None,
) -> None:
    from .db.kpis import record_kpi
    from .domain import i18n
    from .domain.completion import UnknownRef, check_not_future

    day = kit.today(today)
    p = kit.load(plan)
    targets = _targets(p)
    if name not in targets.names:
        raise UnknownRef(Msg("target"), name, targets.names, Msg("the targets are in {file}", file=str(targets.file)))
    target = targets.get(name)
    if target.source != "manual":
        manual = [t.name for t in targets.targets if t.source == "manual"]
        origin = kit.tr("the member counts") if target.source == "members" else kit.tr("the new members' follow-up")
        raise BadInput(kit.tr("{name} is measured from {origin} and not recorded by hand; by hand: {names}",
                              name=name, origin=origin, names=", ".join(manual) or kit.tr("none")))
    number = _number(value, share=target.kind == "share")
    on = date_ or day
    check_not_future(on, day, "--date")
    if on > p.period.end:
        raise BadInput(kit.tr("--date {day} is after the plan's period (end {end})", day=on.isoformat(),
                              end=i18n.day(p.period.end, kit.lang())))
    with kit.session() as session:
        _, before = record_kpi(session, p.organisation.id, name, on, number, datetime.now(timezone.utc), note=note)
    shown = f"{number:g} %" if target.kind == "share" else f"{number:,.2f}".rstrip("0").rstrip(".").replace(",", " ")
    if target.unit and target.kind != "share":
        shown += f" {target.unit}"
    kit.ok(kit.tr("{title}: {value} on {day}", title=target.title, value=shown, day=i18n.day(on, kit.lang()))
           + (" " + kit.tr("(replaced {value})", value=format(before, "g")) if before is not None else ""))


def _number(text: str, share: bool) -> float:
    raw = text.strip().removesuffix("%").strip()
    cleaned = re.sub(r"[\s\u00a0]", "", raw).replace(",", ".")
    try:
        number = float(cleaned)
    except ValueError:
        raise BadInput(kit.tr("VALUE {text!r} is not a number; write 204250, 204 250 or 12,5", text=text)) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise BadInput(kit.tr("VALUE {text!r} is not a number", text=text))
    if number < 0:
        raise BadInput(kit.tr("VALUE {text!r} is negative; a target is recorded as a number from 0 up", text=text))
    if share and number > 100:
        raise BadInput(kit.tr("VALUE {text!r}: a share is written in per cent, from 0 to 100", text=text))
    return number


@kpi_app.command("list", help=N_("Every target: what it belongs to, its latest value and where it stands this year."))
def kpi_list(
    plan: kit.Plan = None, today: kit.Today = None, format: kit.Format = "table",
) -> None:
    from .db.kpis import series
    from .domain.targets import progress

    day = kit.today(today)
    p = kit.load(plan)
    targets = _targets(p)
    year = min(max(day.year, p.period.start.year), p.period.end.year)
    rows = []
    with kit.existing_session() as session:
        for t in targets.targets:
            points = series(session, p.organisation.id, t, p.period.start.year, day) if session is not None else []
            rows.append(progress(t, points, year, day, (p.period.start, p.period.end)))
    source = {"members": kit.tr("member counts"), "manual": kit.tr("by hand"), "follow_ups": kit.tr("follow-up")}
    listing = kit.Listing(kit.tr("Targets {year}", year=year), [
        kit.Column("name", kit.tr("Name"), ident=True), kit.Column("title", kit.tr("Target")),
        kit.Column("belongs_to", kit.tr("Belongs to"), ident=True), kit.Column("source", kit.tr("Source")),
        kit.Column("latest", kit.tr("Latest")), kit.Column("status", kit.tr("Status"))])
    for r in rows:
        latest = f"{r.show(r.current.value)} ({r.current.on.isoformat()})" if r.current else "–"
        belongs = (kit.tr("sub-goal {id}", id=r.target.subgoal) if r.target.subgoal else
                   kit.tr("measure {number}", number=r.target.measure))
        listing.add(r.target.name, r.target.title, belongs, source[r.target.source], latest,
                    kit.tr(TARGET_STATUS.get(r.status, r.status)), record={
                        "name": r.target.name, "title": r.target.title, "belongs_to": r.target.belongs_to,
                        "source": r.target.source, "kind": r.target.kind, "status": r.status,
                        "status_text": r.status_text, "detail": r.detail,
                        "value": r.current.value if r.current else None,
                        "date": r.current.on.isoformat() if r.current else None,
                        "points": [{"date": m.on.isoformat(), "value": m.value} for m in r.points]})
    listing.print(format)


# --- the report ---------------------------------------------------------------------------


@report_cli.command(help=N_("The yearly report to the annual meeting, from the completion log (writes one file)."))
def report(
    year: Annotated[int, typer.Argument(help=N_("The year to report on."))],
    format: Annotated[str, kit.choice("--format", ("html", "pdf", "md"), N_("html (default), pdf or md."))] = "html",
    out_path: Annotated[Optional[str], typer.Option(
        "--out", metavar="PATH", help=N_("The file to write, or a folder (ending in / or existing) to write "
        "aarsrapport-ORG-YEAR.EXT in (default: var/rapport/). Never a symlink, device, FIFO or folder."))] = None,
    plan: kit.Plan = None, today: kit.Today = None,
) -> None:
    from .db.report import load_report
    from .domain.report import STATUS
    from .domain.targets import load_targets, targets_path
    from .tasks.report_render import write_report

    day = kit.today(today)
    p = kit.load(plan)
    _check_year(p, year)
    targets = load_targets(targets_path(p), p)
    with kit.existing_session() as session:
        rep = load_report(session, p, targets, year, day)
    # a str, not a Path: Path("newdir/") would lose the slash that says "a folder"
    written = write_report(rep, [format], REPORT_DIR, p.organisation.id, out=out_path)
    counts = ", ".join(f"{n} {kit.tr(STATUS[s])}" for s, n in rep.counts.items() if n)
    summary = kit.tr("Yearly report {year}: {measures} measures ({counts}); {gaps} gaps", year=year,
                     measures=len(rep.measures), counts=counts, gaps=len(rep.gaps))
    draft = kit.tr("(draft: {year} is not over)", year=year)
    kit.say(("✓ ", "green"), summary, ("" if rep.complete_year else (f" {draft}", "yellow")))
    kit.say(f"  {written[format]}")


# --- helpers -------------------------------------------------------------------------------


def _targets(p: Plan) -> Targets:
    from .domain.targets import load_targets, targets_path

    targets = load_targets(targets_path(p), p)
    if targets is None:
        raise BadInput(Msg("no targets: {file} does not exist; see config/targets.yaml and docs/report.md",
                           file=str(targets_path(p))))
    return targets


def _login() -> str | None:
    """The login name of whoever runs the command, for the log; None if there is none."""
    import getpass

    try:
        return getpass.getuser()[:120] or None
    except (OSError, KeyError, ImportError):
        return None


def _check_year(p: Plan, year: int) -> None:
    first, last = p.period.start.year, p.period.end.year
    if not first <= year <= last:
        raise BadInput(Msg("year {year} is outside the plan period {first}–{last}", year=year, first=first, last=last))


