"""The plan flow under Prefect's test harness, against a real database."""

from __future__ import annotations

from datetime import date

import pytest

from conftest import DATA

pytestmark = pytest.mark.prefect


@pytest.fixture
def settings_env(monkeypatch, database_url):
    from aarshjul.settings import get_settings

    monkeypatch.setenv("AARSHJUL_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def test_sync_plan_stores_the_agenda_once(prefect_harness, settings_env):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from aarshjul.flows.plan import sync_plan

    plan = str(DATA / "minimal" / "plan.yaml")
    first = sync_plan(plan_path=plan, today=date(2025, 5, 1))
    assert first.new == first.occurrences > 30 and first.changed == 0
    assert first.year == 2025 and first.gaps > 0
    second = sync_plan(plan_path=plan, today=date(2025, 5, 1))
    assert second.new == 0 and second.unchanged == first.occurrences

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=["agenda-test-org", "gaps-test-org-2025"])))
    assert {a.key for a in artifacts} == {"agenda-test-org", "gaps-test-org-2025"}
    table = next(a for a in artifacts if a.key == "gaps-test-org-2025")
    assert "1.2" in str(table.data) and "@" not in str(table.data)


def test_sync_plan_fails_on_a_bad_plan_without_retrying_and_writes_nothing(prefect_harness, settings_env, files):
    from sqlalchemy import func, select

    from aarshjul.db.models import OccurrenceRow
    from aarshjul.db.session import make_engine, session_scope
    from aarshjul.domain.errors import PlanError
    from aarshjul.flows.plan import sync_plan

    files.edit("plan.yaml", "bodies: [styret, bystyregruppen]", "bodies: [styret, nobody]")
    with pytest.raises(PlanError):
        sync_plan(plan_path=str(files.plan), today=date(2025, 5, 1))
    engine = make_engine(settings_env)
    try:
        with session_scope(engine) as session:
            assert session.scalar(select(func.count()).select_from(OccurrenceRow)) == 0
    finally:
        engine.dispose()


@pytest.fixture
def caldav_env(monkeypatch, tmp_path, radicale, prefect_harness):
    """Settings for a flow run against Radicale; its password in a Prefect Secret block."""
    from prefect.blocks.system import Secret

    from aarshjul.settings import get_settings

    Secret(value=radicale.password).save("test-dav-secret", overwrite=True)

    monkeypatch.setenv("AARSHJUL_DATABASE_URL", f"sqlite:///{tmp_path / 'flow.db'}")
    monkeypatch.setenv("AARSHJUL_SITE_DIR", str(tmp_path / "site"))
    monkeypatch.setenv("AARSHJUL_CALDAV_URL", radicale.url)
    monkeypatch.setenv("AARSHJUL_CALDAV_USERNAME", radicale.username)
    monkeypatch.setenv("AARSHJUL_CALDAV_PASSWORD_BLOCK", "test-dav-secret")
    monkeypatch.setenv("AARSHJUL_CALDAV_RETRIES", "1")
    monkeypatch.setenv("AARSHJUL_CALDAV_RETRY_DELAY", "0.2")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_publish_calendars_writes_the_site_and_pushes_to_caldav(prefect_harness, caldav_env, radicale):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from aarshjul.flows.calendars import publish_calendars

    plan = str(DATA / "minimal" / "plan.yaml")
    first = publish_calendars(plan_path=plan, today=date(2025, 1, 10))
    assert (caldav_env / "site" / "index.html").exists() and first.files_written == len(first.feeds) + 1
    created = sum(c["created"] for c in first.caldav.values())
    assert created == sum(first.feeds[b] for b in ("styret", "bystyregruppen", "nord", "sor"))
    second = publish_calendars(plan_path=plan, today=date(2025, 1, 10))
    assert second.files_written == 0
    assert sum(c["created"] + c["updated"] for c in second.caldav.values()) == 0
    with get_client(sync_client=True) as client:
        [artifact] = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=["calendars-test-org"])), limit=1)
    assert "| styret |" in artifact.data and "konflikter" in artifact.data  # the organisation's language


def test_publish_calendars_fails_clearly_when_caldav_stays_down(prefect_harness, caldav_env, radicale):
    from aarshjul.flows.calendars import publish_calendars
    from aarshjul.tasks.caldav import CaldavError

    radicale.stop()
    with pytest.raises(CaldavError) as caught:
        publish_calendars(plan_path=str(DATA / "minimal" / "plan.yaml"), today=date(2025, 1, 10))
    assert radicale.url in str(caught.value) and "AARSHJUL_CALDAV_URL" in str(caught.value)
    assert (caldav_env / "site" / "index.html").exists()  # the feeds were still published


def test_send_newsletter_flow_sends_once_and_logs_the_measure(prefect_harness, monkeypatch, tmp_path, smtp_sink):
    from sqlalchemy import select

    from aarshjul.db.migrate import upgrade
    from aarshjul.db.models import Completion, Member
    from aarshjul.db.session import make_engine, session_scope
    from aarshjul.flows.mail import send_newsletter
    from aarshjul.settings import get_settings

    sink = smtp_sink()
    url = f"sqlite:///{tmp_path / 'mail.db'}"
    upgrade(url)
    from datetime import datetime, timezone

    now = datetime(2025, 3, 1, tzinfo=timezone.utc)
    engine = make_engine(url)
    with session_scope(engine) as session:
        for i in range(1, 8):
            session.add(Member(organisation="test-org", number=str(i), first_name=f"N{i}", last_name="X",
                               email=f"n{i}@example.org", branch="nord", status="active", first_seen=now,
                               updated_at=now, row_hash="x"))
    for name, value in {"AARSHJUL_DATABASE_URL": url, "AARSHJUL_SMTP_URL": sink.url,
                        "AARSHJUL_SECRET_KEY_FILE": str(tmp_path / "secret.key")}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        plan = str(DATA / "minimal" / "plan.yaml")
        [first] = send_newsletter("nyhetsbrev", None, plan, date(2025, 3, 2))  # due on 1 March
        assert first.campaign == "nyhetsbrev/2025-03" and first.sent == 7 and len(sink.messages) == 7
        [again] = send_newsletter("nyhetsbrev", "2025-03", plan, date(2025, 3, 2))
        assert again.sent == 0 and again.added == 0 and len(sink.messages) == 7
        assert send_newsletter("nyhetsbrev", None, plan, date(2025, 3, 20)) == []  # too late: not sent
        digests = send_newsletter("hva-skjer", None, plan, date(2025, 3, 1))
        assert [d.campaign for d in digests] == ["hva-skjer/nord/2025-03", "hva-skjer/sor/2025-03"]
        assert [d.sent for d in digests] == [7, 0]
        with session_scope(engine) as session:
            done = session.scalar(select(Completion).where(Completion.ref == "2.5@nyhetsbrev/2025-03"))
            assert done.outcome == "held" and done.on_date == date(2025, 3, 2) and "7" in done.note
    finally:
        engine.dispose()
        get_settings.cache_clear()


def test_invitations_request_update_and_cancel_with_the_feeds_uid(prefect_harness, monkeypatch, tmp_path, smtp_sink,
                                                                  files):
    from datetime import datetime, timezone

    import icalendar

    from aarshjul.db.migrate import upgrade
    from aarshjul.db.models import Member
    from aarshjul.db.session import make_engine, session_scope
    from aarshjul.domain.expand import expand
    from aarshjul.flows.mail import send_invitations
    from aarshjul.flows.plan import sync_plan
    from aarshjul.settings import get_settings

    sink = smtp_sink()
    url = f"sqlite:///{tmp_path / 'inv.db'}"
    upgrade(url)
    now = datetime(2025, 3, 1, tzinfo=timezone.utc)
    engine = make_engine(url)
    with session_scope(engine) as session:
        for i, roles in ((1, "styret"), (2, "au,styret"), (3, None)):
            session.add(Member(organisation="test-org", number=str(i), first_name=f"S{i}", last_name="Ø",
                               email=f"s{i}@example.org", roles=roles, status="active", first_seen=now,
                               updated_at=now, row_hash="x"))
    engine.dispose()
    for name, value in {"AARSHJUL_DATABASE_URL": url, "AARSHJUL_SMTP_URL": sink.url,
                        "AARSHJUL_SECRET_KEY_FILE": str(tmp_path / "secret.key")}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    pin = 'occurrences:\n  "1.2/2025/1":\n    date: "{day}"\n    start: "18:00"\n    place: Folkets hus\n{extra}'
    try:
        plan = str(files.plan)
        uid = next(o.uid for o in expand(files.load()) if o.key == "1.2/2025/1")

        def step(day: str, extra: str = "") -> list:
            """The messages about meeting 1.2/2025/1 this step sent (the board's monthly
            meetings in the next 60 days are invited to as well)."""
            files.write("schedule.yaml", pin.format(day=day, extra=extra))
            sync_plan(plan_path=plan, today=date(2025, 3, 1))
            before = len(sink.messages)
            send_invitations(plan, date(2025, 3, 1))
            return [m for m in sink.messages[before:] if uid.encode() in m.raw.replace(b"=\r\n", b"")]

        first = step("2025-03-20")
        assert sorted(m.to[0] for m in first) == ["s1@example.org", "s2@example.org"]  # role styret only
        msg = first[0].parsed()
        part = next(p for p in msg.walk() if p.get_content_type() == "text/calendar")
        assert part.get_param("method") == "REQUEST"
        cal = icalendar.Calendar.from_ical(part.get_content())
        ev = next(iter(cal.walk("VEVENT")))
        assert str(cal["METHOD"]) == "REQUEST" and str(ev["UID"]) == uid and ev["SEQUENCE"] == 0
        assert str(ev["ATTENDEE"]) == f"mailto:{first[0].to[0]}" and str(ev["ORGANIZER"]) == "mailto:styret@example.org"
        assert step("2025-03-20") == []  # nothing changed: nothing sent
        moved = step("2025-03-27")
        assert len(moved) == 2 and moved[0].parsed()["Subject"].startswith("Endret:")
        ev = next(iter(icalendar.Calendar.from_ical(next(
            p for p in moved[0].parsed().walk() if p.get_content_type() == "text/calendar").get_content())
            .walk("VEVENT")))
        assert ev["SEQUENCE"] == 1 and str(ev["UID"]) == uid and ev["DTSTART"].dt.day == 27
        cancelled = step("2025-03-27", "    status: cancelled\n")
        assert len(cancelled) == 2
        part = next(p for p in cancelled[0].parsed().walk() if p.get_content_type() == "text/calendar")
        cal = icalendar.Calendar.from_ical(part.get_content())
        assert part.get_param("method") == "CANCEL" and str(cal["METHOD"]) == "CANCEL"
        cancelled_event = next(iter(cal.walk("VEVENT")))
        assert str(cancelled_event["STATUS"]) == "CANCELLED"
        assert "RSVP" not in cancelled_event["ATTENDEE"].params  # a cancellation asks no answer (issue 12)
    finally:
        get_settings.cache_clear()


def test_a_second_run_while_one_is_in_progress_says_so_and_sends_nothing(prefect_harness, settings_env, smtp_sink, monkeypatch,
                                                            tmp_path):
    """The lock lives in aarshjul's database, so it holds across processes and servers."""
    from aarshjul.db.locks import Busy, exclusive
    from aarshjul.flows.mail import send_newsletter
    from aarshjul.settings import get_settings

    monkeypatch.setenv("AARSHJUL_SMTP_URL", smtp_sink().url)
    monkeypatch.setenv("AARSHJUL_SECRET_KEY_FILE", str(tmp_path / "secret.key"))
    get_settings.cache_clear()
    plan = str(DATA / "minimal" / "plan.yaml")
    with exclusive(settings_env, "send-newsletter:test-org"):  # another run holds it
        with pytest.raises(Busy):
            with exclusive(settings_env, "send-newsletter:test-org"):
                pass
        with pytest.raises(Busy) as busy:  # never "nothing to do" when it did not look
            send_newsletter("nyhetsbrev", "2025-03", plan, date(2025, 3, 2))
        assert busy.value.exit_status == 75 and busy.value.transient
    # released: the next run proceeds (and finds nobody to send to in this empty database)
    [summary] = send_newsletter("nyhetsbrev", "2025-03", plan, date(2025, 3, 2))
    assert summary.campaign == "nyhetsbrev/2025-03"
