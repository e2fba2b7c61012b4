"""The iMIP CANCEL (issue 11 item 2) goes to everyone the delivery ledger says received an
invitation to the meeting, those who have left the role since included and new holders
of the role never invited not; and it carries the date and time people have in their
calendars (the version they were last invited to), with the occurrence's UID and a
raised SEQUENCE. Sent through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from email import message_from_bytes, policy

import icalendar
import pytest
from sqlalchemy import select

from aarshjul.db.session import make_engine, session_scope

PINNED = 'occurrences:\n  "1.2/2025/1":\n    date: "2025-03-20"\n    start: "18:00"\n    end: "20:00"\n' \
         '    place: Folkets hus\n'
TODAY = date(2025, 3, 1)


class Invitations:
    """Plan files, a database with three members, and the invitations flow sending to aiosmtpd."""

    def __init__(self, files, tmp_path, monkeypatch, sink):
        from aarshjul.db.migrate import upgrade
        from aarshjul.db.models import Member
        from aarshjul.settings import get_settings

        self.files, self.sink = files, sink
        self.url = f"sqlite:///{tmp_path / 'inv.db'}"
        upgrade(self.url)
        self.engine = make_engine(self.url)
        now = datetime(2025, 3, 1, tzinfo=timezone.utc)
        with session_scope(self.engine) as session:
            for i, roles in ((1, "styret"), (2, "styret"), (3, None)):
                session.add(Member(organisation="test-org", number=str(i), first_name=f"S{i}", last_name="Ø",
                                   email=f"s{i}@example.org", roles=roles, status="active", first_seen=now,
                                   updated_at=now, row_hash="x"))
        for name, value in {"AARSHJUL_DATABASE_URL": self.url, "AARSHJUL_SMTP_URL": sink.url,
                            "AARSHJUL_SECRET_KEY_FILE": str(tmp_path / "secret.key")}.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    def uid(self, key: str) -> str:
        from aarshjul.domain.expand import expand

        return next(o.uid for o in expand(self.files.load()) if o.key == key)

    def roles(self, **numbers: str | None) -> None:
        from aarshjul.db.models import Member

        with session_scope(self.engine) as session:
            for m in session.scalars(select(Member)):
                if f"m{m.number}" in numbers:
                    m.roles = numbers[f"m{m.number}"]

    def step(self, schedule: str, uid: str) -> list[tuple[str, object, icalendar.Calendar, icalendar.Event]]:
        """(envelope recipient, message, calendar, event) of each iMIP message about `uid` this step sent."""
        from aarshjul.flows.mail import send_invitations
        from aarshjul.flows.plan import sync_plan

        self.files.write("schedule.yaml", schedule)
        sync_plan(plan_path=str(self.files.plan), today=TODAY)
        before = len(self.sink.messages)
        send_invitations(str(self.files.plan), TODAY)
        out = []
        for received in self.sink.messages[before:]:
            msg = message_from_bytes(received.raw, policy=policy.default)
            for part in msg.walk():
                if part.get_content_type() == "text/calendar":
                    cal = icalendar.Calendar.from_ical(part.get_content())
                    ev = next(iter(cal.walk("VEVENT")))
                    if str(ev["UID"]) == uid:
                        out.extend((to, msg, cal, ev) for to in received.to)
        return out


@pytest.fixture
def inv(prefect_harness, monkeypatch, tmp_path, files, smtp_sink):
    from aarshjul.settings import get_settings

    i = Invitations(files, tmp_path, monkeypatch, smtp_sink())
    yield i
    i.engine.dispose()
    get_settings.cache_clear()


def test_the_cancel_goes_to_those_invited_not_to_the_roles_holders_now(inv):
    uid = inv.uid("1.2/2025/1")
    invited = inv.step(PINNED, uid)
    assert sorted(to for to, *_ in invited) == ["s1@example.org", "s2@example.org"]
    inv.roles(m2=None, m3="styret")  # 2 leaves the board, 3 joins it
    cancels = inv.step("occurrences: {}\n", uid)  # the pin removed
    assert sorted(to for to, *_ in cancels) == ["s1@example.org", "s2@example.org"]
    assert all(str(cal["METHOD"]) == "CANCEL" for _, _, cal, _ in cancels)
    assert inv.step("occurrences: {}\n", uid) == []  # once
    inv.roles(m1=None)  # 1 leaves the board too
    again = inv.step(PINNED, uid)  # pinned again: invited anew, only the board as it is now
    assert sorted(to for to, *_ in again) == ["s3@example.org"]
    cancels = inv.step("occurrences: {}\n", uid)  # and removed again: only to 3, whose CANCEL is still owed
    assert [to for to, *_ in cancels] == ["s3@example.org"] and cancels[0][3]["SEQUENCE"] == 3


def test_the_cancel_of_a_removed_pin_carries_the_date_and_time_people_have(inv):
    uid = inv.uid("1.2/2025/1")
    [(_, _, _, request), _] = inv.step(PINNED, uid)
    cancels = inv.step("occurrences: {}\n", uid)
    assert len(cancels) == 2
    oslo = inv.files.load().tz
    for _, msg, cal, ev in cancels:
        assert str(ev["UID"]) == uid and ev["SEQUENCE"] == request["SEQUENCE"] + 1 == 1
        assert str(ev["STATUS"]) == "CANCELLED"
        assert ev["DTSTART"].dt == datetime(2025, 3, 20, 18, 0, tzinfo=oslo) == request["DTSTART"].dt
        assert ev["DTEND"].dt == datetime(2025, 3, 20, 20, 0, tzinfo=oslo)
        assert str(ev["LOCATION"]) == "Folkets hus"
        assert str(msg["Subject"]).startswith("Avlyst:") and "20. mars 2025 kl. 18:00" in str(msg["Subject"])


def test_a_moved_meeting_then_unpinned_cancels_the_latest_version_invited(inv):
    uid = inv.uid("1.2/2025/1")
    inv.step(PINNED, uid)
    moved = inv.step(PINNED.replace("2025-03-20", "2025-03-25"), uid)
    assert {e["SEQUENCE"] for *_, e in moved} == {1}
    cancels = inv.step("occurrences: {}\n", uid)
    oslo = inv.files.load().tz
    assert len(cancels) == 2
    assert all(e["DTSTART"].dt == datetime(2025, 3, 25, 18, 0, tzinfo=oslo) and e["SEQUENCE"] == 2
               for *_, e in cancels)


def test_a_body_taken_out_of_the_plan_sends_its_invitees_the_cancel_from_its_own_address(inv):
    from test_feeds_retired import remove_the_body

    inv.roles(m3="bystyregruppen")
    gathering = 'occurrences:\n  "1.3/2025-H1":\n    date: "2025-03-27"\n    start: "18:00"\n    end: "21:00"\n'
    uid = inv.uid("1.3/2025-H1")
    invited = inv.step(gathering, uid)
    assert sorted(to for to, *_ in invited) == ["s1@example.org", "s2@example.org", "s3@example.org"]
    [(_, _, _, theirs)] = [i for i in invited if i[0] == "s3@example.org"]
    assert str(theirs["ORGANIZER"]) == "mailto:bg@example.org"
    remove_the_body(inv.files)
    after = inv.step(gathering, uid)
    [(to, msg, cal, ev)] = [a for a in after if str(a[2]["METHOD"]) == "CANCEL"]
    assert to == "s3@example.org" and str(ev["ORGANIZER"]) == "mailto:bg@example.org"
    assert ev["SEQUENCE"] == 1 and str(ev["STATUS"]) == "CANCELLED"
    assert ev["DTSTART"].dt == datetime(2025, 3, 27, 18, 0, tzinfo=inv.files.load().tz)
    assert "Bystyregruppen" in str(msg["From"])
    assert sorted(a[0] for a in after if str(a[2]["METHOD"]) == "REQUEST") == ["s1@example.org", "s2@example.org"]
    assert [a for a in inv.step(gathering, uid) if str(a[2]["METHOD"]) == "CANCEL"] == []  # once
