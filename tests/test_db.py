"""The database on SQLite and PostgreSQL: storing the agenda, completions, migrations."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from aarshjul.db.agenda import held_keys, store_agenda
from aarshjul.db.models import Base, Completion, OccurrenceRow
from aarshjul.db.session import make_engine, session_scope
from aarshjul.domain.expand import expand

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def store(engine, plan, now=NOW):
    with session_scope(engine) as session:
        return store_agenda(session, plan.organisation.id, expand(plan), now)


def rows(engine) -> dict[str, OccurrenceRow]:
    with session_scope(engine) as session:
        return {r.key: r for r in session.scalars(select(OccurrenceRow))}


def test_first_store_then_nothing_changed(engine, minimal):
    first = store(engine, minimal)
    assert first.new == len(expand(minimal)) and first.changed == first.removed == 0
    again = store(engine, minimal, NOW + timedelta(hours=1))
    assert (again.new, again.changed, again.unchanged, again.removed) == (0, 0, first.new, 0)
    stored = rows(engine)
    assert all(r.revision == 0 for r in stored.values())


def test_a_moved_date_is_one_change_with_a_higher_revision(engine, files):
    store(engine, files.load())
    files.write("schedule.yaml", 'occurrences:\n  "1.2/2026/1":\n    date: "2026-04-14"\n    start: "18:00"\n')
    counts = store(engine, files.load(), NOW + timedelta(days=1))
    assert (counts.changed, counts.new, counts.removed) == (1, 0, 0)
    row = rows(engine)["1.2/2026/1"]
    assert row.revision == 1 and row.status == "scheduled"
    assert row.start_date.isoformat() == "2026-04-14"
    assert row.data["start"] == "2026-04-14T18:00:00+02:00"
    starts = row.starts_at if row.starts_at.tzinfo else row.starts_at.replace(tzinfo=timezone.utc)
    assert starts == datetime(2026, 4, 14, 16, 0, tzinfo=timezone.utc)


def test_a_measure_removed_from_the_plan_is_kept_as_removed(engine, files):
    store(engine, files.load())
    files.edit("plan.yaml", "cadence: {kind: quota, count: 1, per: half-year}", "cadence: {kind: standing}")
    counts = store(engine, files.load(), NOW + timedelta(days=1))
    assert counts.removed == 4
    stored = rows(engine)
    assert stored["1.3/2025-H1"].status == "removed" and stored["1.3/2025-H1"].revision == 1
    # and restored, one revision higher, when it comes back
    files.edit("plan.yaml", "        cadence: {kind: standing}\n  - number: 2",
               "        cadence: {kind: quota, count: 1, per: half-year}\n  - number: 2")
    counts = store(engine, files.load(), NOW + timedelta(days=2))
    assert counts.changed == 4 and counts.removed == 0
    restored = rows(engine)["1.3/2025-H1"]
    assert restored.status == "unscheduled" and restored.revision == 2 and restored.removed_at is None


def test_organisations_do_not_see_each_other(engine, minimal, bundled):
    store(engine, minimal)
    store(engine, bundled)
    with session_scope(engine) as session:
        orgs = {o for o in session.scalars(select(OccurrenceRow.organisation))}
    assert orgs == {"test-org", "bergen-sv"}
    again = store(engine, minimal)
    assert again.removed == 0 and again.new == 0


def test_completions_are_unique_per_ref_and_attendance_not_negative(engine):
    def add(**kw):
        with session_scope(engine) as session:
            session.add(Completion(organisation="test-org", measure="1.2", source="cli", recorded_at=NOW, **kw))

    add(ref="1.2/2025/1", occurrence_key="1.2/2025/1", outcome="held", attendance=14)
    with pytest.raises(IntegrityError):
        add(ref="1.2/2025/1", occurrence_key="1.2/2025/1", outcome="held")
    with pytest.raises(IntegrityError):
        add(ref="1.2/2025/2", occurrence_key="1.2/2025/2", outcome="held", attendance=-1)
    with session_scope(engine) as session:
        assert held_keys(session, "test-org") == {"1.2/2025/1"}


def test_migrations_match_the_models(database_url):
    """Alembic's head creates exactly the tables and columns the models declare."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_migrations_form_one_line():
    """Every migration has one successor at most: branches opened in parallel work are joined before they land."""
    from aarshjul.db.migrate import current_heads

    assert len(current_heads()) == 1, sorted(current_heads())
