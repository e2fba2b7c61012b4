"""Member flows under Prefect's harness, mail to a real SMTP server: follow-up and dues."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from aarshjul.domain.results import DuesFollowUp, FollowUps
from conftest import DATA

NOW = datetime(2025, 3, 1, tzinfo=timezone.utc)
PLAN = str(DATA / "minimal" / "plan.yaml")


@pytest.fixture
def world(prefect_harness, monkeypatch, tmp_path, smtp_sink):
    from aarshjul.db.members import create_follow_ups
    from aarshjul.db.migrate import upgrade
    from aarshjul.db.models import Member
    from aarshjul.db.session import make_engine, session_scope
    from aarshjul.settings import get_settings

    sink = smtp_sink()
    url = f"sqlite:///{tmp_path / 'members.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        for i in range(1, 7):
            session.add(Member(organisation="test-org", number=f"{i}", first_name=f"Kari{i}", last_name="Ås",
                               email=f"k{i}@example.org", phone=f"4000000{i}", branch="nord" if i <= 4 else "sor",
                               joined=date(2025, 2, 20) if i <= 3 else date(2020, 1, 1), dues_paid=i not in (2, 5),
                               status="active", first_seen=NOW, updated_at=NOW, row_hash="x"))
        session.flush()
        create_follow_ups(session, "test-org", date(2025, 3, 1), 30)
    engine.dispose()
    for name, value in {"AARSHJUL_DATABASE_URL": url, "AARSHJUL_SMTP_URL": sink.url,
                        "AARSHJUL_SECRET_KEY_FILE": str(tmp_path / "secret.key")}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield sink
    get_settings.cache_clear()


def test_new_members_are_listed_to_their_branch_once_a_week_then_escalated(world):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from aarshjul.flows.members import follow_up_new_members

    sink = world
    first = follow_up_new_members(PLAN, date(2025, 3, 3))
    assert first == FollowUps(branches_notified=1, members_listed=3, escalated=0)
    [msg] = sink.by_recipient()["nord@example.org"]
    text = msg.parsed().get_body(("plain",)).get_content()
    assert "Kari1 Ås, tlf. 40000001" in text and "Kari3" in text and "Kari4" not in text
    assert follow_up_new_members(PLAN, date(2025, 3, 4)).branches_notified == 0  # same week: not again
    later = follow_up_new_members(PLAN, date(2025, 3, 24))  # 32 days after joining
    assert later.escalated == 3
    [board] = sink.by_recipient()["styret@example.org"]
    board_text = board.parsed().get_body(("plain",)).get_content()
    assert "Nord SV: 3 (medlemsnummer 1, 2, 3)" in board_text and "Kari" not in board_text
    assert follow_up_new_members(PLAN, date(2025, 3, 25)).escalated == 0  # escalated once
    with get_client(sync_client=True) as client:
        [artifact] = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=["follow-up-new-members"])), limit=1)
    assert "Kari" not in artifact.data and "@" not in artifact.data


def _with_dues_measure(folder) -> str:
    """The minimal plan with a measure driven by unpaid dues (it has none of its own)."""
    import shutil

    shutil.copytree(DATA / "minimal", folder / "plan")
    path = folder / "plan" / "plan.yaml"
    path.write_text(path.read_text().replace("        cadence: {kind: standing}\n", (
        "        cadence: {kind: standing}\n"
        "      - number: \"2.6\"\n        title: Ubetalt kontingent\n        text: Purring.\n"
        "        period: \"2025-2026\"\n        bodies: [styret]\n"
        "        cadence: {kind: on_event, event: dues_unpaid, within_days: 14}\n"), 1))
    return str(path)


def test_unpaid_dues_without_a_dues_measure_in_the_plan_sends_nothing(world):
    from aarshjul.flows.members import follow_up_dues

    assert follow_up_dues(PLAN, date(2025, 3, 5)) == DuesFollowUp(reminded=0, branch_lists=0)
    assert world.by_recipient() == {}


def test_unpaid_dues_one_reminder_a_year_and_a_list_for_the_branch(world, tmp_path):
    from aarshjul.flows.members import follow_up_dues

    sink = world
    plan = _with_dues_measure(tmp_path)
    first = follow_up_dues(plan, date(2025, 3, 5))
    assert first == DuesFollowUp(reminded=2, branch_lists=2)
    from sqlalchemy import select

    from aarshjul.db.models import Completion
    from aarshjul.db.session import make_engine, session_scope
    from aarshjul.settings import get_settings

    engine = make_engine(get_settings().database_url)
    with session_scope(engine) as session:  # the log's note, in the organisation's language
        assert session.scalars(select(Completion.note)).all() == ["påminnelse om kontingent sendt til 2 medlemmer"]
    engine.dispose()
    got = sink.by_recipient()
    assert {"k2@example.org", "k5@example.org"} <= set(got) and "k1@example.org" not in got
    branch_list = got["nord@example.org"][0].parsed().get_body(("plain",)).get_content()
    assert "Kari2 Ås, tlf. 40000002" in branch_list and "(tiltak 2.6)" in branch_list  # the plan's dues measure
    again = follow_up_dues(plan, date(2025, 4, 5))  # next month: no second reminder, a new branch list
    assert again == DuesFollowUp(reminded=0, branch_lists=2)
    assert len(sink.by_recipient()["k2@example.org"]) == 1
