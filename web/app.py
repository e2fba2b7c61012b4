"""The web service (`aarshjul web`): one ASGI application (Starlette, served by uvicorn).

    GET  /healthz                      "ok" when the database answers (for the reverse proxy)
    GET  /, /index.html, /calendars/…  the published site folder (web/site.py)
    GET  /avmeld/{token}               a page naming the list, with a button (in the
                                       organisation's language, organisation.locale);
                                       a GET never unsubscribes (link scanners follow GETs)
    POST /avmeld/{token}               RFC 8058 one-click: a body `List-Unsubscribe=One-Click`
                                       (url-encoded or multipart) records the unsubscribe and
                                       answers 200, no login, no cookie; the page's own forms
                                       (with a signed form token) unsubscribe, or undo it
                                       (`handling=angre`: subscribed again)
    GET  /svar/{token}, POST           the board's page "was it held?" (web/answers.py)
    GET  /_aarshjul/stil.css           the pages' style sheet

An unsubscribe token (domain/messages.py) names organisation, list and member, encrypted
and authenticated under the installation's secret: it unsubscribes from its own list only.
A token that is forged, cut short, malformed, of another organisation, or for a list
mail.yaml no longer has gives a 400 page and records nothing. Unsubscribe tokens do not
expire: the links in letters sent years ago must still work (RFC 8058 §3 asks that the
link keep working); the board's answer links do (web/answers.py).

Around the routes, outermost first: the access log (no tokens, no addresses), the
security headers, the request size limit and the per-address rate limit on the token
endpoints (web/security.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from jinja2 import StrictUndefined, TemplateError, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlalchemy import Engine, text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from aarshjul.db.ledger import record_unsubscribe
from aarshjul.db.session import make_engine, session_scope
from aarshjul.db.web import remove_unsubscribe
from aarshjul.domain.i18n import _, _lang
from aarshjul.domain.messages import BadToken, read_token
from aarshjul.domain.plan import Plan
from aarshjul.tasks.templates import install_i18n, loader, template_line

from .security import AccessLog, BodyLimit, FormTokens, Headers, RateLimit, Receive, Scope, Send
from .site import SiteFiles

log = logging.getLogger("aarshjul.web")
MAX_BODY = 16 * 1024  # the largest form here (the board's answer) is a few kB
NO_STORE = {"cache-control": "no-store"}


@dataclass
class WebConfig:
    """What the application serves: one organisation's plan, database, secret and site."""

    plan: Plan
    database_url: str
    secret: bytes
    site_dir: Path
    rate_per_minute: float = 120  # requests to /avmeld/ and /svar/ per client address
    rate_burst: int = 60
    fail_per_minute: float = 10  # of those, refused ones (a bad token, a forged form)
    fail_burst: int = 10
    today: date | None = None  # pretend today is this date (aarshjul web --today); None: the clock
    engine: Engine | None = field(default=None, repr=False)


def lists(plan: Plan) -> dict[str, str]:
    """Every list one can leave, as an unsubscribe token names it (domain/editions.py:
    the newsletter, or newsletter/branch for one sent to each branch), and its name."""
    out: dict[str, str] = {}
    for n in plan.mail.newsletters if plan.mail else []:
        if n.audience.each_branch:
            for b in plan.branches():
                out[f"{n.id}/{b}"] = f"{n.name} – {plan.bodies[b].name}"
        else:
            out[n.id] = n.name
    return out


class Pages:
    """The pages, from templates/web/: the organisation's own (a templates/ folder beside
    plan.yaml, Plan.templates) over the bundled ones, in Jinja's immutable sandbox (an
    override is the organisation's code: it shows the values it is given, never reaches
    Python's internals), autoescaped (every value from the plan, a token or a form is data,
    never template source), their words from the catalogs in the organisation's language."""

    def __init__(self, organisation: str, lang: str | None = "nb", overrides: str | Path | None = None) -> None:
        self.env = ImmutableSandboxedEnvironment(
            loader=loader(overrides), undefined=StrictUndefined, autoescape=select_autoescape(["html", "j2"]),
            trim_blocks=True, lstrip_blocks=True)
        install_i18n(self.env, lang)
        self.organisation, self.lang = organisation, _lang(lang)
        self.css = self.env.get_template("web/stil.css.j2").render()


    def render(self, request: Request, template: str, title: str, status: int = 200, **context: Any) -> Response:
        try:
            html = self.env.get_template(f"web/{template}").render(
                lang=self.lang, organisation=self.organisation, title=title,
                root=request.scope.get("root_path", "").rstrip("/"), **context)
        except TemplateError as exc:  # an organisation's template that does not render (or reaches too far)
            file, line = template_line(exc)
            log.error("the page template %s does not render (%s, line %s): %s: %s", template, file, line,
                      type(exc).__name__, getattr(exc, "message", None) or exc)
            return PlainTextResponse(_(self.lang, "This page cannot be shown right now.") + "\n", status_code=500,
                                     headers=NO_STORE)
        return HTMLResponse(html, status_code=status, headers=NO_STORE)

    def bad_link(self, request: Request, hint: str) -> Response:
        return self.render(request, "feil.html.j2", _(self.lang, "The link does not work"), status=400,
                           message=_(self.lang, "The link is invalid, incomplete or expired."), hint=hint)


async def read_form(request: Request) -> dict[str, str]:
    """A url-encoded or multipart/form-data body as {name: first value}; {} for anything
    else. The body is already bounded by BodyLimit."""
    body = await request.body()
    kind = request.headers.get("content-type", "")
    if kind.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + kind.encode("latin-1") + b"\r\n\r\n" + body)
        out: dict[str, str] = {}
        if message.is_multipart():
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if isinstance(name, str) and name not in out:
                    payload = part.get_payload(decode=True)
                    out[name] = payload.decode("utf-8", "replace").strip() if isinstance(payload, bytes) else ""
        return out
    try:
        pairs = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {k: v[0] for k, v in pairs.items()}


def create_app(config: WebConfig) -> Any:
    """The ASGI application, wrapped in its security layers."""
    plan = config.plan
    organisation = plan.organisation.id
    known_lists = lists(plan)
    engine = config.engine or make_engine(config.database_url)
    forms = FormTokens(config.secret)
    pages = Pages(plan.organisation.name, plan.organisation.locale, plan.templates)
    lang = pages.lang

    def decode(token: str) -> tuple[str, str] | None:
        """(list, member) of a genuine token of ours for a list we have, else None."""
        if len(token) > 512:
            return None
        try:
            org, audience, member = read_token(config.secret, token)
        except BadToken:
            return None
        if org != organisation or audience not in known_lists or not member:
            return None
        return audience, member

    def unsubscribe(audience: str, member: str) -> bool:
        with session_scope(engine) as session:
            return record_unsubscribe(session, organisation, audience, member, datetime.now(timezone.utc), "web")

    def resubscribe(audience: str, member: str) -> bool:
        with session_scope(engine) as session:
            return remove_unsubscribe(session, organisation, audience, member)

    bad_hint = _(lang, "Copy the whole link from the letter, or use the link in a newer letter. "
                       "Nothing has been changed.")

    async def avmeld(request: Request) -> Response:
        token = request.path_params["token"]
        found = decode(token)
        if found is None:
            return pages.bad_link(request, bad_hint)
        audience, member = found
        name = known_lists[audience]
        if request.method == "GET":
            return pages.render(request, "avmeld.html.j2", _(lang, "Unsubscribe"), state="ask", list_name=name,
                                form_token=forms.make("avmeld", token))
        form = await read_form(request)
        if form.get("List-Unsubscribe") == "One-Click":  # RFC 8058 §3.2: the mail program's POST
            new = await run_in_threadpool(unsubscribe, audience, member)
            log.info("unsubscribe (one-click) from %s: %s", audience, "recorded" if new else "already")
            return PlainTextResponse(_(lang, "You are unsubscribed from {name}.", name=name) + "\n",
                                     headers=NO_STORE)
        action = form.get("handling")
        if action not in ("avmeld", "angre") or not forms.check(form.get("skjema"), "avmeld", token):
            return pages.render(request, "feil.html.j2", _(lang, "The form has expired"), status=403,
                                message=_(lang, "The form could not be sent (it is too old, or did not come from this "
                                          "page)."),
                                hint=_(lang, "Open the link from the letter again and press the button there. Nothing "
                                       "has been changed."))
        if action == "angre":
            await run_in_threadpool(resubscribe, audience, member)
            log.info("resubscribe from the page to %s", audience)
            return pages.render(request, "avmeld.html.j2", _(lang, "Subscribed again"), state="back",
                                list_name=name,
                                form_token=forms.make("avmeld", token))
        new = await run_in_threadpool(unsubscribe, audience, member)
        log.info("unsubscribe (page) from %s: %s", audience, "recorded" if new else "already")
        return pages.render(request, "avmeld.html.j2", _(lang, "You are unsubscribed"), state="left",
                            list_name=name, new=new,
                            form_token=forms.make("avmeld", token))

    async def healthz(request: Request) -> Response:
        def ping() -> None:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        try:
            await run_in_threadpool(ping)
        except Exception as exc:  # any failure of the database: the proxy takes us out
            log.warning("health check: the database does not answer (%s)", type(exc).__name__)
            return PlainTextResponse("database unavailable\n", status_code=503, headers=NO_STORE)
        return PlainTextResponse("ok\n", headers=NO_STORE)

    async def stylesheet(request: Request) -> Response:
        return Response(pages.css, media_type="text/css; charset=utf-8",
                        headers={"cache-control": "public, max-age=3600"})

    routes: list[Any] = [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/avmeld/{token}", avmeld, methods=["GET", "POST"]),
        Route("/_aarshjul/stil.css", stylesheet, methods=["GET", "HEAD"]),
    ]
    from .answers import answer_routes

    routes += answer_routes(config, engine, forms, pages)
    site = SiteFiles(config.site_dir, lang)
    routes.append(Mount("/", app=site))
    app = Starlette(routes=routes)
    app.state.engine = engine
    limited = RateLimit(BodyLimit(app, MAX_BODY, lang), per_minute=config.rate_per_minute, burst=config.rate_burst,
                        fail_per_minute=config.fail_per_minute, fail_burst=config.fail_burst, lang=lang)

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        """The site's files straight to SiteFiles (calendar apps poll them: no routing
        table, no exception middleware in the way); everything else to the routes."""
        if scope["type"] == "http" and (scope["path"].startswith("/calendars/") or scope["path"] in SITE_PAGES):
            await site(scope, receive, send)
        else:
            await limited(scope, receive, send)

    return AccessLog(Headers(dispatch))


SITE_PAGES = frozenset({"/", "/index.html"})
