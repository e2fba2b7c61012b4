"""The feeds' times as the calendar apps' own libraries read them, against `zoneinfo`.

Events at hours on both sides of each daylight-saving change (and the ambiguous 02:30 of
the autumn change, which the project reads with fold=0), a summer and a winter evening,
are built into a feed, a CalDAV object and an iMIP invitation by the project's own code
(domain/ics.py), then read by

- ical.js under node (Mozilla's library, behind Thunderbird and Nextcloud Calendar),
  with the file's VTIMEZONE registered as Thunderbird does: tests/js/read.mjs;
- libical (Evolution, GNOME Calendar, KOrganizer) through python3-gi, in the system
  Python, with the file's VTIMEZONE;
- icalendar, both as it parses the feed and with a tzinfo built from the VTIMEZONE.

Each must give the UTC instant `zoneinfo` gives. ical.js and libical also read wall times
every half hour around each change in the file's zone, and libical turns instants there
into local time, which shows an onset an hour off even where no event falls. A local
time the clock shows twice is written in UTC: both libraries take its second occurrence. Without node and ical.js
(`npm ci --prefix tests/js`) or libical (Debian's gir1.2-ical-3.0 python3-gi) the tests
of that client skip; under CI=true a skip fails the run, and .ci/run installs both.
"""

from __future__ import annotations

import json
from bisect import bisect_right
import shutil
import subprocess
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from aarshjul.domain.expand import expand
from aarshjul.domain.feeds import Entry, feeds, select
from aarshjul.domain.ics import event_calendar, feed_calendar, invitation
from aarshjul.domain.vtimezone import transitions, vtimezone

JS = Path(__file__).parent / "js"
SYSTEM_PYTHON = Path("/usr/bin/python3")
OSLO = ZoneInfo("Europe/Oslo")
T0 = datetime(2025, 1, 10, 12, 0, tzinfo=timezone.utc)
NOW = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)

# slot -> (local date and time, the UTC instant it is), the expected values written out
# by hand and checked against zoneinfo below
TIMES = {
    "1.2/2026/1": ("2026-03-29", "01:30", datetime(2026, 3, 29, 0, 30, tzinfo=timezone.utc)),  # CET, before the change
    "1.2/2026/2": ("2026-03-29", "03:30", datetime(2026, 3, 29, 1, 30, tzinfo=timezone.utc)),  # CEST, after it
    "1.2/2026/3": ("2026-10-25", "01:30", datetime(2026, 10, 24, 23, 30, tzinfo=timezone.utc)),  # CEST
    "1.2/2026/4": ("2026-10-25", "02:30", datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc)),  # twice: fold=0, CEST
    "1.2/2026/5": ("2026-10-25", "03:30", datetime(2026, 10, 25, 2, 30, tzinfo=timezone.utc)),  # CET
    "1.2/2027/1": ("2027-01-14", "18:00", datetime(2027, 1, 14, 17, 0, tzinfo=timezone.utc)),  # winter
    "1.2/2027/2": ("2027-06-03", "18:00", datetime(2027, 6, 3, 16, 0, tzinfo=timezone.utc)),  # summer
}

LIBICAL = r'''
import json, sys
import gi
gi.require_version("ICalGLib", "3.0")
from gi.repository import ICalGLib as I

def text(t):
    s = f"{t.get_year():04d}-{t.get_month():02d}-{t.get_day():02d}"
    return s if t.is_date() else s + f"T{t.get_hour():02d}:{t.get_minute():02d}:{t.get_second():02d}"

cal = I.Component.new_from_string(sys.stdin.read())
zones = {}  # the file's own VTIMEZONEs, as Evolution adds them to its cache
sub = cal.get_first_component(I.ComponentKind.VTIMEZONE_COMPONENT)
while sub is not None:
    zone = I.Timezone.new()
    zone.set_component(sub.clone())
    zones[zone.get_tzid()] = zone
    sub = cal.get_next_component(I.ComponentKind.VTIMEZONE_COMPONENT)
utc = I.Timezone.get_utc_timezone()
events = []
ev = cal.get_first_component(I.ComponentKind.VEVENT_COMPONENT)
while ev is not None:
    prop = ev.get_first_property(I.PropertyKind.DTSTART_PROPERTY)
    start = prop.get_dtstart()
    tzid = prop.get_first_parameter(I.ParameterKind.TZID_PARAMETER)
    if not start.is_date():
        if tzid is not None:
            start.set_timezone(zones[tzid.get_tzid()])  # KeyError: no VTIMEZONE for it
        start = I.Time.convert_to_zone(start, utc)
        events.append({"uid": ev.get_uid(), "start": text(start) + "Z"})
    else:
        events.append({"uid": ev.get_uid(), "start": text(start)})
    ev = cal.get_next_component(I.ComponentKind.VEVENT_COMPONENT)
local, utc_of = {}, {}
if len(sys.argv) > 2:
    zone = zones[sys.argv[1]]
    for arg in sys.argv[2:]:
        if "T" in arg:  # a wall time in the zone, as a DTSTART;TZID= holds it
            t = I.Time.new_from_string(arg.replace("-", "").replace(":", ""))
            t.set_timezone(zone)
            utc_of[arg] = text(I.Time.convert_to_zone(t, utc)) + "Z"
        else:  # an instant, seconds since 1970
            t = I.Time.new_from_timet_with_zone(int(arg), 0, utc)
            local[arg] = text(I.Time.convert_to_zone(t, zone))
print(json.dumps({"events": events, "local": local, "utc": utc_of}))
'''


def _ical_js(ics: bytes, tzid: str | None = None, args: list[str] | None = None) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.skip("ical.js needs node (Debian: nodejs)")
    if not (JS / "node_modules" / "ical.js").is_dir():
        pytest.skip("ical.js is not installed: npm ci --prefix tests/js")
    args = [node, str(JS / "read.mjs"), *([tzid, *(args or [])] if tzid else [])]
    done = subprocess.run(args, input=ics, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()
    result: dict = json.loads(done.stdout)
    return result


def _libical(ics: bytes, tzid: str | None = None, args: list[str] | None = None) -> dict:
    if not SYSTEM_PYTHON.exists():
        pytest.skip("libical is read through the system Python, /usr/bin/python3")
    probe = subprocess.run([str(SYSTEM_PYTHON), "-c", 'import gi; gi.require_version("ICalGLib", "3.0")'],
                           capture_output=True, timeout=60, check=False)
    if probe.returncode != 0:
        pytest.skip("libical's GObject bindings are missing: apt-get install gir1.2-ical-3.0 python3-gi")
    args = [str(SYSTEM_PYTHON), "-c", LIBICAL, *([tzid, *(args or [])] if tzid else [])]
    done = subprocess.run(args, input=ics, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()
    result: dict = json.loads(done.stdout)
    return result


def _icalendar(ics: bytes) -> dict:
    """icalendar twice: as it parses the feed (it looks the TZID up in its own zone
    data), and with a tzinfo built from the file's VTIMEZONE alone."""
    cal = icalendar.Calendar.from_ical(ics)
    own = {str(tz["TZID"]): tz.to_tz(lookup_tzid=False) for tz in cal.walk("VTIMEZONE")}
    parsed, from_vtimezone = [], []
    for ev in cal.walk("VEVENT"):
        start = ev["DTSTART"]
        if not isinstance(start.dt, datetime):
            continue
        parsed.append({"uid": str(ev["UID"]), "start": _z(start.dt)})
        if "TZID" not in start.params:  # in UTC
            from_vtimezone.append({"uid": str(ev["UID"]), "start": _z(start.dt)})
            continue
        wall = start.dt.replace(tzinfo=None)
        zone = own[str(start.params["TZID"])]
        from_vtimezone.append({"uid": str(ev["UID"]), "start": _z(zone.localize(wall) if hasattr(zone, "localize")
                                                                   else wall.replace(tzinfo=zone))})
    return {"parsed": parsed, "vtimezone": from_vtimezone}


def _z(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _expected(ics: bytes) -> dict[str, str]:
    """Every timed event's UTC start by zoneinfo: the wall time with its TZID, fold=0."""
    out = {}
    for ev in icalendar.Calendar.from_ical(ics).walk("VEVENT"):
        start = ev["DTSTART"]
        if isinstance(start.dt, datetime) and "TZID" in start.params:
            wall = start.dt.replace(tzinfo=None)
            out[str(ev["UID"])] = _z(wall.replace(tzinfo=ZoneInfo(str(start.params["TZID"])), fold=0))
        elif isinstance(start.dt, datetime):
            out[str(ev["UID"])] = _z(start.dt)  # written in UTC: an ambiguous local time
    return out


def _timed(events: list[dict]) -> dict[str, str]:
    return {e["uid"]: e["start"] for e in events if "T" in e["start"]}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The plan of tests/data/minimal run to 2027, with the measure 1.2 meetings pinned
    at the hours of TIMES; the styret feed, one CalDAV object and one invitation."""
    from conftest import PlanFiles

    files = PlanFiles(tmp_path_factory.mktemp("plan"))
    files.edit("plan.yaml", 'period: "2025-2026"\ngoals', 'period: "2025-2027"\ngoals')
    files.edit("plan.yaml", 'period: "2025-2026"\n        bodies: [styret]\n        cadence: {kind: quota, count: 2',
               'period: "2025-2027"\n        bodies: [styret]\n        cadence: {kind: quota, count: 5')
    pins = "".join(f'  "{key}":\n    date: "{day}"\n    start: "{clock}"\n' for key, (day, clock, _) in TIMES.items())
    files.write("schedule.yaml", "occurrences:\n" + pins)
    plan = files.load()
    occurrences = expand(plan)
    entries = [Entry(o, 0, T0, T0) for o in occurrences]
    styret = next(f for f in feeds(plan) if f.id == "styret")
    feed = feed_calendar(plan, styret, select(styret, entries, NOW)).to_ical()
    uids = {o.key: o.uid for o in occurrences if o.key in TIMES}
    summer = next(e for e in entries if e.occurrence.key == "1.2/2027/2")
    caldav = event_calendar(plan, summer).to_ical()
    imip = invitation(plan, summer, "REQUEST", "styret@example.org", "Styret")
    return {"feed": feed, "caldav": caldav, "imip": imip, "uids": uids, "plan": plan}


def test_the_hours_are_what_zoneinfo_says():
    """The hand-written UTC instants of TIMES are zoneinfo's (02:30 in October: fold=0)."""
    for day, clock, utc in TIMES.values():
        wall = datetime.fromisoformat(f"{day}T{clock}")
        assert wall.replace(tzinfo=OSLO).astimezone(timezone.utc) == utc


def test_a_time_the_clock_shows_twice_is_written_in_utc(built):
    """02:30 on 2026-10-25 is fold=0, the first (CEST) one: RFC 5545 §3.3.5 says so for
    a TZID time too, but libical and ical.js take the second, so it is written in UTC."""
    text = built["feed"].decode()
    assert "DTSTART:20261025T003000Z" in text
    assert "DTSTART;TZID=Europe/Oslo:20261025T013000" in text and "DTSTART;TZID=Europe/Oslo:20261025T033000" in text
    assert text.count("TZID=Europe/Oslo:20261025T023000") == 0


def test_the_zone_is_written_in_the_rrule_form(built):
    text = built["feed"].decode()
    assert text.count("BEGIN:VTIMEZONE") == 1 and "TZID:Europe/Oslo" in text
    vtz = text[text.index("BEGIN:VTIMEZONE"):text.index("END:VTIMEZONE")]
    daylight = vtz[vtz.index("BEGIN:DAYLIGHT"):vtz.index("END:DAYLIGHT")]
    standard = vtz[vtz.index("BEGIN:STANDARD"):vtz.index("END:STANDARD")]
    for line in ("DTSTART:19700329T020000", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "TZNAME:CEST"):
        assert line in daylight.splitlines(), line
    assert "BYMONTH=3" in daylight and "BYDAY=-1SU" in daylight and "FREQ=YEARLY" in daylight
    for line in ("DTSTART:19701025T030000", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "TZNAME:CET"):
        assert line in standard.splitlines(), line
    assert "BYMONTH=10" in standard and "BYDAY=-1SU" in standard
    assert "RDATE" not in vtz and vtz.count("BEGIN:") == 3
    for name in ("caldav", "imip"):
        other = built[name].decode()
        assert other[other.index("BEGIN:VTIMEZONE"):other.index("END:VTIMEZONE")] == vtz, name


@pytest.mark.parametrize("document", ["feed", "caldav", "imip"])
@pytest.mark.parametrize("client", ["ical.js", "libical", "icalendar", "icalendar-vtimezone"])
def test_every_client_reads_the_times_zoneinfo_gives(built, document, client):
    ics = built[document]
    if client == "ical.js":
        got = _timed(_ical_js(ics)["events"])
    elif client == "libical":
        got = _timed(_libical(ics)["events"])
    else:
        read = _icalendar(ics)
        got = _timed(read["parsed" if client == "icalendar" else "vtimezone"])
    expected = _expected(ics)
    assert got == expected
    if document == "feed":  # the hours of TIMES, by hand
        assert len(expected) > len(TIMES)  # the board's monthly meetings are there too
        for key, (_, _, utc) in TIMES.items():
            assert got[built["uids"][key]] == _z(utc), (client, key)
    else:
        assert got == {built["uids"]["1.2/2027/2"]: "2027-06-03T16:00:00Z"}


def _changes(plan) -> list:
    changes = transitions(OSLO, datetime(plan.period.start.year, 1, 1, tzinfo=timezone.utc),
                          datetime(plan.period.end.year + 2, 1, 1, tzinfo=timezone.utc))
    assert len(changes) == 2 * (plan.period.end.year - plan.period.start.year + 2)
    return changes


def test_the_file_zone_turns_instants_around_each_change_into_local_time_as_zoneinfo(built):
    """libical, with the file's VTIMEZONE, turns every half hour from three hours before
    to three hours after each change into the local time zoneinfo gives (the old RDATE
    form had summer time begin an hour late here). ical.js is left out: it turns UTC
    into local time by the offset at the UTC wall time read as local, whatever the zone."""
    instants = [c.utc + timedelta(minutes=30 * k) for c in _changes(built["plan"]) for k in range(-6, 7)]
    seconds = [str(int(i.timestamp())) for i in instants]
    local = _libical(built["feed"], "Europe/Oslo", seconds)["local"]
    expected = {s: i.astimezone(OSLO).strftime("%Y-%m-%dT%H:%M:%S") for s, i in zip(seconds, instants)}
    wrong = {datetime.fromtimestamp(int(s), timezone.utc).isoformat(): (local[s], expected[s])
             for s in expected if local[s] != expected[s]}
    assert not wrong  # UTC instant: (libical's local time, zoneinfo's)


@pytest.mark.parametrize("client", ["ical.js", "libical"])
def test_the_file_zone_reads_wall_times_around_each_change_as_zoneinfo(built, client):
    """Every wall time the clock shows once, every half hour from three hours before to
    three hours after each change, read in the file's zone as a DTSTART;TZID= is."""
    walls = []
    for change in _changes(built["plan"]):
        onset = change.utc.astimezone(OSLO).replace(tzinfo=None)
        for k in range(-6, 7):
            wall = onset + timedelta(minutes=30 * k)
            first, second = wall.replace(tzinfo=OSLO, fold=0), wall.replace(tzinfo=OSLO, fold=1)
            exists = first.astimezone(timezone.utc).astimezone(OSLO).replace(tzinfo=None) == wall
            if exists and first.utcoffset() == second.utcoffset():  # not in the gap, not shown twice
                walls.append(wall)
    assert len(walls) > 8 * len(_changes(built["plan"]))
    args = [w.strftime("%Y-%m-%dT%H:%M:%S") for w in walls]
    read = _ical_js if client == "ical.js" else _libical
    got = read(built["feed"], "Europe/Oslo", args)["utc"]
    expected = {a: _z(w.replace(tzinfo=OSLO)) for a, w in zip(args, walls)}
    assert {a: got[a] for a in args if got[a] != expected[a]} == {}  # wall time: the client's UTC


def test_a_zone_with_a_yearly_rule_elsewhere_and_one_without(tmp_path):
    """Other zones the organisation may name: the rule found for the southern hemisphere
    and for a "Friday on or after" rule, a single STANDARD without DST, and a zone with no
    yearly rule as one RDATE per transition, never comma-joined."""
    first, last = date(2026, 1, 1), date(2027, 12, 31)
    sydney = vtimezone("Australia/Sydney", first, last).to_ical().decode()
    assert "DTSTART:19700405T030000" in sydney and "BYDAY=1SU" in sydney and "BYMONTH=4" in sydney
    assert "DTSTART:19701004T020000" in sydney and "BYMONTH=10" in sydney
    jerusalem = vtimezone("Asia/Jerusalem", first, last).to_ical().decode()
    assert "BYDAY=FR;BYMONTHDAY=23,24,25,26,27,28,29;BYMONTH=3" in jerusalem
    tokyo = vtimezone("Asia/Tokyo", first, last).to_ical().decode()
    assert tokyo.count("BEGIN:STANDARD") == 1 and "DAYLIGHT" not in tokyo and "TZOFFSETTO:+0900" in tokyo
    casablanca = vtimezone("Africa/Casablanca", first, last).to_ical().decode()
    rdates = [line for line in casablanca.splitlines() if line.startswith("RDATE")]
    assert len(rdates) >= 6 and not any("," in line for line in rdates)
    for key, text in (("Australia/Sydney", sydney), ("Asia/Jerusalem", jerusalem), ("Asia/Tokyo", tokyo),
                      ("Africa/Casablanca", casablanca), ("America/New_York", None), ("America/Santiago", None)):
        zone = ZoneInfo(key)
        tz = vtimezone(key, first, last) if text is None else icalendar.Timezone.from_ical(text)
        times, infos = tz.get_transitions()  # icalendar's reading: onsets in UTC, offsets after
        t = datetime(2025, 1, 2, tzinfo=timezone.utc)
        while t < datetime(2029, 1, 1, tzinfo=timezone.utc):  # the offset by the VTIMEZONE == by zoneinfo
            after = bisect_right(times, t.replace(tzinfo=None)) - 1
            assert after >= 0 and infos[after][0] == t.astimezone(zone).utcoffset(), (key, t)
            t += timedelta(minutes=30)
