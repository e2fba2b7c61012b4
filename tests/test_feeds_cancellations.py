"""Nothing vanishes (issue 11 item 2): an occurrence that leaves a feed or a calendar for
any reason is published there as CANCELLED with a higher SEQUENCE for the grace period,
and those invited to it get an iMIP CANCEL."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import icalendar
from test_caldav_sync import T0 as SYNC_T0
from test_caldav_sync import Sync, total
from test_feeds import DST_PINS, T0, site  # noqa: F401  (the fixture)

from aarshjul.db.completions import log_completion
from aarshjul.db.session import session_scope

MEETING = "Møter for nye medlemmer (1/2)"
WITHOUT_FIRST = DST_PINS.split('  "1.2/2025/2":')[0].split('  "1.2/2025/1":')[0] + '  "1.2/2025/2":' + \
    DST_PINS.split('  "1.2/2025/2":')[1]


def by_uid(site, feed: str) -> dict[str, icalendar.Event]:
    cal = icalendar.Calendar.from_ical(site.feed(feed))
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def test_a_removed_pin_is_cancelled_in_every_feed_and_moves_back_to_its_placeholder(site):
    site.files.write("schedule.yaml", DST_PINS)
    site.publish()
    uid = str(site.events("offentlig")[MEETING]["UID"])
    before = {f: by_uid(site, f)[uid]["SEQUENCE"] for f in ("offentlig", "medlemmer", "styret")}
    assert set(before.values()) == {0}

    site.files.write("schedule.yaml", WITHOUT_FIRST)
    site.publish(now=T0 + timedelta(days=1))
    for feed in ("offentlig", "medlemmer"):  # the event the subscribers had, at its date, cancelled
        ev = by_uid(site, feed)[uid]
        assert str(ev["STATUS"]) == "CANCELLED" and ev["SEQUENCE"] == 1
        assert ev["DTSTART"].dt == datetime(2025, 3, 30, 18, 0, tzinfo=site.files.load().tz)
    board = [e for e in icalendar.Calendar.from_ical(site.feed("styret")).walk("VEVENT") if str(e["UID"]) == uid]
    assert len(board) == 1  # the same UID moved back to its placeholder, not a new event
    assert board[0]["SEQUENCE"] == 1 and str(board[0]["STATUS"]) == "TENTATIVE"
    assert str(board[0]["SUMMARY"]).startswith("Ikke berammet") and not isinstance(board[0]["DTSTART"].dt, datetime)

    again = site.publish(now=T0 + timedelta(days=2))
    assert again.written == []  # the cancellation is stable: nothing rewritten
    site.publish(now=datetime(2025, 5, 29, 12, tzinfo=timezone.utc))  # 60 days after its date: still there
    assert str(by_uid(site, "medlemmer")[uid]["STATUS"]) == "CANCELLED"
    site.publish(now=datetime(2025, 5, 30, 12, tzinfo=timezone.utc))
    assert uid not in by_uid(site, "medlemmer") and uid not in by_uid(site, "offentlig")


def test_a_pin_back_after_its_removal_is_the_same_event_again_with_a_higher_sequence(site):
    site.files.write("schedule.yaml", DST_PINS)
    site.publish()
    uid = str(site.events("offentlig")[MEETING]["UID"])
    site.files.write("schedule.yaml", WITHOUT_FIRST)
    site.publish(now=T0 + timedelta(days=1))
    site.files.write("schedule.yaml", DST_PINS.replace('date: "2025-03-30"', 'date: "2025-04-03"'))
    site.publish(now=T0 + timedelta(days=2))
    ev = by_uid(site, "offentlig")[uid]
    assert str(ev["STATUS"]) == "CONFIRMED" and ev["SEQUENCE"] == 2 and ev["DTSTART"].dt.day == 3


def test_narrowed_visibility_cancels_the_event_in_the_feeds_it_left(site):
    site.files.write("schedule.yaml", DST_PINS)
    site.publish()
    uid = str(site.events("offentlig")[MEETING]["UID"])
    site.files.write("schedule.yaml", DST_PINS.replace("visibility: public", "visibility: internal"))
    site.publish(now=T0 + timedelta(days=1))
    for feed in ("offentlig", "medlemmer"):
        assert str(by_uid(site, feed)[uid]["STATUS"]) == "CANCELLED"
    assert str(by_uid(site, "styret")[uid]["STATUS"]) == "CONFIRMED"


def test_a_body_taken_off_a_measure_sees_its_events_cancelled(site):
    site.publish()
    gathering = {u for u, e in by_uid(site, "bystyregruppen").items() if "Samling" in str(e["SUMMARY"])}
    assert len(gathering) == 4
    site.files.edit("plan.yaml", "bodies: [styret, bystyregruppen]", "bodies: [styret]")
    site.publish(now=T0 + timedelta(days=1))
    now_there = by_uid(site, "bystyregruppen")
    assert all(str(now_there[u]["STATUS"]) == "CANCELLED" and now_there[u]["SEQUENCE"] == 1 for u in gathering)
    assert all(str(by_uid(site, "styret")[u]["STATUS"]) == "TENTATIVE" for u in gathering)


def test_a_cancellation_carries_its_reason_in_the_description(site):
    site.files.write("schedule.yaml", DST_PINS)
    site.publish()
    plan = site.files.load()
    with session_scope(site.engine) as session:
        log_completion(session, plan.organisation.id, "1.2", "1.2/2025/1", None, T0, outcome="cancelled",
                       occurrence_key="1.2/2025/1", note="Lokalet brant; nytt møte i april", source="cli")
    site.publish(now=T0 + timedelta(days=1))
    for feed in ("offentlig", "medlemmer", "styret"):
        ev = site.events(feed)[MEETING]
        assert str(ev["STATUS"]) == "CANCELLED"
        assert str(ev["DESCRIPTION"]).startswith("Avlyst: Lokalet brant; nytt møte i april")


# --- CalDAV: the body's calendar on Radicale and Xandikos ---------------------------------------


def test_caldav_a_body_taken_off_gets_cancelled_puts_not_deletes(files, tmp_path, caldav_server, counting_proxy):
    sync = Sync(files, tmp_path, caldav_server, counting_proxy(caldav_server))
    try:
        sync.run()
        gathering = {u for u, e in sync.server_events("bystyregruppen").items() if "Samling" in str(e["SUMMARY"])}
        assert len(gathering) == 4
        files.edit("plan.yaml", "bodies: [styret, bystyregruppen]", "bodies: [styret]")
        counts = sync.run(SYNC_T0 + timedelta(days=1))
        assert counts["bystyregruppen"].cancelled == 4 and sync.proxy.count("DELETE") == 0
        on_server = sync.server_events("bystyregruppen")
        assert all(str(on_server[u]["STATUS"]) == "CANCELLED" and on_server[u]["SEQUENCE"] == 1 for u in gathering)
        # after the grace period (the last of them ends 2026-12-31) they are deleted
        late = sync.run(datetime(2027, 3, 2, 12, tzinfo=timezone.utc))
        assert late["bystyregruppen"].deleted == 4
        assert not gathering & set(sync.server_events("bystyregruppen"))
    finally:
        sync.engine.dispose()


def test_caldav_a_removed_pin_moves_back_to_its_placeholder_in_one_put(files, tmp_path, radicale, counting_proxy):
    sync = Sync(files, tmp_path, radicale, counting_proxy(radicale))
    try:
        sync.run()
        uid = sync.uid("1.2/2025/1")
        files.write("schedule.yaml", "occurrences: {}\n")
        counts = sync.run(SYNC_T0 + timedelta(days=1))
        assert total(counts, "updated") == 1 and sync.proxy.count("PUT") == 1 and sync.proxy.count("DELETE") == 0
        ev = sync.server_events("styret")[uid]
        assert ev["SEQUENCE"] == 1 and str(ev["STATUS"]) == "TENTATIVE"
        assert isinstance(ev["DTSTART"].dt, date) and not isinstance(ev["DTSTART"].dt, datetime)
    finally:
        sync.engine.dispose()


def test_caldav_a_cancelled_pin_is_pushed_as_cancelled_with_its_reason(files, tmp_path, radicale, counting_proxy):
    sync = Sync(files, tmp_path, radicale, counting_proxy(radicale))
    try:
        sync.run()
        uid = sync.uid("1.2/2025/1")
        with session_scope(sync.engine) as session:
            log_completion(session, "test-org", "1.2", "1.2/2025/1", None, SYNC_T0, outcome="cancelled",
                           occurrence_key="1.2/2025/1", note="Ingen lokaler", source="cli")
        files.write("schedule.yaml", 'occurrences:\n  "1.2/2025/1":\n    date: "2025-03-30"\n    start: "18:00"\n'
                    '    end: "20:00"\n    status: cancelled\n')
        counts = sync.run(SYNC_T0 + timedelta(days=1))
        assert total(counts, "cancelled") == 1
        ev = sync.server_events("styret")[uid]
        assert str(ev["STATUS"]) == "CANCELLED" and ev["SEQUENCE"] == 1
        assert "Avlyst: Ingen lokaler" in str(ev["DESCRIPTION"])
    finally:
        sync.engine.dispose()


# --- iMIP: those invited get a CANCEL ---------------------------------------------------------


def test_a_removed_pin_sends_an_imip_cancel_to_those_invited(prefect_harness, monkeypatch, tmp_path, files):
    from email import message_from_bytes, policy

    from aarshjul.db.migrate import upgrade
    from aarshjul.db.models import Member
    from aarshjul.db.session import make_engine
    from aarshjul.domain.expand import expand
    from aarshjul.flows.mail import send_invitations
    from aarshjul.flows.plan import sync_plan
    from aarshjul.settings import get_settings

    url = f"sqlite:///{tmp_path / 'inv.db'}"
    upgrade(url)
    now = datetime(2025, 3, 1, tzinfo=timezone.utc)
    engine = make_engine(url)
    with session_scope(engine) as session:
        for i, roles in ((1, "styret"), (2, "styret"), (3, None)):
            session.add(Member(organisation="test-org", number=str(i), first_name=f"S{i}", last_name="Ø",
                               email=f"s{i}@example.org", roles=roles, status="active", first_seen=now,
                               updated_at=now, row_hash="x"))
    outbox = tmp_path / "outbox"
    for name, value in {"AARSHJUL_DATABASE_URL": url, "AARSHJUL_OUTBOX_DIR": str(outbox),
                        "AARSHJUL_SECRET_KEY_FILE": str(tmp_path / "secret.key")}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AARSHJUL_SMTP_URL", raising=False)
    get_settings.cache_clear()
    plan = str(files.plan)
    uid = next(o.uid for o in expand(files.load()) if o.key == "1.2/2025/1")

    def step(schedule: str) -> list:
        """The iMIP parts about meeting 1.2/2025/1 this step wrote to the outbox."""
        files.write("schedule.yaml", schedule)
        sync_plan(plan_path=plan, today=date(2025, 3, 1))
        seen = set(outbox.rglob("*.eml")) if outbox.exists() else set()
        send_invitations(plan, date(2025, 3, 1))
        out = []
        for path in sorted(set(outbox.rglob("*.eml")) - seen):
            msg = message_from_bytes(path.read_bytes(), policy=policy.default)
            for part in msg.walk():
                if part.get_content_type() == "text/calendar":
                    cal = icalendar.Calendar.from_ical(part.get_content())
                    ev = next(iter(cal.walk("VEVENT")))
                    if str(ev["UID"]) == uid:
                        out.append((msg, part, cal, ev))
        return out

    try:
        pinned = 'occurrences:\n  "1.2/2025/1":\n    date: "2025-03-20"\n    start: "18:00"\n'
        invited = step(pinned)
        assert len(invited) == 2 and {str(c["METHOD"]) for _, _, c, _ in invited} == {"REQUEST"}
        cancels = step("occurrences: {}\n")  # the pin removed: back to unscheduled
        assert sorted(str(m["To"]) for m, _, _, _ in cancels) == ["S1 Ø <s1@example.org>", "S2 Ø <s2@example.org>"] \
            or sorted(m["To"].addresses[0].addr_spec for m, _, _, _ in cancels) == ["s1@example.org", "s2@example.org"]
        for msg, part, cal, ev in cancels:
            assert part.get_param("method") == "CANCEL" and str(cal["METHOD"]) == "CANCEL"
            assert str(ev["STATUS"]) == "CANCELLED" and ev["SEQUENCE"] == 1
            assert "RSVP" not in ev["ATTENDEE"].params
            assert str(msg["Subject"]).startswith("Avlyst:")
        assert step("occurrences: {}\n") == []  # cancelled once, not at every run
        again = step(pinned)  # pinned again: a new REQUEST with a higher SEQUENCE
        assert len(again) == 2 and all(str(c["METHOD"]) == "REQUEST" and e["SEQUENCE"] == 2 for _, _, c, e in again)
    finally:
        engine.dispose()
        get_settings.cache_clear()
