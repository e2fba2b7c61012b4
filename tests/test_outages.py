"""Outages: the database unreachable or refusing writes (a clear line, exit 3, nothing
half-written), and a crashed run's lock taken over by the next run."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from aarshjul.db.models import Completion, RunLock
from aarshjul.db.session import make_engine, session_scope
from caldav_servers import free_port

TODAY = ("--today", "2025-06-05")
PINNED = 'occurrences:\n  "1.2/2025/1":\n    date: "2025-06-26"\n    start: "18:00"\n    place: Folkets hus\n'


def aarshjul(*args: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AARSHJUL_")}
    return subprocess.run([sys.executable, "-m", "aarshjul", *args], capture_output=True, text=True, timeout=120,
                          env={**clean, "COLUMNS": "200", **env}, cwd=cwd)


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    [line] = [line for line in stderr.splitlines() if line.strip()]
    return line


def count(url: str, model) -> int:
    engine = make_engine(url, create_dir=False)
    try:
        with session_scope(engine) as session:
            return session.scalar(select(func.count()).select_from(model))
    finally:
        engine.dispose()


# --- the database down ----------------------------------------------------------------------


def test_run_with_the_database_unreachable_exits_3_before_writing_anything(files, tmp_path):
    """PostgreSQL on a port where nothing listens: `run` stops at its first look at the
    database, before Prefect starts: no site, no outbox, no key."""
    pytest.importorskip("psycopg")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = {"AARSHJUL_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test",
           "AARSHJUL_SITE_DIR": str(tmp_path / "site"), "AARSHJUL_OUTBOX_DIR": str(tmp_path / "outbox"),
           "AARSHJUL_SECRET_KEY_FILE": str(tmp_path / "secret.key")}
    result = aarshjul("run", "--plan", str(files.plan), *TODAY, env=env, cwd=cwd)
    assert result.returncode == 3, (result.stdout, result.stderr)
    line = one_line(result.stderr)
    assert line.startswith("feil: databasefeil") and "127.0.0.1" in line and "prefect" not in line.lower()
    assert result.stdout == ""
    assert not (tmp_path / "site").exists() and not (tmp_path / "outbox").exists()
    assert not (tmp_path / "secret.key").exists() and list(cwd.iterdir()) == []


def read_only(url: str) -> str:
    """The same database, refusing every write: SQLite opened read-only; PostgreSQL with
    read-only transactions (as after a fail-over to a standby)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite:///file:{parsed.database}?mode=ro&uri=true"
    return parsed.update_query_dict({"options": "-c default_transaction_read_only=on"}).render_as_string(
        hide_password=False)


def test_a_database_that_refuses_writes_exits_3_in_one_line_and_stores_nothing(files, tmp_path, database_url):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = {"AARSHJUL_DATABASE_URL": database_url, "AARSHJUL_PLAN": str(files.plan)}
    first = aarshjul("done", "1.2/2025/1", "--date", "2025-03-30", "--attendance", "9", *TODAY, env=env, cwd=cwd)
    assert first.returncode == 0, first.stderr
    assert count(database_url, Completion) == 1

    ro = {**env, "AARSHJUL_DATABASE_URL": read_only(database_url)}
    for args in (("done", "1.2/2025/2", "--date", "2025-05-30", "--attendance", "7"),
                 ("not-held", "1.3/2025-H1", "--reason", "Ingen lokaler"),
                 ("calendars", "rotate", "styret")):
        result = aarshjul(*args, *TODAY, env=ro, cwd=cwd)
        assert result.returncode == 3, (args, result.stdout, result.stderr)
        line = one_line(result.stderr)
        assert line.startswith("feil: databasefeil, ingenting er lagret: ") and "read" in line.lower(), line
    assert count(database_url, Completion) == 1  # nothing of the refused commands stored
    # the database still works as before once it takes writes again
    again = aarshjul("done", "1.2/2025/2", "--date", "2025-05-30", *TODAY, env=env, cwd=cwd)
    assert again.returncode == 0, again.stderr
    assert count(database_url, Completion) == 2


# --- a crashed run's lock -----------------------------------------------------------------


@pytest.mark.prefect
def test_a_crashed_runs_leftover_lock_row_blocks_nothing(prefect_harness, files, tmp_path, database_url,
                                                         monkeypatch, capsys):
    """A run killed while sending may leave its holder row (PostgreSQL) behind: it is only
    information, the lock itself died with the run (db/locks.py), so the next run goes at
    once, sends, and removes the row."""
    from aarshjul.cli import main
    from aarshjul.settings import get_settings

    files.write("schedule.yaml", PINNED)
    for name, value in {"AARSHJUL_DATABASE_URL": database_url, "AARSHJUL_PLAN": str(files.plan),
                        "AARSHJUL_OUTBOX_DIR": str(tmp_path / "outbox"),
                        "AARSHJUL_SECRET_KEY_FILE": str(tmp_path / "secret.key")}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AARSHJUL_SMTP_URL", raising=False)
    get_settings.cache_clear()

    def run(*args: str) -> int:
        capsys.readouterr()
        try:
            main([*args, *TODAY])
        except SystemExit as exc:
            return exc.code
        return 0

    now = datetime.now(timezone.utc)
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:  # a run that died a minute ago, mid-edition
            session.add(RunLock(name="send-reminders:test-org", holder="gone-host:4242",
                                acquired_at=now - timedelta(minutes=1)))
        assert run("reminders", "send") == 0, capsys.readouterr()
        assert len(list((tmp_path / "outbox").rglob("*.eml"))) == 3  # the reminders due on 5 June
        with session_scope(engine) as session:
            left = [r.holder for r in session.scalars(select(RunLock))]
        # PostgreSQL: replaced by the run's own row, removed at its end; SQLite: never read (the lock file says)
        assert left == ([] if database_url.startswith("postgresql") else ["gone-host:4242"])
    finally:
        engine.dispose()
        get_settings.cache_clear()


def test_a_sqlite_uri_filename_creates_no_stray_folder(tmp_path, monkeypatch):
    """sqlite:///file:/path/a.db?mode=ro&uri=true (SQLAlchemy's URI form, as the read-only test above
    uses) names /path/a.db; no folder ./file:/path is made in the working directory (fixed in 785b9f7)."""
    from aarshjul.db.migrate import upgrade

    upgrade(f"sqlite:///{tmp_path / 'a.db'}")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    make_engine(f"sqlite:///file:{tmp_path / 'a.db'}?mode=ro&uri=true").dispose()
    assert list(cwd.iterdir()) == []
