"""The question "was it held?": asked in the Prefect UI (its text, key and checks), and
by mail with a personal link to the web service's page (aarshjul web). Pure.

    pause_key, question, check_answer    the Prefect UI's question
    answer_token, read_answer_token      the personal link: single purpose, expiring,
                                         bound to one person and one occurrence
    confirm_items, recipients_by_member  what the daily mail lists, and to whom
    confirm_campaign                     the daily mail to one role holder
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from . import i18n
from .completion import _Day, default_day
from .errors import BadInput
from .expand import Occurrence
from .plan import Plan

if TYPE_CHECKING:
    from .campaigns import Campaign


def pause_key(key: str, attempt: int = 1) -> str:
    """A pause key for an occurrence (Prefect allows letters, digits and dashes only)."""
    slug = re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")
    digest = hashlib.sha1(key.encode()).hexdigest()[:6]
    return f"confirm-{slug}-{digest}" + (f"-{attempt}" if attempt > 1 else "")


def question(plan: Plan, occ: Occurrence, problem: str | None = None) -> str:
    """The Markdown above the form: which occurrence, when, who was responsible, in the
    organisation's language (the form is for its people); `problem` (a Msg from
    check_answer) is said in it too."""
    from .campaigns import when

    lang = plan.organisation.locale
    lines = [f"### {occ.title}", "",
             i18n._(lang, "Measure {measure} · `{key}` · planned {when}", measure=occ.measure, key=occ.key,
                    when=when(occ, lang)) + (f" · {occ.place}" if occ.place else ""),
             i18n._(lang, "Responsible: {bodies}", bodies=", ".join(plan.body_name(b) for b in occ.bodies)), "",
             i18n._(lang, "Was it held? Fill in the date, the number of participants and preferably a link to "
                          "the minutes. Choose “Answer later” to skip it.")]
    if problem:
        lines[0:0] = [i18n._(lang, "**The answer could not be saved:** {problem} Try again.", problem=problem), ""]
    return "\n".join(lines)


def check_answer(plan: Plan, occ: Occurrence, on: date | None, today: date, evidence_url: str | None = None
                 ) -> i18n.Msg | None:
    """What is wrong with an answer that the form's own rules let through, or None: a Msg,
    said in the language of the page or form that shows it above the form (the Prefect
    UI: the organisation's; the web page: its reader's)."""
    on = on or default_day(occ, today)
    if on > today:
        return i18n.Msg("The date {day} is after today.", day=_Day(on))
    if on not in plan.period:
        return i18n.Msg("The date {day} is outside the plan period.", day=_Day(on))
    if evidence_url and not EVIDENCE_URL.match(evidence_url):
        return i18n.Msg("The link must be a web address that begins with https:// or http://.")
    return None


EVIDENCE_URL = re.compile(r"^https?://[^\s<>\"']+$")


def passed(occurrences: list[Occurrence], today: date, first: date, known: set[str]) -> list[Occurrence]:
    """Scheduled occurrences that ended between `first` and today with nothing in the log."""
    return [o for o in occurrences
            if o.status == "scheduled" and first <= o.span.end < today and o.key not in known]


def default_year(plan: Plan, today: date) -> int:
    """The year a January run reports on: the previous one, kept within the plan period."""
    return min(max(today.year - 1, plan.period.start.year), plan.period.end.year)


# --- the personal answer link ---------------------------------------------------------------


class BadAnswerLink(BadInput, ValueError):
    """An answer link that is malformed, not made with our key, or expired (`expired`)."""

    def __init__(self, message: str, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class AnswerLink:
    """What a board member's answer link names: who answers for which occurrence, until when."""

    organisation: str
    key: str  # the occurrence key
    member: str  # member number
    expires: date  # the last day it works


_ANSWER_AAD = b"aarshjul answer link v1"  # the purpose: an unsubscribe token never opens as one


def _answer_keys(secret: bytes) -> tuple[bytes, bytes]:
    return (hmac.new(secret, b"aarshjul answer link v1: AES-256-GCM key", hashlib.sha256).digest(),
            hmac.new(secret, b"aarshjul answer link v1: nonce key", hashlib.sha256).digest())


def answer_token(secret: bytes, link: AnswerLink) -> str:
    """An opaque URL-safe token: organisation, occurrence, member and expiry encrypted and
    authenticated with AES-256-GCM under a key derived from the installation's secret (the
    construction of domain/messages.py's unsubscribe tokens, with its own keys and purpose).
    Nobody without the secret can read it, make one, or move it to another occurrence,
    person or day."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    payload = "\0".join((link.organisation, link.key, link.member, link.expires.isoformat())).encode()
    key, nonce_key = _answer_keys(secret)
    nonce = hmac.new(nonce_key, payload, hashlib.sha256).digest()[:12]
    sealed = AESGCM(key).encrypt(nonce, payload, _ANSWER_AAD)
    return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def read_answer_token(secret: bytes, token: str, today: date) -> AnswerLink:
    """The link a token names; BadAnswerLink if it is not genuine, or (expired=True) if its
    last day has passed."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        raise BadAnswerLink("not an answer link") from None
    if len(raw) < 12 + 16 + 8 or len(token) > 600:
        raise BadAnswerLink("not an answer link")
    try:
        payload = AESGCM(_answer_keys(secret)[0]).decrypt(raw[:12], raw[12:], _ANSWER_AAD)
    except InvalidTag:
        raise BadAnswerLink("the link's signature does not match (altered, or from another installation)") from None
    parts = payload.decode("utf-8", "replace").split("\0")
    if len(parts) != 4:
        raise BadAnswerLink("not an answer link")
    try:
        expires = date.fromisoformat(parts[3])
    except ValueError:
        raise BadAnswerLink("not an answer link") from None
    link = AnswerLink(parts[0], parts[1], parts[2], expires)
    if today > expires:
        raise BadAnswerLink(f"the link expired on {expires.isoformat()}", expired=True)
    return link


def answer_expiry(today: date, days: int = 30) -> date:
    return today + timedelta(days=days)


# --- the daily mail ----------------------------------------------------------------------------


def recipients_by_member(occurrences: list[Occurrence], holders: dict[str, list[str]]) -> dict[str, list[Occurrence]]:
    """member number -> the occurrences they are asked about: those of every body whose role
    they hold (holders: body id -> member numbers, as the invitations find them), in the
    order given, each once."""
    out: dict[str, list[Occurrence]] = {}
    for occ in occurrences:
        for body in occ.bodies:
            for member in holders.get(body, []):
                mine = out.setdefault(member, [])
                if occ not in mine:
                    mine.append(occ)
    return out


REMIND_EVERY_DAYS = 7


def to_remind(mine: list[Occurrence], last_asked: date | None, today: date,
              every_days: int = REMIND_EVERY_DAYS) -> bool:
    """Whether a role holder is mailed today: the first time something waits for their
    answer, whenever something new has passed since their last mail, and otherwise at most
    once every `every_days` days while it stays unanswered (not every day)."""
    if not mine:
        return False
    if last_asked is None or (today - last_asked).days >= every_days:
        return True
    return any(_day_of(o) >= last_asked for o in mine)


def _day_of(occ: Occurrence) -> date:
    start = occ.start
    if start is None:
        return occ.window_end
    return start.date() if isinstance(start, datetime) else start


def confirm_items(plan: Plan, occurrences: list[Occurrence], links: dict[str, str]) -> list[dict[str, str]]:
    """The mail's list: one item per occurrence (title, measure, when, place, bodies, and
    the personal link `links[key]`); plan text as values, never template source."""
    from .campaigns import when

    items, lang = [], plan.organisation.locale
    for occ in occurrences:
        items.append({"title": occ.title, "measure": occ.measure, "when": when(occ, lang), "place": occ.place or "",
                      "bodies": ", ".join(plan.body_name(b) for b in occ.bodies), "url": links[occ.key],
                      "key": occ.key})
    return items


def confirm_campaign(plan: Plan, member: str, items: list[dict[str, str]], bodies: list[str], today: date,
                     expires: date) -> "Campaign":
    """The day's mail to one role holder (campaign confirm/DAY/MEMBER, so it goes once a
    day at most): their occurrences with nothing recorded, each with its personal link."""
    from dataclasses import replace

    from .campaigns import body_campaign
    from .subjects import confirm_subject

    lang = plan.organisation.locale
    campaign = body_campaign(
        plan, f"confirm/{today.isoformat()}/{member}", "confirm_held", confirm_subject(lang, len(items)),
        {"items": items, "count": len(items), "expires": i18n.day(expires, lang),
         "bodies": ", ".join(plan.body_name(b) for b in bodies)}, [])
    return replace(campaign, recipient_kind="member", recipient_names={})
