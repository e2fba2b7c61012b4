"""The report flows under Prefect's test harness, against a real database.

`confirm_occurrences` pauses for input (`pause_flow_run(wait_for_input=...)`). The flow
runs in a background thread here, as a deployment-less run; the test finds the paused
run with the client, reads the question the UI would show, and answers with
`resume_flow_run(flow_run_id, run_input={...})`, as the Prefect UI's form does.
"""

from __future__ import annotations

import contextvars
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from aarshjul.db.completions import log_completion
from aarshjul.db.models import Completion
from aarshjul.db.session import make_engine, session_scope
from aarshjul.domain.results import Confirmations
from conftest import BUNDLED_PLAN
from report_year import generate_year

pytestmark = pytest.mark.prefect
PLAN = str(BUNDLED_PLAN)


@pytest.fixture
def settings_env(monkeypatch, database_url, tmp_path):
    from aarshjul.settings import get_settings

    monkeypatch.setenv("AARSHJUL_DATABASE_URL", database_url)
    monkeypatch.setenv("AARSHJUL_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("AARSHJUL_SECRET_KEY_FILE", str(tmp_path / "secret.key"))
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def completions(url: str) -> dict[str, Completion]:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return {c.ref: c for c in session.scalars(select(Completion))}
    finally:
        engine.dispose()


# --- yearly_report ----------------------------------------------------------------------


def test_yearly_report_writes_the_files_and_the_artifacts(prefect_harness, settings_env, bundled, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from aarshjul.flows.report import yearly_report

    year = generate_year(settings_env, bundled)
    result = yearly_report(plan_path=PLAN, today=date(2026, 1, 12), out_dir=str(tmp_path / "rapport"))
    assert result.year == 2025 and result.measures == 47 and result.draft is False  # last year, by default
    assert set(result.files) == {"html", "pdf", "md"}
    [draft] = list((tmp_path / "outbox").rglob("*.eml"))  # the board got the draft, once
    assert result.mailed_to_board == 1 and "yearly-report_2025" in str(draft.parent)
    assert b"To: Styret <styret@example.org>" in draft.read_bytes()
    again = yearly_report(plan_path=PLAN, today=date(2026, 1, 12), out_dir=str(tmp_path / "rapport"), formats=["md"])
    assert again.mailed_to_board == 0  # the same day: not again
    for fmt, path in result.files.items():
        assert path.endswith(f"aarsrapport-bergen-sv-2025.{fmt}") and (tmp_path / "rapport").exists()
    md = open(result.files["md"], encoding="utf-8").read()
    with get_client(sync_client=True) as client:
        artifacts = {a.key: a for a in client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=["yearly-report-2025-bergen-sv", "yearly-report-status-2025-bergen-sv"])))}
    assert set(artifacts) == {"yearly-report-2025-bergen-sv", "yearly-report-status-2025-bergen-sv"}
    assert artifacts["yearly-report-2025-bergen-sv"].data == md  # the same content as the Markdown file
    table = artifacts["yearly-report-status-2025-bergen-sv"].data
    table = table if isinstance(table, list) else __import__("json").loads(table)
    assert len(table) == 47
    held = {r["tiltak"]: r["holdt"] for r in table}
    per_measure: dict[str, int] = {}
    for key in year.held:
        per_measure[key.split("/")[0]] = per_measure.get(key.split("/")[0], 0) + 1
    for number, n in per_measure.items():
        assert held[number] == n
    for text in (md, str(table)):
        assert "Kari" not in text and "Person10" not in text  # no names in artifacts


def test_yearly_report_refuses_an_unknown_format_before_doing_anything(prefect_harness, settings_env, tmp_path):
    from aarshjul.domain.errors import AarshjulError
    from aarshjul.flows.report import yearly_report

    with pytest.raises(AarshjulError, match="unknown format docx; use ") as caught:
        yearly_report(2025, PLAN, date(2026, 1, 12), ["md", "docx"], str(tmp_path / "out"))
    assert caught.value.say("nb").startswith("ukjent format docx; bruk ")
    assert not (tmp_path / "out").exists()


# --- confirm_occurrences -----------------------------------------------------------------

TODAY = date(2025, 3, 12)  # the member letter of 27 February and 8 March have just passed


def run_in_background(**parameters) -> Future:
    """Start the flow in another thread (with this thread's context: the harness's settings)."""
    from aarshjul.flows.report import confirm_occurrences

    pool = ThreadPoolExecutor(max_workers=1)
    context = contextvars.copy_context()
    future = pool.submit(context.run, confirm_occurrences, **parameters)
    pool.shutdown(wait=False)
    return future


def wait_for_pause(seen: set, future: Future, timeout: float = 90):
    """The paused confirm-occurrences run, at a pause not seen before, and its question."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            if future.done():
                future.result()  # raises what the flow raised
                pytest.fail("the flow finished without pausing")
            for run in client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["confirm-occurrences"]))):
                state = run.state
                if state and state.is_paused() and (run.id, state.state_details.pause_key) not in seen:
                    keyset = state.state_details.run_input_keyset
                    if keyset is None:
                        continue
                    try:
                        question = client.read_flow_run_input(run.id, keyset["description"])
                    except Exception:  # not saved yet: the schema and description follow the pause
                        continue
                    seen.add((run.id, state.state_details.pause_key))
                    return run.id, question
            time.sleep(0.3)
    pytest.fail("no paused confirm-occurrences run appeared")


def test_confirm_occurrences_asks_one_occurrence_at_a_time_and_records_the_answers(prefect_harness, settings_env):
    from prefect.flow_runs import resume_flow_run

    url = settings_env
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:  # already recorded by the CLI: not asked
            log_completion(session, "bergen-sv", "3.4", "3.4/2025/kvinnedagen-x", date(2025, 3, 8),
                           datetime.now(timezone.utc), occurrence_key=None)
    finally:
        engine.dispose()
    future = run_in_background(plan_path=PLAN, today=TODAY, poll_seconds=1, answer_hours=0.05)
    seen: set = set()

    run_id, question = wait_for_pause(seen, future)
    assert "1.7/2025-02-27" in question and "27. februar 2025" in question and "Bystyregruppen" in question
    with pytest.raises(RuntimeError, match="Cannot resume"):  # the form's rules hold on the server too
        resume_flow_run(run_id, run_input={"held": True, "attendance": -1})
    resume_flow_run(run_id, run_input={"held": True, "date": "2025-12-01"})  # after today: asked again
    run_id, question = wait_for_pause(seen, future)
    assert "Svaret kunne ikke lagres" in question and "1.7/2025-02-27" in question
    resume_flow_run(run_id, run_input={"held": True, "date": "2025-02-27", "attendance": 41,
                                       "note": "Sendt til alle medlemmer",
                                       "evidence_url": "https://bergen.sv.example.org/medlemsbrev/2025-02"})

    run_id, question = wait_for_pause(seen, future)
    assert "3.4/2025/kvinnedagen" in question and "8. mars 2025" in question
    resume_flow_run(run_id, run_input={"later": True})
    result = future.result(timeout=60)
    assert result == Confirmations(waiting=2, asked=2, held=1, not_held=0, later=1, recorded_meanwhile=0)

    done = completions(url)
    letter = done["1.7/2025-02-27"]
    assert (letter.outcome, letter.on_date, letter.attendance, letter.note, letter.source, letter.occurrence_key) == \
        ("held", date(2025, 2, 27), 41, "Sendt til alle medlemmer", "ui", "1.7/2025-02-27")
    assert letter.evidence_url == "https://bergen.sv.example.org/medlemsbrev/2025-02"
    assert "3.4/2025/kvinnedagen" not in done

    # the next day's run asks only what is still unanswered
    future = run_in_background(plan_path=PLAN, today=date(2025, 3, 13), poll_seconds=1, answer_hours=0.05)
    run_id, question = wait_for_pause(seen, future)
    assert "3.4/2025/kvinnedagen" in question
    resume_flow_run(run_id, run_input={"held": False, "note": "Avlyst på grunn av storm"})
    assert future.result(timeout=60).not_held == 1
    march8 = completions(url)["3.4/2025/kvinnedagen"]
    assert (march8.outcome, march8.note, march8.attendance, march8.source) == \
        ("not_held", "Avlyst på grunn av storm", None, "ui")


def test_confirm_occurrences_with_nothing_passed_asks_nothing(prefect_harness, settings_env):
    from aarshjul.flows.report import confirm_occurrences

    result = confirm_occurrences(plan_path=PLAN, today=date(2025, 1, 20), poll_seconds=1)
    assert result.waiting == 0 and result.asked == 0


def test_an_unanswered_question_ends_the_run_and_records_nothing(prefect_harness, settings_env):
    from prefect.exceptions import FlowPauseTimeout

    future = run_in_background(plan_path=PLAN, today=TODAY, poll_seconds=1, answer_hours=3 / 3600)
    with pytest.raises(FlowPauseTimeout):
        future.result(timeout=90)
    assert completions(settings_env) == {}
