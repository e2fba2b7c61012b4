"""The completion log, the board's comments and the targets' numbers, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from aarshjul.db.completions import (comments_for_year, completions, log_completion, record_completion,
                                     recorded_keys, set_comment)
from aarshjul.db.kpis import kpi_rows, member_totals, record_kpi, series
from aarshjul.db.agenda import cancelled_keys
from aarshjul.db.models import Completion, FollowUp, KpiMeasurement, Member, MemberCount
from aarshjul.db.session import make_engine, session_scope
from aarshjul.domain.targets import Measurement, load_targets, targets_path

ORG = "bergen-sv"
NOW = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def test_recording_twice_keeps_one_record_and_tells_what_it_replaced(engine):
    with session_scope(engine) as s:
        first = record_completion(s, ORG, "1.5", "1.5/2025/1", date(2025, 3, 26), NOW, outcome="held",
                                  occurrence_key="1.5/2025/1", attendance=23, note="Godt oppmøte",
                                  recorded_by="Kari", source="cli")
        assert first.before is None and not first.updated
    with session_scope(engine) as s:
        second = record_completion(s, ORG, "1.5", "1.5/2025/1", date(2025, 3, 27), NOW, outcome="held",
                                   occurrence_key="1.5/2025/1", source="ui")
        assert second.updated and (second.before.outcome, second.before.on_date, second.before.source) == \
            ("held", date(2025, 3, 26), "cli")
    with session_scope(engine) as s:
        rows = s.scalars(select(Completion)).all()
        assert len(rows) == 1
        row = rows[0]
        assert (row.on_date, row.attendance, row.note, row.recorded_by, row.source) == \
            (date(2025, 3, 27), 23, "Godt oppmøte", "Kari", "ui")  # what was not given now is kept
        third = record_completion(s, ORG, "1.5", "1.5/2025/1", date(2025, 3, 27), NOW, outcome="not_held",
                                  occurrence_key="1.5/2025/1", note="Avlyst pga. storm")
        assert third.before.outcome == "held"
        assert (third.row.attendance, third.row.note, third.row.recorded_by) == (None, "Avlyst pga. storm", None)
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Completion)) == 1


def test_the_database_refuses_a_second_row_for_a_ref_and_a_negative_attendance(engine):
    for values in ({"ref": "1.5/2025/1"}, {"ref": "1.5/2025/2", "attendance": -1}):
        with pytest.raises(IntegrityError):
            with session_scope(engine) as s:
                if values["ref"] == "1.5/2025/1":
                    log_completion(s, ORG, "1.5", "1.5/2025/1", None, NOW)
                s.add(Completion(organisation=ORG, measure="1.5", outcome="held", source="cli", recorded_at=NOW,
                                 **values))
                s.flush()
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Completion)) == 0


def test_records_as_the_report_reads_them_and_the_keys_that_count(engine):
    with session_scope(engine) as s:
        log_completion(s, ORG, "1.5", "1.5/2025/1", date(2025, 3, 26), NOW, occurrence_key="1.5/2025/1",
                       attendance=12, recorded_by="Ola Nordmann")
        log_completion(s, ORG, "2.8", "2.8/2025-H1", None, NOW, outcome="cancelled", occurrence_key="2.8/2025-H1",
                       note="Flyttet")
        log_completion(s, ORG, "1.2", "1.2@2025-05-01", date(2025, 5, 1), NOW)
        log_completion(s, "another-org", "1.5", "1.5/2025/2", date(2025, 3, 26), NOW, occurrence_key="1.5/2025/2")
    with session_scope(engine) as s:
        records = completions(s, ORG)
        assert [(r.ref, r.outcome) for r in records] == [("1.5/2025/1", "held"), ("2.8/2025-H1", "cancelled"),
                                                         ("1.2@2025-05-01", "held")]
        assert "Ola" not in repr(records)  # who recorded it stays in the database
        assert recorded_keys(s, ORG) == {"1.5/2025/1", "2.8/2025-H1"}
        assert cancelled_keys(s, ORG) == {"2.8/2025-H1"}  # what the calendars publish as cancelled


def test_comments_are_one_per_measure_and_year(engine):
    with session_scope(engine) as s:
        assert set_comment(s, ORG, "1.5", 2025, "Første versjon", NOW)[1] is False
        assert set_comment(s, ORG, "1.5", 2025, "Andre versjon", NOW)[1] is True
        set_comment(s, ORG, "1.5", 2026, "Neste år", NOW)
    with session_scope(engine) as s:
        assert comments_for_year(s, ORG, 2025) == {"1.5": "Andre versjon"}
        assert comments_for_year(s, ORG, 2026) == {"1.5": "Neste år"}


@pytest.fixture(scope="module")
def targets(bundled):
    return load_targets(targets_path(bundled), bundled)


def test_manual_values_are_one_per_name_and_date(engine, targets):
    with session_scope(engine) as s:
        assert record_kpi(s, ORG, "inntekt", date(2024, 12, 31), 191_000, NOW)[1] is None
        assert record_kpi(s, ORG, "inntekt", date(2024, 12, 31), 191_500, NOW, note="revidert")[1] == 191_000
        record_kpi(s, ORG, "inntekt", date(2023, 12, 31), 180_000, NOW)
    with session_scope(engine) as s:
        assert [(r.on_date, r.value, r.source) for r in kpi_rows(s, ORG)] == \
            [(date(2023, 12, 31), 180_000, "cli"), (date(2024, 12, 31), 191_500, "cli")]
        assert series(s, ORG, targets.get("inntekt"), 2024, date(2026, 1, 10)) == \
            [Measurement(date(2023, 12, 31), 180_000), Measurement(date(2024, 12, 31), 191_500)]
        assert s.scalar(select(func.count()).select_from(KpiMeasurement)) == 2


def test_member_based_series_sum_the_branches_of_each_import(engine, targets):
    with session_scope(engine) as s:
        for on, rows in ((date(2025, 1, 15), [("arna", 100, 10), ("fana", 300, 20), ("", 5, 0)]),
                         (date(2025, 2, 15), [("arna", 110, 15), ("fana", 310, 30), ("", 4, 0)])):
            for branch, members, activists in rows:
                s.add(MemberCount(organisation=ORG, on_date=on, branch=branch, members=members, new=0, left=0,
                                  activists=activists))
        s.add(MemberCount(organisation="another-org", on_date=date(2025, 1, 15), branch="arna", members=9, new=0,
                          left=0, activists=9))
    with session_scope(engine) as s:
        assert member_totals(s, ORG) == [(date(2025, 1, 15), 405, 30), (date(2025, 2, 15), 424, 45)]
        today = date(2026, 1, 10)
        assert [m.value for m in series(s, ORG, targets.get("medlemmer"), 2024, today)] == [405, 424]
        assert [m.value for m in series(s, ORG, targets.get("aktivister"), 2024, today)] == [30, 45]
        assert [round(m.value, 4) for m in series(s, ORG, targets.get("andel-aktive"), 2024, today)] == \
            [round(30 / 405, 4), round(45 / 424, 4)]


def test_the_contact_share_is_one_point_per_year_with_new_members(engine, targets):
    with session_scope(engine) as s:
        for i, (joined, contacted) in enumerate([(date(2025, 3, 1), date(2025, 3, 10)),
                                                 (date(2025, 5, 1), date(2025, 6, 20)),  # 50 days: too late
                                                 (date(2025, 8, 1), None), (date(2025, 9, 1), date(2025, 9, 2))]):
            n = str(500 + i)
            s.add(Member(organisation=ORG, number=n, joined=joined, branch="arna", status="active", first_seen=NOW,
                         updated_at=NOW, row_hash="x"))
            s.add(FollowUp(organisation=ORG, member_number=n, branch="arna", joined=joined,
                           due=date.fromordinal(joined.toordinal() + 30), contacted_on=contacted))
    with session_scope(engine) as s:
        points = series(s, ORG, targets.get("kontaktet"), 2024, date(2026, 1, 10))
    assert points == [Measurement(date(2025, 12, 31), 0.5)]  # 2024: nobody new, no point
