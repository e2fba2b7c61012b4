"""The kit every command module is built from: options, output, the plan, the database.

    Plan, Today, Format, Lang      the options every command shares (Annotated types)
    Day                            a date option: YYYY-MM-DD or DD.MM.YYYY
    today(day) lang(code)          the option's value, or its default (the clock, --lang, AARSHJUL_LANG)
    LangGroup                      the app's group class: gives every command and group --lang
                                   (with_lang), and says their help in that language (_said:
                                   help texts are English msgids, marked N_ where written)
    tr(msgid, **params) ntr(…)     a sentence in the command's language (domain/i18n.py's catalogs)
    plan_path(plan) load(plan)     the plan file (--plan, AARSHJUL_PLAN) and the plan read from it
    out err                        Rich consoles, stdout and stderr, markup and highlighting off
    say ok warn table print_json   output; a value is never read as Rich markup
    Column Listing                 a listing command's rows, printed as a table for people
                                   (identifiers never wrapped or cut), or as JSON or plain
                                   tab-separated lines for scripts (--format table|json|plain)
    session() existing_session()   a transaction on the database, or a read-only look at it
    database_errors()              SQLAlchemy's errors as DatabaseError (exit 3)
    not_busy(kinds, org)           Busy (exit 75) if another run holds one of these locks
    start_prefect()                an acting command's first step: the temporary server starts
    run_flow(flow, **params)       an acting command's flow run (aarshjul.runtime.run_flow)

A bad option value is a usage error (click's message, exit status 2); a mistake found
later raises an AarshjulError (domain/errors.py), which cli.main() prints in one line
before exiting with its exit status. Nothing here imports Prefect, the database or the
plan modules at import time: read-only commands answer at once.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, Iterable, Iterator, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.style import StyleType
from rich.text import Text

from .domain import i18n
from .domain.i18n import N_
from .domain.errors import BadInput, DatabaseError
from .settings import get_settings, per_organisation

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .domain.model import BranchWord
    from .domain.plan import Plan as PlanT

LANGS = i18n.LANGS

# Markup and highlighting off: a name like "[/x]" from a plan, an export or a server is
# printed as it is. Styles are given as Text or style= only.
out = Console(soft_wrap=True, markup=False, highlight=False)
err = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)


# --- option types ------------------------------------------------------------------------


def parse_day(text: str, option: str = "the date") -> date:
    """A date as a person types it (2026-03-01 or 1.3.2026); a usage error otherwise."""
    from .domain.completion import parse_day as parse
    from .domain.errors import AarshjulError

    try:
        return parse(text, option)
    except AarshjulError as exc:
        raise typer.BadParameter(exc.say(current_lang()).removeprefix(f"{option} ")) from None


def _choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in choices:
            raise typer.BadParameter(i18n._(current_lang(), "{value!r}: use {choices}", value=value,
                                            choices=i18n._(current_lang(), " or ").join(choices)))
        return value
    return check


# --- the command's language ----------------------------------------------------------------
# --lang, given to any command, is remembered here for the rest of the process (the
# command's output, its errors, and cli.main()'s last line); unset, AARSHJUL_LANG, else nb.

# Kept in the command's click context (so one command's --lang never outlives it, however
# it is invoked); outside a command (cli.main() reporting an error), the --lang main() found.
_chosen: list[str | None] = [None]
_KEY = "aarshjul.lang"


def _context() -> Any:
    import importlib

    for name in ("typer._click.globals", "click.globals"):
        try:
            ctx = importlib.import_module(name).get_current_context(silent=True)
        except ImportError:
            continue
        if ctx is not None:
            return ctx
    return None


def _remember_lang(value: str | None) -> str | None:
    """--lang's callback. The context's meta is shared by the group's context and its
    command's: a command without --lang keeps the one given to its group
    (`aarshjul --lang en calendars urls`)."""
    ctx = _context()
    if ctx is not None and value is not None:
        ctx.meta[_KEY] = value
    return value


def current_lang() -> str:
    """The language of this command: --lang, else AARSHJUL_LANG, else nb (a bad
    AARSHJUL_LANG: nb, so that the error saying so can be printed)."""
    ctx = _context()
    chosen = ctx.meta.get(_KEY) if ctx is not None else _chosen[0]
    if chosen:
        return str(chosen)
    try:
        return get_settings().lang
    except Exception:  # noqa: BLE001 - the invalid setting is reported by the command itself
        return i18n.DEFAULT


def reset_lang(value: str | None = None) -> None:
    _chosen[0] = value


def tr(msgid: str, **params: Any) -> str:
    """`msgid` in the command's language (current_lang())."""
    return i18n._(current_lang(), msgid, **params)


def ntr(singular: str, plural: str, n: int, **params: Any) -> str:
    return i18n.ngettext(current_lang(), singular, plural, n, **params)


LANG_HELP = i18n.N_("nb or en (default: AARSHJUL_LANG, else nb).")


def with_lang(command: Any, template: Any = None) -> None:
    """Give every command and group under `command` (a click group of Typer's copy of click)
    a --lang option, unless it declares one (kit.Lang): a copy of a declared one, not passed
    to the function but remembered for current_lang(); eager, so that the other options'
    errors are already in that language. Each of them also says its help in that language
    (LangCommand, LangSubgroup)."""
    import copy

    template = template or _declared_lang(command)
    if template is None:
        return
    for sub in getattr(command, "commands", {}).values():
        if type(sub) is typer.core.TyperGroup:
            sub.__class__ = LangSubgroup
        elif type(sub) is typer.core.TyperCommand:
            sub.__class__ = LangCommand
        if not any("--lang" in getattr(p, "opts", ()) for p in sub.params):
            option = copy.copy(template)
            option.expose_value = False
            sub.params.append(option)
        if getattr(sub, "commands", None) is not None:
            with_lang(sub, template)


def _declared_lang(command: Any) -> Any:
    for sub in getattr(command, "commands", {}).values():
        found = _declared_lang(sub) if getattr(sub, "commands", None) is not None else next(
            (p for p in sub.params if "--lang" in getattr(p, "opts", ())), None)
        if found is not None:
            return found
    return None


# --- help in the command's language ------------------------------------------------------
# The help texts are English msgids (marked N_ where they are written, so that the
# catalog test finds them); while a command's help is formatted, its help, its options'
# help, its subcommands' one-line help and Typer's panel words are said in the command's
# language, and put back after. A flag (--html, --mail/--no-mail, --help) shows no value
# type: Typer 0.29 shows `<bool>` for one, as if it took a value.

HELP_WORDS = {"ARGUMENTS_PANEL_TITLE": i18n.N_("Arguments"), "OPTIONS_PANEL_TITLE": i18n.N_("Options"),
              "COMMANDS_PANEL_TITLE": i18n.N_("Commands"), "DEFAULT_STRING": i18n.N_("[default: {}]"),
              "REQUIRED_LONG_STRING": i18n.N_("[required]")}
HELP_OPTION = i18n.N_("Show this message and exit.")  # click's --help
USAGE = i18n.N_("Usage: ")


def help_lang(ctx: Any) -> str:
    """The language of a help text: --lang (this command's, or given anywhere on the line to
    cli.main()), else AARSHJUL_LANG, else nb."""
    return str((ctx.meta.get(_KEY) if ctx is not None else None) or _chosen[0] or current_lang())


def _no_type(ctx: Any) -> None:
    return None


@contextmanager
def _said(command: Any, ctx: Any) -> Iterator[str]:
    import importlib

    lang = help_lang(ctx)
    saved: list[tuple[Any, str, Any]] = []

    def say_in(obj: Any, attr: str, value: Any) -> None:
        saved.append((obj, attr, getattr(obj, attr)))
        setattr(obj, attr, value)

    for obj in (command, *getattr(command, "commands", {}).values()):
        for attr in ("help", "short_help"):
            if isinstance(getattr(obj, attr, None), str) and getattr(obj, attr):
                say_in(obj, attr, i18n._(lang, getattr(obj, attr)))
    for param in command.get_params(ctx):
        if isinstance(getattr(param, "help", None), str) and param.help:
            say_in(param, "help", i18n._(lang, param.help))
        if getattr(param, "is_flag", False) and "display_type_rich" not in vars(param):
            param.display_type_rich = _no_type
    rich = importlib.import_module("typer.rich_utils")
    for name, msgid in HELP_WORDS.items():
        if hasattr(rich, name):
            say_in(rich, name, i18n._(lang, msgid))
    try:
        yield lang
    finally:
        for obj, attr, value in reversed(saved):
            setattr(obj, attr, value)


def _usage(command: Any, ctx: Any, formatter: Any) -> None:
    pieces = command.collect_usage_pieces(ctx)
    formatter.write_usage(ctx.command_path, " ".join(pieces), prefix=i18n._(help_lang(ctx), USAGE))


# with_lang turns Typer's commands and groups into these (one base each: __class__ is
# assigned, which a mixin's layout would refuse)
class LangCommand(typer.core.TyperCommand):
    """A command of the app: its help in the command's language (_said)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        with _said(self, ctx):
            super().format_help(ctx, formatter)

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        _usage(self, ctx, formatter)


class LangSubgroup(typer.core.TyperGroup):
    """A command group of the app (db, calendars, newsletter, …): its help in the command's language."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        with _said(self, ctx):
            super().format_help(ctx, formatter)

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        _usage(self, ctx, formatter)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """`aarshjul calendars --lang en` shows the group's help, as `aarshjul calendars` does
        (not click's 'Missing command.')."""
        import importlib

        rest = super().parse_args(ctx, args)
        if self.no_args_is_help and not ctx.resilient_parsing and not getattr(ctx, "_protected_args", True):
            exceptions = importlib.import_module(type(ctx).__module__.rsplit(".", 1)[0] + ".exceptions")
            raise exceptions.NoArgsIsHelpError(ctx)
        return rest


class LangGroup(LangSubgroup):
    """The app's group: every command and group under it takes --lang (with_lang), declared
    or not, and says its help in the command's language."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        with_lang(self)
        if _declared_lang(self) is not None and not any("--lang" in getattr(p, "opts", ()) for p in self.params):
            import copy

            option = copy.copy(_declared_lang(self))
            option.expose_value = False
            self.params.append(option)


def _day_param(option: str) -> Callable[[str], date]:
    return lambda text: parse_day(text, option)


Plan = Annotated[Optional[Path], typer.Option(
    "--plan", help=N_("The plan file (default: AARSHJUL_PLAN or config/plan.yaml)."))]
Today = Annotated[Optional[date], typer.Option(
    "--today", parser=_day_param("--today"), metavar="YYYY-MM-DD", help=N_("Pretend today is this date."))]
FORMATS = ("table", "json", "plain")
Format = Annotated[str, typer.Option(
    "--format", parser=_choice(FORMATS), metavar="table|json|plain",
    help=N_("table (for people), json (every field, for scripts) or plain (one tab-separated line per row)."))]
Lang = Annotated[Optional[str], typer.Option(
    "--lang", parser=_choice(LANGS), metavar="nb|en", is_eager=True,
    callback=lambda value: _remember_lang(value), help=LANG_HELP)]


def Day(option: str, help: str) -> Any:  # noqa: N802 - an option type, like typer.Option
    """A date option: `frm: Annotated[Optional[date], Day("--from", "First date.")] = None`."""
    return typer.Option(option, parser=_day_param(option), metavar="YYYY-MM-DD", help=help)


def choice(option: str, choices: tuple[str, ...], help: str) -> Any:
    """An option with a few allowed values (a usage error names them)."""
    return typer.Option(option, parser=_choice(choices), metavar="|".join(choices), help=help)


def today(value: date | None) -> date:
    return value or date.today()


def lang(value: str | None = None) -> str:
    """The command's language: `value` (its --lang), else current_lang()."""
    return value or current_lang()


def branch_word(p: PlanT, lang: str | None = None) -> BranchWord:
    """What the organisation calls a branch (organisation.yaml's branch_word), when the
    command speaks the organisation's language; else that language's own word (branch, lag)."""
    from .domain.model import DEFAULT_BRANCH_WORD

    lang = lang or current_lang()
    return p.organisation.branch if p.organisation.locale == lang else DEFAULT_BRANCH_WORD[lang]


def fail(message: str) -> None:
    """A mistake in what was asked: the message, exit status 2."""
    raise BadInput(message)


# --- the plan ----------------------------------------------------------------------------


def plan_path(plan: Path | None) -> Path:
    return plan or get_settings().plan


def load(plan: Path | None) -> PlanT:
    """The plan, validated; PlanError (exit 2) naming file, line and field of each mistake."""
    from .domain.load import load_plan

    return load_plan(plan_path(plan))


def held(p: PlanT) -> set[str]:
    """Keys recorded as held, from the database if there is one (never created here)."""
    from .db.agenda import held_keys
    from .db.session import database_exists, make_engine, session_scope

    url = get_settings().database_url
    with database_errors():
        if not database_exists(url):
            return set()
        engine = make_engine(url, create_dir=False)
        try:
            with session_scope(engine) as s:
                return held_keys(s, p.organisation.id)
        finally:
            engine.dispose()


# --- output ------------------------------------------------------------------------------


def say(*parts: str | Text | tuple[str, StyleType]) -> None:
    """One line on stdout; str parts are printed as they are, (text, style) pairs styled."""
    out.print(Text.assemble(*parts))


def ok(text: str) -> None:
    say(("✓ ", "green"), text)


def warn(text: str, mark: str = "! ") -> None:
    say((mark, "yellow"), text)


def table(title: str, columns: Iterable[str], **column: Any) -> Table:
    t = Table(title=title)
    for name in columns:
        t.add_column(name, **column)
    return t


def print_json(rows: Any) -> None:
    """JSON on stdout, UTF-8 as it is (æøå unescaped), dates as ISO 8601."""
    print(json.dumps(rows, ensure_ascii=False, indent=2, default=_json_value))


def _json_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


@dataclass(frozen=True)
class Column:
    """A column of a listing: `key` names it in JSON and plain output, `header` in the table.
    `ident`: it holds identifiers (keys, UIDs, URLs, numbers) that a script or another
    command needs whole, so the table never wraps or cuts it (other columns fold instead)."""

    key: str
    header: str
    ident: bool = False
    justify: str = "left"
    head: bool = False  # in the narrow layout, on a row's first line (default: identifiers and the first text)


SHORT = 10  # a column whose every cell is at most this long is never wrapped either
MIN_TEXT = 16  # narrower text columns than this, and the table is printed narrow (see Listing)


class Listing:
    """The rows of a listing command, printed one of four ways (`print(fmt)`):

    table   for people: a Rich table; identifier columns keep their whole text on one
            line at any width, the other columns fold (wrap, breaking long words)
    json    for scripts: a list of objects, each row's `record` (every field, full keys)
            or, when a row has none, its cells under the columns' keys
    plain   for scripts and grep: one line per row, the cells separated by tabs, no
            header, no box characters (tabs and line breaks inside a cell become spaces)
    lines   for people, when an identifier is longer than a narrow terminal (a feed's
            address): the title, then per row its other cells on one line and each
            identifier whole on a line of its own, indented, for copying

    A table that would not fit the terminal, or would leave its text columns under
    MIN_TEXT characters each (nine columns at COLUMNS=80), is printed narrow instead: per
    row a line of its head cells (identifiers and the first text: '3.5  Arrangement under
    …') and a line of 'Header: value' for the rest, each whole (the terminal wraps a long
    line; Rich never cuts it). Values are never read as Rich markup (markup is off)."""

    def __init__(self, title: str, columns: Iterable[Column], empty: str | None = None):
        self.title = title
        self.columns = list(columns)
        self.empty = empty  # printed instead of an empty table
        self.rows: list[tuple[list[str], Any]] = []

    def add(self, *cells: str, record: Any = None) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(([str(c) for c in cells], record))

    def records(self) -> list[Any]:
        return [record if record is not None else {c.key: v for c, v in zip(self.columns, cells)}
                for cells, record in self.rows]

    def print(self, fmt: str = "table") -> None:
        if fmt == "json":
            print_json(self.records())
        elif fmt == "plain":
            for cells, _ in self.rows:
                print("\t".join(_one_line(c) for c in cells))
        elif not self.rows and self.empty is not None:
            say(self.empty)
        elif fmt == "lines":
            say((self.title, "bold"))
            for cells, _ in self.rows:
                short = [v for c, v in zip(self.columns, cells) if not c.ident or len(v) <= SHORT * 3]
                say("  " + " · ".join(v for v in short if v))
                for c, v in zip(self.columns, cells):
                    if c.ident and len(v) > SHORT * 3:
                        say(f"    {v}")
        elif self._fits(out.width):
            out.print(self.table())
        else:
            self._narrow()

    def _widths(self) -> list[int]:
        return [max([len(cells[i]) for cells, _ in self.rows] + [0]) for i in range(len(self.columns))]

    def _fixed(self, i: int, widest: int) -> bool:
        return self.columns[i].ident or widest <= SHORT

    def _fits(self, width: int) -> bool:
        """Whether the table leaves each text column at least MIN_TEXT characters."""
        widths = self._widths()
        fixed = sum(max(w, len(self.columns[i].header)) + 3 for i, w in enumerate(widths) if self._fixed(i, w))
        text = [i for i, w in enumerate(widths) if not self._fixed(i, w)]
        room = width - 1 - fixed - 3 * len(text)
        return room >= 0 and (not text or room >= MIN_TEXT * len(text) or room >= sum(widths[i] for i in text))

    def _narrow(self) -> None:
        widths = self._widths()
        heads = [i for i, c in enumerate(self.columns) if c.head]
        if not heads:
            first_text = next((i for i, w in enumerate(widths) if not self._fixed(i, w)), None)
            heads = [i for i, c in enumerate(self.columns) if c.ident or i == first_text]
        say((self.title, "bold"))
        for cells, _ in self.rows:
            say("  ".join(cells[i] for i in heads if cells[i]))
            rest = [f"{c.header}: {cells[i]}" for i, c in enumerate(self.columns) if i not in heads and cells[i]]
            if rest:
                say("    " + " · ".join(rest))

    def table(self) -> Table:
        t = Table(title=self.title)
        for i, c in enumerate(self.columns):
            widest = max((len(cells[i]) for cells, _ in self.rows), default=0)
            if c.ident or widest <= SHORT:  # an identifier, or short words ("planlagt") not worth breaking
                t.add_column(c.header, no_wrap=True, overflow="ignore", min_width=max(widest, len(c.header)),
                             justify=c.justify)  # type: ignore[arg-type]
            else:
                t.add_column(c.header, overflow="fold", justify=c.justify)  # type: ignore[arg-type]
        for cells, _ in self.rows:
            t.add_row(*cells)
        return t


def _one_line(text: str) -> str:
    return " ".join(text.split()) if any(ch in text for ch in "\t\r\n") else text



# --- the database ------------------------------------------------------------------------


@contextmanager
def database_errors(what: str = i18n.N_("database error")) -> Iterator[None]:
    """SQLAlchemy's errors as DatabaseError (exit 3), in one line without their parameters
    (they may hold personal data); a locked SQLite database and a file that is not one say
    so, where the file is, and what to do."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except SQLAlchemyError as exc:
        raise DatabaseError(database_message(what, exc)) from None


LOCKED = ("database is locked", "database table is locked")
NOT_A_DATABASE = ("file is not a database", "database disk image is malformed")


def database_message(what: str, exc: Exception) -> str:
    """The line a database error ends in: `what`, the driver's reason, and for SQLite's
    lock timeout and a damaged file the database's place and what to do."""
    from .db.session import BUSY_TIMEOUT_SECONDS, sqlite_path
    from .settings import redact_url

    reason = (str(getattr(exc, "orig", None) or type(exc).__name__).splitlines() or [type(exc).__name__])[0]
    url = get_settings().database_url
    path = sqlite_path(url)
    where = str(path) if path is not None else redact_url(url)
    what = tr(what)  # a msgid
    if any(text in reason for text in LOCKED):
        return tr("{what}: the database {where} is locked: another run has held the lock for over {seconds} s "
                  "({reason}); try again in a while", what=what, where=where, seconds=BUSY_TIMEOUT_SECONDS,
                  reason=reason)
    if path is not None and any(text in reason for text in NOT_A_DATABASE):
        return tr("{what}: {where} is not an SQLite database, or the file is damaged ({reason}); check "
                  "AARSHJUL_DATABASE_URL, or put back a backup of the file", what=what, where=where, reason=reason)
    return f"{what}: {reason}"


@contextmanager
def session() -> Iterator[Session]:
    """One transaction on a database at the current schema (created or migrated if needed)."""
    from .db.migrate import upgrade
    from .db.session import transaction

    url = get_settings().database_url
    with database_errors(i18n.N_("database error, nothing is stored")):
        upgrade(url)
        with transaction(url) as s:
            yield s


@contextmanager
def existing_session() -> Iterator[Session | None]:
    """A session for reading, or None when there is no database yet (never created here);
    a database from an older version of aarshjul is brought to the current schema."""
    from .db.migrate import current_heads, upgrade
    from .db.session import database_exists, make_engine, session_scope

    url = get_settings().database_url
    with database_errors():
        if not database_exists(url):
            yield None
            return
        engine = make_engine(url, create_dir=False)
        try:
            from alembic.migration import MigrationContext

            with engine.connect() as conn:
                behind = set(MigrationContext.configure(conn).get_current_heads()) != current_heads()
            if behind:
                upgrade(url)
            with session_scope(engine) as s:
                yield s
        finally:
            engine.dispose()


# --- acting commands ---------------------------------------------------------------------


def not_busy(kinds: Iterable[str], organisation: str) -> None:
    """Busy (exit 75) at once, before any flow starts, if another run holds one of these
    locks (db/locks.py; `kind:organisation`), looked at without taking it. A run that slips
    in after this look is still refused by the flow's own lock."""
    from .db.locks import Busy, holder
    from .db.session import database_exists

    url = get_settings().database_url
    with database_errors():
        found = holder(url, [f"{kind}:{organisation}" for kind in kinds]) if database_exists(url) else None
    if found:
        raise Busy(found)


def prefect_env() -> None:
    """No telemetry or update checks unless the admin asks for them (as aarshjul.runtime)."""
    import os

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def check_site(organisation: str) -> None:
    """AARSHJUL_SITE_DIR usable (exit 2 naming it if not), looked at before Prefect starts."""
    from .tasks.site import check_site_dir

    site = per_organisation(get_settings().site_dir, organisation)
    if site is not None:
        check_site_dir(Path(site))


def start_prefect() -> None:
    """The first thing an acting command does: Prefect's temporary server (when no server is
    configured) starts now, while the command reads the plan and looks at its locks."""
    from .runtime import start_prefect as start

    start()


def run_flow(flow: Any, **parameters: Any) -> Any:
    """An acting command's flow run, through aarshjul.runtime (the one place that runs flows);
    a database error inside it ends like any other (one line, exit 3, no parameters)."""
    from .runtime import run_flow as run

    with database_errors(i18n.N_("database error during the run")):
        return run(flow, **parameters)
