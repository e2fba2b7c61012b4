"""The bundled plan is faithful to the adopted text (docs/source), measure by measure."""

from __future__ import annotations

import re

import pytest

from conftest import ROOT

SEED = ROOT / "docs" / "source" / "arbeidsplan-bergen-sv-2024-2027.txt"


@pytest.fixture(scope="module")
def seed_text() -> str:
    text = SEED.read_text(encoding="utf-8")
    text = re.sub(r"[ \t]+\d+[ \t]*$", "", text, flags=re.M)  # the PDF's line numbers
    return re.sub(r"\s+", " ", text)


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_every_measure_number_in_the_seed_is_in_the_plan(bundled, seed_text):
    seed_numbers = re.findall(r"(?:^| )(\d\.\d{1,2}) (?=[A-ZÆØÅ])", seed_text)
    plan_numbers = [m.number for _, m in bundled.measures]
    assert len(plan_numbers) == 47
    assert set(plan_numbers) <= set(seed_numbers)


def test_every_measure_text_is_verbatim(bundled, seed_text):
    for _, m in bundled.measures:
        assert norm(m.text) in seed_text, f"measure {m.number}: text differs from the seed"


def test_goals_and_subgoals_are_verbatim(bundled, seed_text):
    assert [g.number for g in bundled.goals] == [1, 2, 3, 4, 5, 6]
    for goal in bundled.goals:
        assert norm(goal.title) in seed_text
        for sub in goal.subgoals:
            assert norm(f"{sub.letter}) {sub.text}") in seed_text, f"goal {goal.number}{sub.letter}"
    assert [s.letter for s in bundled.goals[2].subgoals] == ["a", "b", "d", "e"]  # the seed has no 3c
