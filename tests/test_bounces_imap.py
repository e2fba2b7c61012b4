"""Bounces against a real IMAP server (Dovecot, tests/imap_servers.py): the mailbox read,
processed reports moved and never deleted, other mail left unread; and the whole way, as
a person runs it: an edition sent through aiosmtpd, a report to one message's envelope
sender, `aarshjul bounces process`, the member suspended, the next edition without them,
an import with a new address bringing them back."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from aarshjul.db import bounces as db_bounces
from aarshjul.db.models import Member
from aarshjul.db.session import session_scope
from aarshjul.domain.bounces import BounceConfig, classify, verp_address
from aarshjul.domain.errors import TransportDown
from aarshjul.tasks.bounces import ImapMailbox, MailboxDown, process

from imap_servers import PASSWORD, dovecot  # noqa: F401
from test_bounces import BASE, ORG, SECRET, Db, report

NOW = datetime(2026, 11, 29, 20, 0, tzinfo=timezone.utc)
CONFIG = BounceConfig(address=BASE)


@pytest.fixture
def db(database_url):
    d = Db(database_url)
    yield d
    d.engine.dispose()


def unseen(dovecot, folder="INBOX") -> int:
    with dovecot.client() as c:
        c.select_folder(folder, readonly=True)
        return len(c.search("UNSEEN"))


def test_reports_are_recorded_and_moved_and_other_mail_is_left_unread(db, dovecot):
    db.members("1", "2", "3", "4")
    rows = {n: db.row(n) for n in ("1", "2", "3", "4")}
    verp = {n: verp_address(SECRET, ORG, rows[n], BASE) for n in rows}
    dovecot.append(report("postfix-hard.eml", verp["1"], "m1@example.org"))
    dovecot.append(report("exim-hard.eml", verp["2"], "m2@example.org"))
    dovecot.append(report("outlook-hard.eml", verp["3"], "m3@example.org"))
    dovecot.append(report("postfix-delayed.eml", verp["4"], "m4@example.org"))
    dovecot.append(report("vacation.eml", verp["4"], "m4@example.org"))
    dovecot.append(report("unrelated.eml", "x"))
    forged = verp_address(bytes(32), ORG, rows["4"], BASE)  # the right form, another key: not ours
    dovecot.append(report("gmail-hard.eml", forged, "m4@example.org"))

    run = process(ImapMailbox(dovecot.url), db.url, ORG, CONFIG, SECRET, NOW)

    assert (run.read, run.hard, run.soft, run.other, run.unknown, run.moved) == (7, 3, 1, 1, 2, 5)
    assert sorted(run.suspended) == ["1", "2", "3"] and db.audience() == ["4"]
    inbox = dovecot.messages("INBOX")
    assert len(inbox) == 2 and any(b"Medlemskap" in m or b"medlemskap" in m for m in inbox)
    assert unseen(dovecot) == 2  # left alone: not even marked as read
    assert len(dovecot.messages("aarshjul-behandlet")) == 5  # moved, never deleted

    again = process(ImapMailbox(dovecot.url), db.url, ORG, CONFIG, SECRET, NOW)
    assert (again.read, again.unknown, again.moved, again.suspended) == (0, 0, 0, [])  # what is left is read once
    dovecot.append(report("gmail-hard.eml", verp["4"], "m4@example.org"))  # a new report: read
    later = process(ImapMailbox(dovecot.url), db.url, ORG, CONFIG, SECRET, NOW)
    assert (later.read, later.hard, later.moved, later.suspended) == (1, 1, 1, ["4"])
    assert len(dovecot.messages("INBOX")) == 2 and unseen(dovecot) == 2


def test_a_folder_made_anew_is_read_from_its_start(db, dovecot):
    """UIDs count again from 1 in a folder deleted and made again (a new UIDVALIDITY)."""
    db.members("1", "2")
    url = dovecot.url.replace("/INBOX", "/Bounces")
    dovecot.append(report("unrelated.eml", "x"), "Bounces")
    dovecot.append(report("unrelated.eml", "x").replace(b"Hei,", b"Hallo,"), "Bounces")
    assert process(ImapMailbox(url), db.url, ORG, CONFIG, SECRET, NOW).unknown == 2
    with dovecot.client() as c:
        c.delete_folder("Bounces")
    dovecot.append(report("postfix-hard.eml", verp_address(SECRET, ORG, db.row("2"), BASE)), "Bounces")
    run = process(ImapMailbox(url), db.url, ORG, CONFIG, SECRET, NOW)
    assert (run.read, run.hard, run.suspended) == (1, 1, ["2"])


def test_a_pass_stopped_before_the_move_counts_the_report_once_next_time(db, dovecot):
    """The report was recorded and committed, then the run died before MOVE."""
    db.members("1")
    row = db.row("1")
    raw = report("postfix-delayed.eml", verp_address(SECRET, ORG, row, BASE))
    with session_scope(db.engine) as s:  # what the stopped run committed
        db_bounces.record(s, ORG, classify(raw, BASE), db_bounces.delivery(s, ORG, row), CONFIG, NOW)
    dovecot.append(raw)
    run = process(ImapMailbox(dovecot.url), db.url, ORG, CONFIG, SECRET, NOW)
    assert (run.again, run.soft, run.moved) == (1, 0, 1)
    assert dovecot.messages("INBOX") == []


def test_a_report_about_a_row_no_longer_in_the_ledger_is_filed_away(db, dovecot):
    dovecot.append(report("postfix-hard.eml", verp_address(SECRET, ORG, 999_999, BASE)))
    run = process(ImapMailbox(dovecot.url), db.url, ORG, CONFIG, SECRET, NOW)
    assert (run.stale, run.moved, run.unknown) == (1, 1, 0)


def test_imaps_with_the_servers_certificate(db, dovecot):
    import ssl

    db.members("1")
    dovecot.append(report("gmail-hard.eml", verp_address(SECRET, ORG, db.row("1"), BASE)))
    context = ssl.create_default_context(cafile=str(dovecot.ca_file))
    run = process(ImapMailbox(dovecot.tls_url, ssl_context=context), db.url, ORG, CONFIG, SECRET, NOW)
    assert run.hard == 1 and run.suspended == ["1"]


def test_an_untrusted_certificate_is_refused(db, dovecot):
    with pytest.raises(MailboxDown, match="unreachable"):  # the default trust store does not know the test CA
        process(ImapMailbox(dovecot.tls_url), db.url, ORG, CONFIG, SECRET, NOW)


def test_a_wrong_password_is_a_clear_error_without_the_password(db, dovecot):
    url = dovecot.url.replace(f":{PASSWORD}@", ":feil-passord@")
    with pytest.raises(MailboxDown) as caught:
        process(ImapMailbox(url), db.url, ORG, CONFIG, SECRET, NOW)
    assert "refused the login" in str(caught.value) and "feil-passord" not in str(caught.value)
    assert isinstance(caught.value, TransportDown) and caught.value.exit_status == 3 and not caught.value.transient


def test_a_server_that_is_not_there_is_exit_3(db):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(MailboxDown, match="unreachable") as caught:
        process(ImapMailbox(f"imaps://u:p@127.0.0.1:{port}/INBOX", timeout=2), db.url, ORG, CONFIG, SECRET, NOW)
    assert caught.value.exit_status == 3


@pytest.mark.parametrize("url, says", [
    ("imap://u:p@host/INBOX", "without TLS"),
    ("http://u:p@host/INBOX", "not an imap"),
    ("imaps://host/INBOX", "no user and password"),
    ("imaps://u:p@host:99999/INBOX", "not a URL"),
])
def test_a_bad_url_is_refused_before_connecting_without_showing_the_password(url, says):
    from aarshjul.domain.errors import AarshjulError

    with pytest.raises(AarshjulError, match=says) as caught:
        ImapMailbox(url)
    assert ":p@" not in str(caught.value)


def test_a_missing_folder_is_named(db, dovecot):
    with pytest.raises(MailboxDown, match="no folder 'Bounces'"):
        process(ImapMailbox(dovecot.url.replace("/INBOX", "/Bounces")), db.url, ORG, CONFIG, SECRET, NOW)


# --- the whole way, through the CLI ----------------------------------------------------------

@pytest.fixture
def cli(monkeypatch, tmp_path, files, capsys):
    from cli_runner import invoke
    from aarshjul.settings import get_settings

    files.edit("mail.yaml", "batch_size: 50\n", "bounces:\n  address: bounce@test.example.org\nbatch_size: 50\n")
    db = tmp_path / "db" / "a.db"
    monkeypatch.setenv("AARSHJUL_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("AARSHJUL_PLAN", str(files.plan))
    monkeypatch.setenv("AARSHJUL_SECRET_KEY_FILE", str(tmp_path / "secret.key"))
    monkeypatch.setenv("AARSHJUL_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("AARSHJUL_SITE_DIR", str(tmp_path / "site"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> tuple[int, str, str]:
        return invoke(capsys, *args)

    run.url = f"sqlite:///{db}"
    run.folder = files.folder
    yield run
    get_settings.cache_clear()


@pytest.mark.prefect
def test_a_bounce_suspends_the_member_the_next_edition_skips_them_and_a_new_address_brings_them_back(
        prefect_harness, cli, smtp_sink, dovecot, monkeypatch, tmp_path):
    from aarshjul.db.migrate import upgrade

    sink = smtp_sink()
    monkeypatch.setenv("AARSHJUL_SMTP_URL", sink.url)
    monkeypatch.setenv("AARSHJUL_BOUNCE_IMAP_URL", dovecot.url)
    upgrade(cli.url)
    members = Db(cli.url)
    members.members("00001", "00003", branch="nord")
    members.members("00002", branch="sor")
    with session_scope(members.engine) as s:
        for m in s.scalars(select(Member)):
            m.email = f"m{int(m.number)}@example.org"  # m1, m2, m3@example.org
    members.engine.dispose()
    text = (cli.folder / "content" / "nyhetsbrev" / "2025-03.md").read_text(encoding="utf-8")
    for month in ("2025-04", "2025-05"):
        (cli.folder / "content" / "nyhetsbrev" / f"{month}.md").write_text(text, encoding="utf-8")

    code, out, err = cli("newsletter", "send", "nyhetsbrev", "--edition", "2025-03", "--today", "2025-03-02")
    assert code == 0, err
    senders = {m.to[0]: m.mail_from for m in sink.messages}
    assert len(set(senders.values())) == 3 and all(s.startswith("bounce+") and s.endswith("@test.example.org")
                                                   for s in senders.values())
    letter = next(m for m in sink.messages if m.to == ["m2@example.org"])
    dovecot.append(report("postfix-hard.eml", letter.mail_from, "m2@example.org", letter.parsed()["Message-ID"]))
    dovecot.append(report("unrelated.eml", "x"))

    code, out, err = cli("bounces", "process")
    assert code == 0, err
    assert "2 meldinger lest: 1 harde" in out and "1 ukjente latt ligge" in out and "medlem 00002" in out
    assert "m2@example.org" not in out + err
    assert len(dovecot.messages("aarshjul-behandlet")) == 1
    assert [b"Medlemskap" in m or b"medlemskap" in m for m in dovecot.messages("INBOX")] == [True]

    code, out, err = cli("members", "undeliverable")
    assert code == 0, err
    assert "00002" in out and "Sør SV" in out and "hard retur" in out and "5.1.1" in out and "@" not in out
    assert "Per lag: Sør SV 1" in out, out  # the minimal plan calls its branches "lag"
    code, out, err = cli("members", "undeliverable", "--format", "json")
    assert '"number": "00002"' in out and '"branch": "sor"' in out

    code, out, err = cli("newsletter", "send", "nyhetsbrev", "--edition", "2025-04", "--today", "2025-04-02")
    assert code == 0, err
    april = [m.to[0] for m in sink.messages[3:]]
    assert sorted(april) == ["m1@example.org", "m3@example.org"]  # the suspended address gets nothing
    assert "2 sendt" in out and "1 suspendert etter returer" in out  # and the summary counts it

    # the register gives member 00002 a new address; the import lifts the suspension
    export = "Medlemsnummer;Fornavn;Etternavn;E-post;Bydelslag\r\n" + "".join(
        f"{n:05d};Navn{n};Nordmann;{'ny2@example.org' if n == 2 else f'm{n}@example.org'};"
        f"{'nord' if n % 2 else 'sor'}\r\n" for n in (1, 2, 3))
    (tmp_path / "eksport.csv").write_text(export, encoding="utf-8")
    code, out, err = cli("members", "import", str(tmp_path / "eksport.csv"), "--today", "2025-04-10")
    assert code == 0, err
    code, out, err = cli("members", "undeliverable")
    assert "Ingen adresser er suspendert." in out
    code, out, err = cli("newsletter", "send", "nyhetsbrev", "--edition", "2025-05", "--today", "2025-05-02")
    assert code == 0, err
    assert sorted(m.to[0] for m in sink.messages[5:]) == ["m1@example.org", "m3@example.org", "ny2@example.org"]


def test_bounces_process_without_a_mailbox_setting_is_exit_2(cli, monkeypatch):
    monkeypatch.delenv("AARSHJUL_BOUNCE_IMAP_URL", raising=False)
    code, out, err = cli("bounces", "process")
    assert code == 2 and "AARSHJUL_BOUNCE_IMAP_URL is not set" in err


def test_undeliverable_without_a_database_makes_none(cli):
    code, out, err = cli("members", "undeliverable")
    assert code == 0 and "Ingen adresser er suspendert." in out
    assert not (cli.folder.parent / "db" / "a.db").exists()


@pytest.mark.prefect
def test_a_scheduled_run_for_a_chapter_without_bounces_ends_cleanly(prefect_harness, files, monkeypatch, tmp_path):
    """Every chapter `aarshjul serve` runs gets the 15-minute schedule; one that reads no
    bounces must not fail every quarter of an hour."""
    from aarshjul.flows.bounces import process_bounces
    from aarshjul.settings import get_settings

    monkeypatch.setenv("AARSHJUL_DATABASE_URL", f"sqlite:///{tmp_path / 'a.db'}")
    monkeypatch.setenv("AARSHJUL_BOUNCE_IMAP_URL", "imaps://u:p@127.0.0.1:9/INBOX")  # never reached
    get_settings.cache_clear()
    try:
        assert process_bounces(plan_path=str(files.plan)).read == 0  # the minimal plan has no `bounces:`
    finally:
        get_settings.cache_clear()
