"""Periods of time as the plan writes them: years, half-years, spans.

A span is written `2024` (a year), `2024-2027` (whole years, inclusive), `2025-H1` or
`2025-H2` (a half-year; the plan's "Høst" is H2), or `2025-03-01/2025-03-15`. A
period is one span or a list of them. Every span is a closed interval of dates.

Every date lies in the years MIN_YEAR to MAX_YEAR: a work plan needs no others, and at
the edges of what Python's dates can hold (year 1, year 9999) the arithmetic of later
steps fails (the day after 31 December 9999, a time zone's offset in year 1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterator

from .i18n import Msg

_YEAR = re.compile(r"^(\d{4})$")
_YEARS = re.compile(r"^(\d{4})\s*[-–]\s*(\d{4})$")
_HALF = re.compile(r"^(\d{4})-H([12])$", re.IGNORECASE)
_DATES = re.compile(r"^(\d{4}-\d{2}-\d{2})\s*/\s*(\d{4}-\d{2}-\d{2})$")
_DAY = re.compile(r"^(\d{4}-\d{2}-\d{2})$")
_MONTHDAY = re.compile(r"^(\d{2})-(\d{2})$")

MIN_YEAR, MAX_YEAR = 1900, 2200


def check_year(day: date) -> date:
    """`day` if its year is one a plan may use, else ValueError saying which years are."""
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ValueError(Msg("{day} is outside the years {first}-{last} a plan may use", day=day.isoformat(),
                             first=MIN_YEAR, last=MAX_YEAR))
    return day


def _year(text: str) -> int:
    year = int(text)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(Msg("the year {year} is outside the years {first}-{last} a plan may use", year=text,
                             first=MIN_YEAR, last=MAX_YEAR))
    return year


@dataclass(frozen=True, order=True)
class Span:
    """A closed interval of days, [start, end]."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(Msg("ends ({end}) before it starts ({start})", end=str(self.end), start=str(self.start)))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def __contains__(self, day: date) -> bool:
        return self.start <= day <= self.end

    def overlaps(self, other: "Span") -> bool:
        return self.start <= other.end and other.start <= self.end

    def intersect(self, other: "Span") -> "Span | None":
        start, end = max(self.start, other.start), min(self.end, other.end)
        return Span(start, end) if start <= end else None

    def overlaps_year(self, year: int) -> bool:
        return self.start.year <= year <= self.end.year

    def years(self) -> range:
        return range(self.start.year, self.end.year + 1)

    def __str__(self) -> str:
        return f"{self.start.isoformat()}/{self.end.isoformat()}"


def year_span(year: int) -> Span:
    return Span(date(year, 1, 1), date(year, 12, 31))


def half_year_span(year: int, half: int) -> Span:
    return Span(date(year, 1, 1), date(year, 6, 30)) if half == 1 else Span(date(year, 7, 1), date(year, 12, 31))


def month_span(year: int, month: int) -> Span:
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return Span(date(year, month, 1), following - timedelta(days=1))


def quarter_span(year: int, quarter: int) -> Span:
    return Span(month_span(year, 3 * quarter - 2).start, month_span(year, 3 * quarter).end)


def parse_day(text: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(Msg("{text!r} is not a real date; write YYYY-MM-DD", text=text)) from None
    return check_year(day)


def parse_span(value: object) -> Span:
    """One span from its written form; ValueError with a readable reason otherwise."""
    text = str(value).strip()
    if m := _YEAR.match(text):
        return year_span(_year(m[1]))
    if m := _YEARS.match(text):
        first, last = _year(m[1]), _year(m[2])
        if last < first:
            raise ValueError(Msg("{text!r} ends before it starts; write the earlier year first", text=text))
        return Span(date(first, 1, 1), date(last, 12, 31))
    if m := _HALF.match(text):
        return half_year_span(_year(m[1]), int(m[2]))
    if m := _DATES.match(text):
        start, end = parse_day(m[1]), parse_day(m[2])
        if end < start:
            raise ValueError(Msg("{text!r} ends before it starts", text=text))
        return Span(start, end)
    if _DAY.match(text):
        day = parse_day(text)
        return Span(day, day)
    raise ValueError(Msg("{text!r} is not a period; write 2024, 2024-2027, 2025-H2 or 2025-03-01/2025-03-15",
                         text=text))


def parse_period(value: object) -> tuple[Span, ...]:
    """A period: one span or a list of spans, sorted and non-overlapping."""
    items = value if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise ValueError(Msg("a period needs at least one span"))
    spans = sorted(parse_span(v) for v in items)
    for a, b in zip(spans, spans[1:]):
        if a.overlaps(b):
            raise ValueError(Msg("spans {first} and {second} overlap", first=str(a), second=str(b)))
    return tuple(spans)


def parse_month_day(text: str, year: int = 2024) -> tuple[int, int]:
    """'03-08' -> (3, 8); checked against a leap year so 02-29 is allowed."""
    m = _MONTHDAY.match(str(text).strip())
    if not m:
        raise ValueError(Msg("{text!r} is not a month and day; write MM-DD, like 03-08", text=str(text)))
    month, day = int(m[1]), int(m[2])
    try:
        date(year, month, day)
    except ValueError:  # 02-30, 13-01
        raise ValueError(Msg("{text!r} is not a day of the year; write MM-DD, like 03-08", text=str(text))) from None
    return month, day


def on_year(month_day: tuple[int, int], year: int) -> date:
    """The day in `year`; 29 February falls back to the 28th in common years."""
    month, day = month_day
    try:
        return date(year, month, day)
    except ValueError:
        return date(year, month, day - 1)


@dataclass(frozen=True)
class Window:
    """A labelled part of a period a quota counts over: '2026', '2026-H1', '2026-Q3',
    '2026-03', '2026/var' (a named season) or '2024-2027'."""

    label: str
    span: Span


SeasonSpans = dict[str, tuple[tuple[int, int], tuple[int, int]]]


def _parts(per: str, year: int, seasons: SeasonSpans) -> list[tuple[str, Span]]:
    if per == "year":
        return [(str(year), year_span(year))]
    if per == "half-year":
        return [(f"{year}-H{h}", half_year_span(year, h)) for h in (1, 2)]
    if per == "quarter":
        return [(f"{year}-Q{q}", quarter_span(year, q)) for q in (1, 2, 3, 4)]
    if per == "month":
        return [(f"{year}-{m:02d}", month_span(year, m)) for m in range(1, 13)]
    if per == "season":
        return [(f"{year}/{name}", Span(on_year(first, year), on_year(last, year)))
                for name, (first, last) in seasons.items()]
    raise ValueError(f"unknown quota window {per!r}")


def windows(per: str, spans: tuple[Span, ...], seasons: SeasonSpans | None = None) -> Iterator[Window]:
    """The quota windows of a period: every month, quarter, half-year, year, named
    season of each year, or the whole period, clipped to the period's spans.

    Two spans of one period may give windows with the same label (`per: period` over
    two spans in one year, `per: year` over a spring and an autumn span); the loader
    refuses such a plan, since one label would then name two windows."""
    for span in spans:
        if per == "period":
            label = str(span.start.year) if span.start.year == span.end.year else f"{span.start.year}-{span.end.year}"
            yield Window(label, span)
            continue
        for year in span.years():
            for label, whole in _parts(per, year, seasons or {}):
                clipped = whole.intersect(span)
                if clipped:
                    yield Window(label, clipped)


def days(span: Span) -> Iterator[date]:
    day = span.start
    while day <= span.end:
        yield day
        day += timedelta(days=1)
