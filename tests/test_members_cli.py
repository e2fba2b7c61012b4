"""`aarshjul members ...` through Typer's runner, on a temporary SQLite database.

The sub-app is invoked on its own (cli.py registers it as `members`). AarshjulError
propagates out of the runner (result.exception): turning it into a message and exit
status 2 is cli.main()'s job.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from datetime import timedelta

import pytest
from rich.console import Console
from sqlalchemy import select
from typer.testing import CliRunner

from aarshjul import cli_members
from aarshjul.cli_members import members_app
from aarshjul.db.members import MemberNotFound
from aarshjul.db.models import Member
from aarshjul.db.session import make_engine, session_scope
from aarshjul.domain.errors import AarshjulError
from aarshjul.domain.members_csv import ExportError
from aarshjul.domain.postcodes import PostcodeTableError
from aarshjul.settings import get_settings
from conftest import ROOT
from test_members_db import TODAY, csv_bytes, member, realistic_export

runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A temporary database and the bundled plan, through the environment."""
    url = f"sqlite:///{tmp_path / 'db' / 'aarshjul.db'}"
    monkeypatch.setenv("AARSHJUL_DATABASE_URL", url)
    monkeypatch.setenv("AARSHJUL_PLAN", str(ROOT / "config" / "plan.yaml"))
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def invoke(*args: str, input: str | None = None):
    return runner.invoke(members_app, [*args], input=input)


def ok(*args: str, input: str | None = None) -> str:
    result = invoke(*args, input=input)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def stored(url: str) -> dict[str, Member]:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return {m.number: m for m in session.scalars(select(Member))}
    finally:
        engine.dispose()


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


@pytest.fixture(scope="module")
def org():
    from test_members_db import Org
    from aarshjul.domain.load import load_plan
    from aarshjul.domain.postcodes import load_postcodes

    plan = load_plan(ROOT / "config" / "plan.yaml")
    branches = {i: b.name for i, b in plan.bodies.items() if b.kind in ("branch", "student_branch")}
    return Org(plan.organisation.id, branches, tuple(plan.bodies), load_postcodes(ROOT / "config" / "postcodes.yaml",
                                                                                 branches))


def summary(output: str) -> dict[str, int]:
    out = {}
    for line in output.splitlines():
        parts = line.rsplit(None, 1)
        if line.startswith("  ") and len(parts) == 2 and parts[1].isdigit():
            out[parts[0].strip()] = int(parts[1])
    return out


# --- import ---------------------------------------------------------------------------------


def test_import_a_realistic_export_prints_a_summary_without_personal_data(env, tmp_path, org):
    gen = realistic_export(org, n=2000, seed=7)
    path = write(tmp_path, "medlemmer.csv", gen.data)
    output = ok("import", path, "--today", TODAY.isoformat())
    s = summary(output)
    assert s["rader lest"] == gen.rows == s["nye"] + s["endret"] + s["uendret"] + s["hoppet over"] + \
        s["duplikater (siste rad gjelder)"]
    assert (s["hoppet over"], s["advarsler"]) == (gen.skipped, gen.warnings)
    assert s["uten bydelslag"] == sum(1 for e in gen.final.values() if e["branch"] is None)
    assert "Windows-1252" in output and "ignorerte kolonner: Adresse, Poststed, Fødselsår" in output
    assert "aarshjul members unassigned" in output
    words = set(output.replace(",", " ").split())
    assert not (words & gen.names) and "@example.org" not in output
    again = summary(ok("import", path, "--today", (TODAY + timedelta(days=1)).isoformat()))
    assert (again["nye"], again["endret"], again["meldt ut (ikke i eksporten)"]) == (0, 0, 0)
    assert again["uendret"] == len(gen.final)


def test_import_lists_few_unassigned_members_one_by_one(env, tmp_path):
    data = csv_bytes([member("1", Postnummer="5999"), member("2", Postnummer=""), member("3")])
    output = ok("import", write(tmp_path, "m.csv", data), "--today", TODAY.isoformat())
    assert "postnummer 5999 er ikke i tabellen" in output and "mangler postnummer" in output
    assert "Fornavn1" not in output


def test_the_progress_bar_on_a_terminal(env, tmp_path, org, monkeypatch):
    screen = io.StringIO()
    monkeypatch.setattr(cli_members, "out", Console(file=screen, force_terminal=True, width=120))
    gen = realistic_export(org, n=600, seed=3)
    result = invoke("import", write(tmp_path, "m.csv", gen.data), "--today", TODAY.isoformat())
    assert result.exit_code == 0, result.exception
    assert "rader lest" in screen.getvalue()


@pytest.mark.parametrize("data, message", [
    (b"", "filen er tom"),
    (b"PK\x03\x04" + bytes(range(256)) * 8, "Excel-arbeidsbok"),
    (bytes(range(256)) * 8, "binære data"),
    ("Navn;Adresse\nKari Nordmann;Gata 1\n".encode(), "fant ingen kolonne for medlemsnummer"),
])
def test_a_file_that_is_not_an_export_is_an_error_and_nothing_is_written(env, tmp_path, data, message):
    result = invoke("import", write(tmp_path, "m.csv", data), "--today", TODAY.isoformat())
    assert isinstance(result.exception, ExportError) and message in result.exception.say("nb")
    assert "Kari" not in str(result.exception)
    assert not (tmp_path / "db").exists()  # the database was not even created


def test_a_missing_file_and_a_bad_date_are_errors(env, tmp_path):
    result = invoke("import", str(tmp_path / "finnes-ikke.csv"))
    assert isinstance(result.exception, AarshjulError) and "finnes ikke" in result.exception.say("nb")
    assert "does not exist" in result.exception.say("en")
    result = invoke("import", write(tmp_path, "m.csv", csv_bytes([member("1")])), "--today", "29/11/2025")
    assert result.exit_code == 2  # a usage error, worded as for every command's --today
    assert "Invalid value for '--today': '29/11/2025' er ikke en dato" in result.output
    assert not (tmp_path / "db").exists()


def test_a_refused_import_writes_nothing(env, tmp_path):
    ok("import", write(tmp_path, "all.csv", csv_bytes([member(str(n)) for n in range(1, 31)])), "--today", "2025-11-01")
    result = invoke("import", write(tmp_path, "few.csv", csv_bytes([member("1")])), "--today", "2025-11-29")
    assert isinstance(result.exception, AarshjulError) and "--allow-many-left" in str(result.exception)
    assert all(m.status == "active" for m in stored(env).values())
    ok("import", str(tmp_path / "few.csv"), "--today", "2025-11-29", "--allow-many-left")
    assert sum(m.status == "left" for m in stored(env).values()) == 29


# --- the plan's postcode table -----------------------------------------------------------------


@pytest.fixture
def plan_copy(tmp_path, monkeypatch):
    """The bundled plan's folder without its postcode table."""
    folder = tmp_path / "plan"
    shutil.copytree(ROOT / "config", folder)
    (folder / "postcodes.yaml").unlink()
    return folder


def test_without_a_table_beside_the_plan_members_are_unassigned_with_that_reason(env, tmp_path, plan_copy):
    data = csv_bytes([member("1"), member("2", Bydelslag="Fana SV")])
    output = ok("import", write(tmp_path, "m.csv", data), "--plan", str(plan_copy / "plan.yaml"),
                "--today", TODAY.isoformat())
    assert summary(output)["uten bydelslag"] == 1 and "ingen postnummertabell" in output
    listed = ok("unassigned", "--plan", str(plan_copy / "plan.yaml"), "--format", "json")
    assert '"number": "1"' in listed and "ingen postnummertabell" in listed and '"2"' not in listed


def test_a_bad_table_beside_the_plan_is_an_error_with_file_and_line(env, tmp_path, plan_copy):
    (plan_copy / "postcodes.yaml").write_text('postcodes:\n  - {from: "5003", to: "5018", branch: sentrum}\n',
                                              encoding="utf-8")
    result = invoke("import", write(tmp_path, "m.csv", csv_bytes([member("1")])), "--plan",
                    str(plan_copy / "plan.yaml"))
    assert isinstance(result.exception, PostcodeTableError)
    assert f"{plan_copy / 'postcodes.yaml'}:2" in str(result.exception) and "sentrum" in str(result.exception)


# --- the other commands ---------------------------------------------------------------------------


def test_unassigned_lists_numbers_postcodes_and_reasons(env, tmp_path):
    assert "Ingen aktive medlemmer står uten bydelslag" in ok("unassigned")  # no database yet: none
    assert not (tmp_path / "db").exists()
    ok("import", write(tmp_path, "m.csv", csv_bytes([member("7", Postnummer="5999"), member("8", Postnummer=""),
                                                     member("9")])), "--today", TODAY.isoformat())
    output = ok("unassigned")
    assert "7" in output and "5999" in output and "postnummer 5999 er ikke i tabellen" in output
    assert "mangler postnummer" in output and "Fornavn" not in output and "example.org" not in output


def test_contacted_records_a_contact_and_rejects_an_unknown_number(env, tmp_path):
    ok("import", write(tmp_path, "m.csv", csv_bytes([member("1", Innmeldt="20.11.2025")])),
       "--today", TODAY.isoformat())
    result = invoke("contacted", "999", "--today", TODAY.isoformat())
    assert isinstance(result.exception, MemberNotFound) and "ukjent medlemsnummer '999'" in result.exception.say("nb")
    result = invoke("contacted", "1", "--date", "31.12.2025", "--today", TODAY.isoformat())
    assert isinstance(result.exception, AarshjulError) and "i fremtiden" in str(result.exception)
    output = ok("contacted", "1", "--by", "Leder i Bergenhus", "--note", "Ringte", "--date", "25.11.2025",
                "--today", TODAY.isoformat())
    assert "medlem 1 kontaktet 2025-11-25 (innen fristen)" in output
    follow = ok("follow-ups", "--today", TODAY.isoformat())
    assert "Bergenhus SV" in follow and "100%" in follow


def test_follow_ups_and_counts(env, tmp_path):
    assert "Ingen medlemmer" in ok("follow-ups")
    ok("import", write(tmp_path, "m.csv", csv_bytes([member("1", Innmeldt="01.11.2025"),
                                                     member("2", Innmeldt="20.11.2025", Postnummer="5131")])),
       "--today", TODAY.isoformat())
    output = ok("follow-ups", "--today", "2025-12-05")
    assert "forfalt" in output and "5 dager igjen" in output and "Åsane SV" in output
    table = ok("counts")
    assert "2025-11-29" in table and "Bergenhus SV" in table
    rows = ok("counts", "--format", "json")
    assert '"branch": "asane"' in rows and '"members": 1' in rows


def test_forget_then_reimport_keeps_them_forgotten(env, tmp_path):
    path = write(tmp_path, "m.csv", csv_bytes([member("1", Mobil="91234567"), member("2")]))
    ok("import", path, "--today", TODAY.isoformat())
    aborted = invoke("forget", "1", input="n\n")
    assert aborted.exit_code == 1 and stored(env)["1"].first_name == "Fornavn1"
    assert "navn, e-post, telefon og postnummer er slettet" in ok("forget", "1", input="y\n")
    assert "allerede glemt" in ok("forget", "1", "--yes")
    m = stored(env)["1"]
    assert (m.first_name, m.last_name, m.email, m.phone, m.postcode) == (None,) * 5 and m.branch == "bergenhus"
    output = ok("import", path, "--today", (TODAY + timedelta(days=1)).isoformat())
    assert summary(output)["glemt, ikke gjeninnført"] == 1 and summary(output)["uendret"] == 2
    assert stored(env)["1"].email is None
    result = invoke("forget", "3", "--yes")
    assert isinstance(result.exception, MemberNotFound)


def test_read_only_commands_do_not_import_prefect(env, tmp_path):
    ok("import", write(tmp_path, "m.csv", csv_bytes([member("1")])), "--today", TODAY.isoformat())
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom aarshjul.cli_members import members_app\n"
            "for args in (['unassigned'], ['counts'], ['follow-ups']):\n"
            "    r = CliRunner().invoke(members_app, args)\n"
            "    assert r.exit_code == 0, (args, r.output, r.exception)\n"
            "assert 'prefect' not in sys.modules, 'prefect was imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("lang, said, not_said", [("nb", "mangler medlemsnummer", "no member number"),
                                                  ("en", "no member number", "mangler medlemsnummer")])
def test_row_problems_are_said_in_the_readers_language(env, tmp_path, monkeypatch, lang, said, not_said):
    from aarshjul.settings import get_settings

    monkeypatch.setenv("AARSHJUL_LANG", lang)
    get_settings.cache_clear()
    data = csv_bytes([member("1"), member("", Fornavn="Uten")])
    output = ok("import", write(tmp_path, "m.csv", data), "--today", TODAY.isoformat())
    get_settings.cache_clear()
    assert said in output and not_said not in output, output
