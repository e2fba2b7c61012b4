"""The report flows: the yearly report to the annual meeting, and the daily question
"was it held?" in the Prefect UI.

    yearly_report          the completion log -> the year's report as HTML, PDF and
                           Markdown files, a markdown artifact `yearly-report-YEAR-ORG` and a
                           table artifact `yearly-report-status-YEAR-ORG` (scheduled in January;
                           the mail that sends the draft to the board is another flow's)
    confirm_occurrences    every occurrence that passed in the last 14 days with nothing
                           in the log: the run pauses and asks, in the Prefect UI, whether
                           it was held (date, attendance, note, link); the answer is
                           recorded as a completion with source 'ui'

One question per occurrence, not one form listing several. Each answer is recorded as
soon as it is given, so nothing is lost if later questions go unanswered; each form is
small and fixed (the same fields every time, with the occurrence described above them)
where a combined form would be generated anew every day with nested fields per
occurrence; and "Svar senere" skips one occurrence without holding up the rest. The
price is one click on "Resume" per occurrence; a board rarely has more than a few a day.

A blocking pause (`pause_flow_run` without reschedule) keeps the run's process alive
while it waits, so it works without a deployment (and under the test harness). If no
answer comes within `answer_hours` Prefect fails the run ("paused and never resumed");
the unanswered occurrences are asked again by the next day's run, since they still have
nothing in the log.

The rendering functions (tasks/report_render.py) are plain functions, wrapped as tasks
here, so that the CLI's `aarshjul report` uses them without importing Prefect.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Optional

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from pydantic import Field

from aarshjul.db.completions import record_completion, recorded_keys
from aarshjul.db.report import load_report
from aarshjul.db.session import transaction
from aarshjul.domain import i18n
from aarshjul.domain.completion import default_day
from aarshjul.domain.errors import AarshjulError
from aarshjul.domain.expand import Occurrence, expand
from aarshjul.domain.plan import Plan
from aarshjul.domain.report import Report, status_rows
from aarshjul.domain.targets import load_targets, targets_path
from aarshjul.settings import get_settings
from aarshjul.tasks.plan_io import migrate_database, read_plan, transient_error
from aarshjul.tasks.report_render import FORMATS, render_markdown, write_report

DEFAULT_FORMATS = ["html", "pdf", "md"]


# --- the yearly report -----------------------------------------------------------------


def default_year(plan: Plan, today: date) -> int:
    """The year a January run reports on: the previous one, kept within the plan period."""
    return min(max(today.year - 1, plan.period.start.year), plan.period.end.year)


@task(name="gather-report", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10],
      retry_condition_fn=transient_error)
def gather_report(plan_path: str, year: int, today: date) -> Report:
    """Read the completion log, comments, targets' numbers and follow-ups; build the report."""
    plan = read_plan.fn(plan_path)
    targets = load_targets(targets_path(plan), plan)
    with transaction(get_settings().database_url) as session:
        return load_report(session, plan, targets, year, today)


@task(name="write-report", cache_policy=NO_CACHE)
def write_report_files(report: Report, formats: list[str], out_dir: str, organisation: str) -> dict[str, str]:
    return {fmt: str(path) for fmt, path in write_report(report, formats, Path(out_dir), organisation).items()}


@flow(name="yearly-report", log_prints=False)
def yearly_report(year: Optional[int] = None, plan_path: str = "config/plan.yaml", today: Optional[date] = None,
                  formats: Optional[list[str]] = None, out_dir: str = "var/rapport") -> dict:
    """Build the year's report to the annual meeting from the completion log (default: last
    year), write it as HTML, PDF and Markdown, and publish it as artifacts."""
    logger = get_run_logger()
    today = today or date.today()
    formats = list(formats or DEFAULT_FORMATS)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise AarshjulError(f"ukjent format {', '.join(unknown)}; bruk {', '.join(FORMATS)}")
    plan = read_plan(plan_path)
    year = year or default_year(plan, today)
    migrate_database(get_settings().database_url)
    report = gather_report(plan_path, year, today)
    files = write_report_files(report, formats, out_dir, plan.organisation.id)
    counts = report.counts
    logger.info("report %d: %d measures (%s); %d gaps; files: %s", year, len(report.measures),
                ", ".join(f"{n} {s}" for s, n in counts.items() if n), len(report.gaps), ", ".join(files.values()))
    org = plan.organisation.id  # in the keys too: one server may serve many chapters
    create_markdown_artifact(key=f"yearly-report-{year}-{org}", markdown=render_markdown(report),
                             description=f"Årsrapport {year}: {plan.meta.title}")
    create_table_artifact(key=f"yearly-report-status-{year}-{org}", table=status_rows(report),
                          description=f"Status per tiltak i {year}")
    mailed = mail_draft(plan_path, year, today, files)
    return {"year": year, "files": files, "counts": counts, "measures": len(report.measures),
            "gaps": len(report.gaps), "draft": not report.complete_year, "mailed_to_board": mailed}


@task(name="mail-report-draft", cache_policy=NO_CACHE)
def mail_draft(plan_path: str, year: int, today: date, files: dict) -> int:
    """E-mail the board the draft (the Markdown report as the message, and where the HTML
    and PDF are), once a day at most; nothing when the plan has no mail configuration."""
    from aarshjul.flows.mail import body_campaign, send_now

    plan = read_plan.fn(plan_path)
    board = next((b for b, body in plan.bodies.items() if body.kind == "board"), None)
    if not plan.mail or board is None:
        return 0
    report = gather_report.fn(plan_path, year, today)
    campaign = body_campaign(plan, f"yearly-report/{year}/{today.isoformat()}", "report_draft",
                             "Utkast til årsrapport {{ year }}", {"year": year, "markdown": render_markdown(report),
                                                                "files": sorted(files.values())}, [board])
    with transaction(get_settings().database_url) as session:
        return send_now(plan, session, campaign, [(board, plan.bodies[board].contact)])


# --- confirming what was held ----------------------------------------------------------


class ConfirmInput(RunInput):
    """The answer to "was it held?", as the Prefect UI's form shows it."""

    held: bool = Field(True, title="Ble det holdt?",
                       description="Kryss av hvis det ble holdt; ta bort krysset hvis ikke (skriv hvorfor i merknaden).")
    date: Optional[dt.date] = Field(None, title="Dato", description="Når det ble holdt (tom: den planlagte datoen).")
    attendance: Optional[int] = Field(None, ge=0, title="Antall deltakere")
    note: Optional[str] = Field(None, max_length=2000, title="Merknad",
                                description="Kort, uten persondata; hvorfor det ikke ble holdt, om det ikke ble det.")
    evidence_url: Optional[str] = Field(None, pattern=r"^https?://\S+$", title="Lenke",
                                        description="Til referat, bilder eller arrangement (https://…).")
    later: bool = Field(False, title="Svar senere", description="Hopp over denne nå; den spørres om igjen i morgen.")


def pause_key(key: str, attempt: int = 1) -> str:
    """A pause key for an occurrence (Prefect allows letters, digits and dashes only)."""
    slug = re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")
    digest = hashlib.sha1(key.encode()).hexdigest()[:6]
    return f"confirm-{slug}-{digest}" + (f"-{attempt}" if attempt > 1 else "")


def question(plan: Plan, occ: Occurrence, problem: str | None = None) -> str:
    """The Markdown above the form: which occurrence, when, who was responsible."""
    when = i18n.day(occ.start) if occ.start is not None else f"innen {i18n.day(occ.window_end)}"
    if isinstance(occ.start, datetime):
        when += f" kl. {i18n.clock(occ.start)}"
    lines = [f"### {occ.title}", "", f"Tiltak {occ.measure} · `{occ.key}` · planlagt {when}"
             + (f" · {occ.place}" if occ.place else ""),
             f"Ansvar: {', '.join(plan.body_name(b) for b in occ.bodies)}", "",
             "Ble det holdt? Fyll inn dato, antall deltakere og gjerne en lenke til referat. "
             "Velg «Svar senere» for å hoppe over."]
    if problem:
        lines[0:0] = [f"**Svaret kunne ikke lagres:** {problem}. Prøv igjen.", ""]
    return "\n".join(lines)


@task(name="find-passed-occurrences", cache_policy=NO_CACHE)
def passed_occurrences(plan_path: str, today: date, days: int) -> list[Occurrence]:
    """Scheduled occurrences that ended in the `days` days before today and have nothing in the log."""
    plan = read_plan.fn(plan_path)
    with transaction(get_settings().database_url) as session:
        known = recorded_keys(session, plan.organisation.id)
    first = today - dt.timedelta(days=days)
    return [o for o in expand(plan, first, today)
            if o.status == "scheduled" and first <= o.span.end < today and o.key not in known]


def _is_recorded(organisation: str, key: str) -> bool:
    with transaction(get_settings().database_url) as session:
        return key in recorded_keys(session, organisation)


def check_answer(plan: Plan, occ: Occurrence, answer: ConfirmInput, today: date) -> str | None:
    """What is wrong with an answer the form's own rules let through, or None."""
    on = answer.date or default_day(occ, today)
    if on > today:
        return f"datoen {i18n.day(on)} er etter i dag"
    if on not in plan.period:
        return f"datoen {i18n.day(on)} er utenfor planperioden"
    return None


@task(name="record-answer", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10],
      retry_condition_fn=transient_error)
def record_answer(plan_path: str, occ: Occurrence, answer: dict, today: date) -> str:
    """Store the answer as a completion (source 'ui'); returns the outcome."""
    plan = read_plan.fn(plan_path)
    outcome = "held" if answer["held"] else "not_held"
    with transaction(get_settings().database_url) as session:
        record_completion(session, plan.organisation.id, occ.measure, occ.key,
                          answer["date"] or default_day(occ, today), datetime.now(timezone.utc),
                          outcome=outcome, occurrence_key=occ.key,
                          attendance=answer["attendance"] if outcome == "held" else None,
                          note=(answer["note"] or "").strip() or None, evidence_url=answer["evidence_url"],
                          source="ui")
    return outcome


@flow(name="confirm-occurrences", log_prints=False)
def confirm_occurrences(plan_path: str = "config/plan.yaml", today: Optional[date] = None, days: int = 14,
                        answer_hours: float = 20.0, poll_seconds: int = 10) -> dict:
    """Ask, in the Prefect UI, whether each occurrence that passed in the last `days` days
    with nothing in the log was held, one occurrence at a time, and record each answer."""
    logger = get_run_logger()
    today = today or date.today()
    plan = read_plan(plan_path)
    migrate_database(get_settings().database_url)
    waiting = passed_occurrences(plan_path, today, days)
    logger.info("%d occurrences passed in the last %d days with nothing recorded", len(waiting), days)
    deadline = time.monotonic() + answer_hours * 3600
    counts = {"asked": 0, "held": 0, "not_held": 0, "later": 0, "recorded_meanwhile": 0}
    for occ in waiting:
        if _is_recorded(plan.organisation.id, occ.key):  # recorded by the CLI while we waited
            counts["recorded_meanwhile"] += 1
            continue
        problem, attempt = None, 1
        while True:
            form = ConfirmInput.with_initial_data(description=question(plan, occ, problem), held=True,
                                                  date=default_day(occ, today))
            counts["asked"] += attempt == 1
            try:
                answer = pause_flow_run(wait_for_input=form, key=pause_key(occ.key, attempt),
                                        timeout=max(1, int(deadline - time.monotonic())), poll_interval=poll_seconds)
            except FlowPauseTimeout:
                logger.warning("no answer for %s within %.1f hours; the next run asks again", occ.key, answer_hours)
                raise
            problem = None if answer.later else check_answer(plan, occ, answer, today)
            if problem is None or attempt >= 3:
                break
            attempt += 1
        if answer.later or problem is not None:
            counts["later"] += 1
            logger.info("%s: %s", occ.key, "answer later" if answer.later else f"not recorded ({problem})")
            continue
        outcome = record_answer(plan_path, occ, answer.model_dump(include={"held", "date", "attendance", "note",
                                                                          "evidence_url"}), today)
        counts[outcome] += 1
        logger.info("%s: recorded as %s", occ.key, outcome)
    _confirm_artifact(plan, today, days, waiting, counts)
    return {**counts, "waiting": len(waiting)}


def _confirm_artifact(plan: Plan, today: date, days: int, waiting: list[Occurrence], counts: dict) -> None:
    lines = [f"# Bekreftelser {today.isoformat()}", "", "| | antall |", "|---|---:|",
             f"| forekomster uten registrering (siste {days} dager) | {len(waiting)} |",
             f"| registrert som holdt | {counts['held']} |", f"| registrert som ikke holdt | {counts['not_held']} |",
             f"| svar senere | {counts['later']} |", f"| registrert i mellomtiden | {counts['recorded_meanwhile']} |"]
    create_markdown_artifact(key=f"confirmations-{plan.organisation.id}", markdown="\n".join(lines),
                             description="Bekreftelser av gjennomførte forekomster")
