"""Undo and sane defaults (issue 14 item 10): `done` of a future occurrence needs --date;
a record made by mistake is revoked, kept in the log as revoked (who, when), and read as
never recorded by the report, gaps, reminders and calendars."""

from __future__ import annotations

import json
import os

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from aarshjul.cli_report import report_cli
from aarshjul.db.models import Completion
from aarshjul.db.session import make_engine, session_scope
from aarshjul.domain.errors import AarshjulError
from aarshjul.settings import get_settings
from conftest import ROOT

runner = CliRunner()
TODAY = ("--today", "2025-11-29")


@pytest.fixture
def env(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'aarshjul.db'}"
    monkeypatch.setenv("AARSHJUL_DATABASE_URL", url)
    monkeypatch.setenv("AARSHJUL_PLAN", str(ROOT / "config" / "plan.yaml"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def ok(*args: str) -> str:
    result = runner.invoke(report_cli, [*args, *TODAY])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def fails(*args: str) -> AarshjulError:
    result = runner.invoke(report_cli, [*args, *TODAY])
    assert isinstance(result.exception, AarshjulError), (result.output, result.exception)
    return result.exception


def completions(url: str) -> list[Completion]:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            rows = list(session.scalars(select(Completion).order_by(Completion.id)))
            session.expunge_all()
            return rows
    finally:
        engine.dispose()


# --- done in the future ----------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (("done", "1.7/2025-12-25"), "1.7/2025-12-25 er planlagt 25. desember 2025, etter i dag (29. november 2025); "
                                 "oppgi datoen den ble holdt med --date"),
    (("done", "1.5/2026/1"), "1.5/2026/1 gjelder fra 1. januar 2026, etter i dag"),  # a slot whose window opens next year
    (("not-held", "1.7/2025-12-25", "--reason", "Ingen tekst"), "bruk `aarshjul cancel 1.7/2025-12-25 --reason"),
])
def test_done_of_a_future_occurrence_needs_date(env, args, message):
    """Regression: `done` without --date recorded a meeting next week as held today."""
    exc = fails(*args)
    assert message in exc.say("nb") and exc.exit_status == 2
    assert not os.path.exists(env.removeprefix("sqlite:///")) or completions(env) == []


def test_done_of_a_future_occurrence_with_date_records_that_day(env):
    out = ok("done", "1.7/2025-12-25", "--date", "2025-11-28")
    assert "registrert som gjennomført 28. november 2025" in out
    assert [r.on_date.isoformat() for r in completions(env)] == ["2025-11-28"]


def test_done_of_a_past_occurrence_still_defaults_to_its_day(env):
    assert "gjennomført 27. mars 2025" in ok("done", "1.7/2025-03-27")


# --- revoke ----------------------------------------------------------------------------------


def test_a_revoked_record_stays_in_the_log_and_counts_nowhere(env, bundled):
    from aarshjul.db.agenda import held_keys
    from aarshjul.db.completions import completions as live, recorded_keys, revoked

    ok("done", "1.5/2025/1", "--date", "2025-03-26", "--attendance", "12")
    out = ok("revoke", "1.5/2025/1", "--by", "Kari")
    assert "1.5/2025/1: registreringen (gjennomført 26. mars 2025) er trukket tilbake" in out
    [row] = completions(env)
    assert row.revoked_by == "Kari" and row.revoked_at is not None
    assert (row.occurrence_key, row.outcome, row.attendance) == ("1.5/2025/1", "held", 12)  # the record as it was
    assert row.ref == f"1.5/2025/1!revoked-{row.id}"
    engine = make_engine(env)
    try:
        with session_scope(engine) as s:
            org = bundled.organisation.id
            assert held_keys(s, org) == set() and recorded_keys(s, org) == set() and live(s, org) == []
            assert [r.revoked_by for r in revoked(s, org)] == ["Kari"]
    finally:
        engine.dispose()

    result = runner.invoke(report_cli, ["report", "2025", "--format", "md", "--out", "r.md", *TODAY])
    assert result.exit_code == 0, result.output
    report = open("r.md", encoding="utf-8").read()
    [line] = [x for x in report.splitlines() if "`1.5/2025/1`" in x]
    assert "| kommer |" in line and "holdt" not in line and "26. mars" not in line, line

    ok("done", "1.5/2025/1", "--date", "2025-04-02")  # recorded again, as a new record
    rows = completions(env)
    assert [(r.ref.split("!")[0], r.on_date.isoformat(), r.revoked_at is None) for r in rows] == [
        ("1.5/2025/1", "2025-03-26", False), ("1.5/2025/1", "2025-04-02", True)]


def test_gaps_read_a_revoked_record_as_not_held(env):
    from aarshjul.cli import main

    ok("done", "1.5/2025/1", "--date", "2025-03-26")
    ok("done", "1.5/2025/2", "--date", "2025-09-10")

    def held() -> int:
        import io
        from contextlib import redirect_stdout

        buf = io.StringIO()
        with redirect_stdout(buf):
            try:
                main(["gaps", "--year", "2025", "--format", "json", *TODAY])
            except SystemExit as exc:
                assert exc.code in (0, None)
        return sum(g["held"] for g in json.loads(buf.getvalue()) if g["measure"] == "1.5")

    assert held() == 0  # no gap for 1.5 at all: both held
    ok("revoke", "1.5/2025/2")
    assert held() == 1


def test_revoking_a_cancellation_and_a_dated_record(env, bundled):
    from aarshjul.db.completions import cancellations

    ok("cancel", "2.8/2025-H2", "--reason", "Flyttet til januar")
    ok("done", "1.2", "--date", "2025-05-01")
    engine = make_engine(env)
    try:
        with session_scope(engine) as s:
            assert cancellations(s, bundled.organisation.id) == {"2.8/2025-H2": "Flyttet til januar"}
    finally:
        engine.dispose()
    assert "planlagt igjen etter neste `aarshjul publish`" in ok("revoke", "2.8/2025-H2")
    import getpass

    assert [r.revoked_by for r in completions(env) if r.revoked_at] == [getpass.getuser()]  # who, without --by
    assert "trukket tilbake" in ok("revoke", "1.2@1.5.2025")  # the date as a person types it
    engine = make_engine(env)
    try:
        with session_scope(engine) as s:
            assert cancellations(s, bundled.organisation.id) == {}
    finally:
        engine.dispose()
    assert all(r.revoked_at is not None for r in completions(env))


@pytest.mark.parametrize("args, message", [
    (("revoke", "1.5/2025/1"), "1.5/2025/1: ingenting er registrert å trekke tilbake"),
    (("revoke", "1.5/2025/9"), "ukjent forekomst '1.5/2025/9'"),
    (("revoke", "1.2"), "tiltak 1.2 registreres per dato; oppgi hvilken: 1.2@ÅÅÅÅ-MM-DD"),
])
def test_revoking_what_was_never_recorded_says_so(env, args, message):
    exc = fails(*args)
    assert message in exc.say("nb") and exc.exit_status == 2


def test_revoke_in_the_database_on_sqlite_and_postgresql(database_url):
    """The log keeps a revoked record beside a new one for the same ref (the unique ref is
    freed by the suffix), on both databases."""
    from datetime import date, datetime, timezone

    from aarshjul.db.agenda import cancelled_keys, held_keys
    from aarshjul.db.completions import find_completion, log_completion, recorded_keys, revoke_completion, revoked

    now = datetime(2025, 11, 29, 12, tzinfo=timezone.utc)
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as s:
            log_completion(s, "org", "1.5", "1.5/2025/1", date(2025, 3, 26), now, occurrence_key="1.5/2025/1")
            log_completion(s, "org", "2.8", "2.8/2025-H2", None, now, outcome="cancelled",
                           occurrence_key="2.8/2025-H2", note="Flyttet")
        with session_scope(engine) as s:
            assert revoke_completion(s, "org", "1.5/2025/1", now, "Kari") is not None
            assert revoke_completion(s, "org", "2.8/2025-H2", now, None) is not None
            assert revoke_completion(s, "org", "1.5/2025/1", now, "Kari") is None  # nothing left to take back
        with session_scope(engine) as s:
            assert held_keys(s, "org") == set() == cancelled_keys(s, "org") == recorded_keys(s, "org")
            assert find_completion(s, "org", "1.5/2025/1") is None
            log_completion(s, "org", "1.5", "1.5/2025/1", date(2025, 4, 2), now, occurrence_key="1.5/2025/1")
        with session_scope(engine) as s:
            assert held_keys(s, "org") == {"1.5/2025/1"}
            assert sorted((r.occurrence_key, r.revoked_by) for r in revoked(s, "org")) == [
                ("1.5/2025/1", "Kari"), ("2.8/2025-H2", None)]
            assert find_completion(s, "org", "1.5/2025/1").on_date == date(2025, 4, 2)
    finally:
        engine.dispose()
