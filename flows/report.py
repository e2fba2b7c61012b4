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

The work is in tasks/report.py (I/O) and domain/confirm.py (the question's text and
checks); the rendering functions (tasks/report_render.py) are plain functions, so the
CLI's `aarshjul report` uses them without importing Prefect.
"""

from __future__ import annotations

import copy
import datetime as dt
import time
from datetime import date
from typing import Any, Optional

import pydantic

from prefect import flow, get_run_logger
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from pydantic import Field

from aarshjul.domain.completion import default_day
from aarshjul.domain.confirm import check_answer, default_year, pause_key, question
from aarshjul.domain.errors import AarshjulError
from aarshjul.domain.i18n import N_, Msg, _
from aarshjul.domain.report import status_rows
from aarshjul.domain.results import Confirmations, ReportWritten
from aarshjul.settings import get_settings
from aarshjul.tasks.artifacts import confirmations_summary, report_summary
from aarshjul.tasks.plan_io import by_reference, migrate_database, read_plan
from aarshjul.tasks.report import (gather_report, is_recorded, mail_confirm_links, mail_draft, passed_occurrences,
                                   record_answer, write_report_files)
from aarshjul.tasks.report_render import FORMATS, render_markdown

DEFAULT_FORMATS = ["html", "pdf", "md"]


@flow(name="yearly-report", log_prints=False)
def yearly_report(year: Optional[int] = None, plan_path: str = "config/plan.yaml", today: Optional[date] = None,
                  formats: Optional[list[str]] = None, out_dir: str = "var/rapport") -> ReportWritten:
    """Build the year's report to the annual meeting from the completion log (default: last
    year), write it as HTML, PDF and Markdown, and publish it as artifacts."""
    logger = get_run_logger()
    today = today or date.today()
    formats = list(formats or DEFAULT_FORMATS)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise AarshjulError(Msg("unknown format {formats}; use {known}", formats=unknown, known=list(FORMATS)))
    plan = read_plan(plan_path)
    year = year or default_year(plan, today)
    migrate_database(get_settings().database_url)
    report = gather_report(by_reference(plan), year, today)
    files = write_report_files(by_reference(report), formats, out_dir, plan.organisation.id)
    counts = report.counts
    logger.info("report %d: %d measures (%s); %d gaps; files: %s", year, len(report.measures),
                ", ".join(f"{n} {s}" for s, n in counts.items() if n), len(report.gaps), ", ".join(files.values()))
    # the organisation in the keys too: one server may serve many chapters
    report_summary(plan.organisation.id, year, plan.meta.title, render_markdown(report), status_rows(report),
                   plan.organisation.locale)
    mailed = mail_draft(by_reference(plan), by_reference(report), today, files)
    return ReportWritten(year=year, files=files, counts=dict(counts), measures=len(report.measures),
                         gaps=len(report.gaps), draft=not report.complete_year, mailed_to_board=mailed)


# --- confirming what was held ----------------------------------------------------------


class ConfirmInput(RunInput):
    """The answer to "was it held?", as the Prefect UI's form shows it. No Optional fields:
    the UI draws `X | None` as a type switch that must be clicked before typing, so every
    field has a plain type and a default ("" and 0 mean "not given"). Titles and
    descriptions are msgids, said in the organisation's language by confirm_form."""

    held: bool = Field(True, title=N_("Was it held?"),
                       description=N_("Tick if it was held; untick if not (write why in the note)."))
    date: dt.date = Field(dt.date(2000, 1, 1), title=N_("Date"), description=N_("When it was held."))
    attendance: int = Field(0, ge=0, title=N_("Number of participants"), description=N_("0 if you do not know."))
    note: str = Field("", max_length=2000, title=N_("Note"),
                      description=N_("Short, without personal data; why it was not held, if it was not."))
    evidence_url: str = Field("", max_length=500, title=N_("Link"),
                              description=N_("To minutes, pictures or the event (https://…); empty if none."))
    later: bool = Field(False, title=N_("Answer later"),
                        description=N_("Skip this one now; it is asked again tomorrow."))


def confirm_form(description: str, lang: str | None = None, **initial: Any) -> type[ConfirmInput]:
    """ConfirmInput with its titles and descriptions in `lang` (the organisation's; None:
    Norwegian), `initial` as the fields' defaults and `description` above the form.
    Prefect's own `with_initial_data` rebuilds each field from its annotation alone, which
    drops its title, description and limits (the form then showed "Held", "Date" in
    English); here each field keeps its FieldInfo, only the words and default change."""
    fields: dict[str, Any] = {}
    for name, original in ConfirmInput.model_fields.items():
        info = copy.copy(original)
        info.title = _(lang, original.title) if original.title else None
        info.description = _(lang, original.description) if original.description else None
        if name in initial:
            info.default = initial[name]
        fields[name] = (info.annotation, info)
    model = pydantic.create_model(ConfirmInput.__name__, __base__=ConfirmInput, **fields)
    model._description = description
    return model


@flow(name="confirm-occurrences", log_prints=False)
def confirm_occurrences(plan_path: str = "config/plan.yaml", today: Optional[date] = None, days: int = 14,
                        answer_hours: float = 20.0, poll_seconds: int = 10, mail_links: bool = True,
                        ask_in_ui: bool = True) -> Confirmations:
    """Mail the responsible bodies' role holders a personal link for each occurrence that
    passed in the last `days` days with nothing in the log (answered on aarshjul web's
    page), then ask the same in the Prefect UI, one occurrence at a time, recording each
    answer."""
    logger = get_run_logger()
    today = today or date.today()
    plan = read_plan(plan_path)
    migrate_database(get_settings().database_url)
    waiting = passed_occurrences(by_reference(plan), today, days)
    logger.info("%d occurrences passed in the last %d days with nothing recorded", len(waiting), days)
    if mail_links:  # the board answers from a link in the mail (aarshjul web); the UI's form stays for admins
        mail_confirm_links(by_reference(plan), waiting, today)
    counts = {"asked": 0, "held": 0, "not_held": 0, "later": 0, "recorded_meanwhile": 0}
    if not ask_in_ui:
        confirmations_summary(plan.organisation.id, today, days, len(waiting), counts, plan.organisation.locale)
        return Confirmations(waiting=len(waiting), **counts)
    deadline = time.monotonic() + answer_hours * 3600
    for occ in waiting:
        if is_recorded(plan.organisation.id, occ.key):  # recorded by the CLI while we waited
            counts["recorded_meanwhile"] += 1
            continue
        problem, attempt = None, 1
        while True:
            form = confirm_form(question(plan, occ, problem), plan.organisation.locale, held=True,
                                date=default_day(occ, today))
            counts["asked"] += attempt == 1
            try:
                answer = pause_flow_run(wait_for_input=form, key=pause_key(occ.key, attempt),
                                        timeout=max(1, int(deadline - time.monotonic())), poll_interval=poll_seconds)
            except FlowPauseTimeout:
                logger.warning("no answer for %s within %.1f hours; the next run asks again", occ.key, answer_hours)
                raise
            problem = None if answer.later else check_answer(plan, occ, answer.date, today,
                                                             answer.evidence_url.strip() or None)
            if problem is None or attempt >= 3:
                break
            attempt += 1
        if answer.later or problem is not None:
            counts["later"] += 1
            logger.info("%s: %s", occ.key, "answer later" if answer.later else f"not recorded ({problem})")
            continue
        fields = {"held": answer.held, "date": answer.date, "attendance": answer.attendance or None,
                  "note": answer.note, "evidence_url": answer.evidence_url.strip() or None}
        outcome = record_answer(by_reference(plan), occ, fields, today)
        counts[outcome] += 1
        logger.info("%s: recorded as %s", occ.key, outcome)
    confirmations_summary(plan.organisation.id, today, days, len(waiting), counts, plan.organisation.locale)
    return Confirmations(waiting=len(waiting), **counts)
