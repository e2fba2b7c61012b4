"""Bounces without a mailbox: the VERP token, what each kind of report says, and what the
database does with it (SQLite and PostgreSQL). The mailbox itself: test_bounces_imap.py."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from aarshjul.db import bounces as db_bounces
from aarshjul.db.audiences import audience_candidates, unpaid_members
from aarshjul.db.models import Bounce, Delivery, Member, Suspension
from aarshjul.db.session import make_engine, session_scope
from aarshjul.domain.bounces import (BounceConfig, bounce_token, classify, envelope_sender, read_bounce_token,
                                     suspension, tokens_in, verp_address)

DATA = Path(__file__).parent / "data" / "bounces"
SECRET = bytes(range(32))
ORG = "test-org"
BASE = "bounce@test.example.org"
NOW = datetime(2026, 11, 29, 20, 0, tzinfo=timezone.utc)
CONFIG = BounceConfig(address=BASE)


def report(name: str, verp: str, rcpt: str = "m1@example.org", msgid: str = "<abc@test.example.org>") -> bytes:
    """A report from tests/data/bounces, addressed to `verp`, about `rcpt`, with CRLF line ends."""
    text = (DATA / name).read_text(encoding="utf-8")
    text = text.replace("{VERP}", verp).replace("{RCPT}", rcpt).replace("{MSGID}", msgid)
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


# --- the token ---------------------------------------------------------------------------


def test_a_token_names_its_row_and_nothing_else_reads_it():
    token = bounce_token(SECRET, ORG, 1234)
    assert read_bounce_token(SECRET, ORG, token) == 1234
    assert read_bounce_token(SECRET, ORG, token.upper()) == 1234  # a relay that upper-cases the local part
    assert read_bounce_token(SECRET, "other-org", token) is None  # another organisation's mailbox
    assert read_bounce_token(bytes(32), ORG, token) is None  # another installation's secret
    assert bounce_token(SECRET, ORG, 1234) == token  # the same row, the same address: a resend is identical
    assert bounce_token(SECRET, ORG, 1235) != token
    assert "1234" not in token and "4d2" not in token  # opaque: the row id cannot be read off


@pytest.mark.parametrize("position", [0, 7, 25])
def test_an_altered_token_is_refused(position):
    token = bounce_token(SECRET, ORG, 77)
    altered = token[:position] + ("a" if token[position] != "a" else "b") + token[position + 1:]
    assert read_bounce_token(SECRET, ORG, altered) is None


@pytest.mark.parametrize("token", ["", "abc", "a" * 26 + "a", "0" * 26, "bounce", "!" * 26])
def test_a_malformed_token_is_refused(token):
    assert read_bounce_token(SECRET, ORG, token) is None


def test_the_verp_address_fits_a_local_part_and_is_found_again_only_for_our_base():
    address = verp_address(SECRET, ORG, 2 ** 40, BASE)
    local, _, domain = address.partition("@")
    assert domain == "test.example.org" and local.startswith("bounce+") and len(local) <= 64  # RFC 5321 4.5.3.1.1
    token = local.split("+", 1)[1]
    assert tokens_in(f"Bounce Handler <{address.upper()}>", BASE) == [token]
    assert tokens_in(f"x{address}", BASE) == []  # xbounce+…: another mailbox
    assert tokens_in(address.replace("test.example.org", "test.example.org.evil.example"), BASE) == []
    assert tokens_in(address.replace("@", "@sub."), BASE) == []


def test_without_a_bounce_address_the_envelope_sender_is_the_from_address():
    assert envelope_sender(SECRET, ORG, 5, None, "post@example.org") == "post@example.org"
    assert envelope_sender(SECRET, ORG, 5, BASE, "post@example.org") == verp_address(SECRET, ORG, 5, BASE)


# --- what a report says --------------------------------------------------------------------

EXPECTED = {
    "postfix-hard.eml": ("hard", "5.1.1", "dsn"),
    "postfix-delayed.eml": ("soft", "4.4.1", "dsn"),
    "exim-hard.eml": ("hard", None, "flufl"),  # no DSN: Mailman's Exim detector (X-Failed-Recipients)
    "gmail-hard.eml": ("hard", "5.1.1", "dsn"),
    "gmail-mailbox-full.eml": ("soft", "5.2.2", "dsn"),  # over quota: permanent by its code, transient in practice
    "outlook-hard.eml": ("hard", "5.1.10", "dsn"),
    "outlook-delayed.eml": ("soft", "4.4.7", "dsn"),
    "vacation.eml": ("other", None, "none"),  # an auto-reply to the envelope sender is no bounce
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_mail_servers_report_is_read_as_what_it_says(name):
    verp = verp_address(SECRET, ORG, 42, BASE)
    r = classify(report(name, verp), BASE)
    assert (r.kind, r.status, r.detector) == EXPECTED[name]
    assert [read_bounce_token(SECRET, ORG, t) for t in r.tokens][0] == 42


@pytest.mark.parametrize("status, kind", [("5.1.1", "hard"), ("5.1.10", "hard"), ("5.4.4", "hard"),
                                          ("5.2.2", "soft"), ("5.3.4", "soft"), ("5.7.1", "soft"), ("5.7.26", "soft"),
                                          ("4.2.2", "soft")])
def test_a_policy_refusal_or_a_full_mailbox_says_nothing_against_the_address(status, kind):
    """Regression guard: a provider that blocks our server answers 5.7.1 for every member it
    hosts; as hard bounces that would suspend them all at once."""
    raw = report("gmail-hard.eml", verp_address(SECRET, ORG, 1, BASE)).replace(b"Status: 5.1.1", f"Status: {status}".encode())
    assert classify(raw, BASE).kind == kind


def test_mail_without_our_token_names_no_row():
    r = classify(report("unrelated.eml", "unused"), BASE)
    assert r.tokens == () and r.kind == "other"


def test_a_report_that_names_our_address_only_in_the_returned_headers_is_still_ours():
    """Some relays rewrite To: and add no Delivered-To; the copy of our headers keeps Return-Path."""
    verp = verp_address(SECRET, ORG, 9, BASE)
    raw = report("postfix-hard.eml", verp).replace(f"Delivered-To: {verp}".encode(), b"Delivered-To: x@y.example")
    raw = raw.replace(f"To: {verp}".encode(), b"To: postmaster@test.example.org")
    r = classify(raw, BASE)
    assert r.kind == "hard" and [read_bounce_token(SECRET, ORG, t) for t in r.tokens] == [9]


def test_the_rules_one_hard_or_three_soft():
    assert suspension("hard", 0, CONFIG) == "hard"
    assert suspension("soft", 2, CONFIG) is None
    assert suspension("soft", 3, CONFIG) == "soft 3/30d"
    assert suspension("other", 9, CONFIG) is None
    assert suspension("soft", 2, BounceConfig(address=BASE, soft_limit=2)) == "soft 2/30d"


# --- the database ----------------------------------------------------------------------------


class Db:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)

    def members(self, *numbers: str, branch: str = "nord", dues_paid: bool = True) -> None:
        with session_scope(self.engine) as s:
            for n in numbers:
                s.add(Member(organisation=ORG, number=n, first_name="F", last_name="L", email=f"m{n}@example.org",
                             branch=branch, status="active", first_seen=NOW, updated_at=NOW, row_hash="x",
                             dues_paid=dues_paid))

    def row(self, recipient: str, campaign: str = "nyhetsbrev/2026-11", state: str = "sent",
            address: str | None = None) -> int:
        with session_scope(self.engine) as s:
            d = Delivery(organisation=ORG, campaign=campaign, recipient=recipient,
                         address=address or f"m{recipient}@example.org", message_id=f"<{campaign}/{recipient}@t>",
                         state=state, attempts=1, created_at=NOW, updated_at=NOW)
            s.add(d)
            s.flush()
            return d.id

    def record(self, name: str, row_id: int, at: datetime = NOW, config: BounceConfig = CONFIG, raw: bytes | None = None):
        r = classify(raw or report(name, verp_address(SECRET, ORG, row_id, BASE)), BASE)
        with session_scope(self.engine) as s:
            return db_bounces.record(s, ORG, r, db_bounces.delivery(s, ORG, row_id), config, at)

    def audience(self) -> list[str]:
        with session_scope(self.engine) as s:
            return [n for n, _ in audience_candidates(s, ORG, {"all": True})]

    def undeliverable(self):
        with session_scope(self.engine) as s:
            return db_bounces.undeliverable(s, ORG)


@pytest.fixture
def db(database_url):
    d = Db(database_url)
    yield d
    d.engine.dispose()


def test_a_hard_bounce_suspends_at_once_and_the_member_gets_no_more_mail(db):
    db.members("1", "2", "3")
    done = db.record("postfix-hard.eml", db.row("2"))
    assert done.kind == "hard" and done.suspended and done.member
    assert db.audience() == ["1", "3"]
    [u] = db.undeliverable()
    assert (u.branch, u.number, u.reason, u.status, u.hard, u.soft) == ("nord", "2", "hard", "5.1.1", 1, 0)


def test_dues_reminders_leave_out_a_suspended_address_too(db):
    db.members("1", "2", dues_paid=False)
    db.record("gmail-hard.eml", db.row("1"))
    with session_scope(db.engine) as s:
        assert [m.number for m in unpaid_members(s, ORG)] == ["2"]


def test_three_soft_bounces_of_different_letters_in_30_days_suspend(db):
    db.members("1")
    for i, name in enumerate(["postfix-delayed.eml", "outlook-delayed.eml"]):
        assert not db.record(name, db.row("1", f"brev/{i}"), NOW + timedelta(days=i)).suspended
    assert db.audience() == ["1"]
    third = db.record("gmail-mailbox-full.eml", db.row("1", "brev/2"), NOW + timedelta(days=29))
    assert third.kind == "soft" and third.suspended
    assert db.audience() == [] and db.undeliverable()[0].reason == "soft 3/30d"


def test_soft_bounces_further_apart_than_30_days_do_not_suspend(db):
    db.members("1")
    for i in range(3):
        assert not db.record("postfix-delayed.eml", db.row("1", f"brev/{i}"), NOW + timedelta(days=20 * i)).suspended
    assert db.audience() == ["1"]


def test_delay_warnings_about_one_letter_count_once(db):
    db.members("1")
    row = db.row("1")
    verp = verp_address(SECRET, ORG, row, BASE)
    for hours in (4, 24, 72):  # the warnings an MTA sends while it retries
        raw = report("postfix-delayed.eml", verp).replace(b"4 hour(s)", f"{hours} hour(s)".encode())
        assert not db.record("", row, NOW + timedelta(hours=hours), raw=raw).suspended
    assert db.audience() == ["1"]


def test_the_same_report_read_twice_is_recorded_once(db):
    db.members("1")
    row = db.row("1")
    assert db.record("postfix-delayed.eml", row).new
    again = db.record("postfix-delayed.eml", row)
    assert not again.new and not again.suspended
    with session_scope(db.engine) as s:
        assert len(s.scalars(select(Bounce)).all()) == 1


def test_pending_letters_of_a_suspended_address_are_marked_skipped_with_the_reason(db):
    db.members("1")
    sent = db.row("1", "brev/1")
    pending = db.row("1", "brev/2", state="pending")
    other = db.row("1", "brev/3", state="pending", address="old@example.org")  # to another address: not this one
    assert db.record("outlook-hard.eml", sent).skipped == 1
    with session_scope(db.engine) as s:
        states = {d.id: (d.state, d.error) for d in s.scalars(select(Delivery))}
    assert states[pending] == ("skipped", db_bounces.SKIPPED_DETAIL)
    assert states[other][0] == "pending" and states[sent][0] == "sent"


def test_a_new_address_from_the_register_lifts_the_suspension(db):
    db.members("1", "2")
    db.record("postfix-hard.eml", db.row("1"))
    assert db.audience() == ["2"]
    with session_scope(db.engine) as s:  # what an import that changes the address writes
        s.scalar(select(Member).where(Member.number == "1")).email = "ny@example.org"
    assert db.audience() == ["1", "2"] and db.undeliverable() == []
    with session_scope(db.engine) as s:
        assert db_bounces.lift_changed(s, ORG, NOW) == 1
        assert s.scalar(select(Suspension)).lifted_at is not None
        assert db_bounces.lift_changed(s, ORG, NOW) == 0


def test_the_same_address_written_differently_stays_suspended(db):
    db.members("1")
    db.record("postfix-hard.eml", db.row("1"))
    with session_scope(db.engine) as s:
        s.scalar(select(Member).where(Member.number == "1")).email = " M1@Example.org "
        assert db_bounces.lift_changed(s, ORG, NOW) == 0
    assert db.audience() == []


def test_a_bodys_contact_address_is_recorded_but_never_suspended(db):
    db.members("1")
    done = db.record("postfix-hard.eml", db.row("styret", "reminder/1.5/2026/2/lead-7", address="styret@example.org"))
    assert done.new and not done.member and not done.suspended
    with session_scope(db.engine) as s:
        assert s.scalars(select(Suspension)).all() == []


def test_a_bounce_after_the_member_was_forgotten_suspends_nothing(db):
    db.members("1")
    row = db.row("1")
    with session_scope(db.engine) as s:
        s.get(Delivery, row).address = None  # members forget blanks the ledger's address
    done = db.record("postfix-hard.eml", row)
    assert done.new and not done.suspended


def test_no_address_is_stored_in_the_bounce_tables(db):
    db.members("1")
    db.record("postfix-hard.eml", db.row("1"))
    with session_scope(db.engine) as s:
        rows = [vars(b) for b in s.scalars(select(Bounce))] + [vars(x) for x in s.scalars(select(Suspension))]
    assert rows and not any("@" in str(v) for r in rows for v in r.values())
