"""Output for people and for scripts (issue 14 item 9): tables never cut an identifier,
every listing command prints JSON (and plain lines), counts of people are whole, and the
plan's raw ids are shown in words.

Through `aarshjul.cli.main` in this process, with the console's width from COLUMNS."""

from __future__ import annotations

import json
from datetime import date

import pytest

from conftest import BUNDLED_PLAN


@pytest.fixture
def cli(monkeypatch, tmp_path, capsys):
    """run(*args, columns=80) -> (exit status, stdout, stderr), with a temporary database."""
    from aarshjul import cli_kit
    from cli_runner import invoke
    from aarshjul.settings import get_settings

    db = tmp_path / "a.db"
    monkeypatch.setenv("AARSHJUL_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("AARSHJUL_PLAN", str(BUNDLED_PLAN))
    monkeypatch.setenv("AARSHJUL_SECRET_KEY_FILE", str(tmp_path / "secret.key"))
    monkeypatch.setenv("AARSHJUL_SITE_DIR", str(tmp_path / "site"))
    monkeypatch.setenv("AARSHJUL_SITE_URL", "https://kalender.bergen.sv.example.org/aarshjul/kalendere")
    monkeypatch.delenv("AARSHJUL_LANG", raising=False)
    monkeypatch.setattr(cli_kit.out, "_width", None)  # the width from COLUMNS at each print, as in a terminal
    monkeypatch.chdir(tmp_path)

    def run(*args: str, columns: int = 80) -> tuple[int, str, str]:
        monkeypatch.setenv("COLUMNS", str(columns))
        return invoke(capsys, *args)

    yield run
    get_settings.cache_clear()


AGENDA = ("agenda", "--from", "2026-01-01", "--to", "2026-12-31", "--today", "2026-11-29")


def test_agenda_at_80_columns_shows_every_key_whole(cli):
    """Regression: at 80 columns the agenda cut its keys ('3.4/2026/…'), the ones
    schedule.yaml and `done` need."""
    code, out, err = cli(*AGENDA, "--format", "json")
    assert code == 0, err
    keys = [o["key"] for o in json.loads(out)]
    assert len(keys) > 30 and "3.4/2026/arbeidernes-dag" in keys
    for columns in (80, 120, 200):  # narrow (a row's lines), or a table: the keys whole either way
        code, out, err = cli(*AGENDA, columns=columns)
        assert code == 0, err
        missing = [k for k in keys if k not in out]
        assert missing == [] and "…" not in out, columns
        assert ("┃" in out) == (columns > 80)
        if "┃" in out:
            assert max(len(line) for line in out.splitlines()) <= columns


def test_a_narrow_terminal_gets_each_row_as_lines_with_its_headers(cli):
    code, out, err = cli("gaps", "--year", "2026", "--today", "2026-11-29", columns=80)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "Hull i planen 2026"
    first = lines.index("3.5  Arrangement under Kvinnefestivalen  2026")
    assert lines[first + 1] == "    Krav: 1 · Berammet: 0 · Holdt: 0 · Mangler: 1 · Frist: 15. mars 2026 · Status: forfalt"


def test_agenda_plain_is_one_tab_separated_line_per_occurrence(cli):
    code, out, err = cli(*AGENDA, "--format", "plain")
    assert code == 0, err
    lines = out.splitlines()
    code, data, _ = cli(*AGENDA, "--format", "json")
    assert [line.split("\t")[2] for line in lines] == [o["key"] for o in json.loads(data)]
    assert all(len(line.split("\t")) == 6 for line in lines)
    assert "┃" not in out and "│" not in out


def test_calendar_urls_at_80_columns_are_whole_and_as_json(cli):
    """Regression: `calendars urls` wrapped each address over three or four lines inside
    box characters at 80 columns, and had no JSON."""
    code, out, err = cli("calendars", "urls", "--format", "json")
    assert code == 0, err
    feeds = json.loads(out)
    assert {"feed", "name", "public", "url"} <= feeds[0].keys()
    urls = [f["url"] for f in feeds]
    assert all(u.startswith("https://kalender.bergen.sv.example.org/") and u.endswith(".ics") for u in urls)
    assert any(len(u) > 80 for u in urls)  # longer than the terminal, and still whole below
    code, out, err = cli("calendars", "urls")
    assert code == 0, err
    lines = [line.strip() for line in out.splitlines()]
    assert [u for u in urls if u not in lines] == []  # each address whole, on a line of its own
    assert "│" not in out
    code, plain, err = cli("calendars", "urls", "--format", "plain")
    assert [line.split("\t")[2] for line in plain.splitlines()] == urls


@pytest.mark.parametrize("args, need", [
    (("measures",), {"number", "goal", "title", "cadence", "cadence_text", "bodies"}),
    (("gaps", "--year", "2026", "--today", "2026-11-29"), {"measure", "title", "window", "missing", "keys"}),
    (("newsletter", "list", "--today", "2026-11-29"), {"id", "name", "audience", "audience_text", "schedule",
                                                       "next_edition", "next_date"}),
    (("kpi", "list", "--today", "2026-11-29"), {"name", "title", "source", "status", "value", "points"}),
    (("calendars", "urls"), {"feed", "name", "url"}),
])
def test_every_listing_prints_json_with_its_full_keys(cli, args, need):
    code, out, err = cli(*args, "--format", "json", columns=40)
    assert code == 0, err
    rows = json.loads(out)
    assert rows and all(need <= r.keys() for r in rows), rows[0]
    code, plain, err = cli(*args, "--format", "plain", columns=40)
    assert code == 0, err
    assert len(plain.splitlines()) == len(rows)


@pytest.mark.parametrize("args", [("members", "unassigned"), ("members", "counts"), ("members", "follow-ups"),
                                  ("members", "undeliverable"), ("calendars", "conflicts")])
def test_lists_that_are_empty_print_json_and_plain(cli, args):
    code, out, err = cli(*args, "--format", "json")
    assert code == 0, err
    assert json.loads(out) == []
    code, out, err = cli(*args, "--format", "plain")
    assert code == 0 and out == ""


def test_newsletter_json_names_the_next_edition_whole(cli):
    code, out, err = cli("newsletter", "list", "--today", "2026-11-29", "--format", "json")
    assert code == 0, err
    letters = {r["id"]: r for r in json.loads(out)}
    assert letters["medlemsbrev"]["next_edition"] == "medlemsbrev/2026-12"
    assert letters["medlemsbrev"]["next_date"] == "2026-12-31"
    assert letters["medlemsbrev"]["audience"] == {"all": True}


def test_measures_and_newsletter_list_show_words_not_raw_ids(cli):
    """Regression: `measures` showed 'member_joined, 30 d' and the RRULE as written;
    `newsletter list` 'all: True' and 'FREQ=MONTHLY;…'."""
    code, out, err = cli("measures", columns=200)
    assert code == 0, err
    assert "member_joined" not in out and "dues_unpaid" not in out and "FREQ=" not in out
    assert "per medlem: innen 30 dager etter innmelding" in out
    assert "serie: månedlig, siste torsdag, unntatt juli" in out
    code, out, err = cli("newsletter", "list", "--today", "2026-11-29", columns=200)
    assert code == 0, err
    assert "all: True" not in out and "each_branch" not in out and "FREQ=" not in out
    assert "alle medlemmer" in out and "månedlig, siste torsdag, unntatt juli" in out
    code, out, err = cli("newsletter", "list", "--today", "2026-11-29", "--lang", "en", columns=200)
    assert "all members" in out and "monthly, last Thursday, except July" in out


@pytest.mark.parametrize("rule, nb, en", [
    ("FREQ=MONTHLY;BYDAY=1TU", "månedlig, første tirsdag", "monthly, first Tuesday"),
    ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH", "hver 2. uke, mandag og torsdag", "every 2 weeks, Monday and Thursday"),
    ("FREQ=MONTHLY;BYMONTHDAY=1;BYMONTH=3,9", "månedlig, den 1., i mars, september", "monthly, on day 1, in March, September"),
    ("FREQ=YEARLY;BYWEEKNO=10", "årlig, BYWEEKNO=10", "yearly, BYWEEKNO=10"),
])
def test_rrule_in_words(rule, nb, en):
    from aarshjul.cli_plan import rrule_text

    assert (rrule_text(rule, "nb"), rrule_text(rule, "en")) == (nb, en)


def test_counts_of_people_are_whole_numbers(bundled):
    """Regression: targets printed fractions of people ('21,8 medlemmer'): the straight
    line's point is rounded up, as progress judges it (on track with 22, behind with 21)."""
    from aarshjul.domain.targets import Measurement, load_targets, progress, targets_path

    targets = load_targets(targets_path(bundled), bundled)
    members = targets.get("medlemmer")
    period = (bundled.period.start, bundled.period.end)
    pts = [Measurement(date(2024, 1, 1), 20), Measurement(date(2025, 6, 1), 21)]  # a small branch: +200 is far
    p = progress(members, pts, 2025, date(2025, 6, 1), period)
    assert p.show(21.8) == "22 medlemmer" and p.show(1021) == "1\u00a0021 medlemmer"
    assert "burde tallet nå være 91 medlemmer" in p.detail, p.detail  # 90.8 on the line
    assert "," not in p.detail.replace(", ", " "), p.detail  # no decimal comma anywhere in the sentence
    assert p.status == "behind"
    share = progress(targets.get("andel-aktive"), [Measurement(date(2025, 1, 1), 0.423)], 2025,
                     date(2025, 1, 20), period)
    assert share.show(0.423) == "42 %"
