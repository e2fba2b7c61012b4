"""Reading member exports and the postcode table: pure functions, no database."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, Iterator

import pytest

from aarshjul.domain.members_csv import ExportError, parse_date, parse_export
from aarshjul.domain.postcodes import (NO_POSTCODE, NO_TABLE, PostcodeTableError, assign, load_postcodes,
                                       not_in_table, parse_table)
from aarshjul.domain.yamlsource import load_yaml
from conftest import ROOT

TODAY = date(2025, 11, 29)
BRANCHES = {"arna": "Arna SV", "arstad": "Årstad SV", "asane": "Åsane SV", "bergenhus": "Bergenhus SV",
            "fana": "Fana SV", "fyllingsdalen": "Fyllingsdalen SV", "laksevag": "Laksevåg SV",
            "ytrebygda": "Ytrebygda SV", "studentlaget": "Studentlaget"}
BODIES = (*BRANCHES, "styret", "au", "bystyregruppen")

HEADER = ["Medlemsnummer", "Fornavn", "Etternavn", "E-post", "Mobil", "Postnummer", "Innmeldt",
          "Kontingent betalt", "Bydelslag", "Aktivist", "Roller"]
ROWS = [
    ["1001", "Kari", "Nordmann", "kari@example.org", "912 34 567", "5003", "25.01.2025", "ja", "", "nei", ""],
    ["1002", "Øystein", "Ås", "oystein@example.org", "+47 48 00 00 00", "5131", "2025-03-01", "x", "", "ja",
     "styret,au"],
    ["1003", "Åse", "Læreid", "", "", "", "1.2.2024", "nei", "Årstad SV", "", ""],
]


def csv_text(header=HEADER, rows=ROWS, sep=";") -> str:
    def cell(v: str) -> str:
        return f'"{v}"' if (sep in v or '"' in v) else v
    return "\r\n".join(sep.join(cell(v) for v in r) for r in [header, *rows]) + "\r\n"


def parse(data: bytes | str, today=TODAY, **kw):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return parse_export(data, today=today, branches=BRANCHES, bodies=BODIES, source="medlemmer.csv", **{"branch_column": ("bydelslag",), **kw})


def by_number(export):
    return {m.number: m for m in export.members}


# --- encodings and separators ------------------------------------------------------------


@pytest.mark.parametrize("encoding, name", [("utf-8", "UTF-8"), ("utf-8-sig", "UTF-8"), ("cp1252", "Windows-1252"),
                                            ("utf-16", "UTF-16")])
@pytest.mark.parametrize("sep", [";", ",", "\t"])
def test_every_encoding_and_separator_reads_the_same(encoding, name, sep):
    export = parse(csv_text(sep=sep).encode(encoding))
    assert export.encoding == name and export.delimiter == sep
    assert export.rows_read == 3 and not export.issues
    m = by_number(export)
    assert m["1002"].first_name == "Øystein" and m["1002"].last_name == "Ås"
    assert m["1003"].first_name == "Åse" and m["1003"].last_name == "Læreid"
    assert m["1002"].roles == "au,styret"  # quoted with "," as separator
    assert m["1001"].phone == "91234567" and m["1002"].phone == "+4748000000"


def test_excel_sep_line_is_honoured():
    export = parse("sep=,\n" + csv_text(sep=","))
    assert export.delimiter == "," and len(export.members) == 3
    assert not export.issues  # row numbers still count the header as row 1


def test_values_are_parsed():
    m = by_number(parse(csv_text()))
    assert m["1001"].joined == date(2025, 1, 25) and m["1002"].joined == date(2025, 3, 1)
    assert m["1003"].joined == date(2024, 2, 1)  # 1.2.2024
    assert (m["1001"].dues_paid, m["1002"].dues_paid, m["1003"].dues_paid) == (True, True, False)
    assert (m["1001"].activist, m["1002"].activist, m["1003"].activist) == (False, True, False)
    assert m["1003"].branch == "arstad" and m["1001"].branch is None
    assert m["1001"].email == "kari@example.org" and m["1003"].email is None
    assert m["1001"].postcode == "5003" and m["1003"].postcode is None


@pytest.mark.parametrize("text, day", [("25.01.2025", date(2025, 1, 25)), ("25.1.2025", date(2025, 1, 25)),
                                       ("2025-01-25", date(2025, 1, 25)), ("25.01.2025 00:00", date(2025, 1, 25)),
                                       ("31.02.2025", None), ("2025/01/25", None), ("januar", None)])
def test_dates(text, day):
    assert parse_date(text) == day


# --- headers ------------------------------------------------------------------------------


def test_header_case_aliases_and_extra_columns():
    header = ["MEDLEMSNR", "fornavn", "ETTERNAVN", "Email", "Telefon", "postnr", "Joined", "betalt", "Lokallag",
              "AKTIVIST", "Adresse", "Fødselsdato"]
    rows = [["7", "Kari", "Nordmann", "k@example.org", "91234567", "5003", "2025-01-25", "1", "fana", "x",
             "Gata 1", "01.01.1990"]]
    export = parse(csv_text(header, rows))
    m = export.members[0]
    assert (m.number, m.email, m.phone, m.postcode, m.branch, m.activist, m.dues_paid) == \
        ("7", "k@example.org", "91234567", "5003", "fana", True, True)
    assert export.ignored == ("Adresse", "Fødselsdato")
    assert export.columns["number"] == "MEDLEMSNR" and not export.issues


def test_member_number_column_with_english_name_and_underscores():
    export = parse("member_number;first_name\n5;Kari\n")
    assert export.members[0].number == "5" and export.members[0].first_name == "Kari"


def test_two_columns_for_one_field_the_documented_name_wins():
    export = parse("Medlemsnummer;Telefon;Mobil\n1;22222222;99999999\n")
    assert export.members[0].phone == "99999999" and export.ignored == ("Telefon",)


# --- whole-file errors ------------------------------------------------------------------

# Norwegian words of ours that must not be in an English message (the register's own
# column names, like "medlemsnummer", are the file's words and may be)
NORWEGIAN = re.compile(r"\b(filen|ikke|rad|ingen|eller|mangler|ugyldig|importert|verdien|lagre|kolonne)\b")


@contextmanager
def refused(nb: str) -> Iterator[Any]:
    """An ExportError whose Norwegian message matches `nb`, and whose English one holds no Norwegian."""
    with pytest.raises(ExportError) as info:
        yield info
    assert re.search(nb, info.value.say("nb")), info.value.say("nb")
    assert not NORWEGIAN.search(info.value.say("en")), info.value.say("en")


@pytest.mark.parametrize("data", [b"", b"   \r\n\r\n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n"])
def test_an_empty_file_is_an_error(data):
    with refused("medlemmer.csv: filen er tom"):
        parse(data)


def test_a_header_without_rows_is_an_error():
    with refused("ingen medlemmer etter overskriftsraden"):
        parse(csv_text(rows=[]) + ";;;;\r\n")


@pytest.mark.parametrize("data, message", [
    (b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)) * 4, "Excel-arbeidsbok"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "Excel-arbeidsbok"),
    (bytes(range(256)) * 8, "binære data"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binære data"),
])
def test_a_file_that_is_not_csv_is_an_error(data, message):
    with refused(message):
        parse(data)


def test_a_file_without_a_member_number_header_is_an_error_that_does_not_echo_row_1():
    with refused("fant ingen kolonne for medlemsnummer") as info:
        parse("1001;Kari;Nordmann;kari@example.org\n1002;Ola;Ås;ola@example.org\n")
    assert "Kari" not in str(info.value) and "kari@" not in str(info.value)
    with refused(r"gjenkjente kolonner: fornavn, e-post"):
        parse("Navn;Fornavn;E-post\nx;Kari;k@example.org\n")


def test_plain_prose_is_not_an_export():
    with refused("medlemsnummer"):
        parse("Hei styret,\nher er lista dere ba om.\nHilsen kassereren\n")


# --- rows -----------------------------------------------------------------------------------


def issues(export, kind=None):
    return [(i.row, i.column, i.number) for i in export.issues if kind is None or i.kind == kind]


def test_a_row_without_member_number_is_skipped_with_its_spreadsheet_row():
    rows = [ROWS[0], ["", "Per", "Uten", "", "", "5003", "", "", "", "", ""], ROWS[1]]
    export = parse(csv_text(rows=rows))
    assert issues(export, "skipped") == [(3, "medlemsnummer", None)]
    assert [m.number for m in export.members] == ["1001", "1002"]
    assert export.rows_read == 3 and export.skipped == 1


def test_blank_lines_are_not_rows_but_still_count_for_row_numbers():
    text = csv_text(rows=[ROWS[0]]) + ";;;;;;;;;;\r\n\r\n" + csv_text(rows=[ROWS[1]]).split("\r\n", 1)[1]
    export = parse(text.replace("oystein@example.org", "oystein @example.org"))
    assert export.rows_read == 2
    assert issues(export) == [(5, "e-post", "1002")]  # header 1, row 2, two blank lines, row 5


@pytest.mark.parametrize("email, reason", [
    ("kari nordmann@example.org", "mellomrom"), ("kari@@example.org", "én @"), ("kari@example@org.no", "én @"),
    ("kari@example", "punktum"), ("kari.example.org", "mangler @"), ("kari@.org", "punktum"),
    ("@example.org", "punktum"),
])
def test_a_bad_email_imports_the_member_without_it(email, reason):
    rows = [["1001", "Kari", "N", email, "", "5003", "", "", "", "", ""]]
    export = parse(csv_text(rows=rows))
    assert export.members[0].email is None and export.members[0].first_name == "Kari"
    (issue,) = export.issues
    assert issue.kind == "warning" and issue.row == 2 and issue.column == "e-post" and reason in issue.message.say("nb")
    assert email not in issue.message.say("nb") and email not in issue.say("en")  # the address is never echoed
    assert not NORWEGIAN.search(issue.say("en")), issue.say("en")


def test_a_date_in_the_future_and_a_bad_date_are_warnings():
    rows = [[n, "", "", "", "", "", joined, "", "", "", ""]
            for n, joined in (("1", "30.11.2025"), ("2", "31.02.2025"), ("3", "29.11.2025"))]
    export = parse(csv_text(rows=rows))
    m = by_number(export)
    assert m["1"].joined is None and m["2"].joined is None and m["3"].joined == TODAY
    assert [(i.row, "fremtiden" in i.message.say("nb"), "er ikke en dato" in i.message.say("nb"))
            for i in export.issues] == [(2, True, False), (3, False, True)]
    assert [(i.row, "in the future" in i.message.say("en"), "is not a date" in i.message.say("en"))
            for i in export.issues] == [(2, True, False), (3, False, True)]


@pytest.mark.parametrize("code, ok", [("5003", True), (" 5003 ", True), ("50 03", True), ("503", False),
                                      ("50030", False), ("5O03", False), ("NO-5003", False)])
def test_a_postcode_must_be_four_digits(code, ok):
    export = parse(csv_text(rows=[["1", "", "", "", "", code, "", "", "", "", ""]]))
    assert (export.members[0].postcode == "5003") is ok
    assert bool(export.issues) is not ok
    if not ok:
        assert export.issues[0].column == "postnummer"


def test_duplicate_member_numbers_the_last_row_wins_and_is_reported():
    rows = [["1001", "Gammel", "", "gammel@example.org", "", "5003", "", "", "", "", ""], ROWS[1],
            ["1001", "Ny", "", "ny@example.org", "", "5131", "", "", "", "", ""]]
    export = parse(csv_text(rows=rows))
    assert [m.number for m in export.members] == ["1002", "1001"]
    assert by_number(export)["1001"].postcode == "5131" and by_number(export)["1001"].row == 4
    (dup,) = export.issues
    assert (dup.kind, dup.row, dup.number) == ("duplicate", 2, "1001") and "rad 4" in dup.message.say("nb")
    assert dup.say("nb").startswith("rad 2, medlemsnummer: ") and dup.say("en").startswith("row 2, medlemsnummer: ")
    assert "on row 4; the last row counts" in dup.say("en")
    assert export.rows_read == len(export.members) + export.skipped + export.duplicates


def test_unknown_yes_no_branch_and_role_are_warnings():
    rows = [["1", "", "", "", "", "5003", "", "kanskje", "Sentrum SV", "jepp", "styret,kasserer"]]
    export = parse(csv_text(rows=rows))
    m = export.members[0]
    assert m.dues_paid is None and m.activist is False and m.branch is None and m.roles == "styret"
    assert [i.column for i in export.issues] == ["kontingent betalt", "bydelslag", "aktivist", "roller"]


@pytest.mark.parametrize("written", ["Årstad SV", "årstad sv", "ÅRSTAD", "arstad", " Årstad  SV "])
def test_a_branch_by_id_or_display_name(written):
    export = parse(csv_text(rows=[["1", "", "", "", "", "", "", "", written, "", ""]]))
    assert export.members[0].branch == "arstad" and not export.issues


def test_a_row_with_a_stray_separator_is_skipped_but_its_member_is_not_lost():
    text = "Medlemsnummer;Fornavn;Etternavn\n1;Kari;Nordmann\n2;Ola;Nord;mann\n"
    export = parse(text)
    assert [m.number for m in export.members] == ["1"]
    assert export.skipped_numbers == {"2"} and export.issues[0].kind == "skipped"
    assert export.damaged == (3,)  # and the import then marks nobody as left (tests/test_members_strict.py)


def test_phone_numbers():
    rows = [[str(i), "", "", "", phone, "", "", "", "", "", ""] for i, phone in
            enumerate(["912 34 567", "0047 912 34 567", "(+47) 912-34-567", "9,12E+07", "ring meg"])]
    m = by_number(parse(csv_text(rows=rows)))
    assert [m[str(i)].phone for i in range(5)] == ["91234567", "+4791234567", "+4791234567", None, None]


# --- the postcode table -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundled_table():
    return load_postcodes(ROOT / "config" / "postcodes.yaml", BRANCHES)


@pytest.mark.parametrize("code, branch", [("5003", "bergenhus"), ("5020", "bergenhus"), ("5021", "arstad"),
                                          ("5131", "asane"), ("5145", "fyllingsdalen"), ("5171", "laksevag"),
                                          ("5221", "fana"), ("5254", "ytrebygda"), ("5265", "arna"),
                                          ("5999", None), ("0150", None), ("5300", None), ("abcd", None)])
def test_the_bundled_table(bundled_table, code, branch):
    assert bundled_table.lookup(code) == branch


def test_every_branch_of_bergen_has_postcodes(bundled_table):
    assert {e.branch for e in bundled_table.entries} == {
        "arna", "bergenhus", "fana", "fyllingsdalen", "laksevag", "ytrebygda", "asane", "arstad"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "postcodes.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_single_code_wins_over_a_range(tmp_path):
    text = ('postcodes:\n  - {from: "5000", to: "5099", branch: arstad}\n  - {code: "5050", branch: fana}\n'
            '  - {from: 5100, to: 5110, branch: asane}\n')
    table = load_postcodes(write(tmp_path, text), BRANCHES)
    assert (table.lookup("5049"), table.lookup("5050"), table.lookup("5051")) == ("arstad", "fana", "arstad")
    assert table.lookup("5100") == "asane" and table.lookup("5111") is None


def test_overlapping_ranges_are_an_error_naming_both_lines(tmp_path):
    path = write(tmp_path, 'postcodes:\n  - {from: "5000", to: "5099", branch: arstad}\n'
                           '  - {from: "5200", to: "5299", branch: fana}\n'
                           '  - {from: "5090", to: "5100", branch: asane}\n')
    with pytest.raises(PostcodeTableError) as info:
        load_postcodes(path, BRANCHES)
    (problem,) = info.value.problems
    assert problem.file == path and problem.line == 4 and "på linje 2" in problem.say("nb")
    assert "on line 2" in problem.say("en") and "linje" not in problem.say("en")
    assert str(path) in str(info.value) and ":4:" in str(info.value)


def test_unknown_branches_and_bad_codes_are_errors_with_lines(tmp_path):
    path = write(tmp_path, 'postcodes:\n'
                           '  - {from: "5000", to: "5099", branch: arstadd}\n'
                           '  - {code: "503", branch: fana}\n'
                           '  - {from: "5200", to: "5100", branch: fana}\n'
                           '  - {code: "5300", branch: fana, bydel: x}\n'
                           '  - {code: "5301", branch: fana}\n'
                           '  - {code: "5301", branch: arna}\n'
                           'extra: 1\n')
    with pytest.raises(PostcodeTableError) as info:
        load_postcodes(path, BRANCHES)
    found = {(p.line, p.message.say("nb").split(" ")[0]) for p in info.value.problems}
    assert (2, "ukjent") in found and "mente du arstad" in info.value.say("nb")
    assert (3, "'503'") in found and (4, "5200") in found and (5, "ukjent") in found
    assert any(p.line == 7 and "linje 6" in p.say("nb") for p in info.value.problems)
    english = info.value.say("en")
    assert "unknown branch 'arstadd'" in english and "did you mean arstad" in english
    assert "'503' is not a postcode" in english and "5200 comes after 5100" in english
    assert not re.search(r"\b(ukjent|mente du|linje|er ikke|kommer etter)\b", english), english
    assert any(p.line == 8 and p.field == "extra" for p in info.value.problems)


def test_no_table_file_is_none(tmp_path):
    assert load_postcodes(tmp_path / "postcodes.yaml", BRANCHES) is None


def test_a_table_without_the_list_is_an_error(tmp_path):
    with pytest.raises(PostcodeTableError, match="postcodes"):
        parse_table(load_yaml(write(tmp_path, "- {code: '5003', branch: fana}\n")), BRANCHES)


def test_assignment_explicit_wins_then_postcode_then_a_reason(bundled_table):
    assert assign("fana", "5003", bundled_table).branch == "fana"
    assert assign("fana", "5003", bundled_table).source == "export"
    assert (assign(None, "5003", bundled_table).branch, assign(None, "5003", bundled_table).source) == \
        ("bergenhus", "postcode")
    assert assign(None, "5999", bundled_table).reason == not_in_table("5999") == "postcode 5999 is not in the table"
    assert not_in_table("5999").say("nb") == "postnummer 5999 er ikke i tabellen"
    assert assign(None, None, bundled_table).reason == NO_POSTCODE and NO_POSTCODE.say("nb") == "mangler postnummer"
    assert assign(None, "5003", None).reason == NO_TABLE
