"""How a command ends when something is wrong: one line, the documented exit status, no traceback.

Real processes (`python -m aarshjul`), as a person runs them. The exit statuses are those
of the tree in domain/errors.py: 2 a usage mistake or bad input, 3 a service failed,
75 another run holds the lock (try again later).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

TODAY = ("--today", "2026-02-10")


def aarshjul(*args: str, env: dict | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aarshjul", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200", "AARSHJUL_LANG": "en", **(env or {})},
                          timeout=120)  # English words asserted; both languages: tests/test_i18n.py


@pytest.fixture
def db_env(tmp_path) -> dict:
    return {"AARSHJUL_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}", "AARSHJUL_SITE_DIR": str(tmp_path / "site"),
            "AARSHJUL_OUTBOX_DIR": str(tmp_path / "outbox"), "AARSHJUL_SECRET_KEY_FILE": str(tmp_path / "secret.key"),
            "AARSHJUL_PLAN": str(ROOT / "config" / "plan.yaml")}


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


# --- usage mistakes: click's usage error, one line, exit 2 -----------------------------------

USAGE = [
    (("agenda", "--frm", "2026-01-01"), "No such option: --frm"),
    (("report",), "Missing argument"),
    (("newsletter", "list", "--lang", "de"), "Invalid value for '--lang': 'de': use nb or en"),
    (("check", "--today", "2026-13-01"), "Invalid value for '--today': '2026-13-01' is not in the calendar"),
    (("measures", "--format", "xml"), "Invalid value for '--format': 'xml': use table or json"),
    (("gaps", "--year", "neste"), "Invalid value for '--year'"),
    (("run", "--today", "i morgen"), "Invalid value for '--today': 'i morgen' is not a date"),
    (("publish", "--bogus"), "No such option: --bogus"),
    (("serve", "--chapters"), "Option '--chapters' requires an argument"),
    (("db", "upgrade", "extra"), "Got unexpected extra argument"),
    (("calendars", "resolve", "some-uid"), "Missing option '--keep'"),
    (("calendars", "resolve", "some-uid", "--keep", "mine"), "Invalid value for '--keep': 'mine': use ours or theirs"),
    (("calendars", "rotate"), "Missing argument"),
    (("newsletter", "send"), "Missing argument"),
    (("newsletter", "preview", "medlemsbrev", "--html=yes"), "Option '--html' does not take a value"),
    (("reminders", "send", "--today", "2026-02-30"), "Invalid value for '--today'"),
    (("unsubscribe",), "Missing argument"),
    (("members", "import"), "Missing argument"),
    (("members", "contacted", "1", "--date", "tomorrow"), "Invalid value for '--date'"),
    (("done",), "Missing argument"),
    (("not-held", "1.5/2026/1"), "Missing option '--reason'"),
    (("kpi", "record", "inntekt"), "Missing argument"),
    (("kpi", "list", "--format", "csv"), "Invalid value for '--format'"),
    (("report", "2025", "--format", "docx"), "Invalid value for '--format': 'docx': use html or pdf or md"),
    (("nosuchcommand",), "No such command 'nosuchcommand'"),
]


@pytest.mark.parametrize("args, message", USAGE, ids=[" ".join(a) for a, _ in USAGE])
def test_a_usage_mistake_prints_one_line_and_exits_2(args, message, db_env, tmp_path):
    result = aarshjul(*args, env=db_env, cwd=tmp_path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stdout == ""
    [line] = lines(result.stderr)
    line = line.replace(" (env var: 'None')", "")  # Typer 0.16-0.2x with click 8.2 adds it to a bad value
    assert line.startswith("Error: ") and message in line, line
    assert not (tmp_path / "a.db").exists()  # nothing ran


def test_a_group_without_a_command_shows_its_help():
    result = aarshjul("members")
    assert result.returncode in (0, 2) and "Traceback" not in result.stderr  # click 8.1: 0, click 8.2+: 2
    assert "import" in result.stdout + result.stderr and "follow-ups" in result.stdout + result.stderr


# --- what used to end in a traceback -------------------------------------------------------


def test_an_impossible_edition_exits_2_in_one_line_before_prefect_starts(db_env, tmp_path):
    result = aarshjul("newsletter", "send", "medlemsbrev", "--edition", "2026-13", env=db_env, cwd=tmp_path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert lines(result.stderr) == ["error: '2026-13' is not an edition of medlemsbrev; write YYYY-MM (or YYYY-MM-DD)"]
    assert "prefect" not in result.stdout.lower() + result.stderr.lower()


@pytest.mark.parametrize("args", [("newsletter", "list", "--lang", "en"), ("calendars", "urls", "--lang", "en"),
                                  ("newsletter", "preview", "hva-skjer", "--lang", "en")])
def test_lang_is_accepted_where_it_was_refused(args, db_env, tmp_path):
    result = aarshjul(*args, *TODAY, env=db_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_aarshjul_lang_is_the_default_for_lang(db_env, tmp_path):
    result = aarshjul("check", "--today", "2026-11-29", env={**db_env, "AARSHJUL_LANG": "en"}, cwd=tmp_path)
    assert result.returncode == 0 and "The plan is valid" in result.stdout
    result = aarshjul("newsletter", "list", *TODAY, env={**db_env, "AARSHJUL_LANG": "en"}, cwd=tmp_path)
    assert result.returncode == 0 and "Newsletters" in result.stdout


def test_a_plan_error_exits_2_listing_its_problems_without_a_traceback(files):
    files.edit("plan.yaml", "bodies: [styret, bystyregruppen]", "bodies: [styret, bystyregrupen]")
    result = aarshjul("agenda", "--plan", str(files.plan))
    assert result.returncode == 2 and "Traceback" not in result.stderr and result.stdout == ""
    heading, problem, *rest = lines(result.stderr)
    assert heading == "The plan has 1 problem:"
    assert "unknown body 'bystyregrupen'" in problem


def test_a_bad_setting_exits_2_naming_it(db_env, tmp_path):
    result = aarshjul("check", env={**db_env, "AARSHJUL_CALDAV_RETRIES": "mange"}, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "AARSHJUL_CALDAV_RETRIES" in result.stderr


def test_a_database_that_cannot_be_reached_exits_3(tmp_path):
    """Nothing listens on port 9 of loopback: the database is down (ServiceError, exit 3)."""
    pytest.importorskip("psycopg")
    result = aarshjul("calendars", "urls", env={"AARSHJUL_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/x",
                                                "AARSHJUL_PLAN": str(ROOT / "config" / "plan.yaml")}, cwd=tmp_path)
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    [line] = lines(result.stderr)
    assert line.startswith("error: database error")


# --- another run holds the lock: exit 75, before Prefect starts ----------------------------------


@pytest.mark.parametrize("args, lock", [
    (("newsletter", "send", "medlemsbrev", "--edition", "2026-01"), "send-newsletter"),
    (("reminders", "send"), "send-reminders"),
    (("publish",), "publish-calendars"),
    (("run", "--no-mail"), "publish-calendars"),
])
def test_a_command_whose_lock_is_held_exits_75_at_once(args, lock, db_env, tmp_path):
    from aarshjul.db.locks import Busy, exclusive
    from aarshjul.db.migrate import upgrade

    assert Busy.exit_status == 75 and Busy.transient
    url = db_env["AARSHJUL_DATABASE_URL"]
    upgrade(url)
    with exclusive(url, f"{lock}:bergen-sv"):  # another run, in this process
        result = aarshjul(*args, *TODAY, env=db_env, cwd=tmp_path)
    assert result.returncode == 75, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "prefect" not in result.stderr.lower()
    [line] = lines(result.stderr)
    assert line.startswith("error: another run is in progress (")


# --- values are never Rich markup --------------------------------------------------------------


def test_a_name_that_looks_like_markup_is_printed_as_it_is(files):
    files.edit("plan.yaml", "title: Engangsfrist", 'title: "Engangsfrist [/x] [bold]fet[/bold]"')
    files.edit("organisation.yaml", "name: Testlaget", 'name: "[red]Testlaget[/]"')
    for args in (("measures",), ("agenda", "--from", "2025-01-01", "--to", "2025-12-31"), ("check",)):
        result = aarshjul(*args, "--plan", str(files.plan), "--today", "2025-06-01")
        assert result.returncode == 0, (args, result.stderr)
        assert "Engangsfrist [/x] [bold]fet[/bold]" in result.stdout or args == ("check",), result.stdout
    result = aarshjul("agenda", "--plan", str(files.plan), "--body", "[/x]")
    assert result.returncode == 2 and "unknown body '[/x]'" in result.stderr


# --- the tree is complete and drawn with the right statuses ------------------------------------


def _all_errors() -> set[type]:
    import aarshjul
    from aarshjul.domain.errors import AarshjulError

    for sub in ("domain", "db", "tasks", "web"):
        package = importlib.import_module(f"aarshjul.{sub}")
        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"aarshjul.{sub}.{info.name}")
    assert aarshjul
    found, todo = set(), [AarshjulError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo += cls.__subclasses__()
    return found


def test_every_error_class_is_in_the_tree_with_its_exit_status_and_transience():
    from aarshjul.domain import errors

    drawn = {}
    for m in re.finditer(r"^\s*[│├└─ ]*(\w+)\s+(\d+)\s+(yes|no|per case)\s", errors.__doc__, re.M):
        drawn[m[1]] = (int(m[2]), m[3])
    classes = _all_errors()
    assert {c.__name__ for c in classes} == set(drawn), "every class in the docstring, and only those"
    for cls in classes:
        status, transient = drawn[cls.__name__]
        assert cls.exit_status == status, cls
        if transient != "per case":
            assert cls.transient == (transient == "yes"), cls


def test_readme_lists_the_exit_statuses():
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Exit statuses", 1)[1].split("\n## ", 1)[0]
    for status in ("0", "1", "2", "3", "75"):
        assert f"| {status} |" in section, status


def test_an_edition_the_plan_does_not_schedule_exits_2_before_prefect_starts(tmp_path):
    """Regression (issue 15 item 10): `newsletter send medlemsbrev --edition 9999-12` sent at once to everyone."""
    import subprocess
    import sys

    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("PREFECT_")}
    env.update({"AARSHJUL_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}", "AARSHJUL_OUTBOX_DIR": str(tmp_path / "o"),
                "PREFECT_API_URL": "http://127.0.0.1:9/api"})  # never reached: refused before Prefect starts
    done = subprocess.run([sys.executable, "-m", "aarshjul", "newsletter", "send", "medlemsbrev", "--edition",
                           "9999-12"], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 2, done.stderr
    assert "--force" in done.stderr and "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
