"""The jobs: `aarshjul run | serve | db upgrade`.

    run          the main job, one Prefect flow run: store the agenda, publish the
                 calendars, send what is due today (--no-mail: no mail)
    serve        every deployment of prefect.yaml on its schedule, from this process
    db upgrade   create or migrate the database

`run` reads the plan first (a mistake exits 2 before Prefect starts) and refuses at once,
with exit status 75, while another run holds the chapter's lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from . import cli_kit as kit
from .domain.i18n import N_
from .cli_calendars import print_publish
from .cli_mail import print_mail
from .settings import get_settings, per_organisation

run_cli = typer.Typer()
db_app = typer.Typer(help=N_("The database."), no_args_is_help=True)


@run_cli.command(help=N_(
     "The main job: store the agenda, publish the calendars, send what is due (a Prefect flow run)."))
def run(plan: kit.Plan = None, today: kit.Today = None, lang: kit.Lang = None,
        mail: Annotated[bool, typer.Option("--mail/--no-mail", help=N_("Send what is due today."))] = True) -> None:
    kit.start_prefect()
    lang, day, path = kit.lang(lang), kit.today(today), kit.plan_path(plan)
    p = kit.load(path)  # fail fast, before Prefect starts, with the same message as `check`
    kit.check_site(p.organisation.id)
    kit.not_busy(["publish-calendars", *(["send-newsletter", "send-reminders", "send-invitations"] if mail else [])],
                 p.organisation.id)
    from .flows.run import run_all

    summary = kit.run_flow(run_all, plan_path=str(path), today=day, send_mail=mail)
    print_publish(summary, lang)
    m = summary.mail
    if m is not None:
        print_mail([*m.newsletters, *m.reminders, *m.invitations], lang)
        settings = get_settings()
        where = (_safe_smtp(settings.smtp_url) if settings.smtp_url else
                 per_organisation(settings.outbox_dir, summary.organisation))
        kit.say("  " + kit.tr("mail: {where}", where=where))


@run_cli.command(help=N_("Run every deployment of prefect.yaml on its schedule, from this one process."))
def serve(plan: kit.Plan = None, today: kit.Today = None,
          chapters: Annotated[Optional[Path], typer.Option(
              "--chapters", help=N_("A chapters file: serve every chapter's plan (see config/chapters.yaml)."))] = None,
          ) -> None:
    from .flows.deployments import read_chapters

    plan_paths = read_chapters(chapters) if chapters else [str(kit.plan_path(plan))]
    for path in plan_paths:
        kit.load(Path(path))
    kit.prefect_env()
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL

    if not PREFECT_API_URL.value():
        kit.fail(kit.tr("aarshjul serve needs a Prefect server to keep the schedules and show the runs:\n"
                        "  prefect server start                      (in another terminal)\n"
                        "  prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api\n"
                        "then run `aarshjul serve` again"))
    from prefect import serve as prefect_serve

    from .flows.deployments import runner_deployments

    deployments = runner_deployments(plan_paths)
    ui = PREFECT_UI_URL.value() or PREFECT_API_URL.value().removesuffix("/api")
    kit.ok(kit.tr("aarshjul serves {deployments} deployments for {chapters} chapter(s) (schedules in "
                  "Europe/Oslo). Watch the runs in the Prefect UI: {ui}/deployments", deployments=len(deployments),
                  chapters=len(plan_paths), ui=ui))
    prefect_serve(*deployments, print_starting_message=False)


@db_app.command("upgrade", help=N_("Create or migrate the database to the current schema."))
def db_upgrade(today: kit.Today = None) -> None:
    from sqlalchemy.engine import make_url

    from .db.migrate import upgrade

    url = get_settings().database_url
    with kit.database_errors():
        upgrade(url)
    kit.ok(kit.tr("database at the current schema: {url}", url=make_url(url).render_as_string(hide_password=True)))


def _safe_smtp(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}".rstrip(":")
