"""Bad input: every mistake gets file, line, field and a hint; the CLI exits 2 and writes nothing."""

from __future__ import annotations

import pytest

from aarshjul.domain.errors import PlanError


def problems(files) -> list:
    with pytest.raises(PlanError) as caught:
        files.load()
    return caught.value.problems


def only(files):
    found = problems(files)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


def test_minimal_plan_is_valid(files):
    plan = files.load()
    assert [m.number for _, m in plan.measures] == ["1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "2.4", "2.5"]


def test_invalid_yaml_names_the_line(files):
    line = files.edit("plan.yaml", "  title: Testplan\n", "  title: [Testplan\n")
    p = only(files)
    assert p.file.name == "plan.yaml"
    assert "invalid YAML" in p.message
    assert p.line is not None and p.line >= line


def test_unknown_key_is_an_error_with_a_suggestion(files):
    line = files.edit("plan.yaml", "cadence: {kind: quota, count: 2, per: year}",
                      "cadence: {kind: quota, cuont: 2, count: 2, per: year}")
    p = only(files)
    assert p.message == "unknown key 'cuont'"
    assert p.field == "goals[0].measures[1].cadence.cuont"
    assert p.line == line
    assert "count" in p.hint


def test_unknown_body_suggests_the_nearest(files):
    line = files.edit("plan.yaml", "bodies: [styret, bystyregruppen]", "bodies: [styret, bystyregrupen]")
    p = only(files)
    assert p.message == "unknown body 'bystyregrupen'"
    assert p.field == "goals[0].measures[2].bodies[1]"
    assert p.line == line
    assert "bystyregruppen" in p.hint


def test_duplicate_measure_number(files):
    line = files.edit("plan.yaml", '- number: "2.2"', '- number: "2.1"')
    found = problems(files)
    assert any(p.line == line and "2.1 is used more than once" in p.message for p in found), [str(p) for p in found]
    assert all(p.field.endswith(".number") for p in found)


def test_duplicate_yaml_key(files):
    line = files.edit("plan.yaml", "  title: Testplan\n", "  title: Testplan\n  title: Annen\n")
    p = only(files)
    assert "duplicate key 'title'" in p.message and p.line == line + 1


def test_period_that_ends_before_it_starts(files):
    line = files.edit("plan.yaml", 'period: "2025-2026"\n        bodies: [styret]\n        cadence: {kind: quota, count: 2',
                      'period: "2026-2025"\n        bodies: [styret]\n        cadence: {kind: quota, count: 2')
    p = only(files)
    assert "ends before it starts" in p.message
    assert p.field == "goals[0].measures[1].period" and p.line == line


def test_pin_that_ends_before_it_starts(files):
    files.write("schedule.yaml", 'occurrences:\n  "1.2/2025/1":\n    date: "2025-03-10"\n    start: "20:00"\n    end: "18:00"\n')
    p = only(files)
    assert p.file.name == "schedule.yaml" and p.line == 2
    assert "end 18:00 is not after start 20:00" in p.message


def test_impossible_date(files):
    files.write("schedule.yaml", 'occurrences:\n  "1.2/2025/1":\n    date: "2025-02-30"\n')
    p = only(files)
    assert p.file.name == "schedule.yaml" and p.line == 3
    assert p.field == "occurrences.1.2/2025/1.date"
    assert "2025-02-30" in p.message and "YYYY-MM-DD" in p.hint


def test_rrule_that_does_not_parse(files):
    line = files.edit("plan.yaml", 'rrule: "FREQ=MONTHLY;BYDAY=1TU"', 'rrule: "FREQ=MONTHLI;BYDAY=1TU"')
    p = only(files)
    assert "does not parse" in p.message and "MONTHLI" in p.message
    assert p.field == "goals[1].measures[2].cadence.rrule" and p.line == line


def test_quota_that_cannot_fit_its_window(files):
    files.edit("organisation.yaml", "  kvinnedagen: {name: Kvinnedagen, annual: \"03-08\"}",
               "  kvinnedagen: {name: Kvinnedagen, annual: \"03-08\"}\n  festival: {name: Festival, window: \"03-01/03-03\"}")
    line = files.edit("plan.yaml", "cadence: {kind: quota, count: 2, per: year}",
                      "cadence: {kind: quota, count: 4, per: year, window: festival}")
    p = only(files)
    assert "4 occurrences cannot fit 2025" in p.message and "3 days" in p.message
    assert p.field == "goals[0].measures[1].cadence.count" and p.line == line


def test_pin_with_an_unknown_key_suggests_the_nearest(files):
    files.write("schedule.yaml", 'occurrences:\n  "1.2/2025/3":\n    date: "2025-03-10"\n')
    p = only(files)
    assert "no occurrence has the key '1.2/2025/3'" in p.message
    assert "1.2/2025/1" in p.hint and p.line == 2


def test_pin_outside_its_window(files):
    files.write("schedule.yaml", 'occurrences:\n  "1.3/2025-H1":\n    date: "2025-08-10"\n')
    p = only(files)
    assert "outside the window 2025-01-01/2025-06-30" in p.message and p.line == 3


def test_unknown_cadence_kind(files):
    files.edit("plan.yaml", "cadence: {kind: standing}", "cadence: {kind: sometimes}")
    p = only(files)
    assert p.field == "goals[1].measures[4].cadence" and "kind is one of" in p.hint


def test_several_problems_are_reported_together(files):
    files.edit("plan.yaml", "bodies: [styret, bystyregruppen]", "bodies: [styret, nobody]")
    files.edit("plan.yaml", '- number: "2.2"', '- number: "2.1"')
    assert len(problems(files)) == 3  # the unknown body and both duplicate numbers


def test_missing_organisation_file(files):
    (files.folder / "organisation.yaml").unlink()
    p = only(files)
    assert p.file.name == "organisation.yaml" and p.message == "file not found"


def test_cli_exits_2_and_writes_nothing(files, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from aarshjul.cli import app, main

    files.edit("plan.yaml", "bodies: [styret, bystyregruppen]", "bodies: [styret, bystyregrupen]")
    db = tmp_path / "var" / "a.db"
    monkeypatch.setenv("AARSHJUL_DATABASE_URL", f"sqlite:///{db}")
    from aarshjul.settings import get_settings

    get_settings.cache_clear()
    try:
        for command in (["check"], ["agenda"], ["run"]):
            result = CliRunner().invoke(app, [*command, "--plan", str(files.plan)])
            assert isinstance(result.exception, PlanError), (command, result.output)  # app alone: main() ends it
            with pytest.raises(SystemExit) as ended:  # as `aarshjul` ends it: exit status 2
                main([*command, "--plan", str(files.plan)])
            assert ended.value.code == 2, command
        assert not db.exists() and not db.parent.exists()
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize("subject, message", [
    ('"{{ cycler.__init__.__globals__.os.popen(\'id\').read() }}"', "unknown value(s) cycler"),
    ('"{{ month.__class__.__mro__ }}"', "does not render"),
    ('"{{ month.format.__globals__ }}"', "does not render"),
    ('"Nyhetsbrev {% if"', "does not parse"),
])
def test_a_newsletter_subject_is_checked_in_the_sandbox(files, subject, message):
    line = files.edit("mail.yaml", '"Nyhetsbrev – {{ month }}"', subject)
    p = only(files)
    assert (p.file.name, p.line, p.field) == ("mail.yaml", line, "newsletters[0].subject")
    assert message in p.message, p.message


def test_a_hostile_subject_that_slips_past_check_still_cannot_run(tmp_path):
    from aarshjul.tasks.mail_render import Renderer, TemplateProblem

    marker = tmp_path / "PWNED"
    renderer = Renderer("reminder", "{{ f.__globals__.os.popen('touch %s').read() }}" % marker)
    with pytest.raises(TemplateProblem, match="SecurityError"):
        renderer.render({"f": problems})
    assert not marker.exists()


# --- every cross-file problem is said in the reader's language (issue 14 item 8) ----------

# (file, old, new, words of the Norwegian message, words of the English one)
CROSS_FILE = [
    ("plan.yaml", '- number: "1.3"', '- number: "1.2"', "tiltaksnummer 1.2 er brukt mer enn én gang",
     "measure number 1.2 is used more than once"),
    ("plan.yaml", "  - number: 2\n", "  - number: 1\n", "målnummer 1 er brukt mer enn én gang",
     "goal number 1 is used more than once"),
    ("plan.yaml", '- number: "2.1"', "- number: 2.10", "tiltaksnummeret 2.10 leses som tallet 2.1",
     "the measure number 2.10 is read as the number 2.1"),
    ("organisation.yaml", "groups:\n", "groups:\n  styret: {name: Styret, members: [nord]}\n",
     "er både et organ og en gruppe", "is both a body and a group"),
    ("schedule.yaml", "occurrences: {}", 'occurrences:\n  "1.2/2031/1": {date: "2031-03-01"}',
     "ingen forekomst har nøkkelen '1.2/2031/1'", "no occurrence has the key '1.2/2031/1'"),
    ("schedule.yaml", "occurrences: {}", 'occurrences:\n  "1.2/2025/1": {date: "2026-03-01"}',
     "ligger utenfor vinduet", "is outside the window"),
    ("plan.yaml", "cadence: {kind: quota, count: 2, per: year}",
     "cadence: {kind: quota, count: 2, per: year, min_days_apart: 400}", "får ikke plass i",
     "occurrences cannot fit"),
    ("plan.yaml", 'period: "2025-2026"\n        bodies: [styret]\n        cadence: {kind: quota, count: 2, per: year}',
     'period: ["2025-01-01/2025-03-31", "2025-04-01/2025-06-30"]\n        bodies: [styret]\n'
     '        cadence: {kind: quota, count: 1, per: period}', "gir to forekomster med nøkkelen",
     "gives two occurrences with the key"),
    ("mail.yaml", 'subject: "Nyhetsbrev – {{ month }}"', 'subject: "Nyhetsbrev – {{ maaned }}"',
     "emnet bruker ukjente verdier: maaned", "the subject uses unknown value(s) maaned"),
    ("mail.yaml", 'subject: "Nyhetsbrev – {{ month }}"', 'subject: "Nyhetsbrev – {{ month }"',
     "emnet kan ikke tolkes", "the subject does not parse"),
    ("plan.yaml", "version: 1\n", "version: 1\nx: &a 1\n", "et anker (&a) er ikke tillatt",
     "an anchor (&a) is not allowed"),
    ("plan.yaml", 'period: "2025-2026"\ngoals:\n  - number: 1\n    title: Første mål\n    subgoals:\n      - letter: a\n'
     '        text: Et delmål\n    measures:\n      - number: "1.1"\n        title: Engangsfrist\n'
     '        text: Noe skal gjøres i 2025.\n        period: "2025"\n        bodies: [styret]\n'
     '        cadence: {kind: deadline}',
     'period: "2024-2027"\ngoals:\n  - number: 1\n    title: Første mål\n    subgoals:\n      - letter: a\n'
     '        text: Et delmål\n    measures:\n      - number: "1.1"\n        title: Engangsfrist\n'
     '        text: Noe skal gjøres i 2025.\n        period: "2024-2027"\n        bodies: [styret]\n'
     '        cadence: {kind: series, rrule: FREQ=DAILY}',
     "gir mer enn 1\u00a0000 forekomster", "gives more than 1,000 occurrences"),
    ("plan.yaml", "cadence: {kind: deadline}", "cadence: {kind: deadline, due: 2027-01-01}",
     "fristen 2027-01-01 ligger utenfor tiltakets periode", "due date 2027-01-01 is outside the measure's period"),
]


# a value a model's validator refuses: (file, old, new, Norwegian, English); some have no hint
VALIDATORS = [
    ("plan.yaml", "cadence: {kind: deadline}", "cadence: {kind: series, rrule: FREQ=HOURLY}",
     "gjentas oftere enn én gang om dagen", "repeats more often than once a day"),
    ("plan.yaml", "cadence: {kind: quota, count: 2, per: year}", "cadence: {kind: quota, count: 2, per: season}",
     "`per: season` trenger `seasons`", "`per: season` needs `seasons`"),
    ("organisation.yaml", "  timezone: Europe/Oslo", "  timezone: Europe/Osloo", "ukjent tidssone 'Europe/Osloo'",
     "unknown time zone 'Europe/Osloo'"),
    ("plan.yaml", 'period: "2025"\n', 'period: "2026-2025"\n', "slutter før det begynner", "ends before it starts"),
    ("organisation.yaml", 'annual: "03-08"', 'annual: "02-30"', "er ikke en dag i året", "is not a day of the year"),
    ("schedule.yaml", "occurrences: {}", 'occurrences:\n  "1.2/2025/1": {date: "2025-03-01", start: "18:00", end: "17:00"}',
     "slutt 17:00 er ikke etter start 18:00", "end 17:00 is not after start 18:00"),
    ("plan.yaml", 'period: "2025"\n', 'period: "2025-03-01/2025-02-30"\n', "er ikke en virkelig dato",
     "is not a real date"),
]


@pytest.fixture
def check(monkeypatch, tmp_path, capsys):
    from cli_runner import invoke

    monkeypatch.setenv("AARSHJUL_DATABASE_URL", f"sqlite:///{tmp_path / 'a.db'}")
    monkeypatch.delenv("AARSHJUL_LANG", raising=False)

    def run(files, lang: str) -> tuple[int, str]:
        code, out, err = invoke(capsys, "check", "--plan", str(files.plan), "--lang", lang)
        return code, out + err

    return run


@pytest.mark.parametrize("name, old, new, nb, en", CROSS_FILE, ids=[c[4] for c in CROSS_FILE])
def test_a_cross_file_problem_is_said_in_norwegian_and_in_english(files, check, name, old, new, nb, en):
    files.edit(name, old, new)
    code_nb, said_nb = check(files, "nb")
    code_en, said_en = check(files, "en")
    assert code_nb == code_en == 2
    assert nb in said_nb and en not in said_nb, said_nb
    assert en in said_en and nb not in said_en, said_en
    assert "tips:" in said_nb and "hint:" not in said_nb, said_nb
    assert "hint:" in said_en and "tips:" not in said_en, said_en


@pytest.mark.parametrize("name, old, new, nb, en", VALIDATORS, ids=[c[4] for c in VALIDATORS])
def test_a_value_a_validator_refuses_is_said_in_norwegian_and_in_english(files, check, name, old, new, nb, en):
    files.edit(name, old, new)
    code_nb, said_nb = check(files, "nb")
    code_en, said_en = check(files, "en")
    assert code_nb == code_en == 2
    assert nb in said_nb and en not in said_nb and "hint:" not in said_nb, said_nb
    assert en in said_en and nb not in said_en and "tips:" not in said_en, said_en


@pytest.mark.parametrize("name, text, nb, en", [
    ("targets.yaml", 'targets:\n  - name: x\n    title: X\n    subgoal: "1.z"\n    kind: absolute\n    source: manual\n'
                     '    targets: [{date: "2026-12-31", value: 5}]\n',
     "planen har ikke delmål 1.z", "the plan has no sub-goal 1.z"),
    ("targets.yaml", 'targets:\n  - name: x\n    title: X\n    subgoal: "1.a"\n    kind: relative\n    source: manual\n'
                     '    targets: [{date: "2026-12-31", increase: 5}]\n',
     "et relativt måltall trenger et `baseline`", "a relative target needs a `baseline`"),
    ("postcodes.yaml", 'postcodes:\n  - {from: "5000", to: "5099", branch: nordd}\n', "ukjent lag 'nordd'",
     "unknown branch 'nordd'"),
    ("postcodes.yaml", 'postcodes:\n  - {from: "5100", to: "5000", branch: nord}\n', "5100 kommer etter 5000",
     "5100 comes after 5000"),
])
def test_a_problem_in_targets_or_postcodes_is_said_in_norwegian_and_in_english(files, check, name, text, nb, en):
    files.write(name, text)
    code_nb, said_nb = check(files, "nb")
    code_en, said_en = check(files, "en")
    assert code_nb == code_en == 2
    assert nb in said_nb and en not in said_nb and f"{name}:" in said_nb, said_nb
    assert en in said_en and nb not in said_en and "tips:" not in said_en, said_en
