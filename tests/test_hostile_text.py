"""Data is never code: template, HTML and iCalendar syntax in the plan's text comes out
literally in every output, and never runs.

Regression for issue 15 item 1: a measure title `{{ cycler.__init__.__globals__.os.popen(…) }}`
ran a shell command during `aarshjul run`, and a stray `{%` in a title stopped all mail.
"""

from __future__ import annotations

import email
import email.policy
from datetime import date, datetime, timezone

import icalendar
import pytest

pytestmark = pytest.mark.prefect

# Template syntax that would run a command, an unbalanced block tag, HTML, iCalendar and
# header-like text, all in one value.
RCE = '{{{{ cycler.__init__.__globals__.os.popen("touch {marker}").read() }}}}'
REST = "{% if <b>&</b>; BEGIN:VEVENT, Bcc: x@example.org"


def hostile(files, marker) -> str:
    payload = f"{RCE.format(marker=marker)} {REST}"
    quoted = "'" + payload.replace("'", "''") + "'"
    files.edit("plan.yaml", "title: Møter for nye medlemmer", f"title: {quoted}")
    files.edit("plan.yaml", "title: Samling hvert halvår", f"title: {quoted}")
    files.edit("organisation.yaml", "name: Testlaget", f"name: {quoted}")
    files.edit("organisation.yaml", "styret: {name: Styret,", f"styret: {{name: {quoted},")
    files.edit("organisation.yaml", "nord: {name: Nord SV,", f"nord: {{name: {quoted},")
    files.write("schedule.yaml", 'occurrences:\n  "1.2/2025/1":\n    date: "2025-06-21"\n    start: "18:00"\n'
                f"    place: {quoted}\n    note: {quoted}\n")
    return payload


def test_template_syntax_in_plan_text_is_printed_never_run(prefect_harness, monkeypatch, tmp_path, files):
    from aarshjul.db.migrate import upgrade
    from aarshjul.db.models import Member
    from aarshjul.db.session import make_engine, session_scope
    from aarshjul.domain.load import load_plan
    from aarshjul.flows.run import run_all
    from aarshjul.settings import get_settings

    marker = tmp_path / "PWNED"
    payload = hostile(files, marker)
    load_plan(files.plan)  # the plan is valid: the text is just text

    url = f"sqlite:///{tmp_path / 'h.db'}"
    upgrade(url)
    now = datetime(2025, 5, 1, tzinfo=timezone.utc)
    engine = make_engine(url)
    with session_scope(engine) as session:
        session.add(Member(organisation="test-org", number="1", first_name="Ola", last_name="Nordmann",
                           email="ola@example.org", branch="nord", roles="styret", status="active",
                           first_seen=now, updated_at=now, row_hash="x"))
    engine.dispose()
    outbox, site = tmp_path / "outbox", tmp_path / "site"
    for name, value in {"AARSHJUL_DATABASE_URL": url, "AARSHJUL_OUTBOX_DIR": str(outbox),
                        "AARSHJUL_SITE_DIR": str(site), "AARSHJUL_SECRET_KEY_FILE": str(tmp_path / "k")}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        # 31 May: the 21-day reminder of the pinned meeting, the unscheduled-slot reminder
        # of the half-year gathering, the invitation; 1 June: the branch digest.
        run_all(plan_path=str(files.plan), today=date(2025, 5, 31))
        run_all(plan_path=str(files.plan), today=date(2025, 6, 1))
    finally:
        get_settings.cache_clear()

    assert not marker.exists(), "plan text was run as a template"
    messages = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                for p in sorted(outbox.rglob("*.eml"))]
    subjects = [str(m["Subject"]) for m in messages]
    assert any(s.startswith("Om 21 dager: ") for s in subjects), subjects
    assert any(s.startswith("Ikke berammet: ") for s in subjects), subjects
    assert any(s.startswith("Hva skjer i ") for s in subjects), subjects
    invitations = [m for m in messages if any(p.get_content_type() == "text/calendar" for p in m.walk())]
    assert invitations, subjects
    for prefix in ("Om 21 dager: ", "Ikke berammet: ", "Hva skjer i ", ""):  # "": the invitation to 1.2
        assert any(s.startswith(prefix + payload) for s in subjects), (prefix, subjects)  # literally, decoded
    for m in messages:
        assert "Bcc" not in m and m["To"].addresses[0].addr_spec in {"ola@example.org", "styret@example.org",
                                                                     "nord@example.org", "bg@example.org"}
        text = m.get_body(("plain",)).get_content()
        html = m.get_body(("html",)).get_content()
        assert payload in text
        assert "<b>&</b>" not in html and "&lt;b&gt;&amp;&lt;/b&gt;" in html
    pinned = []
    for m in invitations:
        part = next(p for p in m.walk() if p.get_content_type() == "text/calendar")
        [event] = icalendar.Calendar.from_ical(part.get_content()).walk("VEVENT")
        if str(event["SUMMARY"]).startswith(payload):
            pinned.append(event)
    assert [str(e["LOCATION"]) for e in pinned] == [payload]  # one invitation, to the one board member

    feeds = list(site.rglob("*.ics"))
    assert len(feeds) > 3
    seen = 0
    for feed in feeds:
        cal = icalendar.Calendar.from_ical(feed.read_bytes())
        events = cal.walk("VEVENT")
        assert all(e["UID"] for e in events)  # BEGIN:VEVENT inside a value made no new event
        seen += sum(str(e["SUMMARY"]).startswith(payload) for e in events)
    assert seen > 0
    page = (site / "index.html").read_text(encoding="utf-8")
    assert "<b>&</b>" not in page and "{{ cycler" in page.replace("&#123;", "{")
