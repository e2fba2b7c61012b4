"""Two languages everywhere (issue 14 item 8): the catalogs are complete, every command takes
--lang and honours AARSHJUL_LANG, and Norwegian output holds no English words of ours
(and English output no Norwegian ones), errors included.

The catalogs are domain/locale/<lang>/LC_MESSAGES/aarshjul.po; the msgids are found in the
code with Babel's extractor, as pybabel would (tests/i18n_extract.py, babel.cfg).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import ROOT, yaml_texts
from i18n_extract import extract_msgids

LANGS = ("nb", "en")


# --- the catalogs --------------------------------------------------------------------------


def _read(lang: str):
    from babel.messages.pofile import read_po

    from aarshjul.domain.i18n import catalog_path

    with catalog_path(lang).open("rb") as f:
        return read_po(f, locale=lang)


@pytest.fixture(scope="module")
def used() -> dict[str, str | None]:
    return extract_msgids(ROOT)


@pytest.mark.parametrize("lang", LANGS)
def test_every_message_the_code_uses_is_translated_in_both_catalogs(lang, used):
    catalog = {(m.id if isinstance(m.id, str) else m.id[0]): m for m in _read(lang) if m.id}
    missing = [msgid for msgid in used if msgid not in catalog]
    empty = [msgid for msgid in used if msgid in catalog and not (
        all(catalog[msgid].string) if isinstance(catalog[msgid].string, (tuple, list)) else catalog[msgid].string)]
    fuzzy = [msgid for msgid in used if msgid in catalog and catalog[msgid].fuzzy]
    assert not missing, f"not in {lang}'s catalog (README, Translations): {missing}"
    assert not empty, f"empty in {lang}'s catalog: {empty}"
    assert not fuzzy, f"fuzzy in {lang}'s catalog: {fuzzy}"


@pytest.mark.parametrize("lang", LANGS)
def test_a_translation_keeps_the_placeholders_of_its_msgid(lang):
    for m in _read(lang):
        if not m.id:
            continue
        ids = [m.id] if isinstance(m.id, str) else list(m.id)
        strings = [m.string] if isinstance(m.string, str) else list(m.string)
        wanted = _placeholders(ids[-1]) | _placeholders(ids[0])
        for s in strings:
            assert _placeholders(s) <= wanted, (lang, m.id, s)
            if any(kind == "%" for kind, _ in wanted):  # a template's msgid: Jinja fills it with `%`
                assert not re.search(r"%(?!\(\w+\)s|%)", re.sub(r"%%", "", s)), (lang, m.id, s)


def _placeholders(text: str) -> set[tuple[str, str]]:
    """{name} (str.format, in code) and %(name)s (a template's {% trans %} msgid), by kind."""
    return {("{", a) if a else ("%", b) for a, b in re.findall(r"\{(\w+)|%\((\w+)\)s", text)}


def test_the_placeholder_check_knows_template_msgids():
    assert _placeholders("Hi %(first_name)s, {n} left") == {("%", "first_name"), ("{", "n")}
    assert not _placeholders("Hei %(fornavn)s,") <= _placeholders("Hi %(first_name)s,")


def test_the_extractor_finds_messages_in_every_style(used):
    """_(lang, …), ngettext(lang, …), N_, Msg, kit.tr: a msgid of each is found."""
    for msgid in ("The plan is valid", "The plan has {n} problem:", "unknown {what} {name!r}",
                  "{option} {text!r} is not a date; write YYYY-MM-DD, like 2025-03-26",
                  "--to {end} is before --from {start}", "Invalid value for {p}: "):
        assert msgid in used, msgid
    assert used["The plan has {n} problem:"] == "The plan has {n} problems:"


def test_a_missing_or_fuzzy_translation_is_caught(tmp_path, monkeypatch):
    """The check itself: a .po with one message untranslated and one fuzzy fails it."""
    from babel.messages.catalog import Catalog

    from aarshjul.domain import i18n

    cat = Catalog(locale="nb", domain="aarshjul")
    cat.add("The plan is valid", "")
    cat.add("Agenda", "Agenda", flags=["fuzzy"])
    path = tmp_path / "nb" / "LC_MESSAGES" / "aarshjul.po"
    path.parent.mkdir(parents=True)
    from babel.messages.pofile import write_po

    with path.open("wb") as f:
        write_po(f, cat)
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.catalog.cache_clear()
    try:
        assert i18n.catalog("nb") == {}  # neither is used: the msgid would show
        assert i18n._("nb", "The plan is valid") == "The plan is valid"
    finally:
        monkeypatch.undo()
        i18n.catalog.cache_clear()
    assert i18n._("nb", "The plan is valid") == "Planen er gyldig"


def test_the_catalogs_are_package_data():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"aarshjul.domain" = ["locale/*/LC_MESSAGES/*.po"]' in text


# --- --lang on every command ---------------------------------------------------------------


def _commands():
    import typer.main

    from aarshjul.cli import app

    def walk(command, path):
        subs = getattr(command, "commands", None)
        if subs is None:
            yield path, command
            return
        for name, sub in subs.items():
            yield from walk(sub, [*path, name])

    return list(walk(typer.main.get_command(app), []))


def test_every_command_has_lang_in_its_help(capsys):
    from aarshjul.cli import main

    commands = _commands()
    assert len(commands) > 25
    for path, _command in commands:
        try:
            main([*path, "--help"])
        except SystemExit as done:
            assert done.code in (0, None)
        out = capsys.readouterr().out
        assert "--lang" in out, " ".join(path)


@pytest.fixture
def cli(monkeypatch, tmp_path, capsys):
    from cli_runner import invoke
    from aarshjul.settings import get_settings

    monkeypatch.setenv("AARSHJUL_DATABASE_URL", f"sqlite:///{tmp_path / 'a.db'}")
    monkeypatch.setenv("AARSHJUL_PLAN", str(ROOT / "config" / "plan.yaml"))
    monkeypatch.setenv("AARSHJUL_SITE_DIR", str(tmp_path / "site"))
    monkeypatch.setenv("AARSHJUL_SECRET_KEY_FILE", str(tmp_path / "secret.key"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("AARSHJUL_LANG", raising=False)
    monkeypatch.chdir(tmp_path)

    def run(*args: str, env_lang: str | None = None) -> tuple[int, str, str]:
        if env_lang:
            monkeypatch.setenv("AARSHJUL_LANG", env_lang)
        else:
            monkeypatch.delenv("AARSHJUL_LANG", raising=False)
        return invoke(capsys, *args)

    yield run
    get_settings.cache_clear()


def test_newsletter_list_and_calendars_urls_take_lang_en(cli):
    """Regression: both rejected --lang with a traceback."""
    code, out, err = cli("newsletter", "list", "--today", "2026-02-10", "--lang", "en")
    assert code == 0, err
    assert "Newsletter" in out or "newsletter" in out
    code, out, err = cli("calendars", "urls", "--lang", "en")
    assert code == 0, err
    assert ".ics" in out


@pytest.mark.parametrize("args", [("members", "counts"), ("kpi", "list"), ("report", "2025", "--format", "md"),
                                  ("done", "9.99"), ("not-held", "9.99", "--reason", "x"), ("cancel", "9.99")])
def test_commands_that_had_no_lang_take_it_and_answer_in_it(cli, args):
    for lang in LANGS:
        code, out, err = cli(*args, "--lang", lang)
        assert "Traceback" not in err and "No such option" not in err and "Ukjent valg" not in err, err


@pytest.mark.parametrize("args", [("agenda", "--body", "nobody"), ("done", "9.99", "--today", "2026-02-10")])
def test_aarshjul_lang_is_honoured_and_lang_wins_over_it(cli, args):
    _, _, nb = cli(*args)
    _, _, en_env = cli(*args, env_lang="en")
    _, _, en_opt = cli(*args, "--lang", "en")
    _, _, nb_opt = cli(*args, "--lang", "nb", env_lang="en")
    assert nb.startswith("feil: ukjent ") and nb_opt == nb
    assert en_env.startswith("error: unknown ") and en_opt == en_env


# --- no English in Norwegian output, no Norwegian in English output ------------------------

# words of ours that give the other language away (plan content is taken out first)
ENGLISH = re.compile(r"\b(the|unknown|did you mean|error|invalid|missing|warnings?|problems?|is not|required|"
                     r"Measures?|Title|Responsible|Cadence|Date|Time|Key|pinned|held|unscheduled|deadline|"
                     r"write|outside|before|after|No such|Got unexpected|hint)\b")
NORWEGIAN = re.compile(r"\b(ikke|mente du|ukjent|feil|Feil|Planen|advarsler|kreves|berammet|forekomster?|"
                       r"Hyppighet|Ansvar|Tittel|Nøkkel|hele dagen|skriv|Ugyldig|utenfor|frist|fristen|"
                       r"innen|tips|kvote|løpende|planlagt|avlyst|mål|tiltak|Tiltak|ingen|delmål|målinger|medlemmer|"
                       r"Medlemmer|dager|registrert|Nye|Totalt)\b")


def _plan_words() -> list[str]:
    """Every text of the bundled plan's files (titles, names, places): the organisation's
    own words, printed as they are in either language."""
    found: set[str] = set()
    for value in yaml_texts(*Path(ROOT / "config").glob("*.yaml"), keys=True):
        if len(value) > 2:
            found.add(value)
            found.update(part.strip() for part in value.split("\n") if len(part.strip()) > 2)
    return sorted(found, key=len, reverse=True)


def _ours(text: str, words: list[str]) -> str:
    for w in words:
        text = text.replace(w, " ")
    return text


READ_ONLY = [("check", "--today", "2026-02-10"), ("measures",), ("agenda", "--today", "2026-02-10"),
             ("gaps", "--year", "2026", "--today", "2026-11-29"), ("members", "counts"), ("members", "unassigned"),
             ("members", "follow-ups", "--today", "2026-02-10"), ("kpi", "list", "--today", "2026-02-10"),
             ("newsletter", "list", "--today", "2026-02-10"), ("calendars", "conflicts")]
ERRORS = [("agenda", "--body", "nobody"), ("agenda", "--measure", "9.99"), ("agenda", "--from", "2026-02-30"),
          ("agenda", "--from", "i morgen"), ("agenda", "--frm", "2026-01-01"), ("agenda", "x"),
          ("agenda", "--format", "xml"), ("gaps", "--year", "2031"), ("agenda", "--to", "2020-01-01"),
          ("done", "1.5", "--today", "2025-11-29"), ("cancel", "1.1"), ("unsubscribe", "abc.def"),
          ("done", "1.5/2024/1", "--evidence", "ftp:nope", "--today", "2025-11-29"), ("nosuch",),
          ("done", "1.7/2025-12-25", "--today", "2025-11-29"), ("revoke", "1.5/2025/9"),
          ("kpi", "record", "nosuch", "5"), ("kpi", "record", "inntekt", "mye"), ("members", "contacted", "1",
                                                                                  "--date", "2099-01-01"),
          ("comment", "1.5", " ", "--year", "2025"), ("not-held", "1.5/2025/1", "--reason", " ")]


@pytest.mark.parametrize("args", READ_ONLY + ERRORS, ids=[" ".join(a) for a in READ_ONLY + ERRORS])
def test_no_english_in_norwegian_output_and_no_norwegian_in_english(cli, args):
    words = _plan_words()
    code_nb, out_nb, err_nb = cli(*args, "--lang", "nb")
    code_en, out_en, err_en = cli(*args, "--lang", "en")
    assert code_nb == code_en
    assert "Traceback" not in err_nb + err_en
    nb, en = _ours(out_nb + err_nb, words), _ours(out_en + err_en, words)
    assert not ENGLISH.findall(nb), (ENGLISH.findall(nb), out_nb + err_nb)
    assert not NORWEGIAN.findall(en), (NORWEGIAN.findall(en), out_en + err_en)


def test_a_plan_error_is_said_in_the_chosen_language(cli, tmp_path):
    """The heading and the problems of a PlanError: 'Planen har 1 feil' / 'The plan has 1 problem'."""
    import shutil

    folder = tmp_path / "p"
    shutil.copytree(ROOT / "tests" / "data" / "minimal", folder)
    plan = folder / "plan.yaml"
    text = plan.read_text(encoding="utf-8")
    plan.write_text(text.replace("bodies: [styret]", "bodies: [styre]", 1), encoding="utf-8")
    code_nb, _, err_nb = cli("check", "--plan", str(plan), "--lang", "nb")
    code_en, _, err_en = cli("check", "--plan", str(plan), "--lang", "en")
    if "bodies: [styret]" not in text:
        pytest.fail("the minimal plan changed: pick another mistake")
    assert code_nb == code_en == 2
    assert err_nb.startswith("Planen har 1 feil:") and "ukjent organ 'styre'" in err_nb, err_nb
    assert err_en.startswith("The plan has 1 problem:") and "unknown body 'styre'" in err_en, err_en


def test_numbers_and_plurals_by_babel():
    from aarshjul.domain import i18n

    assert i18n.ngettext("nb", "{n} occurrence", "{n} occurrences", 1) == "1 forekomst"
    assert i18n.ngettext("nb", "{n} occurrence", "{n} occurrences", 1234) == "1\u00a0234 forekomster"
    assert i18n.ngettext("en", "{n} occurrence", "{n} occurrences", 1234) == "1,234 occurrences"
    assert i18n.word("quota", "nb") == "kvote" and i18n.word("quota", "en") == "quota"


def test_one_commands_lang_does_not_outlive_it(cli, monkeypatch):
    """Regression: --lang en given to one command (in this process) made the next command,
    invoked without it on a command group, answer in English."""
    from typer.testing import CliRunner

    from aarshjul.cli_report import report_cli

    code, _, err = cli("agenda", "--body", "nobody", "--lang", "en")
    assert code == 2 and err.startswith("error: unknown body")
    result = CliRunner().invoke(report_cli, ["comment", "1.5", " ", "--year", "2025"])
    assert "kommentaren er tom" in str(result.exception), result.exception
