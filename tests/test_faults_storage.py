"""Issue 15 item 10: storage faults end in one line and a documented exit status, never a
traceback. Each test starts from the input that broke it on the old code:

- AARSHJUL_SITE_DIR a regular file, under a regular file, or where nothing can be made
  (/proc/aarshjul-site): `publish` ended in NotADirectoryError / FileNotFoundError
  tracebacks (now exit 2: the setting or the folder must be fixed; a full disk exit 3);
- a SQLite database another connection holds with `BEGIN EXCLUSIVE` for longer than the
  busy timeout: the line said only "database is locked" (now: which database, that another
  run holds its lock, to try again; exit 3, within the bounded wait);
- garbage bytes in the SQLite file: the line said only "file is not a database" (now:
  which file, that it is not a database or is damaged; exit 3), for a read-only command,
  a recording one and `publish`, and the file is left as it was.

The site faults are tested on write_site itself; one `publish` runs end to end (it starts
Prefect's temporary server, a few seconds).
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from aarshjul.domain.errors import AarshjulError, ServiceError
from aarshjul.domain.feeds import feeds

TODAY = ("--today", "2025-11-29")


def environment(tmp_path: Path, plan: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "AARSHJUL_PLAN": str(plan),
            "AARSHJUL_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'aarshjul.db'}",
            "AARSHJUL_SITE_DIR": str(tmp_path / "site"), "AARSHJUL_OUTBOX_DIR": str(tmp_path / "outbox"),
            "AARSHJUL_SECRET_KEY_FILE": str(tmp_path / "var" / "secret.key"), "COLUMNS": "300",
            "PREFECT_HOME": str(tmp_path / "prefect"), **extra}


def aarshjul(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """The command as a process, run in the test's folder (the parent of its PREFECT_HOME)."""
    return subprocess.run([sys.executable, "-m", "aarshjul", *args], env=env, cwd=Path(env["PREFECT_HOME"]).parent,
                          capture_output=True, text=True, timeout=timeout)


def one_line(result: subprocess.CompletedProcess[str], status: int, *words: str, flow: bool = False) -> str:
    """Exit `status`, one line on stderr starting with `error:`, no traceback. `flow`: the
    command ran a Prefect flow, whose own log lines (on stderr, with the failed task's
    traceback as Prefect logs it) come first; the command itself still ends in the one
    line, and never in a traceback of its own (aarshjul/cli.py)."""
    assert result.returncode == status, (result.returncode, result.stdout[-2000:], result.stderr[-4000:])
    lines = result.stderr.strip().splitlines()
    if flow:
        assert 'aarshjul/cli.py", line' not in result.stderr, result.stderr
        errors = [line for line in lines if line.startswith("feil: ")]
        assert errors == lines[-1:], result.stderr
        lines = lines[-1:]
    assert "Traceback" not in "\n".join(lines) and len(lines) == 1 and lines[0].startswith("feil: "), \
        result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


# --- the site folder (write_site) ------------------------------------------------------------


@pytest.fixture
def publish_to(files):
    """write_site of the minimal plan (no events needed) to a given folder."""
    from aarshjul.tasks.site import write_site

    plan = files.load()
    tokens = {f.id: f"{i:048x}" for i, f in enumerate(feeds(plan)) if not f.public}

    def publish(site_dir: Path):
        return write_site(plan, [], tokens, site_dir, datetime(2025, 11, 29, 12, tzinfo=timezone.utc),
                          date(2025, 11, 29))
    return publish


def refused(call, status: int, *words: str) -> AarshjulError:
    with pytest.raises(AarshjulError) as caught:
        call()
    exc = caught.value
    assert exc.exit_status == status, (exc.exit_status, exc)
    assert "\n" not in str(exc), str(exc)
    for word in ("AARSHJUL_SITE_DIR", *words):
        assert word in str(exc), (word, str(exc))
    return exc


def test_a_site_folder_that_is_a_file_is_a_setting_to_fix(publish_to, tmp_path):
    """Old code: NotADirectoryError from lstat(site/calendars)."""
    site = tmp_path / "site"
    site.write_text("not a folder\n")
    refused(lambda: publish_to(site), 2, str(site), "is a file")
    assert site.read_text() == "not a folder\n"


def test_a_site_folder_under_a_file_names_the_file(publish_to, tmp_path):
    """Old code: NotADirectoryError (a traceback)."""
    (tmp_path / "var").write_text("a file\n")
    site = tmp_path / "var" / "site"
    refused(lambda: publish_to(site), 2, str(site), f"{tmp_path / 'var'} is a file")
    assert (tmp_path / "var").read_text() == "a file\n"


def test_a_site_folder_nothing_can_be_made_in(publish_to):
    """/proc: mkdir fails (as root too, where permissions would not stop it). Old code: a traceback."""
    refused(lambda: publish_to(Path("/proc/aarshjul-site")), 2, "/proc/aarshjul-site")
    assert not os.path.exists("/proc/aarshjul-site")


def test_a_full_disk_is_a_service_failure_and_leaves_whole_files(publish_to, tmp_path, monkeypatch):
    """ENOSPC while writing a feed: ServiceError (exit 3); no temporary file, no half file."""
    from aarshjul.tasks import site as site_module

    site = tmp_path / "site"
    publish_to(site)
    (site / "index.html").write_bytes(b"the old page")  # so the next publish has something to write
    before = {p: p.read_bytes() for p in site.rglob("*") if p.is_file()}

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(site_module.os, "replace", full)
    exc = refused(lambda: publish_to(site), 3, str(site), "No space left")
    monkeypatch.undo()
    assert isinstance(exc, ServiceError)
    assert not list(site.rglob("*.tmp"))
    assert {p: p.read_bytes() for p in site.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize(("error", "status"), [(errno.EACCES, 2), (errno.EROFS, 2), (errno.EPERM, 2),
                                               (errno.ENOSPC, 3), (errno.EIO, 3), (errno.EDQUOT, 3)],
                         ids=["no-permission", "read-only", "not-permitted", "disk-full", "io-error", "quota"])
def test_a_folder_that_refuses_the_write_is_one_line(publish_to, tmp_path, monkeypatch, error, status):
    """A read-only site folder (root ignores permissions, so the refusal is made here, where
    a temporary file is created): exit 2, a folder to fix; storage failing: exit 3."""
    from aarshjul.tasks import site as site_module

    site = tmp_path / "site"
    site.mkdir()

    def refuse(*args, **kwargs):
        raise OSError(error, os.strerror(error), str(site / ".x.tmp"))

    monkeypatch.setattr(site_module.tempfile, "mkstemp", refuse)
    exc = refused(lambda: publish_to(site), status, str(site), os.strerror(error))
    assert isinstance(exc, ServiceError) == (status == 3)
    assert ".tmp" not in str(exc)  # the folder is named, not a temporary file


def test_publish_with_a_site_folder_under_a_file_ends_in_one_line(files, tmp_path):
    """End to end: `aarshjul publish` (a Prefect flow run) with AARSHJUL_SITE_DIR under a file."""
    (tmp_path / "prefect").mkdir()
    (tmp_path / "blocker").write_text("a file\n")
    env = environment(tmp_path, files.plan, AARSHJUL_SITE_DIR=str(tmp_path / "blocker" / "site"))
    done = aarshjul(env, "publish", *TODAY)
    one_line(done, 2, "AARSHJUL_SITE_DIR", str(tmp_path / "blocker"), flow=True)
    assert "Flow run" not in done.stderr  # looked at before the flow started, not found by its task
    assert (tmp_path / "blocker").read_text() == "a file\n"


# --- a locked database -----------------------------------------------------------------------


@pytest.fixture
def database(files, tmp_path):
    """A database at the current schema (aarshjul db upgrade) and the environment to use it."""
    (tmp_path / "prefect").mkdir()
    env = environment(tmp_path, files.plan)
    assert aarshjul(env, "db", "upgrade").returncode == 0
    return env, tmp_path / "var" / "aarshjul.db"


def test_a_database_locked_longer_than_the_timeout_ends_in_one_line_naming_the_lock(database):
    """Another connection holds BEGIN EXCLUSIVE: `done` (writing) and `members counts`
    (reading) each wait the bounded busy timeout, then exit 3 naming the locked database
    and saying to try again; nothing is recorded."""
    from aarshjul.db.session import BUSY_TIMEOUT_SECONDS

    env, db = database
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        with ThreadPoolExecutor(2) as pool:
            done = pool.submit(aarshjul, env, "done", "1.1/2025", "--date", "2025-11-20", *TODAY)
            counts = pool.submit(aarshjul, env, "members", "counts", *TODAY)
            results = [done.result(), counts.result()]
        elapsed = time.monotonic() - started
    finally:
        holder.close()  # rolls the exclusive transaction back
    for result in results:
        one_line(result, 3, str(db), "låst", f"over {BUSY_TIMEOUT_SECONDS} s", "prøv igjen")
    assert "ingenting er lagret" in results[0].stderr
    assert BUSY_TIMEOUT_SECONDS - 1 < elapsed < BUSY_TIMEOUT_SECONDS * 4, elapsed  # waited, but bounded
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT count(*) FROM completions").fetchone() == (0,)


# --- a corrupted database file -------------------------------------------------------------------


GARBAGE = bytes(range(256)) * 80  # 20 KB that is no SQLite header


@pytest.fixture
def corrupted(database):
    env, db = database
    db.write_bytes(GARBAGE)
    return env, db


@pytest.mark.parametrize("command", [("members", "counts"), ("report", "2025", "--format", "md"),
                                     ("done", "1.1/2025", "--date", "2025-11-20")], ids=["members-counts", "report", "done"])
def test_a_corrupted_database_file_ends_in_one_line_naming_it(corrupted, command):
    env, db = corrupted
    one_line(aarshjul(env, *command, *TODAY), 3, str(db), "ikke en SQLite-database", "AARSHJUL_DATABASE_URL")
    assert db.read_bytes() == GARBAGE


def test_publish_on_a_corrupted_database_file_ends_in_one_line_naming_it(corrupted):
    env, db = corrupted
    one_line(aarshjul(env, "publish", *TODAY), 3, str(db), "ikke en SQLite-database")
    assert db.read_bytes() == GARBAGE
