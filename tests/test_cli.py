"""The command line as a person runs it: real processes, exit codes, JSON output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT


def aarshjul(*args: str, env: dict | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aarshjul", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200", **(env or {})}, timeout=120)


def test_check_passes_on_the_bundled_plan():
    result = aarshjul("check", "--today", "2026-11-29")
    assert result.returncode == 0, result.stderr
    assert "Planen er gyldig" in result.stdout and "47 tiltak" in result.stdout
    assert "1.5 Møter for nye medlemmer: 2 kreves i 2026" in result.stdout


def test_check_in_english():
    result = aarshjul("check", "--today", "2026-11-29", "--lang", "en")
    assert result.returncode == 0 and "The plan is valid" in result.stdout and "47 measures" in result.stdout


def test_measures_json_lists_every_measure_with_its_own_number():
    result = aarshjul("measures", "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    numbers = [r["number"] for r in rows]
    assert len(numbers) == 47 == len(set(numbers))
    assert "5.6" not in numbers and {"5.5", "5.7", "2.13", "6.5"} <= set(numbers)
    m15 = next(r for r in rows if r["number"] == "1.5")
    assert m15["goal"] == 1 and m15["bodies"] == ["styret"]
    assert m15["text"] == "Det skal avholdes minst to møter for nye medlemmer i året."
    assert m15["cadence"]["kind"] == "quota" and m15["cadence"]["count"] == 2
    assert m15["period"] == [{"start": "2024-01-01", "end": "2027-12-31"}]
    assert all({"number", "goal", "text", "period", "bodies", "cadence"} <= r.keys() for r in rows)


def test_agenda_json_is_stable_across_runs():
    args = ("agenda", "--from", "2025-01-01", "--to", "2027-12-31", "--format", "json")
    first, second = aarshjul(*args), aarshjul(*args)
    assert first.returncode == 0, first.stderr
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert [(o["key"], o["uid"]) for o in a] == [(o["key"], o["uid"]) for o in b]
    assert len(a) > 100
    need = {"uid", "key", "measure", "title", "start", "end", "all_day", "bodies", "status"}
    assert all(need <= o.keys() for o in a)
    assert {o["status"] for o in a} <= {"scheduled", "unscheduled", "cancelled"}
    letter = next(o for o in a if o["key"] == "1.7/2025-01-30")
    assert letter["start"] == "2025-01-30" and letter["all_day"] is True


def test_agenda_filters_by_body_and_measure():
    rows = json.loads(aarshjul("agenda", "--from", "2026-01-01", "--to", "2026-12-31", "--body", "arna",
                               "--format", "json").stdout)
    assert rows and all("arna" in o["bodies"] for o in rows)
    assert {o["measure"] for o in rows} >= {"2.5"}
    rows = json.loads(aarshjul("agenda", "--from", "2026-01-01", "--to", "2026-12-31", "--measure", "3.1",
                               "--format", "json").stdout)
    assert [o["key"] for o in rows] == ["3.1/2026-H1", "3.1/2026-H2"]


def test_agenda_table_in_norwegian():
    result = aarshjul("agenda", "--from", "2026-05-01", "--to", "2026-05-01")
    assert result.returncode == 0
    assert "1. mai 2026" in result.stdout and "Arbeidernes internasjonale kampdag" in result.stdout


def test_gaps_json():
    result = aarshjul("gaps", "--year", "2026", "--today", "2026-11-29", "--format", "json",
                      env={"AARSHJUL_DATABASE_URL": "sqlite:////nonexistent/none.db"})
    assert result.returncode == 0, result.stderr
    gaps = {(g["measure"], g["window"], g["body"]): g for g in json.loads(result.stdout)}
    lo = gaps[("3.1", "2026-H2", None)]
    assert lo["required"] == 1 and lo["missing"] == 1 and lo["closes"] == "2026-12-31" and not lo["overdue"]
    assert gaps[("3.1", "2026-H1", None)]["overdue"]


@pytest.mark.parametrize("args,expect", [
    (("agenda", "--body", "arnaa"), "mente du arna"),
    (("agenda", "--measure", "1.55"), "ukjent tiltak '1.55'"),
    (("agenda", "--from", "2026-02-30"), "Ugyldig verdi for '--from': '2026-02-30' finnes ikke i kalenderen"),
    (("gaps", "--year", "2031"), "utenfor planperioden"),
    (("agenda", "--format", "xml"), "Ugyldig verdi for '--format': 'xml': bruk table eller json"),
    (("check", "--plan", "nowhere/plan.yaml"), "filen finnes ikke"),
])
def test_bad_arguments_exit_2_with_a_clear_message(args, expect):
    result = aarshjul(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert expect in result.stderr


def test_a_bad_plan_exits_2_naming_file_line_and_field(files):
    line = files.edit("plan.yaml", "bodies: [styret, bystyregruppen]", "bodies: [styret, bystyregrupen]")
    result = aarshjul("check", "--plan", str(files.plan))
    assert result.returncode == 2
    assert f"plan.yaml:{line}: goals[0].measures[2].bodies[1]: ukjent organ 'bystyregrupen'" in result.stderr
    assert "mente du bystyregruppen" in result.stderr


READ_ONLY = (['check'], ['measures'], ['agenda', '--format', 'json'], ['gaps'], ['newsletter', 'list'],
             ['newsletter', 'preview', 'hva-skjer', '--lang', 'en'], ['calendars', 'urls', '--lang', 'en'],
             ['calendars', 'conflicts'], ['members', 'counts'], ['members', 'unassigned'], ['kpi', 'list'],
             ['report', '2025', '--format', 'md'])


def test_read_only_commands_never_import_prefect(tmp_path):
    code = ("import sys\nfrom aarshjul.cli import main\n"
            f"for argv in {READ_ONLY!r}:\n"
            "    main([*argv, '--today', '2026-11-29'])\n"
            "print('PREFECT' if any(m == 'prefect' or m.startswith('prefect.') for m in sys.modules) else 'CLEAN',"
            " file=sys.stderr)\n")
    env = {**os.environ, "AARSHJUL_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}",
           "AARSHJUL_PLAN": str(ROOT / "config" / "plan.yaml"), "AARSHJUL_SITE_DIR": str(tmp_path / "site")}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().endswith("CLEAN")


def test_calendar_commands(tmp_path):
    env = {"AARSHJUL_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}", "AARSHJUL_SITE_DIR": str(tmp_path / "site")}
    urls = aarshjul("calendars", "urls", env=env)
    assert urls.returncode == 0, urls.stderr
    first = re.findall(r"calendars/([A-Za-z0-9_-]{32})/styret\.ics", urls.stdout)
    assert len(first) == 1 and "calendars/offentlig.ics" in urls.stdout
    assert aarshjul("calendars", "urls", env=env).stdout == urls.stdout  # stable
    rotated = aarshjul("calendars", "rotate", "styret", env=env)
    assert rotated.returncode == 0
    assert first[0] not in aarshjul("calendars", "urls", env=env).stdout
    bad = aarshjul("calendars", "rotate", "offentlig", env=env)
    assert bad.returncode == 2 and "ukjent privat kalenderstrøm 'offentlig'" in bad.stderr
    none = aarshjul("calendars", "conflicts", env=env)
    assert none.returncode == 0 and "Ingen konflikter." in none.stdout
    missing = aarshjul("calendars", "resolve", "nope", "--keep", "ours", env=env)
    assert missing.returncode == 2 and "ukjent konflikt 'nope'" in missing.stderr
