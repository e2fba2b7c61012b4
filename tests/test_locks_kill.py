"""Run locks that die with their holder (db/locks.py), tested by killing a real process.

A real `aarshjul newsletter send` sends to a slow aiosmtpd server this test starts; it is
SIGKILLed mid-edition and run again at once: the rerun is not blocked, and sends exactly
the rest (at most one batch in doubt, sent again with the same Message-IDs). Two sends at
once: the second exits 75 naming the first (host:pid). On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from aarshjul.db.ledger import counts
from aarshjul.db.models import Member
from aarshjul.db.session import make_engine, session_scope

from smtp_servers import SmtpSink

N = 60
BATCH = 10
CAMPAIGN = "nyhetsbrev/2025-03"
SEND = ("newsletter", "send", "nyhetsbrev", "--edition", "2025-03", "--today", "2025-03-02")
NOW = datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc)


def members(url: str, n: int = N) -> None:
    engine = make_engine(url)
    with session_scope(engine) as session:
        session.add_all(Member(organisation="test-org", number=f"{i:05d}", first_name=f"Navn{i}",
                               last_name="Nordmann", email=f"m{i}@example.org", branch="nord", status="active",
                               first_seen=NOW, updated_at=NOW, row_hash="x") for i in range(1, n + 1))
    engine.dispose()


def environment(files, tmp_path: Path, url: str, sink: SmtpSink) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AARSHJUL_", "PREFECT_API"))}
    return {**clean, "COLUMNS": "200", "AARSHJUL_DATABASE_URL": url, "AARSHJUL_PLAN": str(files.plan),
            "AARSHJUL_SMTP_URL": sink.url, "AARSHJUL_SECRET_KEY_FILE": str(tmp_path / "secret.key"),
            "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def start(env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "aarshjul", *SEND], env=env, cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(sink: SmtpSink, n: int, proc: subprocess.Popen[str], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while len(sink.messages) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"only {len(sink.messages)} messages arrived"
        time.sleep(0.01)


def ledger(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return counts(session, "test-org", CAMPAIGN)
    finally:
        engine.dispose()


@pytest.fixture
def slow(files, smtp_sink):
    """The minimal plan in batches of 10, and a server that takes 50 ms over each DATA."""
    files.edit("mail.yaml", "batch_size: 50", f"batch_size: {BATCH}")
    return smtp_sink(data_delay=0.05)


def test_a_send_killed_mid_edition_is_not_blocked_and_the_rerun_sends_exactly_the_rest(
        files, tmp_path, database_url, slow):
    members(database_url)
    env = environment(files, tmp_path, database_url, slow)
    proc = start(env, tmp_path)
    wait_for(slow, 25, proc)
    proc.send_signal(signal.SIGKILL)  # as a power cut or the OOM killer would: no clean-up runs
    proc.wait()
    time.sleep(0.3)  # a message whose DATA was on the wire at the kill is counted before we look
    before = len(slow.messages)
    at_kill = ledger(database_url)
    in_flight = at_kill.get("sending", 0)
    assert 0 < before < N and in_flight <= BATCH, (before, at_kill)

    again = subprocess.run([sys.executable, "-m", "aarshjul", *SEND], env=env, cwd=tmp_path, text=True,
                           capture_output=True, timeout=300)  # at once: nothing left to wait for
    assert again.returncode == 0, (again.stdout, again.stderr)
    assert "another run" not in again.stderr
    assert ledger(database_url) == {"sent": N}
    assert f"{in_flight} i tvil" in again.stdout  # the batch the killed run had claimed, and only it

    ids: dict[str, set[str]] = {}
    for m in slow.messages:
        ids.setdefault(m.to[0], set()).add(m.parsed()["Message-ID"])
    assert sorted(ids) == sorted(f"m{i}@example.org" for i in range(1, N + 1))  # nobody missed
    assert all(len(v) == 1 for v in ids.values())  # a message sent again keeps its Message-ID
    duplicates = len(slow.messages) - N  # only messages of the batch in doubt that had left before the kill
    assert duplicates == before - at_kill.get("sent", 0) and 0 <= duplicates <= in_flight <= BATCH


def test_a_second_send_while_one_runs_exits_75_naming_the_first(files, tmp_path, database_url, slow):
    members(database_url)
    env = environment(files, tmp_path, database_url, slow)
    first = start(env, tmp_path)
    wait_for(slow, 1, first)
    second = subprocess.run([sys.executable, "-m", "aarshjul", *SEND], env=env, cwd=tmp_path, text=True,
                            capture_output=True, timeout=300)
    assert second.returncode == 75, (second.stdout, second.stderr)
    assert "Traceback" not in second.stderr
    [line] = [x for x in second.stderr.splitlines() if x.strip()]
    assert line.startswith("feil: en annen kjøring pågår (")
    assert f"{socket.gethostname()}:{first.pid}, since " in line  # the holder: host:pid, and since when
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, (out, err)
    assert ledger(database_url) == {"sent": N} and len(slow.messages) == N  # the second sent nothing


def test_a_killed_holders_lock_is_gone_at_once_and_what_it_wrote_blocks_nothing(database_url, tmp_path):
    """PostgreSQL: the advisory lock lives on a connection of its own, which the server closes
    when the holder dies (its row may stay: informative only). SQLite: the flock dies with the
    process; the lock file stays, the dead holder's name in it, and counts for nothing."""
    from aarshjul.db.locks import Busy, exclusive, holder

    name = "send-newsletter:test-org"
    code = ("import time; from aarshjul.db.locks import exclusive\n"
            f"with exclusive({database_url!r}, {name!r}):\n"
            "    print('held', flush=True); time.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        found = holder(database_url, [name])
        assert found is not None and found.who == f"{socket.gethostname()}:{proc.pid}"
        with pytest.raises(Busy) as busy, exclusive(database_url, name):
            pass
        assert f"{socket.gethostname()}:{proc.pid}, since " in str(busy.value) and busy.value.exit_status == 75
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    if database_url.startswith("sqlite"):
        [lock_file] = tmp_path.glob("aarshjul.db.*.lock")
        assert f":{proc.pid} " in lock_file.read_text()  # what the dead holder wrote stays
    deadline = time.monotonic() + 10  # PostgreSQL notices the closed connection at once
    while holder(database_url, [name]) is not None:
        assert time.monotonic() < deadline, "the killed holder's lock outlived it"
        time.sleep(0.05)
    with exclusive(database_url, name):  # taken at once, no lease to wait out; it names this process now
        found = holder(database_url, [name])
        assert found is not None and found.who.endswith(f":{os.getpid()}")
