"""Expansion: keys, windows, per-body repetition, daylight saving, stable UIDs."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from aarshjul.domain.expand import expand, occurrence_uid


def by_key(plan, start=None, end=None):
    return {o.key: o for o in expand(plan, start, end)}


def test_keys_of_every_cadence(minimal):
    keys = set(by_key(minimal))
    assert {"1.1/2025", "1.2/2025/1", "1.2/2025/2", "1.2/2026/1", "1.2/2026/2"} <= keys
    assert {"1.3/2025-H1", "1.3/2025-H2", "1.3/2026-H1", "1.3/2026-H2"} <= keys
    assert {"2.1/2025/nord", "2.1/2025/sor", "2.1/2026/nord", "2.1/2026/sor"} <= keys
    assert {"2.2/2025/kvinnedagen", "2.2/2025/pride", "2.2/2026/pride"} <= keys
    assert "2.3/2025-01-07" in keys  # first Tuesday of January 2025
    assert not any(k.startswith(("2.4/", "2.5/")) for k in keys)  # on_event and standing: none
    assert len([k for k in keys if k.startswith("2.3/")]) == 24


def test_half_year_windows(minimal):
    occ = by_key(minimal)
    h1, h2 = occ["1.3/2025-H1"], occ["1.3/2025-H2"]
    assert (h1.window_start, h1.window_end) == (date(2025, 1, 1), date(2025, 6, 30))
    assert (h2.window_start, h2.window_end) == (date(2025, 7, 1), date(2025, 12, 31))
    assert h1.status == "unscheduled" and h1.start is None and h1.end is None
    assert h1.bodies == ("styret", "bystyregruppen")


def test_per_branch_repetition_names_the_branch_and_the_board(minimal):
    occ = by_key(minimal)
    nord = occ["2.1/2026/nord"]
    assert nord.body == "nord" and nord.bodies == ("nord", "styret")
    assert nord.title == "Styreskolering – Nord SV"
    assert occ["2.1/2026/sor"].uid != nord.uid


def test_annual_dates_known_and_unknown(minimal):
    occ = by_key(minimal)
    assert occ["2.2/2025/kvinnedagen"].start == date(2025, 3, 8) and occ["2.2/2025/kvinnedagen"].all_day
    pride25 = occ["2.2/2025/pride"]
    assert (pride25.start, pride25.end, pride25.status) == (date(2025, 6, 2), date(2025, 6, 8), "scheduled")
    pride26 = occ["2.2/2026/pride"]  # not yet announced: only its usual window
    assert pride26.status == "unscheduled" and pride26.window_end == date(2026, 6, 30)
    assert pride25.visibility == "public"


def test_series_keeps_local_time_across_daylight_saving(minimal):
    # Europe/Oslo: CET (UTC+1) in winter, CEST (UTC+2) from the last Sunday of March
    # to the last Sunday of October.
    occ = by_key(minimal)
    march, april = occ["2.3/2025-03-04"], occ["2.3/2025-04-01"]
    november = occ["2.3/2025-11-04"]
    for o in (march, april, november):
        assert (o.start.hour, o.start.minute) == (18, 0)
        assert o.end - o.start == timedelta(minutes=150)
    assert march.start.utcoffset() == timedelta(hours=1)
    assert april.start.utcoffset() == timedelta(hours=2)
    assert november.start.utcoffset() == timedelta(hours=1)
    assert april.to_dict()["start"] == "2025-04-01T18:00:00+02:00"
    assert march.to_dict()["start"] == "2025-03-04T18:00:00+01:00"


def test_pins_on_the_days_the_clocks_change(files):
    files.write("schedule.yaml", """occurrences:
  "1.2/2025/1":
    date: "2025-03-30"
    start: "01:30"
    end: "03:30"
  "1.2/2025/2":
    date: "2025-10-26"
    start: "18:00"
    end: "20:00"
    place: Folkets hus
  "1.3/2025-H1":
    date: "2025-03-30"
    start: "02:30"
""")
    occ = by_key(files.load())
    spring = occ["1.2/2025/1"]  # 01:30 CET to 03:30 CEST is one real hour
    assert spring.start.utcoffset() == timedelta(hours=1) and spring.end.utcoffset() == timedelta(hours=2)
    assert spring.end.astimezone(timezone.utc) - spring.start.astimezone(timezone.utc) == timedelta(hours=1)
    autumn = occ["1.2/2025/2"]  # the evening after the change is back on CET
    assert autumn.start.isoformat() == "2025-10-26T18:00:00+01:00" and autumn.place == "Folkets hus"
    assert autumn.status == "scheduled" and not autumn.all_day
    gap = occ["1.3/2025-H1"]  # 02:30 does not exist that night: the clock shows 03:30
    assert gap.start.isoformat() == "2025-03-30T03:30:00+02:00"


def test_a_pin_can_cancel(files):
    files.write("schedule.yaml", 'occurrences:\n  "1.3/2026-H1":\n    status: cancelled\n    note: Flyttet\n')
    o = by_key(files.load())["1.3/2026-H1"]
    assert o.status == "cancelled" and o.note == "Flyttet"


def test_window_filter(minimal):
    occ = expand(minimal, date(2025, 3, 1), date(2025, 3, 31))
    keys = {o.key for o in occ}
    assert "2.2/2025/kvinnedagen" in keys and "2.3/2025-03-04" in keys
    assert "1.3/2025-H1" in keys  # its window touches March
    assert "2.3/2025-04-01" not in keys and "1.3/2025-H2" not in keys
    assert occ == sorted(occ, key=lambda o: o.sort_key)


def test_uid_is_derived_from_organisation_and_key_only(minimal):
    o = by_key(minimal)["1.2/2025/1"]
    assert o.uid == occurrence_uid("test-org", "1.2/2025/1")
    assert occurrence_uid("other-org", "1.2/2025/1") != o.uid


def test_uids_survive_reordering_and_editing_other_measures(files):
    before = {o.key: o.uid for o in expand(files.load())}
    # Move goal 2's measures around, edit another measure's text and cadence.
    files.edit("plan.yaml", "text: Minst to møter i året.", "text: Minst tre møter i året, gjerne flere.")
    files.edit("plan.yaml", "cadence: {kind: deadline}", "cadence: {kind: deadline, due: \"2025-10-01\"}")
    plan_text = files.plan.read_text(encoding="utf-8")
    head, tail = plan_text.split('      - number: "2.3"')
    block, rest = tail.split('      - number: "2.4"')
    second_goal_start = head.index('      - number: "2.1"')
    files.plan.write_text(head[:second_goal_start] + '      - number: "2.3"' + block + head[second_goal_start:]
                          + '      - number: "2.4"' + rest, encoding="utf-8")
    after = {o.key: o.uid for o in expand(files.load())}
    assert after == before


def test_a_moved_date_changes_content_but_not_uid(files):
    before = by_key(files.load())["1.2/2026/1"]
    files.write("schedule.yaml", 'occurrences:\n  "1.2/2026/1":\n    date: "2026-04-14"\n    start: "18:00"\n')
    after = by_key(files.load())["1.2/2026/1"]
    assert after.uid == before.uid and after.content_hash() != before.content_hash()
    assert after.start == datetime.fromisoformat("2026-04-14T18:00:00+02:00")
    assert after.end == datetime.fromisoformat("2026-04-14T20:00:00+02:00")


def test_bundled_plan_expands_every_recurring_obligation_each_year(bundled):
    occ = by_key(bundled, date(2025, 1, 1), date(2027, 12, 31))
    for year in (2025, 2026, 2027):
        assert {f"1.5/{year}/1", f"1.5/{year}/2"} <= occ.keys()  # two new-member meetings
        assert {f"2.8/{year}-H1", f"2.8/{year}-H2"} <= occ.keys()  # board + council group
        assert {f"3.1/{year}-H1", f"3.1/{year}-H2"} <= occ.keys()  # LO Bergen og Omland
        assert {f"5.1/{year}/1", f"5.1/{year}/2"} <= occ.keys()  # AU with the county board
        assert f"3.5/{year}" in occ  # Kvinnefestivalen
        for day in ("kvinnedagen", "arbeidernes-dag", "bergen-pride"):
            assert f"3.4/{year}/{day}" in occ
        for branch in ("arna", "bergenhus", "fana", "fyllingsdalen", "laksevag", "ytrebygda", "asane",
                       "arstad", "studentlaget"):
            assert f"2.5/{year}/{branch}" in occ  # board training for every branch
        assert len([k for k in occ if k.startswith(f"1.7/{year}-")]) == 11  # member letter, not July
    assert "2.13/2025" in occ and occ["2.13/2025"].window_start == date(2025, 7, 1)
    assert "6.2/2027" in occ and "6.3/2025" in occ and "6.3/2027" in occ
    assert occ["3.4/2026/arbeidernes-dag"].start == date(2026, 5, 1)
    assert len({o.uid for o in occ.values()}) == len(occ)
