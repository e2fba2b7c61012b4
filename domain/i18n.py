"""User-facing words, numbers and dates: Norwegian bokmål by default, English available.

Every sentence a person reads comes from the message catalogs beside this module,
`locale/<lang>/LC_MESSAGES/aarshjul.po` (gettext .po, one per language, msgids in English),
read with Babel the first time a language is asked for and kept (no compile step: an
editable install uses the .po files as they are). The language is always passed in: the
domain is pure, nothing here reads a setting.

    _(lang, "The plan is valid")                        a sentence
    _(lang, "unknown {what} {name}", what=…, name=…)    with {placeholders} (str.format)
    ngettext(lang, "{n} problem", "{n} problems", n)     plurals; {n} is the number, by Babel
    N_("scheduled")                                      marks a msgid for extraction only
    Msg("unknown key {name}", name=…)                    a sentence said later, in the language
                                                         of whoever prints it (errors, problems)
    word(name, lang)                                     the fixed words of the CLI (WORDS)
    {% trans %}Hello {{ name }}{% endtrans %}           in a template (Jinja's i18n extension,
                                                         tasks/templates.py install_i18n); its msgid
                                                         is "Hello %(name)s", found by Jinja's extractor
    day(d, lang) clock(t, lang) number(x, lang)          dates, times and numbers by Babel

pybabel finds the msgids in templates with Jinja's extractor (babel.cfg), and in Python with
the keywords `_:2 ngettext:2,3 N_ Msg tr ntr:1,2` (babel.cfg, README);
tests/test_i18n.py fails when a msgid used in the code is missing, empty or fuzzy in a catalog.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping

from babel.dates import format_date, format_time
from babel.numbers import format_decimal

LANGS = ("nb", "en")
DEFAULT = "nb"
DOMAIN = "aarshjul"
LOCALE_DIR = Path(__file__).parent / "locale"

_DATE = {"nb": "d. MMMM y", "en": "d MMMM y"}


def N_(msgid: str) -> str:  # noqa: N802 - gettext's name
    """A msgid marked for extraction, translated later with _()."""
    return msgid


def catalog_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=None)
def catalog(lang: str) -> Mapping[str, str | tuple[str, ...]]:
    """msgid -> msgstr (a tuple of forms for a plural) of `lang`'s catalog; empty and fuzzy
    translations are left out (the msgid is shown instead, and the catalog test fails)."""
    from babel.messages.pofile import read_po

    with catalog_path(lang).open("rb") as f:
        po = read_po(f, locale=lang, domain=DOMAIN)
    table: dict[str, str | tuple[str, ...]] = {}
    for m in po:
        if not m.id or m.fuzzy:
            continue
        key = m.id[0] if isinstance(m.id, (tuple, list)) else m.id
        if isinstance(m.string, (tuple, list)):
            if all(m.string):
                table[key] = tuple(m.string)
        elif m.string:
            table[key] = m.string
    return table


def _lang(lang: str | None) -> str:
    return lang if lang in LANGS else DEFAULT


def _(lang: str | None, msgid: str, **params: Any) -> str:
    """`msgid` in `lang`, its {placeholders} filled (a Msg among them said in `lang` too)."""
    found = catalog(_lang(lang)).get(msgid, msgid)
    text = found if isinstance(found, str) else found[0]
    return text.format(**{k: say(v, lang) for k, v in params.items()}) if params else text


def ngettext(lang: str | None, singular: str, plural: str, n: int, **params: Any) -> str:
    """The form for `n` (nb and en: one, other), with {n} the number as Babel writes it."""
    found = catalog(_lang(lang)).get(singular)
    if isinstance(found, tuple):
        text = found[0 if n == 1 else min(1, len(found) - 1)]
    else:
        text = singular if n == 1 else plural
    return text.format(n=number(n, lang), **{k: say(v, lang) for k, v in params.items()})


def template_gettext(lang: str | None) -> tuple[Callable[[str], str], Callable[[str, str, int], str]]:
    """gettext and ngettext in `lang` for Jinja's i18n extension, newstyle: Jinja fills the
    %(name)s placeholders of a {% trans %} msgid itself (and escapes them in HTML)."""
    def gettext(msgid: str) -> str:
        found = catalog(_lang(lang)).get(msgid, msgid)
        return found if isinstance(found, str) else found[0]

    def ngettext_(singular: str, plural: str, n: int) -> str:
        found = catalog(_lang(lang)).get(singular)
        if isinstance(found, tuple):
            return found[0 if n == 1 else min(1, len(found) - 1)]
        return singular if n == 1 else plural

    return gettext, ngettext_


class Msg(str):
    """A sentence to be said later, in the language of whoever prints it: an error raised
    deep in the domain, a plan problem. `Msg(msgid, **params)`. It is the English sentence
    as a str (compared, searched and logged as one); `.say(lang)` says it in `lang`."""

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, /, **params: Any) -> Msg:
        self = super().__new__(cls, _("en", msgid, **params))
        self.msgid, self.params = msgid, params
        return self

    def __reduce__(self) -> Any:  # pickled (a flow's exception) as what it is
        return (_msg, (self.msgid, self.params))

    def say(self, lang: str | None) -> str:
        return _(lang, self.msgid, **self.params)


def _msg(msgid: str, params: dict[str, Any]) -> Msg:
    return Msg(msgid, **params)


def say(value: Any, lang: str | None) -> Any:
    """A value for a placeholder: a Msg said in `lang`, a list of them joined; others as they are."""
    if isinstance(value, Msg):
        return value.say(lang)
    if hasattr(value, "say") and callable(value.say):  # a Problem, an error with its own words
        return value.say(lang)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(say(v, lang)) for v in value)
    return value


# The fixed words of the CLI's tables and lines, by name (a status, a cadence kind, a column).
WORDS: dict[str, str] = {
    "scheduled": N_("scheduled"), "unscheduled": N_("unscheduled"), "cancelled": N_("cancelled"),
    "removed": N_("removed"), "deadline": N_("deadline"), "annual": N_("annual"), "quota": N_("quota"),
    "series": N_("series"), "on_event": N_("per member"), "standing": N_("standing"),
    "date": N_("Date"), "time": N_("Time"), "key": N_("Key"), "measure": N_("Measure"), "title": N_("Title"),
    "bodies": N_("Responsible"), "status": N_("Status"), "period": N_("Period"), "cadence": N_("Cadence"),
    "goal": N_("Goal"), "window": N_("Window"), "required": N_("Required"), "pinned": N_("Pinned"),
    "held": N_("Held"), "missing": N_("Missing"), "closes": N_("Closes"), "by": N_("by"),
    "all_day": N_("all day"), "overdue": N_("overdue"), "open": N_("open"), "quota_gap": N_("quota not met"),
    "overdue_gap": N_("deadline passed"), "agenda": N_("Agenda"), "measures": N_("Measures in the plan"),
    "gaps": N_("Gaps in the plan"), "no_gaps": N_("No gaps."), "plan_ok": N_("The plan is valid"),
    "warnings": N_("warnings"),
}


def word(name: str, lang: str = DEFAULT) -> str:
    """One of WORDS in `lang` (an unknown name as it is)."""
    return _(lang, WORDS[name]) if name in WORDS else name


def day(value: date | datetime, lang: str = DEFAULT) -> str:
    """25. januar 2025 / 25 January 2025"""
    if isinstance(value, datetime):
        value = value.date()
    return format_date(value, _DATE[_lang(lang)], locale=_lang(lang))


def clock(value: datetime, lang: str = DEFAULT) -> str:
    """18:00"""
    return format_time(value, "HH:mm", locale=_lang(lang))


def number(value: float, lang: str | None = DEFAULT) -> str:
    """1 234,5 / 1,234.5"""
    return format_decimal(value, locale=_lang(lang))
