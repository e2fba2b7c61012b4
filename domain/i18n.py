"""User-facing words and dates: Norwegian bokmål by default, English available.

Dates go through Babel ("25. januar 2025" / "25 January 2025"); the few fixed words
of the CLI are in the table below.
"""

from __future__ import annotations

from datetime import date, datetime

from babel.dates import format_date, format_time

_DATE = {"nb": "d. MMMM y", "en": "d MMMM y"}

WORDS: dict[str, dict[str, str]] = {
    "nb": {
        "scheduled": "planlagt", "unscheduled": "ikke berammet", "cancelled": "avlyst", "removed": "fjernet",
        "deadline": "frist", "annual": "årlig", "quota": "kvote", "series": "serie",
        "on_event": "per medlem", "standing": "løpende",
        "date": "Dato", "time": "Tid", "key": "Nøkkel", "measure": "Tiltak", "title": "Tittel",
        "bodies": "Ansvar", "status": "Status", "period": "Tidsrom", "cadence": "Hyppighet",
        "goal": "Mål", "window": "Periode", "required": "Krav", "pinned": "Berammet", "held": "Holdt",
        "missing": "Mangler", "closes": "Frist", "by": "innen", "all_day": "hele dagen",
        "overdue": "forfalt", "open": "åpen", "quota_gap": "kvote ikke nådd", "overdue_gap": "frist passert",
        "agenda": "Agenda", "measures": "Tiltak i planen", "gaps": "Hull i planen", "no_gaps": "Ingen hull.",
        "plan_ok": "Planen er gyldig", "warnings": "advarsler",
    },
    "en": {
        "scheduled": "scheduled", "unscheduled": "unscheduled", "cancelled": "cancelled", "removed": "removed",
        "deadline": "deadline", "annual": "annual", "quota": "quota", "series": "series",
        "on_event": "per member", "standing": "standing",
        "date": "Date", "time": "Time", "key": "Key", "measure": "Measure", "title": "Title",
        "bodies": "Responsible", "status": "Status", "period": "Period", "cadence": "Cadence",
        "goal": "Goal", "window": "Window", "required": "Required", "pinned": "Pinned", "held": "Held",
        "missing": "Missing", "closes": "Closes", "by": "by", "all_day": "all day",
        "overdue": "overdue", "open": "open", "quota_gap": "quota not met", "overdue_gap": "deadline passed",
        "agenda": "Agenda", "measures": "Measures in the plan", "gaps": "Gaps in the plan", "no_gaps": "No gaps.",
        "plan_ok": "The plan is valid", "warnings": "warnings",
    },
}


def word(name: str, lang: str = "nb") -> str:
    return WORDS[lang].get(name, name)


def day(value: date | datetime, lang: str = "nb") -> str:
    """25. januar 2025"""
    if isinstance(value, datetime):
        value = value.date()
    return format_date(value, _DATE[lang], locale=lang)


def clock(value: datetime, lang: str = "nb") -> str:
    """18:00"""
    return format_time(value, "HH:mm", locale=lang)
