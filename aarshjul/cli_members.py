"""`aarshjul members ...`: the member register in the database.

    import FILE.csv          the party's member export -> the database (one transaction)
    unassigned               active members without a branch, and why
    follow-ups               new members not yet contacted, by branch; this year's contact rate
    contacted NUMBER         record that a new member was contacted
    counts                   member counts per branch, import by import
    forget NUMBER            blank a member's personal data for good, remove their letters from the outbox

Registered in cli.py as a sub-app. Output names members by number only: never a name,
an e-mail address or a phone number. A mistake (a missing file, a file that is not a
member export, an unknown member number) raises an AarshjulError; cli.main() prints it
and exits with its status (2). Options, output and sessions come from cli_kit. Nothing
here imports Prefect; the database and parsing modules are imported inside the commands.
"""

from __future__ import annotations

import time
from collections import Counter
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable, Iterator, Optional

import typer
from rich.table import Table
from rich.text import Text

from . import cli_kit as kit
from .domain.i18n import N_
from .cli_kit import out
from .domain.errors import BadInput
from .domain.i18n import Msg, say

if TYPE_CHECKING:
    from .db.members import ImportResult
    from .domain.members_csv import Export

members_app = typer.Typer(help=N_("Members: import the register's export, branches, new-member follow-up."),
                          no_args_is_help=True)

SHOW_UNASSIGNED = 30  # list them one by one up to this many, else by reason


# --- commands ----------------------------------------------------------------------------


@members_app.command("import", help=N_(
     "Import the member export: new, changed and departed members, follow-ups and counts."))
def import_(
    file: Annotated[Path, typer.Argument(help=N_("The member export, CSV (from Excel: `;`, Windows-1252 or UTF-8)."))],
    plan: kit.Plan = None, today: kit.Today = None,
    allow_many_left: Annotated[bool, typer.Option(
        "--allow-many-left",
        help=N_("Import even if more than half of the active members would be marked as left."))] = False,
) -> None:
    from .db.members import import_members
    from .domain.members_csv import parse_export

    day = kit.today(today)
    ctx = _context(plan)
    data = _read(file)
    started = time.perf_counter()
    export = parse_export(data, today=day, branches=ctx.branches, bodies=ctx.bodies, source=str(file),
                          branch_column=ctx.column_words)
    now = datetime.now(timezone.utc)
    with kit.session() as session, _progress(len(export.members)) as advance:
        result = import_members(session, ctx.organisation, export, ctx.table, ctx.branches, day, now,
                                follow_up_days=ctx.follow_up_days,
                                max_left_share=None if allow_many_left else 0.5, progress=advance)
    _print_import(file, export, result, ctx, time.perf_counter() - started)


@members_app.command("unassigned", help=N_("Active members without a branch: member number, postcode and why."))
def unassigned(plan: kit.Plan = None, format: kit.Format = "table", today: kit.Today = None) -> None:
    from .db.members import unassigned_members

    ctx = _context(plan)
    rows = []
    with kit.existing_session() as session:
        if session is not None:
            rows = unassigned_members(session, ctx.organisation, ctx.table)
    if format != "table":
        listing = kit.Listing("", [kit.Column(k, k) for k in ("number", "postcode", "reason")])
        for r in rows:
            listing.add(r.number, r.postcode or "", say(r.reason, kit.current_lang()))
        listing.print(format)
        return
    if not rows:
        out.print(kit.tr("No active member is without a {group}.", group=ctx.word.singular))
        return
    table = Table(title=kit.tr("Members without a {group} ({n})", group=ctx.word.singular, n=len(rows)))
    for col in (kit.tr("Member number"), kit.tr("Postcode"), kit.tr("Reason")):
        table.add_column(col)
    for r in rows:
        table.add_row(r.number, r.postcode or "", say(r.reason, kit.current_lang()))
    out.print(table)
    out.print(kit.tr("Correct {table} or the member register, and import again.", table=_table_name(ctx)))


@members_app.command("follow-ups", help=N_(
     "New members not yet contacted, by branch, and the year's contact rate (the plan's member_joined promise)."))
def follow_ups(
    plan: kit.Plan = None, today: kit.Today = None,
    year: Annotated[Optional[int], typer.Option(
        "--year", help=N_("Year of the contact rate (default: today's)."))] = None,
    format: kit.Format = "table",
) -> None:
    from .db.members import contact_rate, open_follow_ups

    day = kit.today(today)
    ctx = _context(plan)
    with kit.existing_session() as session:
        if session is None:
            if format != "table":
                kit.Listing("", []).print(format)  # [] or nothing
                return
            out.print(kit.tr("No members in the database yet (aarshjul members import FILE.csv)."))
            return
        groups = open_follow_ups(session, ctx.organisation, day)
        rates = contact_rate(session, ctx.organisation, year or day.year)
        if format != "table":
            listing = kit.Listing("", [kit.Column(k, k) for k in ("branch", "number", "joined", "due", "escalated")])
            for branch, rows in groups.items():
                for f in rows:
                    listing.add(branch, f.member_number, f.joined.isoformat(), f.due.isoformat(),
                                f.escalated_on.isoformat() if f.escalated_on else "")
            listing.print(format)
            return
        table = Table(title=kit.tr("New members not yet contacted ({n})", n=sum(len(g) for g in groups.values())))
        for col in (ctx.word.singular.capitalize(), kit.tr("Member number"), kit.tr("Joined"), kit.tr("Due"),
                    kit.tr("Status")):
            table.add_column(col)
        for branch, rows in groups.items():
            for f in rows:
                status = (kit.tr("escalated {day}", day=f.escalated_on.isoformat()) if f.escalated_on else
                          kit.tr("overdue") if f.due < day else
                          kit.ntr("{n} day left", "{n} days left", (f.due - day).days))
                table.add_row(ctx.branch_name(branch), f.member_number, f.joined.isoformat(), f.due.isoformat(), status)
    out.print(table)
    rate = Table(title=kit.tr("Contacted in time, {year}", year=year or day.year) + ctx.promise)
    for i, col in enumerate((ctx.word.singular.capitalize(), kit.tr("New"), kit.tr("Contacted"), kit.tr("Share"))):
        rate.add_column(col, justify="left" if i == 0 else "right")
    for branch, r in rates.per_branch.items():
        rate.add_row(ctx.branch_name(branch), str(r.new), str(r.contacted), _share(r.share))
    rate.add_row(kit.tr("Total"), str(rates.total.new), str(rates.total.contacted), _share(rates.total.share))
    out.print(rate)


@members_app.command("contacted", help=N_("Record that a new member was contacted by their branch."))
def contacted(
    number: Annotated[str, typer.Argument(help=N_("The member number (medlemsnummer)."))],
    by: Annotated[Optional[str], typer.Option("--by", help=N_("Who made contact."))] = None,
    note: Annotated[Optional[str], typer.Option("--note", help=N_("A short note (no sensitive details)."))] = None,
    on: Annotated[Optional[date], kit.Day("--date", N_("When (default: today); YYYY-MM-DD or DD.MM.YYYY."))] = None,
    plan: kit.Plan = None, today: kit.Today = None,
) -> None:
    from .db.members import record_contact

    day = kit.today(today)
    when = on or day
    if when > day:
        raise BadInput(kit.tr("--date {day} is in the future (today is {today})", day=when.isoformat(),
                              today=day.isoformat()))
    ctx = _context(plan)
    with kit.session() as session:
        f = record_contact(session, ctx.organisation, number.strip(), when, by, note,
                           within_days=ctx.follow_up_days)
        late = (when - f.due).days
    kit.ok(kit.ntr("member {number} contacted {day} ({n} day after the deadline {due})",
                   "member {number} contacted {day} ({n} days after the deadline {due})", late,
                   number=f.member_number, day=when.isoformat(), due=f.due.isoformat()) if late > 0 else
           kit.tr("member {number} contacted {day} (in time)", number=f.member_number, day=when.isoformat()))


@members_app.command("counts", help=N_("Member counts per branch, import by import."))
def counts(plan: kit.Plan = None, format: kit.Format = "table", today: kit.Today = None) -> None:
    from .db.members import member_counts

    ctx = _context(plan)
    rows = []
    with kit.existing_session() as session:
        if session is not None:
            rows = [(r.on_date, r.branch, r.members, r.new, r.left, r.activists)
                    for r in member_counts(session, ctx.organisation)]
    if format != "table":
        listing = kit.Listing("", [kit.Column(k, k) for k in ("date", "branch", "members", "new", "left", "activists")])
        for d, b, m, n, lft, a in rows:
            listing.add(d.isoformat(), b, str(m), str(n), str(lft), str(a),
                        record=dict(date=d.isoformat(), branch=b, members=m, new=n, left=lft, activists=a))
        listing.print(format)
        return
    if not rows:
        out.print(kit.tr("No counts yet (one is kept at every import)."))
        return
    table = Table(title=kit.tr("Member counts"))
    for i, col in enumerate((kit.tr("Date"), ctx.word.singular.capitalize(), kit.tr("Members"), kit.tr("New"),
                             kit.tr("Left"), kit.tr("Activists"))):
        table.add_column(col, justify="right" if i > 1 else "left")
    for d, b, m, n, lft, a in rows:
        table.add_row(d.isoformat(), ctx.branch_name(b), str(m), str(n), str(lft), str(a))
    out.print(table)


@members_app.command("forget", help=N_(
     "Blank a member's name, e-mail, phone and postcode for good (keeps the anonymous counts),\nand remove their "
     "letters from the outbox."))
def forget(
    number: Annotated[str, typer.Argument(help=N_("The member number (medlemsnummer)."))],
    yes: Annotated[bool, typer.Option("--yes", help=N_("Do not ask for confirmation."))] = False,
    plan: kit.Plan = None, today: kit.Today = None,
) -> None:
    from .db.ledger import letters
    from .db.members import forget_member
    from .domain.errors import AarshjulError
    from .settings import get_settings, per_organisation
    from .tasks.mail_transport import remove_letters

    ctx = _context(plan)
    if not yes:
        typer.confirm(kit.tr("Delete the personal data of member {number} for good?", number=number), abort=True)
    with kit.session() as session:
        member, already = forget_member(session, ctx.organisation, number.strip(), datetime.now(timezone.utc))
        theirs = letters(session, ctx.organisation, member.number)
    # after the commit: a failure here leaves the member forgotten, and `forget` again removes the rest
    outbox = Path(per_organisation(get_settings().outbox_dir, ctx.organisation))
    try:
        removed = remove_letters(outbox, theirs)
    except OSError as exc:
        raise AarshjulError(Msg("{outbox}: a letter of member {member} could not be removed from the outbox "
                                "({error}); the member is forgotten, run `forget` again once the folder can be "
                                "written", outbox=str(outbox), member=member.number,
                                error=type(exc).__name__)) from None
    if already:
        out.print(kit.tr("Member {number} was forgotten already.", number=member.number))
    else:
        kit.ok(kit.tr("member {number}: name, e-mail, phone and postcode are deleted; later imports do not bring "
                      "them back.", number=member.number))
    out.print(kit.tr("{n} letters removed from the outbox ({outbox}).", n=removed, outbox=outbox), markup=False)


# --- output -----------------------------------------------------------------------------


def _print_import(file: Path, export: Export, result: ImportResult, ctx: _Context, seconds: float) -> None:
    separator = "tab" if export.delimiter == "\t" else repr(export.delimiter)
    source = kit.tr("{file} ({encoding}, separator {separator}), {organisation}", file=file.name,
                    encoding=export.encoding, separator=separator, organisation=ctx.organisation)
    kit.say((kit.tr("Member import"), "bold"), f": {source}")
    if export.ignored:
        out.print("  " + kit.tr("ignored columns: {columns}", columns=", ".join(export.ignored)))
    grid = Table.grid(padding=(0, 2))
    grid.add_column()
    grid.add_column(justify="right")
    for label, value in (
        (kit.tr("rows read"), result.rows_read), (kit.tr("new"), result.new), (kit.tr("changed"), result.updated),
        (kit.tr("unchanged"), result.unchanged), (kit.tr("left (not in the export)"), result.left),
        (kit.tr("skipped"), result.skipped), (kit.tr("duplicates (the last row counts)"), result.duplicates),
        (kit.tr("warnings"), result.warnings),
        (kit.tr("without a {group}", group=ctx.word.singular), result.without_branch),
        (kit.tr("forgotten, not brought back"), result.forgotten_kept), (kit.tr("new follow-ups") + ctx.promise,
                                                                    result.follow_ups),
    ):
        grid.add_row(f"  {label}", str(value))
    out.print(grid)
    if result.issues:
        table = Table(title=kit.tr("Problems in {file} ({n})", file=file.name, n=len(result.issues)))
        for col in (kit.tr("Row"), kit.tr("Column"), kit.tr("Member no."), kit.tr("Problem")):
            table.add_column(col, overflow="fold")
        kinds = {"skipped": (kit.tr("skipped"), "red"), "duplicate": (kit.tr("duplicate"), "yellow"),
                 "warning": (kit.tr("warning"), "yellow")}
        for i in result.issues:
            said = i.message.say(kit.current_lang())
            table.add_row(str(i.row), i.column or "", i.number or "", Text.assemble(kinds[i.kind], f": {said}"))
        out.print(table)
    if result.unassigned:
        if len(result.unassigned) <= SHOW_UNASSIGNED:
            table = Table(title=kit.tr("Without a {group} ({n})", group=ctx.word.singular, n=len(result.unassigned)))
            for col in (kit.tr("Member number"), kit.tr("Postcode"), kit.tr("Reason")):
                table.add_column(col)
            for u in result.unassigned:
                table.add_row(u.number, u.postcode or "", say(u.reason, kit.current_lang()))
            out.print(table)
        else:
            out.print(kit.tr("Without a {group}: {n}, by reason:", group=ctx.word.singular, n=len(result.unassigned)))
            for reason, n in Counter(u.reason for u in result.unassigned).most_common():
                out.print(f"  {n:>5}  {say(reason, kit.current_lang())}")
        out.print("  " + kit.tr("(aarshjul members unassigned lists them; correct {table} or the register)",
                           table=_table_name(ctx)))
    took = f"{seconds:.1f}"
    kit.ok(kit.tr("{n} members stored in {seconds} s", n=result.members, seconds=took))


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


# --- helpers ----------------------------------------------------------------------------


class _Context:
    """What the member commands need from the plan: organisation, branches, postcode table."""

    def __init__(self, plan_path: Path):
        from .domain.load import load_plan
        from .domain.postcodes import TABLE_NAME, load_postcodes

        p = load_plan(plan_path)
        self.organisation = p.organisation.id
        self.branches = {i: p.bodies[i].name for i in p.branches()}  # id -> display name
        self.bodies = tuple(p.bodies)
        self.table_path = p.folder / TABLE_NAME  # beside plan.yaml
        self.table = load_postcodes(self.table_path, self.branches)
        self.column_words = p.branch_word.all_forms  # the export's branch column may be named by any of them
        self.word = kit.branch_word(p)  # organisation.yaml's word for a branch, in the command's language
        driver = p.driven_by("member_joined")  # the plan's promise to new members, if it makes one
        self.follow_up_days = p.within_days("member_joined")
        self.promise = (" " + kit.ntr("(measure {number}, within {n} day)", "(measure {number}, within {n} days)",
                                      self.follow_up_days or 0, number=driver.number)) if driver else ""

    def branch_name(self, ident: str) -> str:
        return self.branches.get(ident, ident) if ident else kit.tr("(without a {group})", group=self.word.singular)


def _context(plan: Path | None) -> _Context:
    return _Context(kit.plan_path(plan))


def _table_name(ctx: _Context) -> str:
    return str(ctx.table_path)


def _read(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except FileNotFoundError:
        raise BadInput(Msg("{file}: does not exist; check the path of the export file", file=str(file))) from None
    except IsADirectoryError:
        raise BadInput(Msg("{file}: is a folder; give the CSV file", file=str(file))) from None
    except OSError as exc:
        raise BadInput(Msg("{file}: cannot be read ({reason})", file=str(file), reason=exc.strerror)) from None


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None] | None]:
    """A progress bar over the members, only on a terminal and for large files."""
    if not out.is_terminal or total < 500:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn(kit.tr("importing")), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=out, transient=True) as bar:
        task = bar.add_task("import", total=total)
        yield lambda n: bar.advance(task, n)
