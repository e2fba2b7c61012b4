"""CalDAV sees what people did (issue 11 items 3 and 4), against Radicale and Xandikos.

Every publish looks at each calendar in one sync-collection REPORT (RFC 6578) with the
stored token: a person's edit or delete is reported at the next publish, with zero PUT
and zero DELETE, and `aarshjul calendars conflicts` shows it field by field. A
placeholder a board member moves to a date in their calendar app is a proposed pin that
`calendars resolve UID --keep theirs` writes into schedule.yaml."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from test_caldav_sync import T0, Sync, total

JSON = ("--format", "json")


@pytest.fixture
def sync(files, tmp_path, caldav_server, counting_proxy):
    s = Sync(files, tmp_path, caldav_server, counting_proxy(caldav_server))
    yield s
    s.engine.dispose()


def cli(sync: Sync, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "AARSHJUL_DATABASE_URL": sync.url, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "aarshjul", *args, "--plan", str(sync.files.plan)],
                          capture_output=True, text=True, timeout=120, env=env, cwd=sync.files.folder)


def person_edits(sync: Sync, uid: str, change) -> None:
    """A person changes the event in their calendar app: a conditional PUT straight at the server."""
    client, cal = sync.server_calendar("styret")
    obj = cal.event_by_uid(uid)
    obj.load()
    response = client.put(str(obj.url), change(obj.data),
                          {"Content-Type": "text/calendar; charset=utf-8", "If-Match": obj.etag})
    assert response.status in (200, 201, 204)


def person_deletes(sync: Sync, uid: str) -> None:
    _, cal = sync.server_calendar("styret")
    cal.event_by_uid(uid).delete()


def writes(sync: Sync) -> list[str]:
    return [r.method for r in sync.proxy.requests if r.method in ("PUT", "DELETE", "MKCALENDAR", "PROPPATCH")]


def test_a_persons_edit_is_reported_at_the_next_publish_with_zero_writes(sync):
    sync.run()
    uid = sync.uid("1.2/2025/1")

    def later_and_elsewhere(data: str) -> str:
        data = data.replace("T180000", "T190000").replace("T200000", "T210000")
        return data.replace("SUMMARY:", "LOCATION:Styrerommet\r\nSUMMARY:", 1)

    person_edits(sync, uid, later_and_elsewhere)
    counts = sync.run(T0 + timedelta(hours=1))  # the plan did not change
    assert counts["styret"].new_conflicts == [uid] and total(counts, "conflicts") == 1
    assert counts["styret"].proposed == []  # a scheduled event edited: no proposal
    assert writes(sync) == []
    assert sorted(r.method for r in sync.proxy.requests) == ["GET"] + ["REPORT"] * 4  # its server copy, once

    listed = json.loads(cli(sync, "calendars", "conflicts", *JSON).stdout)
    assert [(c["key"], c["server"]) for c in listed] == [("1.2/2025/1", "edited")]
    assert {c["field"]: (c["ours"], c["theirs"]) for c in listed[0]["changes"]} == {
        "time": ("18:00–20:00", "19:00–21:00"), "place": (None, "Styrerommet")}
    table = cli(sync, "calendars", "conflicts")
    assert "tid: 18:00–20:00 → 19:00–21:00" in table.stdout and "sted: – → Styrerommet" in table.stdout

    again = sync.run(T0 + timedelta(hours=2))  # known: not reported again, still left alone
    assert again["styret"].new_conflicts == [] and total(again, "conflicts") == 1
    assert sorted(r.method for r in sync.proxy.requests) == ["REPORT"] * 4


def test_a_persons_delete_is_reported_at_the_next_publish_with_zero_writes(sync):
    sync.run()
    uid = sync.uid("1.2/2025/1")
    person_deletes(sync, uid)
    counts = sync.run(T0 + timedelta(hours=1))
    assert counts["styret"].new_conflicts == [uid]
    assert writes(sync) == [] and sorted(r.method for r in sync.proxy.requests) == ["REPORT"] * 4
    listed = json.loads(cli(sync, "calendars", "conflicts", *JSON).stdout)
    assert [(c["key"], c["server"], c["changes"]) for c in listed] == [
        ("1.2/2025/1", "deleted", [{"field": "deleted", "ours": None, "theirs": None}])]
    assert "slettet" in cli(sync, "calendars", "conflicts").stdout

    resolved = cli(sync, "calendars", "resolve", uid, "--keep", "ours")  # put the plan's version back
    assert resolved.returncode == 0, resolved.stderr
    counts = sync.run(T0 + timedelta(hours=2))
    assert total(counts, "created") == 1 and uid in sync.server_events("styret")


def test_a_cancelled_event_a_person_deletes_is_no_conflict(sync):
    sync.run()
    uid = sync.uid("1.2/2025/1")
    sync.files.write("schedule.yaml", 'occurrences:\n  "1.2/2025/1":\n    date: "2025-03-30"\n    status: cancelled\n')
    sync.run(T0 + timedelta(days=1))
    person_deletes(sync, uid)  # people delete cancelled events from their calendars
    counts = sync.run(T0 + timedelta(days=2))
    assert total(counts, "conflicts") == 0 and writes(sync) == []


def test_without_sync_collection_one_propfind_of_etags_per_calendar(sync):
    """A server that does not do RFC 6578 (the proxy answers REPORT with 501): one Depth-1
    PROPFIND of the ETags per calendar instead, and a person's edit is still seen."""
    sync.run()
    uid = sync.uid("1.2/2025/1")
    sync.proxy.refuse = {"REPORT"}
    counts = sync.run(T0 + timedelta(hours=1))
    assert total(counts, "conflicts") == 0 and writes(sync) == []
    assert sorted(r.method for r in sync.proxy.requests) == ["PROPFIND"] * 4 + ["REPORT"] * 4  # tried once
    assert all(r.headers.get("Depth") == "1" for r in sync.proxy.requests if r.method == "PROPFIND")
    sync.run(T0 + timedelta(hours=1, minutes=30))
    assert sorted(r.method for r in sync.proxy.requests) == ["PROPFIND"] * 4  # then remembered: one request each
    person_edits(sync, uid, lambda data: data.replace("SUMMARY:", "LOCATION:Styrerommet\r\nSUMMARY:", 1))
    counts = sync.run(T0 + timedelta(hours=2))
    assert counts["styret"].new_conflicts == [uid] and writes(sync) == []


# --- item 4: scheduling from the calendar app ----------------------------------------------------

SCHEDULE = '''# The board's pins. Keep this comment.
occurrences:
  # the first new-member meeting
  "1.2/2025/1":
    date: "2025-03-30"
    start: '18:00'   # single quotes, as the board wrote them
    end: "20:00"
'''


def move_placeholder(sync: Sync, key: str, day: str, start: str, end: str, location: str | None = None) -> str:
    """A board member drags the placeholder to a date and time in their calendar app."""
    uid = sync.uid(key)

    def moved(data: str) -> str:
        lines = []
        for line in data.replace("\r\n", "\n").split("\n"):
            if line.startswith("DTSTART"):
                line = f"DTSTART;TZID=Europe/Oslo:{day}T{start}00"
            elif line.startswith("DTEND"):
                line = f"DTEND;TZID=Europe/Oslo:{day}T{end}00"
            elif line.startswith("SUMMARY") and location is not None:
                lines.append(f"LOCATION:{location}")
            lines.append(line)
        return "\r\n".join(lines)

    person_edits(sync, uid, moved)
    return uid


def test_a_placeholder_moved_in_the_calendar_app_becomes_a_pin(sync):
    sync.files.write("schedule.yaml", SCHEDULE)
    sync.run()
    uid = move_placeholder(sync, "1.2/2025/2", "20250918", "1800", "2000", "Folkets hus")
    counts = sync.run(T0 + timedelta(hours=1))
    assert counts["styret"].new_conflicts == [uid] and writes(sync) == []  # seen at once, nothing written
    assert counts["styret"].proposed == [uid]

    [listed] = json.loads(cli(sync, "calendars", "conflicts", *JSON).stdout)
    assert listed["server"] == "proposed" and listed["key"] == "1.2/2025/2"
    assert listed["proposal"] == {"date": "2025-09-18", "start": "18:00", "end": "20:00", "place": "Folkets hus"}
    assert "foreslått dato" in cli(sync, "calendars", "conflicts").stdout

    resolved = cli(sync, "calendars", "resolve", uid, "--keep", "theirs")
    assert resolved.returncode == 0, resolved.stderr
    text = (sync.files.folder / "schedule.yaml").read_text(encoding="utf-8")
    assert text.startswith(SCHEDULE)  # comments, order and quoting kept
    assert text[len(SCHEDULE):] == ('  "1.2/2025/2":\n    date: "2025-09-18"\n    start: "18:00"\n    end: "20:00"\n'
                                    '    place: "Folkets hus"\n')
    check = cli(sync, "check")
    assert check.returncode == 0, check.stdout + check.stderr

    counts = sync.run(T0 + timedelta(hours=2))  # an ordinary scheduled event now: the plan's version, pushed
    assert total(counts, "conflicts") == 0 and total(counts, "updated") == 1
    put = next(r for r in sync.proxy.requests if r.method == "PUT")
    assert put.headers.get("If-Match")  # over the person's copy, which it matches
    ev = sync.server_events("styret")[uid]
    assert str(ev["STATUS"]) == "CONFIRMED" and ev["SEQUENCE"] == 1 and str(ev["LOCATION"]) == "Folkets hus"
    assert ev["DTSTART"].dt.isoformat() == "2025-09-18T18:00:00+02:00"
    assert json.loads(cli(sync, "calendars", "conflicts", *JSON).stdout) == []


@pytest.mark.parametrize("day, start, end, reason, grunn", [
    ("20260210", "1800", "2000", "outside the window 2025-01-01/2025-12-31",  # next year's slot is another
     "utenfor vinduet 2025-01-01/2025-12-31"),
    ("20250330", "0230", "0330", "start 02:30 on 2025-03-30 does not exist in Europe/Oslo",
     "start 02:30 den 2025-03-30 finnes ikke i Europe/Oslo"),
])
def test_a_proposal_that_is_no_valid_pin_is_refused_and_nothing_is_written(sync, day, start, end, reason, grunn):
    sync.files.write("schedule.yaml", SCHEDULE)
    sync.run()
    uid = move_placeholder(sync, "1.2/2025/2", day, start, end)
    sync.run(T0 + timedelta(hours=1))
    before = (sync.files.folder / "schedule.yaml").read_bytes()
    refused = cli(sync, "calendars", "resolve", uid, "--keep", "theirs", "--lang", "en")  # the reason in English
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert reason in refused.stderr and "nothing written" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    nektet = cli(sync, "calendars", "resolve", uid, "--keep", "theirs", "--lang", "nb")  # and in Norwegian
    assert nektet.returncode == 2 and grunn in nektet.stderr and "outside" not in nektet.stderr, nektet.stderr
    assert (sync.files.folder / "schedule.yaml").read_bytes() == before
    assert json.loads(cli(sync, "calendars", "conflicts", *JSON).stdout)[0]["uid"] == uid  # still open


def test_server_text_in_a_proposal_is_data_in_the_yaml(sync):
    """A place with quotes, a line break, YAML syntax, a tag and a template: written as one
    double-quoted string, read back as exactly that text, and nothing else in the pin."""
    sync.files.write("schedule.yaml", SCHEDULE)
    sync.run()
    hostile = 'Hus"\\n    status: cancelled\\n# {{ 7*7 }} &a *a !!python/object/apply:os.system [ls] ${X}'
    uid = move_placeholder(sync, "1.2/2025/2", "20250918", "1800", "2000", hostile)
    sync.run(T0 + timedelta(hours=1))
    resolved = cli(sync, "calendars", "resolve", uid, "--keep", "theirs")
    assert resolved.returncode == 0, resolved.stderr
    plan = sync.files.load()
    pin = plan.pins["1.2/2025/2"]
    assert pin.place == hostile.replace("\\n", "\n") and pin.status == "scheduled" and "49" not in pin.place
    assert set(plan.pins) == {"1.2/2025/1", "1.2/2025/2"}


# --- item 5: calendars as calendars ----------------------------------------------------------------


def supported(sync: Sync, body: str) -> list[str]:
    _, cal = sync.server_calendar(body)
    return sorted(str(c).upper() for c in cal.get_supported_components())


def test_calendars_are_made_for_events_only_and_carry_no_private_class(sync):
    counts = sync.run()
    for body in ("styret", "bystyregruppen", "nord", "sor"):
        assert supported(sync, body) == ["VEVENT"]
        assert counts[body].components == ["VEVENT"] and not counts[body].wrongly_made
    _, cal = sync.server_calendar("styret")
    for obj in cal.events():
        obj.load()
        assert "CLASS:PRIVATE" not in obj.data


def test_a_calendar_made_wrongly_is_reported_not_made_again(files, tmp_path, radicale, counting_proxy):
    import caldav

    client = caldav.DAVClient(url=radicale.url, username=radicale.username, password=radicale.password)
    client.principal().make_calendar(name="Styret", cal_id="test-org-styret",
                                     supported_calendar_component_set=["VEVENT", "VTODO"])
    sync = Sync(files, tmp_path, radicale, counting_proxy(radicale))
    try:
        counts = sync.run()
        assert counts["styret"].wrongly_made and counts["styret"].components == ["VEVENT", "VTODO"]
        assert not counts["nord"].wrongly_made
        assert sync.proxy.count("MKCALENDAR") == 3 and sync.proxy.count("DELETE") == 0  # styret's used as it is
        assert supported(sync, "styret") == ["VEVENT", "VTODO"] and counts["styret"].created > 30
        again = sync.run(T0 + timedelta(hours=1))  # still reported, from what was read the first time
        assert again["styret"].wrongly_made and sorted(r.method for r in sync.proxy.requests) == ["REPORT"] * 4
    finally:
        sync.engine.dispose()


def test_a_calendar_deleted_on_the_server_is_made_again_and_its_events_reported_deleted(sync):
    sync.run()
    _, cal = sync.server_calendar("nord")
    cal.delete()
    counts = sync.run(T0 + timedelta(hours=1))
    assert len(counts["nord"].new_conflicts) == counts["nord"].conflicts > 0 and total(counts, "created") == 0
    assert sync.proxy.count("MKCALENDAR") == 1 and sync.proxy.count("PUT") == 0  # its events are not pushed back
    assert sync.server_events("nord") == {}
    listed = json.loads(cli(sync, "calendars", "conflicts", *JSON).stdout)
    assert {c["server"] for c in listed} == {"deleted"} and {c["calendar"] for c in listed} == {"nord"}


def test_a_server_failing_on_report_is_a_transient_error_not_a_server_without_sync(sync):
    from aarshjul.db.models import CaldavCalendar
    from aarshjul.db.session import session_scope
    from aarshjul.tasks.caldav import NO_SYNC, CaldavError

    sync.run()
    sync.server.stop()
    with pytest.raises(CaldavError) as caught:
        sync.run(T0 + timedelta(hours=1))
    assert caught.value.transient and [r.method for r in sync.proxy.requests] == ["REPORT"]
    sync.server.start()
    sync.run(T0 + timedelta(hours=2))
    assert sorted(r.method for r in sync.proxy.requests) == ["REPORT"] * 4
    with session_scope(sync.engine) as session:
        assert NO_SYNC not in {c.sync_token for c in session.query(CaldavCalendar)}


def test_publish_output_reports_conflicts_proposals_and_a_calendar_made_wrongly(monkeypatch):
    """What `aarshjul publish` prints from the flow's result (the CLI's side of items 3–5)."""
    import io

    from rich.console import Console

    from aarshjul import cli_kit
    from aarshjul.cli_calendars import print_publish
    from aarshjul.domain.results import Published
    from aarshjul.tasks.caldav import CalendarCounts

    buffer = io.StringIO()
    monkeypatch.setattr(cli_kit, "out", Console(file=buffer, width=400, markup=False, highlight=False))
    styret = CalendarCounts(unchanged=40, conflicts=2, new_conflicts=["u1", "u2"], proposed=["u2"],
                            components=["VEVENT", "VTODO"])
    published = Published(plan="Testplan", organisation="test-org", occurrences=50, new=0, changed=0, unchanged=50,
                           removed=0, gaps=0, year=2025, database="sqlite://", site="index.html", files_written=0,
                           feeds={}, caldav={"styret": vars(styret), "nord": vars(CalendarCounts(unchanged=2))})
    print_publish(published, "nb")
    text = buffer.getvalue()
    assert "CalDAV: 0 nye, 0 endret, 0 avlyst, 0 slettet, 42 uendret" in text
    assert "styret: kalenderen er laget for VEVENT, VTODO" in text and "nord: kalenderen" not in text
    assert "2 hendelser endret eller slettet av folk på CalDAV-serveren (2 nye); aarshjul calendars conflicts" in text
    assert "1 foreslåtte datoer for møter som ikke var berammet" in text
