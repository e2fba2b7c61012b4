"""`aarshjul init DIR --name NAME`: a new organisation's files, valid at once (cli_init.py, domain/scaffold.py)."""

from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from aarshjul.cli import main
from aarshjul.domain import schemas
from aarshjul.domain.load import load_plan
from aarshjul.domain.scaffold import FILES, fill, scalar, slug
from aarshjul.domain.yamlsource import load_yaml

SCRIPT = Path(sys.executable).parent / "aarshjul"  # the installed entry point, beside this interpreter
TODAY = "2026-11-29"


def aarshjul(*argv: str, cwd: Path, env: dict[str, str] | None = None, timeout: int = 60
             ) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "AARSHJUL_"))}
    return subprocess.run([str(SCRIPT), *argv], cwd=cwd, env={**base, "COLUMNS": "200", **(env or {})},
                          capture_output=True, text=True, timeout=timeout)


def init(folder: Path, *argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`aarshjul init` in this process: (exit status, stdout, stderr)."""
    try:
        main(["init", str(folder), "--today", TODAY, *argv])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


# --- the values: written by the YAML emitter, read back unchanged ---------------------------

HOSTILE = ['Fag "og" fri: #1 Årdal', "it's — ok\nsecond line", "{{ 7*7 }} @{id} ${x} {% raw %}",
           "- [ ] * & ! % @ ` |", "null", "yes", "  padded  ", "Ærlig Ørn Åsane 北京 \u2028 \x85 \t end", "0150"]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_value_is_one_scalar_that_reads_back_unchanged(tmp_path, value):
    text = scalar(value)
    assert "\n" not in text and text.startswith('"')
    path = tmp_path / "f.yaml"
    path.write_text(f"name: {text}   # a comment after it\nnext: 1\n", encoding="utf-8")
    assert load_yaml(path).data == {"name": value, "next": 1}


def test_marks_are_filled_in_one_pass():
    assert fill("a: @{x}\nb: @{y}\n", {"x": "@{y}", "y": 2}) == 'a: "@{y}"\nb: 2\n'
    assert fill("p: @{p}", {"p": ["2026-H2", 2027]}) == 'p: ["2026-H2", 2027]'
    with pytest.raises(KeyError):
        fill("a: @{nothing}", {})


def test_an_id_from_a_name():
    assert slug("Fagforbundet Årdal: ungdom") == "fagforbundet-ardal-ungdom"
    assert slug("Ørsta Ælg São Paulo") == "orsta-aelg-sao-paulo"
    assert slug("### «»") == "org"


# --- init, then check ------------------------------------------------------------------------


@pytest.mark.parametrize("lang, says", [("nb", "✓ Planen er gyldig"), ("en", "✓ The plan is valid")])
def test_check_accepts_what_init_wrote(tmp_path, lang, says):
    made = aarshjul("init", "org", "--name", "Lagets navn", "--lang", lang, "--today", TODAY, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "aarshjul check --plan org/plan.yaml" in made.stdout
    checked = aarshjul("check", "--plan", "org/plan.yaml", "--today", TODAY, "--lang", lang, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith(says), checked.stdout
    assert "Traceback" not in checked.stderr + made.stderr


@pytest.mark.parametrize("name", HOSTILE)
def test_a_name_with_quotes_colons_hashes_and_any_letters_round_trips(tmp_path, capsys, name):
    code, _, err = init(tmp_path / "org", "--name", name, "--id", "laget", capsys=capsys)
    assert code == 0, err
    plan = load_plan(tmp_path / "org" / "plan.yaml")  # what check reads, every file valid
    assert plan.organisation.name == name.strip()
    assert plan.mail is not None and plan.mail.sender.name == name.strip()
    assert name.strip() in plan.meta.title


def test_the_files_name_their_schemas_and_are_valid_against_them(tmp_path, capsys):
    code, _, err = init(tmp_path, "--name", "Laget", "--lang", "en", capsys=capsys)
    assert code == 0, err
    for out, (_, kind) in FILES.items():
        if kind is None:
            continue
        path = tmp_path / out
        assert path.read_text(encoding="utf-8").splitlines()[0] == schemas.modeline(kind, "schema")
        assert (tmp_path / "schema" / f"{kind}.schema.json").read_text(encoding="utf-8") == schemas.schema_text(kind)
        validator = jsonschema.Draft202012Validator(schemas.schema(kind))
        assert [e.message for e in validator.iter_errors(schemas.as_json(load_yaml(path).data))] == []


def test_zone_lang_and_id(tmp_path, capsys):
    code, out, err = init(tmp_path / "o", "--name", "Local 12", "--zone", "America/New_York", "--lang", "en",
                          capsys=capsys)
    assert code == 0, err
    assert out.startswith("✓ Wrote 15 files for Local 12 in ")  # with its own English newsletter template
    plan = load_plan(tmp_path / "o" / "plan.yaml")
    assert (plan.organisation.id, plan.organisation.timezone, plan.organisation.locale) == (
        "local-12", "America/New_York", "en")
    assert plan.meta.id == "local-12-2026-2027" and [m.number for _, m in plan.measures] == [
        "1.1", "1.2", "1.3", "1.4", "1.5"]
    assert str(plan.period) == "2026-07-01/2027-12-31"  # made in the second half of 2026: from its start


def test_made_in_the_first_half_of_a_year_the_plan_runs_that_year_and_the_next(tmp_path, capsys):
    try:
        main(["init", str(tmp_path), "--name", "Laget", "--today", "2026-02-01"])
    except SystemExit as exc:
        assert not exc.code
    capsys.readouterr()
    assert load_plan(tmp_path / "plan.yaml").period.start.isoformat() == "2026-01-01"


def test_nothing_of_bergen_sv_in_what_init_writes(tmp_path, capsys):
    for lang in ("nb", "en"):
        code, _, err = init(tmp_path / lang, "--name", "Laget", "--lang", lang, capsys=capsys)
        assert code == 0, err
        for path in (tmp_path / lang).rglob("*"):
            if path.is_file():
                text = path.read_text(encoding="utf-8").lower()
                for word in ("bergen", "bydelslag", "bystyre", "sosialistisk"):
                    assert word not in text, f"{path.relative_to(tmp_path)} says {word!r}"


_EXAMPLE = re.compile(r'^(?P<indent> *)# (?P<key>[a-z_]+|"[^"]*"):( .*)?$')


def uncomment_examples(text: str) -> str:
    """Every commented example of a scaffold file uncommented: a block starts at `# key:`
    (lower-case key) and goes on while the lines below are `#` at the same column with a
    deeper indent; an example of a top-level key replaces its empty `key: {}` / `key: []`."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = _EXAMPLE.match(lines[i])
        if not m or i == 0:
            out.append(lines[i])
            i += 1
            continue
        indent = m["indent"]
        block = [indent + lines[i][len(indent) + 2:]]
        i += 1
        while i < len(lines) and lines[i].startswith(indent + "#   "):
            block.append(indent + lines[i][len(indent) + 2:])
            i += 1
        empty = re.compile(rf"^{indent}{re.escape(m['key'])}: (\{{\}}|\[\])( .*)?$")
        out = [line for line in out if not empty.match(line)]
        if i < len(lines) and empty.match(lines[i]):
            i += 1
        out.extend(block)
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("lang, today", [("nb", "2026-02-01"), ("en", TODAY)])
def test_every_commented_example_is_valid_when_uncommented(tmp_path, capsys, lang, today):
    try:
        main(["init", str(tmp_path), "--name", "Laget", "--lang", lang, "--today", today])
    except SystemExit as exc:
        assert not exc.code
    changed = 0
    for out, (_, kind) in FILES.items():
        if kind is None:
            continue
        path = tmp_path / out
        text = path.read_text(encoding="utf-8")
        path.write_text(uncomment_examples(text), encoding="utf-8")
        changed += text != path.read_text(encoding="utf-8")
        data = schemas.as_json(load_yaml(path).data)
        assert [e.message for e in jsonschema.Draft202012Validator(schemas.schema(kind)).iter_errors(data)] == []
    assert changed == 5  # every file but mail.yaml has examples
    capsys.readouterr()
    main(["check", "--plan", str(tmp_path / "plan.yaml"), "--today", today])  # returns: it passed (else SystemExit)
    plan = load_plan(tmp_path / "plan.yaml")
    assert plan.organisation.website == "https://example.org" and len(plan.pins) == 2
    assert len(plan.bodies) == 2 and len(plan.groups) == 1 and len(plan.important_dates) == 1
    assert plan.organisation.branch_word is not None and plan.organisation.default_place in plan.organisation.places
    from aarshjul.domain.postcodes import load_postcodes
    from aarshjul.domain.targets import load_targets

    assert load_targets(tmp_path / "targets.yaml", plan) is not None
    table = load_postcodes(tmp_path / "postcodes.yaml", [b for b, body in plan.bodies.items() if body.kind == "branch"])
    assert table is not None and table.lookup("0191") in plan.bodies


# --- refusals: exit 2, one line, nothing written ------------------------------------------------


def test_init_never_overwrites_a_file_and_names_it(tmp_path, capsys):
    (tmp_path / "mail.yaml").write_text("mine\n", encoding="utf-8")
    code, out, err = init(tmp_path, "--name", "Laget", capsys=capsys)
    assert code == 2
    assert f"{tmp_path / 'mail.yaml'} finnes allerede" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mail.yaml"]  # nothing else written
    assert (tmp_path / "mail.yaml").read_text(encoding="utf-8") == "mine\n"


def test_init_twice_refuses_the_second_time(tmp_path, capsys):
    assert init(tmp_path, "--name", "Laget", capsys=capsys)[0] == 0
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    code, _, err = init(tmp_path, "--name", "Other", "--lang", "en", capsys=capsys)
    assert code == 2 and "plan.yaml exists already; nothing was written" in err
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("argv, says", [
    (["--name", "Laget", "--zone", "Europe/Olso"], "--zone 'Europe/Olso' is not a known time zone"),
    (["--name", "Laget", "--zone", "../../etc/passwd"], "is not a known time zone"),
    (["--name", "   "], "--name cannot be empty"),
    (["--name", "Laget", "--id", "Laget!"], "--id 'Laget!': use lower-case letters"),
])
def test_bad_answers_exit_2_and_write_nothing(tmp_path, capsys, argv, says):
    code, _, err = init(tmp_path / "org", *argv, "--lang", "en", capsys=capsys)
    assert code == 2 and says in err, err
    assert not (tmp_path / "org").exists()


def test_a_file_where_the_folder_should_be(tmp_path, capsys):
    (tmp_path / "org").write_text("", encoding="utf-8")
    code, _, err = init(tmp_path / "org", "--name", "Laget", "--lang", "en", capsys=capsys)
    assert code == 2 and "is not a folder" in err


# --- from init to a published calendar and a first letter (docs/getting-started.md) -------------

PIN = ('occurrences:\n  "1.2/2026-H2/1":\n    date: "2026-12-10"\n    start: "18:00"\n    end: "20:00"\n'
       '    place: Folkets hus\n')
MEMBERS = ("medlemsnummer;fornavn;etternavn;e-post;postnummer;innmeldt\n"
           "1001;Kari;Nordmann;kari@example.org;6002;01.11.2026\n1002;Ola;Hansen;ola@example.org;6003;2025-01-05\n")


def test_from_init_to_a_published_calendar_and_a_first_letter(tmp_path):
    """The walk of docs/getting-started.md, with the real CLI: init, check, pin a meeting,
    import the members, write the first letter, preview it, and run the main job on the
    day it is due."""
    name = 'Fagforeningen "Nord": #1'
    env = {"AARSHJUL_PLAN": "org/plan.yaml", "AARSHJUL_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'a.db'}",
           "AARSHJUL_SITE_DIR": str(tmp_path / "site"), "AARSHJUL_OUTBOX_DIR": str(tmp_path / "outbox"),
           "AARSHJUL_SECRET_KEY_FILE": str(tmp_path / "var" / "secret.key")}
    made = aarshjul("init", "org", "--name", name, "--today", TODAY, cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    schedule = tmp_path / "org" / "schedule.yaml"
    schedule.write_text(schedule.read_text(encoding="utf-8").replace("occurrences: {}\n", PIN), encoding="utf-8")
    assert aarshjul("check", "--today", TODAY, cwd=tmp_path, env=env).returncode == 0
    agenda = aarshjul("agenda", "--from", "2026-12-01", "--to", "2026-12-31", "--format", "json", cwd=tmp_path,
                      env=env)
    assert '"1.2/2026-H2/1"' in agenda.stdout

    (tmp_path / "members.csv").write_text(MEMBERS, encoding="utf-8")
    assert aarshjul("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    imported = aarshjul("members", "import", "members.csv", "--today", TODAY, cwd=tmp_path, env=env)
    assert imported.returncode == 0, imported.stderr

    letter = tmp_path / "org" / "content" / "medlemsbrev" / "2026-12.md"
    letter.parent.mkdir(parents=True)
    letter.write_text("Velkommen til det første medlemsbrevet.\n", encoding="utf-8")
    preview = aarshjul("newsletter", "preview", "medlemsbrev", "--edition", "2026-12", "--today", TODAY,
                       cwd=tmp_path, env=env)
    assert preview.returncode == 0, preview.stderr
    assert "Velkommen til det første medlemsbrevet." in preview.stdout

    ran = aarshjul("run", "--today", "2026-12-31", cwd=tmp_path, env=env, timeout=240)  # the last Thursday
    assert ran.returncode == 0, (ran.stdout, ran.stderr)
    assert "Traceback" not in ran.stderr
    public = (tmp_path / "site" / "calendars" / "offentlig.ics").read_text(encoding="utf-8")
    assert "DTSTART;TZID=Europe/Oslo:20261210T180000" in public and "Folkets hus" in public
    letters = sorted((tmp_path / "outbox" / "medlemsbrev_2026-12").glob("*.eml"))
    assert len(letters) == 2
    msg = email.message_from_bytes(letters[0].read_bytes(), policy=email.policy.default)
    assert msg["From"].addresses[0].display_name.startswith(name)  # "<name> – Styret", the sender body
    assert msg["To"].addresses[0].addr_spec in {"kari@example.org", "ola@example.org"}
    assert "Velkommen til det første medlemsbrevet." in msg.get_body(("plain",)).get_content()


def test_a_write_that_fails_halfway_leaves_nothing_behind(tmp_path, capsys):
    (tmp_path / "content").write_text("a file where init makes a folder\n", encoding="utf-8")
    code, _, err = init(tmp_path, "--name", "Laget", "--lang", "en", capsys=capsys)
    assert code == 2 and "cannot write" in err and "content" in err and "nothing was written" in err, err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["content"]  # plan.yaml and the others removed again


def test_an_english_organisation_writes_its_letters_in_english(tmp_path, capsys):
    code, _, err = init(tmp_path, "--name", "Local 12", "--lang", "en", capsys=capsys)
    assert code == 0, err
    letter = tmp_path / "content" / "newsletter" / "2026-12.md"
    letter.parent.mkdir(parents=True)
    letter.write_text("The first letter.\n", encoding="utf-8")
    for html in ([], ["--html"]):
        main(["newsletter", "preview", "newsletter", "--edition", "2026-12", "--plan", str(tmp_path / "plan.yaml"),
              "--today", TODAY, "--lang", "en", *html])
        shown = capsys.readouterr().out
        assert "Dear Ola," in shown and "The first letter." in shown and "a member of Local 12" in shown
        assert "Hei" not in shown and "medlem" not in shown
