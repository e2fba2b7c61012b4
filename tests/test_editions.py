"""Editions typed by hand: only those the plan schedules, on the day it schedules them."""

from __future__ import annotations

from datetime import date

import pytest

from aarshjul.domain.campaigns import find_newsletter
from aarshjul.domain.editions import parse_edition
from aarshjul.domain.errors import BadEdition
from aarshjul.domain.expand import expand


def test_a_month_is_the_edition_of_its_scheduled_day_and_so_of_its_occurrence(bundled):
    """Regression: `--edition 2026-11` was dated 1 November, so the letter sent by hand was
    not credited to November's occurrence (1.7/2026-11-26) and the report said 'ikke registrert'."""
    n = find_newsletter(bundled, "medlemsbrev")
    [edition] = parse_edition(bundled, n, "2026-11")
    assert edition.day == date(2026, 11, 26)  # the last Thursday of November
    keys = {o.key for o in expand(bundled, edition.day, edition.day) if o.measure == "1.7"}
    assert keys == {"1.7/2026-11-26"}


@pytest.mark.parametrize("typed", ["9999-12", "2031-03", "2026-07", "2026-11-25"])
def test_an_edition_the_plan_does_not_schedule_is_refused(bundled, typed):
    """Regression: `newsletter send --edition 9999-12` sent at once to everyone. July has
    no member letter; 2031 is after the plan; 25 November is not the scheduled day."""
    n = find_newsletter(bundled, "medlemsbrev")
    with pytest.raises(BadEdition, match="--force") as caught:
        parse_edition(bundled, n, typed)
    assert caught.value.exit_status == 2


def test_force_sends_an_unscheduled_edition_dated_its_first_day(bundled):
    n = find_newsletter(bundled, "medlemsbrev")
    [edition] = parse_edition(bundled, n, "2026-07", force=True)
    assert (edition.key, edition.day) == ("medlemsbrev/2026-07", date(2026, 7, 1))


def test_a_branch_edition_and_a_wrong_branch(bundled):
    n = find_newsletter(bundled, "hva-skjer")
    [edition] = parse_edition(bundled, n, "hva-skjer/arna/2026-03")
    assert edition.branch == "arna" and edition.key == "hva-skjer/arna/2026-03"
    with pytest.raises(BadEdition, match="not a branch"):
        parse_edition(bundled, n, "hva-skjer/atlantis/2026-03")
