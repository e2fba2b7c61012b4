"""Reading a member export: the party's national register, usually CSV saved from Excel.

`parse_export(data, today=..., branches=..., bodies=...)` turns the file's bytes into
one `MemberRow` per member number and a list of `RowIssue`s, each naming the
spreadsheet row (the header is row 1, as Excel shows it), the column and the reason.
Nothing is written anywhere; the database side is db/members.py. The documented
columns and every rule below are in docs/members.md.

The file as a whole:

- encoding: UTF-8 (with or without BOM), else Windows-1252 (what Excel's plain "CSV"
  writes in Norway), or UTF-16 with BOM (Excel's "Unicode text"); tried in that order;
- separator: `;`, `,` or tab, whichever occurs most on the header line outside
  quotes (Excel's `sep=;` first line is honoured and skipped);
- the header is row 1; names are matched case-insensitively against the columns and
  their aliases in `COLUMNS`; unknown columns are ignored (and listed);
- an empty file, a binary file (an .xlsx workbook, say), a header without a member
  number column or a file without member rows raises ExportError: nothing is imported.

A row:

- no member number: the row is skipped (it cannot be matched to anyone);
- a bad optional value (an e-mail with a space or two @, a date that does not parse or
  lies in the future, a postcode that is not four digits, an unknown branch, ...):
  the member is imported *without that value*, with a warning. Skipping the whole row
  instead would mark a member who is in the register as having left;
- a row with more cells than the header (a stray separator) cannot be trusted and is
  skipped, but the member it names is *not* marked as left (`skipped_numbers`);
- the same member number twice: the last row wins, the earlier one is reported.

Privacy: an issue names the row, the column and the member number, never the value of
a personal field (a name, an e-mail address, a phone number).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Collection, Mapping

from .errors import AarshjulError, BadInput

# field -> accepted header names (normalised: lower case, single spaces, "_" as a space).
# The first name is the documented one, used in messages.
COLUMNS: dict[str, tuple[str, ...]] = {
    "number": ("medlemsnummer", "medlemsnr", "medlemsnr.", "nummer", "member number", "membership number",
               "member id"),
    "first_name": ("fornavn", "first name", "given name"),
    "last_name": ("etternavn", "last name", "surname", "family name"),
    "email": ("e-post", "epost", "e-postadresse", "epostadresse", "email", "e-mail"),
    "phone": ("mobil", "telefon", "mobilnummer", "telefonnummer", "mobiltelefon", "phone", "mobile"),
    "postcode": ("postnummer", "postnr", "postnr.", "postal code", "zip"),
    "joined": ("innmeldt", "innmeldingsdato", "innmeldt dato", "joined", "date joined"),
    "dues_paid": ("kontingent betalt", "betalt", "kontingent", "dues paid"),
    "branch": ("bydelslag", "lokallag", "lag", "branch"),
    "activist": ("aktivist", "activist"),
    "roles": ("roller", "rolle", "roles"),
}
LABEL = {name: aliases[0] for name, aliases in COLUMNS.items()}

TRUE = {"ja", "j", "true", "sann", "1", "x", "yes", "y"}
FALSE = {"nei", "n", "false", "usann", "0", "no"}

# Longest values the database keeps (db/models.py); longer ones are dropped with a warning.
MAX_LEN = {"number": 32, "first_name": 120, "last_name": 120, "email": 254, "phone": 32, "roles": 200}

_NORWEGIAN_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_TIME_SUFFIX = re.compile(r"[ T]\d{1,2}:\d{2}(:\d{2})?$")  # Excel sometimes adds 00:00
_PHONE = re.compile(r"^\+?\d{5,15}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class ExportError(BadInput):
    """The file cannot be read as a member export at all; nothing is imported."""


@dataclass(frozen=True)
class MemberRow:
    """One member as the export has it, every value checked. None: empty or dropped."""

    row: int  # the spreadsheet row (header = 1)
    number: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    postcode: str | None = None
    joined: date | None = None
    dues_paid: bool | None = None
    activist: bool = False
    branch: str | None = None  # an explicit branch, resolved to a body id
    roles: str | None = None  # body ids, comma-separated, sorted


@dataclass(frozen=True)
class RowIssue:
    """A problem on one row. kind: `skipped` (row not imported), `warning` (imported without
    the value), `duplicate` (an earlier row for the same member number, superseded)."""

    row: int
    kind: str
    message: str
    column: str | None = None  # the documented column name
    number: str | None = None

    def __str__(self) -> str:
        where = f"rad {self.row}" + (f", {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Export:
    """A parsed export. rows_read = len(members) + skipped + duplicates."""

    members: tuple[MemberRow, ...]
    issues: tuple[RowIssue, ...]
    rows_read: int
    skipped_numbers: frozenset[str]  # members on skipped rows: not to be marked as left
    encoding: str
    delimiter: str
    columns: dict[str, str] = field(default_factory=dict)  # field -> the header used
    ignored: tuple[str, ...] = ()  # headers not used

    def count(self, kind: str) -> int:
        return sum(1 for i in self.issues if i.kind == kind)

    @property
    def skipped(self) -> int:
        return self.count("skipped")

    @property
    def duplicates(self) -> int:
        return self.count("duplicate")

    @property
    def warnings(self) -> int:
        return self.count("warning")


# --- the file ------------------------------------------------------------------------


def parse_export(data: bytes, *, today: date, branches: Mapping[str, str], bodies: Collection[str] = (),
                 source: str = "eksporten") -> Export:
    """Parse an export's bytes.

    branches: the organisation's branch bodies, id -> display name ("arstad" -> "Årstad SV");
    bodies: every body id, for the roles column; today: dates after it are rejected;
    source: the file name, for messages.
    """
    text, encoding = decode(data, source)
    lines = text.splitlines()
    delimiter = None
    if lines and re.fullmatch(r'"?sep=(.)"?', lines[0].strip()):
        delimiter = re.fullmatch(r'"?sep=(.)"?', lines[0].strip()).group(1)
        text = text.split("\n", 1)[1] if "\n" in text else ""
    if not text.strip():
        raise ExportError(f"{source}: filen er tom (ingen overskrift og ingen medlemmer)")
    delimiter = delimiter or sniff_delimiter(text)
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise ExportError(f"{source}: kan ikke leses som CSV ({exc}); lagre filen som CSV fra Excel") from None
    header = records[0] if records else []
    columns, ignored = map_columns(header, source)
    return _rows(records, columns, ignored, header, today=today, branches=branches, bodies=bodies,
                 encoding=encoding, delimiter=delimiter, source=source)


def decode(data: bytes, source: str = "eksporten") -> tuple[str, str]:
    """The file's text and the encoding that read it; ExportError for what is not text."""
    if not data.strip(b" \t\r\n\xef\xbb\xbf"):
        raise ExportError(f"{source}: filen er tom (ingen overskrift og ingen medlemmer)")
    if data[:4] == b"PK\x03\x04" or data[:4] == b"\xd0\xcf\x11\xe0":
        raise ExportError(f"{source}: dette er en Excel-arbeidsbok, ikke CSV; åpne den i Excel og velg "
                          "Lagre som > CSV (semikolondelt)")
    text = encoding = None
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            text, encoding = data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            pass
    elif b"\x00" not in data:
        for codec, name in (("utf-8-sig", "UTF-8"), ("cp1252", "Windows-1252")):
            try:
                text, encoding = data.decode(codec), name
                break
            except UnicodeDecodeError:
                continue
    if text is None or _CONTROL.search(text):
        raise ExportError(f"{source}: ser ikke ut som en CSV-fil (binære data); eksporter medlemslisten "
                          "som CSV (semikolondelt) og prøv igjen")
    return text, encoding


def sniff_delimiter(text: str) -> str:
    """`;`, `,` or tab: whichever the header line has most of outside quotes (`;` on a tie)."""
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    bare = re.sub(r'"[^"]*"', "", first)
    counts = {d: bare.count(d) for d in (";", ",", "\t")}
    best = max(counts.values())
    return next(d for d in (";", ",", "\t") if counts[d] == best) if best else ";"


def normalise_header(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").replace("_", " ").casefold().split())


def map_columns(header: list[str], source: str = "eksporten") -> tuple[dict[str, int], tuple[str, ...]]:
    """field -> column index, and the headers not used. When two columns mean the same
    field (Mobil and Telefon), the one whose name comes first among the aliases wins."""
    found: dict[str, tuple[int, int]] = {}  # field -> (alias rank, index)
    for index, name in enumerate(header):
        norm = normalise_header(name)
        for fld, aliases in COLUMNS.items():
            if norm in aliases:
                rank = aliases.index(norm)
                if fld not in found or rank < found[fld][0]:
                    found[fld] = (rank, index)
    columns = {fld: index for fld, (_, index) in found.items()}
    if "number" not in columns:
        # Never echo row 1 back: in a file without a header it is a member's data.
        known = ", ".join(LABEL[f] for f in columns)
        raise ExportError(
            f"{source}: fant ingen kolonne for medlemsnummer i rad 1"
            + (f" (gjenkjente kolonner: {known})" if known else " (ingen kjente kolonneoverskrifter)")
            + "; rad 1 skal være overskriftene, med en kolonne som heter Medlemsnummer "
              "(se docs/members.md for navnene som godtas)")
    used = set(columns.values())
    ignored = tuple(h.strip() for i, h in enumerate(header) if i not in used and h.strip())
    return columns, ignored


# --- the rows --------------------------------------------------------------------------


def _rows(records: list[list[str]], columns: dict[str, int], ignored: tuple[str, ...], header: list[str], *,
          today: date, branches: Mapping[str, str], bodies: Collection[str], encoding: str, delimiter: str,
          source: str) -> Export:
    branch_names = branch_lookup(branches)
    width = len(header)
    issues: list[RowIssue] = []
    by_number: dict[str, MemberRow] = {}
    skipped_numbers: set[str] = set()
    rows_read = 0
    for row_number, cells in enumerate(records[1:], start=2):
        if not any(c.strip() for c in cells):
            continue  # an empty line (Excel leaves some at the end)
        rows_read += 1
        number = _cell(cells, columns["number"])
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            if number:
                skipped_numbers.add(number)
            issues.append(RowIssue(row_number, "skipped", f"raden har {len(cells)} celler, overskriften {width}; "
                                   "sjekk skilletegn og anførselstegn i raden", None, number or None))
            continue
        if not number:
            issues.append(RowIssue(row_number, "skipped", "mangler medlemsnummer",
                                   LABEL["number"]))
            continue
        if len(number) > MAX_LEN["number"] or any(ch.isspace() for ch in number):
            issues.append(RowIssue(row_number, "skipped", "medlemsnummeret er ikke gyldig (mellomrom eller over "
                                   f"{MAX_LEN['number']} tegn)", LABEL["number"]))
            continue
        warn = _Warn(row_number, number, issues)
        member = MemberRow(
            row=row_number, number=number,
            first_name=_name(_cell(cells, columns.get("first_name")), "first_name", warn),
            last_name=_name(_cell(cells, columns.get("last_name")), "last_name", warn),
            email=parse_email(_cell(cells, columns.get("email")), warn),
            phone=parse_phone(_cell(cells, columns.get("phone")), warn),
            postcode=parse_postcode(_cell(cells, columns.get("postcode")), warn),
            joined=parse_joined(_cell(cells, columns.get("joined")), today, warn),
            dues_paid=parse_bool(_cell(cells, columns.get("dues_paid")), "dues_paid", warn),
            activist=bool(parse_bool(_cell(cells, columns.get("activist")), "activist", warn)),
            branch=parse_branch(_cell(cells, columns.get("branch")), branch_names, warn),
            roles=parse_roles(_cell(cells, columns.get("roles")), bodies, warn),
        )
        if number in by_number:
            earlier = by_number[number].row
            issues.append(RowIssue(earlier, "duplicate", f"medlemsnummer {number} står også i rad {row_number}; "
                                   "den siste raden gjelder", LABEL["number"], number))
            del by_number[number]  # keep file order: the member sits where its last row is
        by_number[number] = member
    if rows_read == 0:
        raise ExportError(f"{source}: ingen medlemmer etter overskriftsraden; er det riktig fil?")
    skipped_numbers -= set(by_number)
    position = {LABEL[f]: i for f, i in columns.items()}
    issues.sort(key=lambda i: (i.row, position.get(i.column, -1)))  # as the spreadsheet reads
    return Export(tuple(by_number.values()), tuple(issues), rows_read, frozenset(skipped_numbers), encoding,
                  delimiter, {f: header[i].strip() for f, i in columns.items()}, ignored)


@dataclass
class _Warn:
    """Collects the warnings of one row."""

    row: int
    number: str
    issues: list[RowIssue]

    def __call__(self, fld: str, message: str, dropped: bool = True) -> None:
        text = message + ("; importert uten denne verdien" if dropped else "")
        self.issues.append(RowIssue(self.row, "warning", text, LABEL[fld], self.number))


def _cell(cells: list[str], index: int | None) -> str:
    if index is None or index >= len(cells):
        return ""
    return cells[index].strip()


def _name(value: str, fld: str, warn) -> str | None:
    if not value:
        return None
    if len(value) > MAX_LEN[fld]:
        warn(fld, f"lengre enn {MAX_LEN[fld]} tegn")
        return None
    return value


def parse_email(value: str, warn) -> str | None:
    """An address with one @, no spaces, and a dot in the domain; kept as written.
    The warning never repeats the address."""
    if not value:
        return None
    local, _, domain = value.partition("@")
    if any(ch.isspace() for ch in value):
        reason = "inneholder mellomrom"
    elif value.count("@") != 1:
        reason = "må ha nøyaktig én @" if value.count("@") > 1 else "mangler @"
    elif not local or "." not in domain.strip(".") or domain.startswith(".") or domain.endswith(".") \
            or ".." in domain:
        reason = "domenet mangler punktum eller er ufullstendig"
    elif len(value) > MAX_LEN["email"]:
        reason = f"lengre enn {MAX_LEN['email']} tegn"
    else:
        return value
    warn("email", f"ugyldig e-postadresse ({reason})")
    return None


def parse_phone(value: str, warn) -> str | None:
    """Digits with an optional leading +; spaces, dashes, dots and brackets are removed.
    Excel's 9,12E+07 (a number shown in scientific form) is not a phone number."""
    if not value:
        return None
    digits = re.sub(r"[\s\-().]", "", value)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if not _PHONE.match(digits):
        warn("phone", "ugyldig telefonnummer (5–15 sifre, eventuelt med + foran)")
        return None
    return digits


def parse_postcode(value: str, warn) -> str | None:
    if not value:
        return None
    code = value.replace(" ", "")
    if len(code) != 4 or not code.isdigit():
        hint = "; Excel fjerner ledende null, formater kolonnen som tekst" if code.isdigit() and len(code) < 4 else ""
        warn("postcode", f"postnummer {value!r} er ikke fire sifre{hint}")
        return None
    return code


def parse_date(value: str) -> date | None:
    """25.01.2025, 25.1.2025 or 2025-01-25 (a trailing time such as 00:00 is ignored);
    None when the text is none of these or not a real date."""
    text = _TIME_SUFFIX.sub("", value.strip())
    m = _NORWEGIAN_DATE.match(text)
    if m:
        d, mo, y = (int(g) for g in m.groups())
    else:
        m = _ISO_DATE.match(text)
        if not m:
            return None
        y, mo, d = (int(g) for g in m.groups())
    try:
        return date(y, mo, d)
    except ValueError:
        return None


def parse_joined(value: str, today: date, warn) -> date | None:
    if not value:
        return None
    day = parse_date(value)
    if day is None:
        warn("joined", f"{value!r} er ikke en dato; skriv 25.01.2025 eller 2025-01-25")
        return None
    if day > today:
        warn("joined", f"datoen {day.strftime('%d.%m.%Y')} er i fremtiden (i dag er {today.strftime('%d.%m.%Y')})")
        return None
    return day


def parse_bool(value: str, fld: str, warn) -> bool | None:
    """ja/nei, true/false, 1/0, x; empty is None (unknown)."""
    if not value:
        return None
    norm = value.casefold()
    if norm in TRUE:
        return True
    if norm in FALSE:
        return False
    warn(fld, f"{value!r} er verken ja eller nei (bruk ja/nei, 1/0 eller x)")
    return None


def branch_lookup(branches: Mapping[str, str]) -> dict[str, str]:
    """Every way a branch may be written -> its id: the id, the display name, and the
    name without a trailing " SV" ("Årstad SV", "årstad", "arstad" -> arstad)."""
    out: dict[str, str] = {}
    for ident, name in branches.items():
        norm = " ".join(name.casefold().split())
        for key in (ident.casefold(), norm, norm.removesuffix(" sv")):
            out.setdefault(key, ident)
    return out


def parse_branch(value: str, lookup: Mapping[str, str], warn) -> str | None:
    if not value:
        return None
    ident = lookup.get(" ".join(value.casefold().split()))
    if ident is None:
        warn("branch", f"ukjent bydelslag {value!r}; bydelslaget settes fra postnummeret", dropped=False)
    return ident


def parse_roles(value: str, bodies: Collection[str], warn) -> str | None:
    """Comma-separated body ids; unknown ones are dropped with a warning."""
    if not value:
        return None
    roles = sorted({r.strip().casefold() for r in value.split(",") if r.strip()})
    unknown = [r for r in roles if bodies and r not in bodies]
    if unknown:
        warn("roles", f"ukjent rolle {', '.join(unknown)} (bruk id-er fra organisation.yaml, som styret,au)")
        roles = [r for r in roles if r not in unknown]
    text = ",".join(roles)
    if len(text) > MAX_LEN["roles"]:
        warn("roles", f"lengre enn {MAX_LEN['roles']} tegn")
        return None
    return text or None
