"""`aarshjul members forget NUMBER` also removes that member's letters from the outbox
(issue 15 item 4): exactly the files of their ledger rows (outbox/<campaign>/<Message-ID>.eml),
in their organisation's outbox, nothing else; it says how many, naming no one.

The letters are written by the real OutboxTransport through the Mailer, the command runs
through Typer's runner on the same database (SQLite and PostgreSQL).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from aarshjul.cli_members import members_app
from aarshjul.settings import get_settings
from aarshjul.tasks.mail_transport import OutboxTransport
from test_mail import MailEnv, add_members, people


@pytest.fixture
def env(files, tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("AARSHJUL_DATABASE_URL", database_url)
    monkeypatch.setenv("AARSHJUL_PLAN", str(files.plan))
    monkeypatch.setenv("AARSHJUL_OUTBOX_DIR", str(tmp_path / "outbox" / "{organisation}"))
    monkeypatch.delenv("AARSHJUL_SMTP_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield MailEnv(files, tmp_path, database_url)
    get_settings.cache_clear()


def letters(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_forget_removes_exactly_that_members_letters_and_counts_them(env, tmp_path):
    outbox = tmp_path / "outbox" / "test-org"
    add_members(env.url, people(4))
    env.send(OutboxTransport(outbox))  # nyhetsbrev/2025-03 to all four
    for branch in ("nord", "sor"):  # hva-skjer per branch: 00002 is in sor
        campaign, audience = env.campaign("hva-skjer", branch=branch)
        env.send(OutboxTransport(outbox), campaign, audience)
    other_org = tmp_path / "outbox" / "other-org" / "nyhetsbrev_2025-03"
    other_org.mkdir(parents=True)
    (other_org / "stranger.eml").write_bytes(b"To: m2@example.org\r\n\r\nnot ours\r\n")
    (outbox / "notes.txt").write_bytes(b"kept")
    before = letters(outbox)
    theirs = {name for name, raw in before.items() if b"m2@example.org" in raw}
    assert len(before) == 4 + 4 + 1 and len(theirs) == 2  # the newsletter and sor's digest

    result = CliRunner().invoke(members_app, ["forget", "00002", "--yes"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "2 brev fjernet fra utboksen" in result.output
    assert "m2@example.org" not in result.output and "Navn2" not in result.output
    after = letters(outbox)
    assert set(after) == set(before) - theirs and all(after[n] == before[n] for n in after)
    assert not any(b"m2@example.org" in raw for raw in after.values())
    assert (other_org / "stranger.eml").exists()  # another organisation's outbox is not ours to clean

    again = CliRunner().invoke(members_app, ["forget", "00002", "--yes"])  # nothing left: says so
    assert again.exit_code == 0 and "allerede glemt" in again.output and "0 brev fjernet" in again.output


def test_forget_of_a_member_forgotten_before_this_removes_the_letters_left_behind(env, tmp_path):
    """The finding: `forget` blanked the database and left the letters in the outbox. A member
    forgotten by that version has their letters removed by `forget` run again."""
    outbox = tmp_path / "outbox" / "test-org"
    add_members(env.url, people(3))
    env.send(OutboxTransport(outbox))
    from datetime import datetime, timezone

    from aarshjul.db.members import forget_member
    from aarshjul.db.session import make_engine, session_scope

    engine = make_engine(env.url)
    try:
        with session_scope(engine) as session:  # what the old `forget` did: the database only
            forget_member(session, "test-org", "00003", datetime.now(timezone.utc))
    finally:
        engine.dispose()
    assert sum(b"m3@example.org" in raw for raw in letters(outbox).values()) == 1
    result = CliRunner().invoke(members_app, ["forget", "00003", "--yes"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "allerede glemt" in result.output and "1 brev fjernet fra utboksen" in result.output
    assert len(letters(outbox)) == 2 and not any(b"m3@example.org" in r for r in letters(outbox).values())
