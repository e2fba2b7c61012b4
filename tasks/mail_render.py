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

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from markupsafe import Markup

from jinja2 import StrictUndefined, Template, TemplateError, nodes, pass_eval_context, select_autoescape
from jinja2.ext import InternationalizationExtension
from jinja2.nodes import EvalContext
from jinja2.sandbox import ImmutableSandboxedEnvironment

import aarshjul.templates
from aarshjul.domain.errors import TemplateProblem
from aarshjul.domain.i18n import DEFAULT, LANGS, template_gettext
from aarshjul.domain.subjects import compile_subject
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
    install_i18n(env, lang)
    folded = _FoldedTrans(env)
    folded.lang = lang
    env.extensions = {k: v for k, v in env.extensions.items() if not isinstance(v, InternationalizationExtension)}
    env.extensions[folded.identifier] = folded
    env.globals.update(_direct_gettext(lang))
    return env


def _direct_gettext(lang: str) -> dict[str, Any]:
    """`_()`, `gettext()` and `ngettext()` as Jinja's newstyle ones (the text marked safe in
    HTML, its %(name)s filled, values escaped), calling the catalog lookup directly rather
    than through the sandbox a second time."""
    gettext, ngettext = template_gettext(lang)

    @pass_eval_context
    def gettext_(ctx: EvalContext, __string: str, **variables: Any) -> str:
        rv = gettext(__string)
        return (Markup(rv) if ctx.autoescape else rv) % variables

    @pass_eval_context
    def ngettext_(ctx: EvalContext, __singular: str, __plural: str, __num: int, **variables: Any) -> str:
        variables.setdefault("num", __num)
        rv = ngettext(__singular, __plural, __num)
        return (Markup(rv) if ctx.autoescape else rv) % variables

    return {"_": gettext_, "gettext": gettext_, "ngettext": ngettext_}


_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")


class _FoldedTrans(InternationalizationExtension):
    """{% trans %} as install_i18n gives it, but its words looked up once, when the template
    is compiled: an e-mail environment is one language's, so a block's translation is a
    constant. A block becomes what it would be written out in that language: its text as
    template data, its %(name)s values output like {{ name }} (escaped in HTML, as Jinja's
    newstyle gettext escapes them); a plural chooses between its two forms by the count.
    Calling gettext through Jinja's sandbox for each block instead made a message take
    about twice as long to render (bench in the report of this change)."""

    lang: str = DEFAULT

    def _make_node(self, singular: str, plural: str | None, context: str | None,
                   variables: dict[str, nodes.Expr], plural_expr: nodes.Expr | None,
                   vars_referenced: bool, num_called_num: bool) -> nodes.Output:
        if context is not None:  # pgettext: not used by our templates; Jinja's own way
            return super()._make_node(singular, plural, context, variables, plural_expr, vars_referenced,
                                      num_called_num)
        gettext, ngettext = template_gettext(self.lang)
        text: nodes.Expr
        values = dict(variables)
        if plural_expr is None or plural is None:
            pieces = _pieces(gettext(singular), values)
            if pieces is not None:
                return nodes.Output(pieces)
            text = nodes.Const(gettext(singular))  # a stray % or an unknown name: Jinja's way, its error
        else:  # ngettext's choice (nb, en): the first form for 1, the second otherwise
            text = nodes.CondExpr(nodes.Compare(plural_expr, [nodes.Operand("eq", nodes.Const(1))]),
                                  nodes.Const(ngettext(singular, plural, 1)),
                                  nodes.Const(ngettext(singular, plural, 2)))
            values.setdefault("num", plural_expr)
        return nodes.Output([nodes.Mod(nodes.MarkSafeIfAutoescape(text), nodes.Dict(
            [nodes.Pair(nodes.Const(key), value) for key, value in values.items()]))])


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


def _pieces(text: str, values: dict[str, nodes.Expr]) -> list[nodes.Node] | None:
    """A translation as template data and values, or None when it holds anything but
    %(name)s of known names and %%."""
    out: list[nodes.Node] = []
    at = 0
    for m in _PLACEHOLDER.finditer(text):
        if "%" in text[at:m.start()] or (m.group(1) and m.group(1) not in values):
            return None
        if m.start() > at:
            out.append(nodes.TemplateData(text[at:m.start()]))
        out.append(nodes.TemplateData("%") if m.group(0) == "%%" else values[m.group(1)])
        at = m.end()
    if "%" in text[at:]:
        return None
    if at < len(text):
        out.append(nodes.TemplateData(text[at:]))
    return out

