"""Credited and worded right (issue 12 item 4): reminders state the real days left, a
first invitation is not a change, a cancellation carries its reason, an empty digest is
not sent, and a letter sent by hand is credited to its edition's occurrence."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from aarshjul.domain.campaigns import invitation_campaigns, newsletter_campaign, reminder_campaign
from aarshjul.domain.editions import editions_for
from aarshjul.domain.errors import EditionEmpty
from aarshjul.domain.expand import expand
from aarshjul.domain.feeds import Entry
from aarshjul.domain.reminders import due_reminders
from aarshjul.tasks.mail_render import Renderer

PIN = 'occurrences:\n  "1.2/2025/1":\n    date: "2025-06-26"\n    start: "18:00"\n    place: Folkets hus\n'
MEETING = date(2025, 6, 26)


def render(campaign) -> tuple[str, str, str]:
    return Renderer(campaign.template, campaign.subject).render({**campaign.context, "first_name": "Kari",
                                                                 "unsubscribe_url": "https://x.example/u"})


def lead_reminders(plan, today: date) -> list:
    return [r for r in due_reminders(expand(plan), today, plan.mail.reminders) if r.occurrence.key == "1.2/2025/1"]


# --- reminders ---------------------------------------------------------------------------------


@pytest.mark.parametrize("days_left, campaign, subject", [
    (21, "reminder/1.2/2025/1/lead-21", "Om 21 dager: Møter for nye medlemmer (1/2)"),
    (15, "reminder/1.2/2025/1/lead-21", "Om 15 dager: Møter for nye medlemmer (1/2)"),  # a run late: the real days
    (14, "reminder/1.2/2025/1/lead-21", "Om 14 dager: Møter for nye medlemmer (1/2)"),
    (9, None, None),  # far too late for the 21-day reminder: the 7-day one follows in two days
    (7, "reminder/1.2/2025/1/lead-7", "Om 7 dager: Møter for nye medlemmer (1/2)"),
    (4, "reminder/1.2/2025/1/lead-7", "Om 4 dager: Møter for nye medlemmer (1/2)"),
    (1, "reminder/1.2/2025/1/lead-7", "I morgen: Møter for nye medlemmer (1/2)"),
    (0, "reminder/1.2/2025/1/lead-7", "I dag: Møter for nye medlemmer (1/2)"),
])
def test_a_reminder_states_the_real_days_left(files, days_left, campaign, subject):
    """Regression: a '21 days' reminder went out 9 days before the meeting (a run that came
    late sent the 21-day reminder, worded with its lead time)."""
    files.write("schedule.yaml", PIN)
    plan = files.load()
    found = lead_reminders(plan, MEETING - timedelta(days=days_left))
    if campaign is None:
        assert found == []
        return
    [r] = found
    assert (r.campaign, r.days) == (campaign, days_left)
    subj, text, html = render(reminder_campaign(plan, r))
    assert subj == subject and subject in text
    assert "21 dager" not in subj or days_left == 21


def test_an_unscheduled_slot_is_reminded_with_the_days_left_in_its_window(files):
    plan = files.load()
    [r] = [r for r in due_reminders(expand(plan), date(2025, 6, 5), plan.mail.reminders)
           if r.occurrence.key == "1.3/2025-H1"]
    assert (r.campaign, r.days, r.lead) == ("reminder/1.3/2025-H1/unscheduled-30", 25, 30)
    _, text, _ = render(reminder_campaign(plan, r))
    assert "innen 30. juni 2025, om 25 dager" in text


# --- invitations -------------------------------------------------------------------------------


def entries(plan, *, sequence: int, cancelled: bool = False, reason: str | None = None) -> list[Entry]:
    now = datetime(2025, 6, 1, tzinfo=timezone.utc)
    out = []
    for o in expand(plan):
        if o.key == "1.2/2025/1":
            o = replace(o, status="cancelled") if cancelled else o
            out.append(Entry(o, sequence, now, now, reason=reason if cancelled else None))
    return out


def test_a_first_invitation_is_not_titled_as_a_change(files):
    """Regression: a member's first invitation was titled 'Endret:' when the meeting had
    been edited (its SEQUENCE above 0) before anyone was invited."""
    files.write("schedule.yaml", PIN)
    plan = files.load()
    [(first, body)] = invitation_campaigns(plan, entries(plan, sequence=2), date(2025, 6, 1), set())
    subject, text, html = render(first)
    assert body == "styret" and first.key.endswith("/styret/2")
    assert subject.startswith("Møter for nye medlemmer (1/2) – ") and "Endret" not in text + html

    invited = {first.key.removesuffix("/2") + "/1"}  # invited at revision 1: revision 2 is a change
    [(update, _)] = invitation_campaigns(plan, entries(plan, sequence=2), date(2025, 6, 1), invited)
    subject, text, html = render(update)
    assert subject.startswith("Endret: ") and "Endret: Møter for nye medlemmer" in text


def test_a_cancellation_carries_the_reason_given_to_cancel(files, tmp_path):
    """Regression: the reason given to `aarshjul cancel --reason` appeared nowhere. Through
    the real database: recorded as `cancel` records it, stored as the main job stores the
    agenda, read back as the invitation flow reads it."""
    from aarshjul.db.calendars import entries as stored_entries
    from aarshjul.db.completions import record_completion
    from aarshjul.db.migrate import upgrade
    from aarshjul.db.session import make_engine, session_scope
    from aarshjul.tasks.plan_io import save_agenda

    files.write("schedule.yaml", PIN)
    plan = files.load()
    org = plan.organisation.id
    url = f"sqlite:///{tmp_path / 'a.db'}"
    upgrade(url)
    save_agenda.fn(url, org, expand(plan))
    uid = next(o.uid for o in expand(plan) if o.key == "1.2/2025/1")
    [(invite, _)] = [c for c in invitation_campaigns(plan, _stored(url, plan), date(2025, 6, 1), set())
                     if f"/{uid}/" in c[0].key]
    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            record_completion(s, org, "1.2", "1.2/2025/1", None, datetime.now(timezone.utc), outcome="cancelled",
                              occurrence_key="1.2/2025/1", note="Lokalet brant", source="cli")
    finally:
        engine.dispose()
    save_agenda.fn(url, org, expand(plan))
    stored = _stored(url, plan)
    assert [e.reason for e in stored if e.occurrence.key == "1.2/2025/1"] == ["Lokalet brant"]
    [(cancel, _)] = [c for c in invitation_campaigns(plan, stored, date(2025, 6, 1), {invite.key})
                     if f"/{uid}/" in c[0].key]
    assert cancel.calendar_method == "CANCEL"
    subject, text, html = render(cancel)
    assert subject.startswith("Avlyst: ")
    assert "er avlyst. Grunn: Lokalet brant" in text and "Grunn: Lokalet brant" in html
    assert b"Lokalet brant" in cancel.calendar.replace(b"\r\n ", b"")  # and in the iMIP CANCEL's DESCRIPTION
    assert stored_entries  # the function the flows read entries with


def _stored(url: str, plan) -> list[Entry]:
    from aarshjul.db.calendars import entries as stored_entries
    from aarshjul.db.session import make_engine, session_scope

    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            return stored_entries(s, plan.organisation.id, plan.tz)
    finally:
        engine.dispose()


# --- the digest --------------------------------------------------------------------------------


def test_an_empty_digest_is_not_sent_and_says_so(files):
    """Regression: an empty 'Hva skjer' digest still went to every member."""
    plan = files.load()
    n = next(n for n in plan.mail.newsletters if n.id == "hva-skjer")
    quiet = date(2025, 7, 1)  # the six weeks from 1 July hold only the board's own meetings
    editions = editions_for(plan, n, quiet)
    busy = [o for o in expand(plan) if o.status == "scheduled" and quiet <= o.span.start <= quiet + timedelta(42)
            and o.visibility in ("members", "public")]
    assert busy == []  # the minimal plan's summer has nothing for the members
    with pytest.raises(EditionEmpty, match="nothing to report in the next 6 weeks; the overview is not sent") as caught:
        newsletter_campaign(plan, n, editions[0], quiet)
    assert caught.value.say("nb").endswith(": ingenting å melde de neste 6 ukene; oversikten sendes ikke")
    assert caught.value.exit_status == 2
    preview = newsletter_campaign(plan, n, editions[0], quiet, allow_empty=True)
    assert preview.context["events"] == []

    may = date(2025, 5, 1)  # Pride (a public annual day, 2-8 June) is in the six weeks: sent as usual
    full = newsletter_campaign(plan, n, editions_for(plan, n, may)[0], may)
    assert [e["title"] for e in full.context["events"]] == ["Merkedager: Pride"] or full.context["events"]


# --- a letter sent by hand ---------------------------------------------------------------------


@pytest.mark.prefect
def test_a_letter_sent_by_hand_is_credited_to_its_editions_occurrence(prefect_harness, files, tmp_path,
                                                                      monkeypatch, capsys):
    """Regression: `newsletter send medlemsbrev --edition 2026-11`, sent by hand a week
    late, was not credited to November's occurrence: the report said 'ikke registrert' and
    the board was asked whether the letter was held. End to end: the real command (its flow
    under Prefect's harness), the report it writes, and the occurrences the question asks about."""
    from aarshjul.cli import main
    from aarshjul.db.migrate import upgrade
    from aarshjul.domain.load import load_plan
    from aarshjul.settings import get_settings
    from aarshjul.tasks.report import passed_occurrences
    from test_mail import add_members, people

    # the newsletter logs against the board's monthly series (2.3, first Tuesday): its
    # edition 2025-03 is the letter of 4 March, occurrence 2.3/2025-03-04
    files.edit("mail.yaml", 'measure: "2.5"', 'measure: "2.3"')
    files.edit("mail.yaml", "schedule: FREQ=MONTHLY;BYMONTHDAY=1\n    template: medlemsbrev",
               "schedule: FREQ=MONTHLY;BYDAY=1TU\n    template: medlemsbrev")
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    for name, value in {"AARSHJUL_DATABASE_URL": url, "AARSHJUL_PLAN": str(files.plan),
                        "AARSHJUL_SECRET_KEY_FILE": str(tmp_path / "secret.key"),
                        "AARSHJUL_OUTBOX_DIR": str(tmp_path / "outbox"), "COLUMNS": "200"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AARSHJUL_SMTP_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    upgrade(url)
    add_members(url, people(3))

    def run(*args: str) -> str:
        get_settings.cache_clear()
        capsys.readouterr()
        try:
            main(list(args))
        except SystemExit as exc:
            assert exc.code in (0, None), capsys.readouterr()
        return capsys.readouterr().out

    try:
        late = ("--today", "2025-03-11")  # a week after the scheduled day
        assert "nyhetsbrev/2025-03: 3 sendt" in run("newsletter", "send", "nyhetsbrev", "--edition", "2025-03", *late)
        run("report", "2025", "--format", "md", "--out", "r.md", *late)
        [line] = [x for x in (tmp_path / "r.md").read_text(encoding="utf-8").splitlines() if "`2.3/2025-03-04`" in x]
        assert "holdt" in line and "ikke registrert" not in line, line
        get_settings.cache_clear()
        asked = {o.key for o in passed_occurrences.fn(load_plan(files.plan), date(2025, 3, 11), 14)}
        assert "2.3/2025-03-04" not in asked
        run("revoke", "2.3/2025-03-04", *late)  # the credit taken back: now the board is asked about it
        get_settings.cache_clear()
        asked = {o.key for o in passed_occurrences.fn(load_plan(files.plan), date(2025, 3, 11), 14)}
        assert "2.3/2025-03-04" in asked
    finally:
        get_settings.cache_clear()
