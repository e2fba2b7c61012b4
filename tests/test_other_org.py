"""Issue 14: a second organisation, not Bergen SV, goes through every command in its own words.

tests/data/other-org is a union branch: a board, a youth committee and three local
groups it calls "lokalgruppe", a plan for 2026-2028 with 17 measures of every cadence
kind (quarterly, monthly and seasonal quotas, a 14-day promise to new members), its own
override of the newsletter's text template, and a member register whose branch column
is called "Lokalgruppe". It goes through check, agenda, run (calendars to the site
folder, mail to the outbox), newsletter preview, members import, the follow-up flows,
and the yearly report; nothing any of them writes contains a word of Bergen SV's. The
same organisation with English as its language (a tmp copy: `locale: en`, its branch word
"local group", an English register) hears check, the import, the follow-ups and the
report in English. The data stay Norwegian: tests/test_mail_languages.py and
tests/test_pages_languages.py make both languages from them by replacing `locale: nb`.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from conftest import DATA

ORG = DATA / "other-org"
# Bergen SV's words: its group word, name, bodies, political wording, the measure numbers once hard-coded
BERGEN = re.compile(r"bydelslag|bergen|bystyre|studentlag|kraft i bydelene|\bparti(et)?\b|tiltak 1\.4\b|"
                    r"tiltak 2\.12\b|\(1\.4\)|\(2\.12\)", re.IGNORECASE)


def assert_own_words(text: str, where: str) -> None:
    found = BERGEN.search(text) or re.search(r"\bSV\b", text)
    assert found is None, f"{where}: Bergen SV's word {found.group(0)!r} in {text[max(0, found.start() - 80):found.end() + 80]!r}"


@pytest.fixture
def org(tmp_path) -> Path:
    folder = tmp_path / "org"
    shutil.copytree(ORG, folder)
    return folder


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "AARSHJUL_"))}
    env.update({"AARSHJUL_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'a.db'}",
                "AARSHJUL_SITE_DIR": str(tmp_path / "site"), "AARSHJUL_OUTBOX_DIR": str(tmp_path / "outbox"),
                "AARSHJUL_SECRET_KEY_FILE": str(tmp_path / "var" / "secret.key"), "COLUMNS": "200"})
    return env


def aarshjul(tmp_path: Path, org: Path, *args: str, today: str = "2026-03-01", timeout: int = 120) -> str:
    result = subprocess.run([sys.executable, "-m", "aarshjul", *args, "--plan", str(org / "plan.yaml"),
                             "--today", today], cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert_own_words(result.stdout + result.stderr, " ".join(args))
    return result.stdout


def test_check_agenda_preview_import_follow_ups_and_report_in_the_organisations_own_words(org, tmp_path):
    out = aarshjul(tmp_path, org, "check")
    assert "Planen er gyldig: Handlingsplan for avdeling 12, 2026-2028 — 4 mål, 17 tiltak" in out

    agenda = json.loads(aarshjul(tmp_path, org, "agenda", "--from", "2026-01-01", "--to", "2026-12-31",
                                 "--format", "json"))
    keys = {o["key"]: o for o in agenda}
    assert {"1.2/2026-Q1", "1.2/2026-Q4", "2.2/2026-03", "2.3/2026/var", "2.3/2026/host",
            "2.1/2026-H1/nord/1", "4.5/2026/vest", "3.2/2026"} <= set(keys)
    assert keys["1.2/2026-Q1"]["place"] == "Folkets hus, sal 2"
    assert len({o["uid"] for o in agenda}) == len(agenda)
    assert_own_words(json.dumps(agenda, ensure_ascii=False), "agenda")

    preview = aarshjul(tmp_path, org, "newsletter", "preview", "medlemsbrev", "--edition", "2026-03")
    assert "Solidarisk hilsen" in preview and "Kjære Ola" in preview  # the organisation's own template
    assert "Tariffoppgjøret nærmer seg" in preview

    imported = aarshjul(tmp_path, org, "members", "import", str(org / "medlemmer.csv"))
    assert "ignorerte kolonner" not in imported  # "Lokalgruppe" is the branch column, not ignored
    assert "uten lokalgruppe" in imported and "nye oppfølginger (tiltak 1.3, innen 14 dager)" in imported
    from aarshjul.db.members import open_follow_ups
    from aarshjul.db.session import make_engine, session_scope

    engine = make_engine(_env(tmp_path)["AARSHJUL_DATABASE_URL"])
    with session_scope(engine) as session:
        groups = {b: [(f.member_number, f.due) for f in fs]
                  for b, fs in open_follow_ups(session, "fagforeningen-nord", date(2026, 3, 1)).items()}
    engine.dispose()
    # the column "Lokalgruppe" was read (5001 by name, 5002 by id), 5003 by postcode; due 14 days after joining
    assert groups == {"": [("5004", date(2026, 3, 13))], "nord": [("5001", date(2026, 3, 6))],
                      "sentrum": [("5002", date(2026, 3, 11))]}

    follow = aarshjul(tmp_path, org, "members", "follow-ups")
    assert "Lokalgruppe" in follow and "(tiltak 1.3, innen 14 dager)" in follow
    aarshjul(tmp_path, org, "members", "contacted", "5001", "--date", "2026-03-02", today="2026-03-02")

    report = tmp_path / "rapport.md"
    aarshjul(tmp_path, org, "report", "2026", "--format", "md", "--out", str(report), today="2026-03-02")
    text = report.read_text(encoding="utf-8")
    assert "Oppfølging av nye medlemmer (tiltak 1.3)" in text
    assert "lokalgruppa kontaktet innen 14 dager" in text and "| Lokalgruppe | Nye |" in text
    assert "(uten lokalgruppe)" in text
    assert_own_words(text, "report")


def test_run_publishes_the_calendars_and_mail_in_the_organisations_words(org, tmp_path):
    result = subprocess.run([str(Path(sys.executable).parent / "aarshjul"), "run", "--today", "2026-02-20",
                             "--plan", str(org / "plan.yaml")], cwd=tmp_path, env=_env(tmp_path),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert_own_words(result.stdout + result.stderr, "run")
    site = tmp_path / "site"
    files = [p for p in site.rglob("*") if p.is_file()]
    assert site / "index.html" in files and any(p.suffix == ".ics" for p in files)
    for path in files:
        assert_own_words(path.read_text(encoding="utf-8"), str(path.relative_to(site)))
    public = (site / "calendars" / "offentlig.ics").read_text(encoding="utf-8")
    assert "Åpen kontortid" in public and "Arbeidernes dag" in public
    mails = sorted((tmp_path / "outbox").rglob("*.eml"))
    assert mails, "the reminders due on 20 February went to the outbox"
    for path in mails:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        text = msg.get_body(("plain",)).get_content()
        assert_own_words(str(msg["Subject"]) + str(msg["From"]) + text, path.name)


def test_the_follow_up_flows_keep_the_plans_promise_and_its_words(org, tmp_path, prefect_harness, monkeypatch):
    from aarshjul.db.completions import completions
    from aarshjul.db.session import make_engine, session_scope
    from aarshjul.flows.members import follow_up_dues, follow_up_new_members
    from aarshjul.settings import get_settings

    aarshjul(tmp_path, org, "members", "import", str(org / "medlemmer.csv"))
    for name, value in _env(tmp_path).items():
        if name.startswith("AARSHJUL_"):
            monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        first = follow_up_new_members(str(org / "plan.yaml"), date(2026, 3, 2))
        assert (first.branches_notified, first.members_listed) == (2, 2)
        later = follow_up_new_members(str(org / "plan.yaml"), date(2026, 3, 12))  # 5001 is past its 14 days
        assert later.escalated == 2  # 5001 (nord) and 5002 (sentrum); 5004 is due 13 March
        dues = follow_up_dues(str(org / "plan.yaml"), date(2026, 3, 5))
        assert dues.reminded == 2
    finally:
        get_settings.cache_clear()
    texts = {}
    for path in sorted((tmp_path / "outbox").rglob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        text = str(msg["Subject"]) + "\n" + msg.get_body(("plain",)).get_content()
        assert_own_words(text, path.name)
        texts.setdefault(path.parent.name.split("_")[0], []).append(text)
    assert any("innen 14 dager etter innmelding (tiltak 1.3)" in t for t in texts["followup"])
    assert any("kontaktet 14 dager etter innmelding (tiltak 1.3)" in t for t in texts["followup-overdue"])
    assert any("en telefon fra lokalgruppa hjelper ofte (tiltak 2.4)" in t for t in texts["kontingent-liste"])
    assert any("det er medlemmene som er Fagforeningen Nord, avdeling 12" in t for t in texts["kontingent"])
    engine = make_engine(_env(tmp_path)["AARSHJUL_DATABASE_URL"])
    with session_scope(engine) as session:
        logged = [r.measure for r in completions(session, "fagforeningen-nord")]
    engine.dispose()
    assert logged == ["2.4"]  # the plan's dues measure, not a number in the code


# --- the same organisation, English as its language ----------------------------------------

ENGLISH_WORD = ("  branch_word:\n    singular: local group\n    plural: local groups\n"
                "    definite: the local group\n    definite_plural: the local groups\n")
# Norwegian words of ours (the organisation's own texts, in Norwegian in these files, are taken out first)
NORWEGIAN = re.compile(r"\b(tiltak|innen|dager|uten|lokalgruppa|nye oppfølginger|ikke|mål|medlemmer|gyldig|"
                       r"advarsler|forekomster|kontaktet|Lokalgruppe \|)\b")


def _english(org: Path) -> None:
    path = org / "organisation.yaml"
    text = path.read_text(encoding="utf-8").replace("  locale: nb\n", "  locale: en\n")
    text = re.sub(r"  branch_word:\n(    .*\n)+", ENGLISH_WORD, text)
    assert "locale: en" in text and "singular: local group" in text
    path.write_text(text, encoding="utf-8")


def _theirs(text: str, org: Path) -> str:
    """`text` without the organisation's own words (titles, names, places from its files)."""
    from conftest import yaml_texts

    names = ("plan.yaml", "organisation.yaml", "targets.yaml", "schedule.yaml")
    words = {value for value in yaml_texts(*(org / name for name in names)) if len(value) > 2}
    for word in sorted(words, key=len, reverse=True):
        text = text.replace(word, " ")
    return text


def test_an_english_organisation_hears_check_import_follow_ups_and_the_report_in_english(org, tmp_path):
    _english(org)

    def english(*args: str, today: str = "2026-03-01") -> str:
        result = subprocess.run([sys.executable, "-m", "aarshjul", *args, "--plan", str(org / "plan.yaml"),
                                 "--today", today, "--lang", "en"], cwd=tmp_path, env=_env(tmp_path),
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        assert_own_words(result.stdout + result.stderr, " ".join(args))
        return result.stdout

    out = english("check")
    assert "The plan is valid: Handlingsplan for avdeling 12, 2026-2028 — 4 goals, 17 measures" in out
    assert not NORWEGIAN.search(_theirs(out, org)), out
    register = org / "members.csv"  # an English register: its branch column is named by the branch word
    register.write_text((org / "medlemmer.csv").read_text(encoding="utf-8").replace(
        "Medlemsnummer;Fornavn;Etternavn;E-post;Mobil;Postnummer;Innmeldt;Kontingent betalt;Aktivist;Lokalgruppe",
        "Member number;First name;Last name;Email;Mobile;Postal code;Joined;Dues paid;Activist;Local group").replace(
        ";ja;", ";yes;").replace(";nei;", ";no;"), encoding="utf-8")
    imported = english("members", "import", str(register))
    assert "without a local group" in imported and "new follow-ups (measure 1.3, within 14 days)" in imported
    assert "ignored columns" not in imported  # "Local group" is the branch column
    follow = english("members", "follow-ups")
    assert "Local group" in follow and "(measure 1.3, within 14 days)" in follow
    assert re.search(r"Lokalgruppe Nord\W+5001\b", follow) and re.search(r"Lokalgruppe Sentrum\W+5002\b", follow)
    assert not NORWEGIAN.search(_theirs(follow, org)), follow
    english("members", "contacted", "5001", "--date", "2026-03-02", today="2026-03-02")
    report = tmp_path / "report.md"
    english("report", "2026", "--format", "md", "--out", str(report), today="2026-03-02")
    text = report.read_text(encoding="utf-8")
    assert "Follow-up of new members (measure 1.3)" in text
    assert "the local group contacted within 14 days" in text and "| Local group | New |" in text
    assert_own_words(text, "report")
