"""A new organisation's files (`aarshjul init`), from the commented templates in templates/init/<lang>/.

A template is a YAML (or Markdown) file in which `@{name}` marks where a value goes. The
values come from the person running `init` (the organisation's name may hold quotes,
colons, `#`, line breaks, any letters), so a value is never pasted in as text: each is
written by the YAML emitter as one double-quoted scalar on one line, and the marks are
filled in one pass, so a value that itself contains `@{...}` stays as it is. Pure: the
caller reads the templates and writes the files.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Mapping

import yaml

from .i18n import _
from .model import DEFAULT_BRANCH_WORD

_MARK = re.compile(r"@\{(\w+)\}")
_SLUG = re.compile(r"[^a-z0-9]+")
_FOLD = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "ß": "ss", "þ": "th", "ð": "d", "ł": "l", "đ": "d"})

# The files `init` writes, in the order it lists them: the template each is made from (in
# templates/init/<lang>/) and the schema kind of each YAML file.
FILES: dict[str, tuple[str, str | None]] = {
    "plan.yaml": ("plan.yaml", "plan"), "organisation.yaml": ("organisation.yaml", "organisation"),
    "schedule.yaml": ("schedule.yaml", "schedule"), "mail.yaml": ("mail.yaml", "mail"),
    "targets.yaml": ("targets.yaml", "targets"), "postcodes.yaml": ("postcodes.yaml", "postcodes"),
    "content/README.md": ("content.md", None),
}
# The bundled newsletter template speaks Norwegian: an English organisation gets its own,
# in its templates/ folder (which overrides the bundled templates by name).
EXTRA: dict[str, dict[str, tuple[str, str | None]]] = {"nb": {}, "en": {
    "templates/email/newsletter.html.j2": ("newsletter.html.j2", None),
    "templates/email/newsletter.txt.j2": ("newsletter.txt.j2", None),
}}


def files(lang: str) -> dict[str, tuple[str, str | None]]:
    """The files `init` writes in this language: FILES and the language's EXTRA."""
    return {**FILES, **EXTRA[lang]}
SCHEMA_FOLDER = "schema"  # beside the files: the schemas, for editors (the files' first lines name them)


def slug(text: str, fallback: str = "org") -> str:
    """An id from a name: 'Fagforbundet Årdal: ungdom' -> 'fagforbundet-ardal-ungdom'."""
    folded = unicodedata.normalize("NFKD", text.lower().translate(_FOLD))
    ascii_only = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return _SLUG.sub("-", ascii_only).strip("-")[:48].strip("-") or fallback


Value = str | int | list[str | int]


def scalar(value: Value) -> str:
    """`value` as one YAML scalar on one line: text double-quoted, every character that
    needs it escaped (a line break is written \\n), so the file reads it back unchanged;
    a number as it is; a list as a flow sequence of such scalars."""
    if isinstance(value, list):
        return "[" + ", ".join(scalar(v) for v in value) + "]"
    if isinstance(value, int):
        return str(value)
    text: str = yaml.safe_dump(value, default_style='"', allow_unicode=True, width=2**31 - 1, explicit_end=False)
    text = text.strip()
    text = text.removesuffix("...").strip()
    if "\n" in text or not text.startswith('"'):
        raise ValueError(f"could not write {value!r} as one line")  # not reached: the emitter escapes breaks
    return text


def fill(template: str, values: Mapping[str, Value]) -> str:
    """The template with each `@{name}` replaced by `scalar(values[name])`, in one pass.
    A mark without a value is a KeyError (a mistake in the template, not in the input)."""
    return _MARK.sub(lambda m: scalar(values[m[1]]), template)


@dataclass(frozen=True)
class Answers:
    """What `init` was told: the organisation's name and id, its language and time zone."""

    name: str
    id: str
    lang: str
    zone: str
    today: date

    def values(self) -> dict[str, Value]:
        """The plan runs this year and the next; made in the second half of a year, from
        that half-year on (so that `check` does not at once warn about a first half gone by)."""
        first = self.today.year
        last = first + 1
        period: Value = f"{first}-{last}" if self.today.month <= 6 else [f"{first}-H2", last]
        title = _(self.lang, "Work plan of {name}, {first}–{last}", name=self.name, first=first, last=last)
        half = "H1" if self.today.month <= 6 else "H2"  # schedule.yaml's example pins a slot of this half-year
        word = DEFAULT_BRANCH_WORD[self.lang]  # organisation.yaml's branch_word, written out to be changed
        return {"branch_singular": word.singular, "branch_plural": word.plural, "branch_definite": word.definite,
                "branch_definite_plural": word.definite_plural or word.plural,
                "name": self.name, "id": self.id, "plan_id": f"{self.id}-{first}-{last}", "title": title,
                "zone": self.zone, "lang": self.lang, "period": period, "first": first, "last": last,
                "pin_first": f"1.2/{first}-{half}/1", "pin_second": f"1.2/{first}-{half}/2",
                "pin_date": f"{first}-03-12" if half == "H1" else f"{first}-10-15"}


def render(templates: Mapping[str, str], answers: Answers) -> dict[str, str]:
    """Each template (by file name) filled in with the answers."""
    values = answers.values()
    return {name: fill(text, values) for name, text in templates.items()}
