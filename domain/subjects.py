"""Subjects: the one kind of template source aarshjul takes from configuration.

A subject is fixed in the code (domain/campaigns.py) or written in mail.yaml
(`subject: "Medlemsbrev – {{ month }}"`). Either way it is compiled in Jinja's immutable
sandbox with no globals (no `cycler`, `range`, …), no autoescape (it is header text, not
HTML) and StrictUndefined, and the plan's text reaches it only as values. `check` and the
mailer use this same environment, so what `check` accepts is what is sent.
"""

from __future__ import annotations

from functools import lru_cache

from jinja2 import StrictUndefined, Template
from jinja2.sandbox import ImmutableSandboxedEnvironment


@lru_cache(maxsize=1)
def subject_environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    env.globals.clear()
    return env


def compile_subject(source: str) -> Template:
    """A subject template (fixed in the code, or a newsletter's `subject:` from mail.yaml)."""
    return subject_environment().from_string(source)
