"""Targets in both languages (issue 14 item 8): a target's sentence, status, numbers and
what it belongs to are said in the language asked for; mistakes in targets.yaml are
said in the reader's language."""

from __future__ import annotations

from datetime import date

from aarshjul.domain.targets import Measurement, load_targets, progress, targets_path


def test_progress_is_said_in_norwegian_and_in_english(bundled):
    targets = load_targets(targets_path(bundled), bundled)
    members = targets.get("medlemmer")
    period = (bundled.period.start, bundled.period.end)
    pts = [Measurement(date(2024, 1, 1), 20), Measurement(date(2025, 6, 1), 1021)]
    nb = progress(members, pts, 2025, date(2025, 6, 1), period, lang="nb")
    en = progress(members, pts, 2025, date(2025, 6, 1), period, lang="en")
    assert nb.status == en.status
    assert nb.show(1021).startswith("1\u00a0021") and en.show(1021).startswith("1,021")
    assert "per 1. juni 2025" in nb.detail and "målet er" in nb.detail, nb.detail
    assert "as of 1 June 2025" in en.detail and "the goal is" in en.detail, en.detail
    assert "målet" not in en.detail and "per 1" not in en.detail
    assert (nb.status_text, en.status_text) == ("foran skjema", "ahead of schedule")
    assert nb.belongs_to.startswith("delmål ") and en.belongs_to.startswith("sub-goal ")
    share = targets.get("andel-aktive")
    nb_share = progress(share, [Measurement(date(2025, 1, 1), 0.423)], 2025, date(2025, 1, 20), period, lang="nb")
    en_share = progress(share, [Measurement(date(2025, 1, 1), 0.423)], 2025, date(2025, 1, 20), period, lang="en")
    assert (nb_share.show(0.423), en_share.show(0.423)) == ("42 %", "42%")


def test_no_measurements_in_either_language(bundled):
    targets = load_targets(targets_path(bundled), bundled)
    period = (bundled.period.start, bundled.period.end)
    t = targets.get("medlemmer")
    assert progress(t, [], 2025, date(2025, 6, 1), period, lang="nb").detail == "Ingen målinger til og med 1. juni 2025."
    assert progress(t, [], 2025, date(2025, 6, 1), period, lang="en").detail == \
        "No measurements up to and including 1 June 2025."


def test_a_targets_yaml_mistake_is_said_in_the_readers_language(files):
    import pytest

    from aarshjul.domain.targets import TargetTableError, parse_targets
    from aarshjul.domain.yamlsource import load_yaml

    files.write("targets.yaml", "targets:\n  - name: x\n    title: X\n    subgoal: \"1.a\"\n    kind: share\n"
                                "    source: members\n    metric: members\n    level: 50\n")
    with pytest.raises(TargetTableError) as caught:
        parse_targets(load_yaml(files.folder / "targets.yaml"), files.load())
    nb, en = caught.value.say("nb"), caught.value.say("en")
    assert "målingen members er et antall, ikke en andel" in nb and "is a count" not in nb, nb
    assert "metric members is a count, not a share" in en and "antall" not in en, en


def test_a_judgement_made_once_is_said_in_either_language(bundled):
    """The report judges its targets before it knows its reader's language: in_lang says the
    same judgement, sentence, dates and numbers included, in another."""
    targets = load_targets(targets_path(bundled), bundled)
    period = (bundled.period.start, bundled.period.end)
    pts = [Measurement(date(2024, 1, 1), 20), Measurement(date(2025, 6, 1), 1021)]
    nb = progress(targets.get("medlemmer"), pts, 2025, date(2025, 6, 1), period)
    en = nb.in_lang("en")
    assert en.detail == progress(targets.get("medlemmer"), pts, 2025, date(2025, 6, 1), period, lang="en").detail
    assert "1. juni 2025" in nb.detail and "1 June 2025" in en.detail and "1,021" in en.detail
    assert en.in_lang("nb").detail == nb.detail and str(nb.sentence) == en.detail
    share = targets.get("andel-aktive")
    both = progress(share, [Measurement(date(2025, 1, 1), 0.423)], 2025, date(2025, 1, 20), period)
    assert both.detail.startswith("42 % per 1. januar 2025") and both.in_lang("en").detail.startswith(
        "42% as of 1 January 2025")


def test_every_kind_of_targets_yaml_mistake_is_in_our_words(files):
    """targets.yaml's pydantic errors go through the same wording as the plan's files
    (domain/explain.py): a wrong form, a wrong type, a wrong number, never pydantic's English."""
    import pytest

    from aarshjul.domain.targets import TargetTableError, parse_targets
    from aarshjul.domain.yamlsource import load_yaml

    files.write("targets.yaml", "targets:\n  - name: Stor Bokstav\n    title: X\n    subgoal: \"1a\"\n"
                                "    kind: count\n    source: members\n    metric: members\n    level: mange\n"
                                "    points: 7\n    titel: Y\n")
    with pytest.raises(TargetTableError) as caught:
        parse_targets(load_yaml(files.folder / "targets.yaml"), files.load())
    nb, en = caught.value.say("nb"), caught.value.say("en")
    assert "'Stor Bokstav' har feil form" in nb and 'et delmål skrives "1.b"' in nb, nb
    assert "'mange' er ikke et tall" in nb and "ukjent nøkkel 'titel'" in nb and "mente du 'title'?" in nb, nb
    assert "'Stor Bokstav' has the wrong form" in en and 'a sub-goal is written "1.b"' in en, en
    for pydantic_words in ("String should match", "Input should be", "Extra inputs"):
        assert pydantic_words not in nb and pydantic_words not in en
