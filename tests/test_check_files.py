"""Issue 14 items 4 and 5: `check` reads every file aarshjul will read, and the
organisation's own templates override the bundled ones by name."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date

import pytest

from aarshjul.domain.errors import PlanError

TODAY = date(2025, 11, 29)


def _check(files) -> list:
    from aarshjul.tasks.check import check_files

    return check_files(files.load(), TODAY)


def test_the_minimal_plan_and_the_bundled_plan_pass(files, bundled):
    from aarshjul.tasks.check import check_files

    assert _check(files) == []
    assert check_files(bundled, date(2026, 11, 29)) == []


def test_a_newsletter_template_that_does_not_exist_names_mail_yaml_and_its_line(files):
    line = files.edit("mail.yaml", "    template: digest\n", "    template: digets\n")
    (p,) = _check(files)
    assert (p.file.name, p.line, p.field) == ("mail.yaml", line, "newsletters[1].template")
    assert "email/digets.html.j2" in p.message and "templates/email" in p.hint


def test_an_organisations_own_template_is_found_and_used(files):
    files.edit("mail.yaml", "    template: digest\n", "    template: lokalbrev\n")
    (files.folder / "templates" / "email").mkdir(parents=True)
    for suffix in ("html", "txt"):
        files.write(f"templates/email/lokalbrev.{suffix}.j2",
                    '{% extends "email/base.' + suffix + '.j2" %}{% block body %}Hei {{ branch_name }}'
                    '{% for e in events %} {{ e.title }}{% endfor %}{% endblock %}')
    assert _check(files) == []


def test_an_override_that_fails_to_render_is_reported_with_its_file_and_line(files):
    (files.folder / "templates" / "email").mkdir(parents=True)
    files.write("templates/email/dues.txt.j2", "Hei {{ first_name }},\n\n{{ no_such_value }}\n")
    files.edit("plan.yaml", "cadence: {kind: standing}", "cadence: {kind: on_event, event: dues_unpaid, within_days: 14}")
    found = _check(files)
    assert len(found) == 1, [str(p) for p in found]
    (p,) = found
    assert p.file == files.folder / "templates" / "email" / "dues.txt.j2" and p.line == 3
    assert "no_such_value" in p.message


def test_a_syntax_error_in_an_override_of_the_report_names_its_line(files):
    (files.folder / "templates" / "report").mkdir(parents=True)
    files.write("templates/report/report.md.j2", "# {{ r.plan_title }}\n\n{% for g in r.goals %}\n")
    (p,) = _check(files)
    assert p.file.name == "report.md.j2" and p.line is not None and "for" in p.message


def test_the_report_uses_the_organisations_template(files):
    from aarshjul.db.report import load_report
    from aarshjul.tasks.report_render import render_markdown

    (files.folder / "templates" / "report").mkdir(parents=True)
    files.write("templates/report/report.md.j2", "Vår egen rapport for {{ r.year }}\n")
    plan = files.load()
    assert render_markdown(load_report(None, plan, None, 2025, TODAY)) == "Vår egen rapport for 2025\n"


def test_an_override_cannot_reach_pythons_internals(files):
    (files.folder / "templates" / "report").mkdir(parents=True)
    files.write("templates/report/report.md.j2", "{{ r.__class__.__init__.__globals__ }}\n")
    (p,) = _check(files)
    assert "SecurityError" in p.message or "unsafe" in p.message


def test_an_unknown_measure_in_targets_yaml_is_found_by_check(files):
    files.write("targets.yaml", 'targets:\n  - name: kontakt\n    title: Kontakt\n    measure: "9.9"\n'
                                "    kind: share\n    source: follow_ups\n    level: 80\n")
    (p,) = _check(files)
    assert (p.file.name, p.line, p.field) == ("targets.yaml", 4, "targets[0].measure") and "9.9" in p.message


def test_an_unknown_branch_in_postcodes_yaml_is_found_by_check(files):
    files.write("postcodes.yaml", 'postcodes:\n  - {code: "5003", branch: nord}\n  - {code: "5004", branch: vest}\n')
    (p,) = _check(files)
    assert (p.file.name, p.line) == ("postcodes.yaml", 3) and "vest" in p.message


def test_chapters_paths_are_relative_to_the_chapters_file(files, tmp_path):
    from aarshjul.domain.load import load_chapters

    files.write("chapters.yaml", "chapters:\n  - plan: plan.yaml\n")
    assert _check(files) == []
    assert load_chapters(files.folder / "chapters.yaml") == [files.folder / "plan.yaml"]
    files.write("chapters.yaml", "chapters:\n  - plan: plan.yaml\n  - plan: config/plan.yaml\n")
    (p,) = _check(files)
    assert (p.file.name, p.line, p.field) == ("chapters.yaml", 3, "chapters[1].plan")


def test_an_edition_text_that_is_not_utf8_is_found(files):
    (files.folder / "content" / "nyhetsbrev").mkdir(parents=True, exist_ok=True)
    (files.folder / "content" / "nyhetsbrev" / "2025-03.md").write_bytes("Blåbær".encode("cp1252"))
    (p,) = _check(files)
    assert p.file.name == "2025-03.md" and "UTF-8" in p.message


def test_the_check_command_exits_2_on_a_template_problem_and_warns_about_a_dst_pin(files, tmp_path):
    env = {**os.environ, "AARSHJUL_DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}"}
    files.edit("plan.yaml", "cadence: {kind: quota, count: 2, per: year}", "cadence: {kind: quota, count: 1, per: month}")
    files.write("schedule.yaml", 'occurrences:\n  "1.2/2026-03": {date: "2026-03-29", start: "02:30"}\n')
    run = subprocess.run([sys.executable, "-m", "aarshjul", "check", "--plan", str(files.plan), "--today", "2025-11-29"],
                         capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    assert "schedule.yaml:2" in run.stdout and "03:30" in run.stdout
    files.edit("mail.yaml", "    template: digest\n", "    template: digets\n")
    run = subprocess.run([sys.executable, "-m", "aarshjul", "check", "--plan", str(files.plan), "--today", "2025-11-29"],
                         capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 2 and "mail.yaml:" in run.stderr and "digets" in run.stderr
    assert "Traceback" not in run.stderr


def test_load_chapters_refuses_a_file_without_chapters(tmp_path):
    from aarshjul.domain.load import load_chapters

    (tmp_path / "chapters.yaml").write_text("chapter: []\n")
    with pytest.raises(PlanError) as caught:
        load_chapters(tmp_path / "chapters.yaml")
    assert caught.value.problems[0].line == 1


def test_template_problems_are_said_in_the_readers_language(files):
    """check's own sentences about templates come from the catalogs (issue 14 item 8)."""
    (files.folder / "templates" / "email").mkdir(parents=True)
    files.write("templates/email/dues.txt.j2", "Hei {{ first_name }},\n\n{{ no_such_value }}\n")
    files.edit("plan.yaml", "cadence: {kind: standing}", "cadence: {kind: on_event, event: dues_unpaid, within_days: 14}")
    files.edit("mail.yaml", "    template: digest\n", "    template: digets\n")
    found = _check(files)
    said = {lang: "\n".join(p.say(lang) for p in found) for lang in ("nb", "en")}
    assert "malen kan ikke vises" in said["nb"] and "en mal bruker bare verdiene den får" in said["nb"]
    assert "the template does not render" in said["en"] and "a template uses only the values" in said["en"]
    assert "ingen mal heter" in said["nb"] and "no template is named" in said["en"]
    assert "the template" not in said["nb"] and "malen" not in said["en"]


@pytest.mark.parametrize("lang, said, not_said", [
    ("nb", ["1 advarsel (schedule.yaml)", "finnes ikke i Europe/Oslo", "tips: velg et klokkeslett"], ["does not exist"]),
    ("en", ["1 warning (schedule.yaml)", "does not exist in Europe/Oslo", "hint: choose a time"], ["finnes ikke"])])
def test_a_dst_warning_is_said_in_the_readers_language(files, tmp_path, capsys, monkeypatch, lang, said, not_said):
    from cli_runner import invoke

    files.edit("plan.yaml", "cadence: {kind: quota, count: 2, per: year}", "cadence: {kind: quota, count: 1, per: month}")
    files.write("schedule.yaml", 'occurrences:\n  "1.2/2026-03": {date: "2026-03-29", start: "02:30"}\n')
    monkeypatch.setenv("AARSHJUL_DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    code, out, err = invoke(capsys, "check", "--plan", str(files.plan), "--today", "2025-11-29", "--lang", lang)
    assert code == 0, err
    for text in said:
        assert text in out, (text, out)
    for text in not_said:
        assert text not in out, (text, out)
