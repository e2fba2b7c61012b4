"""Where templates come from: the organisation's own, then the bundled ones.

A `templates/` folder beside plan.yaml (Plan.templates) overrides any bundled template
by its name: `templates/email/dues.txt.j2` replaces the bundled dues reminder's text
part, `templates/report/report.md.j2` the Markdown report, and a newsletter may name a
template that only the organisation has (`templates/email/lokalbrev.html.j2` and
`.txt.j2`). A template the organisation does not have comes from the bundled set, so an
override may extend a bundled base (`{% extends "email/base.txt.j2" %}`).

The organisation's templates are code someone wrote in the plan's folder, so every
environment that may load them is Jinja's immutable sandbox: a template can show the
values it is given and call their plain methods, never reach Python's internals.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import TypeVar

from jinja2 import BaseLoader, ChoiceLoader, Environment, FileSystemLoader

import aarshjul.templates
from aarshjul.domain.i18n import _lang, template_gettext

E = TypeVar("E", bound=Environment)

BUNDLED = Path(aarshjul.templates.__file__).parent


def loader(overrides: str | Path | None = None) -> BaseLoader:
    """The organisation's folder first (when it exists), then the bundled templates."""
    bundled = FileSystemLoader(str(BUNDLED))
    if overrides is not None and Path(overrides).is_dir():
        return ChoiceLoader([FileSystemLoader(str(overrides)), bundled])
    return bundled


def install_i18n(env: E, lang: str | None) -> E:
    """Words in templates come from the catalogs, in `lang`: `{% trans %}…{% endtrans %}`
    (whitespace trimmed, so a sentence may wrap over lines), `{{ _("…") }}` and
    `{% trans count=n %}…{% pluralize %}…{% endtrans %}`. One environment per language:
    the callables are bound here, so a compiled template is never shared across languages.
    `lang` is also a global (`{{ lang }}`, e.g. for <html lang>)."""
    env.add_extension("jinja2.ext.i18n")
    env.policies["ext.i18n.trimmed"] = True
    gettext, ngettext = template_gettext(lang)
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals["lang"] = _lang(lang)
    return env


def overrides_of(folder: str | Path | None) -> str | None:
    """The folder as a cache key for an environment: None when there is none to read."""
    return str(folder) if folder is not None and Path(folder).is_dir() else None


def template_line(exc: BaseException) -> tuple[str | None, int | None]:
    """(file, line) of the template where a Jinja error happened: a syntax error names
    them itself; an error while rendering is found in the traceback, whose frames Jinja
    rewrites to the template's own file and line."""
    filename, lineno = getattr(exc, "filename", None), getattr(exc, "lineno", None)
    if filename:
        return filename, lineno
    tb: TracebackType | None = exc.__traceback__
    found: tuple[str | None, int | None] = (None, None)
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(".j2"):
            found = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return found
