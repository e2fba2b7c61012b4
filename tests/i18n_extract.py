"""The msgids the code uses, found with Babel's extractor as pybabel would (babel.cfg's
keywords): {msgid: plural or None}. Shared by tests/test_i18n.py."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir

# the message functions, and which of their arguments are the msgids (domain/i18n.py, cli_kit.tr)
KEYWORDS = {"_": (2,), "ngettext": (2, 3), "N_": None, "Msg": None, "tr": None, "ntr": (1, 2)}
JINJA_KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}
PACKAGES = ("aarshjul", "domain", "db", "tasks", "flows", "web")


def extract_msgids(root: Path) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for package in PACKAGES:
        for _file, _line, message, _comments, _context in extract_from_dir(
                str(root / package), method_map=[("**.py", "python")], keywords=KEYWORDS, comment_tags=()):
            if isinstance(message, tuple):
                found[message[0]] = message[1]
            else:
                found[message] = None
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(root / "templates"), method_map=[("**.j2", "jinja2")], keywords=JINJA_KEYWORDS,
            options_map={"**.j2": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}, comment_tags=()):
        if isinstance(message, tuple):
            found[message[0]] = message[1]
        else:
            found[message] = None
    return found


def write_pot(root: Path, out: Path) -> int:
    """Every msgid the code and the templates use, as a .pot for `pybabel update`."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    catalog = Catalog(project="aarshjul")
    for msgid, plural in extract_msgids(root).items():
        catalog.add((msgid, plural) if plural else msgid)
    with out.open("wb") as f:
        write_po(f, catalog, sort_output=True)
    return len(catalog)


if __name__ == "__main__":  # python tests/i18n_extract.py /tmp/aarshjul.pot
    import sys

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/aarshjul.pot")
    print(f"{write_pot(Path(__file__).resolve().parent.parent, target)} messages -> {target}")
