"""Members in the database, on SQLite and PostgreSQL: import upsert, branches, counts,
follow-ups, forgetting, one transaction; and a realistic export of ~2,000 members."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from aarshjul.db.members import (MemberNotFound, TooManyLeft, contact_rate, create_follow_ups, forget_member,
                                 import_members, mark_escalated, member_counts, open_follow_ups, overdue_follow_ups,
                                 record_contact, unassigned_members)
from aarshjul.db.models import Delivery, FollowUp, Member, MemberCount
from aarshjul.db.session import make_engine, session_scope
from aarshjul.domain.members_csv import parse_export
from aarshjul.domain.i18n import Msg
from aarshjul.domain.postcodes import NO_POSTCODE, NO_TABLE, PostcodeTable, load_postcodes, not_in_table
from conftest import ROOT

NOW = datetime(2025, 11, 29, 9, 0, tzinfo=timezone.utc)
TODAY = date(2025, 11, 29)
ORG = "bergen-sv"
HEADER = ["Medlemsnummer", "Fornavn", "Etternavn", "E-post", "Mobil", "Postnummer", "Innmeldt", "Kontingent betalt",
          "Bydelslag", "Aktivist", "Roller"]


@dataclass
class Org:
    """What the import needs from the bundled plan."""

    id: str
    branches: dict[str, str]
    bodies: tuple[str, ...]
    table: PostcodeTable


@pytest.fixture(scope="module")
def org():
    from aarshjul.domain.load import load_plan

    plan = load_plan(ROOT / "config" / "plan.yaml")
    branches = {i: b.name for i, b in plan.bodies.items() if b.kind in ("branch", "student_branch")}
    return Org(plan.organisation.id, branches, tuple(plan.bodies),
               load_postcodes(plan.files[0].parent / "postcodes.yaml", branches))


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def member(number: str, **values) -> dict:
    """A row of the export, by header name; unnamed columns are empty."""
    row = dict.fromkeys(HEADER, "")
    row.update({"Medlemsnummer": number, "Fornavn": f"Fornavn{number}", "Etternavn": "Nordmann",
                "E-post": f"m{number}@example.org", "Postnummer": "5003", "Innmeldt": "01.01.2020"})
    row.update({k.replace("_", " ").capitalize() if k not in HEADER else k: v for k, v in values.items()})
    return row


def csv_bytes(rows: list[dict], encoding="utf-8", sep=";") -> bytes:
    lines = [sep.join(HEADER)] + [sep.join(r[h] for h in HEADER) for r in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def run_import(engine, org, data: bytes | list[dict], today=TODAY, table="bundled", **kw):
    if isinstance(data, list):
        data = csv_bytes(data)
    export = parse_export(data, today=today, branches=org.branches, bodies=org.bodies, source="eksport.csv",
                          branch_column=("bydelslag",))
    with session_scope(engine) as session:
        kw.setdefault("follow_up_days", 30)  # the bundled plan's promise (measure 1.4's within_days)
        return import_members(session, org.id, export, org.table if table == "bundled" else table,
                              org.branches, today, NOW + (today - TODAY), **kw)


def members(engine) -> dict[str, Member]:
    with session_scope(engine) as session:
        return {m.number: m for m in session.scalars(select(Member))}


def counts(engine, on: date) -> dict[str, tuple[int, int, int, int]]:
    with session_scope(engine) as session:
        return {c.branch: (c.members, c.new, c.left, c.activists)
                for c in member_counts(session, ORG) if c.on_date == on}


# --- upsert ---------------------------------------------------------------------------------


def test_a_second_import_of_the_same_file_changes_nothing(engine, org):
    rows = [member("1"), member("2", Mobil="91234567"), member("3", Postnummer="5999")]
    first = run_import(engine, org, rows)
    assert (first.new, first.updated, first.unchanged, first.left) == (3, 0, 0, 0)
    before = {n: (m.row_hash, m.updated_at) for n, m in members(engine).items()}
    again = run_import(engine, org, rows, today=TODAY + timedelta(days=1))
    assert (again.new, again.updated, again.unchanged, again.left) == (0, 0, 3, 0)
    assert {n: (m.row_hash, m.updated_at) for n, m in members(engine).items()} == before


def test_a_later_export_updates_adds_and_marks_left_never_deletes(engine, org):
    run_import(engine, org, [member("1"), member("2"), member("3")])
    later = TODAY + timedelta(days=30)
    result = run_import(engine, org, [member("1", **{"E-post": "ny@example.org"}), member("3"), member("4")],
                        today=later)
    assert (result.new, result.updated, result.unchanged, result.left) == (1, 1, 1, 1)
    stored = members(engine)
    assert stored["1"].email == "ny@example.org" and stored["1"].status == "active"
    assert stored["2"].status == "left" and stored["2"].left_at == later and stored["2"].first_name == "Fornavn2"
    assert len(stored) == 4
    back = run_import(engine, org, [member("1", **{"E-post": "ny@example.org"}), member("2"), member("3"),
                                    member("4")], today=later + timedelta(days=30))
    assert (back.updated, back.unchanged, back.left) == (1, 3, 0)
    assert members(engine)["2"].status == "active" and members(engine)["2"].left_at is None


def test_an_export_that_would_empty_the_register_is_refused_and_nothing_is_written(engine, org):
    run_import(engine, org, [member(str(n)) for n in range(1, 41)])
    before = {n: (m.status, m.row_hash) for n, m in members(engine).items()}
    with pytest.raises(TooManyLeft, match="30 of 40 active") as caught:
        run_import(engine, org, [member(str(n), Fornavn="Endret") for n in range(1, 11)],
                   today=TODAY + timedelta(days=1))
    assert caught.value.say("nb").startswith("eksporten ville meldt ut 30 av 40 aktive medlemmer; er det hele ")
    assert {n: (m.status, m.row_hash) for n, m in members(engine).items()} == before
    allowed = run_import(engine, org, [member(str(n)) for n in range(1, 11)], today=TODAY + timedelta(days=1),
                         max_left_share=None)
    assert allowed.left == 30


def test_everything_is_one_transaction(engine, org):
    run_import(engine, org, [member("1")])

    def fail_halfway(n, seen=[]):
        seen.append(n)
        if len(seen) == 3:
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        run_import(engine, org, [member("1", Fornavn="Endret"), *(member(str(n)) for n in range(2, 6))],
                   today=TODAY + timedelta(days=1), progress=fail_halfway)
    stored = members(engine)
    assert list(stored) == ["1"] and stored["1"].first_name == "Fornavn1"
    assert set(counts(engine, TODAY + timedelta(days=1))) == set()


# --- branches ---------------------------------------------------------------------------------


def test_an_explicit_branch_wins_over_the_postcode(engine, org):
    result = run_import(engine, org, [member("1", Postnummer="5003", Bydelslag="Fana SV"),
                                      member("2", Postnummer="5003"), member("3", Postnummer="5999",
                                                                             Bydelslag="studentlaget")])
    stored = members(engine)
    assert (stored["1"].branch, stored["1"].branch_source) == ("fana", "export")
    assert (stored["2"].branch, stored["2"].branch_source) == ("bergenhus", "postcode")
    assert (stored["3"].branch, stored["3"].branch_source) == ("studentlaget", "export")
    assert result.unassigned == []


def test_a_postcode_outside_the_table_and_a_missing_one_are_listed_with_reasons(engine, org):
    result = run_import(engine, org, [member("1", Postnummer="5999"), member("2", Postnummer=""),
                                      member("3", Postnummer="503"), member("4")])
    reasons = {u.number: (u.postcode, u.reason) for u in result.unassigned}
    assert reasons == {"1": ("5999", not_in_table("5999")), "2": (None, NO_POSTCODE),
                       "3": (None, NO_POSTCODE)}
    assert result.without_branch == 3 and result.warnings == 1  # 503 is not four digits
    with session_scope(engine) as session:
        listed = unassigned_members(session, ORG, org.table)
        assert [(u.number, u.reason) for u in listed] == [(n, r) for n, (_, r) in sorted(reasons.items())]
        # the table gets 5999 later: the list says to import again
        fixed = PostcodeTable((*org.table.entries, type(org.table.entries[0])(5999, 5999, "arna", True)))
        now = unassigned_members(session, ORG, fixed)[0].reason
        assert isinstance(now, Msg) and "hører nå til arna" in now.say("nb") and "now belongs to arna" in now


def test_without_a_table_every_member_without_an_explicit_branch_is_unassigned(engine, org):
    result = run_import(engine, org, [member("1"), member("2", Bydelslag="Arna SV")], table=None)
    assert [(u.number, u.reason) for u in result.unassigned] == [("1", NO_TABLE)]
    assert members(engine)["2"].branch == "arna"


# --- privacy ---------------------------------------------------------------------------------


def test_forget_blanks_personal_data_and_a_reimport_keeps_it_forgotten(engine, org):
    rows = [member("1", Mobil="91234567", Aktivist="ja", Innmeldt="01.11.2025"), member("2")]
    run_import(engine, org, rows)
    with session_scope(engine) as session:
        session.add(Delivery(organisation=ORG, campaign="medlemsbrev/2025-11", recipient="1",
                             address="m1@example.org", message_id="<x@example.org>", created_at=NOW, updated_at=NOW))
        record_contact(session, ORG, "1", TODAY, by="Styret", note="Ringte Fornavn1", within_days=30)
    with session_scope(engine) as session:
        forgotten, already = forget_member(session, ORG, "1", NOW)
        assert not already
    m = members(engine)["1"]
    assert (m.first_name, m.last_name, m.email, m.phone, m.postcode) == (None,) * 5
    assert m.forgotten_at is not None and (m.branch, m.joined, m.status, m.activist) == \
        ("bergenhus", date(2025, 11, 1), "active", True)
    with session_scope(engine) as session:
        assert session.scalar(select(Delivery.address)) is None
        assert session.scalar(select(FollowUp.note)) is None
    again = run_import(engine, org, rows, today=TODAY + timedelta(days=1))
    assert again.forgotten_kept == 1 and (again.updated, again.unchanged) == (0, 2)
    m = members(engine)["1"]
    assert (m.first_name, m.last_name, m.email, m.phone, m.postcode) == (None,) * 5
    # a changed row for them updates only what is not personal
    changed = [member("1", Mobil="99999999", Aktivist="nei", Bydelslag="Fana SV"), member("2")]
    result = run_import(engine, org, changed, today=TODAY + timedelta(days=2))
    m = members(engine)["1"]
    assert result.updated == 1 and (m.phone, m.activist, m.branch) == (None, False, "fana")
    with session_scope(engine) as session:
        assert forget_member(session, ORG, "1", NOW)[1] is True
        with pytest.raises(MemberNotFound, match="unknown member number '9'"):
            forget_member(session, ORG, "9", NOW)


# --- counts -----------------------------------------------------------------------------------


def test_counts_per_branch_after_two_imports(engine, org):
    first_day, second_day = date(2025, 6, 1), date(2025, 9, 1)
    first = [member("1", Postnummer="5003", Innmeldt="10.01.2020", Aktivist="ja"),   # bergenhus
             member("2", Postnummer="5003", Innmeldt="15.03.2025"),                  # bergenhus, new this year
             member("3", Postnummer="5131", Innmeldt="01.05.2025", Aktivist="x"),    # asane, new
             member("4", Postnummer="5999", Innmeldt="01.01.2019")]                  # no branch
    run_import(engine, org, first, today=first_day)
    assert counts(engine, first_day)["bergenhus"] == (2, 1, 0, 1)
    assert counts(engine, first_day)["asane"] == (1, 1, 0, 1)
    assert counts(engine, first_day)[""] == (1, 0, 0, 0)
    assert counts(engine, first_day)["arna"] == (0, 0, 0, 0)
    second = [first[0], first[2], first[3],                                        # 2 left
              member("5", Postnummer="5131", Innmeldt="20.08.2025"),              # asane, new since June
              member("6", Postnummer="5265", Innmeldt="01.05.2025")]              # arna, joined before June
    run_import(engine, org, second, today=second_day)
    after = counts(engine, second_day)
    assert after["bergenhus"] == (1, 0, 1, 1)
    assert after["asane"] == (2, 1, 0, 1)
    assert after["arna"] == (1, 0, 0, 0)
    assert counts(engine, first_day)["bergenhus"] == (2, 1, 0, 1)  # the history stays
    # a second import on the same day replaces that day's counts
    run_import(engine, org, second[:-1], today=second_day)
    assert counts(engine, second_day)["arna"] == (0, 0, 1, 0)
    with session_scope(engine) as session:
        assert session.scalar(select(MemberCount.id).where(MemberCount.on_date == second_day,
                                                           MemberCount.branch == "arna").limit(1))


# --- follow-ups (measure 1.4) ----------------------------------------------------------------


def test_follow_ups_for_new_members_and_overdue_detection(engine, org):
    rows = [member("1", Innmeldt="29.11.2025", Postnummer="5003"),     # today
            member("2", Innmeldt="30.10.2025", Postnummer="5131"),     # exactly 30 days ago
            member("3", Innmeldt="29.10.2025", Postnummer="5131"),     # 31 days: too old
            member("4", Innmeldt="15.11.2025", Postnummer="5999"),     # no branch
            member("5", Innmeldt="")]
    result = run_import(engine, org, rows)
    assert result.follow_ups == 3
    with session_scope(engine) as session:
        fus = {f.member_number: f for f in session.scalars(select(FollowUp))}
        assert set(fus) == {"1", "2", "4"}
        assert (fus["1"].due, fus["1"].branch) == (date(2025, 12, 29), "bergenhus")
        assert (fus["2"].due, fus["4"].branch) == (date(2025, 11, 29), None)
        groups = open_follow_ups(session, ORG, TODAY)
        assert {b: [f.member_number for f in fs] for b, fs in groups.items()} == \
            {"": ["4"], "asane": ["2"], "bergenhus": ["1"]}
        assert overdue_follow_ups(session, ORG, TODAY) == []  # due today is not yet overdue
    again = run_import(engine, org, rows, today=TODAY + timedelta(days=1))
    assert again.follow_ups == 0
    day = date(2025, 12, 10)  # 2 was due 29 November, 4 is due 15 December
    with session_scope(engine) as session:
        assert [f.member_number for f in overdue_follow_ups(session, ORG, day)] == ["2"]
        record_contact(session, ORG, "4", date(2025, 12, 1), by="Leder", within_days=30)
        assert mark_escalated(session, ORG, ["2"], day) == 1
        assert overdue_follow_ups(session, ORG, day) == []
        assert mark_escalated(session, ORG, ["2"], day) == 0
    with session_scope(engine) as session:
        late = [f.member_number for f in overdue_follow_ups(session, ORG, date(2026, 1, 5))]
        assert late == ["1"]
        assert [f.member_number for fs in open_follow_ups(session, ORG, date(2026, 1, 5)).values() for f in fs] == \
            ["2", "1"]  # 2 is escalated but still open
    # a member who left is no longer followed up
    run_import(engine, org, [r for r in rows if r["Medlemsnummer"] != "1"], today=date(2026, 1, 5))
    with session_scope(engine) as session:
        assert overdue_follow_ups(session, ORG, date(2026, 1, 5)) == []


def test_a_forgotten_member_is_not_followed_up(engine, org):
    run_import(engine, org, [member("1", Innmeldt="01.11.2025"), member("2", Innmeldt="02.11.2025")])
    with session_scope(engine) as session:
        forget_member(session, ORG, "1", NOW)
    with session_scope(engine) as session:
        assert [f.member_number for fs in open_follow_ups(session, ORG, TODAY).values() for f in fs] == ["2"]
        assert [f.member_number for f in overdue_follow_ups(session, ORG, date(2025, 12, 10))] == ["2"]


def test_record_contact_for_an_unknown_number_and_a_member_tracked_late(engine, org):
    run_import(engine, org, [member("1", Innmeldt="01.03.2025"), member("2", Innmeldt="")])
    with session_scope(engine) as session:
        with pytest.raises(MemberNotFound, match="did you mean 1"):
            record_contact(session, ORG, "11", TODAY, within_days=30)
        f = record_contact(session, ORG, "1", date(2025, 3, 20), within_days=30)  # joined before we tracked them
        assert (f.due, f.contacted_on) == (date(2025, 3, 31), date(2025, 3, 20))
        from aarshjul.domain.errors import AarshjulError
        with pytest.raises(AarshjulError, match="no date of joining"):
            record_contact(session, ORG, "2", TODAY, within_days=30)
        with pytest.raises(AarshjulError, match="before member 1 joined"):
            record_contact(session, ORG, "1", date(2025, 2, 1), within_days=30)


def test_contact_rate(engine, org):
    rows = [member("1", Innmeldt="01.03.2025", Postnummer="5003"),   # bergenhus, contacted day 10
            member("2", Innmeldt="01.04.2025", Postnummer="5003"),   # bergenhus, contacted day 31: late
            member("3", Innmeldt="01.05.2025", Postnummer="5003"),   # bergenhus, never
            member("4", Innmeldt="01.06.2025", Postnummer="5131"),   # asane, contacted day 30
            member("5", Innmeldt="01.07.2025", Postnummer="5999"),   # none, contacted
            member("6", Innmeldt="01.07.2024", Postnummer="5131")]   # another year
    run_import(engine, org, rows, today=date(2025, 7, 2))
    with session_scope(engine) as session:
        record_contact(session, ORG, "1", date(2025, 3, 11), within_days=30)
        record_contact(session, ORG, "2", date(2025, 5, 2), within_days=30)
        record_contact(session, ORG, "4", date(2025, 7, 1), within_days=30)
        record_contact(session, ORG, "5", date(2025, 7, 2), within_days=30)
        record_contact(session, ORG, "6", date(2024, 7, 5), within_days=30)
        rates = contact_rate(session, ORG, 2025)
        assert {b: (r.new, r.contacted) for b, r in rates.per_branch.items()} == \
            {"": (1, 1), "asane": (1, 1), "bergenhus": (3, 1)}
        assert (rates.total.new, rates.total.contacted) == (5, 3) and rates.total.share == pytest.approx(0.6)
        assert rates.per_branch["bergenhus"].share == pytest.approx(1 / 3)
        assert contact_rate(session, ORG, 2024).total.share == 1.0
        assert contact_rate(session, ORG, 2023).total.share is None


def test_open_follow_ups_move_with_their_members_branch(engine, org):
    run_import(engine, org, [member("1", Innmeldt="20.11.2025", Postnummer="5999")])
    run_import(engine, org, [member("1", Innmeldt="20.11.2025", Postnummer="5999", Bydelslag="Arna SV")],
               today=TODAY + timedelta(days=1))
    with session_scope(engine) as session:
        assert session.scalar(select(FollowUp.branch)) == "arna"
        assert create_follow_ups(session, ORG, TODAY, 30) == 0


# --- a realistic export ----------------------------------------------------------------------

FIRST = ["Kari", "Ola", "Åse", "Øystein", "Ingrid", "Håkon", "Sigrid", "Bjørn", "Solveig", "Jørgen", "Marit", "Tor",
         "Ragnhild", "Eirik", "Sunniva", "Ådne", "Mari", "Henrik", "Nora", "Aleksander", "Fatima", "Mohammed",
         "Zofia", "Amir", "Thea", "Sindre", "Astrid", "Kjell-Åge", "Line Marie", "Bård"]
LAST = ["Nordmann", "Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Kristiansen",
        "Haugland", "Sæther", "Løvås", "Bø", "Ås", "Strøm", "Dahl", "Sørensen", "Hoff", "Æsøy", "Mjøs",
        "Kowalski", "Ali", "Nguyen", "Vik", "Fjeld", "Brekke", "Grønås", "Tveit", "Ødegård", "Lie"]
OUTSIDE = ["5300", "0150", "5999", "5196", "7010", "5411"]  # Askøy, Oslo, nowhere, gaps, Trondheim, Stord


@dataclass
class Realistic:
    """A generated export and what importing it must report."""

    data: bytes
    rows: int = 0
    skipped: int = 0
    duplicates: int = 0
    warnings: int = 0
    final: dict[str, dict] = field(default_factory=dict)  # number -> expected {"branch", "reason"}
    names: set[str] = field(default_factory=set)


def realistic_export(org: Org, n: int = 2000, seed: int = 1311, today: date = TODAY) -> Realistic:
    """About `n` members as the register exports them: cp1252, `;`, CRLF, extra columns,
    Norwegian dates, and every fault the import must survive mixed in."""
    rng = random.Random(seed)
    valid = [f"{c:04d}" for e in org.table.entries for c in range(e.first, e.last + 1)]
    header = ["Medlemsnr", "Fornavn", "Etternavn", "Adresse", "Postnr", "Poststed", "E-post", "Mobil",
              "Innmeldt", "Kontingent betalt", "Lokallag", "Aktivist", "Roller", "Fødselsår"]
    lines = [";".join(header)]
    out = Realistic(b"")
    written: list[str] = []
    for i in range(n):
        number = str(200000 + i)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        out.names.update({first, last})
        email = f"{first.lower().replace(' ', '.')}.{i}@example.org".replace("å", "a").replace("ø", "o")
        phone = rng.choice(["9{:07d}", "4{:07d}", "+47 9{:07d}", "9{:02d}"]).format(rng.randrange(10 ** 7))
        phone = phone if len(phone.replace(" ", "")) >= 8 else f"4{rng.randrange(10 ** 7):07d}"
        postcode = rng.choice(valid)
        joined = date(2005, 1, 1) + timedelta(days=rng.randrange((today - date(2005, 1, 1)).days))
        if rng.random() < 0.04:
            joined = today - timedelta(days=rng.randrange(31))
        joined_text = joined.strftime(rng.choice(["%d.%m.%Y", "%Y-%m-%d"]))
        if rng.random() < 0.3:
            joined_text = f"{joined.day}.{joined.month}.{joined.year}"
        branch = ""
        fault = rng.random()
        warnings = 0
        if fault < 0.01:
            number = ""
        elif fault < 0.02 and written:
            number = rng.choice(written)  # a duplicate: this later row wins
            out.duplicates += 1
        elif fault < 0.04:
            email = rng.choice([email.replace("@", " @"), email.replace("@", "@@"), email.split(".org")[0],
                                f"{first} {last}@example.org"])
            warnings += 1
        elif fault < 0.05:
            joined_text = (today + timedelta(days=rng.randrange(1, 400))).strftime("%d.%m.%Y")
            warnings += 1
        elif fault < 0.06:
            joined_text = rng.choice(["31.02.2024", "2024-13-01", "i fjor", "12/03/2020"])
            warnings += 1
        elif fault < 0.075:
            postcode = rng.choice(["503", "50A3", "5003-5", "N-5003"])
            warnings += 1
        elif fault < 0.095:
            postcode = rng.choice(OUTSIDE)
        elif fault < 0.115:
            postcode = ""
        elif fault < 0.165:
            branch = rng.choice(["Årstad SV", "fana", "Studentlaget", "ÅSANE SV", "Laksevåg"])
        if number == "":
            out.skipped += 1
        else:
            if number not in written:
                written.append(number)
            out.warnings += warnings
            out.final[number] = _expect(org, branch, postcode)
        out.rows += 1
        cells = [number, first, last, f"{rng.choice(LAST)}veien {rng.randrange(1, 80)}", postcode, "BERGEN", email,
                 phone, joined_text, rng.choice(["Ja", "Nei", "ja", "", "x"]), branch, rng.choice(["Ja", "Nei", ""]),
                 rng.choice(["", "", "", "styret", "au,styret"]), str(rng.randrange(1940, 2008))]
        lines.append(";".join(cells))
        if rng.random() < 0.002:
            lines.append(";" * (len(header) - 1))  # Excel's empty rows
    out.data = ("\r\n".join(lines) + "\r\n").encode("cp1252")
    return out


def _expect(org: Org, branch: str, postcode: str) -> dict:
    from aarshjul.domain.members_csv import branch_lookup

    if branch:
        return {"branch": branch_lookup(org.branches)[" ".join(branch.casefold().split())], "reason": None}
    if len(postcode) != 4 or not postcode.isdigit():
        return {"branch": None, "reason": NO_POSTCODE}
    hit = org.table.lookup(postcode)
    return {"branch": hit, "reason": None if hit else not_in_table(postcode)}


def test_a_realistic_export_of_2000_members(engine, org):
    gen = realistic_export(org)
    started = time.perf_counter()
    result = run_import(engine, org, gen.data)
    seconds = time.perf_counter() - started
    print(f"\n2,000-member export: {result.rows_read} rows, {result.new} imported, {result.warnings} warnings, "
          f"{result.skipped} skipped, {result.duplicates} duplicates, {result.without_branch} without branch, "
          f"{result.follow_ups} follow-ups, {seconds:.2f} s")
    # the summary adds up, and says what the generator put in
    assert result.rows_read == gen.rows
    assert result.rows_read == result.new + result.updated + result.unchanged + result.skipped + result.duplicates
    assert (result.skipped, result.duplicates, result.warnings) == (gen.skipped, gen.duplicates, gen.warnings)
    assert result.new == len(gen.final) and result.updated == result.unchanged == result.left == 0
    # every importable member has a branch, or is listed with the reason why not
    stored = members(engine)
    assert set(stored) == set(gen.final)
    reasons = {u.number: u.reason for u in result.unassigned}
    for number, m in stored.items():
        assert (m.branch is not None) != (number in reasons), number
        assert m.branch == gen.final[number]["branch"], number
        assert reasons.get(number) == gen.final[number]["reason"], number
    assert result.without_branch == sum(1 for e in gen.final.values() if e["branch"] is None) > 0
    # no issue repeats a personal value
    text = "\n".join(str(i) for i in result.issues)
    assert not any(name in text.split() for name in gen.names) and "@example.org" not in text
    # the counts cover every active member
    assert sum(c[0] for c in counts(engine, TODAY).values()) == len(stored)
    # and a second import of the same file changes nothing
    again = run_import(engine, org, gen.data, today=TODAY + timedelta(days=1))
    assert (again.new, again.updated, again.left, again.unchanged) == (0, 0, 0, len(gen.final))
    assert seconds < 60
