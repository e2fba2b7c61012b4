"""The one exception tree of aarshjul: every error a person can meet, and how it ends.

    class                         exit  transient  what happened
    AarshjulError                    2  no         base; raised bare for a usage mistake or a bad
    │                                              setting (AARSHJUL_*: the message names it)
    ├── PlanError                    2  no         the plan files are wrong; carries every Problem
    │   ├── TooManyOccurrences       2  no         a measure gives over 1,000 occurrences (domain/expand.py)
    │   ├── PostcodeTableError       2  no         the postcode table is wrong (domain/postcodes.py)
    │   └── TargetTableError         2  no         targets.yaml is wrong (domain/targets.py)
    ├── BadInput                     2  no         a value given on the command line or in a file
    │   │                                          that cannot be used
    │   ├── NotFound                 2  no         a key, measure, body, feed or newsletter that does
    │   │   │                                      not exist (with the nearest names)
    │   │   └── UnknownRef           2  no         KEY|MEASURE of done/not-held/cancel (domain/completion.py)
    │   ├── MemberNotFound           2  no         a member number not in the database (db/members.py)
    │   ├── BadEdition               2  no         `--edition 2026-13`, or a branch that does not exist
    │   ├── BadToken                 2  no         an unsubscribe token malformed or not ours (domain/messages.py)
    │   ├── BadAnswerLink            2  no         a board member's answer link forged, altered or expired
    │   │                                          (domain/confirm.py)
    │   ├── ExportError              2  no         a file that is not a member export (domain/members_csv.py)
    │   ├── TooManyLeft              2  no         an export that would mark most members as left (db/members.py)
    │   ├── TemplateProblem          2  no         a mail template or subject that does not render
    │   └── EditionNotReady          2  no         the edition's text is not written yet: nothing sent
    │       └── EditionEmpty         2  no         a digest with nothing to list: nothing sent
    ├── ServiceError                 3  yes        something outside aarshjul failed; the next run catches up
    │   ├── DatabaseError            3  yes        the database could not be used; nothing was stored
    │   ├── CaldavError              3  per case   the CalDAV server is unreachable (yes) or refused us (no)
    │   ├── TransportDown            3  per case   the mail server is unreachable (yes) or refused the login (no)
    │   │   └── MailboxDown          3  per case   the bounce mailbox (IMAP) likewise (tasks/bounces.py)
    │   ├── EditionPaused            3  yes        the edition paused; the rest stays pending for the next run
    │   │   └── Paused               3  yes        the mail server failed again and again, or too many refused
    │   └── ReportRenderError        3  no         the PDF cannot be made (WeasyPrint or Pango missing)
    └── TryLater                    75  yes        not now (EX_TEMPFAIL): run the command again later
        └── Busy                    75  yes        another run holds the lock (db/locks.py)

`exit_status` is what `aarshjul` exits with (the CLI prints the message on one line, a
PlanError's problems one per line, never a traceback); `transient` says whether the same
thing, tried again later unchanged, may succeed: a task's retry condition reads it. An
instance may override `transient` (`CaldavError(message, transient=False)` for a refused
login). A usage mistake the command-line parser finds (an unknown option, a missing
argument) also exits 2, with click's usage message. Any other exit status, with a
traceback, is a bug.

Library errors (YAML, pydantic, SQLAlchemy, smtplib, caldav) are converted at the boundary
into these, with the place (file, line, field) or the server and setting, and a hint a
person can act on. Their words come from the message catalogs (domain/i18n.py): an error
raised with a Msg (or a Problem holding one) is said in the language of whoever prints it,
`exc.say(lang)`; str() is the English sentence (for logs and tests). A class raised in one
place only may live beside it (the module is named above); it subclasses a class here.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .i18n import N_, Msg, _, number


class Number(int):
    """A whole number given to a Msg, written by Babel in the reader's language (1,000 / 1 000)."""

    def say(self, lang: str | None) -> str:
        return number(self, lang)


@dataclass(frozen=True)
class Problem:
    """One mistake in a plan file, located as precisely as we can."""

    file: Path | None
    line: int | None  # 1-based
    field: str | None  # dotted path, e.g. goals[0].measures[3].cadence.count
    message: str | Msg
    hint: str | Msg | None = None

    def say(self, lang: str | None) -> str:
        """The problem in `lang`: place, field, message, and the hint on a line of its own."""
        place = str(self.file) if self.file else _(lang, "<plan>")
        if self.line:
            place += f":{self.line}"
        message = self.message.say(lang) if isinstance(self.message, Msg) else self.message
        text = f"{place}: {self.field + ': ' if self.field else ''}{message}"
        if self.hint:
            hint = self.hint.say(lang) if isinstance(self.hint, Msg) else self.hint
            text += "\n    " + _(lang, "hint: {hint}", hint=hint)
        return text

    def __str__(self) -> str:
        return self.say("en")


class AarshjulError(Exception):
    """Base of every error aarshjul reports to a person.

    `exit_status`: the command's exit status; `transient`: whether trying again later,
    unchanged, may help. Both are class attributes; `transient=` overrides it for one error.
    """

    exit_status: int = 2
    transient: bool = False

    def __init__(self, *args: object, transient: bool | None = None):
        if transient is not None:
            self.transient = transient
        super().__init__(*args)

    def say(self, lang: str | None) -> str:
        """The message in `lang` (a Msg given as the message is said in it; a str as it is)."""
        if len(self.args) == 1 and isinstance(self.args[0], Msg):
            return self.args[0].say(lang)
        return str(self)


# --- exit 2: the input is wrong ----------------------------------------------------------


class PlanError(AarshjulError):
    """The plan files are invalid. `problems` lists every mistake found, not just the first."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def say(self, lang: str | None) -> str:
        return "\n".join(p.say(lang) for p in self.problems)


class BadInput(AarshjulError):
    """A value given on the command line or in a file that cannot be used; the message says why."""


class NotFound(BadInput):
    """A name that does not exist; the message suggests the nearest ones."""

    def __init__(self, what: str, name: str, known: Iterable[str]):
        self.name = name
        self.suggestions = nearest(name, known)
        thing = Msg(WHAT.get(what, what))
        message = (Msg("unknown {what} {name!r}; did you mean {names}?", what=thing, name=name,
                       names=", ".join(self.suggestions)) if self.suggestions else
                   Msg("unknown {what} {name!r}", what=thing, name=name))
        super().__init__(message)


# The things NotFound names, as msgids (said in the reader's language).
WHAT = {
    "body": N_("body"), "measure": N_("measure"), "key": N_("key"), "feed": N_("feed"),
    "private feed": N_("private feed"), "conflict": N_("conflict"), "newsletter": N_("newsletter"),
    "calendar": N_("calendar"), "group": N_("group"), "goal": N_("goal"), "template": N_("template"),
    "member": N_("member"), "target": N_("target"), "important date": N_("important date"), "branch": N_("branch"),
}


class BadEdition(BadInput, ValueError):
    """An edition that cannot be: `--edition 2026-13`, or a branch the organisation does not have."""


class TemplateProblem(BadInput):
    """A template that does not render; nothing of the edition is sent."""


class EditionNotReady(BadInput):
    """The edition's content file is not written yet: nothing is sent."""


class EditionEmpty(EditionNotReady):
    """A 'what's on' digest with no events to list: nothing is sent (a later run within
    the edition's send window sends it once there is something)."""


# --- exit 3: something outside aarshjul failed --------------------------------------------


class ServiceError(AarshjulError):
    """A server or system part aarshjul needs failed: the database, SMTP, CalDAV, WeasyPrint."""

    exit_status = 3
    transient = True


class DatabaseError(ServiceError):
    """The database could not be used; the transaction was rolled back, nothing is stored."""


class CaldavError(ServiceError):
    """The CalDAV server could not be used; `transient` says whether a retry may help."""


class TransportDown(ServiceError):
    """The mail server cannot be reached or refused our login: nothing was sent."""


class EditionPaused(ServiceError):
    """The edition paused, the rest pending for the next run: the mail server failed too
    often in a row, or an implausible share of this run's recipients was refused
    (tasks/mailer.py's Paused, with the counts). A refused recipient alone never pauses."""


class ReportRenderError(ServiceError):
    """The PDF could not be made (WeasyPrint or its system libraries missing)."""

    transient = False


# --- exit 75: not now -------------------------------------------------------------------------


class TryLater(AarshjulError):
    """Not now: the same command, run again later, will do its work (EX_TEMPFAIL, 75)."""

    exit_status = 75
    transient = True


def nearest(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """The closest few names to `name`, for 'did you mean' hints."""
    return difflib.get_close_matches(name, list(known), n=n, cutoff=0.5)
