"""Rendering e-mail templates: Jinja2 with StrictUndefined, autoescape for HTML.

Data is never template source. Plan text (titles, body names, places), member fields
and server data reach a template only as values: a title like `{{ 7*7 }}` comes out
literally, and `<script>` is escaped in the HTML part. The only template *source* is
ours: the files under `templates/email/` (or the organisation's own of the same name in
the `templates/` folder beside plan.yaml, tasks/templates.py), the fixed subjects in the
code, and the newsletter subjects of `mail.yaml`. All of it is compiled in Jinja's
immutable sandbox, so even a hostile `mail.yaml` subject or override cannot reach
Python's internals.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment

import aarshjul.templates
from aarshjul.domain.errors import TemplateProblem
from aarshjul.domain.subjects import compile_subject
from aarshjul.tasks.templates import loader, overrides_of

TEMPLATES = Path(aarshjul.templates.__file__).parent


def environment(overrides: str | Path | None = None) -> ImmutableSandboxedEnvironment:
    """The e-mail environment: the organisation's templates folder (if any) over the bundled one."""
    return _environment(overrides_of(overrides))


@lru_cache(maxsize=8)
def _environment(overrides: str | None) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        loader=loader(overrides), undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


class Renderer:
    """Subject, text and HTML of one campaign's template, compiled once."""

    def __init__(self, template: str, subject: str, overrides: str | Path | None = None) -> None:
        """`subject` is template source from the code or mail.yaml, never plan text:
        plan text goes into the campaign's context and is referred to by name.
        `overrides`: the organisation's templates folder (Campaign.templates)."""
        env = environment(overrides)
        try:
            self.html = env.get_template(f"email/{template}.html.j2")
            self.text = env.get_template(f"email/{template}.txt.j2")
            self.subject = compile_subject(subject)
        except TemplateError as exc:
            raise TemplateProblem(f"template {template!r}: {exc}") from None
        self.name = template

    def render(self, context: dict[str, Any], who: str = "") -> tuple[str, str, str]:
        """(subject, text, html); TemplateProblem naming the template (and member number)."""
        try:
            subject = self.subject.render(context)
            return subject, self.text.render(context, subject=subject), self.html.render(context, subject=subject)
        except TemplateError as exc:
            raise TemplateProblem(f"template {self.name!r} failed{' for ' + who if who else ''}: "
                                  f"{type(exc).__name__}: {exc}") from None


def read_edition_text(path: Path | None) -> str | None:
    """An edition's Markdown text, or None when it is not written yet."""
    if path is None or not path.exists():
        return None
    return path.read_text(encoding="utf-8")
