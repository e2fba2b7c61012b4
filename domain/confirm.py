"""The question "was it held?" asked in the Prefect UI: its text, key and checks. Pure."""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime

from . import i18n
from .completion import default_day
from .expand import Occurrence
from .plan import Plan


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


def check_answer(plan: Plan, occ: Occurrence, on: date | None, today: date) -> str | None:
    """What is wrong with an answer's date that the form's own rules let through, or None."""
    on = on or default_day(occ, today)
    if on > today:
        return f"datoen {i18n.day(on)} er etter i dag"
    if on not in plan.period:
        return f"datoen {i18n.day(on)} er utenfor planperioden"
    return None


def passed(occurrences: list[Occurrence], today: date, first: date, known: set[str]) -> list[Occurrence]:
    """Scheduled occurrences that ended between `first` and today with nothing in the log."""
    return [o for o in occurrences
            if o.status == "scheduled" and first <= o.span.end < today and o.key not in known]


def default_year(plan: Plan, today: date) -> int:
    """The year a January run reports on: the previous one, kept within the plan period."""
    return min(max(today.year - 1, plan.period.start.year), plan.period.end.year)
