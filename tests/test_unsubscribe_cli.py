"""`aarshjul unsubscribe TOKEN` with a token from a real message's List-Unsubscribe header,
and with tokens that are forged or cut short."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from aarshjul.db.models import Unsubscribe
from aarshjul.db.session import make_engine, session_scope
from test_mail import add_members, people
from test_newsletter_cli import TODAY, cli  # noqa: F401  (the fixture)

pytestmark = pytest.mark.prefect


def aarshjul(*args: str, env: dict) -> subprocess.CompletedProcess:
    """A real process, as a person runs it (unsubscribe never starts Prefect)."""
    return subprocess.run([sys.executable, "-m", "aarshjul", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "200", **env}, cwd=env["HOME_DIR"])


def unsubscribed(url: str) -> list[tuple[str, str, str, str]]:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return [(u.organisation, u.audience, u.recipient, u.source)
                    for u in session.scalars(select(Unsubscribe).order_by(Unsubscribe.id))]
    finally:
        engine.dispose()


def test_a_real_token_unsubscribes_the_member_and_forged_ones_record_nothing(prefect_harness, cli, smtp_sink,
                                                                            monkeypatch, files, tmp_path):
    from aarshjul.db.migrate import upgrade
    from aarshjul.domain.messages import unsubscribe_token

    sink = smtp_sink()
    monkeypatch.setenv("AARSHJUL_SMTP_URL", sink.url)
    upgrade(cli.url)
    add_members(cli.url, people(5))
    code, out, err = cli("newsletter", "send", "nyhetsbrev", "--edition", "2025-03", *TODAY)
    assert code == 0 and len(sink.messages) == 5, err

    header = str(sink.by_recipient()["m2@example.org"][0].parsed()["List-Unsubscribe"])
    link = header.split(">")[0].strip().removeprefix("<")
    assert link.startswith("https://test.example.org/avmeld/")
    token = link.rsplit("/", 1)[1]
    assert f"subject=unsubscribe%20{token}>" in header  # the mailto link carries the same token
    env = {"AARSHJUL_DATABASE_URL": cli.url, "AARSHJUL_PLAN": str(files.plan),
           "AARSHJUL_SECRET_KEY_FILE": str(tmp_path / "secret.key"), "HOME_DIR": str(tmp_path)}

    payload, signature = token.split(".")
    forged = {
        "another installation's key": unsubscribe_token(b"k" * 32, "test-org", "nyhetsbrev", "00003"),
        "a changed member": unsubscribe_token(b"k" * 32, "test-org", "nyhetsbrev", "00003").split(".")[0]
        + "." + signature,
        "cut short": token[:-6],
        "the signature missing": payload,
    }
    for what, bad in forged.items():
        result = aarshjul("unsubscribe", bad, env=env)
        assert result.returncode == 2, (what, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr and result.stdout == ""
        [line] = [line for line in result.stderr.splitlines() if line.strip()]
        assert line.startswith("feil: ") and line.endswith("; kopier hele nøkkelen fra lenken"), (what, line)
    assert unsubscribed(cli.url) == []  # nothing recorded

    result = aarshjul("unsubscribe", token, env=env)
    assert result.returncode == 0, result.stderr
    assert "medlem 00002 er meldt av nyhetsbrev" in result.stdout
    again = aarshjul("unsubscribe", token, env=env)
    assert again.returncode == 0 and "(var allerede meldt av)" in again.stdout
    assert unsubscribed(cli.url) == [("test-org", "nyhetsbrev", "00002", "cli")]  # once

    # The next edition skips that member.
    (files.folder / "content" / "nyhetsbrev" / "2025-04.md").write_text("April.", encoding="utf-8")
    code, out, err = cli("newsletter", "send", "nyhetsbrev", "--edition", "2025-04", "--today", "2025-04-02")
    assert code == 0, err
    assert "nyhetsbrev/2025-04: 4 sendt, 0 feilet, 0 ukjent, 0 i tvil, 1 avmeldt" in out
    april = [m for m in sink.messages[5:]]
    assert sorted(m.to[0] for m in april) == ["m1@example.org", "m3@example.org", "m4@example.org", "m5@example.org"]
    engine = make_engine(cli.url)
    try:
        with session_scope(engine) as session:
            assert session.scalar(select(func.count()).select_from(Unsubscribe)) == 1
    finally:
        engine.dispose()
