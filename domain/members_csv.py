"""Reading a member export: the party's national register, usually CSV saved from Excel.

`parse_export(data, today=..., branches=..., bodies=...)` turns the file's bytes into
one `MemberRow` per member number and a list of `RowIssue`s, each naming the
spreadsheet row (the header is row 1, as Excel shows it), the column and the reason.
Nothing is written anywhere; the database side is db/members.py. The documented
columns and every rule below are in docs/members.md.

The file is read strictly, since a damaged file must not damage the register:

- encoding, one for the whole file: UTF-8 (with or without BOM) when every byte of
  it is valid UTF-8; else Windows-1252 (what Excel's plain "CSV" writes in Norway)
  when it reads as Windows-1252 *and* holds no UTF-8 character (so it is not a UTF-8
  file with a bad byte, nor two files of different encodings pasted together); UTF-16
  with BOM (Excel's "Unicode text"). Anything else is refused, naming the row of the
  first bad byte: never silently re-decoded (one invalid byte once made a UTF-8 file
  read as Windows-1252 and garbled every æ, ø and å);
- separator: `;`, `,` or tab, whichever occurs most on the header line outside
  quotes (Excel's `sep=;` first line is honoured and skipped);
- quotes must balance within a line: a cell with a line break, an unterminated quote
  or a quote in the middle of a quoted cell refuses the whole file, naming the row
  where it starts (one unterminated quote once swallowed every following row into one
  cell, and those members were marked as left);
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
- a row with more or fewer cells than the header (a stray or missing separator) is
  *damaged*: its values may sit in the wrong columns, so it is skipped, and the file
  counts as damaged (`Export.damaged`): db/members.py then marks nobody as left;
- the same member number twice: the last row wins, the earlier one is reported.

Privacy: an issue names the row, the column, the member number and the kind of
problem, never the value of a cell (with columns shifted, any cell may hold a name or
an e-mail address).

Memory: the file is read as a stream, twice: once to check it and collect the issues,
and again, lazily, each time `Export.members` is iterated, so a 50 MB export never
sits in memory as half a million rows (it once took 2 GB).
"""

from __future__ import annotations

import codecs
import csv
import encodings.cp1252 as cp1252
import io
import itertools
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Callable, Collection, Iterator, Mapping, Protocol, Sequence, overload

from email_validator import EmailNotValidError, validate_email

from .errors import AarshjulError
from .i18n import N_, Msg, _

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
    "branch": ("lag", "lokallag", "branch"),  # and organisation.yaml's branch_word (parse_export)
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
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# A character of two to four bytes as UTF-8 writes it; Windows-1252 text practically
# never holds one (it would be mojibake like "Ã¸" in a name).
_UTF8_CHAR = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_SEP_LINE = re.compile(r'"?sep=(.)"?')
_CHUNK = 1 << 20
_RESAVE = Msg("open the file in Excel and save it again as “CSV UTF-8 (Comma delimited)”, or export it again")
_EXPORT = Msg("the export")  # the file, when the caller does not name it
_NOTHING = Msg("Nothing is imported.")


class ExportError(AarshjulError):
    """The file cannot be read as a member export at all; nothing is imported."""


class Warn(Protocol):
    """Receives a row's warning: the field, the reason, and whether the value was dropped."""

    def __call__(self, fld: str, message: Msg, dropped: bool = True) -> None: ...


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
    the value), `duplicate` (an earlier row for the same member number, superseded).
    The message says what kind of problem it is, never the cell's value."""

    row: int
    kind: str
    message: Msg  # said in the reader's language: `say(lang)`, or i18n.say(issue.message, lang)
    column: str | None = None  # the documented column name
    number: str | None = None

    def say(self, lang: str | None) -> str:
        """'rad 4, e-post: …' / 'row 4, e-post: …'."""
        where = (_(lang, "row {row}, {column}", row=self.row, column=self.column) if self.column else
                 _(lang, "row {row}", row=self.row))
        return f"{where}: {self.message.say(lang)}"

    def __str__(self) -> str:
        return self.say("en")


class Members(Sequence[MemberRow]):
    """An export's members in file order (each member number at its last row), read
    again from the file each time it is iterated; len() and `numbers` without reading."""

    def __init__(self, read: Callable[[], Iterator[MemberRow]], numbers: Collection[str]):
        self._read, self.numbers = read, numbers

    def __len__(self) -> int:
        return len(self.numbers)

    def __iter__(self) -> Iterator[MemberRow]:
        return self._read()

    @overload
    def __getitem__(self, index: int) -> MemberRow: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[MemberRow]: ...

    def __getitem__(self, index: int | slice) -> MemberRow | Sequence[MemberRow]:
        return list(self)[index]

    def __repr__(self) -> str:
        return f"<{len(self)} members>"


@dataclass(frozen=True)
class Export:
    """A parsed export. rows_read = len(members) + skipped + duplicates."""

    members: Sequence[MemberRow]
    issues: tuple[RowIssue, ...]
    rows_read: int
    skipped_numbers: frozenset[str]  # members on skipped rows: not to be marked as left
    encoding: str
    delimiter: str
    columns: dict[str, str] = field(default_factory=dict)  # field -> the header used
    ignored: tuple[str, ...] = ()  # headers not used
    damaged: tuple[int, ...] = ()  # rows with more or fewer cells than the header: nobody is marked left

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
                 source: str = _EXPORT, branch_column: Sequence[str] = ()) -> Export:
    """Parse an export's bytes.

    branches: the organisation's branch bodies, id -> display name ("nord" -> "Nord SV");
    bodies: every body id, for the roles column; today: dates after it are rejected;
    source: the file name, for messages; branch_column: the organisation's words for a
    branch (organisation.yaml's branch_word, every form), each also a name of the branch
    column, before the built-in ones: a register whose column is named for the
    organisation's branches ("Lokalgruppe") is read, not ignored.
    """
    codec, encoding = detect_encoding(data, source)
    lines, delimiter = _open(data, codec)
    header_line = next(lines, "")
    if not header_line.strip() and not data.strip(b" \t\r\n\xef\xbb\xbf\xff\xfe\x00"):
        raise ExportError(Msg("{source}: the file is empty (no header and no members)", source=source))
    if not header_line.strip():
        raise ExportError(Msg("{source}: row 1 is empty; row 1 should be the headers, with a column named {column} "
                              "(see docs/members.md)", source=source, column=LABEL["number"].capitalize()))
    delimiter = delimiter or sniff_delimiter(header_line)
    records = _records(itertools.chain([header_line], lines), delimiter, source)
    _, header = next(records)
    words = tuple(normalise_header(w) for w in branch_column)
    columns, ignored = map_columns(header, source, {"branch": words})
    labels = {**LABEL, "branch": words[0]} if words else LABEL
    reader = _RowReader(columns, len(header), branch_lookup(branches), bodies, today)

    issues: list[RowIssue] = []
    last_row: dict[str, int] = {}  # member number -> the row that counts (its last)
    skipped_numbers: set[str] = set()
    damaged: list[int] = []
    rows_read = 0
    for row, cells in records:
        if not any(c.strip() for c in cells):
            continue  # an empty line (Excel leaves some at the end)
        rows_read += 1
        number = reader.number(cells)
        if len(cells) != reader.width:
            damaged.append(row)
            if number:
                skipped_numbers.add(number)
            issues.append(RowIssue(row, "skipped", Msg("the row has {cells} cells, the header {width}; check the "
                                                       "delimiters and quotes in the row (the values may be in the "
                                                       "wrong column)", cells=len(cells), width=reader.width),
                                   None, number or None))
            continue
        if not number:
            issues.append(RowIssue(row, "skipped", Msg("no member number"), LABEL["number"]))
            continue
        if len(number) > MAX_LEN["number"] or any(ch.isspace() for ch in number):
            issues.append(RowIssue(row, "skipped", Msg("the member number is not valid (spaces, or over {n} "
                                                       "characters)", n=MAX_LEN["number"]), LABEL["number"]))
            continue
        reader.member(cells, row, number, _Warn(row, number, issues, labels))
        if number in last_row:
            issues.append(RowIssue(last_row[number], "duplicate", Msg("member number {number} is also on row {row}; "
                                                                      "the last row counts", number=number, row=row),
                                   LABEL["number"], number))
            del last_row[number]  # keep file order: the member sits where its last row is
        last_row[number] = row
    if rows_read == 0:
        raise ExportError(Msg("{source}: no members after the header row; is it the right file?", source=source))
    skipped_numbers -= last_row.keys()
    position = {labels[f]: i for f, i in columns.items()}
    # as the spreadsheet reads: by row, then by column
    issues.sort(key=lambda i: (i.row, -1 if i.column is None else position.get(i.column, -1)))

    def read_again() -> Iterator[MemberRow]:
        again = _records(_open(data, codec)[0], delimiter, source)
        next(again)  # the header
        for row, cells in again:
            number = reader.number(cells)
            if last_row.get(number) == row:
                yield reader.member(cells, row, number, _ignore)

    return Export(Members(read_again, last_row.keys()), tuple(issues), rows_read, frozenset(skipped_numbers),
                  encoding, delimiter, {f: header[i].strip() for f, i in columns.items()}, ignored,
                  tuple(damaged))


def detect_encoding(data: bytes, source: str = _EXPORT) -> tuple[str, str]:
    """(Python codec, name for people) of the whole file; ExportError, naming the row of
    the first bad byte, for what is not text in one of the accepted encodings."""
    if not data.strip(b" \t\r\n\xef\xbb\xbf"):
        raise ExportError(Msg("{source}: the file is empty (no header and no members)", source=source))
    if data[:4] == b"PK\x03\x04" or data[:4] == b"\xd0\xcf\x11\xe0":
        raise ExportError(Msg("{source}: this is an Excel workbook, not CSV; open it in Excel and choose "
                              "Save as > CSV (semicolon delimited)", source=source))
    binary = ExportError(Msg("{source}: does not look like a CSV file (binary data); export the member list "
                             "as CSV (semicolon delimited) and try again", source=source))
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        decoder = codecs.getincrementaldecoder("utf-16")()
        for at in range(0, len(data), _CHUNK):
            try:
                text = decoder.decode(data[at:at + _CHUNK], at + _CHUNK >= len(data))
            except UnicodeDecodeError:
                raise ExportError(Msg("{source}: the file begins as UTF-16, but is not UTF-16 all the way; "
                                      "{resave}", source=source, resave=_RESAVE)) from None
            if _CONTROL.search(text):
                raise binary
        return "utf-16", "UTF-16"
    if _CONTROL_BYTES.search(data):
        raise binary
    bad = _first_bad(data, "utf-8")
    if bad is None:
        return "utf-8-sig", "UTF-8"
    if _UTF8_CHAR.search(data):
        raise ExportError(Msg("{source}: row {row}: invalid UTF-8 (byte 0x{byte}), but the rest of the file is "
                              "UTF-8: the file mixes encodings, and none of them reads the whole file right; "
                              "{resave}. {nothing}", source=source, row=_row_of(data, bad),
                              byte=f"{data[bad]:02X}", resave=_RESAVE, nothing=_NOTHING))
    bad = _first_bad(data, "cp1252")
    if bad is not None:
        raise ExportError(Msg("{source}: row {row}: byte 0x{byte} is neither UTF-8 nor Windows-1252; {resave}. "
                              "{nothing}", source=source, row=_row_of(data, bad), byte=f"{data[bad]:02X}",
                              resave=_RESAVE, nothing=_NOTHING))
    return "cp1252", "Windows-1252"


def decode(data: bytes, source: str = _EXPORT) -> tuple[str, str]:
    """The file's text and the name of its encoding (see detect_encoding)."""
    codec, name = detect_encoding(data, source)
    return data.decode(codec), name


def _first_bad(data: bytes, codec: str) -> int | None:
    """The offset of the first byte `codec` (utf-8 or cp1252) cannot read, or None;
    reads in chunks, so the file is never held twice."""
    view, at = memoryview(data), 0
    while at < len(data):
        chunk, final = view[at:at + _CHUNK], at + _CHUNK >= len(data)
        try:
            if codec == "utf-8":
                _, used = codecs.utf_8_decode(chunk, "strict", final)  # stops before a character cut in two
            else:
                _, used = codecs.charmap_decode(chunk, "strict", cp1252.decoding_table)
        except UnicodeDecodeError as exc:
            return at + exc.start
        at += used
    return None


def _row_of(data: bytes, offset: int) -> int:
    """The spreadsheet row of a byte: its line, less an Excel `sep=` line."""
    line = data.count(b"\n", 0, offset) + 1
    first = data[:data.find(b"\n")] if b"\n" in data else data
    if _SEP_LINE.fullmatch(first.strip().decode("latin-1")):
        line -= 1
    return max(line, 1)


def _open(data: bytes, codec: str) -> tuple[Iterator[str], str | None]:
    """The file's lines, decoded as they are read, after an Excel `sep=` line; and the
    separator that line names."""
    lines = io.TextIOWrapper(io.BytesIO(data), encoding=codec, newline="")
    first = next(lines, "")
    if m := _SEP_LINE.fullmatch(first.strip()):
        return lines, m.group(1)
    return itertools.chain([first], lines), None


_QUOTE_PROBLEMS = {
    "unexpected end of data": N_('a quote (") opens in the row and never closes'),
    "field larger than field limit": N_('a quote (") opens in the row and does not close'),
    "expected after": N_('a quote (") stands inside a quoted cell without being doubled ("")'),
}


def _records(lines: Iterator[str], delimiter: str, source: str) -> Iterator[tuple[int, list[str]]]:
    """(spreadsheet row, cells) of each line, strictly: quotes that do not balance
    within their line raise ExportError naming the row where they start."""
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            known = next((text for key, text in _QUOTE_PROBLEMS.items() if key in str(exc)), None)
            reason = Msg(known) if known else Msg("cannot be read as CSV ({error})", error=str(exc))
            raise ExportError(Msg("{source}: row {row}: {reason}; correct the quotes in the row, or save the file "
                                  "as CSV from Excel again. {nothing}", source=source, row=start, reason=reason,
                                  nothing=_NOTHING)) from None
        if reader.line_num != start:
            raise ExportError(Msg('{source}: row {row}: a quote (") opens in the row and does not close on the same '
                                  "line, so rows {row}–{last} are read as one; correct the quotes in the row (a cell "
                                  "cannot hold a line break). {nothing}", source=source, row=start,
                                  last=reader.line_num, nothing=_NOTHING))
        yield start, cells


def sniff_delimiter(text: str) -> str:
    """`;`, `,` or tab: whichever the header line has most of outside quotes (`;` on a tie)."""
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    bare = re.sub(r'"[^"]*"', "", first)
    counts = {d: bare.count(d) for d in (";", ",", "\t")}
    best = max(counts.values())
    return next(d for d in (";", ",", "\t") if counts[d] == best) if best else ";"


def normalise_header(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").replace("_", " ").casefold().split())


def map_columns(header: list[str], source: str = _EXPORT,
                extra: Mapping[str, tuple[str, ...]] | None = None) -> tuple[dict[str, int], tuple[str, ...]]:
    """field -> column index, and the headers not used. When two columns mean the same
    field (Mobil and Telefon), the one whose name comes first among the aliases wins;
    `extra` names come before a field's built-in aliases."""
    found: dict[str, tuple[int, int]] = {}  # field -> (alias rank, index)
    names = {fld: (*(extra or {}).get(fld, ()), *aliases) for fld, aliases in COLUMNS.items()}
    for index, name in enumerate(header):
        norm = normalise_header(name)
        for fld, aliases in names.items():
            if norm in aliases:
                rank = aliases.index(norm)
                if fld not in found or rank < found[fld][0]:
                    found[fld] = (rank, index)
    columns = {fld: index for fld, (_, index) in found.items()}
    if "number" not in columns:
        # Never echo row 1 back: in a file without a header it is a member's data.
        known = ", ".join(LABEL[f] for f in columns)
        raise ExportError(Msg(
            "{source}: found no column for the member number in row 1 ({found}); row 1 should be the headers, "
            "with a column named {column} (see docs/members.md for the names accepted)", source=source,
            found=Msg("recognised columns: {names}", names=known) if known else Msg("no known column headers"),
            column=LABEL["number"].capitalize()))
    used = set(columns.values())
    ignored = tuple(h.strip() for i, h in enumerate(header) if i not in used and h.strip())
    return columns, ignored


# --- the rows --------------------------------------------------------------------------


@dataclass(frozen=True)
class _RowReader:
    """Turns a row's cells into a MemberRow; the same for both readings of the file."""

    columns: dict[str, int]
    width: int
    branch_names: dict[str, str]
    bodies: Collection[str]
    today: date

    def number(self, cells: list[str]) -> str:
        return _cell(cells, self.columns["number"])

    def member(self, cells: list[str], row: int, number: str, warn: Warn) -> MemberRow:
        col = self.columns.get
        return MemberRow(
            row=row, number=number,
            first_name=_name(_cell(cells, col("first_name")), "first_name", warn),
            last_name=_name(_cell(cells, col("last_name")), "last_name", warn),
            email=parse_email(_cell(cells, col("email")), warn),
            phone=parse_phone(_cell(cells, col("phone")), warn),
            postcode=parse_postcode(_cell(cells, col("postcode")), warn),
            joined=parse_joined(_cell(cells, col("joined")), self.today, warn),
            dues_paid=parse_bool(_cell(cells, col("dues_paid")), "dues_paid", warn),
            activist=bool(parse_bool(_cell(cells, col("activist")), "activist", warn)),
            branch=parse_branch(_cell(cells, col("branch")), self.branch_names, warn),
            roles=parse_roles(_cell(cells, col("roles")), self.bodies, warn),
        )


def _ignore(fld: str, message: Msg, dropped: bool = True) -> None:
    """The second reading's warnings: already collected by the first."""


@dataclass
class _Warn:
    """Collects the warnings of one row."""

    row: int
    number: str
    issues: list[RowIssue]
    labels: Mapping[str, str] = field(default_factory=lambda: LABEL)

    def __call__(self, fld: str, message: Msg, dropped: bool = True) -> None:
        text = Msg("{problem}; imported without this value", problem=message) if dropped else message
        self.issues.append(RowIssue(self.row, "warning", text, self.labels[fld], self.number))


def _cell(cells: list[str], index: int | None) -> str:
    if index is None or index >= len(cells):
        return ""
    return cells[index].strip()


def _name(value: str, fld: str, warn: Warn) -> str | None:
    if not value:
        return None
    if len(value) > MAX_LEN[fld]:
        warn(fld, Msg("longer than {n} characters", n=MAX_LEN[fld]))
        return None
    return value


def parse_email(value: str, warn: Warn) -> str | None:
    """An address with one @, no spaces, a dot in the domain, and valid as email-validator
    reads it (RFC 5321 syntax, IDNA for a domain in Unicode, no DNS look-up: what the
    mailer will send to; a local part in Unicode is valid, and goes by SMTPUTF8); kept as
    written. A bad one is a warning (the member is imported without it and gets no mail),
    naming the row, never the address."""
    if not value:
        return None
    local, _, domain = value.partition("@")
    if any(ch.isspace() for ch in value):
        reason = Msg("contains a space")
    elif value.count("@") != 1:
        reason = Msg("must have exactly one @") if value.count("@") > 1 else Msg("no @")
    elif not local or "." not in domain.strip(".") or domain.startswith(".") or domain.endswith(".") \
            or ".." in domain:
        reason = Msg("the domain has no dot or is incomplete")
    elif len(value) > MAX_LEN["email"]:
        reason = Msg("longer than {n} characters", n=MAX_LEN["email"])
    elif not _deliverable_syntax(value):  # the library's own message may quote the address: not used
        reason = Msg("not a valid address (characters, dots or domain name)")
    else:
        return value
    warn("email", Msg("invalid e-mail address ({reason})", reason=reason))
    return None


def _deliverable_syntax(value: str) -> bool:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def parse_phone(value: str, warn: Warn) -> str | None:
    """Digits with an optional leading +; spaces, dashes, dots and brackets are removed.
    Excel's 9,12E+07 (a number shown in scientific form) is not a phone number."""
    if not value:
        return None
    digits = re.sub(r"[\s\-().]", "", value)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if not _PHONE.match(digits):
        warn("phone", Msg("invalid phone number (5–15 digits, perhaps with + in front)"))
        return None
    return digits


def parse_postcode(value: str, warn: Warn) -> str | None:
    if not value:
        return None
    code = value.replace(" ", "")
    if len(code) != 4 or not code.isdigit():
        warn("postcode", Msg("the postcode is not four digits; Excel removes a leading zero, format the column as "
                             "text") if code.isdigit() and len(code) < 4 else Msg("the postcode is not four digits"))
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


def parse_joined(value: str, today: date, warn: Warn) -> date | None:
    if not value:
        return None
    day = parse_date(value)
    if day is None:
        warn("joined", Msg("the value is not a date; write 25.01.2025 or 2025-01-25"))
        return None
    if day > today:
        warn("joined", Msg("the date is in the future (after today, {today})", today=today.strftime("%d.%m.%Y")))
        return None
    return day


def parse_bool(value: str, fld: str, warn: Warn) -> bool | None:
    """ja/nei, true/false, 1/0, x; empty is None (unknown)."""
    if not value:
        return None
    norm = value.casefold()
    if norm in TRUE:
        return True
    if norm in FALSE:
        return False
    warn(fld, Msg("the value is neither yes nor no (use ja/nei, yes/no, 1/0 or x)"))
    return None


def branch_lookup(branches: Mapping[str, str]) -> dict[str, str]:
    """Every way a branch may be written -> its id: the id, the display name, and the
    name without the last word every branch name of several words ends with ("Nord SV",
    "nord sv", "nord" -> nord when all such names are "… SV")."""
    names = {ident: " ".join(name.casefold().split()) for ident, name in branches.items()}
    last = {n.rsplit(" ", 1)[-1] for n in names.values() if " " in n}
    shared = f" {next(iter(last))}" if len(last) == 1 else None  # among the names of more than one word
    out: dict[str, str] = {}
    for ident, norm in names.items():
        for key in (ident.casefold(), norm, norm.removesuffix(shared) if shared else norm):
            out.setdefault(key, ident)
    return out


def parse_branch(value: str, lookup: Mapping[str, str], warn: Warn) -> str | None:
    if not value:
        return None
    ident = lookup.get(" ".join(value.casefold().split()))
    if ident is None:
        warn("branch", Msg("unknown branch (use an id or a name from organisation.yaml); the branch is set from "
                           "the postcode"), dropped=False)
    return ident


def parse_roles(value: str, bodies: Collection[str], warn: Warn) -> str | None:
    """Comma-separated body ids; unknown ones are dropped with a warning."""
    if not value:
        return None
    roles = sorted({r.strip().casefold() for r in value.split(",") if r.strip()})
    unknown = [r for r in roles if bodies and r not in bodies]
    if unknown:
        warn("roles", Msg("{n} unknown roles (use ids from organisation.yaml, like board,committee)", n=len(unknown))
             if len(unknown) > 1 else Msg("1 unknown role (use ids from organisation.yaml, like board,committee)"))
        roles = [r for r in roles if r not in unknown]
    text = ",".join(roles)
    if len(text) > MAX_LEN["roles"]:
        warn("roles", Msg("longer than {n} characters", n=MAX_LEN["roles"]))
        return None
    return text or None
