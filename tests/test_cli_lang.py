"""Every command in both languages (issue 14 item 8): its help and its output.

    help      `aarshjul --lang nb check --help` (or AARSHJUL_LANG=nb, or --lang after --help)
              is Norwegian, `--lang en` English: the command's help, its options' help and
              Typer's panel words come from the catalogs (cli_kit._said); every help text is
              a msgid the extractor finds (marked N_ where it is written); a flag shows no
              `<bool>` as if it took a value
    output    every command of the Click tree (walked as tests/test_i18n.py does) is run once
              with --lang nb and once with --lang en on the bundled plan: its --help, and a
              real invocation for each command that can run without Prefect or a server (the
              acting ones with a mistake that ends them before anything starts); Norwegian
              output holds no English words of ours and English output no Norwegian ones
"""

from __future__ import annotations

import re

import pytest

from conftest import ROOT
from i18n_extract import extract_msgids
from test_i18n import ENGLISH, NORWEGIAN, _commands, _ours, _plan_words

TODAY = ("--today", "2026-02-10")


@pytest.fixture
def cli(monkeypatch, tmp_path, capsys):
    from cli_runner import invoke
    from aarshjul.settings import get_settings

    monkeypatch.setenv("AARSHJUL_DATABASE_URL", f"sqlite:///{tmp_path / 'a.db'}")
    monkeypatch.setenv("AARSHJUL_PLAN", str(ROOT / "config" / "plan.yaml"))
    monkeypatch.setenv("AARSHJUL_SITE_DIR", str(tmp_path / "site"))
    monkeypatch.setenv("AARSHJUL_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("AARSHJUL_SECRET_KEY_FILE", str(tmp_path / "secret.key"))
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.chdir(tmp_path)

    def run(*args: str, env_lang: str | None = None) -> tuple[int, str, str]:
        if env_lang:
            monkeypatch.setenv("AARSHJUL_LANG", env_lang)
        else:
            monkeypatch.delenv("AARSHJUL_LANG", raising=False)
        return invoke(capsys, *args)

    yield run
    get_settings.cache_clear()


# --- help ----------------------------------------------------------------------------------


def test_a_flag_shows_no_value_type_in_help(cli):
    """Regression: `aarshjul --help` showed `--help <bool>` (Typer 0.29 gives every flag a
    `<bool>` type column), as if --help took a value; so did --html, --yes, --mail/--no-mail."""
    for args in (["--help"], ["newsletter", "preview", "--help"], ["run", "--help"], ["members", "--help"]):
        for lang in ("nb", "en"):
            code, out, _ = cli("--lang", lang, *args)
            assert code == 0 and "--help" in out, out
            assert "<bool>" not in out, (args, out)
    code, out, _ = cli("newsletter", "preview", "--help", "--lang", "en")
    assert re.search(r"--html\s+Print the HTML part", out), out
    assert re.search(r"--plan\s+<path>\s+The plan file", out), out  # an option with a value keeps its type


@pytest.mark.parametrize("how", ["--lang before", "--lang after", "AARSHJUL_LANG"])
def test_help_is_said_in_the_chosen_language(cli, how):
    def helped(lang: str) -> str:
        if how == "--lang before":
            code, out, err = cli("--lang", lang, "check", "--help")
        elif how == "--lang after":
            code, out, err = cli("check", "--help", "--lang", lang)
        else:
            code, out, err = cli("check", "--help", env_lang=lang)
        assert code == 0, err
        return " ".join(out.replace("│", " ").split())

    nb, en = helped("nb"), helped("en")
    assert "Bruk: aarshjul check" in nb and "Kontroller planfilene; varsle om hull" in nb, nb
    assert "Valg" in nb and "Late som om i dag er denne datoen." in nb and "Vis denne hjelpen og avslutt." in nb
    assert "Usage: aarshjul check" in en and "Validate the plan files; warn about gaps" in en, en
    assert "Options" in en and "Pretend today is this date." in en and "Show this message and exit." in en
    assert "Validate" not in nb and "Options" not in nb and "Kontroller" not in en and "Valg" not in en


def test_a_group_lists_its_commands_in_the_chosen_language(cli):
    _, nb, _ = cli("calendars", "--help")  # AARSHJUL_LANG unset: nb
    _, en, _ = cli("calendars", "--help", "--lang", "en")
    assert "Kommandoer" in nb and "Løs en konflikt i CalDAV." in nb, nb
    assert "Commands" in en and "Resolve a CalDAV conflict." in en, en


def test_a_group_given_only_lang_shows_its_help_in_that_language(cli):
    """Regression: `aarshjul calendars --lang en` said click's 'Missing command.' where
    `aarshjul calendars` shows the group's help."""
    bare, out, err = cli("calendars")
    nb = out + err
    code, out, err = cli("calendars", "--lang", "en")
    en = out + err
    assert code == bare and "Kalenderstrømmer: adressene" in nb, nb
    assert "Calendar feeds: their addresses" in en and "rotate" in en and "Missing command" not in en, en


def test_lang_given_before_the_command_is_its_language(cli):
    """Regression: `aarshjul --lang en calendars urls` answered in Norwegian (the command's
    own, absent --lang overwrote the group's)."""
    _, out, _ = cli("--lang", "en", "calendars", "urls")
    assert out.startswith("Calendar feeds"), out
    _, out, _ = cli("--lang", "nb", "measures", env_lang="en")
    assert out.startswith("Tiltak i planen"), out
    _, out, _ = cli("--lang", "en", "calendars", "--lang", "nb", "urls")  # the nearer one wins
    assert out.startswith("Kalenderstrømmer"), out


def test_help_is_put_back_after_it_is_said(cli):
    """The translation lasts while the help is printed: the command objects keep their msgids."""
    from typer.main import get_command

    from aarshjul.cli import app

    cli("check", "--help")  # nb
    check = get_command(app).commands["check"]
    assert check.help == "Validate the plan files; warn about gaps in the current year."
    assert next(p for p in check.params if p.name == "today").help == "Pretend today is this date."


def test_every_help_text_is_a_msgid_the_catalog_test_covers():
    """Each command's and option's help is found by the extractor (N_ where it is written),
    so tests/test_i18n.py fails when a catalog lacks it."""
    from typer.main import get_command

    from aarshjul.cli import app

    used = extract_msgids(ROOT)
    missing = []

    def walk(command, path):
        texts = [command.help] + [getattr(p, "help", None) for p in command.params]
        missing.extend((" ".join(path) or "aarshjul", t) for t in texts if t and t not in used)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(get_command(app), [])
    assert not missing, missing


# --- every command, in both languages --------------------------------------------------------

# Real invocations of each command, on the bundled plan (config/), an empty database and a
# small member export (members.csv, written by the fixture: two members of a branch; a member
# without one would show domain/postcodes.py's reason, still Norwegian only): read-only commands as a person runs them, recording ones with a
# mistake that ends them before anything is written (and some for real). `lang` is given so
# that a command writing files gets a folder of its own per language.
REAL = {
    "check": lambda lang: [["check", *TODAY]],
    "measures": lambda lang: [["measures"]],
    "agenda": lambda lang: [["agenda", *TODAY]],
    "gaps": lambda lang: [["gaps", "--year", "2026", "--today", "2026-11-29"]],
    "calendars urls": lambda lang: [["calendars", "urls"]],
    "calendars conflicts": lambda lang: [["calendars", "conflicts"]],
    "calendars rotate": lambda lang: [["calendars", "rotate", "nosuch"], ["calendars", "rotate", "styret"]],
    "calendars resolve": lambda lang: [["calendars", "resolve", "nosuch", "--keep", "ours"]],
    "newsletter list": lambda lang: [["newsletter", "list", *TODAY]],
    "newsletter preview": lambda lang: [["newsletter", "preview", "hva-skjer", *TODAY], ["newsletter", "preview", "x"]],
    "members import": lambda lang: [["members", "import", "finnes-ikke.csv"], ["members", "import", "members.csv", *TODAY]],
    "members unassigned": lambda lang: [["members", "import", "members.csv", *TODAY], ["members", "unassigned"]],
    "members follow-ups": lambda lang: [["members", "import", "members.csv", *TODAY], ["members", "follow-ups", *TODAY]],
    "members counts": lambda lang: [["members", "import", "members.csv", *TODAY], ["members", "counts"]],
    "members undeliverable": lambda lang: [["members", "undeliverable"]],
    "members contacted": lambda lang: [["members", "contacted", "1", "--date", "2099-01-01"]],
    "members forget": lambda lang: [["members", "import", "members.csv", *TODAY], ["members", "forget", "1", "--yes"]],
    "kpi list": lambda lang: [["kpi", "list", *TODAY]],
    "kpi record": lambda lang: [["kpi", "record", "nosuch", "5"]],
    "report": lambda lang: [["report", "2025", "--format", "md", "--out", f"{lang}/", *TODAY]],
    "done": lambda lang: [["done", "9.99", *TODAY]],
    "not-held": lambda lang: [["not-held", "9.99", "--reason", "x"]],
    "cancel": lambda lang: [["cancel", "9.99"]],
    "revoke": lambda lang: [["revoke", "1.5/2025/9"]],
    "comment": lambda lang: [["comment", "1.5", " ", "--year", "2025"], ["comment", "1.5", "x", "--year", "2031"]],
    "unsubscribe": lambda lang: [["unsubscribe", "abc.def"]],
    "init": lambda lang: [["init", f"new-{lang}", "--name", "Testlaget"], ["init", f"new-{lang}", "--name", " "]],
    "schema": lambda lang: [["schema", "nosuch"]],
    "db upgrade": lambda lang: [["db", "upgrade"]],
}
# Each of these starts Prefect (or a server) as its first step: --help only here; their
# output is tested in tests/test_run_cli.py, test_newsletter_cli.py, test_bounces*.py, test_web.py.
HELP_ONLY = {"run", "serve", "publish", "newsletter send", "reminders send", "bounces process", "web"}


@pytest.fixture(scope="module")
def words() -> list[str]:
    # the plan's own words, and identifiers printed as they are in both languages
    return _plan_words() + ["medlemmer", "medlemsnummer", "inntekt", "Testlaget", "finnes-ikke.csv"]


@pytest.fixture
def export(tmp_path):
    from test_members_db import csv_bytes, member

    (tmp_path / "members.csv").write_bytes(csv_bytes([member("1"), member("2")]))


def test_every_command_is_run_in_both_languages():
    paths = {" ".join(path) for path, _ in _commands()}
    assert paths == set(REAL) | HELP_ONLY, (paths - set(REAL) - HELP_ONLY, set(REAL) - paths)


@pytest.mark.parametrize("path", sorted(" ".join(p) for p, _ in _commands()))
def test_every_command_speaks_one_language_at_a_time(cli, words, export, path):
    """--help, then the real invocations, each in nb and then in en (in one database)."""
    ours = [*words, path]  # the command's own name (`not-held`) is no English word of ours
    steps = [[[*path.split(), "--help"]] * 2]
    if path in REAL:
        steps += list(zip(REAL[path]("nb"), REAL[path]("en")))
    for args_nb, args_en in steps:
        said = {}
        for lang, args in (("nb", args_nb), ("en", args_en)):
            code, out, err = cli(*args, "--lang", lang)
            assert "Traceback" not in err, (args, err)
            said[lang] = (code, _ours(out + err, ours), out + err)
        assert said["nb"][0] == said["en"][0], (args_en, said)
        assert not ENGLISH.findall(said["nb"][1]), (args_nb, ENGLISH.findall(said["nb"][1]), said["nb"][2])
        assert not NORWEGIAN.findall(said["en"][1]), (args_en, NORWEGIAN.findall(said["en"][1]), said["en"][2])
