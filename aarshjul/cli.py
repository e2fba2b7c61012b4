"""The `aarshjul` command: the app, its command groups, and how it ends.

    cli_kit.py        options, output, the plan, database sessions: what every module shares
    cli_plan.py       check, measures, agenda, gaps                       read-only
    cli_run.py        run, serve, db upgrade                              the jobs
    cli_calendars.py  publish, calendars urls|rotate|conflicts|resolve
    cli_mail.py       newsletter list|preview|send, reminders send, unsubscribe
    cli_members.py    members import|unassigned|follow-ups|contacted|counts|forget
    cli_bounces.py    bounces process, members undeliverable
    cli_report.py     done, not-held, cancel, revoke, comment, kpi record|list, report
    cli_schema.py     schema KIND: the JSON Schema of a file              read-only
    cli_init.py       init DIR --name NAME: a new organisation's files
    cli_web.py        web                                                 the web service

Read-only commands answer at once and never import Prefect; acting ones (run, publish,
newsletter send, reminders send) run a flow through aarshjul.runtime.run_flow.

How it ends (`main`): a usage mistake (unknown option, missing argument, bad option
value) prints click's usage error in one line and exits 2; an AarshjulError prints its
message (a PlanError one problem a line) and exits with its `exit_status`
(domain/errors.py: 2 bad input, 3 a service failed, 75 try again later); never a
traceback. Anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import re
import sys
from typing import Any, Protocol, Sequence

import typer
from rich.text import Text

from .cli_bounces import bounces_app, undeliverable_cli
from .cli_calendars import cal_app, publish_cli
from .cli_init import init_cli
from .cli_kit import LangGroup, current_lang, err, reset_lang
from .cli_mail import news_app, rem_app, unsubscribe_cli
from .cli_members import members_app
from .cli_plan import plan_cli
from .cli_report import kpi_app, report_cli
from .cli_run import db_app, run_cli
from .cli_schema import schema_cli
from .cli_web import web_cli
from .domain import i18n
from .domain.i18n import N_
from .domain.errors import AarshjulError, PlanError

app = typer.Typer(help=N_("aarshjul: a work plan as code, turned into calendars, mail and a yearly report."),
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  cls=LangGroup)  # every command takes --lang (cli_kit.with_lang)
for commands in (plan_cli, run_cli, publish_cli, unsubscribe_cli, report_cli, web_cli, schema_cli, init_cli):
    app.registered_commands += commands.registered_commands
for group, name in ((db_app, "db"), (cal_app, "calendars"), (news_app, "newsletter"), (rem_app, "reminders"),
                    (members_app, "members"), (kpi_app, "kpi"), (bounces_app, "bounces")):
    app.add_typer(group, name=name)
members_app.registered_commands += undeliverable_cli.registered_commands  # members undeliverable (cli_bounces.py)

# Typer up to 0.2x raises click's exceptions; Typer 0.29 raises those of its own copy of
# click (typer._click). Both are looked up where they were raised, never imported here.
_CLICK = ("click.exceptions", "typer._click.exceptions")


def _click(name: str) -> tuple[type[Any], ...]:
    """The exception class `name` of each copy of click loaded; which ones (and so their
    types) is known only at run time."""
    return tuple(getattr(sys.modules[m], name) for m in _CLICK if m in sys.modules and hasattr(sys.modules[m], name))


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: run the command (returns when it succeeds); end every expected failure in
    a line and its exit status."""
    args = list(argv) if argv is not None else sys.argv[1:]
    reset_lang(_lang_in(args))  # known before parsing: a usage error is said in it too
    try:
        code = app(args=args, prog_name="aarshjul", standalone_mode=False)
    except AarshjulError as exc:
        report(exc)
        sys.exit(exc.exit_status)
    except (typer.Exit,) + _click("Exit") as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort,) + _click("Abort"):
        err.print(i18n._(current_lang(), "Aborted!"))
        sys.exit(1)
    except _click("ClickException") as exc:
        sys.exit(usage(exc))
    if isinstance(code, int) and code:
        sys.exit(code)


def _lang_in(args: list[str]) -> str | None:
    """The --lang given anywhere on the command line (None if none or not nb|en)."""
    for i, arg in enumerate(args):
        value = args[i + 1] if arg == "--lang" and i + 1 < len(args) else arg.partition("=")[2] \
            if arg.startswith("--lang=") else None
        if value in i18n.LANGS:
            return value
    return None


def report(exc: AarshjulError) -> None:
    """An AarshjulError in one line (a PlanError: a heading and one line a problem), in the
    command's language (--lang, AARSHJUL_LANG)."""
    lang = current_lang()
    if isinstance(exc, PlanError):
        err.print(Text(i18n.ngettext(lang, "The plan has {n} problem:", "The plan has {n} problems:",
                                     len(exc.problems)), style="bold red"))
        for problem in exc.problems:
            err.print(problem.say(lang))
        return
    lines = exc.say(lang).splitlines() or [type(exc).__name__]
    err.print(Text.assemble((i18n._(lang, "error: "), "bold red"), lines[0]))
    for line in lines[1:]:
        err.print(line)


class _UsageError(Protocol):
    """What usage() reads of a click.ClickException (of either copy of click)."""

    exit_code: int

    def format_message(self) -> str: ...

    def show(self) -> None: ...


def usage(exc: _UsageError) -> int:
    """click's usage error in one line: `Error: No such option: --frm (Did you mean --from?) [aarshjul agenda --help]`.
    A group called without a command prints its help instead (click's own way)."""
    if type(exc).__name__ == "NoArgsIsHelpError":
        exc.show()
        return exc.exit_code
    ctx = getattr(exc, "ctx", None)
    where = f"  [{ctx.command_path} --help]" if ctx is not None else ""
    lang = current_lang()
    err.print(i18n._(lang, "Error: {message}{where}", message=click_words(" ".join(exc.format_message().split()), lang),
                     where=where))
    return exc.exit_code


# click's own sentences (it has no catalog of ours), said in the command's language
_CLICK_WORDS = [
    (re.compile(r"^Invalid value for (?P<p>.+?): "), i18n.N_("Invalid value for {p}: ")),
    (re.compile(r"^No such option: (?P<p>\S+)"), i18n.N_("No such option: {p}")),
    (re.compile(r"^No such command (?P<p>'[^']*')\."), i18n.N_("No such command {p}.")),
    (re.compile(r"^Missing argument (?P<p>'[^']*')\."), i18n.N_("Missing argument {p}.")),
    (re.compile(r"^Missing option (?P<p>'[^']*')\."), i18n.N_("Missing option {p}.")),
    (re.compile(r"^Got unexpected extra argument(?:s|\(s\))? \((?P<p>.*)\)"),
     i18n.N_("Got unexpected extra argument ({p})")),
    (re.compile(r"^Option (?P<p>'[^']*') requires an argument\."),
     i18n.N_("Option {p} requires an argument.")),
    (re.compile(r"^Option (?P<p>'[^']*') does not take a value\."), i18n.N_("Option {p} does not take a value.")),
    (re.compile(r"Input should be a valid integer, unable to parse string as an integer"),
     i18n.N_("write a whole number")),
    (re.compile(r"(?P<q>[.:]?) ?\(?Did you mean (?P<p>[^?)]+)\?\)?"), i18n.N_("{q} (did you mean {p}?)")),
    (re.compile(r"\(Possible options: (?P<p>[^)]*)\)"), i18n.N_("(possible options: {p})")),
]


def click_words(message: str, lang: str) -> str:
    """click's usage message with its fixed words in `lang` (the values as they are)."""
    for pattern, msgid in _CLICK_WORDS:
        def said(m: re.Match[str], msgid: str = msgid) -> str:
            return i18n._(lang, msgid, **m.groupdict())

        message = pattern.sub(said, message, count=1)
    return message
