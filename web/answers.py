"""The board's page "was it held?": GET and POST /svar/{token}.

The daily `confirm-occurrences` flow mails each holder of a responsible body's role a
personal link per occurrence that passed with nothing recorded (tasks/report.py
mail_confirm_links). The token (domain/confirm.py answer_token) is single purpose (its
own key and purpose: an unsubscribe token never opens here), expiring (30 days), and
bound to that person and that occurrence. The page shows the occurrence (measure, date,
time, place, body) and asks: held or not held (and why), the date it was
actually held, attendance, a short note, a link to minutes or pictures, in the
organisation's language (organisation.locale). Submitting
records a completion (db/completions.py record_completion) `recorded_by` that member
number, source 'web'; answering again updates the same record (one per occurrence key),
and the page shows what is recorded. The form carries a signed form token (CSRF).

A link that is forged, cut short or of another organisation, an occurrence no longer in
the plan, or a person who no longer holds the role: a 400 page that says
what to do; nothing is recorded.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aarshjul.db.completions import find_completion, record_completion
from aarshjul.db.session import session_scope
from aarshjul.db.web import holds_role
from aarshjul.domain import i18n
from aarshjul.domain.completion import default_day
from aarshjul.domain.confirm import BadAnswerLink, check_answer, read_answer_token
from aarshjul.domain.expand import Occurrence, expand
from aarshjul.domain.i18n import _

if TYPE_CHECKING:
    from .app import Pages, WebConfig
    from .security import FormTokens

log = logging.getLogger("aarshjul.web")


@dataclass
class Answer:
    """The form's values as typed (strings), and what is wrong with them."""

    held: str = "ja"
    on: str = ""
    attendance: str = ""
    reason: str = ""
    note: str = ""
    evidence: str = ""
    day_text: str = ""  # the recorded date as the page shows it (5. mars 2025)


class Occurrences:
    """The plan's occurrences by key, expanded once (the plan is read when the service starts)."""

    def __init__(self, plan: Any) -> None:
        self.plan = plan
        self.by_key: dict[str, Occurrence] | None = None
        self.made = 0.0

    def get(self, key: str) -> Occurrence | None:
        if self.by_key is None or time.monotonic() - self.made > 3600:
            self.by_key = {o.key: o for o in expand(self.plan)}
            self.made = time.monotonic()
        return self.by_key.get(key)


def answer_routes(config: WebConfig, engine: Engine, forms: FormTokens, pages: Pages) -> list[Route]:
    plan = config.plan
    organisation = plan.organisation.id
    occurrences = Occurrences(plan)
    lang = pages.lang

    def today() -> date:
        return config.today or datetime.now(plan.tz).date()

    def when(occ: Occurrence) -> str:
        if occ.start is None:
            return _(lang, "by {day}", day=i18n.day(occ.window_end, lang))
        text = i18n.day(occ.start, lang)
        if occ.all_day or not isinstance(occ.start, datetime):
            return text
        return _(lang, "{day} at {time}", day=text, time=i18n.clock(occ.start, lang))

    def bad(request: Request, hint: str, message: str | None = None) -> Response:
        if message:
            return pages.render(request, "feil.html.j2", _(lang, "The link does not work"), status=400,
                                message=message, hint=hint)
        return pages.bad_link(request, hint)

    def lookup(token: str) -> tuple[Any, Occurrence] | str:
        """(link, occurrence), or why not (a key of `reasons`, or "bad")."""
        try:
            link = read_answer_token(config.secret, token, today())
        except BadAnswerLink as exc:
            return "expired" if exc.expired else "bad"
        if link.organisation != organisation:
            return "bad"
        occ = occurrences.get(link.key)
        if occ is None:
            return "gone"
        with session_scope(engine) as session:
            if not holds_role(session, organisation, link.member, occ.bodies):
                return "role"
        return link, occ

    def current(occ: Occurrence) -> Answer | None:
        with session_scope(engine) as session:
            row = find_completion(session, organisation, occ.key)
            if row is None:
                return None
            held = row.outcome == "held"
            return Answer(held="ja" if held else "nei", on=row.on_date.isoformat() if row.on_date else "",
                          attendance=str(row.attendance) if row.attendance is not None else "",
                          reason="" if held else (row.note or ""), note=(row.note or "") if held else "",
                          evidence=row.evidence_url or "", day_text=i18n.day(row.on_date, lang) if row.on_date else "")

    def page(request: Request, token: str, occ: Occurrence, answer: Answer, problems: list[str],
             recorded: Answer | None, saved: bool = False, status: int = 200) -> Response:
        measure = plan.measure(occ.measure)
        return pages.render(
            request, "svar.html.j2", _(lang, "Was it held?"), status=status, occ=occ, when=when(occ),
            bodies=", ".join(plan.body_name(b) for b in occ.bodies), measure_text=measure.text,
            answer=answer, problems=problems, recorded=recorded, saved=saved, today=today().isoformat(),
            form_token=forms.make("svar", token))

    reasons = {
        "expired": (_(lang, "The link has expired."),
                    _(lang, "The links in the email work for 30 days. You get a new link in the next email if an "
                            "answer is still missing, or ask the board.")),
        "gone": (_(lang, "This activity is no longer in the plan."),
                 _(lang, "Nothing has been recorded. Ask the board if needed.")),
        "role": (_(lang, "The link no longer applies to you."),
                 _(lang, "It was made for someone who holds a role in the responsible body. Nothing has been "
                         "recorded.")),
    }
    bad_hint = _(lang, "Copy the whole link from the email, or use the link in the newest email. Nothing has "
                       "been recorded.")

    async def svar(request: Request) -> Response:
        token = request.path_params["token"]
        found = await run_in_threadpool(lookup, token)
        if isinstance(found, str):
            if found == "bad":
                return bad(request, bad_hint)
            message, hint = reasons[found]
            return bad(request, hint, message)
        link, occ = found
        recorded = await run_in_threadpool(current, occ)
        if request.method == "GET":
            answer = recorded or Answer(on=default_day(occ, today()).isoformat())
            return page(request, token, occ, answer, [], recorded)
        from .app import read_form

        form = await read_form(request)
        if not forms.check(form.get("skjema"), "svar", token):
            return pages.render(request, "feil.html.j2", _(lang, "The form has expired"), status=403,
                                message=_(lang, "The answer could not be saved (the form is too old, or did not "
                                                "come from this page)."),
                                hint=_(lang, "Open the link from the email again and send the answer from there. "
                                             "Nothing has been recorded."))
        answer = Answer(held=form.get("holdt", ""), on=form.get("dato", "").strip(),
                        attendance=form.get("antall", "").strip(), reason=form.get("grunn", "").strip(),
                        note=form.get("merknad", "").strip(), evidence=form.get("lenke", "").strip())
        problems, values = validate(answer, occ)
        if problems:
            return page(request, token, occ, answer, problems, recorded, status=422)

        def store() -> bool:
            with session_scope(engine) as session:
                done = record_completion(session, organisation, occ.measure, occ.key, values["on"],
                                         datetime.now(timezone.utc), keep=False, outcome=values["outcome"],
                                         occurrence_key=occ.key, attendance=values["attendance"],
                                         note=values["note"], evidence_url=values["evidence"],
                                         recorded_by=link.member, source="web")
                return done.updated

        updated = await run_in_threadpool(store)
        log.info("answer recorded for %s: %s%s", occ.key, values["outcome"], " (updated)" if updated else "")
        return page(request, token, occ, answer, [], await run_in_threadpool(current, occ), saved=True)

    def validate(answer: Answer, occ: Occurrence) -> tuple[list[str], dict[str, Any]]:
        problems: list[str] = []
        values: dict[str, Any] = {}
        if answer.held not in ("ja", "nei"):
            problems.append(_(lang, "Choose whether it was held or not."))
        held = answer.held == "ja"
        values["outcome"] = "held" if held else "not_held"
        try:
            on = date.fromisoformat(answer.on) if answer.on else default_day(occ, today())
        except ValueError:
            problems.append(_(lang, "Write the date as YYYY-MM-DD, for example 2026-03-12."))
            on = default_day(occ, today())
        values["on"] = on
        attendance: int | None = None
        if answer.attendance and held:
            if not answer.attendance.isdigit() or int(answer.attendance) > 100_000:
                problems.append(_(lang, "The number of participants must be a whole number (0 or more)."))
            else:
                attendance = int(answer.attendance)
        values["attendance"] = attendance
        if not held and not answer.reason:
            problems.append(_(lang, "Write briefly why it was not held."))
        text = answer.note if held else answer.reason
        if len(text) > 2000:
            problems.append(_(lang, "The note can be at most 2000 characters."))
        values["note"] = text or None
        values["evidence"] = answer.evidence or None
        if len(answer.evidence) > 500:
            problems.append(_(lang, "The link can be at most 500 characters."))
        if (problem := check_answer(plan, occ, on, today(), answer.evidence or None)) is not None:
            problems.append(problem.say(lang))  # the date and the link: the Prefect form's checks, in `lang`
        return problems, values

    return [Route("/svar/{token}", svar, methods=["GET", "POST"])]
