"""`aarshjul done / not-held / cancel / comment / kpi / report` through Typer's runner.

The app (`aarshjul.cli_report.report_cli`) is invoked on its own; cli.py registers its
commands on the main app. AarshjulError propagates out of the runner (result.exception):
turning it into a message and exit status 2 is cli.main()'s job, tested once through a
real process at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from aarshjul.cli_report import report_cli
from aarshjul.db.models import Completion, KpiMeasurement, MeasureComment
from aarshjul.db.session import make_engine, session_scope
from aarshjul.domain.errors import AarshjulError, NotFound
from aarshjul.settings import get_settings
from conftest import ROOT

runner = CliRunner()
TODAY = ("--today", "2025-11-29")


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A temporary database and the bundled plan, through the environment; run in tmp_path."""
    url = f"sqlite:///{tmp_path / 'db' / 'aarshjul.db'}"
    monkeypatch.setenv("AARSHJUL_DATABASE_URL", url)
    monkeypatch.setenv("AARSHJUL_PLAN", str(ROOT / "config" / "plan.yaml"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def ok(*args: str) -> str:
    result = runner.invoke(report_cli, [*args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def fails(*args: str, kind: type[Exception] = AarshjulError) -> str:
    result = runner.invoke(report_cli, [*args])
    assert isinstance(result.exception, kind), (result.output, result.exception)
    return result.exception.say("nb")  # as cli.main() prints it (AARSHJUL_LANG unset: nb)


def rows(url: str, model=Completion) -> list:
    if not os.path.exists(url.removeprefix("sqlite:///")):
        return []
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return list(session.scalars(select(model)))
    finally:
        engine.dispose()


# --- done -----------------------------------------------------------------------------------


def test_done_records_an_occurrence_and_a_second_time_updates_it(env):
    out = ok("done", "1.5/2025/1", "--date", "2025-03-26", "--attendance", "23", "--note", "Velkomstmøte på Kafé Ø",
             "--evidence", "https://bergen.sv.example.org/referat/2025-03", "--by", "Kari", *TODAY)
    assert "✓ 1.5/2025/1 Møter for nye medlemmer (1/2): registrert som gjennomført 26. mars 2025, 23 deltakere" in out
    out = ok("done", "1.5/2025/1", "--date", "2025-03-27", *TODAY)
    assert "var allerede registrert (gjennomført 26. mars 2025, fra cli)" in out
    assert ("oppdatert til gjennomført 27. mars 2025, 23 deltakere (beholdt deltakertallet og merknaden og lenken)"
            in out)
    assert "Fortsatt én registrering" in out
    [row] = rows(env)
    assert (row.ref, row.occurrence_key, row.measure, row.outcome, row.on_date.isoformat(), row.attendance,
            row.note, row.recorded_by, row.source) == ("1.5/2025/1", "1.5/2025/1", "1.5", "held", "2025-03-27", 23,
                                                       "Velkomstmøte på Kafé Ø", "Kari", "cli")


def test_done_defaults_to_the_occurrences_date_and_a_measure_without_occurrences_to_today(env):
    assert "gjennomført 27. mars 2025" in ok("done", "1.7/2025-03-27", *TODAY)
    out = ok("done", "1.2", "--attendance", "140", *TODAY)
    assert "1.2@2025-11-29 Åpne og tilgjengelige arrangementer: registrert som gjennomført 29. november 2025" in out
    ok("done", "1.2@2025-05-01", *TODAY)
    assert "var allerede registrert" in ok("done", "1.2", "--date", "2025-05-01", *TODAY)
    assert sorted(r.ref for r in rows(env)) == ["1.2@2025-05-01", "1.2@2025-11-29", "1.7/2025-03-27"]


def test_a_date_outside_the_occurrences_window_is_recorded_with_a_warning(env):
    out = ok("done", "2.8/2025-H1", "--date", "2025-07-02", *TODAY)
    assert "registrert som gjennomført 2. juli 2025" in out
    assert "utenfor perioden forekomsten gjelder (1. januar 2025 – 30. juni 2025)" in out


@pytest.mark.parametrize("args, message", [
    (("done", "1.5/2025/3"), "ukjent forekomst '1.5/2025/3'; mente du 1.5/2025/2, 1.5/2025/1"),
    (("done", "1.55"), "ukjent tiltak '1.55'; mente du 1.5"),
    (("done", "1.5"), "tiltak 1.5 har forekomster i planen (kvote); oppgi nøkkelen, f.eks. 1.5/2024/1"),
    (("done", "1.2", "--date", "2023-12-31"),
     "--date 2023-12-31 er utenfor planperioden (1. januar 2024 – 31. desember 2027)"),
    (("done", "1.2", "--date", "2028-01-02", "--today", "2028-02-01"), "--date 2028-01-02 er utenfor planperioden"),
    (("done", "1.5/2025/1", "--attendance", "-3"), "--attendance -3: antall deltakere kan ikke være negativt"),
    (("done", "1.5/2025/2", "--date", "2025-12-01"), "--date 2025-12-01 er etter i dag (2025-11-29)"),
    (("done", "1.5/2025/1", "--evidence", "referat.pdf"), "--evidence 'referat.pdf' er ikke en nettadresse"),
    (("done", "1.2@2025-05-01", "--date", "2025-05-02"), "har datoen 2025-05-01, men --date sier 2025-05-02"),
    (("not-held", "1.5/2025/1", "--reason", "  "), "--reason er tom"),
    (("cancel", "1.2", "--reason", "Ingen grunn"), "tiltak 1.2 har ingen forekomster å avlyse"),
    (("cancel", "2.8/2025-H3", "--reason", "x"), "ukjent forekomst '2.8/2025-H3'; mente du 2.8/2025-H2, 2.8/2025-H1"),
])
def test_bad_input_is_refused_with_a_clear_message_and_nothing_is_stored(env, args, message):
    args = args if "--today" in args else (*args, *TODAY)
    assert message in fails(*args)
    assert rows(env) == []


@pytest.mark.parametrize("args, message", [
    (("done", "1.5/2025/1", "--date", "2025-02-30"), "'--date': '2025-02-30' finnes ikke i kalenderen"),
    (("done", "1.5/2025/1", "--date", "31/12/2025"), "'--date': '31/12/2025' er ikke en dato; skriv ÅÅÅÅ-MM-DD"),
    (("done", "1.2", "--today", "2025-13-01"), "'--today': '2025-13-01' finnes ikke i kalenderen"),
    (("kpi", "record", "inntekt", "5", "--date", "2025-02-29"), "'--date': '2025-02-29' finnes ikke i kalenderen"),
    (("report", "2025", "--format", "docx"), "'--format': 'docx': bruk html eller pdf eller md"),
])
def test_an_impossible_date_or_format_is_a_usage_error(env, args, message):
    """Dates and formats are checked by the option itself, the same way in every command."""
    result = runner.invoke(report_cli, [*args, *([] if "--today" in args else TODAY)])
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output
    assert rows(env) == [] and rows(env, KpiMeasurement) == []


def test_an_unknown_key_is_a_not_found_with_suggestions(env):
    result = runner.invoke(report_cli, ["done", "3.4/2025/kvinnedag", *TODAY])
    assert isinstance(result.exception, NotFound) and result.exception.suggestions[0] == "3.4/2025/kvinnedagen"


def test_not_held_records_the_reason_and_replaces_a_held_record(env):
    ok("done", "1.5/2025/1", "--date", "2025-03-26", "--attendance", "9", *TODAY)
    out = ok("not-held", "1.5/2025/1", "--reason", "Lokalet var ikke ledig", *TODAY)
    assert "var allerede registrert (gjennomført 26. mars 2025, fra cli); oppdatert til ikke gjennomført" in out
    [row] = rows(env)
    assert (row.outcome, row.note, row.attendance) == ("not_held", "Lokalet var ikke ledig", None)
    result = runner.invoke(report_cli, ["not-held", "1.5/2025/2", *TODAY])
    assert result.exit_code == 2 and "--reason" in result.output  # a usage error: the reason is required


def test_cancel_records_a_cancellation_the_calendars_publish(env, bundled):
    from dataclasses import replace

    from aarshjul.db.agenda import cancelled_keys, store_agenda
    from aarshjul.db.models import OccurrenceRow
    from aarshjul.domain.expand import expand

    out = ok("cancel", "2.8/2025-H2", "--reason", "Flyttet til januar", *TODAY)
    assert "2.8/2025-H2 Samling styret og bystyregruppen: registrert som avlyst" in out
    assert "aarshjul publish" in out
    [row] = rows(env)
    assert (row.outcome, row.on_date, row.note, row.occurrence_key) == ("cancelled", None, "Flyttet til januar",
                                                                        "2.8/2025-H2")
    engine = make_engine(env)
    try:
        with session_scope(engine) as session:  # as tasks/plan_io.save_agenda does
            cancelled = cancelled_keys(session, bundled.organisation.id)
            store_agenda(session, bundled.organisation.id,
                         [replace(o, status="cancelled") if o.key in cancelled else o for o in expand(bundled)],
                         __import__("datetime").datetime.now().astimezone())
            stored = session.scalar(select(OccurrenceRow).where(OccurrenceRow.key == "2.8/2025-H2"))
            assert stored.status == "cancelled"
    finally:
        engine.dispose()


# --- comment and kpi ------------------------------------------------------------------------


def test_comment_is_stored_per_measure_and_year_and_replaced(env):
    assert "kommentar til 1.5 Møter for nye medlemmer i årsrapporten 2025" in \
        ok("comment", "1.5", "Begge møtene ble holdt på Kafé Ø.", "--year", "2025", *TODAY)
    assert "erstattet den forrige" in ok("comment", "1.5", "Begge møtene ble holdt.", "--year", "2025", *TODAY)
    [c] = rows(env, MeasureComment)
    assert (c.measure, c.year, c.text) == ("1.5", 2025, "Begge møtene ble holdt.")
    assert "ukjent tiltak '1.55'" in fails("comment", "1.55", "x", "--year", "2025", *TODAY)
    assert "år 2031 er utenfor planperioden 2024–2027" in fails("comment", "1.5", "x", "--year", "2031", *TODAY)
    assert "kommentaren er tom" in fails("comment", "1.5", " ", "--year", "2025", *TODAY)


def test_kpi_record_and_list(env):
    out = ok("kpi", "record", "inntekt", "191 500", "--date", "2024-12-31", "--note", "regnskapet", *TODAY)
    assert "Inntekter fra frivillig kontingent, gaver og annen støtte: 191 500 kr per 31. desember 2024" in out
    ok("kpi", "record", "inntekt", "180000", "--date", "2023-12-31", *TODAY)  # the baseline, before the period
    assert "(erstattet 191500)" in ok("kpi", "record", "inntekt", "191600,5", "--date", "2024-12-31", *TODAY)
    assert [(r.on_date.isoformat(), r.value) for r in rows(env, KpiMeasurement)] == \
        [("2024-12-31", 191_600.5), ("2023-12-31", 180_000.0)]
    listed = json.loads(ok("kpi", "list", "--format", "json", *TODAY))
    income = next(t for t in listed if t["name"] == "inntekt")
    assert (income["value"], income["date"], income["belongs_to"], income["status"]) == \
        (191_600.5, "2024-12-31", "delmål 2.c", "ahead")
    assert next(t for t in listed if t["name"] == "medlemmer")["status"] == "no_data"
    table = ok("kpi", "list", *TODAY)
    assert "Måltall 2025" in table and "foran skjema" in table and "delmål 6.a" in table


@pytest.mark.parametrize("args, message", [
    (("inntekt", "200000", "--date", "2025-12-31"), "--date 2025-12-31 er etter i dag"),
    (("inntekt", "mye"), "VALUE 'mye' er ikke et tall"),
    (("--today", "2025-11-29", "inntekt", "--", "-5"), "VALUE '-5' er negativ"),
    (("inntekter", "5"), "ukjent måltall 'inntekter'; mente du inntekt"),
    (("medlemmer", "5"), "medlemmer måles fra medlemstallene og registreres ikke for hånd; for hånd: inntekt"),
])
def test_kpi_record_refuses_bad_input(env, args, message):
    assert message in fails("kpi", "record", *(args if "--today" in args else (*args, *TODAY)))
    assert rows(env, KpiMeasurement) == []


def test_kpi_commands_need_a_targets_table(env, files):
    assert "targets.yaml finnes ikke" in fails("kpi", "list", "--plan", str(files.plan), *TODAY)


# --- report ---------------------------------------------------------------------------------


def test_report_without_a_database_renders_and_creates_no_database(env, tmp_path):
    out = ok("report", "2025", "--format", "md", "--today", "2026-01-10")
    assert "Årsrapport 2025: 47 tiltak (2 pågående, 36 ikke registrert, 9 ikke aktuelt i år)" in out
    path = tmp_path / "var" / "rapport" / "aarsrapport-bergen-sv-2025.md"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Årsrapport 2025: Arbeidsplan for Bergen SV, 2024-2027")
    assert not (tmp_path / "db").exists()


def test_report_of_the_log_to_a_chosen_file(env, tmp_path):
    ok("done", "1.5/2025/1", "--date", "2025-03-26", "--attendance", "23", *TODAY)
    ok("done", "1.5/2025/2", "--date", "2025-10-02", "--attendance", "31", *TODAY)
    ok("comment", "1.5", "Begge møtene ble holdt på Kafé Ø.", "--year", "2025", *TODAY)
    out = ok("report", "2025", "--format", "md", "--out", str(tmp_path / "r.md"), *TODAY)
    assert "(utkast: 2025 er ikke over)" in out and str(tmp_path / "r.md") in out
    text = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert "### 1.5 Møter for nye medlemmer: gjennomført" in text and "2 av 2 holdt · 54 deltakere" in text
    assert "**Styrets kommentar:** Begge møtene ble holdt på Kafé Ø." in text
    assert "> **Utkast:** 2025 er ikke over ennå." in text
    (tmp_path / "out").mkdir()
    ok("report", "2025", "--format", "html", "--out", str(tmp_path / "out"), *TODAY)
    html = (tmp_path / "out" / "aarsrapport-bergen-sv-2025.html").read_text(encoding="utf-8")
    assert "<svg" in html and "@page" in html


def test_report_refuses_a_year_outside_the_plan_and_an_unknown_format(env):
    assert "år 2023 er utenfor planperioden 2024–2027" in fails("report", "2023", *TODAY)


# --- processes ------------------------------------------------------------------------------


def test_recording_and_the_markdown_report_start_neither_prefect_nor_the_heavy_libraries(env, tmp_path):
    """Read-only and small commands stay fast: no Prefect, matplotlib or WeasyPrint imported."""
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from aarshjul.cli_report import report_cli\n"
        "for args in (['done', '1.5/2025/1', '--today', '2025-11-29'], ['kpi', 'list', '--today', '2025-11-29'],\n"
        "             ['report', '2025', '--format', 'md', '--today', '2026-01-10']):\n"
        "    r = CliRunner().invoke(report_cli, args)\n"
        "    assert r.exit_code == 0, (args, r.output, r.exception)\n"
        "heavy = sorted(m for m in ('prefect', 'matplotlib', 'weasyprint') if m in sys.modules)\n"
        "print('heavy:', heavy)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env={**os.environ}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "heavy: []" in result.stdout


def _registered() -> bool:
    from typer.main import get_command

    from aarshjul.cli import app

    names = get_command(app).commands
    return {"done", "not-held", "cancel", "comment", "kpi", "report"} <= set(names)


def test_through_python_m_aarshjul_a_mistake_exits_with_status_2(env, tmp_path):
    assert _registered()
    run = lambda *args: subprocess.run([sys.executable, "-m", "aarshjul", *args, *TODAY], capture_output=True,  # noqa: E731
                                       text=True, timeout=120, cwd=tmp_path, env={**os.environ, "COLUMNS": "200"})
    good = run("done", "1.5/2025/1", "--date", "2025-03-26", "--attendance", "12")
    assert good.returncode == 0, good.stderr
    assert "registrert som gjennomført 26. mars 2025, 12 deltakere" in good.stdout
    bad = run("done", "1.5/2025/1", "--attendance", "-1")
    assert bad.returncode == 2 and "antall deltakere kan ikke være negativt" in bad.stderr
    unknown = run("done", "1.5/2025/9")
    assert unknown.returncode == 2 and "1.5/2025/1" in unknown.stderr
