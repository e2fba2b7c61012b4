"""`aarshjul web`: the web service (one-click unsubscribe, the site and feeds, the board's
answers), one ASGI application served by uvicorn. See web/app.py.

Runs beside `aarshjul serve` (the scheduled flows); behind a reverse proxy that
terminates https. Never imports Prefect.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from . import cli_kit as kit
from .domain.i18n import N_
from .domain.i18n import Msg
from .settings import get_settings, per_organisation

web_cli = typer.Typer()

ROUTE = "/avmeld/{token}"


def unsubscribe_url_problem(unsubscribe_url: str, site_url: str | None) -> Msg | None:
    """Why the letters' List-Unsubscribe address (mail.yaml) would not reach this service,
    or None: it must be AARSHJUL_SITE_URL followed by /avmeld/{token}."""
    path = urlsplit(unsubscribe_url.replace("{token}", "TOKEN")).path.replace("TOKEN", "{token}")
    if not path.endswith(ROUTE):
        return Msg("mail.yaml's unsubscribe url {url} does not end in {route}, which aarshjul web answers",
                   url=unsubscribe_url, route=ROUTE)
    if site_url and unsubscribe_url != site_url.rstrip("/") + ROUTE:
        return Msg("mail.yaml's unsubscribe url {url} is not AARSHJUL_SITE_URL {site_url} followed by {route}; the "
                   "letters' links reach this service only if both name its address", url=unsubscribe_url,
                   site_url=site_url, route=ROUTE)
    return None


@web_cli.command(help=N_("Serve the one-click unsubscribe, the site and its feeds, and the board's answer page."))
def web(host: Annotated[str, typer.Option("--host", help=N_("The address to listen on."))] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", min=0, max=65535, help=N_("The port to listen on."))] = 8000,
        forwarded_allow_ips: Annotated[str, typer.Option(
            "--forwarded-allow-ips", help=N_("Proxies whose X-Forwarded-For/-Proto are believed (comma-separated; "
                                          "'*' for any)."))] = "127.0.0.1",
        root_path: Annotated[str, typer.Option(
            "--root-path", help=N_("The path prefix the reverse proxy serves this under (e.g. /kalender)."))] = "",
        plan: kit.Plan = None, today: kit.Today = None) -> None:
    import uvicorn

    from .db.migrate import upgrade
    from .tasks.mailer import secret_key
    from .web.app import WebConfig, create_app

    settings = get_settings()
    p = kit.load(plan)
    org = p.organisation.id
    site_url = per_organisation(settings.site_url, org)
    if p.mail:
        problem = unsubscribe_url_problem(p.mail.unsubscribe.url, site_url)
        if problem:
            kit.warn(problem.say(kit.current_lang()))
    upgrade(settings.database_url)
    config = WebConfig(plan=p, database_url=settings.database_url, secret=secret_key(settings.secret_key_file),
                       site_dir=Path(per_organisation(settings.site_dir, org)), today=today)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    kit.ok(kit.tr("aarshjul web: http://{host}:{port}/ ({name}; the site from {folder})", host=host, port=port,
                  name=p.organisation.name, folder=config.site_dir))
    uvicorn.run(create_app(config), host=host, port=port, proxy_headers=True, forwarded_allow_ips=forwarded_allow_ips,
                root_path=root_path, access_log=False, server_header=False, log_level="info")
