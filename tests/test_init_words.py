"""`aarshjul init` writes the organisation's word for a branch (organisation.yaml's
`branch_word`, issue 14 item 3) in the chosen language, commented, and `check` passes on it."""

from __future__ import annotations

import pytest

from aarshjul.cli import main
from aarshjul.domain.load import load_plan
from aarshjul.domain.model import DEFAULT_BRANCH_WORD

TODAY = "2026-11-29"


def _init(folder, lang: str, capsys) -> str:
    try:
        main(["init", str(folder), "--name", "Laget", "--lang", lang, "--today", TODAY])
    except SystemExit as exc:
        assert not exc.code, capsys.readouterr().err
    capsys.readouterr()
    return (folder / "organisation.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("lang, forms, comment", [
    ("nb", ("lag", "lag", "laget", "lagene"), "Skriv organisasjonens eget ord"),
    ("en", ("branch", "branches", "the branch", "the branches"), "Write the organisation's own word"),
])
def test_init_writes_the_branch_word_in_its_language_and_check_passes(tmp_path, capsys, lang, forms, comment):
    text = _init(tmp_path, lang, capsys)
    lines = text.splitlines()
    at = lines.index("  branch_word:")  # written, not commented out
    written = [line.split(":", 1)[1].split("#")[0].strip() for line in lines[at + 1:at + 5]]
    assert written == [f'"{w}"' for w in forms]
    assert comment in text and all("#" in line for line in lines[at + 1:at + 5])  # each form explained
    plan = load_plan(tmp_path / "plan.yaml")
    word = plan.organisation.branch_word
    assert word is not None and word == DEFAULT_BRANCH_WORD[lang]
    assert (word.singular, word.plural, word.definite, word.definite_plural) == forms
    main(["check", "--plan", str(tmp_path / "plan.yaml"), "--today", TODAY, "--lang", lang])  # returns: it passed
    assert capsys.readouterr().out.startswith({"nb": "✓ Planen er gyldig", "en": "✓ The plan is valid"}[lang])


def test_the_organisation_writes_its_own_word_over_the_default(tmp_path, capsys):
    text = _init(tmp_path, "nb", capsys)
    for old, new in (('singular: "lag"', 'singular: "lokalgruppe"'), ('plural: "lag"', 'plural: "lokalgrupper"'),
                     ('definite: "laget"', 'definite: "lokalgruppa"'),
                     ('definite_plural: "lagene"', 'definite_plural: "lokalgruppene"')):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    (tmp_path / "organisation.yaml").write_text(text, encoding="utf-8")
    word = load_plan(tmp_path / "plan.yaml").organisation.branch
    assert word.all_forms == ("lokalgruppe", "lokalgrupper", "lokalgruppa", "lokalgruppene")


def test_the_plan_title_is_in_the_chosen_language(tmp_path, capsys):
    _init(tmp_path / "nb", "nb", capsys)
    _init(tmp_path / "en", "en", capsys)
    assert load_plan(tmp_path / "nb" / "plan.yaml").meta.title == "Arbeidsplan for Laget, 2026–2027"
    assert load_plan(tmp_path / "en" / "plan.yaml").meta.title == "Work plan of Laget, 2026–2027"
