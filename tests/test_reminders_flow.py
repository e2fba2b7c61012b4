"""The reminders flow (`send-reminders`) under Prefect's test harness, against a real SMTP
server and a real database: each reminder reaches the responsible bodies' contact
addresses once."""

from __future__ import annotations

from datetime import date

import pytest

pytestmark = pytest.mark.prefect

PINNED = 'occurrences:\n  "1.2/2025/1":\n    date: "2025-06-26"\n    start: "18:00"\n    place: Folkets hus\n'


@pytest.fixture
def mail_env(monkeypatch, tmp_path, database_url, smtp_sink):
    from aarshjul.settings import get_settings

    sink = smtp_sink()
    monkeypatch.setenv("AARSHJUL_DATABASE_URL", database_url)
    monkeypatch.setenv("AARSHJUL_SMTP_URL", sink.url)
    monkeypatch.setenv("AARSHJUL_SECRET_KEY_FILE", str(tmp_path / "secret.key"))
    get_settings.cache_clear()
    yield sink
    get_settings.cache_clear()


def sent(sink, since: int = 0) -> list[tuple[str, str]]:
    return sorted((m.to[0], str(m.parsed()["Subject"])) for m in sink.messages[since:])


def test_a_pinned_meeting_and_an_unscheduled_slot_are_reminded_once_each(prefect_harness, mail_env, files):
    from aarshjul.flows.mail import send_reminders

    sink = mail_env
    files.write("schedule.yaml", PINNED)  # 1.2/2025/1 on 26 June: 21 days after 5 June
    plan = str(files.plan)

    # 5 June: the meeting is 21 days ahead (styret's), and the half-year gathering 1.3/2025-H1
    # (styret + bystyregruppen) has no date with 25 days of its window left (the 30-day mark passed).
    summaries = send_reminders(plan, date(2025, 6, 5))
    assert sorted((s.campaign, s.sent) for s in summaries) == [
        ("reminder/1.2/2025/1/lead-21", 1), ("reminder/1.3/2025-H1/unscheduled-30", 2)]
    assert sent(sink) == [
        ("bg@example.org", "Ikke berammet: Samling hvert halvår"),
        ("styret@example.org", "Ikke berammet: Samling hvert halvår"),
        ("styret@example.org", "Om 21 dager: Møter for nye medlemmer (1/2)"),
    ]
    lead = next(m.parsed() for m in sink.messages if "Om 21 dager" in str(m.parsed()["Subject"]))
    [to] = lead["To"].addresses
    assert to.addr_spec == "styret@example.org" and to.display_name == "Styret"
    text = lead.get_body(("plain",)).get_content()
    assert "Folkets hus" in text and "1.2" in text
    assert "List-Unsubscribe" not in lead  # to a body's contact address, not a member list

    # The same day again, and the next day (the same lead time): nothing more.
    assert sum(s.sent for s in send_reminders(plan, date(2025, 6, 5))) == 0
    assert sum(s.sent for s in send_reminders(plan, date(2025, 6, 6))) == 0
    assert len(sink.messages) == 3

    # 19 June: the next lead times are reached, and each goes once.
    before = len(sink.messages)
    send_reminders(plan, date(2025, 6, 19))
    assert sent(sink, before) == [
        ("bg@example.org", "Ikke berammet: Samling hvert halvår"),
        ("styret@example.org", "Ikke berammet: Samling hvert halvår"),
        ("styret@example.org", "Om 7 dager: Møter for nye medlemmer (1/2)"),
    ]


def test_a_paused_edition_does_not_stop_the_reminders_of_the_same_run(prefect_harness, mail_env, files, database_url):
    """The main job's mail: a newsletter edition that pauses (60 members, every address
    refused: an implausible share) is a result with its reason, and the reminders due the
    same day still go."""
    from datetime import datetime, timezone

    from aarshjul.db.models import Member
    from aarshjul.db.session import make_engine, session_scope
    from aarshjul.flows.mail import send_due_mail

    sink = mail_env
    now = datetime(2025, 6, 1, tzinfo=timezone.utc)
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        for i in range(60):
            session.add(Member(organisation="test-org", number=f"{i:05d}", first_name="Åse", last_name="Ø",
                               email=f"m{i}@dead.example.org", branch="nord", status="active", first_seen=now,
                               updated_at=now, row_hash="x"))
            sink.fail_rcpt[f"m{i}@dead.example.org"] = "550 5.1.1 No such user"
    engine.dispose()
    files.write("schedule.yaml", PINNED)
    (files.folder / "content" / "nyhetsbrev" / "2025-06.md").write_text("Juni.\n", encoding="utf-8")
    due = send_due_mail(str(files.plan), date(2025, 6, 5))
    [letter] = [d for d in due.newsletters if d.campaign == "nyhetsbrev/2025-06"]
    assert letter.paused and "refused" in letter.paused and letter.sent == 0
    assert sorted((r.campaign, r.sent) for r in due.reminders) == [
        ("reminder/1.2/2025/1/lead-21", 1), ("reminder/1.3/2025-H1/unscheduled-30", 2)]
