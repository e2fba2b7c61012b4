"""Gap analysis: what the plan still requires that nobody has scheduled or done.

Two kinds of gap, for a period of dates:

- a quota not yet met: "1.5: 2 required in 2026, 1 pinned, 1 unscheduled, window
  closes 2026-12-31". Slots that are pinned, or already recorded as held, count;
  a cancelled slot does not.
- an overdue one-off: a deadline whose due date has passed without a completion.

Pure: the caller passes `today` and the keys recorded as held.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from itertools import groupby
from typing import Any, Collection, Iterable

from .expand import Occurrence


@dataclass(frozen=True)
class Gap:
    kind: str  # quota | overdue
    measure: str
    title: str
    window: str  # the window label: 2026, 2026-H1, or the due date
    body: str | None
    bodies: tuple[str, ...]
    required: int
    pinned: int
    held: int
    missing: int
    closes: date
    overdue: bool
    keys: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "closes": self.closes.isoformat(), "bodies": list(self.bodies),
                "keys": list(self.keys)}


def find_gaps(occurrences: Iterable[Occurrence], today: date,
              held: Collection[str] = frozenset()) -> list[Gap]:
    """Quotas not met and deadlines passed, among `occurrences`, as of `today`."""
    gaps: list[Gap] = []
    quotas = sorted((o for o in occurrences if o.kind == "quota"), key=_group)
    for (measure, label, body), group in groupby(quotas, key=_group):
        slots = list(group)
        done = [o for o in slots if o.key in held]
        pinned = [o for o in slots if o.status == "scheduled" and o.key not in held]
        missing = len(slots) - len(done) - len(pinned)
        if missing <= 0:
            continue
        first = slots[0]
        title = first.title.removesuffix(f" ({first.slot}/{len(slots)})") if first.slot else first.title
        gaps.append(Gap("quota", measure, title, label, body or None, first.bodies, len(slots),
                        len(pinned), len(done), missing, first.window_end, today > first.window_end,
                        tuple(o.key for o in slots if o.key not in held and o.status != "scheduled")))
    for o in occurrences:
        if o.kind == "deadline" and o.status != "cancelled" and o.key not in held and o.span.end < today:
            gaps.append(Gap("overdue", o.measure, o.title, o.span.end.isoformat(), o.body, o.bodies, 1, 0, 0,
                            1, o.span.end, True, (o.key,)))
    return sorted(gaps, key=lambda g: (g.closes, _measure_order(g.measure), g.window, g.body or ""))


def _group(o: Occurrence) -> tuple[str, str, str]:
    """(measure, window label, body) of a quota slot, from its key."""
    parts = o.key.split("/")
    return o.measure, parts[1], o.body or ""


def _measure_order(number: str) -> tuple[int, ...]:
    return tuple(int(p) for p in number.split("."))
