"""`aarshjul check` beyond the plan: every other file aarshjul will ever read for it.

`load_plan` reads and cross-checks plan.yaml, organisation.yaml, schedule.yaml and
mail.yaml. `check_files(plan, today)` reads the rest, as the commands that use them
would, and returns their problems (each with file, line and a hint) instead of failing
later, in a scheduled run:

    targets.yaml     beside the plan: the table, its goals and measures (domain/targets.py)
    postcodes.yaml   beside the plan: the table and its branches (domain/postcodes.py)
    chapters.yaml    beside the plan: each chapter's plan, relative to the chapters file
    content          every edition's text already written in a newsletter's `content:` folder
    templates        every template mail.yaml and the yearly report use, the
                     organisation's own (templates/ beside the plan) before the bundled,
                     rendered against a sample

No Prefect, no database, nothing written.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from jinja2 import TemplateError, TemplateNotFound

from aarshjul.domain.errors import PlanError, Problem
from aarshjul.domain.i18n import Msg
from aarshjul.domain.plan import Plan

CHAPTERS = "chapters.yaml"
SAMPLE_ROWS = [{"number": "1001", "name": "Ola Nordmann", "phone": "40000000", "joined": "1. mars 2026",
                "due": "15. mars 2026"}]


def check_files(plan: Plan, today: date) -> list[Problem]:
    """Every problem in the files beside the plan that `load_plan` does not read."""
    problems: list[Problem] = []
    checks: list[Callable[[], Iterable[Problem]]] = [
        lambda: _targets(plan), lambda: _postcodes(plan), lambda: _chapters(plan), lambda: _content(plan),
        lambda: check_templates(plan, today)]
    for check in checks:
        try:
            problems.extend(check())
        except PlanError as exc:  # a file that does not parse or validate: its problems, with their lines
            problems.extend(exc.problems)
    return problems


# --- tables and files -------------------------------------------------------------------


def _targets(plan: Plan) -> Iterable[Problem]:
    from aarshjul.domain.targets import load_targets, targets_path

    load_targets(targets_path(plan), plan)  # TargetTableError (a PlanError) names each mistake
    return ()


def _postcodes(plan: Plan) -> Iterable[Problem]:
    from aarshjul.domain.postcodes import TABLE_NAME, load_postcodes

    load_postcodes(plan.folder / TABLE_NAME, plan.branches())
    return ()


def _chapters(plan: Plan) -> Iterable[Problem]:
    from aarshjul.domain.load import load_chapters

    path = plan.folder / CHAPTERS
    if path.is_file():
        load_chapters(path)
    return ()


def _content(plan: Plan) -> Iterable[Problem]:
    """Every edition text already written for a newsletter is UTF-8 Markdown."""
    if plan.mail is None:
        return
    from markdown_it import MarkdownIt

    for n in plan.mail.newsletters:
        if not n.content:
            continue
        pattern = plan.folder / n.content
        if not pattern.parent.is_dir():
            continue  # no edition written yet: each is EditionNotReady until its text is there
        for text in sorted(pattern.parent.glob(pattern.name.replace("{edition}", "*"))):
            try:
                MarkdownIt("commonmark", {"html": False}).render(text.read_text(encoding="utf-8"))
            except UnicodeDecodeError as exc:
                yield Problem(text, None, None, Msg("not UTF-8 text ({reason})", reason=exc.reason),
                              Msg("save the file as UTF-8"))


# --- templates --------------------------------------------------------------------------


def check_templates(plan: Plan, today: date) -> list[Problem]:
    """Render every e-mail template mail.yaml makes aarshjul send, and the report's
    templates, against a sample; a problem names the template's file and line."""
    problems: list[Problem] = []
    if plan.mail is not None:
        for campaign, where in _sample_campaigns(plan, today):
            problems.extend(_render_mail(plan, campaign, where))
    problems.extend(_render_report(plan, today))
    return problems


def _sample_campaigns(plan: Plan, today: date) -> Iterable[tuple[Any, tuple[Path | None, int | None, str | None]]]:
    """(campaign, where it is named) for each kind of message the plan can send."""
    from aarshjul.domain import campaigns as cp
    from aarshjul.domain.editions import editions_for, scheduled_days
    from aarshjul.domain.expand import expand
    from aarshjul.domain.feeds import Entry
    from aarshjul.domain.reminders import Reminder

    assert plan.mail is not None
    mail_file = plan.files[-1] if plan.files else None
    mail_lines = _mail_lines(mail_file)
    for i, n in enumerate(plan.mail.newsletters):
        days = scheduled_days(plan, n, plan.period.start, plan.period.end)
        if not days:
            continue
        for edition in editions_for(plan, n, days[0])[:1]:
            content = "Eksempel på et brev.\n\n- et punkt\n" if n.content else None
            yield (cp.newsletter_campaign(plan, n, edition, days[0], content, allow_empty=True),
                   (mail_file, mail_lines(("newsletters", i, "template")), f"newsletters[{i}].template"))
    fixed = (None, None, None)
    occurrences = expand(plan)
    if occurrences:
        o = occurrences[0]
        for kind in ("lead", "unscheduled", "overdue"):
            yield cp.reminder_campaign(plan, Reminder(f"reminder/{o.key}/{kind}", kind, 7, o, 7)), fixed
        start = datetime.combine(today + timedelta(days=7), time(18, 0), tzinfo=plan.tz)
        timed = replace(o, start=start, end=start + timedelta(hours=2), all_day=False, status="scheduled",
                        bodies=tuple(b for b in o.bodies if b in plan.bodies) or tuple(plan.bodies)[:1])
        now = datetime.now(timezone.utc)
        for campaign, _ in cp.invitation_campaigns(plan, [Entry(timed, 0, now, now)], today, set())[:1]:
            yield campaign, fixed
    branches, board = plan.branches(), cp.board_of(plan)
    if branches and plan.driven_by("member_joined"):
        yield cp.follow_up_campaign(plan, branches[0], "2026-W01", SAMPLE_ROWS), fixed
        if board:
            yield cp.follow_up_overdue_campaign(plan, board, today, {branches[0]: ["1001"], "": ["1002"]}), fixed
    if plan.driven_by("dues_unpaid"):
        yield cp.dues_campaign(plan, today.year), fixed
        if branches:
            yield cp.dues_list_campaign(plan, branches[0], today, SAMPLE_ROWS), fixed
    if board:
        yield cp.report_draft_campaign(plan, board, today.year, today, "# Utkast\n", ["rapport.md"]), fixed


def _mail_lines(mail_file: Path | None) -> Callable[[tuple[str | int, ...]], int | None]:
    from aarshjul.domain.yamlsource import load_yaml

    if mail_file is None:
        return lambda path: None
    try:
        src = load_yaml(mail_file)
    except PlanError:
        return lambda path: None

    def line_of(path: tuple[str | int, ...]) -> int | None:
        return src.line_of(path)
    return line_of


def _render_mail(plan: Plan, campaign: Any, where: tuple[Path | None, int | None, str | None]) -> list[Problem]:
    from aarshjul.tasks.mail_render import environment

    env = environment(campaign.templates, campaign.context.get("lang"))  # in the organisation's language
    context = {**campaign.context, "first_name": "Ola", "subject": "Emne"}
    if context.get("events") == []:  # a digest: one sample event, so the template's loop is tried too
        context["events"] = [{"title": "Medlemsmøte", "when": "1. mars 2026 kl. 18:00", "place": "Folkets hus",
                              "bodies": "Styret"}]
    if campaign.unsubscribe_url:
        context["unsubscribe_url"] = campaign.unsubscribe_url.replace("{token}", "EKSEMPEL")
    out: list[Problem] = []
    for suffix in ("html", "txt"):
        name = f"email/{campaign.template}.{suffix}.j2"
        try:
            env.get_template(name).render(context)
        except TemplateNotFound as exc:
            out.append(Problem(*where, Msg("no template is named {name}", name=exc.name),
                               Msg("put it in {folder}/email/, or use one of the bundled templates",
                                   folder=plan.templates)))
            break
        except TemplateError as exc:
            out.append(_template_problem(plan, exc, name))
    return out


def _render_report(plan: Plan, today: date) -> list[Problem]:
    from aarshjul.domain.report import build_report
    from aarshjul.domain.targets import load_targets, progress, targets_path
    from aarshjul.tasks.report_render import render_html, render_markdown

    year = min(max(today.year, plan.period.start.year), plan.period.end.year)
    try:
        targets = load_targets(targets_path(plan), plan)
    except PlanError:
        targets = None  # reported by _targets
    period = (plan.period.start, plan.period.end)
    progresses = [progress(t, [], year, today, period) for t in (targets.targets if targets else ())]
    sample = {b: (3, 2) for b in plan.branches()[:2]} | {"": (1, 0)}
    report = build_report(plan, year, today, [], {}, progresses, sample)
    out: list[Problem] = []
    for name, render in (("report/report.md.j2", render_markdown),
                         ("report/report.html.j2", lambda r: render_html(r, charts=False))):
        try:
            render(report)
        except TemplateError as exc:
            out.append(_template_problem(plan, exc, name))
    return out


def _template_problem(plan: Plan, exc: TemplateError, name: str) -> Problem:
    from aarshjul.tasks.templates import BUNDLED, template_line

    file, line = template_line(exc)
    path = Path(file) if file else (plan.templates / name if (plan.templates / name).is_file() else BUNDLED / name)
    return Problem(path, line, None,
                   Msg("the template does not render: {kind}: {reason}", kind=type(exc).__name__,
                       reason=exc.message or str(exc)),
                   Msg("a template uses only the values it is given (see the bundled template of the same name)"))
