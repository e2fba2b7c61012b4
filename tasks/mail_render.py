"""Rendering e-mail templates: Jinja2 with StrictUndefined, autoescape for HTML.

Member fields are data, never template source: a name like `{{ 7*7 }}` comes out
literally, and `<script>` is escaped in the HTML part.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError, select_autoescape

import aarshjul.templates
from aarshjul.domain.errors import AarshjulError

TEMPLATES = Path(aarshjul.templates.__file__).parent


class TemplateProblem(AarshjulError):
    """A template that does not render; nothing of the edition is sent."""


@lru_cache(maxsize=4)
def environment(folder: str = str(TEMPLATES)) -> Environment:
    return Environment(loader=FileSystemLoader(folder), undefined=StrictUndefined,
                       autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
                       trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


class Renderer:
    """Subject, text and HTML of one campaign's template, compiled once."""

    def __init__(self, template: str, subject: str):
        env = environment()
        try:
            self.html = env.get_template(f"email/{template}.html.j2")
            self.text = env.get_template(f"email/{template}.txt.j2")
            self.subject = env.from_string(subject)
        except TemplateError as exc:
            raise TemplateProblem(f"template {template!r}: {exc}") from None
        self.name = template

    def render(self, context: dict, who: str = "") -> tuple[str, str, str]:
        """(subject, text, html); TemplateProblem naming the template (and member number)."""
        try:
            subject = self.subject.render(context)
            return subject, self.text.render(context, subject=subject), self.html.render(context, subject=subject)
        except TemplateError as exc:
            raise TemplateProblem(f"template {self.name!r} failed{' for ' + who if who else ''}: "
                                  f"{type(exc).__name__}: {exc}") from None
