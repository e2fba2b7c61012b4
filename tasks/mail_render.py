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

from jinja2 import StrictUndefined, Template, TemplateError, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment

import aarshjul.templates
from aarshjul.domain.errors import TemplateProblem
from aarshjul.domain.subjects import compile_subject
from aarshjul.domain.i18n import DEFAULT, LANGS
from aarshjul.tasks.templates import install_i18n, loader, overrides_of

TEMPLATES = Path(aarshjul.templates.__file__).parent


def environment(overrides: str | Path | None = None, lang: str | None = None) -> ImmutableSandboxedEnvironment:
    """The e-mail environment in `lang` (the organisation's locale; nb when None): the
    organisation's templates folder (if any) over the bundled one, the words of
    `{% trans %}` and `_()` from that language's catalog."""
    return _environment(overrides_of(overrides), lang if lang in LANGS else DEFAULT)


@lru_cache(maxsize=16)
def _environment(overrides: str | None, lang: str) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        loader=loader(overrides), undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    return install_i18n(env, lang)


class Renderer:
    """Subject, text and HTML of one campaign's template, compiled once per language."""

    def __init__(self, template: str, subject: str, overrides: str | Path | None = None,
                 lang: str | None = None) -> None:
        """`subject` is template source from the code or mail.yaml, never plan text:
        plan text goes into the campaign's context and is referred to by name.
        `overrides`: the organisation's templates folder (Campaign.templates).
        `lang`: the organisation's locale; None takes the context's `lang` (every
        Campaign's context carries the organisation's locale), else nb."""
        self.name, self.overrides, self.lang = template, overrides, lang
        self.parts: dict[str, tuple[Template, Template]] = {}
        try:
            self.subject = compile_subject(subject)
        except TemplateError as exc:
            raise TemplateProblem(f"template {template!r}: {exc}") from None
        self._parts(lang)  # a template missing or broken is said here, before anything is sent

    def _parts(self, lang: str | None) -> tuple[Template, Template]:
        """(text, html) compiled in `lang`, once."""
        lang = lang if lang in LANGS else DEFAULT
        if lang not in self.parts:
            env = environment(self.overrides, lang)
            try:
                self.parts[lang] = (env.get_template(f"email/{self.name}.txt.j2"),
                                    env.get_template(f"email/{self.name}.html.j2"))
            except TemplateError as exc:
                raise TemplateProblem(f"template {self.name!r}: {exc}") from None
        return self.parts[lang]

    @property
    def text(self) -> Template:
        return self._parts(self.lang)[0]

    @property
    def html(self) -> Template:
        return self._parts(self.lang)[1]

    def render(self, context: dict[str, Any], who: str = "") -> tuple[str, str, str]:
        """(subject, text, html); TemplateProblem naming the template (and member number)."""
        text, html = self._parts(self.lang or context.get("lang"))
        try:
            subject = self.subject.render(context)
            return subject, text.render(context, subject=subject), html.render(context, subject=subject)
        except TemplateError as exc:
            raise TemplateProblem(f"template {self.name!r} failed{' for ' + who if who else ''}: "
                                  f"{type(exc).__name__}: {exc}") from None


def read_edition_text(path: Path | None) -> str | None:
    """An edition's Markdown text, or None when it is not written yet."""
    if path is None or not path.exists():
        return None
    return path.read_text(encoding="utf-8")
