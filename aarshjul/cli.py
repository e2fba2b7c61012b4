"""The `aarshjul` command.

Read-only commands (check, measures, agenda, gaps) load the plan and answer at once;
they never import Prefect. Commands that act (run) run flows, imported lazily.
Every command takes --today so that a run can be reproduced. A mistake in the input
prints where it is and exits with status 2.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from .domain import i18n
from .cli_common import session as _session
from .cli_members import members_app
from .cli_report import kpi_app, report_cli
from .domain.errors import AarshjulError, NotFound, PlanError
from .settings import get_settings, per_organisation

app = typer.Typer(help="aarshjul: a work plan as code, turned into calendars, mail and a yearly report.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
app.add_typer(db_app, name="db")
cal_app = typer.Typer(help="Calendar feeds: their addresses, token rotation.", no_args_is_help=True)
app.add_typer(cal_app, name="calendars")
news_app = typer.Typer(help="Newsletters: list, preview, send.", no_args_is_help=True)
app.add_typer(news_app, name="newsletter")
rem_app = typer.Typer(help="Reminders to the responsible bodies.", no_args_is_help=True)
app.add_typer(rem_app, name="reminders")
app.add_typer(members_app, name="members")
app.registered_commands += report_cli.registered_commands
app.add_typer(kpi_app, name="kpi")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

PlanOpt = Annotated[Optional[Path], typer.Option("--plan", help="The plan file (default: AARSHJUL_PLAN or config/plan.yaml).")]
TodayOpt = Annotated[Optional[str], typer.Option("--today", help="Pretend today is this date (YYYY-MM-DD).")]
FormatOpt = Annotated[str, typer.Option("--format", help="table or json.")]
LangOpt = Annotated[Optional[str], typer.Option("--lang", help="nb (default) or en.")]


def _fail(message: str) -> None:
    raise AarshjulError(message)


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{option} {value!r} is not a date; write YYYY-MM-DD")


def _today(value: str | None) -> date:
    return _date(value, "--today") or date.today()


def _lang(value: str | None) -> str:
    lang = value or get_settings().lang
    if lang not in i18n.WORDS:
        _fail(f"--lang {lang!r} is not available; use nb or en")
    return lang


def _format(value: str) -> str:
    if value not in ("table", "json"):
        _fail(f"--format {value!r}: use table or json")
    return value


def _load(plan_path: Path | None):
    from .domain.load import load_plan

    return load_plan(plan_path or get_settings().plan)


def main() -> None:
    """Entry point: turns aarshjul's errors into a message and exit status 2."""
    try:
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except PlanError as exc:
        err.print(f"[bold red]The plan has {len(exc.problems)} problem(s):[/]")
        for problem in exc.problems:
            err.print(str(problem), markup=False, highlight=False)
        sys.exit(2)
    except AarshjulError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except Exception as exc:  # click's usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


# --- read-only -----------------------------------------------------------------------


@app.command()
def check(plan: PlanOpt = None, today: TodayOpt = None, lang: LangOpt = None) -> None:
    """Validate the plan files; warn about gaps in the current year."""
    from .domain.expand import expand
    from .domain.gaps import find_gaps

    lang, day = _lang(lang), _today(today)
    p = _load(plan)
    year = day.year if p.period.start.year <= day.year <= p.period.end.year else p.period.end.year
    occ = expand(p, date(year, 1, 1), date(year, 12, 31))
    gaps = [g for g in find_gaps(occ, day, _held(p)) if g.overdue or g.kind == "quota"]
    n_measures = len(p.measures)
    out.print(f"[green]✓[/] {i18n.word('plan_ok', lang)}: {p.meta.title} — {len(p.goals)} mål, "
              f"{n_measures} tiltak, {len(expand(p))} forekomster ({p.files[0]})" if lang == "nb" else
              f"[green]✓[/] {i18n.word('plan_ok', lang)}: {p.meta.title} — {len(p.goals)} goals, "
              f"{n_measures} measures, {len(expand(p))} occurrences ({p.files[0]})", highlight=False)
    if gaps:
        out.print(f"[yellow]{len(gaps)} {i18n.word('warnings', lang)} ({year}):[/]")
        for g in gaps:
            out.print(f"  [yellow]![/] {_gap_line(g, lang)}", highlight=False)


@app.command()
def measures(plan: PlanOpt = None, format: FormatOpt = "table", today: TodayOpt = None, lang: LangOpt = None) -> None:
    """The plan's measures, goal by goal."""
    fmt, lang = _format(format), _lang(lang)
    _today(today)
    p = _load(plan)
    if fmt == "json":
        rows = [{
            "number": m.number, "goal": g.number, "title": m.title, "text": m.text,
            "period": [{"start": s.start.isoformat(), "end": s.end.isoformat()} for s in m.period],
            "period_text": m.period_text, "bodies": list(m.bodies),
            "responsible": [p.body_name(b) for b in m.bodies],
            "cadence": m.cadence.model_dump(mode="json", exclude_defaults=False), "visibility": m.visibility,
        } for g, m in p.measures]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{i18n.word('measures', lang)}: {p.meta.title}", show_lines=False)
    for col in ("measure", "title", "period", "bodies", "cadence"):
        table.add_column(i18n.word(col, lang))
    for g, m in p.measures:
        table.add_row(m.number, m.title, m.period_text or ", ".join(str(s) for s in m.period),
                      ", ".join(p.body_name(b) for b in m.bodies), _cadence_text(m.cadence, lang))
    out.print(table)


@app.command()
def agenda(
    plan: PlanOpt = None,
    from_: Annotated[Optional[str], typer.Option("--from", help="First date (default: today).")] = None,
    to: Annotated[Optional[str], typer.Option("--to", help="Last date (default: the end of the plan).")] = None,
    body: Annotated[Optional[str], typer.Option("--body", help="Only this body (id).")] = None,
    measure: Annotated[Optional[str], typer.Option("--measure", help="Only this measure (number).")] = None,
    format: FormatOpt = "table", today: TodayOpt = None, lang: LangOpt = None,
) -> None:
    """What the plan requires, date by date."""
    from .domain.expand import expand

    fmt, lang, day = _format(format), _lang(lang), _today(today)
    start, end = _date(from_, "--from") or day, _date(to, "--to")
    p = _load(plan)
    end = end or p.period.end
    if end < start:
        _fail(f"--to {end} is before --from {start}")
    if body and body not in p.bodies and body not in p.groups:
        raise NotFound("body", body, [*p.bodies, *p.groups])
    if measure:
        p.measure(measure)  # raises NotFound with suggestions
    wanted = set(p.expand_bodies([body])) if body else None
    rows = [o for o in expand(p, start, end)
            if (not measure or o.measure == measure) and (wanted is None or wanted & set(o.bodies))]
    if fmt == "json":
        print(json.dumps([o.to_dict() for o in rows], ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{i18n.word('agenda', lang)} {i18n.day(start, lang)} – {i18n.day(end, lang)}")
    for col in ("date", "time", "key", "title", "bodies", "status"):
        table.add_column(i18n.word(col, lang))
    for o in rows:
        table.add_row(_when(o, lang), _clock(o, lang), o.key, o.title,
                      ", ".join(p.body_name(b) for b in o.bodies), i18n.word(o.status, lang))
    out.print(table)


@app.command()
def gaps(
    plan: PlanOpt = None,
    year: Annotated[Optional[int], typer.Option("--year", help="The year (default: today's).")] = None,
    format: FormatOpt = "table", today: TodayOpt = None, lang: LangOpt = None,
) -> None:
    """Quotas not yet met and deadlines passed, for a year."""
    from .domain.expand import expand
    from .domain.gaps import find_gaps

    fmt, lang, day = _format(format), _lang(lang), _today(today)
    p = _load(plan)
    year = year or day.year
    if not p.period.start.year <= year <= p.period.end.year:
        _fail(f"--year {year} is outside the plan period {p.period.start.year}–{p.period.end.year}")
    found = find_gaps(expand(p, date(year, 1, 1), date(year, 12, 31)), day, _held(p))
    if fmt == "json":
        print(json.dumps([g.to_dict() for g in found], ensure_ascii=False, indent=2))
        return
    if not found:
        out.print(i18n.word("no_gaps", lang))
        return
    table = Table(title=f"{i18n.word('gaps', lang)} {year}")
    for col in ("measure", "title", "window", "required", "pinned", "held", "missing", "closes", "status"):
        table.add_column(i18n.word(col, lang))
    for g in found:
        title = g.title
        table.add_row(g.measure, title, g.window, str(g.required), str(g.pinned), str(g.held), str(g.missing),
                      i18n.day(g.closes, lang), i18n.word("overdue" if g.overdue else "open", lang))
    out.print(table)


# --- acting --------------------------------------------------------------------------


@app.command()
def run(plan: PlanOpt = None, today: TodayOpt = None, lang: LangOpt = None,
        mail: Annotated[bool, typer.Option("--mail/--no-mail", help="Send what is due today.")] = True) -> None:
    """The main job: store the agenda, publish the calendars, send what is due (a Prefect flow run)."""
    lang, day = _lang(lang), _today(today)
    plan_path = plan or get_settings().plan
    _load(plan_path)  # fail fast, before Prefect starts, with the same message as `check`
    _prefect_defaults()
    from .flows.run import run_all

    summary = run_all(plan_path=str(plan_path), today=day, send_mail=mail)
    _print_publish(summary, lang)
    if summary["mail"] is not None:
        m = summary["mail"]
        _print_mail(m["newsletters"] + m["reminders"] + m["invitations"], lang)
        settings = get_settings()
        where = (_safe_smtp(settings.smtp_url) if settings.smtp_url else
                 per_organisation(settings.outbox_dir, summary["organisation"]))
        out.print(f"  {'e-post' if lang == 'nb' else 'mail'}: {where}", highlight=False)


@app.command()
def serve(plan: PlanOpt = None, today: TodayOpt = None,
          chapters: Annotated[Optional[Path], typer.Option(
              "--chapters", help="A chapters file: serve every chapter's plan (see config/chapters.yaml).")] = None,
          ) -> None:
    """Run every deployment of prefect.yaml on its schedule, from this one process."""
    from .flows.deployments import read_chapters

    _today(today)
    plan_paths = read_chapters(chapters) if chapters else [str(plan or get_settings().plan)]
    for plan_path in plan_paths:
        _load(Path(plan_path))
    _prefect_defaults()
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL

    if not PREFECT_API_URL.value():
        _fail("aarshjul serve needs a Prefect server to keep the schedules and show the runs:\n"
              "  prefect server start                      (in another terminal)\n"
              "  prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api\n"
              "then run `aarshjul serve` again")
    from prefect import serve as prefect_serve

    from .flows.deployments import runner_deployments

    deployments = runner_deployments(plan_paths)
    ui = PREFECT_UI_URL.value() or PREFECT_API_URL.value().removesuffix("/api")
    out.print(f"[green]✓[/] aarshjul serves {len(deployments)} deployments for {len(plan_paths)} chapter(s) "
              f"(schedules in Europe/Oslo). Watch the runs in the Prefect UI: {ui}/deployments", highlight=False)
    prefect_serve(*deployments, print_starting_message=False)


@app.command()
def publish(plan: PlanOpt = None, today: TodayOpt = None, lang: LangOpt = None) -> None:
    """Publish the calendar feeds and the web page (a Prefect flow run)."""
    lang, day = _lang(lang), _today(today)
    plan_path = plan or get_settings().plan
    _load(plan_path)
    _prefect_defaults()
    from .flows.calendars import publish_calendars

    _print_publish(publish_calendars(plan_path=str(plan_path), today=day), lang)


def _print_publish(summary: dict, lang: str) -> None:
    nb = lang == "nb"
    out.print(f"[green]✓[/] {summary['plan']}: {summary['occurrences']} "
              f"{'forekomster lagret' if nb else 'occurrences stored'} ({summary['new']} "
              f"{'nye' if nb else 'new'}, {summary['changed']} {'endret' if nb else 'changed'}, "
              f"{summary['removed']} {'fjernet' if nb else 'removed'}); {summary['gaps']} "
              f"{'hull i' if nb else 'gaps in'} {summary['year']}", highlight=False)
    out.print(f"  {'database' if nb else 'database'}: {summary['database']}", highlight=False)
    out.print(f"  {'nettside' if nb else 'web page'}: {summary['site']} ({len(summary['feeds'])} "
              f"{'kalenderstrømmer' if nb else 'feeds'}, {summary['files_written']} "
              f"{'filer skrevet' if nb else 'files written'})", highlight=False)


@db_app.command("upgrade")
def db_upgrade(today: TodayOpt = None) -> None:
    """Create or migrate the database to the current schema."""
    from .db.migrate import upgrade

    _today(today)
    url = get_settings().database_url
    upgrade(url)
    out.print(f"[green]✓[/] database at the current schema: {_safe_url(url)}", highlight=False)


@news_app.command("list")
def newsletter_list(plan: PlanOpt = None, today: TodayOpt = None) -> None:
    """The newsletters in mail.yaml, with their next edition."""
    from .domain.editions import edition_label, scheduled_days

    day = _today(today)
    p = _load(plan)
    table = Table(title="Nyhetsbrev")
    for col in ("id", "name", "audience", "schedule", "next"):
        table.add_column(col, overflow="fold")
    for n in _mail_config(p).newsletters:
        upcoming = scheduled_days(p, n, day, p.period.end)
        nxt = f"{n.id}/{edition_label(n, upcoming[0])} ({upcoming[0].isoformat()})" if upcoming else "–"
        table.add_row(n.id, n.name, ", ".join(f"{k}: {v}" for k, v in n.audience.model_dump(exclude_defaults=True).items()),
                      n.schedule, nxt)
    out.print(table)


@news_app.command("preview")
def newsletter_preview(
    newsletter: Annotated[str, typer.Argument(help="The newsletter id.")],
    edition: Annotated[Optional[str], typer.Option("--edition", help="YYYY-MM (default: the next one).")] = None,
    plan: PlanOpt = None, today: TodayOpt = None,
    html: Annotated[bool, typer.Option("--html", help="Print the HTML part instead of the text.")] = False,
) -> None:
    """Render an edition for a sample member (Ola Nordmann) and print it; sends nothing."""
    from .domain.editions import editions_for, parse_edition, scheduled_days
    from .domain.campaigns import content_path, newsletter_campaign
    from .tasks.mail_render import Renderer, read_edition_text

    day = _today(today)
    p = _load(plan)
    n = _newsletter_by_id(p, newsletter)
    if edition:
        try:
            editions = parse_edition(p, n, edition)
        except ValueError as exc:
            _fail(str(exc))
    else:
        upcoming = scheduled_days(p, n, day, p.period.end)
        if not upcoming:
            _fail(f"{n.id} has no edition after {day}")
        editions = editions_for(p, n, upcoming[0])
    campaign = newsletter_campaign(p, n, editions[0], day, read_edition_text(content_path(p, n, editions[0])))
    context = {**campaign.context, "first_name": "Ola",
               "unsubscribe_url": campaign.unsubscribe_url.replace("{token}", "FORHANDSVISNING")}
    subject, text, html_part = Renderer(campaign.template, campaign.subject).render(context)
    print(f"Subject: {subject}\nEdition: {campaign.key}\n")
    print(html_part if html else text)


@news_app.command("send")
def newsletter_send(
    newsletter: Annotated[str, typer.Argument(help="The newsletter id.")],
    edition: Annotated[Optional[str], typer.Option("--edition", help="YYYY-MM (default: the one due today).")] = None,
    plan: PlanOpt = None, today: TodayOpt = None, lang: LangOpt = None,
) -> None:
    """Send an edition (a Prefect flow run); recipients who already have it are skipped."""
    lang, day = _lang(lang), _today(today)
    plan_path = plan or get_settings().plan
    _newsletter_by_id(_load(plan_path), newsletter)
    _prefect_defaults()
    from .flows.mail import send_newsletter

    _print_mail(send_newsletter(newsletter, edition, str(plan_path), day), lang)


@rem_app.command("send")
def reminders_send(plan: PlanOpt = None, today: TodayOpt = None, lang: LangOpt = None) -> None:
    """Send the reminders due today to the responsible bodies (a Prefect flow run)."""
    lang, day = _lang(lang), _today(today)
    plan_path = plan or get_settings().plan
    _mail_config(_load(plan_path))
    _prefect_defaults()
    from .flows.mail import send_reminders

    summaries = send_reminders(str(plan_path), day)
    _print_mail(summaries, lang)
    if not summaries:
        out.print("Ingen påminnelser i dag." if lang == "nb" else "No reminders due today.")


@app.command()
def unsubscribe(token: Annotated[str, typer.Argument(help="The token from a List-Unsubscribe link.")],
                plan: PlanOpt = None, today: TodayOpt = None) -> None:
    """Record an unsubscribe (as the web endpoint would); honoured by the next send."""
    from .db.ledger import record_unsubscribe
    from .domain.messages import BadToken, read_token
    from .tasks.mailer import secret_key

    _today(today)
    p = _load(plan)
    try:
        org, audience, member = read_token(secret_key(get_settings().secret_key_file), token)
    except BadToken as exc:
        _fail(f"{exc}; copy the whole token from the link")
    if org != p.organisation.id:
        _fail(f"the token is for organisation {org!r}, not {p.organisation.id!r}")
    with _session() as session:
        new = record_unsubscribe(session, org, audience, member, datetime.now().astimezone(), "cli")
    out.print(f"[green]✓[/] medlem {member} er meldt av {audience}" + ("" if new else " (var allerede meldt av)"),
              highlight=False)


@cal_app.command("urls")
def calendars_urls(plan: PlanOpt = None, today: TodayOpt = None) -> None:
    """Where each feed is published (the private ones under their secret tokens)."""
    from .db.calendars import feed_tokens
    from .domain.feeds import feeds
    from .tasks.site import feed_path

    _today(today)
    p = _load(plan)
    settings = get_settings()
    with _session() as session:
        tokens = feed_tokens(session, p.organisation.id, [f.id for f in feeds(p) if not f.public],
                             datetime.now().astimezone())
    base = per_organisation(settings.site_url or settings.site_dir, p.organisation.id).rstrip("/")
    table = Table(title="Kalenderstrømmer")
    table.add_column("feed")
    table.add_column("name")
    table.add_column("url", overflow="fold")
    for f in feeds(p):
        table.add_row(f.id, f.name, f"{base}/{feed_path(f.id, f.public, tokens)}")
    out.print(table)


@cal_app.command("rotate")
def calendars_rotate(feed: Annotated[str, typer.Argument(help="The feed id (a body id or medlemmer).")],
                     plan: PlanOpt = None, today: TodayOpt = None) -> None:
    """Give a feed a new secret address; the old one stops working at the next publish."""
    from .db.calendars import rotate_token
    from .domain.feeds import feeds

    _today(today)
    p = _load(plan)
    private = [f.id for f in feeds(p) if not f.public]
    if feed not in private:
        raise NotFound("private feed", feed, private)
    with _session() as session:
        rotate_token(session, p.organisation.id, feed, datetime.now().astimezone())
    out.print(f"[green]✓[/] {feed}: ny adresse; kjør `aarshjul publish` og del den nye lenken "
              f"(`aarshjul calendars urls`).", highlight=False)


@cal_app.command("conflicts")
def calendars_conflicts(plan: PlanOpt = None, today: TodayOpt = None, lang: LangOpt = None) -> None:
    """Events someone changed on the CalDAV server since our last push, left alone until resolved."""
    from .db.caldav import conflicts

    lang = _lang(lang)
    _today(today)
    p = _load(plan)
    with _session() as session:
        rows = conflicts(session, p.organisation.id)
        if not rows:
            out.print("Ingen konflikter." if lang == "nb" else "No conflicts.")
            return
        table = Table(title="Konflikter i CalDAV" if lang == "nb" else "CalDAV conflicts")
        for col in ("calendar", "key", "uid", "since", "server"):
            table.add_column(col, overflow="fold")
        for r in rows:
            table.add_row(r.calendar, r.key, r.uid, i18n.day(r.conflict_at, lang),
                          ("endret" if lang == "nb" else "edited") if r.conflict_etag else
                          ("slettet" if lang == "nb" else "deleted"))
    out.print(table)
    out.print("aarshjul calendars resolve UID --keep ours|theirs", highlight=False)


@cal_app.command("resolve")
def calendars_resolve(
    uid: Annotated[str, typer.Argument(help="The event's UID (see `aarshjul calendars conflicts`).")],
    keep: Annotated[str, typer.Option("--keep", help="ours: the plan's version is pushed again; "
                                                     "theirs: the server's version stays.")],
    plan: PlanOpt = None, today: TodayOpt = None,
) -> None:
    """Resolve a CalDAV conflict."""
    from .db.caldav import conflicts, resolve

    _today(today)
    if keep not in ("ours", "theirs"):
        _fail(f"--keep {keep!r}: use ours or theirs")
    p = _load(plan)
    with _session() as session:
        rows = resolve(session, p.organisation.id, uid, keep)
        if not rows:
            raise NotFound("conflict", uid, [r.uid for r in conflicts(session, p.organisation.id)])
    out.print(f"[green]✓[/] {uid}: {keep}; {'takes effect at the next publish' if keep == 'ours' else 'resolved'}",
              highlight=False)


# --- helpers -------------------------------------------------------------------------


def _prefect_defaults() -> None:
    """No telemetry or update checks unless the admin asks for them."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def _mail_config(p):
    if not p.mail:
        _fail(f"{p.files[0]} names no mail file; add `mail: mail.yaml` (see config/mail.yaml)")
    return p.mail


def _newsletter_by_id(p, ident: str):
    for n in _mail_config(p).newsletters:
        if n.id == ident:
            return n
    raise NotFound("newsletter", ident, [n.id for n in p.mail.newsletters])


def _print_mail(summaries: list[dict], lang: str) -> None:
    nb = lang == "nb"
    for s in summaries:
        if "not_ready" in s:
            out.print(f"[yellow]![/] {s['not_ready']}", highlight=False)
            continue
        out.print(f"[green]✓[/] {s['campaign']}: {s['sent']} {'sendt' if nb else 'sent'}, {s['failed']} "
                  f"{'feilet' if nb else 'failed'}, {s['unknown']} {'ukjent' if nb else 'unknown'}, "
                  f"{s['in_doubt']} {'i tvil' if nb else 'in doubt'}, {s['skipped_unsubscribed']} "
                  f"{'avmeldt' if nb else 'unsubscribed'}, {s['skipped_invalid']} "
                  f"{'ugyldig adresse' if nb else 'invalid address'}", highlight=False)


def _held(p) -> set[str]:
    """Keys recorded as held, from the database if there is one (never created here)."""
    from .db.agenda import held_keys
    from .db.session import database_exists, make_engine, session_scope

    url = get_settings().database_url
    if not database_exists(url):
        return set()
    engine = make_engine(url, create_dir=False)
    try:
        with session_scope(engine) as session:
            return held_keys(session, p.organisation.id)
    finally:
        engine.dispose()


def _safe_smtp(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}".rstrip(":")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _when(o, lang: str) -> str:
    if o.start is None:
        return f"{i18n.word('by', lang)} {i18n.day(o.window_end, lang)}"
    first = i18n.day(o.start, lang)
    if o.all_day and o.end != o.start:
        return f"{first} – {i18n.day(o.end, lang)}"
    return first


def _clock(o, lang: str) -> str:
    if o.start is None:
        return ""
    if o.all_day:
        return i18n.word("all_day", lang)
    return f"{i18n.clock(o.start, lang)}–{i18n.clock(o.end, lang)}"


def _cadence_text(c, lang: str) -> str:
    kind = i18n.word(c.kind, lang)
    if c.kind == "quota":
        per = {"year": "år", "half-year": "halvår", "period": "periode"} if lang == "nb" else \
            {"year": "year", "half-year": "half-year", "period": "period"}
        text = f"{kind}: {c.count} per {per[c.per]}"
        return text + (f" × {', '.join(c.each)}" if c.each else "")
    if c.kind == "annual":
        return f"{kind}: {', '.join(c.dates)}"
    if c.kind == "series":
        return f"{kind}: {c.rrule}"
    if c.kind == "on_event":
        return f"{kind}: {c.event}, {c.within_days} d"
    if c.kind == "deadline" and c.each:
        return f"{kind} × {', '.join(c.each)}"
    return kind


def _gap_line(g, lang: str) -> str:
    if g.kind == "quota":
        if lang == "nb":
            return (f"{g.measure} {g.title}{' (' + g.body + ')' if g.body else ''}: {g.required} kreves i {g.window}, "
                    f"{g.pinned} berammet, {g.held} holdt, {g.missing} ikke berammet, "
                    f"{'fristen gikk ut' if g.overdue else 'frist'} {i18n.day(g.closes, lang)}")
        return (f"{g.measure} {g.title}{' (' + g.body + ')' if g.body else ''}: {g.required} required in {g.window}, "
                f"{g.pinned} pinned, {g.held} held, {g.missing} unscheduled, "
                f"window {'closed' if g.overdue else 'closes'} {i18n.day(g.closes, lang)}")
    return (f"{g.measure} {g.title}: {'frist' if lang == 'nb' else 'due'} {i18n.day(g.closes, lang)} "
            f"{'passert uten registrert gjennomføring' if lang == 'nb' else 'passed with no completion recorded'}")
