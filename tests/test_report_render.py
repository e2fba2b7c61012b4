"""The yearly report of a realistic year, from a real database, in HTML, PDF and Markdown.

The year is written by tests/report_year.py (completions for most of 2025's occurrences
of the bundled plan, some not held, some cancelled; standing measures; comments; income;
members, follow-ups and monthly member counts). The report's numbers are checked
against the log with queries of their own, and the PDF is printed to PNG pages the way
a person would look at it; two pages are kept in var/test-output/ (gitignored):
report-2025-page-1.png and report-2025-targets.png.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from datetime import date

import pytest
from sqlalchemy import select

from aarshjul.db.models import Completion
from aarshjul.db.report import load_report
from aarshjul.db.session import make_engine, session_scope
from aarshjul.domain.targets import load_targets, targets_path
from aarshjul.tasks.report_render import render_html, render_markdown, write_report
from conftest import ROOT
from report_year import REASONS, generate_year

TODAY = date(2026, 1, 12)
OUTPUT = ROOT / "var" / "test-output"


def report_of(url, plan, year=2025, today=TODAY):
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return load_report(session, plan, load_targets(targets_path(plan), plan), year, today)
    finally:
        engine.dispose()


def test_the_reports_numbers_match_the_log(database_url, bundled):
    year = generate_year(database_url, bundled)
    report = report_of(database_url, bundled)
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            log = list(session.scalars(select(Completion)))
    finally:
        engine.dispose()
    by_key = {c.occurrence_key: c for c in log if c.occurrence_key}
    markdown = render_markdown(report)
    for m in report.measures:
        keys = [line.key for line in m.lines]
        states = Counter(by_key[k].outcome for k in keys if k in by_key)
        assert (m.held, m.not_held, m.cancelled) == (states["held"], states["not_held"], states["cancelled"]), m.number
        dated = [c for c in log if c.measure == m.number and c.occurrence_key is None and c.on_date.year == 2025]
        assert m.held_records == sum(c.outcome == "held" for c in dated)
        attendance = [by_key[k].attendance for k in keys if k in by_key and by_key[k].outcome == "held"] + \
            [c.attendance for c in dated if c.outcome == "held"]
        assert m.attendance == (sum(a for a in attendance if a is not None)
                                if any(a is not None for a in attendance) else None), m.number
        if m.lines:
            assert f"{m.held} av {m.planned} holdt" in markdown
        if m.attendance:
            assert f"{m.attendance:,} deltakere".replace(",", "\u00a0") in markdown
    # ... and the generator's own account of what it wrote
    lines = {line.key: line for m in report.measures for line in m.lines}
    assert {k for k, line in lines.items() if line.state == "held"} == set(year.held)
    assert {k for k, line in lines.items() if line.state == "not_held"} == set(year.not_held)
    assert {k for k, line in lines.items() if line.state == "cancelled"} == set(year.cancelled)
    assert {m.number: m.held_records for m in report.measures if m.held_records} == year.standing
    assert {m.number: m.comment for m in report.measures if m.comment} == year.comments
    counts = report.counts
    assert sum(counts.values()) == 47 and counts["done"] and counts["partial"] and counts["not_done"]
    targets = {p.target.name: p for p in report.targets}
    assert targets["inntekt"].current.value == year.income[date(2025, 12, 31)]
    last = max(year.counts)
    assert targets["medlemmer"].current.value == year.counts[last][0]
    assert targets["aktivister"].status == "reached"  # the campaign peak before the election
    assert (report.follow_up_total.new, report.follow_up_total.contacted) == (year.new_members,
                                                                              year.contacted_in_time)


@pytest.fixture(scope="module")
def realistic(tmp_path_factory, bundled):
    """A realistic 2025 in SQLite, and its report written in all three formats."""
    from aarshjul.db.migrate import upgrade

    folder = tmp_path_factory.mktemp("report")
    url = f"sqlite:///{folder / 'aarshjul.db'}"
    upgrade(url)
    year = generate_year(url, bundled)
    report = report_of(url, bundled)
    files = write_report(report, ["html", "pdf", "md"], folder / "out", bundled.organisation.id)
    return year, report, files, folder


def test_a_realistic_year_renders_in_all_three_formats(realistic):
    year, report, files, _ = realistic
    assert set(files) == {"html", "pdf", "md"} and all(p.name.startswith("aarsrapport-bergen-sv-2025") for p in
                                                       files.values())
    md = files["md"].read_text(encoding="utf-8")
    html = files["html"].read_text(encoding="utf-8")
    for text in (md, html):
        for goal in range(1, 7):
            assert f"Mål {goal}: " in text
        assert "Møter for nye medlemmer" in text and "Åpne hull i 2025" in text
        assert "Oppfølging av nye medlemmer (tiltak 1.4)" in text and "Styrets kommentar" in text
        assert "Slik er statusen satt" in text and any(reason in text for reason in REASONS)
        assert "Kari" not in text and "Person10" not in text  # who recorded, and members: never in the report
    assert md.count("\n### ") >= 47 and "Utkast" not in md  # 2025 is over on 12 January 2026
    assert html.count("<svg") == len(report.targets) == 5 and "@page" in html and "break-before: page" in html
    assert "thead { display: table-header-group; }" in html
    assert 'href="https://bergen.sv.example.org/referat/' in html
    assert files["pdf"].read_bytes().startswith(b"%PDF-")


@pytest.mark.skipif(not shutil.which("pdftotext") or not shutil.which("pdftoppm"), reason="needs poppler-utils")
def test_the_pdf_reads_like_the_report_and_prints_to_pages(realistic):
    _, report, files, folder = realistic
    pdf = files["pdf"]
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info)[1])
    assert "A4" in info or "595.276 x 841.89" in info
    assert 10 <= pages <= 40
    texts = [subprocess.run(["pdftotext", "-layout", "-f", str(n), "-l", str(n), str(pdf), "-"], capture_output=True,
                            text=True, check=True).stdout for n in range(1, pages + 1)]
    assert "Årsrapport 2025" in texts[0] and "Sammendrag" in texts[0]
    everything = "\n".join(texts)
    for word in ("Øke andelen aktive medlemmer", "Åsane SV", "Laksevåg SV", "Bydelslagene", "gjennomført",
                 "ikke aktuelt i år", "Oppfølging av nye medlemmer", "side 2 av"):
        assert word in everything, word
    goal_pages = [next(i for i, t in enumerate(texts) if f"Mål {g}: " in t and i > 0) for g in range(1, 7)]
    assert goal_pages == sorted(goal_pages) and len(set(goal_pages)) == 6  # each goal starts its own page
    chart_page = next(i for i, t in enumerate(texts) if "Måltall for mål 1" in t) + 1
    out = folder / "png"
    out.mkdir()
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(out / "page")], check=True)
    pngs = sorted(out.glob("page-*.png"))
    assert len(pngs) == pages and all(p.stat().st_size > 5_000 for p in pngs)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    shutil.copy(pngs[0], OUTPUT / "report-2025-page-1.png")
    shutil.copy(pngs[chart_page - 1], OUTPUT / "report-2025-targets.png")
    shutil.copy(pdf, OUTPUT / "report-2025.pdf")


def test_a_year_with_no_data_renders_in_all_three_formats(tmp_path, bundled):
    report = load_report(None, bundled, load_targets(targets_path(bundled), bundled), 2026, date(2027, 1, 8))
    assert {m.status for m in report.measures} <= {"unrecorded", "not_applicable", "ongoing"}
    files = write_report(report, ["md", "html", "pdf"], tmp_path, "bergen-sv")
    md = files["md"].read_text(encoding="utf-8")
    assert "ikke registrert" in md and "ikke aktuelt i år" in md and "Ingen nye medlemmer registrert i 2026" in md
    assert "Ingen målinger til og med 31. desember 2026" in md
    html = files["html"].read_text(encoding="utf-8")
    assert html.count("Ingen målinger ennå") == 5  # each chart says so
    assert files["pdf"].read_bytes().startswith(b"%PDF-")


def test_markdown_cells_survive_pipes_and_line_breaks(bundled):
    from aarshjul.domain.report import Record, build_report

    note = "Møte | debatt\nmed vafler"
    report = build_report(bundled, 2025, TODAY, [Record("1.5/2025/1", "1.5", "1.5/2025/1", "held", date(2025, 3, 2),
                                                        7, note)])
    md = render_markdown(report)
    assert "| Møte \\| debatt med vafler |" in md
    html = render_html(report, charts=False)
    assert "Møte | debatt\nmed vafler" in html and "<svg" not in html
