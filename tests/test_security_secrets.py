"""Issue 15 item 4: no personal data or secret where it should not be.

A planted address and planted passwords, each starting from the input that leaked it:
- a database error (a row refused by the database) printed SQLAlchemy's `[parameters: …]`,
  members' e-mail addresses, to stderr and into Prefect's log table;
- a password in AARSHJUL_CALDAV_URL was printed in every CalDAV error and stored with it;
- smtp://user:pass@host without ?starttls=true logged in over cleartext;
- the SQLite database was created 0644 and the secret key was chmod'ed only after it was written.
Outputs are grepped, and so are the bytes of Prefect's own database.
"""

from __future__ import annotations

import os
import socket
import stat
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from aarshjul.db.models import Delivery
from aarshjul.db.session import make_engine, session_scope, transaction
from test_mail import add_members, people
from test_newsletter_cli import TODAY, cli  # noqa: F401  (the fixture)

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc)
ADDRESS = "planted.person.4711@example.org"
PASSWORD = "Planted-Pw-8813"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prefect_database() -> bytes:
    """Every byte of the Prefect test harness's database, after its log handler flushed."""
    import logging

    import prefect.settings
    from prefect.logging.handlers import APILogHandler

    loggers = [logging.getLogger(name) for name in list(logging.Logger.manager.loggerDict)] + [logging.getLogger()]
    for handler in {h for logger in loggers for h in getattr(logger, "handlers", [])}:
        if isinstance(handler, APILogHandler):
            handler.flush()
    time.sleep(1.5)  # the server writes what the handler sent
    url = prefect.settings.PREFECT_SERVER_DATABASE_CONNECTION_URL.value()
    path = Path(str(url).split(":///", 1)[1])
    data = b""
    for candidate in (path, Path(f"{path}-wal")):
        if candidate.exists():
            data += candidate.read_bytes()
    assert data, f"no Prefect database at {path}"
    return data


# --- a database error names no member's address ------------------------------------------


def test_a_database_error_carries_no_parameters(database_url):
    row = dict(organisation="test-org", campaign="news/2025-03", recipient="00001", address=ADDRESS,
               message_id="<x@example.org>", state="pending", attempts=0, created_at=NOW, updated_at=NOW)
    with pytest.raises(IntegrityError) as caught:
        with transaction(database_url) as session:
            session.add(Delivery(**row))
            session.flush()
            session.add(Delivery(**{**row, "message_id": "<y@example.org>"}))
            session.flush()
    assert ADDRESS not in str(caught.value) and ADDRESS not in repr(caught.value)
    assert "parameters hidden" in str(caught.value)


@pytest.mark.prefect
def test_newsletter_send_refused_by_the_database_leaks_no_address(prefect_harness, cli, capsys):  # noqa: F811
    from sqlalchemy.exc import SQLAlchemyError

    code, out, err = cli("db", "upgrade")
    assert code == 0, err
    url = os.environ["AARSHJUL_DATABASE_URL"]
    add_members(url, [*people(3), {"number": "00099", "first_name": "Plantet", "last_name": "Person",
                                   "email": ADDRESS, "branch": "nord"}])
    engine = make_engine(url)
    with engine.begin() as conn:  # the database refuses every new ledger row
        conn.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON deliveries "
                          "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"))
    engine.dispose()
    try:
        code, out, err = cli("newsletter", "send", "nyhetsbrev", "--edition", "2025-03", *TODAY)
        shown = out + err
        assert code == 3, shown
    except SQLAlchemyError as exc:  # a flow's database error is not yet converted by the CLI (a traceback)
        captured = capsys.readouterr()
        shown = captured.out + captured.err + str(exc) + repr(exc)
    assert "refused by the test" in shown
    assert ADDRESS not in shown and "m1@example.org" not in shown
    db = _prefect_database()
    assert b"refused by the test" in db  # the failure is in Prefect's log: we grep the right database
    assert ADDRESS.encode() not in db and b"m1@example.org" not in db


# --- CalDAV: the password in the URL is never shown -------------------------------------


@pytest.mark.prefect
def test_a_password_in_the_caldav_url_is_never_printed_or_stored(prefect_harness, cli, monkeypatch):  # noqa: F811
    port = _closed_port()
    monkeypatch.setenv("AARSHJUL_CALDAV_URL", f"http://board:{PASSWORD}@127.0.0.1:{port}/dav/")
    monkeypatch.setenv("AARSHJUL_CALDAV_RETRIES", "0")
    code, out, err = cli("publish", *TODAY)
    assert code == 3, (out, err)
    assert f"http://127.0.0.1:{port}/dav/" in err and "AARSHJUL_CALDAV_URL" in err
    assert PASSWORD not in out and PASSWORD not in err
    db = _prefect_database()
    assert f"127.0.0.1:{port}".encode() in db  # the error is there, without the password
    assert PASSWORD.encode() not in db


def test_caldav_credentials_in_the_url_log_in_and_are_kept_out_of_every_href(radicale, files, tmp_path):
    from aarshjul.db.agenda import store_agenda
    from aarshjul.db.calendars import entries
    from aarshjul.db.migrate import upgrade
    from aarshjul.db.models import CaldavEvent
    from aarshjul.domain.expand import expand
    from aarshjul.tasks.caldav import CaldavTarget, push_calendars

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    plan = files.load()
    with_creds = radicale.url.replace("http://", f"http://{radicale.username}:{radicale.password}@")
    target = CaldavTarget(with_creds)
    assert target.url == radicale.url
    engine = make_engine(url)
    with session_scope(engine) as session:
        store_agenda(session, plan.organisation.id, expand(plan), NOW)
        stored = entries(session, plan.organisation.id, plan.tz)
    with session_scope(engine) as session:
        counts = push_calendars(session, target, plan, stored, NOW)
    assert sum(c.created for c in counts.values()) > 0
    with session_scope(engine) as session:
        hrefs = [r.href for r in session.query(CaldavEvent)]
    engine.dispose()
    assert hrefs and all(radicale.password not in h and "@" not in h for h in hrefs)

    wrong = CaldavTarget(radicale.url.replace("http://", f"http://{radicale.username}:{PASSWORD}@"))
    from aarshjul.domain.errors import CaldavError

    with pytest.raises(CaldavError) as caught:
        wrong.calendar_url("x", "x")
    assert "refused the login" in str(caught.value) and PASSWORD not in str(caught.value)


# --- SMTP: AUTH only over TLS ------------------------------------------------------------


@pytest.mark.prefect
def test_smtp_auth_without_tls_is_refused_naming_the_setting(prefect_harness, cli, smtp_sink, monkeypatch):  # noqa: F811
    sink = smtp_sink(auth=("board", PASSWORD))
    monkeypatch.setenv("AARSHJUL_SMTP_URL", sink.url)  # smtp://board:…@127.0.0.1:port, no starttls
    code, out, err = cli("db", "upgrade")
    add_members(os.environ["AARSHJUL_DATABASE_URL"], people(2))
    code, out, err = cli("newsletter", "send", "nyhetsbrev", "--edition", "2025-03", *TODAY)
    assert code == 2, (out, err)
    [line] = [line for line in err.splitlines() if line.startswith("feil: ")]  # (Prefect's console may add noise)
    assert "AARSHJUL_SMTP_URL" in line and "starttls=true" in line and "insecure_auth=true" in line
    assert PASSWORD not in out + err and "board:***@" in line
    assert sink.logins == [] and sink.messages == []

    monkeypatch.setenv("AARSHJUL_SMTP_URL", sink.url + "?insecure_auth=true")  # asked for: a local relay
    code, out, err = cli("newsletter", "send", "nyhetsbrev", "--edition", "2025-03", *TODAY)
    assert code == 0, (out, err)
    assert sink.logins and len(sink.messages) == 2
    assert PASSWORD not in out + err


# --- files only their owner can read ----------------------------------------------------


def test_database_key_outbox_and_report_are_created_owner_only(tmp_path):
    from aarshjul.db.migrate import upgrade
    from aarshjul.tasks.mail_transport import OutboxTransport
    from aarshjul.tasks.mailer import secret_key
    from aarshjul.tasks.report_render import _write as write_report_file

    old = os.umask(0o022)  # a common umask: files 0644 unless created otherwise
    try:
        upgrade(f"sqlite:///{tmp_path / 'var' / 'aarshjul.db'}")
        secret_key(tmp_path / "var" / "secret.key")
        outbox = OutboxTransport(tmp_path / "outbox")
        outbox.open()
        outbox.send(b"Subject: x\r\n\r\nx\r\n", "a@example.org", ADDRESS, "<abc@example.org>", "news/2025-03")
        write_report_file(tmp_path / "reports" / "arsmelding-2025.html", b"<p>x</p>")
    finally:
        os.umask(old)
    for path in [tmp_path / "var" / "aarshjul.db", tmp_path / "var" / "secret.key",
                 tmp_path / "outbox" / "news_2025-03" / "abc.eml", tmp_path / "reports" / "arsmelding-2025.html"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, (path, oct(path.stat().st_mode))
    assert not [p for p in (tmp_path / "var").iterdir() if p.name.endswith(".tmp")]  # no temporary key left
