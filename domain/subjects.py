"""Subjects: the one kind of template source aarshjul takes from configuration.

A subject is fixed in the code (SUBJECTS below, in the organisation's language from the
catalogs) or written in mail.yaml (`subject: "Medlemsbrev – {{ month }}"`, the
organisation's own words, used as written). Either way it is compiled in Jinja's immutable
sandbox with no globals (no `cycler`, `range`, …), no autoescape (it is header text, not
HTML) and StrictUndefined, and the plan's text reaches it only as values. `check` and the
mailer use this same environment, so what `check` accepts is what is sent.
"""

from __future__ import annotations

import re
from functools import lru_cache

from jinja2 import StrictUndefined, Template
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .i18n import N_, _, ngettext

# The fixed subjects, by campaign kind. A msgid's {name} is the campaign's value `name`
# (its context), filled in per message by Jinja, never by str.format: plan text stays a value.
SUBJECTS: dict[str, str] = {
    "reminder_lead": N_("{in_days}: {title}"),
    "reminder_unscheduled": N_("Not scheduled: {title}"),
    "reminder_overdue": N_("The deadline has passed: {title}"),
    "followup": N_("New members to call – {branch_name}"),
    "dues": N_("The dues for {year}"),
    "dues_list": N_("Unpaid dues – {branch_name}"),
    "report_draft": N_("Draft annual report {year}"),
}


def fixed_subject(kind: str, lang: str | None) -> str:
    """SUBJECTS[kind] in `lang` as template source: each {name} becomes {{ name }}."""
    return re.sub(r"\{(\w+)\}", r"{{ \1 }}", _(lang, SUBJECTS[kind]))


def followup_overdue_subject(lang: str | None, count: int) -> str:
    """The board's subject for `count` new members not contacted in time (the number is
    written in, in `lang`: it is ours, not plan text)."""
    return ngettext(lang, "{n} new member is not contacted within the deadline",
                    "{n} new members are not contacted within the deadline", count)


def confirm_subject(lang: str | None, count: int) -> str:
    """The daily question to a role holder with `count` occurrences waiting for an answer."""
    return ngettext(lang, "Was it held? {n} item awaits an answer", "Was it held? {n} items await an answer", count)


@lru_cache(maxsize=1)
def subject_environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    env.globals.clear()
    return env


def compile_subject(source: str) -> Template:
    """A subject template (fixed in the code, or a newsletter's `subject:` from mail.yaml)."""
    return subject_environment().from_string(source)
